package referral

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// ClickRequest is a share-link request as the HTTP tier sees it.
type ClickRequest struct {
	Code      string // the link's code segment, as received
	Channel   string // the link's channel segment ("" for /s/CODE)
	Method    string
	UserAgent string
	Referer   string
	Purpose   string // Sec-Purpose / Purpose header (prefetch)
	IP        string
	VisitorID string // rmref_vid cookie ("" or malformed: a new one is minted)
}

// Redirect is the answer to a share-link click.
type Redirect struct {
	Location   string // landing URL, with rmref_t when the click may be attributed
	VisitorID  string // set as rmref_vid
	Click      Click  // as recorded
	TokenGiven bool
}

// Click resolves a share link, records the click durably (group commit)
// and returns where to send the visitor. A malformed or unknown code, or a
// draft campaign, is ErrCodeNotFound and records nothing. A revoked code,
// a paused or ended campaign, or a time outside its dates sends the
// visitor to the landing page without a token; the click is recorded as
// not counted with the reason.
func (s *Service) Click(ctx context.Context, req ClickRequest) (Redirect, error) {
	code, err := ParseCode(req.Code)
	if err != nil {
		return Redirect{}, ErrCodeNotFound
	}
	t, err := s.resolve(ctx, code)
	if err != nil {
		return Redirect{}, err
	}
	if t.campaign != nil && t.campaign.Status == StatusDraft {
		return Redirect{}, ErrCodeNotFound
	}
	c := s.newClick(t, req)
	if err := s.writer.Record(ctx, &c); err != nil {
		return Redirect{}, err
	}
	return s.redirect(t, c)
}

func (s *Service) newClick(t target, req ClickRequest) Click {
	now := s.clock.Now()
	loc := s.cfg.Location
	if t.campaign != nil {
		loc = s.zoneOf(*t.campaign)
	}
	c := Click{ClickID: timedID(clickIDLen, now), At: now, Day: now.In(loc).Format(time.DateOnly),
		CodeID: t.code.ID, Code: t.code.Code, StaffID: t.staff.ID, CampaignID: t.code.CampaignID,
		Channel: ChannelOf(req.Channel), VisitorID: req.VisitorID, IPHash: s.hasher.Hash("ip", req.IP),
		UserAgent: clean(req.UserAgent, 512), Referer: clean(req.Referer, 1024),
		Bot: isBotCached(req.Method, req.UserAgent, req.Purpose)}
	if !ValidVisitorID(c.VisitorID) {
		c.VisitorID, c.NewVisitor = timedID(16, now), true
	}
	c.Reason = blockReason(t, now)
	switch {
	case c.Reason != "":
	case c.Bot:
		c.Reason = ReasonBot
	default:
		c.Counted = true
	}
	return c
}

// blockReason says why a click on t at now cannot be attributed at all.
func blockReason(t target, now time.Time) string {
	switch {
	case !t.code.ActiveAt(now):
		return ReasonRevoked
	case t.campaign == nil:
		return ""
	case t.campaign.Status == StatusEnded || !now.Before(t.campaign.End):
		return ReasonCampaignEnded
	case t.campaign.Status == StatusPaused:
		return ReasonCampaignPaused
	case now.Before(t.campaign.Start):
		return ReasonOutsideDates
	}
	return ""
}

// redirect builds the landing location; the target comes only from the
// campaign (or the configured bank landing URL), never from the request.
func (s *Service) redirect(t target, c Click) (Redirect, error) {
	landing := s.cfg.BankLandingURL
	if t.campaign != nil {
		landing = t.campaign.LandingURL
	}
	r := Redirect{Location: landing, VisitorID: c.VisitorID, Click: c}
	if blockReason(t, c.At) != "" {
		return r, nil
	}
	tok, err := s.signer.sign(Token{ClickID: c.ClickID, Code: c.Code, CampaignID: c.CampaignID,
		Channel: c.Channel, At: c.At, Counted: c.Counted})
	if err != nil {
		return Redirect{}, err
	}
	lt, err := s.landings.get(landing)
	if err != nil {
		return Redirect{}, fmt.Errorf("referral: landing URL of campaign %d: %w", c.CampaignID, err)
	}
	r.Location, r.TokenGiven = lt.with(tok), true
	return r, nil
}

// withToken is landing with the rmref_t query parameter set to tok (any
// earlier rmref_t replaced, the query re-encoded in key order).
func withToken(landing, tok string) (string, error) {
	u, err := url.Parse(landing)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set(TokenParam, tok)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// tokenSlot stands for the token in a landing template: base64url
// characters only, which query encoding leaves as they are (so do tokens).
const tokenSlot = "RMREFTOKENSLOT7Q2W9X4Z"

// landingTemplate is withToken(landing, ·) computed once: the location is
// prefix + token + suffix.
type landingTemplate struct {
	prefix, suffix string
	landing        string // slow path: the slot was not found exactly once
}

func (t landingTemplate) with(tok string) string {
	if t.landing != "" {
		if loc, err := withToken(t.landing, tok); err == nil {
			return loc
		}
	}
	return t.prefix + tok + t.suffix
}

// landingCache keeps the templates of the landing URLs in use (a few per
// campaign); it is cleared when it grows past a bound.
type landingCache struct {
	mu sync.Mutex
	m  map[string]landingTemplate
}

const maxLandings = 1024

func (c *landingCache) get(landing string) (landingTemplate, error) {
	c.mu.Lock()
	t, ok := c.m[landing]
	c.mu.Unlock()
	if ok {
		return t, nil
	}
	loc, err := withToken(landing, tokenSlot)
	if err != nil {
		return landingTemplate{}, err
	}
	if i := strings.Index(loc, tokenSlot); i >= 0 && strings.Count(loc, tokenSlot) == 1 {
		t = landingTemplate{prefix: loc[:i], suffix: loc[i+len(tokenSlot):]}
	} else {
		t = landingTemplate{landing: landing}
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxLandings {
		c.m = map[string]landingTemplate{}
	}
	c.m[landing] = t
	c.mu.Unlock()
	return t, nil
}

// clean makes header text storable: valid UTF-8, at most max bytes, cut on
// a rune boundary.
func clean(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// zoneOf is the campaign's timezone, or the configured default.
func (s *Service) zoneOf(c Campaign) *time.Location {
	if c.Location == nil {
		return s.cfg.Location
	}
	return c.Location
}
