package mail_test

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"manouche/core/mail"
	"manouche/core/mail/smtptest"
)

func TestSMTPSecurityModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		opts       []smtptest.Option
		security   string
		user, pass string
		trust      bool
		wantTLS    bool
		wantUser   string
		wantErr    string
	}{
		{name: "implicit TLS", opts: []smtptest.Option{smtptest.WithImplicitTLS()}, security: "tls", trust: true, wantTLS: true},
		{name: "auto upgrades with STARTTLS", opts: []smtptest.Option{smtptest.WithSTARTTLS()}, security: "auto", trust: true, wantTLS: true},
		{name: "required STARTTLS", opts: []smtptest.Option{smtptest.WithSTARTTLS()}, security: "starttls", trust: true, wantTLS: true},
		{name: "none stays plain", opts: []smtptest.Option{smtptest.WithSTARTTLS()}, security: "none", wantTLS: false},
		{name: "auth over STARTTLS (Mailgun's way)", opts: []smtptest.Option{smtptest.WithSTARTTLS(), smtptest.WithAuth("postmaster@mg.example.com", "s3cret")},
			security: "", user: "postmaster@mg.example.com", pass: "s3cret", trust: true, wantTLS: true, wantUser: "postmaster@mg.example.com"},
		{name: "wrong password", opts: []smtptest.Option{smtptest.WithSTARTTLS(), smtptest.WithAuth("u", "right")},
			security: "starttls", user: "u", pass: "wrong", trust: true, wantErr: "AUTH"},
		{name: "untrusted certificate", opts: []smtptest.Option{smtptest.WithSTARTTLS()}, security: "starttls", wantErr: "certificate"},
		{name: "implicit TLS to a plain server", security: "tls", trust: true, wantErr: "TLS handshake"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := smtptest.NewServer(t, smtptest.Accept, tt.opts...)
			cfg := mail.SMTPConfig{Host: "127.0.0.1", Port: s.Port(), Security: tt.security, Username: tt.user, Password: tt.pass, Timeout: 3 * time.Second}
			if tt.trust {
				if c := s.ClientTLSConfig(); c != nil {
					cfg.TLSConfig = c
				} else {
					cfg.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
				}
			}
			b, err := mail.NewSMTP(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			err = b.Send(context.Background(), richMessage("secure"))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Send = %v, want error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			msgs := s.Messages()
			if len(msgs) != 1 || msgs[0].TLS != tt.wantTLS || msgs[0].User != tt.wantUser {
				t.Fatalf("server saw %+v, want TLS=%v user=%q", msgs, tt.wantTLS, tt.wantUser)
			}
		})
	}
}
