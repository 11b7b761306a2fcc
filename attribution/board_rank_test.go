package attribution

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// TestFracMatchesBigRat checks the 128-bit comparisons, per-head division
// and half-up rounding against math/big on random and extreme figures.
func TestFracMatchesBigRat(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pick := func() int64 {
		switch r.IntN(4) {
		case 0:
			return r.Int64N(2_000_001) - 1_000_000
		case 1:
			return r.Int64N(1 << 40)
		case 2:
			return -r.Int64N(1 << 40)
		}
		return []int64{0, 1, -1, math.MaxInt64 / 3, 999_999, 500_000, 1_500_000}[r.IntN(7)]
	}
	dens := []int64{1, 2, 3, 7, WeightScale, 3 * WeightScale, 20 * WeightScale, 1 << 31}
	for i := 0; i < 200_000; i++ {
		a := fracOf(pick(), dens[r.IntN(len(dens))])
		b := fracOf(pick(), dens[r.IntN(len(dens))])
		ra, rb := big.NewRat(a.num, a.den), big.NewRat(b.num, b.den)
		if got, want := a.cmp(b), ra.Cmp(rb); got != want {
			t.Fatalf("%v cmp %v = %d, want %d", a, b, got, want)
		}
		n := r.Int64N(300) + 1
		d := a.div(n)
		if want := new(big.Rat).Quo(ra, big.NewRat(n, 1)); big.NewRat(d.num, d.den).Cmp(want) != 0 {
			t.Fatalf("%v / %d = %v, want %v", a, n, d, want)
		}
		for _, scale := range []int64{1, WeightScale} {
			want := roundHalfUp(new(big.Rat).Mul(ra, big.NewRat(scale, 1)))
			if got := a.roundScaled(scale); got != want {
				t.Fatalf("round(%v × %d) = %d, want %d", a, scale, got, want)
			}
		}
	}
	// Halves round away from zero.
	for _, c := range []struct {
		f     frac
		scale int64
		want  int64
	}{{fracOf(5, 2), 1, 3}, {fracOf(-5, 2), 1, -3}, {fracOf(1, 3), WeightScale, 333_333}, {fracOf(2, 3), WeightScale, 666_667}, {fracOf(-1, 2_000_000), WeightScale, -1}} {
		if got := c.f.roundScaled(c.scale); got != c.want {
			t.Errorf("round(%v × %d) = %d, want %d", c.f, c.scale, got, c.want)
		}
	}
}
