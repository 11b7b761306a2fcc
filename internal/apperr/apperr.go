// Package apperr defines the small set of error kinds that every domain
// package wraps, so that the HTTP layer can turn any error into one status
// code and one RFC 9457 problem document from a single table.
package apperr

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error for callers that must react to it (HTTP status,
// CLI exit message). It is deliberately small.
type Kind int

// The error kinds. Internal is the zero value so that an unclassified error
// is never mistaken for a client mistake.
const (
	Internal Kind = iota
	Invalid
	Unauthorized
	Forbidden
	NotFound
	Conflict
	TooLarge
	RateLimited
)

// String returns the kind's name as used in problem type URIs.
func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid"
	case Unauthorized:
		return "unauthorized"
	case Forbidden:
		return "forbidden"
	case NotFound:
		return "not_found"
	case Conflict:
		return "conflict"
	case TooLarge:
		return "too_large"
	case RateLimited:
		return "rate_limited"
	}
	return "internal"
}

// FieldError names one offending input by its JSON path.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is a classified error. Type is the problem slug (e.g. "future_time",
// "invalid_transition"); when empty the kind's name is used.
type Error struct {
	Kind       Kind
	Type       string
	Detail     string
	Fields     []FieldError
	RetryAfter time.Duration
	Err        error
}

// Error returns a human-readable message.
func (e *Error) Error() string {
	msg := e.Detail
	if msg == "" {
		msg = e.Kind.String()
	}
	for _, f := range e.Fields {
		msg += fmt.Sprintf("; %s: %s", f.Field, f.Message)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the wrapped cause.
func (e *Error) Unwrap() error { return e.Err }

// Slug returns the problem type slug.
func (e *Error) Slug() string {
	if e.Type != "" {
		return e.Type
	}
	return e.Kind.String()
}

// KindOf returns the kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// As returns the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// New returns an error of the given kind and slug.
func New(kind Kind, slug, detail string) *Error {
	return &Error{Kind: kind, Type: slug, Detail: detail}
}

// Field returns an Invalid error naming one field.
func Field(field, message string) *Error {
	return &Error{Kind: Invalid, Type: "invalid", Detail: "invalid input", Fields: []FieldError{{Field: field, Message: message}}}
}

// Fields returns an Invalid error naming several fields, or nil when fs is empty.
func Fields(fs []FieldError) error {
	if len(fs) == 0 {
		return nil
	}
	return &Error{Kind: Invalid, Type: "invalid", Detail: "invalid input", Fields: fs}
}

// NotFoundf returns a NotFound error.
func NotFoundf(format string, args ...any) *Error {
	return &Error{Kind: NotFound, Type: "not_found", Detail: fmt.Sprintf(format, args...)}
}

// Conflictf returns a Conflict error whose slug names the business rule.
func Conflictf(slug, format string, args ...any) *Error {
	return &Error{Kind: Conflict, Type: slug, Detail: fmt.Sprintf(format, args...)}
}

// Forbiddenf returns a Forbidden error.
func Forbiddenf(format string, args ...any) *Error {
	return &Error{Kind: Forbidden, Type: "forbidden", Detail: fmt.Sprintf(format, args...)}
}

// Unauthorizedf returns an Unauthorized error.
func Unauthorizedf(format string, args ...any) *Error {
	return &Error{Kind: Unauthorized, Type: "unauthorized", Detail: fmt.Sprintf(format, args...)}
}

// Collector gathers field errors during validation.
type Collector struct{ fs []FieldError }

// Add records one field error.
func (c *Collector) Add(field, message string) { c.fs = append(c.fs, FieldError{field, message}) }

// Check records a field error when bad is true.
func (c *Collector) Check(bad bool, field, message string) {
	if bad {
		c.Add(field, message)
	}
}

// Err returns the collected errors as one Invalid error, or nil.
func (c *Collector) Err() error { return Fields(c.fs) }
