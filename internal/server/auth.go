package server

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"rmref/internal/audit"
	"rmref/internal/auth"
)

type authHandlers struct {
	s   *Server
	svc *auth.Service
}

func (s *Server) registerAuthRoutes(v1 *gin.RouterGroup) {
	h := authHandlers{s: s, svc: &auth.Service{DB: s.DB, Tokens: s.Tokens, Clock: s.Clock,
		RefreshTTL: s.Config.RefreshTTL, MasterKey: []byte(s.Config.HashKey)}}
	v1.POST("/auth/login", h.login)
	v1.POST("/auth/refresh", h.refresh)
	v1.POST("/auth/logout", h.logout)
	v1.POST("/auth/activate", h.activate)
	v1.GET("/me", s.requireStaff(), h.me)
	hq := s.requireRole(auth.RoleHQAdmin)
	v1.POST("/staff/:id/activation", s.requireStaff(), hq, h.issueActivation)
	v1.GET("/clients/whoami", s.requireClient(), h.whoami)
	v1.GET("/clients", s.requireStaff(), hq, h.listClients)
	v1.POST("/clients", s.requireStaff(), hq, h.createClient)
	v1.POST("/clients/:id/rotate", s.requireStaff(), hq, h.rotateClient)
	v1.POST("/clients/:id/revoke", s.requireStaff(), hq, h.revokeClient)
	v1.GET("/audit", s.requireStaff(), s.requireRole(auth.RoleHQAdmin, auth.RoleAuditor), h.listAudit)
}

type loginReq struct {
	EmployeeNo string `json:"employee_no"`
	Password   string `json:"password"`
}

func (h authHandlers) login(c *gin.Context) {
	var req loginReq
	if err := bindJSON(c, &req); err != nil {
		h.s.fail(c, err)
		return
	}
	sess, err := h.svc.Login(c.Request.Context(), req.EmployeeNo, req.Password)
	h.session(c, sess, err)
}

func (h authHandlers) session(c *gin.Context, sess auth.Session, err error) {
	if err != nil {
		h.s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	ok(c, http.StatusOK, sess)
}

type refreshReq struct {
	RefreshToken string `json:"refresh_token"`
}

type logoutReq struct {
	RefreshToken string `json:"refresh_token"`
	All          bool   `json:"all"` // end every session of the staff member
}

func (h authHandlers) refresh(c *gin.Context) {
	var req refreshReq
	if err := bindJSON(c, &req); err != nil {
		h.s.fail(c, err)
		return
	}
	sess, err := h.svc.Refresh(c.Request.Context(), req.RefreshToken)
	h.session(c, sess, err)
}

func (h authHandlers) logout(c *gin.Context) {
	var req logoutReq
	if err := bindJSON(c, &req); err != nil {
		h.s.fail(c, err)
		return
	}
	if err := h.svc.Logout(c.Request.Context(), req.RefreshToken, req.All); err != nil {
		h.s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type activateReq struct {
	EmployeeNo string `json:"employee_no"`
	Code       string `json:"code"`
	Password   string `json:"password"`
}

func (h authHandlers) activate(c *gin.Context) {
	var req activateReq
	if err := bindJSON(c, &req); err != nil {
		h.s.fail(c, err)
		return
	}
	if err := h.svc.Activate(c.Request.Context(), req.EmployeeNo, req.Code, req.Password); err != nil {
		h.s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h authHandlers) me(c *gin.Context) {
	m, err := auth.LoadMe(c.Request.Context(), h.s.DB, principal(c).StaffID)
	h.s.respond(c, http.StatusOK, m, err)
}

func (h authHandlers) issueActivation(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	a, err := h.svc.IssueActivation(c.Request.Context(), id, principal(c).Actor())
	if err != nil {
		h.s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	ok(c, http.StatusCreated, a)
}

func (h authHandlers) whoami(c *gin.Context) {
	p := principal(c)
	ok(c, http.StatusOK, gin.H{"key_id": p.ClientKey, "name": p.ClientName, "scopes": p.Scopes})
}

func (h authHandlers) listClients(c *gin.Context) {
	limit, cur, err := pageParams(c)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	after, err := IDCursor(cur)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	items, total, err := h.svc.ListClients(c.Request.Context(), after, limit)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	next := ""
	if len(items) > limit {
		items = items[:limit]
		next = EncodeCursor(strconv.FormatInt(items[limit-1].ID, 10))
	}
	ok(c, http.StatusOK, NewPage(items, next, total))
}

func (h authHandlers) createClient(c *gin.Context) {
	var req auth.NewClient
	if err := bindJSON(c, &req); err != nil {
		h.s.fail(c, err)
		return
	}
	cl, err := h.svc.CreateClient(c.Request.Context(), req, principal(c).Actor())
	if err != nil {
		h.s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	ok(c, http.StatusCreated, cl)
}

func (h authHandlers) rotateClient(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	cl, err := h.svc.RotateClient(c.Request.Context(), id, principal(c).Actor())
	if err != nil {
		h.s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	ok(c, http.StatusOK, cl)
}

func (h authHandlers) revokeClient(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	cl, err := h.svc.RevokeClient(c.Request.Context(), id, principal(c).Actor())
	h.s.respond(c, http.StatusOK, cl, err)
}

func (h authHandlers) listAudit(c *gin.Context) {
	limit, cur, err := pageParams(c)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	before, err := IDCursor(cur)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	f := audit.Filter{EntityType: c.Query("entity_type"), EntityID: c.Query("entity_id"), Actor: c.Query("actor"), AfterID: before, Limit: limit + 1}
	items, err := audit.List(c.Request.Context(), h.s.DB, f)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	next := ""
	if len(items) > limit {
		items = items[:limit]
		next = EncodeCursor(strconv.FormatInt(items[limit-1].ID, 10))
	}
	ok(c, http.StatusOK, NewPage(items, next, -1))
}
