// Package browser drives headless Chromium for the tests that need a real
// browser (the admin's pages). It is apart from testkit so that the tests that
// do not use a browser do not link chromedp.
package browser

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"manouche/core/testenv"
)

// New starts headless Chromium (TEST_CHROMIUM; the test is skipped
// without it, or fails in strict mode) with the flags a root, offline CI
// machine needs, and returns a chromedp context that lives until timeout or
// the end of the test.
func New(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	chromium := testenv.Lookup(t, testenv.Chromium)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1366, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() {
		cancelT()
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browser: start chromium: %v", err)
	}
	return ctx
}

// Dialogs accepts every JavaScript dialog (alert, confirm) the page opens in
// ctx and sends its message on the returned channel (the last few are kept).
func Dialogs(ctx context.Context) <-chan string {
	msgs := make(chan string, 4)
	go func() {
		for ev, err := range chromedp.Events(ctx, page.JavascriptDialogOpening) {
			if err != nil {
				return
			}
			select {
			case msgs <- ev.Message:
			default:
			}
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return msgs
}

// Into runs an action that returns a value and stores the value in dst, so it
// can stand among other steps of chromedp.Do.
func Into[T any](dst *T, a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		v, err := a(ctx, t)
		*dst = v
		return chromedp.Void{}, err
	}
}
