package rewards

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/clock"
	"rmref/internal/db"
)

// CreditChain is where the credited staff member sat when the conversion
// happened (0 where the path has no unit of that kind).
type CreditChain struct {
	UnitID      int64
	TeamID      int64
	SubbranchID int64
	BranchID    int64
	RegionID    int64
}

// CreditEvent is what staff incentives consume from attribution: one
// credit (a staff member's share of one conversion). Declared here, by the
// consumer; attribution fills it inside its conversion transaction.
type CreditEvent struct {
	CreditID       int64
	ConversionID   int64
	CampaignID     int64
	StaffID        int64
	ConversionType string
	Weight         int64 // fixed point, WeightScale (1_000_000) is a whole credit
	CreditedFen    int64 // the credit's share of the conversion amount
	OccurredAt     time.Time
	Chain          CreditChain
}

// ReversalEvent says that (part of) a credited conversion was reversed at
// At: ReversedFen of the credit's CreditedFen, or all of it when Full is
// set (or the credit carried no amount).
type ReversalEvent struct {
	CreditID     int64
	ConversionID int64
	ReversedFen  int64
	Full         bool
	At           time.Time
}

// Ledger entries.
const (
	EntryEarning  = "earning"  // what a rule paid (after caps and budget)
	EntryCancel   = "cancel"   // negative: a reversal inside the holding period
	EntryClawback = "clawback" // negative: a reversal after approval, netted later
)

// Incentives is the staff-incentive service: plans, earnings from credits,
// views and settlement.
type Incentives struct {
	db    *db.DB
	clock clock.Clock
	st    incStore
	plans sync.Map // campaign id → approved plans, keyed by the newest id
}

// NewIncentives returns the service.
func NewIncentives(d *db.DB, clk clock.Clock) *Incentives {
	return &Incentives{db: d, clock: clk, st: incStore{dialect: d.Dialect}}
}

// OnCredits computes the earnings of new credits inside the caller's
// transaction (it opens none). Credits already seen are ignored, so a
// retried conversion earns nothing twice. Campaigns are handled in id
// order and each campaign's budget row is locked first, so concurrent
// transactions queue and the budget is never overspent.
func (s *Incentives) OnCredits(ctx context.Context, tx sqlx.ExtContext, evs []CreditEvent) error {
	byCampaign := map[int64][]CreditEvent{}
	var ids []int64
	for _, ev := range evs {
		if _, ok := byCampaign[ev.CampaignID]; !ok {
			ids = append(ids, ev.CampaignID)
		}
		byCampaign[ev.CampaignID] = append(byCampaign[ev.CampaignID], ev)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		if err := s.campaignCredits(ctx, tx, id, byCampaign[id]); err != nil {
			return err
		}
	}
	return nil
}

// incRun is one campaign's state while earnings are computed in a transaction.
type incRun struct {
	camp   incCampaign
	budget incBudget // UsedFen includes spent, not yet written
	plans  []IncentivePlan
	now    time.Time
	caps   map[capKey]*capUse
	prog   map[progKey]*progUse
	spent  int64        // budget spent in memory, written by flush
	lines  []earningRow // lines queued, written by flush
}

func (s *Incentives) openRun(ctx context.Context, tx sqlx.ExtContext, campaignID int64) (*incRun, bool, error) {
	b, ok, err := s.st.lockBudget(ctx, tx, campaignID)
	if err != nil || !ok {
		return nil, false, err
	}
	loc, err := incLocation(b.Timezone)
	if err != nil {
		return nil, false, fmt.Errorf("rewards: campaign %d time zone: %w", campaignID, err)
	}
	camp := incCampaign{ID: campaignID, Code: b.Code, Name: b.Name, Timezone: b.Timezone, HoldingDays: b.HoldingDays, loc: loc}
	plans, err := s.approvedPlans(ctx, tx, campaignID, b.LastPlanID)
	if err != nil {
		return nil, false, err
	}
	return &incRun{camp: camp, budget: b, plans: plans, now: s.clock.Now(), caps: map[capKey]*capUse{}, prog: map[progKey]*progUse{}}, true, nil
}

// approvedPlans returns the campaign's approved versions, cached until a
// newer version is approved (approved versions never change).
func (s *Incentives) approvedPlans(ctx context.Context, tx sqlx.ExtContext, campaignID, lastID int64) ([]IncentivePlan, error) {
	type cached struct {
		lastID int64
		plans  []IncentivePlan
	}
	if v, ok := s.plans.Load(campaignID); ok && v.(cached).lastID == lastID {
		return v.(cached).plans, nil
	}
	plans, err := s.st.approvedPlans(ctx, tx, campaignID)
	if err != nil {
		return nil, err
	}
	if n := len(plans); n > 0 && plans[n-1].ID == lastID {
		s.plans.Store(campaignID, cached{lastID, plans})
	}
	return plans, nil
}

func (s *Incentives) campaignCredits(ctx context.Context, tx sqlx.ExtContext, campaignID int64, evs []CreditEvent) error {
	run, ok, err := s.openRun(ctx, tx, campaignID)
	if err != nil || !ok {
		return err
	}
	for _, ev := range evs {
		if err := s.credit(ctx, tx, run, ev); err != nil {
			return fmt.Errorf("rewards: credit %d: %w", ev.CreditID, err)
		}
	}
	return s.flush(ctx, tx, run)
}

const qInsertIncCredit = `INSERT INTO incentive_credits (credit_id, conversion_id, campaign_id, staff_id, conversion_type, weight_micro,
credited_fen, occurred_at, unit_id, team_id, branch_id, plan_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func (s *Incentives) credit(ctx context.Context, tx sqlx.ExtContext, run *incRun, ev CreditEvent) error {
	plan, ok := planAt(run.plans, ev.OccurredAt)
	if !ok || ev.Weight <= 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, qInsertIncCredit, ev.CreditID, ev.ConversionID, ev.CampaignID, ev.StaffID, ev.ConversionType, ev.Weight,
		ev.CreditedFen, db.Micros(ev.OccurredAt), ev.Chain.UnitID, ev.Chain.TeamID, ev.Chain.BranchID, plan.ID, db.Micros(run.now))
	if s.st.dialect.IsUniqueViolation(err) {
		return nil // seen before: it earned already (the failed statement changed nothing)
	}
	if err != nil {
		return err
	}
	if err := s.prefetch(ctx, tx, run, plan, ev); err != nil {
		return err
	}
	for _, r := range plan.Rules {
		if r.Kind == KindPool || (r.ConversionType != "" && r.ConversionType != ev.ConversionType) {
			continue
		}
		if err := s.applyRule(ctx, tx, run, plan, r, ev); err != nil {
			return err
		}
	}
	return nil
}

// applyRule computes what rule r owes for credit ev and books it.
func (s *Incentives) applyRule(ctx context.Context, tx sqlx.ExtContext, run *incRun, plan IncentivePlan, r IncentiveRule, ev CreditEvent) error {
	line := earningRow{RuleID: r.ID, RuleKind: r.Kind, CreditID: nullID(ev.CreditID), ConversionID: nullID(ev.ConversionID)}
	var amount int64
	var err error
	switch r.Kind {
	case KindBounty:
		amount = BountyAmount(r.Amount, ev.Weight)
	case KindPercentage:
		amount = PercentageAmount(ev.CreditedFen, r.RateBP)
	case KindTier:
		line.PeriodKey = incentivePeriodKey(r.Period, ev.OccurredAt, run.camp.loc)
		amount, err = s.tierStep(ctx, tx, run, r, ev, line.PeriodKey)
	case KindStage:
		line.PeriodKey = IncentiveCampaign
		amount, err = s.stageStep(ctx, tx, run, r, ev)
	}
	if err != nil || amount <= 0 {
		return err
	}
	return s.book(ctx, tx, run, plan, ev.StaffID, r.Currency, amount, ev.OccurredAt, line)
}

// tierStep advances the staff member's quantity in the tier's period and
// returns what the tier owes for this credit: the rise in entitlement.
func (s *Incentives) tierStep(ctx context.Context, tx sqlx.ExtContext, run *incRun, r IncentiveRule, ev CreditEvent, key string) (int64, error) {
	u, err := s.progUse(ctx, tx, run, progKey{ev.StaffID, r.ID, key})
	if err != nil {
		return 0, err
	}
	p := &u.p
	u.dirty = true
	if r.Basis == TierByCount {
		p.Qty += ev.Weight
	} else {
		p.Qty += ev.CreditedFen
	}
	next := TierEntitlement(r, p.Qty)
	owed := next - p.Entitled
	if owed > 0 {
		p.Entitled = next
	}
	return max(owed, 0), nil
}

// stageStep pays the stage bonus once, on the credit that reaches the threshold.
func (s *Incentives) stageStep(ctx context.Context, tx sqlx.ExtContext, run *incRun, r IncentiveRule, ev CreditEvent) (int64, error) {
	u, err := s.progUse(ctx, tx, run, progKey{ev.StaffID, r.ID, IncentiveCampaign})
	if err != nil {
		return 0, err
	}
	p := &u.p
	u.dirty = true
	p.Qty += ev.Weight
	var owed int64
	if p.Done == 0 && p.Qty >= r.Threshold*WeightScale {
		p.Done, p.Entitled, owed = 1, r.Amount, r.Amount
	}
	return owed, nil
}

// book clamps amount to the staff member's caps and the campaign budget,
// records the rest as capped with the reason, and queues the ledger line;
// cap room, budget and lines are written by flush at the end of the run.
func (s *Incentives) book(ctx context.Context, tx sqlx.ExtContext, run *incRun, plan IncentivePlan, staffID int64,
	currency string, amount int64, at time.Time, line earningRow) error {
	granted, reason, err := s.clamp(ctx, tx, run, plan, staffID, currency, amount, at)
	if err != nil {
		return err
	}
	if currency == CurrencyCash && run.budget.BudgetFen >= 0 {
		run.budget.UsedFen += granted
		run.spent += granted
	}
	line.CampaignID, line.StaffID, line.PlanID, line.Currency, line.Entry = run.camp.ID, staffID, plan.ID, currency, EntryEarning
	line.Amount, line.Capped, line.CappedReason = granted, amount-granted, reason
	line.OccurredAt, line.CreatedAt = db.Micros(at), db.Micros(run.now)
	if line.HoldUntil == 0 {
		line.HoldUntil = db.Micros(HoldUntil(at, run.camp.HoldingDays, run.camp.loc))
	}
	run.lines = append(run.lines, line)
	return nil
}

// capKey names one cap usage row.
type capKey struct {
	staffID               int64
	period, key, currency string
}

type capUse struct {
	used  int64
	dirty bool
}

// capUse returns the cap usage row, read (locked) once per run.
func (s *Incentives) capUse(ctx context.Context, tx sqlx.ExtContext, run *incRun, k capKey) (*capUse, error) {
	if u, ok := run.caps[k]; ok {
		return u, nil
	}
	used, err := s.st.capUsed(ctx, tx, run.camp.ID, k.staffID, k.period, k.key, k.currency)
	if err != nil {
		return nil, err
	}
	u := &capUse{used: used}
	run.caps[k] = u
	return u, nil
}

// clamp returns how much of amount fits under every cap of the currency
// and the budget, and names the tightest limit when it does not all fit.
func (s *Incentives) clamp(ctx context.Context, tx sqlx.ExtContext, run *incRun, plan IncentivePlan, staffID int64,
	currency string, amount int64, at time.Time) (int64, string, error) {
	granted, reason := amount, ""
	var uses []*capUse
	for _, c := range plan.Caps {
		if c.Currency != currency {
			continue
		}
		u, err := s.capUse(ctx, tx, run, capKey{staffID, c.Period, incentivePeriodKey(c.Period, at, run.camp.loc), currency})
		if err != nil {
			return 0, "", err
		}
		if left := max(c.Limit-u.used, 0); left < granted {
			granted, reason = left, "cap_"+c.Period
		}
		uses = append(uses, u)
	}
	if currency == CurrencyCash && run.budget.BudgetFen >= 0 {
		if left := max(run.budget.left(), 0); left < granted {
			granted, reason = left, "budget"
		}
	}
	for _, u := range uses {
		u.used += granted
		u.dirty = true
	}
	return granted, reason, nil
}

// flush writes what the run queued: cap usage, the budget spent (one
// conditional update) and the ledger lines (multi-row inserts).
func (s *Incentives) flush(ctx context.Context, tx sqlx.ExtContext, run *incRun) error {
	if err := s.flushProgress(ctx, tx, run); err != nil {
		return err
	}
	if err := s.flushCaps(ctx, tx, run); err != nil {
		return err
	}
	if run.spent != 0 {
		b := run.budget
		b.UsedFen -= run.spent
		if err := s.st.spendBudget(ctx, tx, &b, run.spent, run.now); err != nil {
			return err
		}
		run.spent = 0
	}
	for len(run.lines) > 0 {
		n := min(len(run.lines), 100)
		if err := s.st.insertEarnings(ctx, tx, run.lines[:n]); err != nil {
			return err
		}
		run.lines = run.lines[n:]
	}
	return nil
}

// progKey names one progress row of a tier or stage rule.
type progKey struct {
	staffID   int64
	rule, key string
}

type progUse struct {
	p     incProgress
	dirty bool
}

// progUse returns the progress row, read (locked) once per run.
func (s *Incentives) progUse(ctx context.Context, tx sqlx.ExtContext, run *incRun, k progKey) (*progUse, error) {
	if u, ok := run.prog[k]; ok {
		return u, nil
	}
	p, err := s.st.progress(ctx, tx, run.camp.ID, k.staffID, k.rule, k.key)
	if err != nil {
		return nil, err
	}
	u := &progUse{p: p}
	run.prog[k] = u
	return u, nil
}

// prefetch reads, in one statement each, the progress rows of the tier and
// stage rules and the cap usage rows that credit ev will need, so that the
// rules then find them in the run.
func (s *Incentives) prefetch(ctx context.Context, tx sqlx.ExtContext, run *incRun, plan IncentivePlan, ev CreditEvent) error {
	var rules, keys []string
	want := map[progKey]bool{}
	applies := false
	for _, r := range plan.Rules {
		if r.Kind == KindPool || (r.ConversionType != "" && r.ConversionType != ev.ConversionType) {
			continue
		}
		applies = true
		var k progKey
		switch r.Kind {
		case KindTier:
			k = progKey{ev.StaffID, r.ID, incentivePeriodKey(r.Period, ev.OccurredAt, run.camp.loc)}
		case KindStage:
			k = progKey{ev.StaffID, r.ID, IncentiveCampaign}
		default:
			continue
		}
		if _, ok := run.prog[k]; ok || want[k] {
			continue
		}
		want[k] = true
		rules, keys = append(rules, k.rule), append(keys, k.key)
	}
	if len(want) > 0 {
		rows, err := s.st.progressRows(ctx, tx, run.camp.ID, ev.StaffID, rules, keys)
		if err != nil {
			return err
		}
		for k := range want {
			run.prog[k] = &progUse{}
		}
		for _, r := range rows {
			if u, ok := run.prog[progKey{ev.StaffID, r.RuleID, r.PeriodKey}]; ok && want[progKey{ev.StaffID, r.RuleID, r.PeriodKey}] {
				u.p = r.incProgress
			}
		}
	}
	if !applies || len(plan.Caps) == 0 {
		return nil
	}
	var periods []string
	keys = keys[:0]
	wantCap := map[capKey]bool{}
	for _, c := range plan.Caps {
		k := capKey{ev.StaffID, c.Period, incentivePeriodKey(c.Period, ev.OccurredAt, run.camp.loc), c.Currency}
		if _, ok := run.caps[k]; ok || wantCap[k] {
			continue
		}
		wantCap[k] = true
		periods, keys = append(periods, k.period), append(keys, k.key)
	}
	if len(wantCap) == 0 {
		return nil
	}
	rows, err := s.st.capRows(ctx, tx, run.camp.ID, ev.StaffID, periods, keys)
	if err != nil {
		return err
	}
	for k := range wantCap {
		run.caps[k] = &capUse{}
	}
	for _, r := range rows {
		k := capKey{ev.StaffID, r.Period, r.Key, r.Currency}
		if wantCap[k] {
			run.caps[k].used = r.Used
		}
	}
	return nil
}

// flushProgress writes the run's changed progress rows (one statement).
func (s *Incentives) flushProgress(ctx context.Context, tx sqlx.ExtContext, run *incRun) error {
	var keys []progKey
	for k, u := range run.prog {
		if u.dirty {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.staffID != b.staffID {
			return a.staffID < b.staffID
		}
		if a.rule != b.rule {
			return a.rule < b.rule
		}
		return a.key < b.key
	})
	for len(keys) > 0 {
		n := min(len(keys), 100)
		ps := make([]incProgress, n)
		for i, k := range keys[:n] {
			ps[i] = run.prog[k].p
			run.prog[k].dirty = false
		}
		if err := s.st.setProgressRows(ctx, tx, run.camp.ID, keys[:n], ps); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// flushCaps writes the run's changed cap usage rows (one statement).
func (s *Incentives) flushCaps(ctx context.Context, tx sqlx.ExtContext, run *incRun) error {
	var keys []capKey
	for k, u := range run.caps {
		if u.dirty {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.staffID != b.staffID {
			return a.staffID < b.staffID
		}
		if a.period != b.period {
			return a.period < b.period
		}
		if a.key != b.key {
			return a.key < b.key
		}
		return a.currency < b.currency
	})
	for len(keys) > 0 {
		n := min(len(keys), 100)
		used := make([]int64, n)
		for i, k := range keys[:n] {
			used[i] = run.caps[k].used
			run.caps[k].dirty = false
		}
		if err := s.st.setCapRows(ctx, tx, run.camp.ID, keys[:n], used); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}
