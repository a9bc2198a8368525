package mail_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"manouche/core/mail"
	"manouche/settings"
)

// recorder is a test-only mail backend: the whole of what adding a backend
// takes is this file's init (one Register call) and a settings section. No
// other list of backend names is edited.
type recorder struct {
	tag  string
	mu   sync.Mutex
	sent []string
}

func (r *recorder) Send(ctx context.Context, msg *mail.Message) error {
	if err := msg.Validate(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, r.tag+": "+msg.Subject)
	return nil
}

// recorderSettings is its section: one setting, with a default, a secret and
// its own validation.
type recorderSettings struct {
	Tag   string `setting:"RECORDER_MAIL_TAG"`
	Token string `setting:"RECORDER_MAIL_TOKEN" secret:"true"`
}

func (s *recorderSettings) Validate(*settings.Settings) []string {
	if s.Tag == "forbidden" {
		return []string{"RECORDER_MAIL_TAG must not be forbidden"}
	}
	return nil
}

func init() {
	mail.Register("recorder", mail.Module[recorderSettings]{
		Settings: recorderSettings{Tag: "default-tag"},
		Open: func(_ context.Context, s *recorderSettings, _ *settings.Settings) (mail.Backend, error) {
			return &recorder{tag: s.Tag}, nil
		},
		Aliases:       map[string]string{"OLD_RECORDER_TAG": "RECORDER_MAIL_TAG"},
		DeployWarning: "it only records.",
	})
}

// loadSettings reads the development layer with only environ.
func loadSettings(environ ...string) (*settings.Settings, error) {
	return settings.Load(settings.Options{Layer: "development", DotEnv: "-", Environ: environ})
}

func TestRegisteredBackendSelectedBySettings(t *testing.T) {
	t.Parallel()
	st, err := loadSettings("EMAIL_BACKEND=recorder", "RECORDER_MAIL_TAG=hello", "RECORDER_MAIL_TOKEN=tok-secret")
	if err != nil {
		t.Fatal(err)
	}
	b, err := mail.Open(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	rec, ok := b.(*recorder)
	if !ok {
		t.Fatalf("EMAIL_BACKEND=recorder opened %T", b)
	}
	msg := &mail.Message{From: "a@example.com", To: []string{"b@example.com"}, Subject: "Hi", Text: "x"}
	if err := (mail.Mailer{Backend: b}).Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rec.sent, []string{"hello: Hi"}) {
		t.Errorf("sent = %q, want the section's tag on the message", rec.sent)
	}

	// `settings` shows the backend, its settings (secret masked) and which is selected.
	out := st.String()
	for _, want := range []string{
		`# mail backends, chosen by EMAIL_BACKEND: `,
		`recorder (selected)`,
		`# mail backend "recorder"`,
		`RECORDER_MAIL_TAG = "hello"  # environment`,
		`RECORDER_MAIL_TOKEN = '********'  # environment`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("settings output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "tok-secret") {
		t.Errorf("settings output shows a secret:\n%s", out)
	}
	var kind settings.BackendKind
	for _, k := range st.Kinds() {
		if k.Kind == "mail" {
			kind = k
		}
	}
	if kind.Selected != "recorder" || kind.DeployWarning != "it only records." || !slices.Contains(kind.Names, "recorder") {
		t.Errorf("Kinds()[mail] = %+v", kind)
	}

	// Defaults, aliases and the section's own validation.
	st, err = loadSettings("EMAIL_BACKEND=recorder")
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Backend("mail", "recorder").(*recorderSettings).Tag; got != "default-tag" {
		t.Errorf("default RECORDER_MAIL_TAG = %q", got)
	}
	st, err = loadSettings("EMAIL_BACKEND=recorder", "OLD_RECORDER_TAG=from-alias")
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Backend("mail", "recorder").(*recorderSettings).Tag; got != "from-alias" {
		t.Errorf("RECORDER_MAIL_TAG from its alias = %q", got)
	}
	if _, err := loadSettings("EMAIL_BACKEND=recorder", "RECORDER_MAIL_TAG=forbidden"); err == nil || !strings.Contains(err.Error(), "must not be forbidden") {
		t.Errorf("recorder's own validation: err = %v", err)
	}
	// A section is validated only when its backend is selected.
	if _, err := loadSettings("EMAIL_BACKEND=console", "RECORDER_MAIL_TAG=forbidden"); err != nil {
		t.Errorf("an unselected backend's section was validated: %v", err)
	}
}

func TestUnknownBackendListsRegisteredNames(t *testing.T) {
	t.Parallel()
	names := mail.Backends.Names()
	for _, builtin := range []string{"console", "file", "memory", "smtp", "recorder"} {
		if !slices.Contains(names, builtin) {
			t.Fatalf("Backends.Names() = %q, lacks %s", names, builtin)
		}
	}
	_, err := loadSettings("EMAIL_BACKEND=pigeon")
	if err == nil {
		t.Fatal("EMAIL_BACKEND=pigeon: no error")
	}
	want := fmt.Sprintf(`EMAIL_BACKEND="pigeon" is not a registered mail backend: use one of %s`, strings.Join(names, ", "))
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v\nwant it to contain %q", err, want)
	}
	var serr *settings.Error
	if !errors.As(err, &serr) {
		t.Errorf("err is %T, want *settings.Error", err)
	}
}

func TestOpenBuiltinBackends(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "eml")
	tests := []struct {
		env     []string
		want    string // type name, or error text
		wantErr bool
	}{
		{nil, "*mail.Console", false},
		{[]string{"EMAIL_BACKEND=console"}, "*mail.Console", false},
		{[]string{"EMAIL_BACKEND= Memory "}, "*mail.Memory", false},
		{[]string{"EMAIL_BACKEND=file", "EMAIL_FILE_PATH=" + dir}, "*mail.File", false},
		{[]string{"EMAIL_BACKEND=smtp", "EMAIL_HOST=localhost"}, "*mail.SMTP", false},
		{[]string{"EMAIL_BACKEND=file", "EMAIL_FILE_PATH="}, "EMAIL_FILE_PATH is required", true},
		{[]string{"EMAIL_BACKEND=smtp", "EMAIL_HOST="}, "EMAIL_HOST is required", true},
		{[]string{"EMAIL_BACKEND=smtp", "EMAIL_PORT=70000"}, "EMAIL_PORT=70000", true},
		{[]string{"EMAIL_BACKEND=smtp", "EMAIL_USE_TLS=true", "EMAIL_USE_SSL=true"}, "mutually exclusive", true},
		// A bad value is reported whichever backend is selected.
		{[]string{"EMAIL_BACKEND=console", "EMAIL_PORT=twenty-five"}, "EMAIL_PORT", true},
	}
	for _, tt := range tests {
		st, err := loadSettings(tt.env...)
		var b mail.Backend
		if err == nil {
			b, err = mail.Open(context.Background(), st)
		}
		if tt.wantErr {
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%q: err = %v, want %q", tt.env, err, tt.want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.env, err)
			continue
		}
		if got := fmt.Sprintf("%T", b); got != tt.want {
			t.Errorf("%q opened %s, want %s", tt.env, got, tt.want)
		}
		if c, ok := b.(mail.Closer); ok {
			_ = c.Close()
		}
	}
}

func TestMailgunConfiguresSMTP(t *testing.T) {
	t.Parallel()
	st, err := loadSettings(
		"MAILGUN_SMTP_SERVER=smtp.mailgun.org",
		"MAILGUN_SMTP_PORT=587",
		"MAILGUN_SMTP_LOGIN=postmaster@mg.example.com",
		"MAILGUN_SMTP_PASSWORD=mgpass",
		"MAILGUN_DOMAIN=mg.example.com",
	)
	if err != nil {
		t.Fatal(err)
	}
	if st.EmailBackend != "smtp" {
		t.Errorf("EMAIL_BACKEND = %q, want smtp", st.EmailBackend)
	}
	s := st.Backend("mail", "smtp").(*mail.SMTPSettings)
	if s.Host != "smtp.mailgun.org" || s.Port != 587 || s.User != "postmaster@mg.example.com" || s.Password != "mgpass" {
		t.Errorf("EMAIL_HOST/PORT/USER/PASSWORD = %q/%d/%q/%q", s.Host, s.Port, s.User, s.Password)
	}
	if !s.UseTLS || s.Config(4).Security != mail.SecuritySTARTTLS {
		t.Error("EMAIL_USE_TLS is off on port 587")
	}
	if st.DefaultFromEmail != "noreply@mg.example.com" {
		t.Errorf("DEFAULT_FROM_EMAIL = %q", st.DefaultFromEmail)
	}
	b, err := mail.Open(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.(*mail.SMTP); !ok {
		t.Errorf("Mailgun settings opened %T, want *mail.SMTP", b)
	}
	_ = b.(mail.Closer).Close()

	// An explicit EMAIL_BACKEND wins over the Mailgun default, and an
	// explicit EMAIL_HOST over MAILGUN_SMTP_SERVER.
	st, err = loadSettings("MAILGUN_SMTP_SERVER=smtp.mailgun.org", "EMAIL_BACKEND=console", "EMAIL_HOST=relay.internal")
	if err != nil {
		t.Fatal(err)
	}
	if st.EmailBackend != "console" {
		t.Errorf("explicit EMAIL_BACKEND=console became %q", st.EmailBackend)
	}
	if got := st.Backend("mail", "smtp").(*mail.SMTPSettings).Host; got != "relay.internal" {
		t.Errorf("explicit EMAIL_HOST became %q", got)
	}
}

func TestRegisterRefusesConflicts(t *testing.T) {
	t.Parallel()
	open := func(context.Context, *struct{}, *settings.Settings) (mail.Backend, error) {
		return mail.NewMemory(), nil
	}
	type hostAgain struct {
		Host string `setting:"EMAIL_HOST"`
	}
	type portAgain struct {
		Port int `setting:"PORT"`
	}
	type relayKey struct {
		Key string `setting:"RELAY_KEY"`
	}
	tests := []struct {
		name     string
		register func()
		want     string
	}{
		{"a taken name", func() { mail.Register("smtp", mail.Module[struct{}]{Open: open}) }, `Register called twice for mail backend "smtp"`},
		{"another backend's setting", func() {
			mail.Register("relay", mail.Module[hostAgain]{Open: func(context.Context, *hostAgain, *settings.Settings) (mail.Backend, error) { return nil, nil }})
		}, `setting EMAIL_HOST already belongs to the mail backend "smtp"`},
		{"a core setting", func() {
			mail.Register("relay", mail.Module[portAgain]{Open: func(context.Context, *portAgain, *settings.Settings) (mail.Backend, error) { return nil, nil }})
		}, "setting PORT already belongs to the core settings"},
		{"a core alias", func() {
			mail.Register("relay", mail.Module[relayKey]{
				Open:    func(context.Context, *relayKey, *settings.Settings) (mail.Backend, error) { return nil, nil },
				Aliases: map[string]string{"REDISTOGO_URL": "RELAY_KEY"},
			})
		}, "alias REDISTOGO_URL already belongs to the core settings"},
		{"an alias of nothing", func() {
			mail.Register("relay", mail.Module[struct{}]{Open: open, Aliases: map[string]string{"OLD_X": "X"}})
		}, "alias OLD_X names X, which is not one of its settings"},
		{"an upper-case name", func() { mail.Register("Relay", mail.Module[struct{}]{Open: open}) }, "lower case"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(fmt.Sprint(r), tt.want) {
					t.Errorf("panic = %v, want %q", r, tt.want)
				}
			}()
			tt.register()
		})
	}
	if slices.Contains(mail.Backends.Names(), "relay") {
		t.Error("a refused backend was registered")
	}
}
