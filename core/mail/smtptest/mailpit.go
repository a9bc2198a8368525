package smtptest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// MailpitMessage is a message as mailpit's HTTP API returns it
// (GET /api/v1/message/{ID}).
type MailpitMessage struct {
	ID          string
	From        MailpitAddress
	To          []MailpitAddress
	Cc          []MailpitAddress
	Bcc         []MailpitAddress
	ReplyTo     []MailpitAddress
	Subject     string
	Text        string
	HTML        string
	Attachments []struct {
		PartID      string
		FileName    string
		ContentType string
		Size        int
	}
}

// MailpitAddress is a name and an address in a MailpitMessage.
type MailpitAddress struct{ Name, Address string }

// MailpitGet decodes the JSON answer of GET base+path into v, failing t on
// any error. base is mailpit's HTTP API (TEST_MAILPIT_URL).
func MailpitGet(t testing.TB, base, path string, v any) {
	t.Helper()
	u := base + path
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s %s", u, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

// MailpitSearch returns the IDs of the messages whose subject is exactly subject.
func MailpitSearch(t testing.TB, base, subject string) []string {
	t.Helper()
	var list struct {
		Messages []struct{ ID, Subject string }
	}
	MailpitGet(t, base, "/api/v1/search?query="+url.QueryEscape(`subject:"`+subject+`"`), &list)
	var ids []string
	for _, m := range list.Messages {
		if m.Subject == subject {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// MailpitWait waits up to timeout for a message with that exact subject to
// reach mailpit and returns it; tests share one mailpit, so subjects are made
// unique per test.
func MailpitWait(t testing.TB, base, subject string, timeout time.Duration) MailpitMessage {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if ids := MailpitSearch(t, base, subject); len(ids) > 0 {
			var full MailpitMessage
			MailpitGet(t, base, "/api/v1/message/"+ids[0], &full)
			return full
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit has no message with subject %q after %s", subject, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
