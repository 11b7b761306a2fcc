package attribution_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"rmref/attribution"
)

var (
	convAt = time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	campE  = attribution.Campaign{ID: 1, Start: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC),
		Counts: map[string]int64{"account_opened": 0, "wealth_purchase": 100000}, UnitPaths: []string{"/1/"}}
	staffE = map[int64]attribution.Staff{
		1: {ID: 1, EmployeeNo: "A", Chain: attribution.Chain{UnitPath: "/1/2/"}},
		2: {ID: 2, EmployeeNo: "B", Chain: attribution.Chain{UnitPath: "/1/3/"}, PhoneHash: "hB"},
		3: {ID: 3, EmployeeNo: "C", Chain: attribution.Chain{UnitPath: "/1/3/"}},
		4: {ID: 4, EmployeeNo: "D", Chain: attribution.Chain{UnitPath: "/1/3/"}, LeftAt: convAt.Add(-time.Hour)},
		5: {ID: 5, EmployeeNo: "E", Chain: attribution.Chain{UnitPath: "/9/"}},
	}
)

func tch(id, staff int64, ago time.Duration) attribution.Touch {
	return attribution.Touch{Source: "contact", ID: id, StaffID: staff, At: convAt.Add(-ago)}
}

type split map[string]int64 // employee no → credited fen

func run(model attribution.Model, amount int64, touches []attribution.Touch, mod func(*attribution.Input)) attribution.Result {
	c := campE
	c.Settings = attribution.Settings{Model: model}
	in := attribution.Input{Conversion: attribution.Conversion{ID: 1, Type: "account_opened", AmountFen: amount, OccurredAt: convAt},
		Campaign: c, Touches: touches, Staff: staffE}
	if mod != nil {
		mod(&in)
	}
	return attribution.Attribute(in)
}

func credits(r attribution.Result) split {
	out := split{}
	for _, c := range r.Credits {
		out[c.EmployeeNo] = c.CreditedFen
	}
	return out
}

func TestModels(t *testing.T) {
	d := 24 * time.Hour
	tests := []struct {
		name    string
		model   attribution.Model
		amount  int64
		touches []attribution.Touch
		want    split
		weights []attribution.Weight
	}{
		{"last touch", attribution.LastTouch, 100, []attribution.Touch{tch(1, 1, 3*d), tch(2, 2, d)}, split{"B": 100}, []attribution.Weight{1e6}},
		{"first touch", attribution.FirstTouch, 100, []attribution.Touch{tch(1, 1, 3*d), tch(2, 2, d)}, split{"A": 100}, []attribution.Weight{1e6}},
		{"equal times ordered by id", attribution.LastTouch, 100, []attribution.Touch{tch(5, 1, d), tch(3, 2, d)}, split{"A": 100}, []attribution.Weight{1e6}},
		// 100/3 = 33.33 each: the leftover fen goes to the earliest (A).
		{"linear three", attribution.Linear, 100, []attribution.Touch{tch(1, 1, 3*d), tch(2, 2, 2*d), tch(3, 3, d)}, split{"A": 34, "B": 33, "C": 33}, []attribution.Weight{333334, 333333, 333333}},
		// A has 2/3 = 66.67, B 33.33: the leftover goes to the larger remainder.
		{"linear same staff summed", attribution.Linear, 100, []attribution.Touch{tch(1, 1, 3*d), tch(2, 2, 2*d), tch(3, 1, d)}, split{"A": 67, "B": 33}, []attribution.Weight{666667, 333333}},
		{"position one touch", attribution.PositionBased, 100, []attribution.Touch{tch(1, 2, d)}, split{"B": 100}, []attribution.Weight{1e6}},
		// 101/2 = 50.5 each: equal remainders → the one touched earlier.
		{"position two touches", attribution.PositionBased, 101, []attribution.Touch{tch(1, 1, 2*d), tch(2, 2, d)}, split{"A": 51, "B": 50}, []attribution.Weight{500000, 500000}},
		// 999 × .4 = 399.6, × .2 = 199.8, × .4 = 399.6 → 399+199+399 = 997; +1 B (.8), +1 A (.6, earlier than C).
		{"position three touches", attribution.PositionBased, 999, []attribution.Touch{tch(1, 1, 3*d), tch(2, 2, 2*d), tch(3, 3, d)}, split{"A": 400, "B": 200, "C": 399}, []attribution.Weight{400000, 200000, 400000}},
		// A first .4 + last .4, B .1, C .1.
		{"position four touches", attribution.PositionBased, 1000, []attribution.Touch{tch(1, 1, 4*d), tch(2, 2, 3*d), tch(3, 3, 2*d), tch(4, 1, d)}, split{"A": 800, "B": 100, "C": 100}, []attribution.Weight{800000, 100000, 100000}},
		// half-life 7 d: A (7 d old) weighs 1/2, B (now) 1 → 1/3 and 2/3 of 100 = 33.33, 66.67.
		{"time decay", attribution.TimeDecay, 100, []attribution.Touch{tch(1, 1, 7*d), tch(2, 2, 0)}, split{"A": 33, "B": 67}, []attribution.Weight{333333, 666667}},
		{"time decay older pair", attribution.TimeDecay, 300, []attribution.Touch{tch(1, 1, 21*d), tch(2, 2, 14*d)}, split{"A": 100, "B": 200}, []attribution.Weight{333333, 666667}},
		{"window start inclusive", attribution.LastTouch, 100, []attribution.Touch{tch(1, 1, 30*d)}, split{"A": 100}, []attribution.Weight{1e6}},
		{"outside window", attribution.LastTouch, 100, []attribution.Touch{tch(1, 1, 30*d+time.Microsecond)}, split{}, nil},
		{"zero amount", attribution.Linear, 0, []attribution.Touch{tch(1, 1, 2*d), tch(2, 2, d)}, split{"A": 0, "B": 0}, []attribution.Weight{500000, 500000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(tt.model, tt.amount, tt.touches, nil)
			if diff := cmp.Diff(tt.want, credits(r)); diff != "" {
				t.Errorf("credits (-want +got):\n%s", diff)
			}
			var ws []attribution.Weight
			var sum int64
			for _, c := range r.Credits {
				ws = append(ws, c.Weight)
				sum += c.CreditedFen
			}
			if diff := cmp.Diff(tt.weights, ws); diff != "" {
				t.Errorf("weights (-want +got):\n%s", diff)
			}
			if len(r.Credits) > 0 && sum != tt.amount {
				t.Errorf("credits sum to %d, want %d", sum, tt.amount)
			}
		})
	}
}

func reasons(r attribution.Result) []string {
	out := []string{}
	for _, e := range r.Excluded {
		out = append(out, e.Reason)
	}
	return out
}

func TestExclusions(t *testing.T) {
	d := 24 * time.Hour
	bot := tch(1, 1, d)
	bot.Bot = true
	uncounted := tch(2, 1, d)
	uncounted.NotCounted = "self_click"
	revoked := tch(3, 1, d)
	revoked.CodeRevokedAt = convAt.Add(-2 * d)
	other := tch(4, 1, d)
	other.CampaignID = 7
	early := tch(5, 1, d)
	early.At = campE.Start.Add(-time.Hour)
	tests := []struct {
		name   string
		touch  attribution.Touch
		mod    func(*attribution.Input)
		reason string
	}{
		{"bot click", bot, nil, attribution.ReasonBot},
		{"click not counted", uncounted, nil, "click_not_counted:self_click"},
		{"code revoked before the touch", revoked, nil, attribution.ReasonCodeRevoked},
		{"other campaign's code", other, nil, attribution.ReasonOtherCampaign},
		{"touch before campaign", early, func(in *attribution.Input) { in.Campaign.Settings.LookbackDays = 90 }, attribution.ReasonOutsideDates},
		{"staff left", tch(6, 4, d), nil, attribution.ReasonStaffLeft},
		{"outside units", tch(7, 5, d), nil, attribution.ReasonOutsideUnits},
		{"self referral", tch(8, 2, d), func(in *attribution.Input) { in.PhoneHashes = []string{"hB"} }, attribution.ReasonSelfReferral},
		{"after conversion", tch(9, 1, -time.Second), nil, attribution.ReasonAfterConversion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(attribution.LastTouch, 100, []attribution.Touch{tt.touch}, tt.mod)
			if r.Rule != attribution.RuleNoTouches || len(r.Credits) != 0 {
				t.Fatalf("rule %s credits %v, want nothing credited", r.Rule, r.Credits)
			}
			if diff := cmp.Diff([]string{tt.reason}, reasons(r)); diff != "" {
				t.Fatalf("reasons (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("type not counted", func(t *testing.T) {
		r := run(attribution.LastTouch, 100, []attribution.Touch{tch(1, 1, d)}, func(in *attribution.Input) { in.Conversion.Type = "loan_applied" })
		if r.Rule != attribution.RuleNotCounted || r.Reason != attribution.ReasonTypeNotCounted || len(r.Credits) != 0 {
			t.Fatalf("got %s/%s %v", r.Rule, r.Reason, r.Credits)
		}
	})
	t.Run("below minimum amount", func(t *testing.T) {
		r := run(attribution.LastTouch, 99999, []attribution.Touch{tch(1, 1, d)}, func(in *attribution.Input) { in.Conversion.Type = "wealth_purchase" })
		if r.Rule != attribution.RuleNotCounted || r.Reason != attribution.ReasonBelowMinAmount {
			t.Fatalf("got %s/%s", r.Rule, r.Reason)
		}
	})
	t.Run("conversion outside campaign dates", func(t *testing.T) {
		r := run(attribution.LastTouch, 100, nil, func(in *attribution.Input) { in.Conversion.OccurredAt = campE.End.Add(time.Second) })
		if r.Rule != attribution.RuleNotCounted || r.Reason != attribution.ReasonOutsideDates {
			t.Fatalf("got %s/%s", r.Rule, r.Reason)
		}
	})
}

func TestExplicitBinding(t *testing.T) {
	d := 24 * time.Hour
	touches := []attribution.Touch{tch(1, 1, 2*d), tch(2, 2, d)}
	code := attribution.Binding{Via: "code", Code: "C0DE", StaffID: 3}
	t.Run("code over cookies", func(t *testing.T) {
		r := run(attribution.Linear, 100, touches, func(in *attribution.Input) { in.Bindings = []attribution.Binding{code} })
		if r.Rule != attribution.RuleBinding || !cmp.Equal(credits(r), split{"C": 100}) {
			t.Fatalf("rule %s credits %v", r.Rule, credits(r))
		}
		if diff := cmp.Diff([]string{attribution.ReasonBindingTakesOver, attribution.ReasonBindingTakesOver}, reasons(r)); diff != "" {
			t.Fatal(diff)
		}
	})
	t.Run("revoked code falls back to token", func(t *testing.T) {
		rc := code
		rc.RevokedAt = convAt.Add(-time.Minute)
		tok := attribution.Binding{Via: "token", Code: "T0K", StaffID: 1, CampaignID: 1}
		r := run(attribution.Linear, 100, touches, func(in *attribution.Input) { in.Bindings = []attribution.Binding{rc, tok} })
		if r.Rule != attribution.RuleBinding || !cmp.Equal(credits(r), split{"A": 100}) {
			t.Fatalf("rule %s credits %v", r.Rule, credits(r))
		}
		if reasons(r)[0] != attribution.ReasonCodeRevoked {
			t.Fatalf("reasons %v", reasons(r))
		}
	})
	t.Run("code revoked after the conversion still binds", func(t *testing.T) {
		rc := code
		rc.RevokedAt = convAt.Add(time.Minute)
		r := run(attribution.Linear, 100, touches, func(in *attribution.Input) { in.Bindings = []attribution.Binding{rc} })
		if !cmp.Equal(credits(r), split{"C": 100}) {
			t.Fatalf("credits %v", credits(r))
		}
	})
	t.Run("left staff's code falls back to touches", func(t *testing.T) {
		lc := attribution.Binding{Via: "code", Code: "L", StaffID: 4}
		r := run(attribution.Linear, 100, touches, func(in *attribution.Input) { in.Bindings = []attribution.Binding{lc} })
		if r.Rule != attribution.RuleModel || !cmp.Equal(credits(r), split{"A": 50, "B": 50}) {
			t.Fatalf("rule %s credits %v", r.Rule, credits(r))
		}
	})
}

func TestProtection(t *testing.T) {
	d := 24 * time.Hour
	code := attribution.Binding{Via: "code", Code: "C0DE", StaffID: 3}
	prot := &attribution.Protection{StaffID: 1, ConversionID: 9, Since: convAt.Add(-2 * d), Until: convAt.Add(28 * d)}
	withProt := func(p *attribution.Protection, days int) func(*attribution.Input) {
		return func(in *attribution.Input) {
			in.Bindings = []attribution.Binding{code}
			in.Protection = p
			in.Campaign.Settings.ProtectionDays = days
		}
	}
	t.Run("protection wins over a code", func(t *testing.T) {
		r := run(attribution.LastTouch, 500, []attribution.Touch{tch(1, 2, d)}, withProt(prot, 30))
		if r.Rule != attribution.RuleProtection || !cmp.Equal(credits(r), split{"A": 500}) || r.ProtectionStart {
			t.Fatalf("rule %s credits %v start %v", r.Rule, credits(r), r.ProtectionStart)
		}
	})
	t.Run("protection over", func(t *testing.T) {
		p := *prot
		p.Until = convAt.Add(-time.Microsecond)
		r := run(attribution.LastTouch, 500, nil, withProt(&p, 30))
		if r.Rule != attribution.RuleBinding || !r.ProtectionStart || r.Protector() != 3 {
			t.Fatalf("rule %s start %v protector %d", r.Rule, r.ProtectionStart, r.Protector())
		}
	})
	t.Run("protector left", func(t *testing.T) {
		p := *prot
		p.StaffID = 4
		r := run(attribution.LastTouch, 500, nil, withProt(&p, 30))
		if r.Rule != attribution.RuleBinding || reasons(r)[0] != attribution.ReasonProtectorLeft {
			t.Fatalf("rule %s reasons %v", r.Rule, reasons(r))
		}
	})
	t.Run("largest credit ties go to the earlier touch", func(t *testing.T) {
		r := run(attribution.Linear, 100, []attribution.Touch{tch(1, 2, 2*d), tch(2, 1, d)}, func(in *attribution.Input) { in.Campaign.Settings.ProtectionDays = 7 })
		if !r.ProtectionStart || r.Protector() != 2 {
			t.Fatalf("start %v protector %d", r.ProtectionStart, r.Protector())
		}
	})
}

func TestWeightJSON(t *testing.T) {
	for w, want := range map[attribution.Weight]string{1e6: "1", 333333: "0.3333", 666667: "0.6667", 500000: "0.5", 0: "0", 49: "0", 50: "0.0001", -250000: "-0.25"} {
		b, _ := json.Marshal(w)
		if string(b) != want {
			t.Errorf("%d → %s, want %s", w, b, want)
		}
	}
}
