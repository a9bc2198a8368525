package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/textproto"
	"strings"
	"time"

	"manouche/core/checks"
)

// stepError is a failed connection set-up, with the step that failed
// (connect, TLS, greeting, EHLO, STARTTLS, AUTH), for the probe's messages.
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string { return e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// Probe implements checks.Prober for `check --deploy`: it connects to the
// server, says EHLO, starts TLS as a delivery would (STARTTLS when offered,
// required with EMAIL_USE_TLS; implicit with EMAIL_USE_SSL), authenticates
// with the configured credentials, and says QUIT. It sends no mail.
func (s *SMTP) Probe(ctx context.Context) []checks.Issue {
	v := s.cfg.Vars
	if v.Host == "" {
		v = SMTPVars{Host: "EMAIL_HOST", Port: "EMAIL_PORT", User: "EMAIL_HOST_USER", Password: "EMAIL_HOST_PASSWORD"}
	}
	where := fmt.Sprintf("SMTP server %s (%s, %s)", s.addr, v.Host, v.Port)
	c, err := s.dial(ctx)
	if err != nil {
		return []checks.Issue{checks.Errorf("mail.E001", "%s: %s", where, s.explain(err, v))}
	}
	defer c.close()
	state, encrypted := c.client.TLSConnectionState()
	var did []string
	if encrypted {
		did = append(did, "TLS in use ("+tls.VersionName(state.Version)+")")
	} else {
		did = append(did, "TLS not in use")
	}
	if s.cfg.Username != "" {
		did = append(did, fmt.Sprintf("AUTH as %q accepted", s.cfg.Username))
	} else {
		did = append(did, "no AUTH ("+v.User+" is empty)")
	}
	_ = c.conn.SetDeadline(time.Now().Add(time.Second))
	if err := c.client.Quit(); err != nil {
		did = append(did, "QUIT: "+err.Error())
	}
	out := []checks.Issue{checks.Infof("mail.I001", "%s: %s; no mail sent.", where, strings.Join(did, ", "))}
	if !encrypted && !checks.IsLocal(s.cfg.Host) {
		out = append(out, checks.Warningf("mail.W002",
			"%s does not encrypt the connection (no STARTTLS offered): mail and the password cross the network in clear. Use the server's submission port (587, STARTTLS: EMAIL_USE_TLS=true) or 465 (EMAIL_USE_SSL=true).", where))
	}
	return out
}

// explain says which setting to look at for a failed connection set-up.
func (s *SMTP) explain(err error, v SMTPVars) string {
	var se *stepError
	step := ""
	if errors.As(err, &se) {
		step = se.step
	}
	var tp *textproto.Error
	isReply := errors.As(err, &tp)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no answer in time during %s (%v). Is the server up, and reachable from here (some hosts block outgoing port %d)? Check %s and %s.", stepOr(step), err, s.cfg.Port, v.Host, v.Port)
	case step == "connect":
		return fmt.Sprintf("cannot connect: %v. Check %s and %s.", unwrapAll(err), v.Host, v.Port)
	case step == "TLS":
		return fmt.Sprintf("TLS handshake failed: %v. With EMAIL_USE_SSL (or port 465) the server must speak TLS at once; for STARTTLS on 587 use EMAIL_USE_TLS instead.", unwrapAll(err))
	case step == "STARTTLS":
		return fmt.Sprintf("STARTTLS failed: %v. With EMAIL_USE_TLS the server must offer STARTTLS; check %s and %s.", unwrapAll(err), v.Host, v.Port)
	case step == "AUTH" && isReply:
		return fmt.Sprintf("the server refused the credentials (%d %s): check %s and %s.", tp.Code, tp.Msg, v.User, v.Password)
	case step == "AUTH" && strings.Contains(err.Error(), "unencrypted connection"):
		return fmt.Sprintf("the password would cross the network in clear: the server offers no STARTTLS on port %d. Use its submission port (587 with EMAIL_USE_TLS=true, or 465 with EMAIL_USE_SSL=true).", s.cfg.Port)
	case step == "AUTH":
		return fmt.Sprintf("AUTH failed: %v. Check %s and %s.", unwrapAll(err), v.User, v.Password)
	}
	return fmt.Sprintf("%s failed: %v. Check %s and %s.", stepOr(step), unwrapAll(err), v.Host, v.Port)
}

func stepOr(step string) string {
	if step == "" {
		return "the SMTP conversation"
	}
	return step
}

// unwrapAll returns the innermost error's message: the cause, without the
// "mail: smtp ADDR: step:" prefixes the probe's message already says.
func unwrapAll(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

var _ checks.Prober = (*SMTP)(nil)
