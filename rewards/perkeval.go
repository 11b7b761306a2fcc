package rewards

import (
	"slices"
	"sort"
	"strconv"
	"time"
)

// Grant and coupon states.
const (
	StateClaimable = "claimable" // qualified, inside its claim window, not claimed
	StateLapsed    = "lapsed"    // claim window passed without a claim (final)
	StateClaimed   = "claimed"   // claimed; no coupon in effect yet
	StateEffective = "effective" // a coupon is in effect
	StateRedeemed  = "redeemed"  // every coupon redeemed
	StateExpired   = "expired"   // every coupon done, some unredeemed at the end of validity
)

// PerkVersion is one approved version of a programme's configuration; it
// governs events from EffectiveAt until the next version's EffectiveAt.
type PerkVersion struct {
	Version     int        `json:"version"`
	EffectiveAt time.Time  `json:"effective_at"`
	Config      PerkConfig `json:"config"`
}

// PerkRules are the approved versions of one programme, in ascending
// EffectiveAt.
type PerkRules struct {
	ProgrammeID int64
	Versions    []PerkVersion
}

// at returns the version in force at t.
func (p PerkRules) at(t time.Time) (PerkVersion, bool) {
	for i := len(p.Versions) - 1; i >= 0; i-- {
		if !p.Versions[i].EffectiveAt.After(t) {
			return p.Versions[i], true
		}
	}
	return PerkVersion{}, false
}

// latest returns the newest version in force at t, or the first one.
func (p PerkRules) latest(t time.Time) (PerkVersion, bool) {
	if v, ok := p.at(t); ok {
		return v, true
	}
	if len(p.Versions) > 0 {
		return p.Versions[0], true
	}
	return PerkVersion{}, false
}

// PerkGrantTerms are what a grant is: its rule, the events that qualified
// it and its parameters, fixed when it qualified. A claim stores them as
// a snapshot, so a claimed grant never changes.
type PerkGrantTerms struct {
	ID                 string    `json:"id"`
	Key                string    `json:"key"`
	Rule               string    `json:"rule"`
	Kind               string    `json:"kind"`
	Version            int       `json:"version"`
	Timezone           string    `json:"timezone"`
	CardID             string    `json:"card_id"`
	Tier               string    `json:"tier"`
	QualifiedAt        time.Time `json:"qualified_at"`
	QualifyingEvents   []string  `json:"qualifying_events"`
	ClaimUntil         time.Time `json:"claim_until,omitzero"` // exclusive end of the claim window
	Coupons            int       `json:"coupons"`
	ValueFen           int64     `json:"value_fen"` // per coupon
	CupsPerCoupon      int       `json:"cups_per_coupon"`
	ActivationPerMonth int       `json:"activation_per_month"`
	ValidityDays       int       `json:"validity_days"`
	PointsCost         int64     `json:"points_cost,omitempty"`
}

func (t PerkGrantTerms) loc() *time.Location { return perkLocation(t.Timezone) }

// PerkClaim is a claimed (or exchanged) grant: when, and its frozen terms.
type PerkClaim struct {
	Key       string
	ClaimedAt time.Time
	Terms     PerkGrantTerms
}

// PerkCoupon is one coupon of a claimed grant as of a date.
type PerkCoupon struct {
	ID          string     `json:"id"`
	ValueFen    int64      `json:"value_fen"`
	EffectiveAt time.Time  `json:"effective_at"`
	EffectiveOn string     `json:"effective_on"`
	ValidUntil  string     `json:"valid_until"` // last day, inclusive
	State       string     `json:"state"`
	RedeemedAt  *time.Time `json:"redeemed_at,omitempty"`
}

// PerkGrant is a grant with its dates and state as of a date.
type PerkGrant struct {
	PerkGrantTerms
	QualifiedOn string       `json:"qualified_on"`
	ClaimBy     string       `json:"claim_by,omitempty"` // last day of the claim window
	ClaimedAt   *time.Time   `json:"claimed_at,omitempty"`
	State       string       `json:"state"`
	CouponList  []PerkCoupon `json:"coupon_list"`
}

// PerkRefusal is a qualification that produced no grant because a cap was
// full.
type PerkRefusal struct {
	Rule        string    `json:"rule"`
	Key         string    `json:"key"`
	QualifiedAt time.Time `json:"qualified_at"`
	Reason      string    `json:"reason"`
}

// PerkStageReached is a map stage reached and its reward.
type PerkStageReached struct {
	Stage      int       `json:"stage"`
	Icons      int       `json:"icons"`
	DiscountBP int       `json:"discount_bp"`
	Gift       string    `json:"gift"`
	ReachedAt  time.Time `json:"reached_at"`
}

// PerkMap is the cardholder's map progress.
type PerkMap struct {
	Icons          int                `json:"icons"`
	Stage          int                `json:"stage"`
	Stages         []PerkStageReached `json:"stages"`
	NextStage      *int               `json:"next_stage"`
	NextStageIcons int                `json:"next_stage_icons,omitempty"`
	IconsMissing   int                `json:"icons_missing"`
}

// PerkLedger is everything a cardholder has from one programme as of At.
type PerkLedger struct {
	ProgrammeID int64         `json:"programme_id,string"`
	CustomerID  string        `json:"customer_id"`
	At          time.Time     `json:"at"`
	Grants      []PerkGrant   `json:"grants"`
	Refused     []PerkRefusal `json:"refused"`
	Map         PerkMap       `json:"map"`
}

// Grant returns the grant with the given key.
func (l PerkLedger) Grant(key string) (PerkGrant, bool) {
	for _, g := range l.Grants {
		if g.Key == key {
			return g, true
		}
	}
	return PerkGrant{}, false
}

// PerkInput is what EvaluatePerks derives a ledger from.
type PerkInput struct {
	Rules      PerkRules
	CustomerID string
	Events     []CardEvent // the customer's events, any order
	Claims     []PerkClaim // the customer's claims in this programme
	At         time.Time
}

type perkCard struct {
	ID, Product, Tier    string
	Primary, NewCustomer bool
	ApprovedAt           time.Time
}

type perkEval struct {
	in          PerkInput
	cards       map[string]perkCard
	purchases   []CardEvent
	reversals   map[string]CardEvent // by purchase event id, earliest
	redemptions map[string]time.Time // by coupon id, earliest
	claims      map[string]PerkClaim
}

// EvaluatePerks derives a cardholder's ledger as of in.At from the stored
// events and claims: only events and claims at or before At count, so the
// same input gives the same ledger whatever order the events arrived in.
func EvaluatePerks(in PerkInput) PerkLedger {
	ev := newPerkEval(in)
	var terms []PerkGrantTerms
	var refused []PerkRefusal
	for _, slug := range ev.slugs(RuleMilestone) {
		if g, ok := ev.milestone(slug); ok {
			terms = append(terms, g)
		}
	}
	for _, slug := range ev.slugs(RulePeriodic) {
		gs, rs := ev.periodic(slug)
		terms, refused = append(terms, gs...), append(refused, rs...)
	}
	terms = ev.withOtherClaims(terms)
	sort.SliceStable(terms, func(i, j int) bool {
		if !terms[i].QualifiedAt.Equal(terms[j].QualifiedAt) {
			return terms[i].QualifiedAt.Before(terms[j].QualifiedAt)
		}
		return terms[i].Key < terms[j].Key
	})
	l := PerkLedger{ProgrammeID: in.Rules.ProgrammeID, CustomerID: in.CustomerID, At: in.At, Refused: refused}
	for _, t := range terms {
		l.Grants = append(l.Grants, ev.grant(t))
	}
	l.Map = ev.stageMap(l.Grants)
	if l.Grants == nil {
		l.Grants = []PerkGrant{}
	}
	if l.Refused == nil {
		l.Refused = []PerkRefusal{}
	}
	return l
}

func newPerkEval(in PerkInput) *perkEval {
	ev := &perkEval{in: in, cards: map[string]perkCard{}, reversals: map[string]CardEvent{},
		redemptions: map[string]time.Time{}, claims: map[string]PerkClaim{}}
	events := slices.Clone(in.Events)
	sortEvents(events)
	for _, e := range events {
		if e.OccurredAt.After(in.At) {
			continue
		}
		ev.add(e)
	}
	for _, c := range in.Claims {
		if !c.ClaimedAt.After(in.At) {
			ev.claims[c.Key] = c
		}
	}
	return ev
}

func (ev *perkEval) add(e CardEvent) {
	switch e.Kind {
	case EventCardApproved:
		if _, dup := ev.cards[e.CardID]; !dup {
			ev.cards[e.CardID] = perkCard{ID: e.CardID, Product: e.Product, Tier: e.Tier,
				Primary: e.Primary != nil && *e.Primary, NewCustomer: e.NewCustomer != nil && *e.NewCustomer, ApprovedAt: e.OccurredAt}
		}
	case EventPurchase:
		ev.purchases = append(ev.purchases, e)
	case EventPurchaseReversed:
		if _, dup := ev.reversals[e.PurchaseEventID]; !dup {
			ev.reversals[e.PurchaseEventID] = e
		}
	case EventCouponRedeemed:
		if _, dup := ev.redemptions[e.CouponID]; !dup {
			ev.redemptions[e.CouponID] = e.OccurredAt
		}
	}
}

// sortEvents orders events by time, then by event id, so that evaluation
// never depends on arrival order.
func sortEvents(es []CardEvent) {
	sort.SliceStable(es, func(i, j int) bool {
		if !es[i].OccurredAt.Equal(es[j].OccurredAt) {
			return es[i].OccurredAt.Before(es[j].OccurredAt)
		}
		return es[i].EventID < es[j].EventID
	})
}

// slugs lists the rule slugs of a kind across every version.
func (ev *perkEval) slugs(kind string) []string {
	var out []string
	for _, v := range ev.in.Rules.Versions {
		for _, r := range v.Config.Rules {
			if r.Kind == kind && !slices.Contains(out, r.Slug) {
				out = append(out, r.Slug)
			}
		}
	}
	return out
}

// ruleFor returns the version and rule that judge purchase p for a rule
// slug, and p's card, when p counts for it at all.
func (ev *perkEval) ruleFor(slug, kind string, p CardEvent) (PerkVersion, PerkRule, perkCard, bool) {
	v, ok := ev.in.Rules.at(p.OccurredAt)
	if !ok {
		return v, PerkRule{}, perkCard{}, false
	}
	r, ok := v.Config.Rule(slug)
	card, known := ev.cards[p.CardID]
	if !ok || r.Kind != kind || !known || card.Product != v.Config.Product || !r.eligible(card) ||
		!v.Config.inPeriod(p.OccurredAt) || p.OccurredAt.Before(card.ApprovedAt) {
		return v, r, card, false
	}
	return v, r, card, true
}

// terms builds a grant's terms from the purchase that completed it.
func (ev *perkEval) terms(key string, v PerkVersion, r PerkRule, q CardEvent, used []CardEvent) PerkGrantTerms {
	loc := v.Config.Location()
	card := ev.cards[q.CardID]
	ids := make([]string, len(used))
	for i, u := range used {
		ids[i] = u.EventID
	}
	return PerkGrantTerms{ID: GrantID(ev.in.Rules.ProgrammeID, key), Key: key, Rule: r.Slug, Kind: r.Kind,
		Version: v.Version, Timezone: v.Config.Timezone, CardID: card.ID, Tier: card.Tier,
		QualifiedAt: q.OccurredAt, QualifyingEvents: ids, ClaimUntil: PerkWindowEnd(q.OccurredAt, r.ClaimDays, loc),
		Coupons: r.Coupons, ValueFen: r.valueFor(card.Tier), CupsPerCoupon: r.CupsPerCoupon,
		ActivationPerMonth: r.ActivationPerMonth, ValidityDays: r.ValidityDays, PointsCost: r.PointsCost}
}

// qualify returns the purchase that completes a grant among ps (in time
// order), where need(n, p) says whether p as the n-th live purchase
// completes it. A reversal removes its purchase only while the grant is
// still open (not yet qualified, or claimable); a reversal after the claim
// window passed changes nothing (a lapsed grant is final). Claimed grants
// never get here: their snapshot stands.
func (ev *perkEval) qualify(ps []CardEvent, need func(n int, p CardEvent) bool, until func(p CardEvent) time.Time) (CardEvent, []CardEvent, bool) {
	live := slices.Clone(ps)
	find := func() int {
		for i := range live {
			if need(i+1, live[i]) {
				return i
			}
		}
		return -1
	}
	var revs []CardEvent
	for _, p := range ps {
		if r, ok := ev.reversals[p.EventID]; ok {
			revs = append(revs, r)
		}
	}
	sortEvents(revs)
	for _, r := range revs {
		if i := find(); i >= 0 && !r.OccurredAt.Before(live[i].OccurredAt) && !r.OccurredAt.Before(until(live[i])) {
			break
		}
		live = slices.DeleteFunc(live, func(p CardEvent) bool { return p.EventID == r.PurchaseEventID })
	}
	i := find()
	if i < 0 {
		return CardEvent{}, nil, false
	}
	return live[i], live[:i+1], true
}

// milestone evaluates a milestone rule: any one purchase of at least the
// amount within the days after the card's approval qualifies, once.
func (ev *perkEval) milestone(slug string) (PerkGrantTerms, bool) {
	if c, ok := ev.claims[slug]; ok {
		return c.Terms, true
	}
	var cands []CardEvent
	for _, p := range ev.purchases {
		v, r, card, ok := ev.ruleFor(slug, RuleMilestone, p)
		if ok && p.AmountFen >= r.MinAmountFen && p.OccurredAt.Before(PerkWindowEnd(card.ApprovedAt, r.WithinDays, v.Config.Location())) {
			cands = append(cands, p)
		}
	}
	q, _, found := ev.qualify(cands, func(n int, _ CardEvent) bool { return n == 1 }, ev.claimUntil(slug, RuleMilestone))
	if !found {
		return PerkGrantTerms{}, false
	}
	v, r, _, _ := ev.ruleFor(slug, RuleMilestone, q)
	return ev.terms(slug, v, r, q, []CardEvent{q}), true
}

// claimUntil returns a function giving the claim-window end of a grant
// completed by p.
func (ev *perkEval) claimUntil(slug, kind string) func(p CardEvent) time.Time {
	return func(p CardEvent) time.Time {
		v, r, _, _ := ev.ruleFor(slug, kind, p)
		return PerkWindowEnd(p.OccurredAt, r.ClaimDays, v.Config.Location())
	}
}

// periodic evaluates a periodic-count rule: per natural period, the K-th
// live purchase qualifies a grant, within the yearly cap.
func (ev *perkEval) periodic(slug string) ([]PerkGrantTerms, []PerkRefusal) {
	groups := map[string][]CardEvent{}
	for _, p := range ev.purchases {
		v, r, _, ok := ev.ruleFor(slug, RulePeriodic, p)
		if !ok {
			continue
		}
		loc := v.Config.Location()
		key := slug + "-" + PerkDate(PerkPeriodStart(r.Period, p.OccurredAt, loc), loc)
		groups[key] = append(groups[key], p)
	}
	var cands []PerkGrantTerms
	for key, ps := range groups {
		if c, ok := ev.claims[key]; ok {
			cands = append(cands, c.Terms)
			continue
		}
		need := func(n int, p CardEvent) bool {
			_, r, _, _ := ev.ruleFor(slug, RulePeriodic, p)
			return n >= r.Purchases
		}
		if q, used, ok := ev.qualify(ps, need, ev.claimUntil(slug, RulePeriodic)); ok {
			v, r, _, _ := ev.ruleFor(slug, RulePeriodic, q)
			cands = append(cands, ev.terms(key, v, r, q, used))
		}
	}
	for key, c := range ev.claims {
		if _, ok := groups[key]; !ok && c.Terms.Rule == slug && c.Terms.Kind == RulePeriodic {
			cands = append(cands, c.Terms)
		}
	}
	return ev.capYearly(slug, cands)
}

// capYearly keeps grants in order of qualifying time while the year's
// count of grants claimed or still claimable at that time is under the
// cap; a period belongs to the year of its qualifying day. Claimed grants
// always stand, and count against the cap even when late events make an
// earlier period qualify, so a late arrival never exceeds the cap.
func (ev *perkEval) capYearly(slug string, cands []PerkGrantTerms) ([]PerkGrantTerms, []PerkRefusal) {
	sort.Slice(cands, func(i, j int) bool {
		if !cands[i].QualifiedAt.Equal(cands[j].QualifiedAt) {
			return cands[i].QualifiedAt.Before(cands[j].QualifiedAt)
		}
		return cands[i].Key < cands[j].Key
	})
	var kept []PerkGrantTerms
	var refused []PerkRefusal
	for i, g := range cands {
		_, claimed := ev.claims[g.Key]
		v, ok := ev.in.Rules.at(g.QualifiedAt)
		r, _ := v.Config.Rule(slug)
		if claimed || !ok || r.YearlyCap <= 0 || ev.countInYear(kept, cands[i+1:], g, v.Config) < r.YearlyCap {
			kept = append(kept, g)
			continue
		}
		refused = append(refused, PerkRefusal{Rule: slug, Key: g.Key, QualifiedAt: g.QualifiedAt, Reason: "yearly_cap"})
	}
	return kept, refused
}

// countInYear counts the grants that hold a slot of g's year when g
// qualifies: earlier ones kept and claimed or still claimable then, and
// later ones already claimed.
func (ev *perkEval) countInYear(kept, later []PerkGrantTerms, g PerkGrantTerms, cfg PerkConfig) int {
	year := cfg.yearStart(g.QualifiedAt)
	n := 0
	for _, k := range kept {
		_, claimed := ev.claims[k.Key]
		if cfg.yearStart(k.QualifiedAt).Equal(year) && (claimed || k.ClaimUntil.After(g.QualifiedAt)) {
			n++
		}
	}
	for _, k := range later {
		if _, claimed := ev.claims[k.Key]; claimed && cfg.yearStart(k.QualifiedAt).Equal(year) {
			n++
		}
	}
	return n
}

// withOtherClaims adds claimed grants no rule derived (exchanges, and
// grants of rules a later version dropped).
func (ev *perkEval) withOtherClaims(terms []PerkGrantTerms) []PerkGrantTerms {
	have := map[string]bool{}
	for _, t := range terms {
		have[t.Key] = true
	}
	keys := make([]string, 0, len(ev.claims))
	for k := range ev.claims {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !have[k] && (ev.claims[k].Terms.Kind != RulePeriodic || !slices.Contains(ev.slugs(RulePeriodic), ev.claims[k].Terms.Rule)) {
			terms = append(terms, ev.claims[k].Terms)
		}
	}
	return terms
}

// grant computes a grant's state and coupons as of the ledger's date.
func (ev *perkEval) grant(t PerkGrantTerms) PerkGrant {
	at, loc := ev.in.At, t.loc()
	g := PerkGrant{PerkGrantTerms: t, QualifiedOn: PerkDate(t.QualifiedAt, loc), CouponList: []PerkCoupon{}}
	if !t.ClaimUntil.IsZero() {
		g.ClaimBy = PerkDate(t.ClaimUntil.Add(-time.Microsecond), loc)
	}
	c, claimed := ev.claims[t.Key]
	if !claimed {
		g.State = StateClaimable
		if !at.Before(t.ClaimUntil) {
			g.State = StateLapsed
		}
		return g
	}
	claimedAt := c.ClaimedAt
	g.ClaimedAt = &claimedAt
	g.CouponList = ev.coupons(t, claimedAt)
	g.State = grantState(g.CouponList)
	return g
}

func (ev *perkEval) coupons(t PerkGrantTerms, claimedAt time.Time) []PerkCoupon {
	loc := t.loc()
	out := make([]PerkCoupon, 0, t.Coupons)
	for i, eff := range PerkActivations(claimedAt, t.Coupons, t.ActivationPerMonth, loc) {
		end := PerkWindowEnd(eff, t.ValidityDays, loc)
		c := PerkCoupon{ID: CouponID(t.ID, i+1), ValueFen: t.ValueFen, EffectiveAt: eff.UTC(),
			EffectiveOn: PerkDate(eff, loc), ValidUntil: PerkLastDay(eff, t.ValidityDays, loc)}
		r, redeemed := ev.redemptions[c.ID]
		switch {
		case eff.After(ev.in.At):
			c.State = StateClaimed
		case redeemed && !r.Before(eff) && r.Before(end):
			c.State, c.RedeemedAt = StateRedeemed, &r
		case !ev.in.At.Before(end):
			c.State = StateExpired
		default:
			c.State = StateEffective
		}
		out = append(out, c)
	}
	return out
}

// grantState sums up coupon states: effective while any coupon is in
// effect, claimed while any waits, then redeemed when all were, else expired.
func grantState(cs []PerkCoupon) string {
	has := func(s string) bool {
		return slices.ContainsFunc(cs, func(c PerkCoupon) bool { return c.State == s })
	}
	switch {
	case has(StateEffective):
		return StateEffective
	case has(StateClaimed):
		return StateClaimed
	case !has(StateExpired):
		return StateRedeemed
	}
	return StateExpired
}

// stageMap lights icons when grants are claimed and walks the stages in
// time order, each judged by the version in force when it was reached.
func (ev *perkEval) stageMap(grants []PerkGrant) PerkMap {
	type light struct {
		at    time.Time
		icons int
	}
	var ls []light
	for _, g := range grants {
		if g.ClaimedAt != nil {
			ls = append(ls, light{*g.ClaimedAt, g.Coupons * g.CupsPerCoupon})
		}
	}
	sort.SliceStable(ls, func(i, j int) bool { return ls[i].at.Before(ls[j].at) })
	m := PerkMap{Stages: []PerkStageReached{}}
	for _, l := range ls {
		m.Icons += l.icons
		v, _ := ev.in.Rules.latest(l.at)
		for i, st := range v.Config.Stages {
			if i+1 > m.Stage && m.Icons >= st.Icons {
				m.Stage = i + 1
				m.Stages = append(m.Stages, PerkStageReached{Stage: i + 1, Icons: st.Icons, DiscountBP: st.DiscountBP, Gift: st.Gift, ReachedAt: l.at})
			}
		}
	}
	if v, ok := ev.in.Rules.latest(ev.in.At); ok && m.Stage < len(v.Config.Stages) {
		next := m.Stage + 1
		m.NextStage, m.NextStageIcons = &next, v.Config.Stages[m.Stage].Icons
		m.IconsMissing = max(0, m.NextStageIcons-m.Icons)
	}
	return m
}

// exchangeKey is the grant key of the exchange requested by stored event seq.
func exchangeKey(slug string, seq int64) string { return slug + "-" + strconv.FormatInt(seq, 10) }

// DecideExchange decides a points-exchange request e against the
// cardholder's events and every exchange already granted (caps count all
// of them, whatever order requests arrived in). It returns the grant's
// terms, or a Conflict naming the rule that refused it.
func DecideExchange(rules PerkRules, events []CardEvent, claims []PerkClaim, e CardEvent) (PerkGrantTerms, error) {
	ev := newPerkEval(PerkInput{Rules: rules, CustomerID: e.CustomerID, Events: events, Claims: claims, At: e.OccurredAt})
	for _, c := range claims {
		ev.claims[c.Key] = c // caps count exchanges granted after e too
	}
	v, ok := rules.at(e.OccurredAt)
	if !ok {
		return PerkGrantTerms{}, ErrPerkNoExchange
	}
	for _, r := range v.Config.Rules {
		if r.Kind != RuleExchange {
			continue
		}
		if _, _, _, ok := ev.ruleFor(r.Slug, RuleExchange, e); !ok {
			continue
		}
		if err := ev.exchangeCaps(v.Config, r, e.OccurredAt); err != nil {
			return PerkGrantTerms{}, err
		}
		t := ev.terms(exchangeKey(r.Slug, e.Seq), v, r, e, []CardEvent{e})
		t.ClaimUntil = time.Time{}
		return t, nil
	}
	return PerkGrantTerms{}, ErrPerkNoExchange
}

func (ev *perkEval) exchangeCaps(cfg PerkConfig, r PerkRule, at time.Time) error {
	loc := cfg.Location()
	month, year := PerkMonthStart(at, loc), cfg.yearStart(at)
	var inMonth, inYear int
	for _, c := range ev.claims {
		if c.Terms.Rule != r.Slug || c.Terms.Kind != RuleExchange {
			continue
		}
		if PerkMonthStart(c.Terms.QualifiedAt, loc).Equal(month) {
			inMonth++
		}
		if cfg.yearStart(c.Terms.QualifiedAt).Equal(year) {
			inYear++
		}
	}
	switch {
	case r.MonthlyCap > 0 && inMonth >= r.MonthlyCap:
		return ErrPerkMonthlyCap
	case r.YearlyCap > 0 && inYear >= r.YearlyCap:
		return ErrPerkYearlyCap
	}
	return nil
}
