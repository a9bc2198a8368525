package testkit

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"
	"github.com/pb33f/libopenapi-validator/paths"
	"github.com/pb33f/libopenapi-validator/radix"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
	"github.com/pb33f/libopenapi/orderedmap"

	"manouche/core/openapi"
	"manouche/core/openapi/openapitest"
)

// DocumentPath is where an app serves its OpenAPI document, which the
// Client validates every request and response against.
const DocumentPath = openapi.DocumentPath

// contract is a parsed OpenAPI document and its validator.
type contract struct {
	v     validator.Validator
	model *v3.Document
	find  *config.ValidationOptions
	// covers are the first path segments of the document's paths ("/api",
	// "/health"): a request under one is an API request the document must describe.
	covers map[string]bool
}

// contracts caches parsed documents by their bytes' hash: parsing and
// compiling the schemas costs, and every test project of a process usually
// serves the same document.
var contracts = struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]*contractEntry
}{m: map[[sha256.Size]byte]*contractEntry{}}

type contractEntry struct {
	once sync.Once
	c    *contract
	err  error
}

// parseContract returns the contract of doc, parsed once per process.
func parseContract(doc []byte) (*contract, error) {
	key := sha256.Sum256(doc)
	contracts.mu.Lock()
	e, ok := contracts.m[key]
	if !ok {
		e = &contractEntry{}
		contracts.m[key] = e
	}
	contracts.mu.Unlock()
	e.once.Do(func() { e.c, e.err = newContract(doc) })
	return e.c, e.err
}

func newContract(doc []byte) (*contract, error) {
	d, err := libopenapi.NewDocument(doc)
	if err != nil {
		return nil, fmt.Errorf("parse the OpenAPI document: %w", err)
	}
	if !strings.HasPrefix(d.GetVersion(), "3.") {
		return nil, fmt.Errorf("the document is OpenAPI %q, not 3.x", d.GetVersion())
	}
	m, err := d.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("build the OpenAPI model: %w", err)
	}
	c := &contract{
		v:      validator.NewValidatorFromV3Model(&m.Model, config.WithFormatAssertions()),
		model:  &m.Model,
		find:   config.NewValidationOptions(),
		covers: map[string]bool{},
	}
	c.find.PathTree = radix.BuildPathTree(&m.Model)
	if m.Model.Paths != nil {
		for p := m.Model.Paths.PathItems.First(); p != nil; p = p.Next() {
			c.covers[firstSegment(p.Key())] = true
		}
	}
	return c, nil
}

// firstSegment is "/api" for "/api/users/{id}", "/health" for "/health".
func firstSegment(path string) string {
	rest := strings.TrimPrefix(path, "/")
	seg, _, _ := strings.Cut(rest, "/")
	return "/" + seg
}

// covered says whether path is one the document describes (an API route).
func (c *contract) covered(path string) bool { return c.covers[firstSegment(path)] }

// operation finds the document's operation for req: nil when the document
// has no such path or no such method on it.
func (c *contract) operation(req *http.Request) *v3.Operation {
	item, errs, _ := paths.FindPath(req, c.model, c.find)
	if item == nil || len(errs) > 0 {
		return nil
	}
	return helpers.ExtractOperation(req, item)
}

// checker is one test project's validation: its contract, loaded on first use.
type checker struct {
	app *fiber.App
	// build builds the document in process, for an app that serves none
	// (API_DOCS=false); nil when there is no way to.
	build func() ([]byte, error)
	once  sync.Once
	c     *contract
	err   error
}

func newChecker(app *fiber.App, build func() ([]byte, error)) *checker {
	return &checker{app: app, build: build}
}

// contract loads the document: GET /api/openapi.json through the app, else
// the one build makes, else an error that says why there is none.
func (k *checker) contract() (*contract, error) {
	k.once.Do(func() {
		doc, err := k.document()
		if err != nil {
			k.err = err
			return
		}
		c, err := parseContract(doc)
		if err != nil {
			k.err = fmt.Errorf("testkit: the app's OpenAPI document (GET %s): %w", DocumentPath, err)
			return
		}
		k.c = c
	})
	return k.c, k.err
}

func (k *checker) document() ([]byte, error) {
	req := httptest.NewRequest(http.MethodGet, DocumentPath, nil)
	res, err := k.app.Test(req, -1)
	if err != nil {
		return nil, fmt.Errorf("testkit: GET %s: %w", DocumentPath, err)
	}
	defer func() { _ = res.Body.Close() }()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("testkit: GET %s: %w", DocumentPath, err)
	}
	if res.StatusCode == http.StatusOK {
		return body, nil
	}
	if k.build != nil {
		doc, err := k.build()
		if err != nil {
			return nil, fmt.Errorf("testkit: the app serves no OpenAPI document (GET %s answered %d), and building it failed: %w", DocumentPath, res.StatusCode, err)
		}
		return doc, nil
	}
	return nil, fmt.Errorf("testkit: the app serves no OpenAPI document (GET %s answered %d: %s), so its requests and responses cannot be validated against it; "+
		"serve one (API_DOCS on), or, for a test that must see behaviour outside the document, send with client.Unchecked()", DocumentPath, res.StatusCode, truncate(body))
}

// exchange is one request being validated, waiting for its response.
type exchange struct {
	c      *contract
	k      *checker
	method string
	target string
	req    func() *http.Request
	// documented is false for an API request the document has no operation for.
	documented bool
	// invalid are the reasons the request breaks the document.
	invalid []*verrors.ValidationError
}

// before validates a request the Client is about to send (body is its
// body, read). It returns nil when there is nothing to check: a request
// outside the API, a preflight, or no document (then the test has failed).
func (k *checker) before(t testing.TB, req *http.Request, body []byte) *exchange {
	t.Helper()
	if req.Method == http.MethodOptions || req.Method == http.MethodHead {
		return nil // CORS preflights and HEAD are answered by the stack, not described per route
	}
	c, err := k.contract()
	if err != nil {
		t.Errorf("%v", err)
		return nil
	}
	if !c.covered(req.URL.Path) {
		return nil
	}
	clone := func() *http.Request {
		r := req.Clone(req.Context())
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		return r
	}
	ex := &exchange{c: c, k: k, method: req.Method, target: req.URL.RequestURI(), req: clone}
	if c.operation(req) == nil {
		return ex
	}
	ex.documented = true
	if ok, errs := c.v.ValidateHttpRequest(clone()); !ok {
		ex.invalid = errs
		if len(errs) == 0 {
			ex.invalid = []*verrors.ValidationError{{Message: "the request does not match the document"}}
		}
	}
	return ex
}

// after validates the response to the exchange's request.
func (ex *exchange) after(t testing.TB, status int, header http.Header, body []byte) {
	t.Helper()
	if !ex.documented {
		ex.undocumented(t, status, body)
		return
	}
	if len(ex.invalid) > 0 {
		switch {
		case status < 400:
			ex.fail(t, status, body, "the handler accepted input the document says is invalid", ex.invalid)
		case status >= 500:
			ex.fail(t, status, body, "a request the document says is invalid must be answered by a declared 4xx, not a server error", ex.invalid)
		default:
			if reason := errorShape(body); reason != "" {
				ex.fail(t, status, body, "the answer to a request the document says is invalid is not in the API error shape: "+reason, nil)
			}
		}
	}
	if errs := ex.c.response(ex.req(), status, header, body); len(errs) > 0 {
		ex.fail(t, status, body, "the response does not match the document", errs)
	}
}

// undocumented checks the answer to an API request the document has no
// operation for: no route of the app may serve it (that route is missing
// from the document), and the answer is the router's 404 or 405.
func (ex *exchange) undocumented(t testing.TB, status int, body []byte) {
	t.Helper()
	if pattern, ok := routeFor(ex.k.app, ex.method, pathOnly(ex.target)); ok {
		ex.fail(t, status, body, fmt.Sprintf("the app has a route %s %s that the OpenAPI document does not describe", ex.method, pattern), nil)
		return
	}
	if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
		ex.fail(t, status, body, "the OpenAPI document has no such operation, and the app did not answer 404 or 405", nil)
		return
	}
	if reason := errorShape(body); reason != "" {
		ex.fail(t, status, body, "the answer to an unknown route is not in the API error shape: "+reason, nil)
	}
}

func (ex *exchange) fail(t testing.TB, status int, body []byte, what string, errs []*verrors.ValidationError) {
	t.Helper()
	t.Errorf("testkit: OpenAPI: %s %s → %d: %s%s\n  body: %s\n  (the document or the handler is wrong; a test of behaviour outside the document sends with client.Unchecked())",
		ex.method, ex.target, status, what, reasons(errs), truncate(body))
}

// response validates a response against the operation of req: its status
// (or a default) declared, its content type declared, its body matching the
// schema, and no body where the document declares none.
func (c *contract) response(req *http.Request, status int, header http.Header, body []byte) []*verrors.ValidationError {
	res := &http.Response{StatusCode: status, Header: header, Body: http.NoBody, Request: req}
	if len(body) > 0 {
		res.Body = io.NopCloser(bytes.NewReader(body))
	}
	var errs []*verrors.ValidationError
	if ok, verrs := c.v.ValidateHttpResponse(req, res); !ok {
		errs = append(errs, verrs...)
	}
	if op := c.operation(req); op != nil && op.Responses != nil && len(body) > 0 {
		declared := op.Responses.Codes.GetOrZero(strconv.Itoa(status))
		if declared == nil {
			declared = op.Responses.Codes.GetOrZero(fmt.Sprintf("%dXX", status/100))
		}
		if declared == nil {
			declared = op.Responses.Default
		}
		if declared != nil && orderedmap.Len(declared.Content) == 0 {
			errs = append(errs, &verrors.ValidationError{
				Message: fmt.Sprintf("status %d declares no content, but the response has a %d-byte body (Content-Type %q)", status, len(body), header.Get(fiber.HeaderContentType)),
			})
		}
	}
	return errs
}

// validateRaw validates the response to a request App.Raw sent, when the
// request parses and maps to a documented operation.
func (k *checker) validateRaw(t testing.TB, request string, status int, header http.Header, body []byte) {
	t.Helper()
	c, err := k.contract()
	if err != nil {
		t.Errorf("%v", err)
		return
	}
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(request)))
	if err != nil || !c.covered(req.URL.Path) || c.operation(req) == nil {
		return
	}
	req.Body = http.NoBody
	if errs := c.response(req, status, header, body); len(errs) > 0 {
		ex := &exchange{method: req.Method, target: req.URL.RequestURI()}
		ex.fail(t, status, body, "the response does not match the document", errs)
	}
}

// errorShape returns why body is not the API error shape, or "".
func errorShape(body []byte) string {
	var e struct {
		ErrorType *string `json:"error_type"`
		Errors    []struct {
			Message *string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		return "not JSON: " + err.Error()
	}
	if e.ErrorType == nil || *e.ErrorType == "" {
		return "no error_type"
	}
	if len(e.Errors) == 0 {
		return "no errors entry"
	}
	for _, fe := range e.Errors {
		if fe.Message == nil {
			return "an errors entry without a message"
		}
	}
	return ""
}

// reasons formats the validator's findings, one per line.
func reasons(errs []*verrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		if e == nil {
			continue
		}
		b.WriteString("\n  - " + e.Message)
		if e.Reason != "" && e.Reason != e.Message {
			b.WriteString(": " + e.Reason)
		}
		for _, s := range e.SchemaValidationErrors {
			b.WriteString("\n      " + s.Reason)
			if s.FieldPath != "" {
				b.WriteString(" (at " + s.FieldPath + ")")
			}
		}
	}
	return b.String()
}

const truncateAt = 1000

func truncate(b []byte) string {
	if len(b) <= truncateAt {
		return string(b)
	}
	return string(b[:truncateAt]) + "… (" + strconv.Itoa(len(b)) + " bytes)"
}

func pathOnly(target string) string {
	p, _, _ := strings.Cut(target, "?")
	return p
}

// routeFor returns the pattern of the app's route (not a Use middleware)
// that serves method and path, as Fiber matches them by default (case
// insensitive, a trailing slash ignored).
func routeFor(app *fiber.App, method, path string) (string, bool) {
	for _, r := range app.GetRoutes(true) {
		if r.Method == method && fiberMatch(r.Path, path) {
			return r.Path, true
		}
	}
	return "", false
}

// fiberMatch matches a Fiber route pattern ("/api/posts/:id", ":id?",
// ":id<int>", "*", "+") against a request path, segment by segment.
func fiberMatch(pattern, path string) bool {
	ps := strings.Split(strings.Trim(pattern, "/"), "/")
	xs := strings.Split(strings.Trim(path, "/"), "/")
	if pattern == "/" || pattern == "" {
		ps = nil
	}
	if strings.Trim(path, "/") == "" {
		xs = nil
	}
	for i, p := range ps {
		switch {
		case p == "*":
			return true
		case p == "+":
			return i < len(xs) && xs[i] != ""
		case strings.HasPrefix(p, ":") && strings.HasSuffix(p, "?"):
			if i >= len(xs) {
				return i == len(ps)-1
			}
		case strings.HasPrefix(p, ":"):
			if i >= len(xs) || xs[i] == "" {
				return false
			}
		default:
			if i >= len(xs) || !strings.EqualFold(p, xs[i]) {
				return false
			}
		}
	}
	return len(xs) == len(ps)
}

// OpenAPI fetches the app's OpenAPI document, fails the test unless it is
// served as JSON and is valid OpenAPI 3.1, and returns it decoded.
func (a *App) OpenAPI() *openapi.Document {
	a.t.Helper()
	res := a.Client.Get(openapi.DocumentPath).AssertStatus(http.StatusOK)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		a.t.Errorf("the OpenAPI document is served as %q, not JSON", ct)
	}
	if err := openapitest.Validate(res.Body); err != nil {
		a.t.Fatal(err)
	}
	var doc openapi.Document
	if err := json.Unmarshal(res.Body, &doc); err != nil {
		a.t.Fatalf("the OpenAPI document: %v", err)
	}
	return &doc
}
