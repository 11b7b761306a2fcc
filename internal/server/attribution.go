package server

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"rmref/attribution"
	"rmref/internal/auth"
	"rmref/rewards"
)

// attributionHandlers serves conversions, touches, explanations,
// reversals, disputes, what-if runs and the reconciliation check.
type attributionHandlers struct {
	s   *Server
	svc *attribution.Service
}

// Scopes of the service clients that report to attribution.
const (
	scopeConversionsWrite = "conversions:write" // conversions and their reversals
	scopeTouchesWrite     = "touches:write"     // remote and offline touches
	scopeIdentitiesWrite  = "identities:write"  // identity links
)

// newAttribution builds the attribution service (stateless: the routes
// of customers and of attribution may each hold one).
func (s *Server) newAttribution() *attribution.Service {
	svc := attribution.NewBankService(s.DB, s.Clock, s.PII, []byte(s.Config.HashKey))
	svc.Listeners = []attribution.CreditListener{rewards.NewIncentives(s.DB, s.Clock)}
	return svc
}

func (s *Server) registerAttributionRoutes(v1 *gin.RouterGroup) {
	h := attributionHandlers{s: s, svc: s.newAttribution()}
	up := v1.Group("", s.requireClient())
	conv, touch := requireScope(s, scopeConversionsWrite), requireScope(s, scopeTouchesWrite)
	up.POST("/conversions", conv, h.record)
	up.POST("/conversions/batch", conv, h.recordBatch)
	up.POST("/conversions/:id/reversal", conv, h.reverse)
	up.POST("/touches", touch, h.touch)
	up.POST("/touches/batch", touch, h.touchBatch)
	st := v1.Group("", s.requireStaff())
	st.GET("/conversions/:id", h.get)
	st.GET("/conversions/:id/attribution", h.explain)
	st.POST("/conversions/:id/disputes", s.requireRole(auth.RoleManager, auth.RoleHQAdmin), h.propose)
	st.POST("/disputes/:id/approve", s.requireRole(auth.RoleHQAdmin), h.decide(true))
	st.POST("/disputes/:id/reject", s.requireRole(auth.RoleHQAdmin), h.decide(false))
	st.POST("/campaigns/:id/attribution/what-if", h.whatIf)
	st.POST("/campaigns/:id/attribution/reattribute", h.reattribute)
	st.GET("/attribution/check", s.requireRole(auth.RoleHQAdmin, auth.RoleAuditor), h.check)
}

func (h attributionHandlers) record(c *gin.Context) {
	var in attribution.ConversionInput
	if err := bindJSON(c, &in); err != nil {
		h.s.fail(c, err)
		return
	}
	v, created, err := h.svc.Record(c.Request.Context(), in, principal(c).Actor())
	if err != nil {
		h.s.fail(c, err)
		return
	}
	ok(c, createdStatus(created), v)
}

func createdStatus(created bool) int {
	if created {
		return http.StatusCreated
	}
	return http.StatusOK
}

// batchItem is one item's outcome in a batch answer.
type batchItem struct {
	Index  int      `json:"index"`
	Status int      `json:"status"`
	Item   any      `json:"item,omitempty"`
	Error  *Problem `json:"error,omitempty"`
}

func batchItems[T any](h attributionHandlers, c *gin.Context, rs []attribution.ItemResult[T]) []batchItem {
	out := make([]batchItem, len(rs))
	for i, r := range rs {
		out[i] = batchItem{Index: r.Index, Status: r.Status}
		if r.Err != nil {
			p := problemOf(r.Err)
			if p.Status == http.StatusInternalServerError {
				h.s.Logger.ErrorContext(c.Request.Context(), "batch item failed", "err", r.Err, "index", i)
			}
			out[i].Status, out[i].Error = p.Status, &p
			continue
		}
		out[i].Item = r.Item
	}
	return out
}

// decodeBatch reads {"items": [...]} and decodes each item on its own, so
// that an item of the wrong shape fails alone (a 400 for that item).
func decodeBatch[T any](c *gin.Context) ([]attribution.BatchItem[T], error) {
	var in struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := bindJSON(c, &in); err != nil {
		return nil, err
	}
	if err := attribution.CheckBatch(len(in.Items)); err != nil {
		return nil, err
	}
	out := make([]attribution.BatchItem[T], len(in.Items))
	for i, raw := range in.Items {
		if err := json.Unmarshal(raw, &out[i].In); err != nil {
			out[i].Err = jsonError(err)
		}
	}
	return out, nil
}

func (h attributionHandlers) recordBatch(c *gin.Context) {
	items, err := decodeBatch[attribution.ConversionInput](c)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	rs := h.svc.RecordBatch(c.Request.Context(), items, principal(c).Actor())
	ok(c, http.StatusOK, gin.H{"items": batchItems(h, c, rs)})
}

func (h attributionHandlers) touch(c *gin.Context) {
	var in attribution.TouchInput
	if err := bindJSON(c, &in); err != nil {
		h.s.fail(c, err)
		return
	}
	v, created, err := h.svc.RecordTouch(c.Request.Context(), in, principal(c).Actor())
	if err != nil {
		h.s.fail(c, err)
		return
	}
	ok(c, createdStatus(created), v)
}

func (h attributionHandlers) touchBatch(c *gin.Context) {
	items, err := decodeBatch[attribution.TouchInput](c)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	rs := h.svc.RecordTouchBatch(c.Request.Context(), items, principal(c).Actor())
	ok(c, http.StatusOK, gin.H{"items": batchItems(h, c, rs)})
}

func (h attributionHandlers) reverse(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	var in attribution.ReversalInput
	if err := bindJSON(c, &in); err != nil {
		h.s.fail(c, err)
		return
	}
	v, err := h.svc.Reverse(c.Request.Context(), id, in, principal(c).Actor())
	h.s.respond(c, http.StatusOK, v, err)
}

func (h attributionHandlers) get(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	v, err := h.svc.Conversion(c.Request.Context(), principal(c), id)
	h.s.respond(c, http.StatusOK, v, err)
}

func (h attributionHandlers) explain(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	v, err := h.svc.Explain(c.Request.Context(), principal(c), id)
	h.s.respond(c, http.StatusOK, v, err)
}

func (h attributionHandlers) propose(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	var in attribution.DisputeInput
	if err := bindJSON(c, &in); err != nil {
		h.s.fail(c, err)
		return
	}
	d, err := h.svc.Propose(c.Request.Context(), principal(c), id, in)
	h.s.respond(c, http.StatusCreated, d, err)
}

func (h attributionHandlers) decide(approve bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := pathID(c, "id")
		if err != nil {
			h.s.fail(c, err)
			return
		}
		var in struct {
			Note string `json:"note"`
		}
		if c.Request.ContentLength != 0 {
			if err := bindJSON(c, &in); err != nil {
				h.s.fail(c, err)
				return
			}
		}
		d, err := h.svc.Decide(c.Request.Context(), principal(c), id, approve, in.Note)
		if err != nil {
			h.s.fail(c, err)
			return
		}
		ok(c, http.StatusOK, d)
	}
}

func (h attributionHandlers) whatIf(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	var in attribution.Settings
	if err := bindJSON(c, &in); err != nil {
		h.s.fail(c, err)
		return
	}
	rep, err := h.svc.WhatIf(c.Request.Context(), principal(c), id, in)
	h.s.respond(c, http.StatusOK, rep, err)
}

func (h attributionHandlers) reattribute(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	n, err := h.svc.ReattributeCampaign(c.Request.Context(), principal(c), id)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	ok(c, http.StatusOK, gin.H{"campaign_id": c.Param("id"), "reattributed": n})
}

func (h attributionHandlers) check(c *gin.Context) {
	rep, err := attribution.Check(c.Request.Context(), h.s.DB)
	h.s.respond(c, http.StatusOK, rep, err)
}
