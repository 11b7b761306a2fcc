package rewards_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/auth"
	"rmref/internal/clock"
	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/internal/testapp"
	"rmref/rewards"
)

// incFix is an org (HQ 总行 > branch 上海分行 > teams 一组, 二组) with staff,
// two campaign managers and two hq_admins, and a campaign factory.
type incFix struct {
	t          testing.TB
	d          *db.DB
	clk        *clock.Manual
	svc        *rewards.Incentives
	hq, branch int64
	teams      []int64
	staff      []int64 // E001 张三, E002 李四 (一组), E003 王五 (二组)
	teamOf     map[int64]int64
	cmA, cmB   auth.Principal
	hqA, hqB   auth.Principal
	nextCredit int64
}

var incShanghai = func() *time.Location {
	l, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return l
}()

// incSH is an instant in Shanghai.
func incSH(m time.Month, d, hh, mm, ss int) time.Time {
	return time.Date(2026, m, d, hh, mm, ss, 0, incShanghai)
}

func newIncFix(t testing.TB, d *db.DB) *incFix {
	t.Helper()
	s := testapp.NewSeeder(t, d)
	f := &incFix{t: t, d: d, clk: clock.NewManual(incSH(11, 1, 8, 0, 0)), teamOf: map[int64]int64{}}
	f.svc = rewards.NewIncentives(d, f.clk)
	f.hq = s.Unit("hq", "HQ", "总行", 0)
	f.branch = s.Unit("branch", "SH", "上海分行", f.hq)
	f.teams = []int64{s.Unit("team", "T1", "一组", f.branch), s.Unit("team", "T2", "二组", f.branch)}
	for i, m := range []struct{ no, name string }{{"E001", "张三"}, {"E002", "李四"}, {"E003", "王五"}} {
		team := f.teams[i/2]
		id := s.Staff(m.no, m.name, team)
		f.staff = append(f.staff, id)
		f.teamOf[id] = team
	}
	f.cmA = f.principal(s.Staff("CM1", "策划甲", f.hq, auth.RoleCampaignManager), "CM1", auth.RoleCampaignManager)
	f.cmB = f.principal(s.Staff("CM2", "策划乙", f.hq, auth.RoleCampaignManager), "CM2", auth.RoleCampaignManager)
	f.hqA = f.principal(s.Staff("HQ1", "总部甲", f.hq, auth.RoleHQAdmin), "HQ1", auth.RoleHQAdmin)
	f.hqB = f.principal(s.Staff("HQ2", "总部乙", f.hq, auth.RoleHQAdmin), "HQ2", auth.RoleHQAdmin)
	return f
}

func (f *incFix) principal(id int64, no string, r auth.Role) auth.Principal {
	return auth.Principal{StaffID: id, EmployeeNo: no, Roles: []auth.Role{r}, UnitID: f.hq, UnitPath: "/" + itoa(f.hq) + "/"}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// campaign creates a campaign with the given holding period.
func (f *incFix) campaign(code string, holdingDays int) int64 {
	f.t.Helper()
	res, err := f.d.ExecContext(context.Background(), `INSERT INTO campaigns (code, name, description, status, start_at, end_at, timezone,
landing_url, holding_days, created_at, updated_at) VALUES (?, ?, '', 'active', ?, ?, 'Asia/Shanghai', 'https://bank.example/l', ?, 0, 0)`,
		code, "活动"+code, db.Micros(incSH(1, 1, 0, 0, 0)), db.Micros(incSH(12, 31, 23, 0, 0)), holdingDays)
	if err != nil {
		f.t.Fatalf("campaign: %v", err)
	}
	id, _ := res.LastInsertId()
	return id
}

// plan proposes (cmA) and approves (cmB) a plan now.
func (f *incFix) plan(campaign int64, budget *int64, caps []rewards.IncentiveCap, rules ...rewards.IncentiveRule) rewards.IncentivePlan {
	f.t.Helper()
	ctx := context.Background()
	p, err := f.svc.ProposePlan(ctx, f.cmA, rewards.IncentivePlanInput{CampaignID: campaign, BudgetFen: budget, Caps: caps, Rules: rules})
	if err != nil {
		f.t.Fatalf("propose: %v", err)
	}
	if p, err = f.svc.ApprovePlan(ctx, f.cmB, p.ID); err != nil {
		f.t.Fatalf("approve: %v", err)
	}
	return p
}

// credit books one credit of weight (micro) and fen for staff at at.
func (f *incFix) credit(campaign, staff int64, typ string, weight, fen int64, at time.Time) int64 {
	f.t.Helper()
	f.nextCredit++
	id := f.nextCredit
	ev := rewards.CreditEvent{CreditID: id, ConversionID: 1000 + id, CampaignID: campaign, StaffID: staff, ConversionType: typ,
		Weight: weight, CreditedFen: fen, OccurredAt: at, Chain: rewards.CreditChain{UnitID: f.teamOf[staff], TeamID: f.teamOf[staff], BranchID: f.branch}}
	if err := f.d.WithTx(context.Background(), func(tx *sqlx.Tx) error { return f.svc.OnCredits(context.Background(), tx, []rewards.CreditEvent{ev}) }); err != nil {
		f.t.Fatalf("credit: %v", err)
	}
	return id
}

func (f *incFix) reverse(credit, fen int64, full bool, at time.Time) {
	f.t.Helper()
	ev := rewards.ReversalEvent{CreditID: credit, ConversionID: 1000 + credit, ReversedFen: fen, Full: full, At: at}
	if err := f.d.WithTx(context.Background(), func(tx *sqlx.Tx) error {
		return f.svc.OnReversal(context.Background(), tx, []rewards.ReversalEvent{ev})
	}); err != nil {
		f.t.Fatalf("reverse: %v", err)
	}
}

// lines returns a staff member's lines in a campaign at at, oldest first.
func (f *incFix) lines(campaign, staff int64, at time.Time) []rewards.Earning {
	f.t.Helper()
	self := auth.Principal{StaffID: staff, Roles: []auth.Role{auth.RoleStaff}}
	ls, err := f.svc.Earnings(context.Background(), self, staff, rewards.EarningFilter{CampaignID: campaign, At: at, Limit: 500})
	if err != nil {
		f.t.Fatalf("earnings: %v", err)
	}
	for i, j := 0, len(ls)-1; i < j; i, j = i+1, j-1 {
		ls[i], ls[j] = ls[j], ls[i]
	}
	return ls
}

// amounts lists (rule, amount) of a staff member's lines.
func (f *incFix) amounts(campaign, staff int64) []string {
	var out []string
	for _, l := range f.lines(campaign, staff, time.Time{}) {
		out = append(out, l.RuleID+":"+itoa(l.Amount))
	}
	return out
}

func (f *incFix) summary(campaign, staff int64, at time.Time) rewards.EarningSummary {
	f.t.Helper()
	self := auth.Principal{StaffID: staff, Roles: []auth.Role{auth.RoleStaff}}
	sums, err := f.svc.Summaries(context.Background(), self, staff, at)
	if err != nil {
		f.t.Fatalf("summaries: %v", err)
	}
	for _, s := range sums {
		if s.CampaignID == campaign {
			return s
		}
	}
	return rewards.EarningSummary{CampaignID: campaign}
}

func incWant(t *testing.T, what string, got, want any) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s (-want +got):\n%s", what, d)
	}
}

func incSlug(t *testing.T, err error, slug string) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Slug() != slug {
		t.Fatalf("error %v, want slug %s", err, slug)
	}
}

func i64p(n int64) *int64 { return &n }

const whole = rewards.WeightScale

func TestIncentiveArithmetic(t *testing.T) {
	for _, c := range []struct{ fen, bp, want int64 }{{7, 2000, 1}, {2, 2000, 0}, {15, 1000, 2}, {5, 1000, 1}, {4, 1000, 0}, {123456789, 150, 1851852}} {
		incWant(t, "percentage", rewards.PercentageAmount(c.fen, c.bp), c.want)
	}
	for _, c := range []struct{ amount, weight, want int64 }{{5000, 333333, 1667}, {3, 500000, 2}, {5, 100000, 1}, {5, 99999, 0}, {5000, whole, 5000}} {
		incWant(t, "bounty", rewards.BountyAmount(c.amount, c.weight), c.want)
	}
	incWant(t, "split 100/3", rewards.LargestRemainder(100, []int64{1, 1, 1}), []int64{34, 33, 33})
	incWant(t, "split 7", rewards.LargestRemainder(7, []int64{1, 2, 3, 4}), []int64{1, 1, 2, 3})
	incWant(t, "split 1000", rewards.LargestRemainder(1000, []int64{whole, 2 * whole}), []int64{333, 667})
	incWant(t, "yuan", []string{rewards.Yuan(123456), rewards.Yuan(5), rewards.Yuan(-120)}, []string{"1234.56", "0.05", "-1.20"})
}

func TestIncentivePlanValidation(t *testing.T) {
	in := rewards.IncentivePlanInput{CampaignID: 1, BudgetFen: i64p(-1), Caps: []rewards.IncentiveCap{{Period: "year", Currency: "cash", Limit: 1}},
		Rules: []rewards.IncentiveRule{
			{ID: "a", Kind: "bounty", Currency: "cash"},
			{ID: "a", Kind: "tier", Currency: "gold", Basis: "count", Mode: "back_to_first", Period: "week",
				Tiers: []rewards.IncentiveTier{{Threshold: 5, Amount: 1}, {Threshold: 5, Amount: 2}}},
		}}
	err := in.Validate()
	e, ok := apperr.As(err)
	if !ok {
		t.Fatalf("want field errors, got %v", err)
	}
	var fields []string
	for _, fe := range e.Fields {
		fields = append(fields, fe.Field)
	}
	incWant(t, "fields", fields, []string{"budget_fen", "caps[0].period", "rules[0].amount", "rules[1].id", "rules[1].currency", "rules[1].tiers[1].threshold"})
}

func TestIncentiveBountyAndPercentage(t *testing.T) {
	testDBs(t, func(t *testing.T, f *incFix) {
		c := f.campaign("BP", 30)
		f.plan(c, nil, nil,
			rewards.IncentiveRule{ID: "card", Kind: "bounty", Currency: "cash", ConversionType: "card_approved", Amount: 5000},
			rewards.IncentiveRule{ID: "wealth", Kind: "percentage", Currency: "cash", ConversionType: "wealth_purchase", RateBP: 2000},
			rewards.IncentiveRule{ID: "deposit", Kind: "percentage", Currency: "points", ConversionType: "deposit_placed", RateBP: 1000})
		at := incSH(11, 2, 10, 0, 0)
		s := f.staff[0]
		f.credit(c, s, "card_approved", whole/2, 0, at)    // 2500
		f.credit(c, s, "card_approved", 333333, 0, at)     // 1666.665 → 1667
		f.credit(c, s, "wealth_purchase", whole, 7, at)    // 1.4 → 1
		f.credit(c, s, "wealth_purchase", whole, 2, at)    // 0.4 → 0: no line
		f.credit(c, s, "deposit_placed", whole, 15, at)    // 1.5 → 2 points
		f.credit(c, s, "loan_applied", whole, 1000000, at) // no rule
		incWant(t, "lines", f.amounts(c, s), []string{"card:2500", "card:1667", "wealth:1", "deposit:2"})
		sum := f.summary(c, s, time.Time{})
		incWant(t, "pending", []int64{sum.PendingFen, sum.PendingPoints, sum.ApprovedFen}, []int64{4168, 2, 0})
	})
}

// testDBs runs fn on each database with a fresh fixture.
func testDBs(t *testing.T, fn func(t *testing.T, f *incFix)) {
	t.Helper()
	dbtest.Each(t, func(t *testing.T, d *db.DB) { fn(t, newIncFix(t, d)) })
}

func TestIncentiveTierModes(t *testing.T) {
	testDBs(t, func(t *testing.T, f *incFix) {
		c := f.campaign("TIER", 30)
		countTiers := []rewards.IncentiveTier{{Threshold: 0, Amount: 100}, {Threshold: 3, Amount: 200}}
		f.plan(c, nil, nil,
			rewards.IncentiveRule{ID: "from", Kind: "tier", Currency: "cash", ConversionType: "account_opened", Basis: "count", Mode: "from_threshold", Period: "month", Tiers: countTiers},
			rewards.IncentiveRule{ID: "back", Kind: "tier", Currency: "cash", ConversionType: "card_applied", Basis: "count", Mode: "back_to_first", Period: "month", Tiers: countTiers},
			rewards.IncentiveRule{ID: "afrom", Kind: "tier", Currency: "cash", ConversionType: "wealth_purchase", Basis: "amount", Mode: "from_threshold", Period: "month",
				Tiers: []rewards.IncentiveTier{{Threshold: 0, RateBP: 0}, {Threshold: 10000, RateBP: 100}}},
			rewards.IncentiveRule{ID: "aback", Kind: "tier", Currency: "points", ConversionType: "deposit_placed", Basis: "amount", Mode: "back_to_first", Period: "month",
				Tiers: []rewards.IncentiveTier{{Threshold: 0, RateBP: 100}, {Threshold: 10000, RateBP: 200}}})
		s, at := f.staff[0], incSH(11, 3, 9, 0, 0)
		for i := 0; i < 4; i++ {
			f.credit(c, s, "account_opened", whole, 0, at) // 100, 100, 100 (at 3: nothing above it yet), 200 (one past)
		}
		for i := 0; i < 4; i++ {
			f.credit(c, s, "card_applied", whole, 0, at) // 100, 100, 3×200−200 = 400 at the threshold, 200 one past
		}
		f.credit(c, s, "wealth_purchase", whole, 10000, at)               // up to the threshold: 0
		f.credit(c, s, "wealth_purchase", whole, 150, at)                 // 150 past it at 1%: 1.5 → 2
		f.credit(c, s, "deposit_placed", whole, 6000, at)                 // 60
		f.credit(c, s, "deposit_placed", whole, 4000, at)                 // at 10000: 2% of all = 200, minus 60 = 140
		f.credit(c, s, "deposit_placed", whole, 150, at)                  // 10150 × 2% = 203: 3
		f.credit(c, s, "account_opened", whole, 0, incSH(12, 1, 0, 0, 0)) // a new month starts at tier 1
		incWant(t, "lines", f.amounts(c, s), []string{"from:100", "from:100", "from:100", "from:200",
			"back:100", "back:100", "back:400", "back:200", "afrom:2", "aback:60", "aback:140", "aback:3", "from:100"})
	})
}

func TestIncentiveStageOnce(t *testing.T) {
	testDBs(t, func(t *testing.T, f *incFix) {
		c := f.campaign("STAGE", 30)
		f.plan(c, nil, nil, rewards.IncentiveRule{ID: "two", Kind: "stage", Currency: "points", Threshold: 2, Amount: 1000})
		s, at := f.staff[1], incSH(11, 4, 9, 0, 0)
		for i := 0; i < 3; i++ {
			f.credit(c, s, "account_opened", whole/2, 0, at) // 1.5 conversions: not yet
		}
		incWant(t, "before", len(f.lines(c, s, time.Time{})), 0)
		f.credit(c, s, "account_opened", whole/2, 0, at) // reaches 2
		f.credit(c, s, "account_opened", whole, 0, at)   // past it: nothing more
		f.credit(c, s, "account_opened", whole, 0, incSH(12, 20, 9, 0, 0))
		incWant(t, "lines", f.amounts(c, s), []string{"two:1000"})
	})
}

func TestIncentivePoolSplit(t *testing.T) {
	testDBs(t, func(t *testing.T, f *incFix) {
		c := f.campaign("POOL", 30)
		f.plan(c, nil, nil, rewards.IncentiveRule{ID: "team", Kind: "pool", Currency: "cash", UnitKind: "team", Period: "month", Amount: 1000})
		at := incSH(11, 5, 9, 0, 0)
		f.credit(c, f.staff[0], "account_opened", whole, 0, at)
		f.credit(c, f.staff[1], "account_opened", 2*whole, 0, at)
		f.credit(c, f.staff[2], "account_opened", 333333, 0, at)
		f.credit(c, f.staff[2], "account_opened", whole, 0, incSH(12, 1, 0, 0, 0)) // December: not in November's pool
		f.clk.Set(incSH(12, 2, 9, 0, 0))
		defer rewards.SetSettleChunk(1)() // one staff member per chunk
		b, created, err := f.svc.ProposeSettlement(context.Background(), f.hqA, c, "2026-11")
		if err != nil || !created {
			t.Fatalf("propose: %v %v", created, err)
		}
		incWant(t, "team 1", []string{f.amounts(c, f.staff[0])[0], f.amounts(c, f.staff[1])[0]}, []string{"team:333", "team:667"})
		incWant(t, "team 2", f.amounts(c, f.staff[2]), []string{"team:1000"})
		incWant(t, "batch", []int64{b.CashFen, int64(b.StaffCount)}, []int64{2000, 3})
		// Proposing again distributes nothing twice.
		if _, created, err = f.svc.ProposeSettlement(context.Background(), f.hqA, c, "2026-11"); err != nil || created {
			t.Fatalf("again: %v %v", created, err)
		}
		incWant(t, "still one line", len(f.lines(c, f.staff[0], time.Time{})), 1)
	})
}
