// Package outage marks the errors that mean a backing service (Redis, S3,
// ...) cannot be reached, rather than a bug: api.IsUnavailable answers an
// error that says so, however deep it is wrapped, 503 ServiceUnavailable
// instead of 500. core/cache's and core/storage's ErrUnavailable are such
// errors; a backend of its own declares its sentinel the same way:
//
//	var ErrDown error = outage.Error("sms: gateway unavailable")
package outage

// Error is a sentinel error that reports itself as an outage.
type Error string

func (e Error) Error() string { return string(e) }

// Unavailable reports that the error is an outage (api.IsUnavailable).
func (Error) Unavailable() bool { return true }
