package rewards

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/campaign"
	"rmref/internal/apperr"
	"rmref/internal/audit"
	"rmref/internal/auth"
	"rmref/internal/clock"
	"rmref/internal/db"
)

// PerkService configures perk programmes, takes card events and claims,
// and answers ledgers and summaries.
type PerkService struct {
	DB    *db.DB
	Clock clock.Clock
}

// NewPerkService returns a perk service on d with clock clk.
func NewPerkService(d *db.DB, clk clock.Clock) *PerkService { return &PerkService{DB: d, Clock: clk} }

// PerkProgrammeInput creates a programme: its name, optional campaign, and
// its first configuration (or the coffee template for a product).
type PerkProgrammeInput struct {
	Name          string      `json:"name"`
	CampaignID    *int64      `json:"campaign_id,string,omitempty"`
	Template      string      `json:"template,omitempty"` // "coffee": CoffeeTemplate(product, start, end)
	Product       string      `json:"product,omitempty"`  // with template
	StartDate     string      `json:"start_date,omitempty"`
	EndDate       string      `json:"end_date,omitempty"`
	Config        *PerkConfig `json:"config,omitempty"`
	EffectiveFrom time.Time   `json:"effective_from"`
	Note          string      `json:"note,omitempty"`
}

// PerkVersionInput proposes a change to a programme.
type PerkVersionInput struct {
	Config        *PerkConfig `json:"config"`
	EffectiveFrom time.Time   `json:"effective_from"`
	Note          string      `json:"note,omitempty"`
}

// config returns the first configuration the input asks for.
func (in PerkProgrammeInput) config() (PerkConfig, error) {
	switch {
	case in.Template == "coffee":
		return CoffeeTemplate(in.Product, in.StartDate, in.EndDate), nil
	case in.Template != "":
		return PerkConfig{}, apperr.Field("template", "must be coffee")
	case in.Config == nil:
		return PerkConfig{}, apperr.Field("config", "is required unless a template is named")
	}
	return *in.Config, nil
}

func requireCampaignManager(p auth.Principal) error {
	if !p.HasAny(auth.RoleCampaignManager, auth.RoleHQAdmin) {
		return apperr.Forbiddenf("requires campaign_manager or hq_admin")
	}
	return nil
}

// CreateProgramme creates a programme and proposes its version 1; it takes
// effect only when someone else approves it.
func (s *PerkService) CreateProgramme(ctx context.Context, p auth.Principal, in PerkProgrammeInput) (PerkProgramme, error) {
	if err := requireCampaignManager(p); err != nil {
		return PerkProgramme{}, err
	}
	cfg, err := in.config()
	if err != nil {
		return PerkProgramme{}, err
	}
	var v apperr.Collector
	v.Check(in.Name == "" || len(in.Name) > 200, "name", "is required (at most 200 characters)")
	cfgErr := cfg.Validate()
	if in.Template == "" {
		cfgErr = prefixFields(cfgErr, "config.") // the config came in the body
	}
	if err := mergeInvalid(v.Err(), cfgErr); err != nil {
		return PerkProgramme{}, err
	}
	now := s.Clock.Now()
	var id int64
	err = s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		if err := checkCampaign(ctx, tx, in.CampaignID); err != nil {
			return err
		}
		var err error
		id, err = insertPerkProgramme(ctx, tx, PerkProgramme{Name: in.Name, Product: cfg.Product, CampaignID: in.CampaignID, CreatedBy: p.Actor(), CreatedAt: now, UpdatedAt: now})
		if err != nil {
			return err
		}
		ver := PerkProgrammeVersion{Version: 1, Status: VersionProposed, Note: in.Note, EffectiveFrom: effectiveFrom(in.EffectiveFrom, now), ProposedBy: p.Actor(), ProposedAt: now, Config: cfg}
		if err := insertPerkVersion(ctx, tx, id, ver); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{At: now, Actor: p.Actor(), Action: "perk_programme.create", EntityType: "perk_programme",
			EntityID: fmt.Sprint(id), Detail: map[string]any{"name": in.Name, "version": 1, "config": cfg}})
	})
	if err != nil {
		return PerkProgramme{}, err
	}
	return loadPerkProgramme(ctx, s.DB, id)
}

// checkCampaign refuses a link to a campaign that does not exist.
func checkCampaign(ctx context.Context, ext sqlx.ExtContext, id *int64) error {
	if id == nil {
		return nil
	}
	_, err := campaign.Get(ctx, ext, *id)
	if errors.Is(err, campaign.ErrNotFound) {
		return apperr.Field("campaign_id", "no such campaign")
	}
	return err
}

// prefixFields puts prefix before every field path of an Invalid error, so
// that a nested object's errors name their JSON path in the request.
func prefixFields(err error, prefix string) error {
	e, ok := apperr.As(err)
	if !ok || len(e.Fields) == 0 {
		return err
	}
	fs := make([]apperr.FieldError, len(e.Fields))
	for i, f := range e.Fields {
		fs[i] = apperr.FieldError{Field: prefix + f.Field, Message: f.Message}
	}
	return apperr.Fields(fs)
}

// mergeInvalid joins field errors of several validations into one.
func mergeInvalid(errs ...error) error {
	var fs []apperr.FieldError
	for _, err := range errs {
		if e, ok := apperr.As(err); ok {
			fs = append(fs, e.Fields...)
		}
	}
	return apperr.Fields(fs)
}

func effectiveFrom(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t.UTC()
}

// ProposeVersion proposes a new configuration of a programme; it applies to
// events from its effective time once approved and never rewrites grants
// already made.
func (s *PerkService) ProposeVersion(ctx context.Context, p auth.Principal, programmeID int64, in PerkVersionInput) (PerkProgramme, error) {
	if err := requireCampaignManager(p); err != nil {
		return PerkProgramme{}, err
	}
	if in.Config == nil {
		return PerkProgramme{}, apperr.Field("config", "is required")
	}
	if err := prefixFields(in.Config.Validate(), "config."); err != nil {
		return PerkProgramme{}, err
	}
	now := s.Clock.Now()
	err := s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		cur, err := loadPerkProgramme(ctx, tx, programmeID)
		if err != nil {
			return err
		}
		if in.Config.Product != cur.Product {
			return apperr.Field("config.product", "cannot change; create another programme")
		}
		ver := PerkProgrammeVersion{Version: len(cur.Versions) + 1, Status: VersionProposed, Note: in.Note,
			EffectiveFrom: effectiveFrom(in.EffectiveFrom, now), ProposedBy: p.Actor(), ProposedAt: now, Config: *in.Config}
		if err := insertPerkVersion(ctx, tx, programmeID, ver); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, qPerkTouchProgramme, db.Micros(now), programmeID); err != nil {
			return fmt.Errorf("rewards: touch programme: %w", err)
		}
		return audit.Record(ctx, tx, audit.Entry{At: now, Actor: p.Actor(), Action: "perk_programme.propose", EntityType: "perk_programme",
			EntityID: fmt.Sprint(programmeID), Detail: map[string]any{"version": ver.Version, "config": in.Config, "effective_from": ver.EffectiveFrom}})
	})
	if err != nil {
		return PerkProgramme{}, err
	}
	return loadPerkProgramme(ctx, s.DB, programmeID)
}

// ApproveVersion approves a proposed version: another campaign manager or
// an hq_admin, never the proposer. It takes effect at the later of its
// requested effective time and the approval.
func (s *PerkService) ApproveVersion(ctx context.Context, p auth.Principal, programmeID int64, version int) (PerkProgramme, error) {
	if err := requireCampaignManager(p); err != nil {
		return PerkProgramme{}, err
	}
	now := s.Clock.Now()
	err := s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		cur, err := loadPerkProgramme(ctx, tx, programmeID)
		if err != nil {
			return err
		}
		if version < 1 || version > len(cur.Versions) {
			return ErrPerkVersionNotFound
		}
		v := cur.Versions[version-1]
		switch {
		case v.Status != VersionProposed:
			return ErrPerkNotProposed
		case v.ProposedBy == p.Actor():
			return ErrPerkSelfApproval
		}
		eff := v.EffectiveFrom
		if now.After(eff) {
			eff = now
		}
		ok, err := approvePerkVersion(ctx, tx, programmeID, version, p.Actor(), now, eff)
		if err != nil {
			return err
		}
		if !ok {
			return ErrPerkNotProposed
		}
		if _, err := tx.ExecContext(ctx, qPerkTouchProgramme, db.Micros(now), programmeID); err != nil {
			return fmt.Errorf("rewards: touch programme: %w", err)
		}
		return audit.Record(ctx, tx, audit.Entry{At: now, Actor: p.Actor(), Action: "perk_programme.approve", EntityType: "perk_programme",
			EntityID: fmt.Sprint(programmeID), Detail: map[string]any{"version": version, "proposed_by": v.ProposedBy, "effective_at": eff}})
	})
	if err != nil {
		return PerkProgramme{}, err
	}
	return loadPerkProgramme(ctx, s.DB, programmeID)
}

// Programme returns one programme with its versions.
func (s *PerkService) Programme(ctx context.Context, id int64) (PerkProgramme, error) {
	return loadPerkProgramme(ctx, s.DB, id)
}

// Programmes lists programmes by id after afterID; next is the last id
// when more may follow.
func (s *PerkService) Programmes(ctx context.Context, afterID int64, limit int) ([]PerkProgramme, int64, error) {
	ids, err := listPerkProgrammeIDs(ctx, s.DB, afterID, limit+1)
	if err != nil {
		return nil, 0, err
	}
	var next int64
	if len(ids) > limit {
		ids, next = ids[:limit], ids[limit-1]
	}
	out := make([]PerkProgramme, 0, len(ids))
	for _, id := range ids {
		p, err := loadPerkProgramme(ctx, s.DB, id)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, p)
	}
	return out, next, nil
}

// PerkEventResult is the outcome of one card event.
type PerkEventResult struct {
	EventID string             `json:"event_id"`
	Status  string             `json:"status"` // accepted or duplicate
	Granted []string           `json:"granted,omitempty"`
	Refused []PerkExchangeNote `json:"refused,omitempty"`
}

// PerkExchangeNote says why a programme refused a points exchange.
type PerkExchangeNote struct {
	ProgrammeID int64  `json:"programme_id,string"`
	Reason      string `json:"reason"`
}

// Ingest stores one card event, idempotently on its event id: a replay
// with the same payload is a duplicate (same outcome, nothing changes), the
// same id with another payload is a Conflict. A points-exchange request is
// decided here, against every programme of the card's product.
func (s *PerkService) Ingest(ctx context.Context, p auth.Principal, e CardEvent) (PerkEventResult, error) {
	now := s.Clock.Now()
	e.OccurredAt = e.OccurredAt.UTC()
	if err := e.Validate(now); err != nil {
		return PerkEventResult{}, err
	}
	var res PerkEventResult
	err := s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		res, err = s.ingest(ctx, tx, p, e, now)
		return err
	})
	return res, err
}

// PerkBatchItem is the outcome of one event of a batch: a result, or the
// error that refused it (the item changed nothing).
type PerkBatchItem struct {
	Result PerkEventResult
	Err    error
}

// IngestBatch stores a batch of card events in one transaction. Each item
// is checked before it writes anything, so a refused item (a 4xx error in
// its PerkBatchItem) changes nothing while the others are stored; an
// internal error aborts the whole batch.
func (s *PerkService) IngestBatch(ctx context.Context, p auth.Principal, events []CardEvent) ([]PerkBatchItem, error) {
	now := s.Clock.Now()
	out := make([]PerkBatchItem, len(events))
	err := s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		for i, e := range events {
			e.OccurredAt = e.OccurredAt.UTC()
			if err := e.Validate(now); err != nil {
				out[i].Err = err
				continue
			}
			res, err := s.ingest(ctx, tx, p, e, now)
			if err != nil && apperr.KindOf(err) == apperr.Internal {
				return err
			}
			out[i] = PerkBatchItem{Result: res, Err: err}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ingest checks an event and stores it. The cardholder lock comes first
// (it serialises decisions such as exchange caps; an exchange needs an
// approval already stored, so its cardholder exists); every check that
// can refuse the event runs before its first write, so a refused item of a
// batch changes nothing.
func (s *PerkService) ingest(ctx context.Context, tx *sqlx.Tx, p auth.Principal, e CardEvent, now time.Time) (PerkEventResult, error) {
	if e.Kind != EventCardApproved {
		e.Product = "" // only an approval names the product; keep the payload hash stable
	}
	if _, err := lockPerkCardholder(ctx, tx, e.CustomerID); err != nil {
		return PerkEventResult{}, err
	}
	if old, found, err := findPerkEvent(ctx, tx, e.EventID); err != nil || found {
		return duplicateResult(e, old, found, err)
	}
	if e.Kind == EventCouponRedeemed {
		if err := s.checkRedeemable(ctx, tx, e); err != nil {
			return PerkEventResult{}, err
		}
	}
	if err := ensurePerkCardholder(ctx, s.DB, tx, e.CustomerID, now); err != nil {
		return PerkEventResult{}, err
	}
	seq, err := insertPerkEvent(ctx, tx, e, p.Actor(), now)
	if s.DB.Dialect.IsUniqueViolation(err) {
		return PerkEventResult{}, ErrPerkEventInFlight
	}
	if err != nil {
		return PerkEventResult{}, err
	}
	res := PerkEventResult{EventID: e.EventID, Status: "accepted"}
	if e.Kind == EventExchange {
		e.Seq = seq
		if res, err = s.exchange(ctx, tx, p, e, now); err != nil {
			return PerkEventResult{}, err
		}
	}
	out, _ := json.Marshal(res)
	return res, setPerkEventOutcome(ctx, tx, seq, string(out))
}

func duplicateResult(e CardEvent, old perkEventRow, found bool, err error) (PerkEventResult, error) {
	if err != nil {
		return PerkEventResult{}, err
	}
	if old.PayloadHash != e.Hash() {
		return PerkEventResult{}, ErrPerkEventReused
	}
	var res PerkEventResult
	if old.Outcome != "" {
		_ = json.Unmarshal([]byte(old.Outcome), &res)
	}
	res.EventID, res.Status = e.EventID, "duplicate"
	return res, nil
}

// exchange decides a points-exchange request in every programme of the
// card's product and records each granted exchange as a claimed grant.
func (s *PerkService) exchange(ctx context.Context, tx *sqlx.Tx, p auth.Principal, e CardEvent, now time.Time) (PerkEventResult, error) {
	res := PerkEventResult{EventID: e.EventID, Status: "accepted"}
	product, err := perkCardProduct(ctx, tx, e.CardID)
	if err != nil {
		return res, err
	}
	ids, err := perkProgrammesByProduct(ctx, tx, product)
	if err != nil || product == "" {
		return res, err
	}
	events, err := loadPerkEvents(ctx, tx, e.CustomerID)
	if err != nil {
		return res, err
	}
	for _, id := range ids {
		granted, reason, err := s.exchangeIn(ctx, tx, p, id, events, e, now)
		if err != nil {
			return res, err
		}
		if granted != "" {
			res.Granted = append(res.Granted, granted)
		} else {
			res.Refused = append(res.Refused, PerkExchangeNote{ProgrammeID: id, Reason: reason})
		}
	}
	return res, nil
}

func (s *PerkService) exchangeIn(ctx context.Context, tx *sqlx.Tx, p auth.Principal, programmeID int64, events []CardEvent, e CardEvent, now time.Time) (string, string, error) {
	prog, err := loadPerkProgramme(ctx, tx, programmeID)
	if err != nil {
		return "", "", err
	}
	claims, err := loadPerkClaims(ctx, tx, programmeID, e.CustomerID)
	if err != nil {
		return "", "", err
	}
	terms, err := DecideExchange(prog.Rules(), events, claims, e)
	if ae, ok := apperr.As(err); ok && ae.Kind == apperr.Conflict {
		return "", ae.Slug(), nil
	}
	if err != nil {
		return "", "", err
	}
	c := PerkClaim{Key: terms.Key, ClaimedAt: e.OccurredAt, Terms: terms}
	if err := insertPerkClaim(ctx, tx, programmeID, e.CustomerID, c, p.Actor(), now); err != nil {
		return "", "", err
	}
	err = audit.Record(ctx, tx, audit.Entry{At: now, Actor: p.Actor(), Action: "perk_grant.exchange", EntityType: "perk_grant",
		EntityID: terms.ID, Detail: map[string]any{"customer_id": e.CustomerID, "event_id": e.EventID, "points_cost": terms.PointsCost}})
	return terms.ID, "", err
}

// checkRedeemable refuses a redemption of a coupon that is not in effect at
// the event's time.
func (s *PerkService) checkRedeemable(ctx context.Context, tx *sqlx.Tx, e CardEvent) error {
	pid, key, _, err := ParseCouponID(e.CouponID)
	if err != nil {
		return err
	}
	l, err := s.ledger(ctx, tx, pid, e.CustomerID, e.OccurredAt)
	if err != nil {
		if errors.Is(err, ErrPerkNotFound) {
			return ErrPerkNotRedeemable
		}
		return err
	}
	g, ok := l.Grant(key)
	if !ok {
		return ErrPerkNotRedeemable
	}
	for _, c := range g.CouponList {
		if c.ID == e.CouponID && c.State == StateEffective {
			return nil
		}
	}
	return ErrPerkNotRedeemable
}

// ledger evaluates one cardholder's ledger in one programme as of at.
func (s *PerkService) ledger(ctx context.Context, ext sqlx.ExtContext, programmeID int64, customerID string, at time.Time) (PerkLedger, error) {
	in, err := s.input(ctx, ext, programmeID, customerID)
	if err != nil {
		return PerkLedger{}, err
	}
	in.At = at
	return EvaluatePerks(in), nil
}

// input loads what a cardholder's ledger in one programme is derived from.
func (s *PerkService) input(ctx context.Context, ext sqlx.ExtContext, programmeID int64, customerID string) (PerkInput, error) {
	prog, err := loadPerkProgramme(ctx, ext, programmeID)
	if err != nil {
		return PerkInput{}, err
	}
	events, err := loadPerkEvents(ctx, ext, customerID)
	if err != nil {
		return PerkInput{}, err
	}
	claims, err := loadPerkClaims(ctx, ext, programmeID, customerID)
	if err != nil {
		return PerkInput{}, err
	}
	return PerkInput{Rules: prog.Rules(), CustomerID: customerID, Events: events, Claims: claims}, nil
}

// evaluateAt evaluates in as of at.
func evaluateAt(in PerkInput, at time.Time) PerkLedger {
	in.At = at
	return EvaluatePerks(in)
}

// Claim records that the cardholder claimed a grant at claimedAt (the time
// the customer claimed on the perks platform). The grant must be claimable
// at that time; outside its window it is a Conflict naming the rule. A
// replay with the same time returns the claimed grant. The grant is
// returned as of the claim.
func (s *PerkService) Claim(ctx context.Context, p auth.Principal, customerID, grantID string, claimedAt time.Time) (PerkGrant, error) {
	now := s.Clock.Now()
	if claimedAt.IsZero() {
		return PerkGrant{}, apperr.Field("claimed_at", "is required (RFC 3339)")
	}
	if claimedAt.After(now.Add(PerkMaxFuture)) {
		return PerkGrant{}, ErrPerkFutureTime
	}
	claimedAt = claimedAt.UTC()
	pid, key, err := ParseGrantID(grantID)
	if err != nil {
		return PerkGrant{}, err
	}
	var g PerkGrant
	err = s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		g, err = s.claim(ctx, tx, p, pid, customerID, key, claimedAt, now)
		return err
	})
	return g, err
}

func (s *PerkService) claim(ctx context.Context, tx *sqlx.Tx, p auth.Principal, pid int64, customerID, key string, claimedAt, now time.Time) (PerkGrant, error) {
	if ok, err := lockPerkCardholder(ctx, tx, customerID); err != nil || !ok {
		return PerkGrant{}, orNotFound(err, ErrPerkGrantNotFound)
	}
	in, err := s.input(ctx, tx, pid, customerID)
	if errors.Is(err, ErrPerkNotFound) {
		return PerkGrant{}, ErrPerkGrantNotFound
	}
	if err != nil {
		return PerkGrant{}, err
	}
	cur, ok := evaluateAt(in, maxTime(now, claimedAt)).Grant(key)
	if !ok {
		return PerkGrant{}, ErrPerkGrantNotFound
	}
	if cur.ClaimedAt != nil {
		if cur.ClaimedAt.Equal(claimedAt) {
			return cur, nil
		}
		return PerkGrant{}, ErrPerkAlreadyClaimed
	}
	g, ok := evaluateAt(in, claimedAt).Grant(key)
	switch {
	case !ok:
		return PerkGrant{}, ErrPerkNotClaimable
	case g.State == StateLapsed:
		return PerkGrant{}, ErrPerkClaimWindow
	case g.State != StateClaimable:
		return PerkGrant{}, ErrPerkNotClaimable
	}
	c := PerkClaim{Key: key, ClaimedAt: claimedAt, Terms: g.PerkGrantTerms}
	if err := insertPerkClaim(ctx, tx, pid, customerID, c, p.Actor(), now); err != nil {
		return PerkGrant{}, err
	}
	if err := audit.Record(ctx, tx, audit.Entry{At: now, Actor: p.Actor(), Action: "perk_grant.claim", EntityType: "perk_grant",
		EntityID: g.ID, Detail: map[string]any{"customer_id": customerID, "claimed_at": claimedAt}}); err != nil {
		return PerkGrant{}, err
	}
	in.Claims = append(in.Claims, c)
	g, _ = evaluateAt(in, claimedAt).Grant(key)
	return g, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Perks returns the cardholder's ledger in every approved programme of
// their cards' products (or only programmeID when > 0) as of at.
func (s *PerkService) Perks(ctx context.Context, customerID string, programmeID int64, at time.Time) ([]PerkLedger, error) {
	if ok, err := perkCardholderExists(ctx, s.DB, customerID); err != nil || !ok {
		return nil, orNotFound(err, apperr.NotFoundf("no such cardholder"))
	}
	products, err := perkCustomerProducts(ctx, s.DB, customerID)
	if err != nil {
		return nil, err
	}
	out := []PerkLedger{}
	for _, prod := range products {
		ids, err := perkProgrammesByProduct(ctx, s.DB, prod)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if programmeID > 0 && id != programmeID {
				continue
			}
			l, err := s.ledger(ctx, s.DB, id, customerID, at)
			if err != nil {
				return nil, err
			}
			out = append(out, l)
		}
	}
	return out, nil
}

// orNotFound returns err when set, else notFound.
func orNotFound(err, notFound error) error {
	if err != nil {
		return err
	}
	return notFound
}
