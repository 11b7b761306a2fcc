package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"
	qrcode "github.com/skip2/go-qrcode"

	"rmref/campaign"
	"rmref/internal/apperr"
	"rmref/internal/poster"
	"rmref/internal/ratelimit"
	"rmref/referral"
)

// Share-link and QR settings.
const (
	visitorCookie  = "rmref_vid"
	qrMinSize      = 128
	qrMaxSize      = 1024
	qrDefaultSize  = 512
	renderCacheMax = 2048 // rendered PNGs kept in memory
)

// referralHandlers serve codes, share links, QR codes, posters, shares,
// the staff kit and statistics.
type referralHandlers struct {
	s       *Server
	svc     *referral.Service
	lookups *ratelimit.Limiter
	renders *renderCache
	posters *poster.Renderer // nil when no CJK font is installed
}

// registerReferralRoutes registers the referral API under v1 and the
// public share links (/s/…) on the root router; the click writer is
// flushed at shutdown.
func (s *Server) registerReferralRoutes(v1 *gin.RouterGroup, root *gin.Engine) {
	h := &referralHandlers{s: s, lookups: ratelimit.New(s.Clock, 1, 20, 100_000), renders: newRenderCache(renderCacheMax)}
	h.svc = referral.NewService(s.DB, s.Clock, referral.CampaignStore{DB: s.DB}, referral.Config{
		HashKey: []byte(s.Config.HashKey), BankLandingURL: s.Config.BankLandingURL, Location: s.Config.Location(),
		Writer: referral.WriterOptions{BurstLimit: s.Config.ClickBurst},
	})
	s.OnShutdown(h.svc.Close)
	r, err := poster.New(s.Config.FontFile)
	if err != nil && s.Config.FontFile != "" {
		s.setupErr(err) // a configured font that does not load is a start-up error
	}
	h.posters = r
	for _, p := range []string{"/s/:code", "/s/:code/*channel"} {
		root.GET(p, h.click)
		root.HEAD(p, h.click)
	}
	v1.GET("/codes/:code", h.lookup)
	v1.GET("/codes/:code/qr.png", h.qr)
	v1.GET("/codes/:code/poster.png", h.poster)
	v1.POST("/codes/:code/revoke", s.requireStaff(), h.revoke)
	v1.POST("/codes/:code/reissue", s.requireStaff(), h.reissue)
	v1.POST("/shares", s.requireStaff(), h.share)
	v1.GET("/me/kit", s.requireStaff(), h.kit)
	v1.GET("/me/stats", s.requireStaff(), h.myStats)
	v1.GET("/staff/:id/stats", s.requireStaff(), h.staffStats)
}

// click answers a share link: 302 to the landing page (with rmref_t when
// the click may be attributed) after the click row is committed.
func (h *referralHandlers) click(c *gin.Context) {
	vid, _ := c.Cookie(visitorCookie)
	r, err := h.svc.Click(c.Request.Context(), referral.ClickRequest{
		Code: c.Param("code"), Channel: strings.TrimPrefix(c.Param("channel"), "/"), Method: c.Request.Method,
		UserAgent: c.Request.UserAgent(), Referer: c.Request.Referer(),
		Purpose: c.GetHeader("Sec-Purpose") + c.GetHeader("Purpose"), IP: c.ClientIP(), VisitorID: vid,
	})
	if err != nil {
		h.linkError(c, err)
		return
	}
	h.setVisitor(c, r.VisitorID)
	c.Header("Cache-Control", "private, no-store")
	c.Header("Referrer-Policy", "no-referrer")
	c.Redirect(http.StatusFound, r.Location)
}

const notFoundPage = `<!doctype html><html lang="zh"><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>链接无效</title><body style="font-family:sans-serif;text-align:center;padding:3em 1em">
<h1>链接无效或已过期</h1><p>This link is not valid.</p></body></html>`

// linkError answers a share link that leads nowhere with a small page.
func (h *referralHandlers) linkError(c *gin.Context, err error) {
	if apperr.KindOf(err) != apperr.NotFound {
		h.s.Logger.ErrorContext(c.Request.Context(), "share link failed", "err", err)
		c.Data(http.StatusServiceUnavailable, "text/html; charset=utf-8", []byte(notFoundPage))
		return
	}
	c.Header("Cache-Control", "private, no-store")
	c.Data(http.StatusNotFound, "text/html; charset=utf-8", []byte(notFoundPage))
}

// setVisitor sets the first-party visitor cookie for a year.
func (h *referralHandlers) setVisitor(c *gin.Context, vid string) {
	http.SetCookie(c.Writer, &http.Cookie{Name: visitorCookie, Value: vid, Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: strings.HasPrefix(h.s.Config.BaseURL, "https://")})
}

// lookup is the public code check, rate-limited per client IP.
func (h *referralHandlers) lookup(c *gin.Context) {
	if ok, wait := h.lookups.Allow(c.ClientIP()); !ok {
		h.s.fail(c, &apperr.Error{Kind: apperr.RateLimited, Type: "rate_limited", Detail: "too many code lookups", RetryAfter: wait})
		return
	}
	o, err := h.svc.Lookup(c.Request.Context(), c.Param("code"))
	h.s.respond(c, http.StatusOK, o, err)
}

// shareURL is the link of a code on a channel.
func (h *referralHandlers) shareURL(code string, ch referral.Channel) string {
	return strings.TrimRight(h.s.Config.BaseURL, "/") + "/s/" + code + "/" + string(ch)
}

// qr renders the qr_poster share link as a PNG (size 128..1024 pixels,
// medium error correction, 4-module quiet zone).
func (h *referralHandlers) qr(c *gin.Context) {
	size, err := qrSize(c.Query("size"))
	if err != nil {
		h.s.fail(c, err)
		return
	}
	card, err := h.svc.Card(c.Request.Context(), c.Param("code"))
	if err != nil {
		h.s.fail(c, err)
		return
	}
	link := h.shareURL(card.Code, referral.ChannelQRPoster)
	h.sendPNG(c, "qr/"+strconv.Itoa(size)+"/"+link, func() ([]byte, error) { return QRPNG(link, size) })
}

// QRPNG encodes content as a QR code PNG of size pixels with medium error
// correction and a quiet zone.
func QRPNG(content string, size int) ([]byte, error) {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return nil, err
	}
	return q.PNG(size)
}

func qrSize(v string) (int, error) {
	if v == "" {
		return qrDefaultSize, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < qrMinSize || n > qrMaxSize {
		return 0, apperr.Field("size", "must be an integer from 128 to 1024")
	}
	return n, nil
}

// sendPNG answers with a cached render, honouring If-None-Match.
func (h *referralHandlers) sendPNG(c *gin.Context, key string, render func() ([]byte, error)) {
	img, err := h.renders.get(key, render)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	c.Header("ETag", img.etag)
	c.Header("Cache-Control", "public, max-age=300")
	if c.GetHeader("If-None-Match") == img.etag {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, "image/png", img.png)
}

// renderCache keeps rendered PNGs by key, bounded; concurrent requests for
// one key render it once.
type renderCache struct {
	mu  sync.Mutex
	max int
	m   map[string]*renderEntry
}

type renderEntry struct {
	once sync.Once
	png  []byte
	etag string
	err  error
}

func newRenderCache(max int) *renderCache {
	return &renderCache{max: max, m: make(map[string]*renderEntry)}
}

func (rc *renderCache) get(key string, render func() ([]byte, error)) (*renderEntry, error) {
	rc.mu.Lock()
	e, ok := rc.m[key]
	if !ok {
		if len(rc.m) >= rc.max {
			for k := range rc.m {
				delete(rc.m, k)
				break
			}
		}
		e = &renderEntry{}
		rc.m[key] = e
	}
	rc.mu.Unlock()
	e.once.Do(func() {
		e.png, e.err = render()
		sum := sha256.Sum256(e.png)
		e.etag = `"` + hex.EncodeToString(sum[:12]) + `"`
	})
	if e.err != nil {
		rc.mu.Lock()
		delete(rc.m, key)
		rc.mu.Unlock()
		return nil, e.err
	}
	return e, nil
}

// errNoFont answers poster requests on a server without a CJK font.
var errNoFont = apperr.New(apperr.Internal, "no_font", "posters need a CJK font (RMREF_FONT_FILE)")

// poster renders the campaign poster of a campaign code: the template with
// the qr_poster link's QR code and the staff member's name, unit and code.
// Renders are cached per code, template and font.
func (h *referralHandlers) poster(c *gin.Context) {
	ctx := c.Request.Context()
	card, err := h.svc.Card(ctx, c.Param("code"))
	if err == nil && card.CampaignID == 0 {
		err = referral.ErrCodeNotFound // the general code has no campaign poster
	}
	if err != nil {
		h.s.fail(c, err)
		return
	}
	if h.posters == nil {
		h.s.fail(c, errNoFont)
		return
	}
	version, err := campaign.TemplateVersion(ctx, h.s.DB, card.CampaignID)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	link := h.shareURL(card.Code, referral.ChannelQRPoster)
	key := strings.Join([]string{"poster", link, version, card.CampaignName, card.StaffName, card.UnitName}, "\x1f")
	h.sendPNG(c, key, func() ([]byte, error) { return h.renderPoster(ctx, link, card) })
}

// renderPoster renders a staff member's poster with the campaign's template.
func (h *referralHandlers) renderPoster(ctx context.Context, link string, card referral.Card) ([]byte, error) {
	t, err := campaign.GetTemplate(ctx, h.s.DB, card.CampaignID)
	if err != nil {
		return nil, err
	}
	return campaign.RenderPoster(h.posters, campaign.Campaign{Name: card.CampaignName}, t, campaign.Poster{
		URL: link, StaffName: card.StaffName, UnitName: card.UnitName, Code: referral.FormatCode(card.Code)})
}

// revoke revokes a code (its staff member, a manager in scope, hq_admin).
func (h *referralHandlers) revoke(c *gin.Context) {
	code, err := h.svc.Revoke(c.Request.Context(), principal(c), c.Param("code"))
	if err != nil {
		h.s.fail(c, err)
		return
	}
	ok(c, http.StatusOK, codeJSON(code))
}

// reissue revokes a code and issues a new one for the same campaign.
func (h *referralHandlers) reissue(c *gin.Context) {
	code, err := h.svc.Reissue(c.Request.Context(), principal(c), c.Param("code"))
	if err != nil {
		h.s.fail(c, err)
		return
	}
	ok(c, http.StatusCreated, codeJSON(code))
}

func codeJSON(c referral.Code) gin.H {
	out := gin.H{"code": c.Code, "code_display": referral.FormatCode(c.Code), "staff_id": strconv.FormatInt(c.StaffID, 10),
		"campaign_id": strconv.FormatInt(c.CampaignID, 10), "created_at": c.CreatedAt, "revoked_at": nil}
	if !c.RevokedAt.IsZero() {
		out["revoked_at"] = c.RevokedAt
	}
	return out
}

type shareRequest struct {
	CampaignID string `json:"campaign_id"`
	Channel    string `json:"channel"`
}

// share records a share event of the signed-in staff member.
func (h *referralHandlers) share(c *gin.Context) {
	var req shareRequest
	if err := bindJSON(c, &req); err != nil {
		h.s.fail(c, err)
		return
	}
	var errs apperr.Collector
	campID, perr := parseCampaignID(req.CampaignID)
	errs.Check(perr != nil, "campaign_id", "must be a campaign id (\"0\" or empty: the general link)")
	errs.Check(!referral.ValidChannel(req.Channel), "channel", "must be one of wechat_friend, wechat_moments, weibo, sms, email, qr_poster, wecom, other")
	if err := errs.Err(); err != nil {
		h.s.fail(c, err)
		return
	}
	sh, err := h.svc.RecordShare(c.Request.Context(), principal(c), campID, referral.Channel(req.Channel))
	h.s.respond(c, http.StatusCreated, sh, err)
}

// parseCampaignID reads a campaign id; empty means 0 (the general code).
func parseCampaignID(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || len(v) > 19 {
		return 0, apperr.Field("campaign_id", "must be a campaign id")
	}
	return n, nil
}

// kit returns the staff member's code for a campaign (created on first
// use) with a link per channel and the QR and poster URLs. It also sets
// the visitor cookie and remembers it as the staff member's own, so that
// their clicks on their own links are self-clicks.
func (h *referralHandlers) kit(c *gin.Context) {
	campID, err := parseCampaignID(c.Query("campaign_id"))
	if err != nil {
		h.s.fail(c, err)
		return
	}
	p := principal(c)
	code, err := h.svc.CodeFor(c.Request.Context(), p.StaffID, campID)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	if err := h.rememberVisitor(c, p.StaffID); err != nil {
		h.s.fail(c, err)
		return
	}
	ok(c, http.StatusOK, h.kitJSON(code))
}

func (h *referralHandlers) rememberVisitor(c *gin.Context, staffID int64) error {
	vid, _ := c.Cookie(visitorCookie)
	if !referral.ValidVisitorID(vid) {
		vid = h.svc.NewVisitorID()
	}
	h.setVisitor(c, vid)
	return h.svc.RememberVisitor(c.Request.Context(), staffID, vid)
}

func (h *referralHandlers) kitJSON(code referral.Code) gin.H {
	base := strings.TrimRight(h.s.Config.BaseURL, "/")
	links := gin.H{}
	for _, ch := range referral.Channels {
		links[string(ch)] = h.shareURL(code.Code, ch)
	}
	esc := url.PathEscape(code.Code)
	out := codeJSON(code)
	out["link"] = base + "/s/" + code.Code
	out["links"] = links
	out["qr_url"] = base + "/api/v1/codes/" + esc + "/qr.png"
	out["poster_url"] = nil
	if !code.General() {
		out["poster_url"] = base + "/api/v1/codes/" + esc + "/poster.png"
	}
	return out
}

// myStats answers the signed-in staff member's own figures.
func (h *referralHandlers) myStats(c *gin.Context) {
	h.stats(c, principal(c).StaffID)
}

// staffStats answers another staff member's figures (managers: subtree).
func (h *referralHandlers) staffStats(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	h.stats(c, id)
}

func (h *referralHandlers) stats(c *gin.Context, staffID int64) {
	campID, err := parseCampaignID(c.Query("campaign_id"))
	if err != nil {
		h.s.fail(c, err)
		return
	}
	st, err := h.svc.Stats(c.Request.Context(), principal(c), staffID, campID)
	h.s.respond(c, http.StatusOK, st, err)
}
