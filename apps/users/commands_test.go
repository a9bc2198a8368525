package users_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"manouche/core"
	"manouche/core/testkit"
	"manouche/settings"
)

// canLogIn reports whether email and password log in through the API.
func canLogIn(t *testing.T, app *testkit.App, email, password string) bool {
	t.Helper()
	res := app.Client.Post("/api/auth/login", map[string]any{"email": email, "password": password})
	return res.Status == http.StatusOK
}

func TestPasswordPrompts(t *testing.T) {
	t.Parallel()
	const other = "another-horse-battery-7"
	tests := []struct {
		name     string
		args     []string // after the command's name; changepassword's EMAIL is added
		stdin    string
		wantCode int
		wantOut  []string
		wantErr  []string
		password string // logs in afterwards ("" when the command fails)
	}{
		{"asked twice", nil, goodPassword + "\n" + goodPassword + "\n", 0,
			[]string{"Password: ", "Password (again): "}, nil, goodPassword},
		{"mismatch asks again", nil, "first-horse-battery-1\n" + other + "\n" + goodPassword + "\n" + goodPassword + "\n", 0,
			nil, []string{"Error: Your passwords didn't match."}, goodPassword},
		{"blank asks again", nil, "\n\n" + goodPassword + "\n" + goodPassword + "\n", 0,
			nil, []string{"Error: Blank passwords aren't allowed."}, goodPassword},
		{"weak, not bypassed, asks again", nil, "password\npassword\nn\n" + goodPassword + "\n" + goodPassword + "\n", 0,
			[]string{"Bypass password validation and create user anyway? [y/N]: "},
			[]string{"This password is too common."}, goodPassword},
		{"weak, no answer means no", nil, "password\npassword\n\n" + goodPassword + "\n" + goodPassword + "\n", 0,
			nil, []string{"This password is too common."}, goodPassword},
		{"weak, bypassed", nil, "password\npassword\ny\n", 0,
			[]string{"Bypass password validation"}, []string{"This password is too common."}, "password"},
		{"input ends", nil, "password\npassword\n", 1,
			nil, []string{"no input"}, ""},
	}
	for _, command := range []string{"createsuperuser", "changepassword"} {
		for _, tt := range tests {
			t.Run(command+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				app := testkit.New(t)
				email := "boss@example.com"
				args := []string{command, "--email", email}
				if command == "changepassword" {
					register(t, app, email)
					args = []string{command, email}
				}
				out, errOut, code := app.Command(tt.stdin, args...)
				if code != tt.wantCode {
					t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
				}
				for _, w := range tt.wantOut {
					if !strings.Contains(out, w) {
						t.Errorf("stdout lacks %q:\n%s", w, out)
					}
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(errOut, w) {
						t.Errorf("stderr lacks %q:\n%s", w, errOut)
					}
				}
				if tt.password != "" && !canLogIn(t, app, email, tt.password) {
					t.Errorf("%s cannot log in with the password it was given", email)
				}
				if tt.password == "" && command == "createsuperuser" && canLogIn(t, app, email, goodPassword) {
					t.Errorf("a user was created although the command failed")
				}
			})
		}
	}
}

func TestCreatesuperuserAsksEmailAgain(t *testing.T) {
	t.Parallel()
	app := testkit.New(t)
	register(t, app, "taken@example.com")
	out, errOut, code := app.Command("not-an-email\ntaken@example.com\nboss@example.com\n"+goodPassword+"\n"+goodPassword+"\n", "createsuperuser")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, w := range []string{`Error: "not-an-email" is not a valid email address`, "Error: a user with the email taken@example.com already exists"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
	if strings.Count(out, "Email: ") != 3 {
		t.Errorf("asked for the email %d times, want 3:\n%s", strings.Count(out, "Email: "), out)
	}
	if !canLogIn(t, app, "boss@example.com", goodPassword) {
		t.Error("the superuser cannot log in")
	}
}

// lockedBuffer is what the terminal has shown so far.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestCreatesuperuserTerminal runs createsuperuser on a pseudo-terminal, as a
// user at a terminal does: what is typed at the email prompt is shown, the
// passwords are not.
func TestCreatesuperuserTerminal(t *testing.T) {
	t.Parallel()
	app := testkit.New(t)
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	var screen lockedBuffer
	go func() { _, _ = io.Copy(&screen, ptmx) }()

	done := make(chan int, 1)
	go func() {
		done <- core.Execute(context.Background(), []string{"createsuperuser"}, core.Env{
			Settings: settings.Options{Layer: "testing", Environ: []string{}, DotEnv: "-", Overrides: map[string]any{
				"DATABASE_URL": app.DatabaseURL, "MEDIA_ROOT": t.TempDir(),
			}},
			Stdin: tty, Stdout: tty, Stderr: tty,
		})
	}()
	waitFor := func(s string, n int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for strings.Count(screen.String(), s) < n {
			if time.Now().After(deadline) {
				t.Fatalf("the terminal does not show %q (%d times):\n%s", s, n, screen.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	type_ := func(s string) {
		t.Helper()
		if _, err := ptmx.Write([]byte(s + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	waitFor("Email: ", 1)
	type_("tty@example.com")
	// A person types after the prompt appears; a test can be faster than the
	// command turning echo off after printing it, so it waits for that too.
	echoOff := func() {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
			if err != nil {
				t.Fatal(err)
			}
			if tio.Lflag&unix.ECHO == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("echo is still on at the password prompt:\n%s", screen.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("Password: ", 1)
	echoOff()
	type_(goodPassword)
	waitFor("Password (again): ", 1)
	echoOff()
	type_(goodPassword)
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, screen.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("createsuperuser did not finish:\n%s", screen.String())
	}
	waitFor("Superuser tty@example.com created successfully.", 1)
	shown := screen.String()
	if !strings.Contains(shown, "tty@example.com") {
		t.Errorf("the email typed is not echoed (the test cannot see echo):\n%s", shown)
	}
	if strings.Contains(shown, goodPassword) {
		t.Errorf("the password was shown on the terminal:\n%s", shown)
	}
	if !canLogIn(t, app, "tty@example.com", goodPassword) {
		t.Error("the superuser cannot log in")
	}
}
