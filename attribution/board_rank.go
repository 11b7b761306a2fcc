package attribution

import (
	"cmp"
	"math/big"
	"math/bits"
	"slices"
)

// frac is an exact board figure num/den (den > 0). Boards rank up to
// hundreds of thousands of entries after every new conversion, so figures
// are compared by 128-bit cross-multiplication rather than as big.Rat.
type frac struct {
	num, den int64
	ok       bool // false: no figure to rank
}

func fracOf(num, den int64) frac { return frac{num: num, den: den, ok: true} }

// cmp compares two figures that both have a value: -1, 0 or +1.
func (a frac) cmp(b frac) int {
	sa, sb := cmp.Compare(a.num, 0), cmp.Compare(b.num, 0)
	if sa != sb {
		if sa < sb {
			return -1
		}
		return 1
	}
	if sa == 0 {
		return 0
	}
	ahi, alo := bits.Mul64(absU(a.num), uint64(b.den))
	bhi, blo := bits.Mul64(absU(b.num), uint64(a.den))
	c := 0
	switch {
	case ahi != bhi:
		c = cmp.Compare(ahi, bhi)
	default:
		c = cmp.Compare(alo, blo)
	}
	return c * sa
}

// div divides the figure by n > 0 (per-head values).
func (a frac) div(n int64) frac {
	if !a.ok {
		return a
	}
	hi, lo := bits.Mul64(uint64(a.den), uint64(n))
	if hi != 0 || lo > 1<<62 {
		// Beyond any real board; reduce exactly through big.Rat.
		r := new(big.Rat).SetFrac(big.NewInt(a.num), new(big.Int).Mul(big.NewInt(a.den), big.NewInt(n)))
		if !r.Num().IsInt64() || !r.Denom().IsInt64() {
			f, _ := r.Float64()
			return fracOf(int64(f*WeightScale), WeightScale)
		}
		return fracOf(r.Num().Int64(), r.Denom().Int64())
	}
	return fracOf(a.num, int64(lo))
}

// roundScaled returns num*scale/den rounded half away from zero.
func (a frac) roundScaled(scale int64) int64 {
	hi, lo := bits.Mul64(absU(a.num), uint64(scale))
	d := uint64(a.den)
	var q, r uint64
	if hi < d {
		q, r = bits.Div64(hi, lo, d)
	} else {
		bq, br := new(big.Int).QuoRem(new(big.Int).Mul(big.NewInt(a.num), big.NewInt(scale)), big.NewInt(a.den), new(big.Int))
		q, r = new(big.Int).Abs(bq).Uint64(), new(big.Int).Abs(br).Uint64()
	}
	if r >= d-r { // 2r >= d without overflow
		q++
	}
	if a.num < 0 {
		return -int64(q)
	}
	return int64(q)
}

func absU(v int64) uint64 {
	if v < 0 {
		return uint64(-(v + 1)) + 1
	}
	return uint64(v)
}

// rankKey is what an entry is ordered by, compact so that sorting
// hundreds of thousands of entries stays in cache.
type rankKey struct {
	v           frac
	reached, id int64
	i           int
}

// order is the board order: a value before none, higher values first, ties
// by who reached the score first, then by id.
func order(a, b *rankKey) int {
	if a.v.ok != b.v.ok {
		if a.v.ok {
			return -1
		}
		return 1
	}
	if a.v.ok {
		c := 0
		if a.v.den == b.v.den {
			c = cmp.Compare(a.v.num, b.v.num)
		} else {
			c = a.v.cmp(b.v)
		}
		if c != 0 {
			return -c
		}
	}
	if c := cmp.Compare(a.reached, b.reached); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

// rank sorts entries in board order and gives competition ranks 1, 2, 2,
// 4; entries without a value come last, unranked.
func rank(es []*BoardEntry) {
	keys := make([]rankKey, len(es))
	for i, e := range es {
		keys[i] = rankKey{v: e.exact, reached: e.reached, id: e.ID, i: i}
	}
	slices.SortFunc(keys, func(a, b rankKey) int { return order(&a, &b) })
	sorted := make([]*BoardEntry, len(es))
	for i, k := range keys {
		sorted[i] = es[k.i]
	}
	copy(es, sorted)
	for i := range es {
		var prev *BoardEntry
		if i > 0 {
			prev = es[i-1]
		}
		es[i].Rank = competitionRank(prev, es[i], i)
	}
}

// competitionRank is the rank of e at index i of a board in order, after
// prev (nil first): equal figures share a rank (1, 2, 2, 4); no figure, no
// rank.
func competitionRank(prev, e *BoardEntry, i int) int {
	switch {
	case !e.exact.ok:
		return 0
	case prev != nil && prev.exact.ok && prev.exact.cmp(e.exact) == 0:
		return prev.Rank
	}
	return i + 1
}
