package rest_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"manouche/core/testkit"
)

// benchList serves GET path in memory, b.N times on one reused request,
// after 100 books were inserted: the server-side cost of a list page.
func benchList(b *testing.B, path string) {
	app := testkit.New(b, testkit.Apps{cacheApp{}})
	ctx := context.Background()
	a := author{ID: uuid.New(), Name: "Ada", CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if _, err := app.DB.NewInsert().Model(&a).Exec(ctx); err != nil {
		b.Fatal(err)
	}
	rows := make([]book, 100)
	for i := range rows {
		at := time.Now().Add(-time.Duration(i) * time.Minute)
		rows[i] = book{ID: uuid.New(), CreatedAt: at, UpdatedAt: at, Title: fmt.Sprint("Book number ", i), AuthorID: a.ID}
	}
	if _, err := app.DB.NewInsert().Model(&rows).Exec(ctx); err != nil {
		b.Fatal(err)
	}
	handler := app.Handler.Handler()
	var req fasthttp.Request
	req.Header.SetMethod("GET")
	req.SetRequestURI(path)
	req.Header.SetHost("127.0.0.1")
	var rc fasthttp.RequestCtx
	rc.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}, nil)
	for range 3 { // warm the cache (and the near layer)
		rc.Response.Reset()
		handler(&rc)
		time.Sleep(50 * time.Millisecond)
	}
	if rc.Response.StatusCode() != 200 {
		b.Fatalf("status %d: %s", rc.Response.StatusCode(), rc.Response.Body())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rc.Response.Reset()
		handler(&rc)
	}
}

// BenchmarkListCached is a page of 20 through the model cache.
func BenchmarkListCached(b *testing.B) { benchList(b, rc+"/books?per_page=20") }

// BenchmarkListUncached is the same page from the database (NoCache).
func BenchmarkListUncached(b *testing.B) { benchList(b, rc+"/plainbooks?per_page=20") }
