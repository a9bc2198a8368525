package testkit

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// Client sends requests to a test project in memory, like django.test.Client.
// Its methods fail the test on transport errors, never on HTTP statuses.
//
// Every request it sends and every response it gets are validated against
// the app's OpenAPI document (see the package documentation); a mismatch
// fails the test. Unchecked returns a client that skips that.
type Client struct {
	t      testing.TB
	app    *fiber.App
	header map[string]string
	check  *checker
	// unchecked skips the OpenAPI validation (Unchecked).
	unchecked bool
}

// Unchecked returns a client whose requests and responses are not validated
// against the OpenAPI document: for the rare test of behaviour the document
// does not describe on purpose (a test of the validation itself, a request
// no client would send to a route that is not there). Never use it to silence a
// mismatch: that is a bug in the handler or in its description.
func (c *Client) Unchecked() *Client {
	cp := *c
	cp.unchecked = true
	return &cp
}

// WithToken returns a client that sends Authorization: Bearer token.
func (c *Client) WithToken(token string) *Client {
	return c.WithHeader(fiber.HeaderAuthorization, "Bearer "+token)
}

// WithHeader returns a client that sends the header on every request.
func (c *Client) WithHeader(name, value string) *Client {
	h := make(map[string]string, len(c.header)+1)
	for k, v := range c.header {
		h[k] = v
	}
	h[name] = value
	cp := *c
	cp.header = h
	return &cp
}

// Get sends a GET.
func (c *Client) Get(path string) *Response {
	c.t.Helper()
	return c.Do(http.MethodGet, path, nil)
}

// Delete sends a DELETE.
func (c *Client) Delete(path string) *Response {
	c.t.Helper()
	return c.Do(http.MethodDelete, path, nil)
}

// Post sends body as JSON (a string or []byte is sent as it is).
func (c *Client) Post(path string, body any) *Response {
	c.t.Helper()
	return c.Do(http.MethodPost, path, body)
}

// Patch sends body as JSON.
func (c *Client) Patch(path string, body any) *Response {
	c.t.Helper()
	return c.Do(http.MethodPatch, path, body)
}

// Put sends body as JSON.
func (c *Client) Put(path string, body any) *Response {
	c.t.Helper()
	return c.Do(http.MethodPut, path, body)
}

// Do sends a request with a JSON body (nil for none; string and []byte raw).
func (c *Client) Do(method, path string, body any) *Response {
	c.t.Helper()
	return c.Send(c.Request(method, path, body))
}

// Request builds the request Do sends, for a test that changes it first: a
// JSON body (nil for none; string and []byte sent as they are) with its
// Content-Type. The client's headers are added by Send.
func (c *Client) Request(method, path string, body any) *http.Request {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(body)
		if err != nil {
			c.t.Fatalf("testkit: encode body: %v", err)
		}
		r = bytes.NewReader(enc)
	}
	req := httptest.NewRequest(method, path, r)
	if body != nil {
		req.Header.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	}
	return req
}

// Upload sends a multipart/form-data request with one file part named field.
func (c *Client) Upload(method, path, field, filename string, content []byte) *Response {
	c.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	part, err := w.CreateFormFile(field, filename)
	if err != nil {
		c.t.Fatalf("testkit: multipart: %v", err)
	}
	_, _ = part.Write(content)
	_ = w.Close()
	req := httptest.NewRequest(method, path, &buf)
	req.Header.Set(fiber.HeaderContentType, w.FormDataContentType())
	return c.Send(req)
}

// Send sends a prepared request, adding the client's headers.
func (c *Client) Send(req *http.Request) *Response {
	c.t.Helper()
	for k, v := range c.header {
		if req.Header.Get(k) == "" {
			req.Header.Set(k, v)
		}
	}
	var ex *exchange
	if !c.unchecked && c.check != nil {
		var body []byte
		if req.Body != nil {
			var err error
			if body, err = io.ReadAll(req.Body); err != nil {
				c.t.Fatalf("testkit: read the request body: %v", err)
			}
			_ = req.Body.Close()
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
		ex = c.check.before(c.t, req, body)
	}
	res, err := c.app.Test(req, -1)
	if err != nil {
		c.t.Fatalf("testkit: %s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("testkit: read body: %v", err)
	}
	if ex != nil {
		ex.after(c.t, res.StatusCode, res.Header, b)
	}
	return &Response{t: c.t, Status: res.StatusCode, Header: res.Header, Body: b}
}

// Response is a finished response with helpers to check it.
type Response struct {
	t      testing.TB
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test if it is not JSON.
func (r *Response) JSON(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		r.t.Fatalf("testkit: response is not JSON (%v): %s", err, r.Body)
	}
}

// Map decodes the body as a JSON object.
func (r *Response) Map() map[string]any {
	r.t.Helper()
	var m map[string]any
	r.JSON(&m)
	return m
}

// AssertStatus fails the test unless the status is want, showing the body.
func (r *Response) AssertStatus(want int) *Response {
	r.t.Helper()
	if r.Status != want {
		r.t.Fatalf("status %d, want %d; body: %s", r.Status, want, r.Body)
	}
	return r
}

// APIError is the error body of the API contract.
type APIError struct {
	ErrorType string `json:"error_type"`
	Errors    []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// AssertError fails the test unless the response is an API error with this
// status and type and, when fields are given, entries for exactly those fields.
func (r *Response) AssertError(status int, errorType string, fields ...string) APIError {
	r.t.Helper()
	r.AssertStatus(status)
	var e APIError
	r.JSON(&e)
	if e.ErrorType != errorType {
		r.t.Fatalf("error_type %q, want %q; body: %s", e.ErrorType, errorType, r.Body)
	}
	if len(e.Errors) == 0 {
		r.t.Fatalf("error response with no entries: %s", r.Body)
	}
	if len(fields) > 0 {
		got := map[string]bool{}
		for _, fe := range e.Errors {
			got[fe.Field] = true
		}
		for _, f := range fields {
			if !got[f] {
				r.t.Fatalf("no error for field %q; body: %s", f, r.Body)
			}
		}
	}
	return e
}
