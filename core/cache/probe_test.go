package cache_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"manouche/core/cache"
	"manouche/core/checks"
	"manouche/core/testenv"
)

func probeCache(t *testing.T, redisURL string) []checks.Issue {
	t.Helper()
	c, err := cache.New(cache.Config{RedisURL: redisURL})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Probe(ctx)
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestProbe: `check --deploy`'s Redis probe reports a Redis that answers (and
// whether TLS is in use), and one that does not as an ERROR naming REDIS_URL
// and the address, while an in-process cache has nothing to probe.
func TestProbe(t *testing.T) {
	t.Parallel()
	up := testenv.Lookup(t, testenv.RedisURL)
	down := "redis://127.0.0.1:" + strconv.Itoa(freeTCPPort(t)) + "/0"
	tests := []struct {
		name  string
		url   string
		id    string
		level checks.Level
		want  []string
	}{
		{"up", up, "cache.I001", checks.Info, []string{"answers", "TLS not in use", "REDIS_URL"}},
		{"down", down, "cache.E001", checks.Error, []string{"REDIS_URL", strings.TrimSuffix(strings.TrimPrefix(down, "redis://"), "/0"), "connection refused", "falls back"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			issues := probeCache(t, tt.url)
			if len(issues) != 1 || issues[0].ID != tt.id || issues[0].Level != tt.level {
				t.Fatalf("got %v, want one %s %s", issues, tt.level, tt.id)
			}
			for _, w := range tt.want {
				if !strings.Contains(issues[0].Msg, w) {
					t.Errorf("%q does not say %q", issues[0].Msg, w)
				}
			}
		})
	}
	t.Run("in process", func(t *testing.T) {
		t.Parallel()
		if issues := probeCache(t, ""); len(issues) != 0 {
			t.Errorf("in-process cache: %v", issues)
		}
	})
	t.Run("rediss", func(t *testing.T) {
		t.Parallel()
		addr := startTLSRedis(t)
		issues := probeCache(t, "rediss://"+addr+"/0")
		if len(issues) != 1 || issues[0].ID != "cache.I001" || !strings.Contains(issues[0].Msg, "TLS in use (TLS 1.") {
			t.Errorf("rediss:// to a TLS Redis: %v", issues)
		}
		// rediss:// to a port that speaks plain Redis: the handshake fails, and
		// the message says what rediss:// needs.
		issues = probeCache(t, strings.Replace(up, "redis://", "rediss://", 1))
		if len(issues) != 1 || issues[0].ID != "cache.E001" || !strings.Contains(issues[0].Msg, "rediss://") {
			t.Errorf("rediss:// to a plain Redis: %v", issues)
		}
	})
}

// startTLSRedis runs a redis-server of its own with only a TLS port and a
// self-signed certificate (as Heroku Redis serves), stopped when t ends.
func startTLSRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv(testenv.Strict) == "1" {
			t.Fatal("redis-server is not installed")
		}
		t.Skip("redis-server is not installed")
	}
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	port := freeTCPPort(t)
	cmd := exec.Command(bin, "--port", "0", "--tls-port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--tls-cert-file", certFile, "--tls-key-file", keyFile, "--tls-auth-clients", "no",
		"--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			_ = c.Close()
			return addr
		}
	}
	t.Fatalf("redis-server with TLS did not start on %s", addr)
	return ""
}
