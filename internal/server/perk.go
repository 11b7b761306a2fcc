package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"rmref/internal/apperr"
	"rmref/internal/auth"
	"rmref/rewards"
)

// maxCardEventBatch bounds one POST /card-events batch.
const maxCardEventBatch = 500

// Service-client scopes of the perk routes: the card system writes card
// events; the perks platform claims grants and reads ledgers.
const (
	scopeCardEventsWrite = "card_events:write"
	scopePerksWrite      = "perks:write"
	scopePerksRead       = "perks:read"
)

// perkHandlers serves perk programmes, card events, claims and ledgers.
type perkHandlers struct {
	s   *Server
	svc *rewards.PerkService
}

func (s *Server) registerPerkRoutes(v1 *gin.RouterGroup) {
	h := perkHandlers{s: s, svc: rewards.NewPerkService(s.DB, s.Clock)}
	readers := s.requireRole(auth.RoleCampaignManager, auth.RoleHQAdmin, auth.RoleAuditor)
	writers := s.requireRole(auth.RoleCampaignManager, auth.RoleHQAdmin)
	g := v1.Group("/perk-programmes", s.requireStaff())
	g.GET("", readers, h.list)
	g.POST("", writers, h.create)
	g.GET("/:id", readers, h.get)
	g.POST("/:id/versions", writers, h.propose)
	g.POST("/:id/versions/:version/approve", writers, h.approve)
	g.GET("/:id/summary", readers, h.summary)
	v1.POST("/card-events", s.requireClient(), h.clientScope(scopeCardEventsWrite), h.events)
	v1.POST("/cardholders/:id/grants/:grant/claim", s.requireClient(), h.clientScope(scopePerksWrite), h.claim)
	v1.GET("/cardholders/:id/perks", h.staffOrClient(), h.perks)
}

// clientScope refuses (403) a service client holding none of scopes.
func (h perkHandlers) clientScope(scopes ...string) gin.HandlerFunc {
	return func(c *gin.Context) {
		p := principal(c)
		for _, sc := range scopes {
			if slices.Contains(p.Scopes, sc) {
				c.Next()
				return
			}
		}
		h.s.fail(c, apperr.Forbiddenf("requires one of the client scopes %v", scopes))
	}
}

// staffOrClient authenticates a staff member (bearer token; the handler
// then requires a perk reader role) or, without a bearer token, a signed
// service client.
func (h perkHandlers) staffOrClient() gin.HandlerFunc {
	staff, client := h.s.requireStaff(), h.s.requireClient()
	return func(c *gin.Context) {
		if c.GetHeader("Authorization") == "" {
			client(c)
			return
		}
		c.Set(ctxPerkStaff, true)
		staff(c)
	}
}

const ctxPerkStaff = "rmref.perk_staff"

func (h perkHandlers) list(c *gin.Context) {
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
	ps, next, err := h.svc.Programmes(c.Request.Context(), after, limit)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	nc := ""
	if next > 0 {
		nc = EncodeCursor(strconv.FormatInt(next, 10))
	}
	ok(c, http.StatusOK, NewPage(ps, nc, -1))
}

func (h perkHandlers) create(c *gin.Context) {
	var in rewards.PerkProgrammeInput
	if err := bindJSON(c, &in); err != nil {
		h.s.fail(c, err)
		return
	}
	p, err := h.svc.CreateProgramme(c.Request.Context(), principal(c), in)
	h.s.respond(c, http.StatusCreated, p, err)
}

func (h perkHandlers) get(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	p, err := h.svc.Programme(c.Request.Context(), id)
	h.s.respond(c, http.StatusOK, p, err)
}

func (h perkHandlers) propose(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	var in rewards.PerkVersionInput
	if err := bindJSON(c, &in); err != nil {
		h.s.fail(c, err)
		return
	}
	p, err := h.svc.ProposeVersion(c.Request.Context(), principal(c), id, in)
	h.s.respond(c, http.StatusCreated, p, err)
}

func (h perkHandlers) approve(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	v, err := pathID(c, "version")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	p, err := h.svc.ApproveVersion(c.Request.Context(), principal(c), id, int(v))
	h.s.respond(c, http.StatusOK, p, err)
}

// programmeZone returns the zone of a programme's newest version.
func (h perkHandlers) programmeZone(c *gin.Context, id int64) (*time.Location, error) {
	p, err := h.svc.Programme(c.Request.Context(), id)
	if err != nil {
		return nil, err
	}
	return p.Versions[len(p.Versions)-1].Config.Location(), nil
}

func (h perkHandlers) summary(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	loc, err := h.programmeZone(c, id)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	at, err := ParseAt(c.Query("at"), loc, h.s.Clock.Now())
	if err != nil {
		h.s.fail(c, err)
		return
	}
	sum, err := h.svc.Summary(c.Request.Context(), id, at)
	h.s.respond(c, http.StatusOK, sum, err)
}

// cardEventItem is one event's answer in a batch.
type cardEventItem struct {
	Index   int                        `json:"index"`
	EventID string                     `json:"event_id"`
	Status  string                     `json:"status"` // accepted, duplicate or rejected
	Granted []string                   `json:"granted,omitempty"`
	Refused []rewards.PerkExchangeNote `json:"refused,omitempty"`
	Problem *Problem                   `json:"problem,omitempty"`
}

func (h perkHandlers) events(c *gin.Context) {
	var raw json.RawMessage
	if err := bindJSON(c, &raw); err != nil {
		h.s.fail(c, err)
		return
	}
	var batch struct {
		Events []json.RawMessage `json:"events"`
	}
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) && json.Unmarshal(raw, &batch) == nil && batch.Events != nil {
		h.batch(c, batch.Events)
		return
	}
	var e rewards.CardEvent
	if err := decodeStrict(raw, &e); err != nil {
		h.s.fail(c, err)
		return
	}
	res, err := h.svc.Ingest(c.Request.Context(), principal(c), e)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	status := http.StatusCreated
	if res.Status == "duplicate" {
		status = http.StatusOK
	}
	ok(c, status, res)
}

// decodeStrict decodes one JSON value with bindJSON's error mapping.
func decodeStrict(raw json.RawMessage, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	return nil
}

func (h perkHandlers) batch(c *gin.Context, raws []json.RawMessage) {
	if len(raws) == 0 || len(raws) > maxCardEventBatch {
		h.s.fail(c, apperr.Field("events", "must hold 1 to 500 events"))
		return
	}
	events := make([]rewards.CardEvent, len(raws))
	decodeErr := make([]error, len(raws))
	for i, r := range raws {
		decodeErr[i] = decodeStrict(r, &events[i])
	}
	valid := make([]rewards.CardEvent, 0, len(raws))
	for i, e := range events {
		if decodeErr[i] == nil {
			valid = append(valid, e)
		}
	}
	items, err := h.svc.IngestBatch(c.Request.Context(), principal(c), valid)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	out := make([]cardEventItem, len(raws))
	j := 0
	for i := range raws {
		out[i] = cardEventItem{Index: i, EventID: events[i].EventID}
		if decodeErr[i] != nil {
			out[i].Status, out[i].Problem = "rejected", problemPtr(decodeErr[i])
			continue
		}
		it := items[j]
		j++
		if it.Err != nil {
			out[i].Status, out[i].Problem = "rejected", problemPtr(it.Err)
			continue
		}
		out[i].Status, out[i].Granted, out[i].Refused = it.Result.Status, it.Result.Granted, it.Result.Refused
	}
	ok(c, http.StatusOK, gin.H{"results": out})
}

func problemPtr(err error) *Problem {
	p := problemOf(err)
	return &p
}

func (h perkHandlers) claim(c *gin.Context) {
	var in struct {
		ClaimedAt time.Time `json:"claimed_at"`
	}
	if err := bindJSON(c, &in); err != nil {
		h.s.fail(c, err)
		return
	}
	g, err := h.svc.Claim(c.Request.Context(), principal(c), c.Param("id"), c.Param("grant"), in.ClaimedAt)
	h.s.respond(c, http.StatusOK, g, err)
}

func (h perkHandlers) perks(c *gin.Context) {
	p := principal(c)
	if _, staff := c.Get(ctxPerkStaff); staff && !p.HasAny(auth.RoleCampaignManager, auth.RoleHQAdmin, auth.RoleAuditor) {
		h.s.fail(c, apperr.Forbiddenf("requires one of the roles campaign_manager, hq_admin, auditor"))
		return
	}
	if p.IsClient() && !slices.Contains(p.Scopes, scopePerksRead) && !slices.Contains(p.Scopes, scopePerksWrite) {
		h.s.fail(c, apperr.Forbiddenf("requires the client scope perks:read or perks:write"))
		return
	}
	var pid int64
	loc, _ := time.LoadLocation(h.s.Config.Timezone)
	if v := c.Query("programme_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			h.s.fail(c, apperr.Field("programme_id", "must be a programme id"))
			return
		}
		if loc, err = h.programmeZone(c, id); err != nil {
			h.s.fail(c, err)
			return
		}
		pid = id
	}
	if loc == nil {
		loc = time.UTC
	}
	at, err := ParseAt(c.Query("at"), loc, h.s.Clock.Now())
	if err != nil {
		h.s.fail(c, err)
		return
	}
	ls, err := h.svc.Perks(c.Request.Context(), c.Param("id"), pid, at)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	ok(c, http.StatusOK, gin.H{"customer_id": c.Param("id"), "at": at, "programmes": ls})
}
