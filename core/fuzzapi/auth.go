package fuzzapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// auth holds the run's real token and gets a new one when the fuzzer's own
// requests revoke it (a logout, a password change).
type auth struct {
	opts   *Options
	report *Report

	mu              sync.Mutex
	ctx             context.Context
	token           string
	email, password string
	old             []string // revoked tokens, sent as bad credentials
	retryAt         time.Time
	// spare is a disposable user's token (see disposable).
	spare        string
	spareRetryAt time.Time
}

func newAuth(opts *Options, report *Report) *auth {
	return &auth{opts: opts, report: report, email: opts.Email, password: opts.Password}
}

// start gets the first token: given, by logging in, or by signing up.
func (a *auth) start(ctx context.Context) error {
	a.ctx = ctx
	switch {
	case a.opts.Token != "":
		a.token = a.opts.Token
	case a.email != "" && a.password != "":
		tok, err := a.post(ctx, a.opts.LoginPath, map[string]any{"email": a.email, "password": a.password})
		if err != nil {
			return fmt.Errorf("fuzzapi: log in as %s: %w", a.email, err)
		}
		a.token = tok
	case a.opts.Register:
		if err := a.register(ctx); err != nil {
			return fmt.Errorf("fuzzapi: sign up: %w", err)
		}
	default:
		a.report.Notes = append(a.report.Notes, "no token (--token, --register or --email/--password): operations that need one got bad credentials only")
	}
	return nil
}

func (a *auth) register(ctx context.Context) error {
	r := rand.New(rand.NewPCG(a.opts.Seed, uint64(time.Now().UnixNano())))
	g := &gen{r: r}
	email := fmt.Sprintf("fuzzapi-%d-%s@example.com", a.opts.Seed, g.word(10))
	password := "Fz!" + g.word(20) + "9"
	tok, err := a.post(ctx, a.opts.RegisterPath, map[string]any{"email": email, "password": password, "first_name": "Fuzz", "last_name": "API"})
	if err != nil {
		return err
	}
	a.token, a.email, a.password = tok, email, password
	return nil
}

// current returns the real token, or "" when there is none (getting a new
// one first if it was revoked).
func (a *auth) current() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token == "" && a.opts.Token == "" && (a.email != "" || a.opts.Register) && time.Now().After(a.retryAt) {
		a.renew()
	}
	return a.token
}

// disposable returns the token of a user signed up only to be the caller of
// operations that could remove it, signing one up when there is none.
func (a *auth) disposable() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.spare == "" && time.Now().After(a.spareRetryAt) {
		keep := [3]string{a.token, a.email, a.password}
		if a.register(a.ctx) == nil {
			a.spare = a.token
		} else {
			a.spareRetryAt = time.Now().Add(time.Second)
		}
		a.token, a.email, a.password = keep[0], keep[1], keep[2]
	}
	return a.spare
}

// revoked records that tok no longer authenticates.
func (a *auth) revoked(tok string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if tok == a.spare {
		a.old = append(a.old, tok)
		a.spare = ""
		return
	}
	if tok != a.token {
		return
	}
	a.old = append(a.old, tok)
	a.token = ""
	if a.opts.Token != "" {
		a.report.Notes = append(a.report.Notes, "the --token given stopped authenticating during the run")
	}
}

// renew logs in again, or signs up a new user when that fails (the run
// changed the user's email or password); a.mu is held.
func (a *auth) renew() {
	ctx := a.ctx
	if a.email != "" {
		if tok, err := a.post(ctx, a.opts.LoginPath, map[string]any{"email": a.email, "password": a.password}); err == nil {
			a.token = tok
			return
		}
	}
	if a.opts.Register && a.register(ctx) == nil {
		return
	}
	a.retryAt = time.Now().Add(time.Second)
}

func (a *auth) revokedToken(r *rand.Rand) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.old) == 0 {
		return ""
	}
	return a.old[r.IntN(len(a.old))]
}

// post sends a JSON body to path and returns the token of the answer,
// waiting out throttling (429 with Retry-After) a few times.
func (a *auth) post(ctx context.Context, path string, body any) (string, error) {
	data, _ := json.Marshal(body)
	for attempt := 0; ; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, a.opts.Timeout)
		req, err := http.NewRequestWithContext(rctx, http.MethodPost, a.opts.BaseURL+path, bytes.NewReader(data))
		if err != nil {
			cancel()
			return "", err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		res, err := a.opts.Client.Do(req)
		if err != nil {
			cancel()
			return "", err
		}
		out, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		_ = res.Body.Close()
		cancel()
		if res.StatusCode == http.StatusTooManyRequests && attempt < 3 {
			wait, _ := strconv.Atoi(res.Header.Get("Retry-After"))
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(time.Duration(min(max(wait, 1), 60)) * time.Second):
			}
			continue
		}
		if res.StatusCode < 200 || res.StatusCode > 299 {
			return "", fmt.Errorf("POST %s answered %d: %s", path, res.StatusCode, firstLine(out))
		}
		var m map[string]any
		_ = json.Unmarshal(out, &m)
		for _, k := range []string{"auth_token", "token", "access_token"} {
			if s, ok := m[k].(string); ok && s != "" {
				return s, nil
			}
		}
		return "", fmt.Errorf("POST %s answered no token (auth_token, token or access_token): %s", path, firstLine(out))
	}
}
