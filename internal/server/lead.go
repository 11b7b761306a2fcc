package server

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"rmref/customer"
	"rmref/internal/apperr"
	"rmref/internal/auth"
	"rmref/leads"
)

// Service-client scopes of the lead routes.
const (
	scopeCustomersWrite = "customers:write"
	scopeEventsWrite    = "events:write"
	scopeLeadsClaim     = "leads:claim"
)

// leadWorkerInterval is how often the lead worker looks for due work.
const leadWorkerInterval = 5 * time.Second

// leadHandlers serves CRM attributes, behaviour events, lead rules,
// calendars and settings, remote claims and branch work on leads.
type leadHandlers struct {
	s   *Server
	svc *leads.Service
}

func (s *Server) registerLeadRoutes(v1 *gin.RouterGroup) {
	h := leadHandlers{s: s, svc: leads.NewService(s.DB, s.Clock)}
	// The same attribution service as the conversion routes, with the
	// incentives listener: a re-attribution caused by a lead contact
	// reconciles staff earnings in its transaction too.
	att := s.newAttribution()
	leads.Bank{Customers: att.Customers, Attribution: att}.Hook(h.svc)
	up := v1.Group("", s.requireClient())
	up.POST("/customers/attributes", requireScope(s, scopeCustomersWrite), h.attributes)
	up.POST("/events/batch", requireScope(s, scopeEventsWrite), h.events)
	up.POST("/leads/claim", requireScope(s, scopeLeadsClaim), h.claim)
	up.POST("/leads/:id/lease", requireScope(s, scopeLeadsClaim), h.renew)
	up.POST("/leads/:id/events", requireScope(s, scopeLeadsClaim), h.remoteReport)
	st := v1.Group("", s.requireStaff())
	st.GET("/me/leads", h.list(true))
	st.GET("/leads", h.list(false))
	st.GET("/leads/report", s.requireRole(auth.RoleManager, auth.RoleHQAdmin, auth.RoleAuditor), h.report)
	st.GET("/leads/:id", h.get)
	st.POST("/leads/:id/accept", h.accept)
	st.POST("/leads/:id/contact", h.staffReport(leads.ReportContact))
	st.POST("/leads/:id/outcome", h.staffReport(leads.ReportOutcome))
	st.POST("/leads/:id/reassign", s.requireRole(auth.RoleManager, auth.RoleHQAdmin), h.reassign)
	rules := []auth.Role{auth.RoleCampaignManager, auth.RoleHQAdmin}
	st.GET("/lead-rules", s.requireRole(append(rules, auth.RoleAuditor)...), h.listRules)
	st.POST("/lead-rules", s.requireRole(rules...), h.createRule)
	st.POST("/lead-rules/dry-run", s.requireRole(rules...), h.dryRun)
	st.GET("/lead-rules/:id", s.requireRole(append(rules, auth.RoleAuditor)...), h.getRule)
	st.PUT("/lead-rules/:id", s.requireRole(rules...), h.updateRule)
	st.GET("/lead-settings", s.requireRole(auth.RoleHQAdmin, auth.RoleAuditor, auth.RoleCampaignManager), h.getSettings)
	st.PUT("/lead-settings", s.requireRole(auth.RoleHQAdmin), h.putSettings)
	st.GET("/lead-calendars/:id", h.getCalendar)
	st.PUT("/lead-calendars/:id", s.requireRole(auth.RoleHQAdmin), h.putCalendar)
	st.PUT("/lead-capacity/:id", s.requireRole(auth.RoleManager, auth.RoleHQAdmin), h.putCapacity)
	w := leads.NewWorker(h.svc, leadWorkerInterval, s.Logger)
	w.Start()
	s.OnShutdown(w.Stop)
}

// requireScope refuses (403) a service client without scope.
func requireScope(s *Server, scope string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !slices.Contains(principal(c).Scopes, scope) {
			s.fail(c, apperr.Forbiddenf("the client lacks the scope %s", scope))
			return
		}
		c.Next()
	}
}

func (h leadHandlers) attributes(c *gin.Context) {
	var in struct {
		Items []customer.Attributes `json:"items"`
	}
	if err := bindJSON(c, &in); err != nil {
		h.s.fail(c, err)
		return
	}
	n, err := customer.SaveAttributes(c.Request.Context(), h.s.DB, principal(c).Actor(), in.Items, h.s.Clock.Now())
	if err != nil {
		h.s.fail(c, err)
		return
	}
	ok(c, http.StatusOK, gin.H{"received": len(in.Items), "changed": n})
}

func (h leadHandlers) events(c *gin.Context) {
	var in struct {
		Events []leads.EventIn `json:"events"`
	}
	if err := bindJSON(c, &in); err != nil {
		h.s.fail(c, err)
		return
	}
	res, err := h.svc.Ingest(c.Request.Context(), principal(c).Actor(), in.Events)
	h.s.respond(c, http.StatusOK, res, err)
}

func (h leadHandlers) claim(c *gin.Context) {
	limit := 10
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			h.s.fail(c, apperr.Field("limit", "must be an integer from 1 to 100"))
			return
		}
		limit = n
	}
	ls, err := h.svc.Claim(c.Request.Context(), principal(c).ClientKey, c.Query("channel"), limit)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	ok(c, http.StatusOK, NewPage(ls, "", -1))
}

func (h leadHandlers) renew(c *gin.Context) {
	id, err := pathID(c, "id")
	if err == nil {
		var l leads.Lead
		if l, err = h.svc.RenewLease(c.Request.Context(), principal(c).ClientKey, id); err == nil {
			ok(c, http.StatusOK, l)
			return
		}
	}
	h.s.fail(c, err)
}

func (h leadHandlers) remoteReport(c *gin.Context) {
	id, err := pathID(c, "id")
	var r leads.Report
	if err == nil {
		err = bindJSON(c, &r)
	}
	if err != nil {
		h.s.fail(c, err)
		return
	}
	l, err := h.svc.RemoteReport(c.Request.Context(), principal(c).ClientKey, id, r)
	h.s.respond(c, http.StatusOK, l, err)
}

func (h leadHandlers) list(mine bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		limit, cur, err := pageParams(c)
		after, cerr := IDCursor(cur)
		if err = firstErr(err, cerr); err != nil {
			h.s.fail(c, err)
			return
		}
		f := leads.ListFilter{Mine: mine, Status: c.Query("status"), Channel: c.Query("channel"), AfterID: after, Limit: limit}
		ls, err := h.svc.List(c.Request.Context(), principal(c), f)
		if err != nil {
			h.s.fail(c, err)
			return
		}
		next := ""
		if len(ls) == limit {
			next = EncodeCursor(strconv.FormatInt(ls[len(ls)-1].ID, 10))
		}
		ok(c, http.StatusOK, NewPage(ls, next, -1))
	}
}

func (h leadHandlers) report(c *gin.Context) {
	now := h.s.Clock.Now()
	loc := h.s.Config.Location()
	from, err := ParseAt(c.Query("from"), loc, now.AddDate(0, 0, -30))
	if err != nil {
		h.s.fail(c, apperr.Field("from", "must be YYYY-MM-DD or an RFC 3339 instant"))
		return
	}
	if v := c.Query("from"); len(v) == 10 {
		from = from.Add(time.Microsecond).AddDate(0, 0, -1) // a date starts at its 00:00
	}
	to, err := ParseAt(c.Query("to"), loc, now)
	if err != nil {
		h.s.fail(c, apperr.Field("to", "must be YYYY-MM-DD or an RFC 3339 instant"))
		return
	}
	r, err := h.svc.Report(c.Request.Context(), principal(c), from, to)
	h.s.respond(c, http.StatusOK, r, err)
}

func (h leadHandlers) get(c *gin.Context) {
	id, err := pathID(c, "id")
	if err == nil {
		var d leads.Detail
		if d, err = h.svc.Get(c.Request.Context(), principal(c), id); err == nil {
			ok(c, http.StatusOK, d)
			return
		}
	}
	h.s.fail(c, err)
}

func (h leadHandlers) accept(c *gin.Context) {
	id, err := pathID(c, "id")
	if err == nil {
		var l leads.Lead
		if l, err = h.svc.Accept(c.Request.Context(), principal(c), id); err == nil {
			ok(c, http.StatusOK, l)
			return
		}
	}
	h.s.fail(c, err)
}

func (h leadHandlers) staffReport(kind string) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := pathID(c, "id")
		var r leads.Report
		if err == nil {
			err = bindJSON(c, &r)
		}
		if err != nil {
			h.s.fail(c, err)
			return
		}
		r.Type = kind
		l, err := h.svc.StaffReport(c.Request.Context(), principal(c), id, r)
		if err != nil {
			h.s.fail(c, err)
			return
		}
		ok(c, http.StatusOK, l)
	}
}

func (h leadHandlers) reassign(c *gin.Context) {
	id, err := pathID(c, "id")
	var in struct {
		StaffID int64 `json:"staff_id,string"`
	}
	if err == nil {
		err = bindJSON(c, &in)
	}
	if err != nil {
		h.s.fail(c, err)
		return
	}
	l, err := h.svc.Reassign(c.Request.Context(), principal(c), id, in.StaffID)
	h.s.respond(c, http.StatusOK, l, err)
}

func (h leadHandlers) listRules(c *gin.Context) {
	rs, err := h.svc.Rules(c.Request.Context())
	if err != nil {
		h.s.fail(c, err)
		return
	}
	ok(c, http.StatusOK, NewPage(rs, "", int64(len(rs))))
}

func (h leadHandlers) createRule(c *gin.Context) {
	var in leads.RuleInput
	if err := bindJSON(c, &in); err != nil {
		h.s.fail(c, err)
		return
	}
	r, err := h.svc.CreateRule(c.Request.Context(), principal(c).Actor(), in)
	h.s.respond(c, http.StatusCreated, r, err)
}

func (h leadHandlers) getRule(c *gin.Context) {
	id, err := pathID(c, "id")
	if err == nil {
		var r leads.Rule
		if r, err = h.svc.Rule(c.Request.Context(), id); err == nil {
			ok(c, http.StatusOK, r)
			return
		}
	}
	h.s.fail(c, err)
}

func (h leadHandlers) updateRule(c *gin.Context) {
	id, err := pathID(c, "id")
	var in leads.RuleInput
	if err == nil {
		err = bindJSON(c, &in)
	}
	if err != nil {
		h.s.fail(c, err)
		return
	}
	r, err := h.svc.UpdateRule(c.Request.Context(), principal(c).Actor(), id, in)
	h.s.respond(c, http.StatusOK, r, err)
}

func (h leadHandlers) dryRun(c *gin.Context) {
	var in struct {
		Definition leads.Definition `json:"definition"`
		Days       int              `json:"days"`
	}
	if err := bindJSON(c, &in); err != nil {
		h.s.fail(c, err)
		return
	}
	r, err := h.svc.DryRun(c.Request.Context(), in.Definition, in.Days)
	h.s.respond(c, http.StatusOK, r, err)
}

func (h leadHandlers) getSettings(c *gin.Context) {
	set, err := h.svc.Settings(c.Request.Context())
	h.s.respond(c, http.StatusOK, set, err)
}

func (h leadHandlers) putSettings(c *gin.Context) {
	var in leads.Settings
	if err := bindJSON(c, &in); err != nil {
		h.s.fail(c, err)
		return
	}
	set, err := h.svc.UpdateSettings(c.Request.Context(), principal(c).Actor(), in)
	h.s.respond(c, http.StatusOK, set, err)
}

func (h leadHandlers) getCalendar(c *gin.Context) {
	id, err := pathID(c, "id")
	if err == nil {
		var cal leads.Calendar
		if cal, err = h.svc.Calendar(c.Request.Context(), id); err == nil {
			ok(c, http.StatusOK, cal)
			return
		}
	}
	h.s.fail(c, err)
}

func (h leadHandlers) putCalendar(c *gin.Context) {
	id, err := pathID(c, "id")
	var in leads.Calendar
	if err == nil {
		err = bindJSON(c, &in)
	}
	if err != nil {
		h.s.fail(c, err)
		return
	}
	in.UnitID, in.Inherited = id, false
	cal, err := h.svc.SetCalendar(c.Request.Context(), principal(c).Actor(), in)
	h.s.respond(c, http.StatusOK, cal, err)
}

func (h leadHandlers) putCapacity(c *gin.Context) {
	id, err := pathID(c, "id")
	var in struct {
		Capacity int `json:"capacity"`
	}
	if err == nil {
		err = bindJSON(c, &in)
	}
	if err == nil {
		err = h.svc.SetCapacity(c.Request.Context(), principal(c), id, in.Capacity)
	}
	if err != nil {
		h.s.fail(c, err)
		return
	}
	ok(c, http.StatusOK, gin.H{"staff_id": strconv.FormatInt(id, 10), "capacity": in.Capacity})
}
