package cache_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"manouche/core/cache"
)

// In process, a value replaced by Set or Delete never comes back when the
// TinyLFU store later evicts or promotes entries (it used to keep the old
// element of a key set twice, and bring it back).
func TestInProcessOverwriteNeverResurrects(t *testing.T) {
	t.Parallel()
	c := newCache(t, cache.Config{LocalSize: 200, Logger: quietLogger()})
	ctx := context.Background()
	churn := func(round int, check func()) {
		for i := range 20 {
			_ = c.Set(ctx, fmt.Sprint("other", round, "-", i), "x", time.Hour)
			check()
		}
	}
	for round := range 50 {
		for v := range 3 {
			if err := c.Set(ctx, "k", fmt.Sprint(round, "-", v), time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		want := fmt.Sprint(round, "-", 2)
		churn(round, func() {
			var s string
			if found, _ := c.Get(ctx, "k", &s); found && s != want {
				t.Fatalf("round %d: read %q after %q was set", round, s, want)
			}
		})
		// A revoked token stays revoked.
		if err := c.Set(ctx, "token", "valid", time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := c.Delete(ctx, "token"); err != nil {
			t.Fatal(err)
		}
		churn(round+1000, func() {
			var s string
			if found, _ := c.Get(ctx, "token", &s); found {
				t.Fatalf("round %d: a deleted key reads %q", round, s)
			}
		})
	}
}
