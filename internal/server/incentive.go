package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"rmref/internal/apperr"
	"rmref/internal/auth"
	"rmref/rewards"
)

// incentiveHandlers serves staff incentives: plans (maker-checker),
// earnings views and settlement batches.
type incentiveHandlers struct {
	s   *Server
	svc *rewards.Incentives
}

func (s *Server) registerIncentiveRoutes(v1 *gin.RouterGroup) {
	h := incentiveHandlers{s: s, svc: rewards.NewIncentives(s.DB, s.Clock)}
	g := v1.Group("", s.requireStaff())
	g.POST("/incentive-plans", h.proposePlan)
	g.GET("/incentive-plans", h.listPlans)
	g.GET("/incentive-plans/:id", h.getPlan)
	g.POST("/incentive-plans/:id/approve", h.decidePlan(h.svc.ApprovePlan))
	g.POST("/incentive-plans/:id/reject", h.decidePlan(h.svc.RejectPlan))
	g.GET("/incentive-summaries/:id", h.campaignSummary)
	g.GET("/me/earnings", h.mySummaries)
	g.GET("/me/earnings/lines", h.myLines)
	g.GET("/staff/:id/earnings", h.staffSummaries)
	g.GET("/staff/:id/earnings/lines", h.staffLines)
	g.POST("/settlements", h.proposeBatch)
	g.GET("/settlements", h.listBatches)
	g.GET("/settlements/:id", h.getBatch)
	g.POST("/settlements/:id/approve", h.decideBatch(h.svc.ApproveSettlement))
	g.POST("/settlements/:id/reject", h.decideBatch(h.svc.RejectSettlement))
	g.GET("/settlements/:id/export", h.exportBatch)
}

func (h incentiveHandlers) proposePlan(c *gin.Context) {
	var in rewards.IncentivePlanInput
	if err := bindJSON(c, &in); err != nil {
		h.s.fail(c, err)
		return
	}
	p, err := h.svc.ProposePlan(c.Request.Context(), principal(c), in)
	h.s.respond(c, http.StatusCreated, p, err)
}

func (h incentiveHandlers) listPlans(c *gin.Context) {
	id, err := incQueryID(c, "campaign_id", true)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	ps, err := h.svc.Plans(c.Request.Context(), principal(c), id)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	ok(c, http.StatusOK, NewPage(ps, "", int64(len(ps))))
}

func (h incentiveHandlers) getPlan(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	p, err := h.svc.Plan(c.Request.Context(), principal(c), id)
	h.s.respond(c, http.StatusOK, p, err)
}

func (h incentiveHandlers) decidePlan(fn func(ctx context.Context, p auth.Principal, id int64) (rewards.IncentivePlan, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := pathID(c, "id")
		if err != nil {
			h.s.fail(c, err)
			return
		}
		p, err := fn(c.Request.Context(), principal(c), id)
		if err != nil {
			h.s.fail(c, err)
			return
		}
		ok(c, http.StatusOK, p)
	}
}

func (h incentiveHandlers) campaignSummary(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	at, err := h.at(c, id)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	sum, err := h.svc.CampaignSummary(c.Request.Context(), principal(c), id, at)
	h.s.respond(c, http.StatusOK, sum, err)
}

// at reads `at=`: a date is the end of that day in the campaign's zone
// (or the default zone without a campaign).
func (h incentiveHandlers) at(c *gin.Context, campaignID int64) (time.Time, error) {
	loc := h.s.Config.Location()
	if campaignID > 0 && c.Query("at") != "" {
		l, err := h.svc.CampaignLocation(c.Request.Context(), campaignID)
		if err != nil {
			return time.Time{}, err
		}
		loc = l
	}
	return ParseAt(c.Query("at"), loc, time.Time{})
}

func (h incentiveHandlers) mySummaries(c *gin.Context) { h.summaries(c, principal(c).StaffID) }

func (h incentiveHandlers) myLines(c *gin.Context) { h.lines(c, principal(c).StaffID) }

func (h incentiveHandlers) staffSummaries(c *gin.Context) {
	if id, err := pathID(c, "id"); err != nil {
		h.s.fail(c, err)
	} else {
		h.summaries(c, id)
	}
}

func (h incentiveHandlers) staffLines(c *gin.Context) {
	if id, err := pathID(c, "id"); err != nil {
		h.s.fail(c, err)
	} else {
		h.lines(c, id)
	}
}

func (h incentiveHandlers) summaries(c *gin.Context, staffID int64) {
	campaignID, err := incQueryID(c, "campaign_id", false)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	at, err := h.at(c, campaignID)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	sums, err := h.svc.Summaries(c.Request.Context(), principal(c), staffID, at)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	if campaignID > 0 {
		var one []rewards.EarningSummary
		for _, s := range sums {
			if s.CampaignID == campaignID {
				one = append(one, s)
			}
		}
		sums = one
	}
	ok(c, http.StatusOK, NewPage(sums, "", int64(len(sums))))
}

func (h incentiveHandlers) lines(c *gin.Context, staffID int64) {
	limit, cur, err := pageParams(c)
	before, cerr := IDCursor(cur)
	campaignID, qerr := incQueryID(c, "campaign_id", false)
	for _, e := range []error{err, cerr, qerr} {
		if e != nil {
			h.s.fail(c, e)
			return
		}
	}
	at, err := h.at(c, campaignID)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	ls, err := h.svc.Earnings(c.Request.Context(), principal(c), staffID, rewards.EarningFilter{CampaignID: campaignID, At: at, BeforeID: before, Limit: limit})
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

type batchRequest struct {
	CampaignID int64  `json:"campaign_id,string"`
	Period     string `json:"period"`
}

func (h incentiveHandlers) proposeBatch(c *gin.Context) {
	var in batchRequest
	if err := bindJSON(c, &in); err != nil {
		h.s.fail(c, err)
		return
	}
	if in.CampaignID <= 0 {
		h.s.fail(c, apperr.Field("campaign_id", "is required"))
		return
	}
	b, created, err := h.svc.ProposeSettlement(c.Request.Context(), principal(c), in.CampaignID, in.Period)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	ok(c, status, b)
}

func (h incentiveHandlers) listBatches(c *gin.Context) {
	id, err := incQueryID(c, "campaign_id", true)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	bs, err := h.svc.Batches(c.Request.Context(), principal(c), id)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	ok(c, http.StatusOK, NewPage(bs, "", int64(len(bs))))
}

func (h incentiveHandlers) getBatch(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	b, err := h.svc.Batch(c.Request.Context(), principal(c), id)
	h.s.respond(c, http.StatusOK, b, err)
}

func (h incentiveHandlers) decideBatch(fn func(ctx context.Context, p auth.Principal, id int64) (rewards.SettlementBatch, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := pathID(c, "id")
		if err != nil {
			h.s.fail(c, err)
			return
		}
		b, err := fn(c.Request.Context(), principal(c), id)
		if err != nil {
			h.s.fail(c, err)
			return
		}
		ok(c, http.StatusOK, b)
	}
}

// exportBatch streams a batch for payroll: CSV (UTF-8 with BOM) or JSON lines.
func (h incentiveHandlers) exportBatch(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	format := c.DefaultQuery("format", "csv")
	if format != "csv" && format != "jsonl" {
		h.s.fail(c, apperr.Field("format", "must be csv or jsonl"))
		return
	}
	b, err := h.svc.Batch(c.Request.Context(), principal(c), id)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	name := "settlement-" + strconv.FormatInt(b.CampaignID, 10) + "-" + b.Period + "-" + strconv.Itoa(b.Seq)
	write := h.svc.WriteBatchCSV
	c.Header("Content-Type", "text/csv; charset=utf-8")
	if format == "jsonl" {
		write = h.svc.WriteBatchJSONL
		c.Header("Content-Type", "application/x-ndjson; charset=utf-8")
	}
	c.Header("Content-Disposition", `attachment; filename="`+name+`.`+format+`"`)
	c.Status(http.StatusOK)
	if err := write(c.Request.Context(), principal(c), id, c.Writer); err != nil {
		h.s.Logger.ErrorContext(c.Request.Context(), "settlement export", "batch", id, "err", err)
	}
}

// incQueryID reads a numeric id from the query string.
func incQueryID(c *gin.Context, name string, required bool) (int64, error) {
	v := c.Query(name)
	if v == "" {
		if required {
			return 0, apperr.Field(name, "is required")
		}
		return 0, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.Field(name, "must be a positive integer id")
	}
	return id, nil
}
