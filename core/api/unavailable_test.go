package api_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"manouche/core/api"
	"manouche/core/cache"
	"manouche/core/storage"
)

type sqlState string

func (s sqlState) Error() string    { return "pg error " + string(s) }
func (s sqlState) SQLState() string { return string(s) }

// notOutage has an Unavailable method that says no.
type notOutage struct{}

func (notOutage) Error() string     { return "not an outage" }
func (notOutage) Unavailable() bool { return false }

func TestIsUnavailable(t *testing.T) {
	// A real connection refused, through the Postgres driver.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, refused := pgx.Connect(ctx, "postgres://u:p@"+addr+"/db?sslmode=disable&connect_timeout=2")
	if refused == nil {
		t.Fatal("connecting to a closed port succeeded")
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"pgx connection refused", fmt.Errorf("users: find by email: %w", refused), true},
		{"shutting down 57P03", fmt.Errorf("wrapped: %w", sqlState("57P03")), true},
		{"terminated by admin 57P01", sqlState("57P01"), true},
		{"connection exception 08006", sqlState("08006"), true},
		{"too many connections", sqlState("53300"), true},
		{"unique violation is a bug or a 400, not an outage", sqlState("23505"), false},
		{"syntax error", sqlState("42601"), false},
		{"plain error", errors.New("boom"), false},
		{"EOF", io.ErrUnexpectedEOF, false},
		{"the cache's outage, wrapped", fmt.Errorf("cache: delete %q: %w", "k", cache.ErrUnavailable), true},
		{"the cache's outage with Redis' error", fmt.Errorf("%w: %w", cache.ErrUnavailable, io.EOF), true},
		{"media storage's outage, wrapped", fmt.Errorf("notes: attach: %w", storage.ErrUnavailable), true},
		{"media storage's not found is no outage", storage.ErrNotFound, false},
		{"an error that says it is not an outage", notOutage{}, false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		if got := api.IsUnavailable(tt.err); got != tt.want {
			t.Errorf("%s: IsUnavailable(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
	// And the API answer: 503 ServiceUnavailable, no internals.
	e := api.From(fmt.Errorf("users: find by email: %w", refused), false, 0)
	if e.Status != http.StatusServiceUnavailable || e.Type != api.TypeServiceUnavailable {
		t.Errorf("From(connection refused) = %d %s, want 503 ServiceUnavailable", e.Status, e.Type)
	}
	if len(e.Errors) != 1 || e.Errors[0].Message == "" || strings.Contains(e.Errors[0].Message, addr) {
		t.Errorf("503 message %+v: want one entry without internals", e.Errors)
	}
	if e := api.From(sqlState("23505"), false, 0); e.Status != http.StatusInternalServerError {
		t.Errorf("From(unique violation) = %d, want 500", e.Status)
	}
}
