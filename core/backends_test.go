package core_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"manouche/core/mail"
	"manouche/core/storage"
	"manouche/core/testkit"
	"manouche/settings"
)

// postcard is a test-only mail backend. Adding it took this file's init and
// nothing else: the settings, the project, `settings`, `check --deploy` and
// sendtestemail find it through the registry.
type postcard struct{ box string }

// postcards are the subjects each box received, across projects (each
// command builds a project of its own).
var postcards = struct {
	sync.Mutex
	sent map[string][]string
}{sent: map[string][]string{}}

func (p postcard) Send(ctx context.Context, msg *mail.Message) error {
	if err := msg.Validate(); err != nil {
		return err
	}
	postcards.Lock()
	defer postcards.Unlock()
	postcards.sent[p.box] = append(postcards.sent[p.box], msg.Subject)
	return nil
}

type postcardSettings struct {
	Box string `setting:"POSTCARD_BOX"`
}

func (s *postcardSettings) Validate(*settings.Settings) []string {
	if s.Box == "" {
		return []string{"POSTCARD_BOX is required with EMAIL_BACKEND=postcard"}
	}
	return nil
}

func init() {
	mail.Register("postcard", mail.Module[postcardSettings]{
		Open: func(_ context.Context, s *postcardSettings, _ *settings.Settings) (mail.Backend, error) {
			return postcard{box: s.Box}, nil
		},
		DeployWarning: "postcards are for tests.",
	})
}

func TestRegisteredMailBackendRunsTheProject(t *testing.T) {
	t.Parallel()
	box := strings.ReplaceAll(t.Name(), "/", "-")
	app := testkit.New(t, testkit.Settings{"EMAIL_BACKEND": "postcard", "POSTCARD_BOX": box})
	if _, ok := app.Mail.(postcard); !ok {
		t.Fatalf("project Mail = %T, want the registered postcard backend", app.Mail)
	}

	stdout, stderr, code := app.Command("", "sendtestemail", "--now", "ann@example.com")
	if code != 0 {
		t.Fatalf("sendtestemail --now: exit %d: %s", code, stderr)
	}
	postcards.Lock()
	got := postcards.sent[box]
	postcards.Unlock()
	if len(got) != 1 || !strings.HasPrefix(got[0], "[Manouche] Test email") {
		t.Errorf("postcard box %s received %q (sendtestemail said %q)", box, got, stdout)
	}

	stdout, stderr, code = app.Command("", "settings")
	if code != 0 {
		t.Fatalf("settings: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"postcard (selected)", `# mail backend "postcard"`, `POSTCARD_BOX = "` + box + `"  # override`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("settings output lacks %q:\n%s", want, stdout)
		}
	}

	stdout, _, _ = app.Command("", "check", "--deploy")
	if want := `WARNING mail.W001: EMAIL_BACKEND is "postcard": postcards are for tests.`; !strings.Contains(stdout, want) {
		t.Errorf("check --deploy lacks %q:\n%s", want, stdout)
	}
}

func TestUnknownBackendStopsTheProject(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		setting string
		names   []string
	}{
		{"EMAIL_BACKEND", mail.Backends.Names()},
		{"STORAGE_BACKEND", storage.Backends.Names()},
	} {
		_, err := settings.Load(settings.Options{Layer: "testing", DotEnv: "-", Environ: []string{tt.setting + "=carrier-pigeon"}})
		if err == nil {
			t.Fatalf("%s=carrier-pigeon: no error", tt.setting)
		}
		if !strings.Contains(err.Error(), tt.setting+`="carrier-pigeon" is not a registered`) {
			t.Errorf("%s: error %v does not name the setting and value", tt.setting, err)
		}
		for _, name := range tt.names {
			if !strings.Contains(err.Error(), name) {
				t.Errorf("%s: error %v does not list the registered %q", tt.setting, err, name)
			}
		}
	}
	// A selected backend's own validation stops the project too.
	_, err := settings.Load(settings.Options{Layer: "testing", DotEnv: "-", Environ: []string{"EMAIL_BACKEND=postcard"}})
	if err == nil || !strings.Contains(err.Error(), "POSTCARD_BOX is required") {
		t.Errorf("EMAIL_BACKEND=postcard without POSTCARD_BOX: err = %v", err)
	}
}
