package server

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"rmref/internal/apperr"
	"rmref/internal/audit"
	"rmref/internal/auth"
	"rmref/internal/db"
)

const (
	ctxRequestID = "rmref.request_id"
	ctxPrincipal = "rmref.principal"
)

func (s *Server) recoverer() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.fail(c, fmt.Errorf("panic: %v", r))
			}
		}()
		c.Next()
	}
}

func (s *Server) requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader("X-Request-Id")
		if id == "" || len(id) > 64 {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		c.Set(ctxRequestID, id)
		c.Header("X-Request-Id", id)
		c.Request = c.Request.WithContext(audit.WithRequestID(c.Request.Context(), id))
		c.Next()
	}
}

func (s *Server) accessLog() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		if c.Request.URL.Path == "/healthz" {
			return
		}
		s.Logger.LogAttrs(c.Request.Context(), levelOf(c.Writer.Status()), "http",
			slogStr("method", c.Request.Method), slogStr("route", c.FullPath()),
			slogInt("status", c.Writer.Status()), slogDur("dur", time.Since(start)),
			slogStr("request_id", c.GetString(ctxRequestID)), slogStr("actor", actorOf(c)))
	}
}

// bodyLimit caps every request body at MaxBodyBytes. A declared length
// over the cap is refused at once, except on routes that raise their own
// limit with withBodyLimit (which then checks it against theirs); the
// original body is kept so that withBodyLimit can re-wrap it.
func (s *Server) bodyLimit() gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > s.Config.MaxBodyBytes && !raisesBodyLimit(c) {
			s.fail(c, apperr.New(apperr.TooLarge, "body_too_large", fmt.Sprintf("body exceeds %d bytes", s.Config.MaxBodyBytes)))
			return
		}
		c.Set(ctxRawBody, c.Request.Body)
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.Config.MaxBodyBytes)
		c.Next()
	}
}

const ctxRawBody = "rmref.raw_body"

// bodyLimitRoutes holds the routes ("METHOD /full/path") whose handlers
// include withBodyLimit; registration fills it before serving starts.
var bodyLimitRoutes sync.Map

// raisesBodyLimit reports whether the matched route raises its body limit.
func raisesBodyLimit(c *gin.Context) bool {
	_, ok := bodyLimitRoutes.Load(c.Request.Method + " " + c.FullPath())
	return ok
}

// withBodyLimit raises the body limit for one route (e.g. image uploads)
// to n bytes. Register the route with raiseBodyLimit too, so that the
// global cap does not refuse its declared length first.
func withBodyLimit(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		body := c.Request.Body
		if raw, ok := c.Get(ctxRawBody); ok {
			body = raw.(io.ReadCloser)
		}
		if c.Request.ContentLength > n {
			c.Header("Content-Type", "application/problem+json")
			c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, problemOf(apperr.New(apperr.TooLarge, "body_too_large", fmt.Sprintf("body exceeds %d bytes", n))))
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, body, n)
		c.Next()
	}
}

// raiseBodyLimit marks method and path (gin syntax, as registered) as a
// route whose body limit withBodyLimit raises.
func raiseBodyLimit(method, path string) { bodyLimitRoutes.Store(method+" "+path, true) }

// requireStaff authenticates a staff member by "Authorization: Bearer <JWT>".
func (s *Server) requireStaff() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.GetHeader("Authorization")
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || tok == "" {
			s.fail(c, apperr.New(apperr.Unauthorized, "missing_token", "an access token is required"))
			return
		}
		id, claims, err := s.Tokens.Verify(strings.TrimSpace(tok))
		if err != nil {
			s.fail(c, err)
			return
		}
		p, err := auth.LoadStaffPrincipal(c.Request.Context(), s.DB, id, claims.Ver)
		if err != nil {
			s.fail(c, err)
			return
		}
		s.setPrincipal(c, p)
	}
}

// requireRole refuses (403) callers holding none of roles. Use after requireStaff.
func (s *Server) requireRole(roles ...auth.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !principal(c).HasAny(roles...) {
			s.fail(c, apperr.Forbiddenf("requires one of the roles %v", roles))
			return
		}
		c.Next()
	}
}

// requireClient authenticates a service client by its HMAC signature
// (API.md): key id, timestamp within 300 s, signature over method, path
// with query, timestamp and body hash, and no replay within the window.
func (s *Server) requireClient() gin.HandlerFunc {
	return func(c *gin.Context) {
		p, err := s.verifyClient(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		s.setPrincipal(c, p)
	}
}

func (s *Server) verifyClient(c *gin.Context) (auth.Principal, error) {
	key, tsRaw, sig := c.GetHeader(auth.HeaderKey), c.GetHeader(auth.HeaderTimestamp), strings.ToLower(c.GetHeader(auth.HeaderSignature))
	if key == "" || tsRaw == "" || sig == "" {
		return auth.Principal{}, apperr.New(apperr.Unauthorized, "missing_signature", "X-Rmref-Key, X-Rmref-Timestamp and X-Rmref-Signature are required")
	}
	ts, err := strconv.ParseInt(tsRaw, 10, 64)
	now := s.Clock.Now()
	if err != nil || math.Abs(float64(now.Unix()-ts)) > auth.SignatureWindow.Seconds() {
		return auth.Principal{}, apperr.New(apperr.Unauthorized, "stale_signature", "timestamp is more than 300 s from the server clock")
	}
	ctx := c.Request.Context()
	cl, err := auth.LoadClient(ctx, s.DB, key)
	if err != nil {
		return auth.Principal{}, err
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return auth.Principal{}, apperr.New(apperr.TooLarge, "body_too_large", "body too large")
		}
		return auth.Principal{}, apperr.New(apperr.Invalid, "bad_body", "cannot read body")
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	want := auth.SignRequest(auth.ClientSecret([]byte(s.Config.HashKey), cl.KeyID, cl.Salt), c.Request.Method, c.Request.URL.RequestURI(), ts, body)
	if !auth.ValidSignature(want, sig) {
		return auth.Principal{}, apperr.New(apperr.Unauthorized, "bad_signature", "signature does not match")
	}
	exp := now.Add(2 * auth.SignatureWindow)
	if err := auth.RememberSignature(ctx, s.DB, sig, key, db.Micros(exp)); err != nil {
		return auth.Principal{}, err
	}
	if now.UnixNano()%64 == 0 {
		_ = auth.ForgetExpiredSignatures(ctx, s.DB, db.Micros(now))
	}
	return auth.Principal{ClientKey: cl.KeyID, ClientName: cl.Name, Scopes: strings.Split(cl.Scopes, ",")}, nil
}

func (s *Server) setPrincipal(c *gin.Context, p auth.Principal) {
	c.Set(ctxPrincipal, p)
	c.Request = c.Request.WithContext(auth.WithPrincipal(c.Request.Context(), p))
	c.Next()
}

// principal returns the authenticated caller (zero Principal if none).
func principal(c *gin.Context) auth.Principal {
	p, _ := c.Get(ctxPrincipal)
	pp, _ := p.(auth.Principal)
	return pp
}

func actorOf(c *gin.Context) string {
	if p := principal(c); p.IsStaff() || p.IsClient() {
		return p.Actor()
	}
	return ""
}
