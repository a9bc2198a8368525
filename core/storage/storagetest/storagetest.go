// Package storagetest runs an S3-compatible server in the test's process, so
// that tests of the S3 storage backend (and of the API that uses it) need no
// network service: gofakes3 with its in-memory backend, behind httptest.
//
// gofakes3 v1.2.0 keeps only Content-Type, Content-Disposition,
// Content-Encoding and X-Amz-* headers of an upload, and drops Cache-Control,
// which S3 keeps and serves back. The server here fills that gap: it
// remembers the Cache-Control of each successful PutObject and returns it on
// HeadObject and GetObject, as S3 does. Everything else is gofakes3's own.
package storagetest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"manouche/core/storage"
)

// S3Server is an in-process S3-compatible server with one bucket.
type S3Server struct {
	// URL is the endpoint, such as "http://127.0.0.1:40123".
	URL string
	// Bucket is the bucket created at start.
	Bucket string
	// Backend holds the objects, for assertions that bypass the S3 API.
	Backend *s3mem.Backend

	mu           sync.Mutex
	cacheControl map[string]string // "bucket/key" -> Cache-Control
}

// NewS3Server starts a server with an empty bucket named bucket, stopped when
// the test ends.
func NewS3Server(t testing.TB, bucket string) *S3Server {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatalf("storagetest: create bucket %q: %v", bucket, err)
	}
	s := &S3Server{Bucket: bucket, Backend: backend, cacheControl: map[string]string{}}
	fake := gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog()))
	srv := httptest.NewServer(s.keepCacheControl(fake.Server()))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Config returns an S3Config for this server: static test credentials, path
// style, signed URLs valid one hour, a single try per request.
func (s *S3Server) Config() storage.S3Config {
	return storage.S3Config{
		Bucket:            s.Bucket,
		Region:            "us-east-1",
		Endpoint:          s.URL,
		AccessKeyID:       "test-key",
		SecretAccessKey:   "test-secret",
		QuerystringAuth:   true,
		QuerystringExpire: time.Hour,
		MaxAttempts:       1,
		ConnectTimeout:    time.Second,
		ResponseTimeout:   10 * time.Second,
	}
}

// keepCacheControl stores the Cache-Control of uploads and serves it back.
func (s *S3Server) keepCacheControl(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.URL.Path, "/")
		switch r.Method {
		case http.MethodHead, http.MethodGet:
			s.mu.Lock()
			cc, ok := s.cacheControl[key]
			s.mu.Unlock()
			if ok && r.URL.Query().Get("response-cache-control") == "" {
				w.Header().Set("Cache-Control", cc)
			}
			next.ServeHTTP(w, r)
		case http.MethodPut:
			rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
			next.ServeHTTP(rec, r)
			isObjectPut := r.Header.Get("X-Amz-Copy-Source") == "" && !r.URL.Query().Has("partNumber")
			if isObjectPut && rec.status < 300 {
				s.mu.Lock()
				if cc := r.Header.Get("Cache-Control"); cc != "" {
					s.cacheControl[key] = cc
				} else {
					delete(s.cacheControl, key)
				}
				s.mu.Unlock()
			}
		default:
			next.ServeHTTP(w, r)
		}
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}
