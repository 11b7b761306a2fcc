package server

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"rmref/internal/apperr"
)

// bindJSON decodes the request body into dst. Malformed JSON, a wrong type
// or trailing data is a 400 naming the field; an oversized body is a 413.
func bindJSON(c *gin.Context, dst any) error {
	dec := json.NewDecoder(c.Request.Body)
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return apperr.Field("", "trailing data after the JSON value")
	}
	if _, err := dec.Token(); err != nil && !errors.Is(err, io.EOF) {
		return jsonError(err)
	}
	return nil
}

func jsonError(err error) error {
	var mbe *http.MaxBytesError
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &mbe):
		return apperr.New(apperr.TooLarge, "body_too_large", fmt.Sprintf("body exceeds %d bytes", mbe.Limit))
	case errors.As(err, &te):
		return apperr.Field(te.Field, "must be "+jsonKind(te.Type.Kind().String()))
	case errors.As(err, &se):
		return apperr.Field("", fmt.Sprintf("malformed JSON at byte %d", se.Offset))
	case errors.Is(err, io.EOF):
		return apperr.Field("", "a JSON body is required")
	}
	var fe *apperr.Error
	if errors.As(err, &fe) {
		return fe
	}
	return apperr.Field("", "malformed JSON: "+err.Error())
}

func jsonKind(k string) string {
	switch k {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return "of the right type"
}

// Page is the answer of every list route (API.md).
type Page[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
	Total      *int64  `json:"total,omitempty"`
}

// NewPage returns a page; next is "" on the last page; total < 0 omits it.
func NewPage[T any](items []T, next string, total int64) Page[T] {
	if items == nil {
		items = []T{}
	}
	p := Page[T]{Items: items}
	if next != "" {
		p.NextCursor = &next
	}
	if total >= 0 {
		p.Total = &total
	}
	return p
}

// pageParams reads limit (default 50, 1..500) and the opaque cursor.
func pageParams(c *gin.Context) (limit int, cursor string, err error) {
	limit = 50
	if v := c.Query("limit"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 1 || n > 500 {
			return 0, "", apperr.Field("limit", "must be an integer from 1 to 500")
		}
		limit = n
	}
	return limit, c.Query("cursor"), nil
}

// EncodeCursor makes an opaque cursor from key parts.
func EncodeCursor(parts ...string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(parts, "\x1f")))
}

// DecodeCursor reverses EncodeCursor; n is the expected number of parts.
func DecodeCursor(cur string, n int) ([]string, error) {
	b, err := base64.RawURLEncoding.DecodeString(cur)
	parts := strings.Split(string(b), "\x1f")
	if err != nil || len(parts) != n {
		return nil, apperr.Field("cursor", "invalid cursor")
	}
	return parts, nil
}

// IDCursor decodes a cursor holding one int64 id ("" gives 0).
func IDCursor(cur string) (int64, error) {
	if cur == "" {
		return 0, nil
	}
	p, err := DecodeCursor(cur, 1)
	if err != nil {
		return 0, err
	}
	id, perr := strconv.ParseInt(p[0], 10, 64)
	if perr != nil {
		return 0, apperr.Field("cursor", "invalid cursor")
	}
	return id, nil
}

// pathID parses a numeric path parameter; a malformed id is a 404 (it
// names nothing that exists).
func pathID(c *gin.Context, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.NotFoundf("no such %s", name)
	}
	return id, nil
}

// ParseAt reads an `at=` value (API.md): a YYYY-MM-DD date means the end of
// that day in loc (just before 00:00 of the next day); an RFC 3339 instant
// is taken as is. Empty gives def.
func ParseAt(v string, loc *time.Location, def time.Time) (time.Time, error) {
	if v == "" {
		return def, nil
	}
	if d, err := time.ParseInLocation("2006-01-02", v, loc); err == nil {
		return d.AddDate(0, 0, 1).Add(-time.Microsecond).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, apperr.Field("at", "must be YYYY-MM-DD or an RFC 3339 instant")
	}
	return t.UTC(), nil
}

// ok writes a JSON answer.
func ok(c *gin.Context, status int, v any) { c.JSON(status, v) }

// respond ends a handler: err as problem+json, else v as JSON with status.
func (s *Server) respond(c *gin.Context, status int, v any, err error) {
	if err != nil {
		s.fail(c, err)
		return
	}
	ok(c, status, v)
}
