package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"rmref/internal/apperr"
	"rmref/internal/auth"
	"rmref/org"
)

// orgHandlers serves the org tree, staff and the HR import.
type orgHandlers struct {
	s   *Server
	svc *org.Service
}

func (s *Server) registerOrgRoutes(v1 *gin.RouterGroup) {
	h := orgHandlers{s: s, svc: org.NewService(s.DB, s.Clock, s.PII, s.Config.Location())}
	g := v1.Group("", s.requireStaff())
	g.GET("/org/units", h.listUnits)
	g.POST("/org/units", h.createUnit)
	g.GET("/org/units/:id", h.getUnit)
	g.PATCH("/org/units/:id", h.updateUnit)
	g.POST("/org/units/:id/move", h.moveUnit)
	g.GET("/org/units/:id/history", h.unitHistory)
	g.GET("/org/units/:id/staff", h.unitStaff)
	g.POST("/org/import", h.importFile)
	g.GET("/staff", h.listStaff)
	g.POST("/staff", h.createStaff)
	g.GET("/staff/:id", h.getStaff)
	g.PATCH("/staff/:id", h.updateStaff)
	g.POST("/staff/:id/transfer", h.transfer)
	g.GET("/staff/:id/history", h.staffHistory)
	g.GET("/staff/:id/chain", h.staffChain)
}

func (h orgHandlers) listUnits(c *gin.Context) {
	limit, cur, err := pageParams(c)
	after, cerr := IDCursor(cur)
	if err = firstErr(err, cerr); err != nil {
		h.s.fail(c, err)
		return
	}
	f := org.UnitFilter{Kind: org.Kind(c.Query("kind")), Code: c.Query("code"), AfterID: after, Limit: limit}
	if v := c.Query("kind"); v != "" && !org.ValidKind(org.Kind(v)) {
		h.s.fail(c, apperr.Field("kind", "must be one of hq, region, branch, subbranch, team"))
		return
	}
	if f.ParentID, err = queryID(c, "parent_id"); err != nil {
		h.s.fail(c, err)
		return
	}
	units, total, err := h.svc.ListUnits(c.Request.Context(), principal(c), f)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	ok(c, http.StatusOK, NewPage(units, nextUnitCursor(units, limit), total))
}

func nextUnitCursor(us []org.Unit, limit int) string {
	if len(us) < limit {
		return ""
	}
	return EncodeCursor(strconv.FormatInt(us[len(us)-1].ID, 10))
}

func nextStaffCursor(ss []org.Staff, limit int) string {
	if len(ss) < limit {
		return ""
	}
	return EncodeCursor(strconv.FormatInt(ss[len(ss)-1].ID, 10))
}

// queryID reads an optional numeric id from the query string.
func queryID(c *gin.Context, name string) (int64, error) {
	v := c.Query(name)
	if v == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.Field(name, "must be an id")
	}
	return id, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func (h orgHandlers) createUnit(c *gin.Context) {
	var in org.NewUnit
	if err := bindJSON(c, &in); err != nil {
		h.s.fail(c, err)
		return
	}
	u, err := h.svc.CreateUnit(c.Request.Context(), principal(c), in)
	h.s.respond(c, http.StatusCreated, u, err)
}

func (h orgHandlers) getUnit(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	u, err := h.svc.GetUnit(c.Request.Context(), principal(c), id)
	h.s.respond(c, http.StatusOK, u, err)
}

func (h orgHandlers) updateUnit(c *gin.Context) {
	var in org.UnitUpdate
	id, err := pathID(c, "id")
	if err == nil {
		err = bindJSON(c, &in)
	}
	if err != nil {
		h.s.fail(c, err)
		return
	}
	u, err := h.svc.UpdateUnit(c.Request.Context(), principal(c), id, in)
	h.s.respond(c, http.StatusOK, u, err)
}

type moveBody struct {
	ParentID    int64      `json:"parent_id,string"`
	EffectiveAt *time.Time `json:"effective_at"`
}

func (h orgHandlers) moveUnit(c *gin.Context) {
	var in moveBody
	id, err := pathID(c, "id")
	if err == nil {
		err = bindJSON(c, &in)
	}
	if err == nil && in.ParentID <= 0 {
		err = apperr.Field("parent_id", "is required")
	}
	if err != nil {
		h.s.fail(c, err)
		return
	}
	u, err := h.svc.MoveUnit(c.Request.Context(), principal(c), id, in.ParentID, in.EffectiveAt)
	h.s.respond(c, http.StatusOK, u, err)
}

func (h orgHandlers) unitHistory(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	hist, err := h.svc.UnitHistory(c.Request.Context(), principal(c), id)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	ok(c, http.StatusOK, NewPage(hist, "", int64(len(hist))))
}

// staffFilter reads the common staff list parameters.
func (h orgHandlers) staffFilter(c *gin.Context) (org.StaffFilter, error) {
	limit, cur, err := pageParams(c)
	if err != nil {
		return org.StaffFilter{}, err
	}
	after, err := IDCursor(cur)
	if err != nil {
		return org.StaffFilter{}, err
	}
	f := org.StaffFilter{Status: org.Status(c.Query("status")), AfterID: after, Limit: limit}
	if f.Status != "" && f.Status != org.StatusActive && f.Status != org.StatusLeft {
		return f, apperr.Field("status", "must be active or left")
	}
	if v := c.Query("phone"); v != "" {
		if f.PhoneHash, err = h.svc.PhoneHash(v); err != nil {
			return f, err
		}
	}
	return f, nil
}

func recursiveParam(c *gin.Context) (bool, error) {
	switch c.Query("recursive") {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, apperr.Field("recursive", "must be true or false")
}

func (h orgHandlers) unitStaff(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	f, err := h.staffFilter(c)
	rec, rerr := recursiveParam(c)
	if err = firstErr(err, rerr); err != nil {
		h.s.fail(c, err)
		return
	}
	list, total, err := h.svc.UnitStaff(c.Request.Context(), principal(c), id, rec, f)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	ok(c, http.StatusOK, NewPage(list, nextStaffCursor(list, f.Limit), total))
}

func (h orgHandlers) listStaff(c *gin.Context) {
	f, err := h.staffFilter(c)
	rec, rerr := recursiveParam(c)
	unitID, uerr := queryID(c, "unit_id")
	if err = firstErr(err, rerr, uerr); err != nil {
		h.s.fail(c, err)
		return
	}
	ctx, p := c.Request.Context(), principal(c)
	var list []org.Staff
	var total int64
	if unitID > 0 {
		list, total, err = h.svc.UnitStaff(ctx, p, unitID, rec, f)
	} else {
		list, total, err = h.svc.ListStaff(ctx, p, f)
	}
	if err != nil {
		h.s.fail(c, err)
		return
	}
	ok(c, http.StatusOK, NewPage(list, nextStaffCursor(list, f.Limit), total))
}

func (h orgHandlers) createStaff(c *gin.Context) {
	var in org.NewStaff
	if err := bindJSON(c, &in); err != nil {
		h.s.fail(c, err)
		return
	}
	st, err := h.svc.CreateStaff(c.Request.Context(), principal(c), in)
	h.s.respond(c, http.StatusCreated, st, err)
}

func (h orgHandlers) getStaff(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	st, err := h.svc.GetStaff(c.Request.Context(), principal(c), id)
	h.s.respond(c, http.StatusOK, st, err)
}

func (h orgHandlers) updateStaff(c *gin.Context) {
	var in org.StaffUpdate
	id, err := pathID(c, "id")
	if err == nil {
		err = bindJSON(c, &in)
	}
	if err != nil {
		h.s.fail(c, err)
		return
	}
	st, err := h.svc.UpdateStaff(c.Request.Context(), principal(c), id, in)
	h.s.respond(c, http.StatusOK, st, err)
}

func (h orgHandlers) transfer(c *gin.Context) {
	var in org.Transfer
	id, err := pathID(c, "id")
	if err == nil {
		err = bindJSON(c, &in)
	}
	if err != nil {
		h.s.fail(c, err)
		return
	}
	st, err := h.svc.TransferStaff(c.Request.Context(), principal(c), id, in)
	h.s.respond(c, http.StatusOK, st, err)
}

func (h orgHandlers) staffHistory(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	hist, err := h.svc.StaffHistory(c.Request.Context(), principal(c), id)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	ok(c, http.StatusOK, NewPage(hist, "", int64(len(hist))))
}

func (h orgHandlers) staffChain(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	at, err := ParseAt(c.Query("at"), h.svc.Loc, h.s.Clock.Now())
	if err != nil {
		h.s.fail(c, err)
		return
	}
	ch, err := h.svc.ChainAt(c.Request.Context(), principal(c), id, at)
	h.s.respond(c, http.StatusOK, ch, err)
}

// importFile takes an HR CSV as a text/csv body or as the "file" part of
// a multipart form.
func (h orgHandlers) importFile(c *gin.Context) {
	kind := org.ImportKind(c.Query("kind"))
	dry, err := boolParam(c, "dry_run")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	if !principal(c).Has(auth.RoleHQAdmin) {
		h.s.fail(c, apperr.Forbiddenf("only hq_admin may import HR files"))
		return
	}
	body, err := csvBody(c)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	res, err := h.svc.Import(c.Request.Context(), principal(c), kind, bytes.NewReader(body), dry)
	h.s.respond(c, http.StatusOK, res, err)
}

func boolParam(c *gin.Context, name string) (bool, error) {
	switch c.Query(name) {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, apperr.Field(name, "must be true or false")
}

// csvBody reads the CSV from a text/csv body or the "file" part of a
// multipart form; an oversized body is a 413.
func csvBody(c *gin.Context) ([]byte, error) {
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	var r io.Reader
	switch mt {
	case "text/csv", "text/plain", "application/csv", "":
		r = c.Request.Body
	case "multipart/form-data":
		f, _, err := c.Request.FormFile("file")
		if err != nil {
			return nil, bodyErr(err, apperr.Field("file", "a multipart part named file is required"))
		}
		defer f.Close()
		r = f
	default:
		return nil, apperr.Field("", "the body must be text/csv or multipart/form-data with a file part")
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, bodyErr(err, fmt.Errorf("server: read csv: %w", err))
	}
	return b, nil
}

// bodyErr keeps an oversized body as a 413, else returns def.
func bodyErr(err error, def error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return apperr.New(apperr.TooLarge, "body_too_large", "body exceeds "+strconv.FormatInt(mbe.Limit, 10)+" bytes")
	}
	return def
}
