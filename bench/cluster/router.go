package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// router is a round-robin load balancer in front of the web processes, as
// Heroku's router or an ALB: it adds X-Forwarded-For and X-Forwarded-Proto,
// probes each backend's /health and takes a dead one out of the rotation,
// and sends a request whose connection was refused to the next backend (it
// was never sent). A backend that drops a request it had received answers,
// as Heroku's router does (H13), 503 — in the API's error shape, counted as
// the router's.
type router struct {
	backends []*backend
	next     atomic.Uint64
	routed   atomic.Int64 // 503s the router itself answered
	proxy    *httputil.ReverseProxy
}

type backend struct {
	url     *url.URL
	healthy atomic.Bool
}

func newRouter(addrs []string) *router {
	r := &router{}
	for _, a := range addrs {
		u, _ := url.Parse("http://" + a)
		b := &backend{url: u}
		b.healthy.Store(true)
		r.backends = append(r.backends, b)
	}
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}
	r.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.Header.Del("X-Forwarded-For")
			pr.SetXForwarded()
			pr.Out.Header.Set("X-Forwarded-Proto", "https")
		},
		Transport: retryOnRefused{r: r, base: transport},
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			r.routed.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error_type":"ServiceUnavailable","errors":[{"message":"The router could not reach the application."}]}`))
		},
	}
	return r
}

func (r *router) pick() *backend {
	n := len(r.backends)
	start := r.next.Add(1)
	for i := range n {
		b := r.backends[(int(start)+i)%n]
		if b.healthy.Load() {
			return b
		}
	}
	return r.backends[int(start)%n]
}

func (r *router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	// The body is held so that a request refused by a dead backend can go to
	// the next one.
	body, err := io.ReadAll(io.LimitReader(req.Body, 16<<20))
	if err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.proxy.ServeHTTP(w, req)
}

// probe marks backends healthy or not from their /health, every interval.
func (r *router) probe(stop <-chan struct{}, interval time.Duration) {
	c := &http.Client{Timeout: 500 * time.Millisecond}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		var wg sync.WaitGroup
		for _, b := range r.backends {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := c.Get(b.url.String() + "/health")
				ok := err == nil && res.StatusCode == 200
				if res != nil {
					res.Body.Close()
				}
				b.healthy.Store(ok)
			}()
		}
		wg.Wait()
	}
}

// retryOnRefused sends the request to a backend, and to the next ones when
// the connection is refused (nothing was sent, so any method may be retried).
type retryOnRefused struct {
	r    *router
	base http.RoundTripper
}

func (t retryOnRefused) RoundTrip(req *http.Request) (*http.Response, error) {
	var lastErr error
	for i := range len(t.r.backends) {
		b := t.r.pick()
		out := req.Clone(req.Context())
		out.URL.Scheme, out.URL.Host = b.url.Scheme, b.url.Host
		if i > 0 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			out.Body = body
		}
		res, err := t.base.RoundTrip(out)
		if err == nil {
			return res, nil
		}
		lastErr = err
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, err
		}
		b.healthy.Store(false)
	}
	return nil, lastErr
}
