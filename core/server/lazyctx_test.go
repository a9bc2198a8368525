package server_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"manouche/core/server"
)

type ctxKey struct{}

// TestRequestContext: the request's context (armed only when waited on)
// behaves as context.WithDeadlineCause under the server's base context would,
// whether or not anything waited on it before it ended: Err, Done, Cause,
// Value, Deadline, contexts derived from it and context.AfterFunc.
func TestRequestContext(t *testing.T) {
	t.Parallel()
	shutdown := errors.New("shutting down")
	type setup struct {
		end func() // ends the context early
	}
	tests := []struct {
		name      string
		d         time.Duration
		wait      bool // wait on Done (arms it) before it ends
		make      func(cancel func()) setup
		wantErr   error
		wantCause error
	}{
		{"deadline, never waited on", 30 * time.Millisecond, false, nil, context.DeadlineExceeded, server.ErrRequestTimeout},
		{"deadline, waited on", 30 * time.Millisecond, true, nil, context.DeadlineExceeded, server.ErrRequestTimeout},
		{"request ended", time.Hour, false, func(cancel func()) setup {
			return setup{end: cancel}
		}, context.Canceled, context.Canceled},
		{"request ended, waited on", time.Hour, true, func(cancel func()) setup {
			return setup{end: cancel}
		}, context.Canceled, context.Canceled},
		{"drain cancels the parent", time.Hour, false, nil, context.Canceled, shutdown},
		{"drain cancels the parent, waited on", time.Hour, true, nil, context.Canceled, shutdown},
		{"drain cancels base under another parent", 0, false, nil, context.Canceled, shutdown},
		{"drain cancels base under another parent, waited on", 0, true, nil, context.Canceled, shutdown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base, cancelBase := context.WithCancelCause(context.Background())
			defer cancelBase(nil)
			parent := context.WithValue(base, ctxKey{}, "span")
			var other context.Context
			if tt.d == 0 { // telemetry's context as the parent, base beside it
				other = context.WithValue(context.Background(), ctxKey{}, "span")
			}
			var ctx context.Context
			var cancel func()
			if other != nil {
				ctx, cancel = server.NewRequestContext(other, base, tt.d)
			} else {
				ctx, cancel = server.NewRequestContext(parent, nil, tt.d)
			}
			defer cancel()
			if ctx.Value(ctxKey{}) != "span" {
				t.Errorf("Value: %v, want the parent's", ctx.Value(ctxKey{}))
			}
			if dl, ok := ctx.Deadline(); ok != (tt.d > 0) || (ok && time.Until(dl) > tt.d) {
				t.Errorf("Deadline: %v %v", dl, ok)
			}
			if ctx.Err() != nil || context.Cause(ctx) != nil {
				t.Fatalf("a new context is over: %v", ctx.Err())
			}
			var child context.Context
			var after chan struct{}
			if tt.wait {
				var cancelChild context.CancelFunc
				child, cancelChild = context.WithCancel(ctx)
				defer cancelChild()
				after = make(chan struct{})
				context.AfterFunc(ctx, func() { close(after) })
			}
			switch {
			case tt.make != nil:
				tt.make(cancel).end()
			case tt.wantCause == shutdown:
				cancelBase(shutdown)
			}
			if tt.wait {
				select {
				case <-ctx.Done():
				case <-time.After(5 * time.Second):
					t.Fatal("Done never closed")
				}
				<-child.Done()
				<-after
				if !errors.Is(context.Cause(child), tt.wantCause) {
					t.Errorf("a derived context's cause: %v, want %v", context.Cause(child), tt.wantCause)
				}
			} else if tt.wantErr == context.DeadlineExceeded {
				time.Sleep(tt.d + 10*time.Millisecond)
			}
			if !errors.Is(ctx.Err(), tt.wantErr) {
				t.Errorf("Err: %v, want %v", ctx.Err(), tt.wantErr)
			}
			if !errors.Is(context.Cause(ctx), tt.wantCause) {
				t.Errorf("Cause: %v, want %v", context.Cause(ctx), tt.wantCause)
			}
			select {
			case <-ctx.Done():
			default:
				t.Error("Err is set but Done is open")
			}
			if ctx.Value(ctxKey{}) != "span" {
				t.Errorf("Value once over: %v, want the parent's", ctx.Value(ctxKey{}))
			}
		})
	}
}

// TestRequestContextConcurrent: waiting, asking and ending from several
// goroutines at once (run with -race).
func TestRequestContextConcurrent(t *testing.T) {
	t.Parallel()
	for range 200 {
		ctx, cancel := server.NewRequestContext(context.Background(), nil, time.Millisecond)
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch i {
				case 0:
					<-ctx.Done()
				case 1:
					for ctx.Err() == nil {
						time.Sleep(100 * time.Microsecond)
					}
				case 2:
					_ = context.Cause(ctx)
					cancel()
				case 3:
					c, stop := context.WithCancel(ctx)
					<-c.Done()
					stop()
				}
			}()
		}
		wg.Wait()
		if ctx.Err() == nil {
			t.Fatal("not over")
		}
	}
}
