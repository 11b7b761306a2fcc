package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"rmref/campaign"
	"rmref/internal/apperr"
	"rmref/internal/poster"
)

// Sample staff member drawn on poster previews.
const (
	previewStaffName = "张晓明"
	previewCode      = "7K3M9Q2X"
)

// maxTemplateBody bounds a poster template upload: the image and a layout.
const maxTemplateBody = poster.MaxImageBytes + 1<<20

// campaignHandlers serves campaigns and their poster templates.
type campaignHandlers struct {
	s         *Server
	svc       *campaign.Service
	posters   *poster.Renderer
	posterErr error
}

func (s *Server) registerCampaignRoutes(v1 *gin.RouterGroup) {
	h := campaignHandlers{s: s, svc: campaign.NewService(s.DB, s.Clock, s.Config.LandingHosts)}
	h.posters, h.posterErr = poster.New(s.Config.FontFile)
	if h.posterErr != nil {
		if s.Config.FontFile != "" {
			s.setupErr(fmt.Errorf("RMREF_FONT_FILE: %w", h.posterErr))
		}
		s.Logger.Warn("posters cannot be rendered", "err", h.posterErr)
	}
	g := v1.Group("/campaigns", s.requireStaff())
	g.GET("", h.list)
	g.POST("", h.create)
	g.GET("/:id", h.get)
	g.PATCH("/:id", h.update)
	g.POST("/:id/activate", h.transition(campaign.StatusActive))
	g.POST("/:id/pause", h.transition(campaign.StatusPaused))
	g.POST("/:id/end", h.transition(campaign.StatusEnded))
	raiseBodyLimit(http.MethodPut, g.BasePath()+"/:id/poster-template")
	g.PUT("/:id/poster-template", withBodyLimit(maxTemplateBody), h.putTemplate)
	g.GET("/:id/poster-template", h.getTemplate)
	g.GET("/:id/poster-preview.png", h.preview)
}

// campaignJSON is a campaign as the API shows it, with its status now.
type campaignJSON struct {
	campaign.Campaign
	UnitIDs  []string   `json:"unit_ids"`
	Live     bool       `json:"live"`
	FreezeAt *time.Time `json:"freeze_at"`
	Frozen   bool       `json:"frozen"`
	EndedAt  *time.Time `json:"ended_at"`
}

func campaignOut(c campaign.Campaign, now time.Time) campaignJSON {
	out := campaignJSON{Campaign: c, Frozen: c.FrozenAt(now), UnitIDs: []string{}}
	out.Status = c.CurrentStatus(now)
	out.Live = out.Status == campaign.StatusActive && c.Covers(now)
	for _, id := range c.UnitIDs() {
		out.UnitIDs = append(out.UnitIDs, strconv.FormatInt(id, 10))
	}
	if !c.FreezeAt.IsZero() {
		out.FreezeAt = &c.FreezeAt
	}
	if !c.EndedAt.IsZero() {
		out.EndedAt = &c.EndedAt
	}
	return out
}

func (h campaignHandlers) list(c *gin.Context) {
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
	f := campaign.Filter{Before: before, Limit: limit}
	if v := c.Query("status"); v != "" {
		st := campaign.Status(v)
		if st != campaign.StatusDraft && st != campaign.StatusActive && st != campaign.StatusPaused && st != campaign.StatusEnded {
			h.s.fail(c, apperr.Field("status", "must be one of draft, active, paused, ended"))
			return
		}
		f.Status = &st
	}
	cs, next, total, err := h.svc.List(c.Request.Context(), principal(c), f)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	now := h.s.Clock.Now()
	items := make([]campaignJSON, len(cs))
	for i, x := range cs {
		items[i] = campaignOut(x, now)
	}
	nextCur := ""
	if next > 0 {
		nextCur = EncodeCursor(strconv.FormatInt(next, 10))
	}
	ok(c, http.StatusOK, NewPage(items, nextCur, total))
}

func (h campaignHandlers) get(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	x, err := h.svc.Get(c.Request.Context(), principal(c), id)
	h.answer(c, http.StatusOK, x, err)
}

func (h campaignHandlers) answer(c *gin.Context, status int, x campaign.Campaign, err error) {
	if err != nil {
		h.s.fail(c, err)
		return
	}
	ok(c, status, campaignOut(x, h.s.Clock.Now()))
}

func (h campaignHandlers) create(c *gin.Context) {
	if !campaign.CanWrite(principal(c)) {
		h.s.fail(c, apperr.Forbiddenf("only campaign managers and HQ admins create campaigns"))
		return
	}
	patch, err := readCampaignBody(c)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	x, err := h.svc.Create(c.Request.Context(), principal(c), patch)
	h.answer(c, http.StatusCreated, x, err)
}

func (h campaignHandlers) update(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	patch, err := readCampaignBody(c)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	x, err := h.svc.Update(c.Request.Context(), principal(c), id, patch)
	h.answer(c, http.StatusOK, x, err)
}

func (h campaignHandlers) transition(to campaign.Status) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := pathID(c, "id")
		if err != nil {
			h.s.fail(c, err)
			return
		}
		x, err := h.svc.Transition(c.Request.Context(), principal(c), id, to)
		h.answer(c, http.StatusOK, x, err)
	}
}

// campaignBody is the JSON of a create or update; absent fields are left
// as they are. Instants are strings so that a bad one names its field.
type campaignBody struct {
	Code            *string                    `json:"code"`
	Name            *string                    `json:"name"`
	Description     *string                    `json:"description"`
	StartAt         *string                    `json:"start_at"`
	EndAt           *string                    `json:"end_at"`
	Timezone        *string                    `json:"timezone"`
	LandingURL      *string                    `json:"landing_url"`
	UnitIDs         *[]json.RawMessage         `json:"unit_ids"`
	ConversionTypes *[]campaign.ConversionRule `json:"conversion_types"`
	Attribution     *struct {
		LookbackDays   *int            `json:"lookback_days"`
		Model          *campaign.Model `json:"model"`
		HalfLifeDays   *int            `json:"half_life_days"`
		ProtectionDays *int            `json:"protection_days"`
	} `json:"attribution"`
	HoldingDays *int            `json:"holding_days"`
	FreezeAt    json.RawMessage `json:"freeze_at"` // null clears it
}

func readCampaignBody(c *gin.Context) (campaign.Patch, error) {
	var b campaignBody
	if err := bindJSON(c, &b); err != nil {
		return campaign.Patch{}, err
	}
	var ec apperr.Collector
	p := campaign.Patch{Code: b.Code, Name: b.Name, Description: b.Description, Timezone: b.Timezone,
		LandingURL: b.LandingURL, Conversions: b.ConversionTypes, HoldingDays: b.HoldingDays}
	p.StartAt = instantField(&ec, "start_at", b.StartAt)
	p.EndAt = instantField(&ec, "end_at", b.EndAt)
	if a := b.Attribution; a != nil {
		p.LookbackDays, p.Model, p.HalfLifeDays, p.ProtectionDays = a.LookbackDays, a.Model, a.HalfLifeDays, a.ProtectionDays
	}
	if b.UnitIDs != nil {
		ids := make([]int64, len(*b.UnitIDs))
		for i, raw := range *b.UnitIDs {
			id, err := strconv.ParseInt(strings.Trim(string(raw), `"`), 10, 64)
			ec.Check(err != nil || id <= 0, fmt.Sprintf("unit_ids[%d]", i), "must be an org unit id")
			ids[i] = id
		}
		p.UnitIDs = &ids
	}
	p.FreezeAt = freezeField(&ec, b.FreezeAt)
	return p, ec.Err()
}

func instantField(ec *apperr.Collector, field string, v *string) *time.Time {
	if v == nil {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, *v)
	if err != nil {
		ec.Add(field, "must be an RFC 3339 instant with an offset")
		return nil
	}
	t = t.UTC()
	return &t
}

func freezeField(ec *apperr.Collector, raw json.RawMessage) *time.Time {
	if len(raw) == 0 {
		return nil
	}
	if string(raw) == "null" {
		return &time.Time{}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		ec.Add("freeze_at", "must be an RFC 3339 instant or null")
		return nil
	}
	return instantField(ec, "freeze_at", &s)
}

// templateJSON is a poster template as the API shows it (without the image).
type templateJSON struct {
	CampaignID string        `json:"campaign_id"`
	Default    bool          `json:"default"`
	ImageType  string        `json:"image_type,omitempty"`
	Width      int           `json:"width"`
	Height     int           `json:"height"`
	Layout     poster.Layout `json:"layout"`
	Version    string        `json:"version"`
	UpdatedAt  *time.Time    `json:"updated_at"`
}

func templateOut(t campaign.Template) templateJSON {
	out := templateJSON{CampaignID: strconv.FormatInt(t.CampaignID, 10), Default: t.IsDefault(), ImageType: t.ImageType,
		Width: t.Width, Height: t.Height, Layout: t.Layout, Version: t.Version}
	if !t.UpdatedAt.IsZero() {
		out.UpdatedAt = &t.UpdatedAt
	}
	return out
}

func (h campaignHandlers) getTemplate(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	_, t, err := h.svc.Template(c.Request.Context(), principal(c), id)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	ok(c, http.StatusOK, templateOut(t))
}

func (h campaignHandlers) putTemplate(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	up, err := readTemplateUpload(c)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	t, err := h.svc.SetTemplate(c.Request.Context(), principal(c), id, up)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	ok(c, http.StatusOK, templateOut(t))
}

// maxLayoutBytes bounds the layout part of a template upload.
const maxLayoutBytes = 64 << 10

// readTemplateUpload reads a multipart/form-data body with an "image" part
// (PNG or JPEG) and/or a "layout" part (JSON), streaming, without temp files.
func readTemplateUpload(c *gin.Context) (campaign.TemplateUpload, error) {
	var up campaign.TemplateUpload
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if mt != "multipart/form-data" {
		return up, apperr.Field("", "the body must be multipart/form-data with an image part and/or a layout part")
	}
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return up, apperr.Field("", "malformed multipart body")
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return up, nil
		}
		if err != nil {
			return up, uploadErr(err, apperr.Field("", "malformed multipart body"))
		}
		if err := readTemplatePart(part.FormName(), part, &up); err != nil {
			return up, err
		}
	}
}

func readTemplatePart(name string, r io.Reader, up *campaign.TemplateUpload) error {
	switch name {
	case "image":
		if up.Image != nil {
			return apperr.Field("image", "send one image")
		}
		b, err := io.ReadAll(io.LimitReader(r, poster.MaxImageBytes+1))
		if err != nil {
			return uploadErr(err, apperr.Field("image", "cannot be read"))
		}
		if len(b) > poster.MaxImageBytes {
			e := apperr.Field("image", fmt.Sprintf("must be at most %d bytes", poster.MaxImageBytes))
			e.Kind, e.Type = apperr.TooLarge, "image_too_large"
			return e
		}
		up.Image = b
	case "layout":
		if up.Layout != nil {
			return apperr.Field("layout", "send one layout")
		}
		l, err := decodeLayout(r)
		if err != nil {
			return err
		}
		up.Layout = &l
	default:
		_, _ = io.Copy(io.Discard, r)
	}
	return nil
}

func decodeLayout(r io.Reader) (poster.Layout, error) {
	var l poster.Layout
	b, err := io.ReadAll(io.LimitReader(r, maxLayoutBytes+1))
	if err != nil {
		return l, uploadErr(err, apperr.Field("layout", "cannot be read"))
	}
	if len(b) > maxLayoutBytes {
		return l, apperr.Field("layout", fmt.Sprintf("must be at most %d bytes", maxLayoutBytes))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		msg := err.Error()
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return l, apperr.Field("layout."+te.Field, "must be "+jsonKind(te.Type.Kind().String()))
		}
		return l, apperr.Field("layout", "must be a JSON layout object: "+strings.TrimPrefix(msg, "json: "))
	}
	return l, nil
}

// uploadErr keeps an oversized body as a 413, else returns def.
func uploadErr(err error, def error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return apperr.New(apperr.TooLarge, "body_too_large", fmt.Sprintf("body exceeds %d bytes", mbe.Limit))
	}
	return def
}

// previewETag names one rendering of a preview: the template version and
// everything else drawn.
func previewETag(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x1f")))
	return `"` + hex.EncodeToString(h[:12]) + `"`
}

// preview renders the campaign's poster for a sample staff member in the
// first participating unit; its QR code encodes a share link of the
// sample code.
func (h campaignHandlers) preview(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	x, t, err := h.svc.Template(c.Request.Context(), principal(c), id)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	if h.posterErr != nil {
		h.s.fail(c, h.posterErr)
		return
	}
	unit := ""
	if len(x.Units) > 0 {
		unit = x.Units[0].Name
	}
	url := strings.TrimSuffix(h.s.Config.BaseURL, "/") + "/s/" + previewCode + "/qr_poster"
	etag := previewETag(t.Version, x.Name, unit, url, h.posters.FontPath())
	c.Header("Cache-Control", "private, no-cache")
	c.Header("ETag", etag)
	if c.GetHeader("If-None-Match") == etag {
		c.Status(http.StatusNotModified)
		return
	}
	png, err := campaign.RenderPoster(h.posters, x, t, campaign.Poster{URL: url, StaffName: previewStaffName, UnitName: unit, Code: previewCode})
	if err != nil {
		h.s.fail(c, err)
		return
	}
	c.Data(http.StatusOK, "image/png", png)
}
