package outage_test

import (
	"errors"
	"fmt"
	"testing"

	"manouche/core/outage"
)

// TestErrorSaysItIsAnOutage: a sentinel made with Error keeps its message,
// matches itself through wrapping, and says it is an outage to whoever asks
// through errors.As (api.IsUnavailable does).
func TestErrorSaysItIsAnOutage(t *testing.T) {
	var errDown error = outage.Error("sms: gateway unavailable")
	wrapped := fmt.Errorf("sending the code: %w", errDown)
	if errDown.Error() != "sms: gateway unavailable" {
		t.Errorf("message %q", errDown.Error())
	}
	if !errors.Is(wrapped, errDown) {
		t.Error("errors.Is does not find the sentinel through wrapping")
	}
	var marked interface{ Unavailable() bool }
	if !errors.As(wrapped, &marked) || !marked.Unavailable() {
		t.Error("the wrapped sentinel does not say it is an outage")
	}
	if errors.As(errors.New("plain"), &marked) {
		t.Error("a plain error says it is an outage")
	}
}
