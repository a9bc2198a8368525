package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const password = "correct-horse-battery-9"

// result is one request the workload made.
type result struct {
	op      string
	start   time.Time
	took    time.Duration
	status  int    // 0: no response (transport error)
	errType string // the error shape's type, for 4xx and 5xx
	shaped  bool   // the body was the API's error shape
	body    string // the start of the body of a 5xx, for the report
	reqID   string // the X-Request-ID the harness sent: the server's log lines of the request name it
}

// user is what the workload knows of one account it registered.
type user struct {
	email string
	// firstName is the last first_name a 2xx PATCH acknowledged;
	// maybe the values of PATCHes whose outcome is unknown (no response, 5xx),
	// sent after it.
	firstName string
	maybe     []string
	// token is the registration's token (never logged out), to check the
	// user's notes at the end; notes are the notes whose creation was
	// acknowledged, by id, with the title a 2xx last acknowledged ("" once a
	// DELETE was acknowledged) and the titles sent since with no answer.
	token string
	notes map[string]*note
	// resets counts password resets answered 200 (each queues one email);
	// maybeResets those whose outcome is unknown.
	resets, maybeResets int
}

// note is one note a user created through the generated resource.
type note struct {
	title   string
	deleted bool
	maybe   []string // titles of PATCHes with an unknown outcome; "-" for a DELETE
}

// workload is the clients' shared record.
type workload struct {
	base     string   // the router
	webAddrs []string // each web process, to check revocations on every one
	client   *http.Client

	// seq numbers the requests: each is sent with X-Request-ID "cl-<seq>",
	// which the web process echoes and puts on every log line of the request.
	seq atomic.Uint64

	mu      sync.Mutex
	results []result
	users   []*user
	// revocations: checks of a revoked token on one web process, and the
	// ones that were not refused with 401.
	revocationChecks, revocationFailures int
	revocationNotes                      []string
}

func (w *workload) record(r result) {
	w.mu.Lock()
	w.results = append(w.results, r)
	w.mu.Unlock()
}

// do sends one request through the router and records it.
func (w *workload) do(ctx context.Context, op, method, path, token string, body []byte, contentType string) (int, []byte) {
	return w.doAt(ctx, w.base, op, method, path, token, body, contentType, true)
}

func (w *workload) doAt(ctx context.Context, base, op, method, path, token string, body []byte, contentType string, rec bool) (int, []byte) {
	req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	reqID := fmt.Sprintf("cl-%d", w.seq.Add(1))
	req.Header.Set("X-Request-ID", reqID)
	if base != w.base {
		// Straight to a web process, as the router would send it: over
		// "https" (NUM_PROXIES=1 trusts this hop), so that SECURE_SSL_REDIRECT
		// does not answer a redirect instead.
		req.Header.Set("X-Forwarded-Proto", "https")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	t0 := time.Now()
	res, err := w.client.Do(req)
	r := result{op: op, start: t0, reqID: reqID}
	var data []byte
	if err == nil {
		data, _ = io.ReadAll(res.Body)
		res.Body.Close()
		r.status = res.StatusCode
		if res.StatusCode >= 400 {
			var shape struct {
				Type   string            `json:"error_type"`
				Errors []json.RawMessage `json:"errors"`
			}
			if json.Unmarshal(data, &shape) == nil && shape.Type != "" && shape.Errors != nil {
				r.errType, r.shaped = shape.Type, true
			}
			if res.StatusCode >= 500 {
				r.body = string(data[:min(len(data), 200)])
			}
		}
	} else if ctx.Err() != nil {
		return 0, nil // the run is over: not a result
	}
	r.took = time.Since(t0)
	if rec {
		w.record(r)
	}
	return r.status, data
}

func jsonBody(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// runClient runs one client's loop until ctx ends: register, log in, read and
// change the account, ask for password resets, log out and check that the
// token is refused by every web process, with malformed requests mixed in.
func (w *workload) runClient(ctx context.Context, id int) {
	for n := 0; ctx.Err() == nil; n++ {
		u := &user{email: fmt.Sprintf("c%d-%d-%d@example.com", id, n, time.Now().UnixNano()%1e6)}
		status, data := w.do(ctx, "register", "POST", "/api/auth/register", "", jsonBody(map[string]string{"email": u.email, "password": password}), "application/json")
		if status != 201 {
			if ctx.Err() == nil {
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		var reg struct {
			Token string `json:"auth_token"`
		}
		_ = json.Unmarshal(data, &reg)
		u.token, u.notes = reg.Token, map[string]*note{}
		w.mu.Lock()
		w.users = append(w.users, u)
		w.mu.Unlock()
		w.crud(ctx, u)

		status, data = w.do(ctx, "login", "POST", "/api/auth/login", "", jsonBody(map[string]string{"email": u.email, "password": password}), "application/json")
		var login struct {
			Token string `json:"auth_token"`
		}
		if status == 200 {
			_ = json.Unmarshal(data, &login)
		}
		for i := 0; i < 4 && ctx.Err() == nil; i++ {
			w.do(ctx, "me", "GET", "/api/me", reg.Token, nil, "")
			name := fmt.Sprintf("n%d", i)
			status, _ := w.do(ctx, "patch", "PATCH", "/api/me", reg.Token, jsonBody(map[string]string{"first_name": name}), "application/json")
			w.mu.Lock()
			switch {
			case status >= 200 && status < 300:
				u.firstName, u.maybe = name, nil
			case status == 0 || status >= 500:
				u.maybe = append(u.maybe, name)
			}
			w.mu.Unlock()
		}
		status, _ = w.do(ctx, "reset", "POST", "/api/auth/password_reset", "", jsonBody(map[string]string{"email": u.email}), "application/json")
		w.mu.Lock()
		switch {
		case status == 200:
			u.resets++
		case status == 0 || status >= 500:
			u.maybeResets++
		}
		w.mu.Unlock()

		// Malformed requests: each must get its 4xx.
		w.do(ctx, "bad-type", "POST", "/api/auth/register", "", []byte(`{"email": 5, "password": ["x"]}`), "application/json")
		w.do(ctx, "bad-token", "GET", "/api/me", "not-a-token", nil, "")
		if n%10 == 0 {
			w.huge(ctx, w.webAddrs[n%len(w.webAddrs)])
		}
		w.do(ctx, "bad-json", "PATCH", "/api/me", reg.Token, []byte(`{"first_name": `), "application/json")

		if login.Token != "" {
			status, _ = w.do(ctx, "logout", "POST", "/api/auth/logout", login.Token, nil, "")
			if status == 204 {
				w.checkRevoked(ctx, login.Token)
			}
		}
	}
}

// crud creates two notes through the generated resource, lists and reads
// them, changes the first and deletes the second, recording what was
// acknowledged.
func (w *workload) crud(ctx context.Context, u *user) {
	var ids []string
	for i := range 2 {
		title := fmt.Sprintf("note %d of %s", i, u.email)
		status, data := w.do(ctx, "create", "POST", notesPath, u.token, jsonBody(map[string]string{"title": title, "body": "text"}), "application/json")
		var out struct {
			ID string `json:"id"`
		}
		if status == 201 && json.Unmarshal(data, &out) == nil && out.ID != "" {
			w.mu.Lock()
			u.notes[out.ID] = &note{title: title}
			w.mu.Unlock()
			ids = append(ids, out.ID)
		}
	}
	w.do(ctx, "list", "GET", notesPath+"?per_page=20", u.token, nil, "")
	w.do(ctx, "create-bad", "POST", notesPath, u.token, []byte(`{"title": 12}`), "application/json")
	if len(ids) < 2 {
		return
	}
	w.do(ctx, "read", "GET", notesPath+"/"+ids[0], u.token, nil, "")
	title := "changed " + ids[0][:8]
	status, _ := w.do(ctx, "update", "PATCH", notesPath+"/"+ids[0], u.token, jsonBody(map[string]string{"title": title}), "application/json")
	w.mu.Lock()
	switch n := u.notes[ids[0]]; {
	case status >= 200 && status < 300:
		n.title, n.maybe = title, nil
	case status == 0 || status >= 500:
		n.maybe = append(n.maybe, title)
	}
	w.mu.Unlock()
	status, _ = w.do(ctx, "delete", "DELETE", notesPath+"/"+ids[1], u.token, nil, "")
	w.mu.Lock()
	switch n := u.notes[ids[1]]; {
	case status >= 200 && status < 300:
		n.deleted, n.maybe = true, nil
	case status == 0 || status >= 500:
		n.maybe = append(n.maybe, "-")
	}
	w.mu.Unlock()
}

// notesPath is the generated resource's collection.
const notesPath = "/api/notes/notes"

// huge declares a 6 MB body (over MAX_UPLOAD_SIZE) to a web process over a
// raw connection and reads the answer without sending the body, as an
// attacker would: it must be a 413 in the error shape, at once.
func (w *workload) huge(ctx context.Context, addr string) {
	r := result{op: "huge", start: time.Now()}
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return // the process is down (a fault)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST /api/auth/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nX-Forwarded-Proto: https\r\n\r\n{\"email\":\"", addr, 6<<20)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	r.took = time.Since(r.start)
	if err != nil {
		// No answer: the process was killed meanwhile (a fault), unless it
		// still answers /health, in which case it dropped the request.
		hc := &http.Client{Timeout: 2 * time.Second}
		if hres, herr := hc.Get("http://" + addr + "/health"); herr == nil {
			hres.Body.Close()
			if ctx.Err() == nil {
				w.record(r)
			}
		}
		return
	}
	data, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	res.Body.Close()
	r.status = res.StatusCode
	var shape struct {
		Type   string            `json:"error_type"`
		Errors []json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(data, &shape) == nil && shape.Type != "" && shape.Errors != nil {
		r.errType, r.shaped = shape.Type, true
	}
	w.record(r)
}

// checkRevoked asks every live web process, directly, for /api/me with a
// token whose logout was acknowledged: each must refuse it.
func (w *workload) checkRevoked(ctx context.Context, token string) {
	for _, addr := range w.webAddrs {
		status, _ := w.doAt(ctx, "http://"+addr, "revoked", "GET", "/api/me", token, nil, "", false)
		if status == 0 || status >= 500 {
			continue // the process is down (a fault): nothing to check there
		}
		w.mu.Lock()
		w.revocationChecks++
		if status != 401 {
			w.revocationFailures++
			if len(w.revocationNotes) < 5 {
				w.revocationNotes = append(w.revocationNotes, fmt.Sprintf("%s answered %d for a revoked token", addr, status))
			}
		}
		w.mu.Unlock()
	}
}

func shorten(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 160 {
		return s[:160] + "..."
	}
	return s
}
