package attribution

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/customer"
	"rmref/internal/audit"
	"rmref/internal/db"
)

// gathered is what attributing one conversion reads, shared by its campaigns.
type gathered struct {
	conv     Conversion
	cluster  customer.Cluster
	bindings []Binding
	touches  []Touch
	fresh    bool // a new conversion (no disputes yet)
	later    bool // the cluster has conversions after it (when asked)
}

// attributeConversion decides the conversion in every campaign covering
// it and stores the result. why is "" for a first attribution, else the
// reason for re-attributing (late touch, identity link, settings, dispute).
func (s *Service) attributeConversion(ctx context.Context, ext sqlx.ExtContext, row conversionRow, cl customer.Cluster, why, actor string, now time.Time) error {
	at := db.FromMicros(row.OccurredAt)
	camps, err := s.Campaigns.Covering(ctx, ext, at)
	if err != nil || len(camps) == 0 {
		return err
	}
	g, err := s.gather(ctx, ext, row, cl, camps, false)
	if err != nil {
		return err
	}
	g.fresh = why == ""
	for _, c := range camps {
		res, err := s.decide(ctx, ext, g, c)
		if err != nil {
			return err
		}
		if err := s.apply(ctx, ext, row, c, res, why, actor, now); err != nil {
			return err
		}
	}
	return nil
}

// gather reads the bindings and the touches (contacts and clicks) of the
// customer within the longest lookback of the campaigns; with later, it
// also tells (in the same query) whether the cluster has conversions after
// the new conversion row.
func (s *Service) gather(ctx context.Context, ext sqlx.ExtContext, row conversionRow, cl customer.Cluster, camps []Campaign, later bool) (gathered, error) {
	at := db.FromMicros(row.OccurredAt)
	g := gathered{conv: Conversion{ID: row.ID, Type: row.Type, AmountFen: row.AmountFen, OccurredAt: at}, cluster: cl}
	lookback := 0
	for _, c := range camps {
		lookback = max(lookback, c.Settings.WithDefaults().LookbackDays)
	}
	from := at.Add(-time.Duration(lookback) * Day)
	var err error
	if later {
		g.touches, g.later, err = s.Store.clusterTouchesAndLater(ctx, ext, cl.ID, from, row)
	} else {
		g.touches, err = s.Store.clusterTouches(ctx, ext, cl.ID, from, at)
	}
	if err != nil {
		return g, err
	}
	clicks, err := s.Referrals.Clicks(ctx, ext, cl.Values(customer.KindVisitor), cl.Values(customer.KindClick), from, at)
	if err != nil {
		return g, err
	}
	g.touches = append(g.touches, clicks...)
	g.bindings = s.bindings(ctx, ext, row)
	return g, nil
}

// bindings resolves the code and token presented with the conversion; one
// that does not resolve is kept, marked invalid, for the explanation.
func (s *Service) bindings(ctx context.Context, ext sqlx.ExtContext, row conversionRow) []Binding {
	var out []Binding
	if row.InvitationCode != "" {
		b, err := s.Referrals.CodeBinding(ctx, ext, row.InvitationCode)
		if err != nil {
			b = Binding{Via: "code", Code: row.InvitationCode, Invalid: "unknown_code"}
		}
		out = append(out, b)
	}
	if row.ReferralToken != "" {
		b, _, err := s.Referrals.TokenBinding(ctx, ext, row.ReferralToken)
		if err != nil {
			b = Binding{Via: "token", Invalid: "invalid_token"}
		}
		out = append(out, b)
	}
	return out
}

// decide runs the engine for one campaign.
func (s *Service) decide(ctx context.Context, ext sqlx.ExtContext, g gathered, c Campaign) (Result, error) {
	set := c.Settings.WithDefaults()
	prot, err := s.Store.protectionAt(ctx, ext, g.cluster.ID, c.ID, g.conv.ID, g.conv.OccurredAt, set.ProtectionDays)
	if err != nil {
		return Result{}, err
	}
	staff, err := s.Directory.StaffAt(ctx, ext, staffIDs(g, prot), g.conv.OccurredAt)
	if err != nil {
		return Result{}, err
	}
	in := Input{Conversion: g.conv, PhoneHashes: g.cluster.Values(customer.KindPhone), Campaign: c,
		Bindings: g.bindings, Touches: g.touches, Protection: prot, Staff: staff}
	res := Attribute(in)
	if g.fresh {
		return res, nil
	}
	moves, err := s.Store.approvedMoves(ctx, ext, g.conv.ID, c.ID)
	if err != nil {
		return Result{}, err
	}
	return s.applyMoves(ctx, ext, res, moves, g.conv.OccurredAt)
}

func staffIDs(g gathered, p *Protection) []int64 {
	var ids []int64
	for _, b := range g.bindings {
		ids = append(ids, b.StaffID)
	}
	for _, t := range g.touches {
		ids = append(ids, t.StaffID)
	}
	if p != nil {
		ids = append(ids, p.StaffID)
	}
	slices.Sort(ids)
	return slices.Compact(slices.DeleteFunc(ids, func(id int64) bool { return id == 0 }))
}

// apply stores a decision: on first attribution, or on re-attribution of
// a campaign not frozen, the credits are replaced (rollups adjusted by
// deltas); a frozen campaign gets adjustments instead.
func (s *Service) apply(ctx context.Context, ext sqlx.ExtContext, row conversionRow, c Campaign, res Result, why, actor string, now time.Time) error {
	if why == "" { // a new conversion: nothing stored for it yet
		return s.firstApply(ctx, ext, row, newCreditRows(row, c, res, now), res, now)
	}
	old, err := s.Store.credits(ctx, ext, row.ID, c.ID)
	if err != nil {
		return err
	}
	fresh, err := s.creditRows(ctx, ext, row, c, res, now)
	if err != nil {
		return err
	}
	if why != "" && c.FrozenAt(now) {
		return s.adjust(ctx, ext, row, c, old, fresh, why, actor, now)
	}
	if why != "" && sameCredits(old, fresh) {
		return s.Store.saveAttribution(ctx, ext, row.ID, db.FromMicros(row.OccurredAt), res, now)
	}
	if err := s.Store.deleteCredits(ctx, ext, old); err != nil {
		return err
	}
	if err := s.Store.insertCredits(ctx, ext, fresh); err != nil {
		return err
	}
	if err := s.Store.saveAttribution(ctx, ext, row.ID, db.FromMicros(row.OccurredAt), res, now); err != nil {
		return err
	}
	if err := s.notify(ctx, ext, row.ID); err != nil {
		return err
	}
	return audit.Record(ctx, ext, audit.Entry{At: now, Actor: actor, Action: "attribution.reattribute", EntityType: "conversion",
		EntityID: strconv.FormatInt(row.ID, 10), Detail: map[string]any{"campaign_id": strconv.FormatInt(c.ID, 10), "reason": why,
			"before": netByStaff(old), "after": netByStaff(fresh)}})
}

// firstApply stores the first decision of a new conversion (its credit
// rows made by newCreditRows), which has no credits, reversals or
// disputes yet.
func (s *Service) firstApply(ctx context.Context, ext sqlx.ExtContext, row conversionRow, rows []creditRow, res Result, now time.Time) error {
	if err := s.Store.insertCredits(ctx, ext, rows); err != nil {
		return err
	}
	if err := s.Store.insertAttribution(ctx, ext, row.ID, db.FromMicros(row.OccurredAt), res, now); err != nil {
		return err
	}
	return s.notify(ctx, ext, row.ID)
}

// creditRows turns a decision into credit rows and re-applies the
// conversion's reversals to them.
func (s *Service) creditRows(ctx context.Context, ext sqlx.ExtContext, row conversionRow, c Campaign, res Result, now time.Time) ([]creditRow, error) {
	out := newCreditRows(row, c, res, now)
	revs, err := s.Store.reversals(ctx, ext, row.ID)
	if err != nil {
		return nil, err
	}
	amount := row.AmountFen
	for _, r := range revs {
		out = append(out, reversalRows(out, r, amount, now)...)
	}
	return out, nil
}

// newCreditRows turns a decision's credits into rows, stamped with the
// conversion's day in the campaign's zone.
func newCreditRows(row conversionRow, c Campaign, res Result, now time.Time) []creditRow {
	loc := c.Location
	if loc == nil {
		loc = time.UTC
	}
	day := db.FromMicros(row.OccurredAt).In(loc).Format("2006-01-02")
	out := make([]creditRow, 0, len(res.Credits))
	for _, cr := range res.Credits {
		ch := cr.Chain
		out = append(out, creditRow{ConversionID: row.ID, CampaignID: c.ID, StaffID: cr.StaffID, Kind: "attribution",
			WeightMicro: int64(cr.Weight), CreditedFen: cr.CreditedFen, UnitID: ch.UnitID, UnitPath: ch.UnitPath, TeamID: ch.TeamID,
			SubbranchID: ch.SubbranchID, BranchID: ch.BranchID, RegionID: ch.RegionID, Day: day, OccurredAt: row.OccurredAt, CreatedAt: db.Micros(now)})
	}
	return out
}

// netByStaff sums credited fen per staff member.
func netByStaff(rows []creditRow) map[string]int64 {
	out := map[string]int64{}
	for _, r := range rows {
		out[strconv.FormatInt(r.StaffID, 10)] += r.CreditedFen
	}
	return out
}

// sameCredits reports whether two credit sets give every staff member and
// org chain the same weight and fen.
func sameCredits(a, b []creditRow) bool {
	type key struct {
		staff int64
		path  string
		kind  string
		rev   int64
	}
	sum := func(rows []creditRow) map[key][2]int64 {
		m := map[key][2]int64{}
		for _, r := range rows {
			k := key{r.StaffID, r.UnitPath, r.Kind, r.ReversalID}
			v := m[k]
			m[k] = [2]int64{v[0] + r.WeightMicro, v[1] + r.CreditedFen}
		}
		return m
	}
	ma, mb := sum(a), sum(b)
	if len(ma) != len(mb) {
		return false
	}
	for k, v := range ma {
		if mb[k] != v {
			return false
		}
	}
	return true
}
