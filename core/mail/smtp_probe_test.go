package mail_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"manouche/core/checks"
	"manouche/core/mail"
	"manouche/core/mail/smtptest"
	"manouche/core/testenv"
	"manouche/settings"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// ownMailpit starts a mailpit of its own (the shared one accepts any
// credentials) that requires AUTH with user and password, over plain SMTP
// (--smtp-auth-allow-insecure). It returns the SMTP port and the API URL.
func ownMailpit(t *testing.T, user, password string) (int, string) {
	t.Helper()
	testenv.Lookup(t, testenv.SMTPAddr) // mailpit is installed where this is set
	bin, err := exec.LookPath("mailpit")
	if err != nil {
		home, _ := os.UserHomeDir()
		bin = filepath.Join(home, "go", "bin", "mailpit")
		if gopath := os.Getenv("GOPATH"); gopath != "" {
			bin = filepath.Join(gopath, "bin", "mailpit")
		}
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("mailpit is not installed (go install github.com/axllent/mailpit@v1.33.1): %v", err)
		}
	}
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	auth := filepath.Join(dir, "smtp-auth")
	if err := os.WriteFile(auth, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	smtpPort, httpPort := freePort(t), freePort(t)
	cmd := exec.Command(bin, "--smtp", "127.0.0.1:"+strconv.Itoa(smtpPort), "--listen", "127.0.0.1:"+strconv.Itoa(httpPort),
		"--database", filepath.Join(dir, "mailpit.db"), "--disable-version-check",
		"--smtp-auth-file", auth, "--smtp-auth-allow-insecure")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(smtpPort)); err == nil {
			_ = c.Close()
			return smtpPort, "http://127.0.0.1:" + strconv.Itoa(httpPort)
		}
	}
	t.Fatal("mailpit did not start")
	return 0, ""
}

// probeSettings opens the mail backend the environment selects, through the
// registry as `check --deploy` does, and runs its probe.
func probeSettings(t *testing.T, environ ...string) []checks.Issue {
	t.Helper()
	st, err := settings.Load(settings.Options{Layer: "development", DotEnv: "-", Environ: environ})
	if err != nil {
		t.Fatal(err)
	}
	b, err := mail.Open(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := b.(mail.Closer); ok {
		defer c.Close()
	}
	p, ok := b.(checks.Prober)
	if !ok {
		t.Fatalf("the %s backend has no probe", st.EmailBackend)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return p.Probe(ctx)
}

// TestSMTPProbe: the smtp backend's probe connects, says EHLO, starts TLS
// when asked, authenticates with the configured credentials and quits,
// without sending mail; a wrong password, a server that is down or lacks
// STARTTLS is an ERROR naming the variables to fix, EMAIL_* or the Mailgun
// add-on's MAILGUN_SMTP_*.
func TestSMTPProbe(t *testing.T) {
	t.Parallel()
	shared := testenv.Lookup(t, testenv.SMTPAddr)
	sharedHost, sharedPort, _ := net.SplitHostPort(shared)
	port, api := ownMailpit(t, "postmaster@mg.example.com", "right password")
	p := strconv.Itoa(port)
	down := strconv.Itoa(freePort(t))
	tests := []struct {
		name    string
		environ []string
		id      string
		want    []string
	}{
		{"no AUTH", []string{"EMAIL_BACKEND=smtp", "EMAIL_HOST=" + sharedHost, "EMAIL_PORT=" + sharedPort},
			"mail.I001", []string{"TLS not in use", "no AUTH", "no mail sent"}},
		{"right password", []string{"EMAIL_BACKEND=smtp", "EMAIL_HOST=127.0.0.1", "EMAIL_PORT=" + p, "EMAIL_HOST_USER=postmaster@mg.example.com", "EMAIL_HOST_PASSWORD=right password"},
			"mail.I001", []string{`AUTH as "postmaster@mg.example.com" accepted`, "no mail sent"}},
		{"wrong password", []string{"EMAIL_BACKEND=smtp", "EMAIL_HOST=127.0.0.1", "EMAIL_PORT=" + p, "EMAIL_HOST_USER=postmaster@mg.example.com", "EMAIL_HOST_PASSWORD=wrong"},
			"mail.E001", []string{"refused the credentials", "535", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD", "127.0.0.1:" + p}},
		{"wrong Mailgun password", []string{"MAILGUN_SMTP_SERVER=127.0.0.1", "MAILGUN_SMTP_PORT=" + p, "MAILGUN_SMTP_LOGIN=postmaster@mg.example.com", "MAILGUN_SMTP_PASSWORD=wrong"},
			"mail.E001", []string{"refused the credentials", "MAILGUN_SMTP_LOGIN", "MAILGUN_SMTP_PASSWORD", "MAILGUN_SMTP_SERVER"}},
		{"right Mailgun password", []string{"MAILGUN_SMTP_SERVER=127.0.0.1", "MAILGUN_SMTP_PORT=" + p, "MAILGUN_SMTP_LOGIN=postmaster@mg.example.com", "MAILGUN_SMTP_PASSWORD=right password"},
			"mail.I001", []string{"accepted", "MAILGUN_SMTP_SERVER"}},
		{"server down", []string{"EMAIL_BACKEND=smtp", "EMAIL_HOST=127.0.0.1", "EMAIL_PORT=" + down},
			"mail.E001", []string{"cannot connect", "connection refused", "EMAIL_HOST", "EMAIL_PORT", "127.0.0.1:" + down}},
		{"STARTTLS required, not offered", []string{"EMAIL_BACKEND=smtp", "EMAIL_HOST=127.0.0.1", "EMAIL_PORT=" + p, "EMAIL_USE_TLS=true"},
			"mail.E001", []string{"STARTTLS", "EMAIL_USE_TLS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			issues := probeSettings(t, tt.environ...)
			if len(issues) != 1 || issues[0].ID != tt.id {
				t.Fatalf("got %v, want one %s", issues, tt.id)
			}
			for _, w := range tt.want {
				if !strings.Contains(issues[0].Msg, w) {
					t.Errorf("%q does not say %q", issues[0].Msg, w)
				}
			}
			if strings.Contains(issues[0].Msg, "right password") {
				t.Errorf("the password is shown: %q", issues[0].Msg)
			}
		})
	}
	// No probe sent mail.
	resp, err := http.Get(api + "/api/v1/messages")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Total int `json:"total"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || list.Total != 0 {
		t.Errorf("mailpit holds %d message(s) after the probes (err %v)", list.Total, err)
	}
}

// TestSMTPProbeSTARTTLS: STARTTLS offered is STARTTLS used, and reported.
func TestSMTPProbeSTARTTLS(t *testing.T) {
	t.Parallel()
	s := smtptest.NewServer(t, smtptest.Accept, smtptest.WithSTARTTLS(), smtptest.WithAuth("user", "pass"))
	b, err := mail.NewSMTP(mail.SMTPConfig{Host: "127.0.0.1", Port: s.Port(), Username: "user", Password: "pass", TLSConfig: s.ClientTLSConfig(), Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	issues := b.Probe(context.Background())
	if len(issues) != 1 || issues[0].ID != "mail.I001" || !strings.Contains(issues[0].Msg, "TLS in use (TLS 1.") || !strings.Contains(issues[0].Msg, "accepted") {
		t.Errorf("STARTTLS: %v", issues)
	}
	if n := len(s.Messages()); n != 0 {
		t.Errorf("the probe sent %d message(s)", n)
	}
}
