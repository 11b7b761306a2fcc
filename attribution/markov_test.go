package attribution_test

import (
	"bufio"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"rmref/attribution"
)

func paths(spec ...string) []attribution.MarkovPath {
	var out []attribution.MarkovPath
	for _, s := range spec {
		out = append(out, attribution.MarkovPath{Channels: strings.Split(s, ">"), Conversions: 1})
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestMarkovPublishedExample is the ChannelAttribution package's example:
// A>B>A>B>B>A, A>B>B>A>A and A>A, one conversion each and no nulls, give
// A 2 and B 1 conversions.
func TestMarkovPublishedExample(t *testing.T) {
	rep, err := attribution.Markov(paths("A>B>A>B>B>A", "A>B>B>A>A", "A>A"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, c := range rep.Channels {
		got[c.Channel] = c.Conversions
	}
	if !near(got["A"], 2) || !near(got["B"], 1) {
		t.Fatalf("conversions = %v, want A 2, B 1", got)
	}
}

// TestMarkovRemovalEffectsByHand checks a chain whose absorption
// probabilities are worked out by hand.
//
// Paths: C1>C2 converts twice; C1 fails once (null); C2 converts once;
// C2>C1 fails once. Weights: start→C1 3, start→C2 2. C1: →C2 2, →null 2
// (the C1 path and the C2>C1 path), so C1 converts with p1 = ½·p2.
// C2: →conv 3 (two from C1>C2, one from C2), →C1 1, so p2 = ¾ + ¼·p1.
// Then p2 = ¾ + ⅛·p2 → p2 = 6/7, p1 = 3/7, and
// P = 3/5·3/7 + 2/5·6/7 = 21/35 = 3/5.
// Without C1: start→C1 goes to null; C2: p2 = ¾ → P = 2/5·¾ = 3/10,
// effect 1 − (3/10)/(3/5) = ½.
// Without C2: C1 → C2 goes to null, p1 = 0 → P = 0, effect 1.
// Shares: C1 ⅓, C2 ⅔ of 3 conversions and 300 fen.
func TestMarkovRemovalEffectsByHand(t *testing.T) {
	in := []attribution.MarkovPath{
		{Channels: []string{"C1", "C2"}, Conversions: 2, ValueFen: 200},
		{Channels: []string{"C1"}, Nulls: 1},
		{Channels: []string{"C2"}, Conversions: 1, ValueFen: 100},
		{Channels: []string{"C2", "C1"}, Nulls: 1},
	}
	rep, err := attribution.Markov(in)
	if err != nil {
		t.Fatal(err)
	}
	if !near(rep.ConversionProbability, 0.6) {
		t.Errorf("P(conv) = %v, want 0.6", rep.ConversionProbability)
	}
	want := map[string][3]float64{"C1": {0.5, 1.0 / 3, 1}, "C2": {1, 2.0 / 3, 2}}
	wantFen := map[string]int64{"C1": 100, "C2": 200}
	for _, c := range rep.Channels {
		w := want[c.Channel]
		if !near(c.RemovalEffect, w[0]) || !near(c.Share, w[1]) || !near(c.Conversions, w[2]) || c.ValueFen != wantFen[c.Channel] {
			t.Errorf("%s = %+v, want effect %v share %v conv %v fen %d", c.Channel, c, w[0], w[1], w[2], wantFen[c.Channel])
		}
	}
}

func TestMarkovValueSumsExactly(t *testing.T) {
	in := []attribution.MarkovPath{
		{Channels: []string{"a", "b", "c"}, Conversions: 1, ValueFen: 100},
		{Channels: []string{"c", "a"}, Conversions: 1, ValueFen: 1},
		{Channels: []string{"b"}, Nulls: 3},
	}
	rep, err := attribution.Markov(in)
	if err != nil {
		t.Fatal(err)
	}
	var fen int64
	var conv float64
	for _, c := range rep.Channels {
		fen += c.ValueFen
		conv += c.Conversions
	}
	if fen != 101 || !near(conv, 2) {
		t.Fatalf("value %d fen, %v conversions; want 101 and 2", fen, conv)
	}
}

func TestMarkovNoPaths(t *testing.T) {
	if _, err := attribution.Markov(nil); err != attribution.ErrNoPaths {
		t.Fatalf("err = %v, want ErrNoPaths", err)
	}
}

// TestMarkovSampleDataSet runs the model over the ChannelAttribution
// package's 10,000-path sample (read from ../shared, skipped when absent):
// every conversion is attributed and no share is negative.
func TestMarkovSampleDataSet(t *testing.T) {
	in := loadSample(t)
	rep, err := attribution.Markov(in)
	if err != nil {
		t.Fatal(err)
	}
	var conv float64
	for _, c := range rep.Channels {
		if c.Share < 0 || c.RemovalEffect < 0 || c.RemovalEffect > 1 {
			t.Errorf("%s: %+v", c.Channel, c)
		}
		conv += c.Conversions
	}
	if math.Abs(conv-float64(rep.TotalConversions)) > 1e-6 || len(rep.Channels) < 5 {
		t.Fatalf("attributed %v of %d conversions over %d channels", conv, rep.TotalConversions, len(rep.Channels))
	}
}

func loadSample(tb testing.TB) []attribution.MarkovPath {
	tb.Helper()
	f, err := os.Open("../../shared/attribution/ChannelAttribution_Data.csv")
	if err != nil {
		tb.Skip("sample data set not present:", err)
	}
	defer f.Close()
	var out []attribution.MarkovPath
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		parts := strings.Split(sc.Text(), ";")
		if len(parts) != 4 {
			continue
		}
		conv, _ := strconv.ParseInt(parts[1], 10, 64)
		val, _ := strconv.ParseFloat(parts[2], 64)
		nulls, _ := strconv.ParseInt(parts[3], 10, 64)
		out = append(out, attribution.MarkovPath{Channels: strings.Split(parts[0], " > "), Conversions: conv, ValueFen: int64(math.Round(val * 100)), Nulls: nulls})
	}
	return out
}

func BenchmarkMarkovSampleDataSet(b *testing.B) {
	in := loadSample(b)
	for b.Loop() {
		if _, err := attribution.Markov(in); err != nil {
			b.Fatal(err)
		}
	}
}
