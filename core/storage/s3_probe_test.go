package storage_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"

	"manouche/core/checks"
	"manouche/core/storage"
	"manouche/core/storage/storagetest"
	"manouche/settings"
)

// probeS3 opens the storage backend the environment selects, through the
// registry as `check --deploy` does, and runs its probe.
func probeS3(t *testing.T, environ ...string) []checks.Issue {
	t.Helper()
	st, err := settings.Load(settings.Options{Layer: "development", DotEnv: "-", Environ: environ})
	if err != nil {
		t.Fatal(err)
	}
	s, err := storage.Open(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	defer storage.Close(s)
	p, ok := s.(checks.Prober)
	if !ok {
		t.Fatalf("the %s backend has no probe", st.StorageBackend)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return p.Probe(ctx)
}

// refuseKey is an S3 endpoint in front of srv that answers as S3 does to an
// unknown access key (gofakes3 checks no credentials).
func refuseKey(t *testing.T, srv *storagetest.S3Server, known string) string {
	t.Helper()
	target, _ := url.Parse(srv.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Authorization"), "Credential="+known+"/") {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			if r.Method != http.MethodHead {
				_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not exist in our records.</Message></Error>`))
			}
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	return front.URL
}

// TestS3Probe: the s3 backend's probe finds the bucket, writes and deletes a
// probe object (leaving nothing), and names the setting to fix when the
// bucket is missing or the key is refused.
func TestS3Probe(t *testing.T) {
	t.Parallel()
	srv := storagetest.NewS3Server(t, "media")
	env := func(endpoint, bucket, key string) []string {
		return []string{"STORAGE_BACKEND=s3", "AWS_S3_ENDPOINT_URL=" + endpoint, "AWS_STORAGE_BUCKET_NAME=" + bucket,
			"AWS_ACCESS_KEY_ID=" + key, "AWS_SECRET_ACCESS_KEY=secret", "AWS_S3_REGION=us-east-1"}
	}
	guarded := refuseKey(t, srv, "good-key")
	tests := []struct {
		name    string
		environ []string
		id      string
		want    []string
	}{
		{"bucket present", env(srv.URL, "media", "good-key"), "storage.I001", []string{`"media"`, "written and deleted"}},
		{"bucket missing", env(srv.URL, "missing", "good-key"), "storage.E001", []string{`"missing"`, "does not exist", "AWS_STORAGE_BUCKET_NAME"}},
		{"unknown key", env(guarded, "media", "bad-key"), "storage.E001", []string{"AWS_ACCESS_KEY_ID"}},
		{"known key through the same endpoint", env(guarded, "media", "good-key"), "storage.I001", []string{"written and deleted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			issues := probeS3(t, tt.environ...)
			if len(issues) != 1 || issues[0].ID != tt.id {
				t.Fatalf("got %v, want one %s", issues, tt.id)
			}
			for _, w := range tt.want {
				if !strings.Contains(issues[0].Msg, w) {
					t.Errorf("%q does not say %q", issues[0].Msg, w)
				}
			}
		})
	}
	objects, err := srv.Backend.ListBucket("media", nil, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	if len(objects.Contents) != 0 {
		t.Errorf("the probe left %d object(s) in the bucket, first %q", len(objects.Contents), objects.Contents[0].Key)
	}
}
