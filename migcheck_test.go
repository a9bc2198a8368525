package main_test

import (
	"bytes"
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/uptrace/bun"

	"manouche/core"
	"manouche/core/testkit"
	"manouche/settings"
)

// Two apps with the same migration: synccheck's model is what it creates,
// driftcheck's has a field no migration adds.
type checkApp struct {
	name  string
	model any
}

func (a checkApp) Name() string      { return a.name }
func (a checkApp) Models() []any     { return []any{a.model} }
func (a checkApp) Migrations() fs.FS { return noteMigration(a.name) }

func noteMigration(app string) fs.FS {
	return fstest.MapFS{
		"20260101000000_create_notes.up.sql":   {Data: []byte("CREATE TABLE " + app + "_notes (id BIGINT PRIMARY KEY, title VARCHAR(100) NOT NULL);\n")},
		"20260101000000_create_notes.down.sql": {Data: []byte("DROP TABLE " + app + "_notes;\n")},
	}
}

type syncNote struct {
	bun.BaseModel `bun:"table:synccheck_notes"`
	ID            int64  `bun:"id,pk"`
	Title         string `bun:"title,type:varchar(100),notnull"`
}

type driftNote struct {
	bun.BaseModel `bun:"table:driftcheck_notes"`
	ID            int64  `bun:"id,pk"`
	Title         string `bun:"title,type:varchar(100),notnull"`
	Body          string `bun:"body,notnull"`
}

func init() {
	core.Register(checkApp{"synccheck", (*syncNote)(nil)})
	core.Register(checkApp{"driftcheck", (*driftNote)(nil)})
}

const driftWarning = "Your models in app(s): 'driftcheck' have changes that are not yet reflected in a migration, and so won't be applied. Run 'go run . makemigrations driftcheck' to make new migrations, and then re-run 'go run . migrate' to apply them."

func TestMakemigrationsCheck(t *testing.T) {
	a := testkit.New(t)
	tests := []struct {
		args       []string
		wantCode   int
		wantOut    []string
		notWantOut []string
		wantErr    string
	}{
		{[]string{"makemigrations", "--check", "synccheck"}, 0, []string{"No changes detected"}, nil, ""},
		{[]string{"makemigrations", "--check", "users"}, 0, []string{"No changes detected"}, nil, ""},
		{[]string{"makemigrations", "--check", "driftcheck"}, 1, []string{"Migrations for 'driftcheck' would be written:", "body"}, nil, driftWarning},
		{[]string{"makemigrations", "--check"}, 1, []string{"'driftcheck'"}, []string{"'synccheck'", "'users'"}, driftWarning},
		{[]string{"makemigrations", "--check", "nosuchapp"}, 2, nil, nil, `no installed app named "nosuchapp"`},
		{[]string{"makemigrations", "--check", "--empty", "driftcheck"}, 2, nil, nil, "cannot go together"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			before, _ := filepath.Glob("apps/*/migrations/*")
			out, errOut, code := a.Command("", tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.notWantOut {
				if strings.Contains(out, w) {
					t.Errorf("stdout has %q:\n%s", w, out)
				}
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantErr, errOut)
			}
			if after, _ := filepath.Glob("apps/*/migrations/*"); len(after) != len(before) {
				t.Errorf("--check wrote files: %d migration files before, %d after", len(before), len(after))
			}
		})
	}

	t.Run("check warns", func(t *testing.T) {
		out, errOut, code := a.Command("", "check")
		if code != 0 {
			t.Fatalf("check: exit %d (a warning must not fail it)\n%s\n%s", code, out, errOut)
		}
		if !strings.Contains(out, "WARNING migrations.W002: "+driftWarning) {
			t.Errorf("check does not warn about driftcheck:\n%s", out)
		}
	})
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunserverWarnsUnmigratedModels(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- core.Execute(ctx, []string{"runserver", "127.0.0.1:0"}, core.Env{
			Settings: settings.Options{Layer: "development", Environ: []string{}, DotEnv: "-", Overrides: map[string]any{
				"DATABASE_URL": testkit.Database(t), "MEDIA_ROOT": t.TempDir(), "RUN_WORKER": false, "LOG_LEVEL": "error",
			}},
			Stdout: &out, Stderr: &errOut,
		})
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "serving on") {
		select {
		case code := <-done:
			t.Fatalf("runserver exited with %d:\n%s\n%s", code, &out, &errOut)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("runserver does not serve:\n%s\n%s", &out, &errOut)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("runserver: exit %d:\n%s", code, &errOut)
	}
	if !strings.Contains(errOut.String(), "WARNING: "+driftWarning) {
		t.Errorf("runserver does not warn about driftcheck:\nstdout:\n%s\nstderr:\n%s", &out, &errOut)
	}
}
