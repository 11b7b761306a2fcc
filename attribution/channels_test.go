package attribution_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"rmref/attribution"
	"rmref/customer"
	"rmref/internal/db"
	"rmref/internal/dbtest"
)

// contact records a remote or offline touch on a channel and kind.
func (w *world) contact(t *testing.T, ext, channel, kind string, at time.Time, who customer.Identifiers) {
	t.Helper()
	_, _, err := w.svc.RecordTouch(context.Background(), attribution.TouchInput{Source: "crm", ExternalID: ext, Customer: who,
		StaffEmployeeNo: "A", Channel: channel, Kind: kind, OccurredAt: &at}, "test")
	if err != nil {
		t.Fatalf("touch %s: %v", ext, err)
	}
}

// seedPaths: P1 X (remote:call) > Y (offline:visit) → 1000 fen; P2 X →
// 500 fen; P3 Y and no conversion.
func seedPaths(t *testing.T, w *world) {
	p1, p2, p3 := customer.Identifiers{CustomerID: "P1"}, customer.Identifiers{CustomerID: "P2"}, customer.Identifiers{CustomerID: "P3"}
	w.contact(t, "a", "remote", "call", t0.Add(-2*day), p1)
	w.contact(t, "b", "offline", "visit", t0.Add(-day), p1)
	w.contact(t, "c", "remote", "call", t0.Add(-day), p2)
	w.contact(t, "d", "offline", "visit", t0.Add(-day), p3)
	w.clk.Set(t0.Add(2 * time.Hour))
	w.convert(t, "x1", 1000, t0, p1)
	w.convert(t, "x2", 500, t0.Add(time.Hour), p2)
}

func TestChannelsRuleModelsAndMarkov(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{Model: attribution.LastTouch})
		seedPaths(t, w)
		rep, err := w.boards().Channels(context.Background(), w.camp.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		const x, y = "remote:call", "offline:visit"
		got := map[string][]attribution.ChannelFigure{}
		for _, m := range rep.Models {
			got[m.Model] = m.Channels
		}
		// Markov by hand: start→X 2, start→Y 1, X→Y 1, X→conv 1, Y→conv 1,
		// Y→null 1. P(Y) = 1/2, P(X) = 1/2·P(Y) + 1/2 = 3/4, P = 2/3·3/4 +
		// 1/3·1/2 = 2/3. Without X: 1/3·1/2 = 1/6, effect 1 − 1/4 = 3/4.
		// Without Y: P(X) = 1/2, P = 1/3, effect 1/2. Shares 3/5 and 2/5 of
		// 2 conversions and 1500 fen.
		want := map[string][]attribution.ChannelFigure{
			"last_touch":     {{Channel: y, Conversions: 1, AmountFen: 1000}, {Channel: x, Conversions: 1, AmountFen: 500}},
			"first_touch":    {{Channel: x, Conversions: 2, AmountFen: 1500}},
			"linear":         {{Channel: x, Conversions: 1.5, AmountFen: 1000}, {Channel: y, Conversions: 0.5, AmountFen: 500}},
			"position_based": {{Channel: x, Conversions: 1.5, AmountFen: 1000}, {Channel: y, Conversions: 0.5, AmountFen: 500}},
			"markov":         {{Channel: x, Conversions: 1.2, AmountFen: 900}, {Channel: y, Conversions: 0.8, AmountFen: 600}},
		}
		delete(got, "time_decay")
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("models (-want +got):\n%s", diff)
		}
		if rep.Markov == nil || math.Abs(rep.Markov.ConversionProbability-2.0/3) > 1e-12 || rep.Paths != 3 || rep.Nulls != 1 {
			t.Errorf("markov %+v paths %d nulls %d", rep.Markov, rep.Paths, rep.Nulls)
		}
		for _, ch := range rep.Markov.Channels {
			wantEffect := map[string]float64{x: 0.75, y: 0.5}[ch.Channel]
			if math.Abs(ch.RemovalEffect-wantEffect) > 1e-12 {
				t.Errorf("%s removal effect %v, want %v", ch.Channel, ch.RemovalEffect, wantEffect)
			}
		}
		if _, err := w.boards().Channels(context.Background(), w.camp.ID, "nope"); err == nil {
			t.Error("unknown model accepted")
		}
	})
}

func TestPathCounts(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{Model: attribution.LastTouch})
		seedPaths(t, w)
		// P4 repeats X (collapsed to one step) and converts.
		p4 := customer.Identifiers{CustomerID: "P4"}
		w.contact(t, "e", "remote", "call", t0.Add(-3*day), p4)
		w.contact(t, "f", "remote", "call", t0.Add(-2*day), p4)
		w.convert(t, "x4", 100, t0.Add(90*time.Minute), p4)
		rep, err := w.boards().Paths(context.Background(), w.camp.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		type pc struct {
			Path              string
			Paths, Conv, Null int64
			Rate              float64
		}
		flat := func(ps []attribution.PathCount) []pc {
			var out []pc
			for _, p := range ps {
				out = append(out, pc{p.Path, p.Paths, p.Conversions, p.Nulls, p.Rate})
			}
			return out
		}
		if diff := cmp.Diff([]pc{{"remote:call", 2, 2, 0, 1}, {"remote:call > offline:visit", 1, 1, 0, 1}}, flat(rep.Converting)); diff != "" {
			t.Errorf("converting (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]pc{{"offline:visit", 1, 0, 1, 0}}, flat(rep.Unconverting)); diff != "" {
			t.Errorf("non-converting (-want +got):\n%s", diff)
		}
		if rep.TotalPaths != 4 {
			t.Errorf("total paths %d, want 4", rep.TotalPaths)
		}
	})
}
