package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"rmref/internal/apperr"
)

var (
	errNoRoute  = apperr.New(apperr.NotFound, "not_found", "no such route")
	errNoMethod = &apperr.Error{Kind: apperr.Invalid, Type: "method_not_allowed", Detail: "method not allowed"}
)

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type     string              `json:"type"`
	Title    string              `json:"title"`
	Status   int                 `json:"status"`
	Detail   string              `json:"detail,omitempty"`
	Instance string              `json:"instance,omitempty"`
	Errors   []apperr.FieldError `json:"errors,omitempty"`
}

// statusOf is the one table from error kinds to HTTP status codes.
var statusOf = map[apperr.Kind]int{
	apperr.Invalid:      http.StatusBadRequest,
	apperr.Unauthorized: http.StatusUnauthorized,
	apperr.Forbidden:    http.StatusForbidden,
	apperr.NotFound:     http.StatusNotFound,
	apperr.Conflict:     http.StatusConflict,
	apperr.TooLarge:     http.StatusRequestEntityTooLarge,
	apperr.RateLimited:  http.StatusTooManyRequests,
	apperr.Internal:     http.StatusInternalServerError,
}

// fail writes err as problem+json and aborts the request. Internal errors
// are logged with the request id and shown without detail.
func (s *Server) fail(c *gin.Context, err error) {
	p := problemOf(err)
	if p.Status == http.StatusInternalServerError {
		if errors.Is(err, context.Canceled) {
			p.Status = 499
		}
		s.Logger.ErrorContext(c.Request.Context(), "request failed", "err", err, "request_id", c.GetString(ctxRequestID), "path", c.FullPath())
	}
	if e, ok := apperr.As(err); ok && e.RetryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(int(e.RetryAfter.Seconds()+0.999)))
	}
	p.Instance = c.Request.URL.Path
	c.Header("Content-Type", "application/problem+json")
	c.AbortWithStatusJSON(p.Status, p)
}

func problemOf(err error) Problem {
	e, ok := apperr.As(err)
	if !ok {
		return Problem{Type: "/problems/internal", Title: "internal error", Status: http.StatusInternalServerError, Detail: "an internal error occurred"}
	}
	status := statusOf[e.Kind]
	p := Problem{Type: "/problems/" + e.Slug(), Title: http.StatusText(status), Status: status, Detail: e.Detail, Errors: e.Fields}
	if e.Kind == apperr.Internal {
		p.Detail = "an internal error occurred"
	}
	return p
}
