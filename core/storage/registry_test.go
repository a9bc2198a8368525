package storage_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"manouche/core/storage"
	"manouche/core/storage/storagetest"
	"manouche/settings"
)

// loadSettings reads layer with only environ.
func loadSettings(layer string, environ ...string) (*settings.Settings, error) {
	return settings.Load(settings.Options{Layer: layer, DotEnv: "-", Environ: environ})
}

// The storage backend is chosen by STORAGE_BACKEND, or by the seed's
// ENABLE_MEDIA_UPLOAD_TO_S3, and built from its own section.
func TestOpenSelectsBackend(t *testing.T) {
	t.Parallel()
	s3 := storagetest.NewS3Server(t, "media").Config()
	aws := []string{
		"AWS_STORAGE_BUCKET_NAME=" + s3.Bucket, "AWS_S3_ENDPOINT_URL=" + s3.Endpoint,
		"AWS_ACCESS_KEY_ID=" + s3.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + s3.SecretAccessKey,
	}
	media := "MEDIA_ROOT=" + filepath.Join(t.TempDir(), "a", "b")
	tests := []struct {
		name string
		env  []string
		want string // type, or error text
	}{
		{"default", []string{media}, "*storage.Local"},
		{"STORAGE_BACKEND=local", []string{media, "STORAGE_BACKEND=local"}, "*storage.Local"},
		{"STORAGE_BACKEND=s3", append([]string{"STORAGE_BACKEND=s3"}, aws...), "*storage.S3"},
		{"ENABLE_MEDIA_UPLOAD_TO_S3", append([]string{"ENABLE_MEDIA_UPLOAD_TO_S3=true"}, aws...), "*storage.S3"},
		{"ENABLE_MEDIA_UPLOAD_TO_S3=false", append([]string{media, "ENABLE_MEDIA_UPLOAD_TO_S3=false"}, aws...), "*storage.Local"},
		{"explicit STORAGE_BACKEND wins", append([]string{media, "ENABLE_MEDIA_UPLOAD_TO_S3=true", "STORAGE_BACKEND=local"}, aws...), "*storage.Local"},
		{"no MEDIA_ROOT", []string{"MEDIA_ROOT="}, "MEDIA_ROOT is required with STORAGE_BACKEND=local"},
		{"s3 without credentials", []string{"STORAGE_BACKEND=s3", "AWS_STORAGE_BUCKET_NAME=b"}, "AWS_ACCESS_KEY_ID is required"},
		{"s3 endpoint not a URL", append(append([]string(nil), aws...), "STORAGE_BACKEND=s3", "AWS_S3_ENDPOINT_URL=localhost:9000"), "AWS_S3_ENDPOINT_URL"},
		{"s3 expiry over S3's limit", append(append([]string(nil), aws...), "STORAGE_BACKEND=s3", "AWS_QUERYSTRING_EXPIRE=8d"), "over S3's limit of 7 days"},
		{"unknown", []string{"STORAGE_BACKEND=ftp"}, `STORAGE_BACKEND="ftp" is not a registered storage backend: use one of ` + strings.Join(storage.Backends.Names(), ", ")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := loadSettings("development", tt.env...)
			var got storage.Storage
			if err == nil {
				got, err = storage.Open(context.Background(), st)
			}
			if err != nil {
				if !strings.Contains(err.Error(), tt.want) {
					t.Errorf("err = %v, want %q", err, tt.want)
				}
				return
			}
			defer func() { _ = storage.Close(got) }()
			if typ := fmt.Sprintf("%T", got); typ != tt.want {
				t.Errorf("opened %s, want %s", typ, tt.want)
			}
		})
	}
}

func TestLocalMediaURL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ env, want string }{{"", "/media/"}, {"MEDIA_URL=uploads", "/uploads/"}, {"MEDIA_URL=/files/x/", "/files/x/"}} {
		st, err := loadSettings("development", tt.env, "MEDIA_ROOT="+t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		got, err := storage.Open(context.Background(), st)
		if err != nil {
			t.Fatal(err)
		}
		if u := got.(*storage.Local).BaseURL(); u != tt.want {
			t.Errorf("%q: BaseURL = %q, want %q", tt.env, u, tt.want)
		}
		_ = storage.Close(got)
	}
}

func TestDjangoAWSAliases(t *testing.T) {
	t.Parallel()
	st, err := loadSettings("development",
		"DJANGO_AWS_ACCESS_KEY_ID=AKIAOLD",
		"DJANGO_AWS_SECRET_ACCESS_KEY=oldsecret",
		"DJANGO_AWS_STORAGE_BUCKET_NAME=old-bucket",
		"DJANGO_AWS_S3_REGION_NAME=eu-west-3",
	)
	if err != nil {
		t.Fatal(err)
	}
	s := st.Backend("storage", "s3").(*storage.S3Settings)
	got := map[string]string{
		"AWS_ACCESS_KEY_ID":       s.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":   s.SecretAccessKey,
		"AWS_STORAGE_BUCKET_NAME": s.Bucket,
		"AWS_S3_REGION":           s.Region,
	}
	want := map[string]string{
		"AWS_ACCESS_KEY_ID":       "AKIAOLD",
		"AWS_SECRET_ACCESS_KEY":   "oldsecret",
		"AWS_STORAGE_BUCKET_NAME": "old-bucket",
		"AWS_S3_REGION":           "eu-west-3",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	// The canonical name wins over the alias; AWS_S3_REGION_NAME is one too.
	st, err = loadSettings("development", "DJANGO_AWS_ACCESS_KEY_ID=AKIAOLD", "AWS_ACCESS_KEY_ID=AKIANEW", "AWS_S3_REGION_NAME=ap-south-1")
	if err != nil {
		t.Fatal(err)
	}
	if s := st.Backend("storage", "s3").(*storage.S3Settings); s.AccessKeyID != "AKIANEW" || s.Region != "ap-south-1" {
		t.Errorf("AWS_ACCESS_KEY_ID = %q, AWS_S3_REGION = %q; want AKIANEW, ap-south-1", s.AccessKeyID, s.Region)
	}
}

func TestS3RequiresAWSSettings(t *testing.T) {
	t.Parallel()
	full := map[string]string{
		"AWS_ACCESS_KEY_ID":       "AKIA",
		"AWS_SECRET_ACCESS_KEY":   "secret",
		"AWS_STORAGE_BUCKET_NAME": "bucket",
		"AWS_S3_REGION":           "eu-west-1",
	}
	base := []string{"SECRET_KEY=" + strings.Repeat("p", 60), "DATABASE_URL=postgres://u:p@db:5432/app", "ENABLE_MEDIA_UPLOAD_TO_S3=true"}
	for missing := range full {
		t.Run("without "+missing, func(t *testing.T) {
			t.Parallel()
			env := append([]string(nil), base...)
			for k, v := range full {
				if k == missing {
					env = append(env, k+"=")
				} else {
					env = append(env, k+"="+v)
				}
			}
			_, err := loadSettings("production", env...)
			if err == nil {
				t.Fatalf("S3 on without %s: no error", missing)
			}
			if !strings.Contains(err.Error(), missing) {
				t.Errorf("error does not name %s:\n%s", missing, err)
			}
			for k := range full {
				if k != missing && strings.Contains(err.Error(), k+" is required") {
					t.Errorf("error names %s, which is set:\n%s", k, err)
				}
			}
		})
	}
	env := append([]string(nil), base...)
	for k, v := range full {
		env = append(env, k+"="+v)
	}
	st, err := loadSettings("production", env...)
	if err != nil {
		t.Fatal(err)
	}
	if s := st.Backend("storage", "s3").(*storage.S3Settings); st.StorageBackend != "s3" || s.Bucket != "bucket" {
		t.Errorf("S3 settings not loaded: STORAGE_BACKEND=%q, section %+v", st.StorageBackend, s)
	}
}
