// Package fuzzapi is a fuzzer driven by an OpenAPI 3.1 document: it reads
// the document a server publishes (URL + /api/openapi.json), sends every
// operation generated requests, valid per the document and invalid (wrong
// types, missing required fields, huge strings, odd unicode, unknown ids,
// bad tokens, bad content types, malformed bodies), and reports every answer
// that is a server error (5xx), that the document does not declare (status,
// content type, body schema, checked with libopenapi-validator in strict
// mode: undeclared fields too), or that took longer than a limit. It needs
// nothing but the document: no Go type of the project, so it runs against any
// URL. `go run . fuzzapi URL` runs it; a test runs it against a server.
package fuzzapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
)

// DocumentPath is where the document is read, under the base URL.
const DocumentPath = "/api/openapi.json"

// Options configure a run. Only BaseURL is required.
type Options struct {
	// BaseURL is the server's root, http://127.0.0.1:8000.
	BaseURL string
	// Requests is the budget: how many requests to send (default 10000).
	Requests int
	// Timeout bounds each request (default 10 s): a request that gets no
	// answer in time is a finding.
	Timeout time.Duration
	// Slow is the limit above which an answered request is a finding
	// (default 2 s).
	Slow time.Duration
	// Seed makes a run reproducible (with Concurrency 1: with more workers,
	// the order in which created ids are reused varies).
	Seed uint64
	// Concurrency is how many requests are in flight at once (default 4).
	Concurrency int
	// Token is a bearer token for the operations that need one. Without it,
	// Register or Email and Password get one through the API.
	Token string
	// Register signs up a new user through RegisterPath (POST, JSON email
	// and password, the token in the answer's auth_token, token or
	// access_token) and uses its token.
	Register bool
	// Email and Password log in through LoginPath instead (or again, when
	// the fuzzer's own requests revoked the token: a logout).
	Email, Password string
	// RegisterPath and LoginPath default to /api/auth/register and
	// /api/auth/login.
	RegisterPath, LoginPath string
	// BodiesDir is where request bodies too long or too binary for a curl
	// command line are written for the report (default: a new temporary
	// folder, made only when needed).
	BodiesDir string
	// Client sends the requests (default: a client without redirects).
	Client *http.Client
	// Progress, when set, gets a line every 1000 requests.
	Progress io.Writer
}

func (o *Options) defaults() error {
	if o.BaseURL == "" {
		return errors.New("fuzzapi: no base URL")
	}
	u, err := url.Parse(o.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("fuzzapi: %q is not an http(s) URL", o.BaseURL)
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	if o.Requests <= 0 {
		o.Requests = 10000
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Slow <= 0 {
		o.Slow = 2 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.RegisterPath == "" {
		o.RegisterPath = "/api/auth/register"
	}
	if o.LoginPath == "" {
		o.LoginPath = "/api/auth/login"
	}
	if o.Client == nil {
		o.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return nil
}

// Finding kinds.
const (
	KindServerError = "server error"        // a 5xx answer
	KindUndeclared  = "breaks the document" // status, content type or body the document does not declare
	KindSlow        = "slow"                // answered after Options.Slow
	KindNoAnswer    = "no answer"           // timed out or the connection failed
)

// Finding is one problem, with the first request that showed it.
type Finding struct {
	Kind      string
	Operation string // "GET /api/posts/{id}"
	Status    int    // 0 without an answer
	Detail    string // what is wrong
	Variant   string // what the request tried ("wrong value for email")
	Curl      string // the request as a curl command
	Duration  time.Duration
	Count     int // requests that showed it
}

// OpStats counts the requests sent to one operation, by status class.
type OpStats struct {
	Requests int
	Status   map[int]int
}

// Report is the outcome of a run.
type Report struct {
	BaseURL    string
	Seed       uint64
	Requests   int
	Elapsed    time.Duration
	Operations []string            // in the document's order
	Stats      map[string]*OpStats // by operation
	Findings   []*Finding          // grouped: one per kind, operation, status and detail
	Notes      []string            // what limited the run (no token, throttling)
}

// Failed reports whether the run found anything.
func (r *Report) Failed() bool { return len(r.Findings) > 0 }

// Run fetches the document at opts.BaseURL + DocumentPath and fuzzes every
// operation until the budget is spent or ctx is done.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	doc, err := fetchDocument(ctx, &opts)
	if err != nil {
		return nil, err
	}
	sp, err := parseSpec(doc)
	if err != nil {
		return nil, err
	}
	ldoc, err := libopenapi.NewDocument(doc)
	if err != nil {
		return nil, fmt.Errorf("fuzzapi: read the document: %w", err)
	}
	model, err := ldoc.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("fuzzapi: read the document: %w", err)
	}
	val := validator.NewValidatorFromV3Model(&model.Model,
		config.WithStrictMode(), config.WithStrictIgnorePaths("$.headers.*"))
	f := &fuzzer{opts: opts, spec: sp, val: val, ids: map[string][]string{},
		throttled: map[string]time.Time{}, groups: map[string]*Finding{},
		report: &Report{BaseURL: opts.BaseURL, Seed: opts.Seed, Stats: map[string]*OpStats{}}}
	for _, op := range sp.ops {
		f.report.Operations = append(f.report.Operations, op.ID())
		f.report.Stats[op.ID()] = &OpStats{Status: map[int]int{}}
	}
	f.auth = newAuth(&f.opts, f.report)
	if err := f.auth.start(ctx); err != nil {
		return nil, err
	}
	start := time.Now()
	f.run(ctx)
	f.report.Elapsed = time.Since(start)
	for _, op := range sp.ops {
		f.report.Requests += f.report.Stats[op.ID()].Requests
	}
	return f.report, nil
}

func fetchDocument(ctx context.Context, opts *Options) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, opts.BaseURL+DocumentPath, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := opts.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fuzzapi: get the document: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("fuzzapi: get the document: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fuzzapi: GET %s answered %d (is API_DOCS on?)", opts.BaseURL+DocumentPath, res.StatusCode)
	}
	return body, nil
}

// fuzzer is one run's state.
type fuzzer struct {
	opts Options
	spec *spec
	val  validator.Validator
	auth *auth

	mu        sync.Mutex
	ids       map[string][]string  // ids created by POST, by collection path
	throttled map[string]time.Time // operation → until when it answers 429
	groups    map[string]*Finding
	report    *Report
	bodies    int
}

func (f *fuzzer) run(ctx context.Context) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range f.opts.Concurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= f.opts.Requests {
					return
				}
				f.one(ctx, i)
				if f.opts.Progress != nil && (i+1)%1000 == 0 {
					fmt.Fprintf(f.opts.Progress, "fuzzapi: %d/%d requests\n", i+1, f.opts.Requests)
				}
			}
		})
	}
	wg.Wait()
}

// pick chooses request i's operation: round robin, skipping operations that
// are being throttled (waiting when all are).
func (f *fuzzer) pick(ctx context.Context, i int) *operation {
	ops := f.spec.ops
	for {
		f.mu.Lock()
		now := time.Now()
		soonest := time.Time{}
		for k := range ops {
			op := ops[(i+k)%len(ops)]
			until, ok := f.throttled[op.ID()]
			if !ok || now.After(until) {
				f.mu.Unlock()
				return op
			}
			if soonest.IsZero() || until.Before(soonest) {
				soonest = until
			}
		}
		f.mu.Unlock()
		select {
		case <-ctx.Done():
			return ops[i%len(ops)]
		case <-time.After(time.Until(soonest)):
		}
	}
}

// one builds, sends and checks request i.
func (f *fuzzer) one(ctx context.Context, i int) {
	r := rand.New(rand.NewPCG(f.opts.Seed, uint64(i)))
	op := f.pick(ctx, i)
	// An operation that could remove the fuzzer's own user (DELETE without
	// an id: /api/me) gets the real token only at the very end of the run.
	late := i >= f.opts.Requests-len(f.spec.ops)
	req := f.build(r, op, late)
	f.send(ctx, op, req)
}

// built is a request before it is sent: kept whole for the report.
type built struct {
	Method, URL string
	Header      http.Header
	Body        []byte
	Variant     string
	RealToken   string // the real token it carries, if any
}

func (f *fuzzer) send(ctx context.Context, op *operation, b *built) {
	ctx, cancel := context.WithTimeout(ctx, f.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, b.Method, b.URL, bytes.NewReader(b.Body))
	if err != nil {
		f.note(fmt.Sprintf("%s: cannot build a request for %s: %v", op.ID(), b.URL, err))
		return
	}
	req.Header = b.Header.Clone()
	if len(b.Body) > 1<<20 {
		// A server refuses a body above its limit (413) as soon as it reads
		// the head, and closes the connection: without waiting for "100
		// Continue", the client would still be writing the body, and lose
		// the answer to the reset.
		req.Header.Set("Expect", "100-continue")
	}
	if len(b.Body) == 0 {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	start := time.Now()
	res, err := f.opts.Client.Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(io.LimitReader(res.Body, 32<<20))
		_ = res.Body.Close()
	}
	took := time.Since(start)
	f.mu.Lock()
	st := f.report.Stats[op.ID()]
	st.Requests++
	if err == nil {
		st.Status[res.StatusCode]++
	}
	f.mu.Unlock()
	if err != nil {
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) && f.opts.Timeout > took {
			return // the run was stopped
		}
		if len(b.Body) > 1<<20 && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
			// A server may refuse a body above its limit by closing the
			// connection while it arrives (RFC 9110, 413): the client then
			// loses the answer in the reset. Not a finding.
			return
		}
		f.find(op, b, KindNoAnswer, 0, err.Error(), took)
		return
	}
	if took > f.opts.Slow {
		f.find(op, b, KindSlow, res.StatusCode, fmt.Sprintf("answered in %s (limit %s)", took.Round(time.Millisecond), f.opts.Slow), took)
	}
	if res.StatusCode >= 500 {
		f.find(op, b, KindServerError, res.StatusCode, firstLine(body), took)
	}
	f.check(op, b, res, body, took)
	f.learn(op, b, res, body)
}

// check validates the answer against the document.
func (f *fuzzer) check(op *operation, b *built, res *http.Response, body []byte, took time.Duration) {
	// The validator finds the operation by method and path alone.
	vreq, _ := http.NewRequest(b.Method, b.URL, nil)
	vreq.Header = b.Header.Clone()
	vres := &http.Response{StatusCode: res.StatusCode, Header: res.Header, Body: io.NopCloser(bytes.NewReader(body)), Request: vreq}
	if _, errs := f.val.ValidateHttpResponse(vreq, vres); len(errs) > 0 {
		msgs := make([]string, 0, len(errs))
		for _, e := range errs {
			if e.ValidationType == verrors.StrictValidationType && e.ValidationSubType == verrors.StrictSubTypeProperty &&
				strings.HasSuffix(e.Reason, "Declared properties: []") {
				// A schema that declares no property at all is a free-form
				// object ({}, additionalProperties): strict mode has nothing
				// to hold its properties to.
				continue
			}
			m := e.Message
			if e.Reason != "" && !strings.Contains(m, e.Reason) {
				m += ": " + e.Reason
			}
			for _, se := range e.SchemaValidationErrors {
				m += " [" + se.FieldPath + ": " + se.Reason + "]"
			}
			msgs = append(msgs, m)
		}
		if len(msgs) > 0 {
			sort.Strings(msgs) // the validator's order follows map iteration
			f.find(op, b, KindUndeclared, res.StatusCode, strings.Join(msgs, "; "), took)
		}
	}
}

// learn keeps what answers teach: ids of created objects (reused as path
// parameters), throttling (the operation rests for Retry-After), a revoked
// token (the fuzzer logs in again).
func (f *fuzzer) learn(op *operation, b *built, res *http.Response, body []byte) {
	switch {
	case res.StatusCode == http.StatusTooManyRequests:
		wait := 1 * time.Second
		if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && s > 0 {
			wait = time.Duration(min(s, 60)) * time.Second
		}
		f.mu.Lock()
		f.throttled[op.ID()] = time.Now().Add(wait)
		f.mu.Unlock()
	case res.StatusCode == http.StatusUnauthorized && b.RealToken != "":
		f.auth.revoked(b.RealToken)
	case op.Method == http.MethodPost && res.StatusCode >= 200 && res.StatusCode < 300:
		var obj map[string]any
		if json.Unmarshal(body, &obj) != nil {
			return
		}
		if id, ok := obj["id"].(string); ok && id != "" {
			f.mu.Lock()
			if ids := f.ids[op.Path]; len(ids) < 200 {
				f.ids[op.Path] = append(ids, id)
			}
			f.mu.Unlock()
		}
	}
}

func (f *fuzzer) knownID(r *rand.Rand, collection string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := f.ids[collection]
	if len(ids) == 0 {
		return "", false
	}
	return ids[r.IntN(len(ids))], true
}

// find records a finding, grouped with those of the same kind, operation,
// status and detail.
func (f *fuzzer) find(op *operation, b *built, kind string, status int, detail string, took time.Duration) {
	if len(detail) > 600 {
		detail = detail[:600] + "..."
	}
	key := kind + "\x00" + op.ID() + "\x00" + strconv.Itoa(status) + "\x00" + groupDetail(kind, detail)
	f.mu.Lock()
	defer f.mu.Unlock()
	if g, ok := f.groups[key]; ok {
		g.Count++
		return
	}
	g := &Finding{Kind: kind, Operation: op.ID(), Status: status, Detail: detail, Variant: b.Variant, Duration: took, Count: 1}
	g.Curl = f.curl(b)
	f.groups[key] = g
	f.report.Findings = append(f.report.Findings, g)
}

// groupDetail is the part of a finding's detail that groups it: slow answers
// and lost connections group by kind alone.
func groupDetail(kind, detail string) string {
	if kind == KindSlow || kind == KindNoAnswer {
		return ""
	}
	return detail
}

func (f *fuzzer) note(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range f.report.Notes {
		if n == s {
			return
		}
	}
	f.report.Notes = append(f.report.Notes, s)
}

func firstLine(b []byte) string {
	s := string(b)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}
