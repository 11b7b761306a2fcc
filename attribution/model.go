package attribution

import (
	"math"
	"math/big"
	"slices"
	"sort"
	"time"
)

// modelShares returns each touch's exact share of the conversion (the
// shares sum to 1). touches are in touch order and not empty.
func modelShares(s Settings, conv time.Time, touches []Touch) []*big.Rat {
	n := len(touches)
	out := make([]*big.Rat, n)
	for i := range out {
		out[i] = new(big.Rat)
	}
	switch s.Model {
	case FirstTouch:
		out[0].SetInt64(1)
	case Linear:
		for i := range out {
			out[i].SetFrac64(1, int64(n))
		}
	case PositionBased:
		positionShares(out)
	case TimeDecay:
		decayShares(out, s, conv, touches)
	default: // last_touch
		out[n-1].SetInt64(1)
	}
	return out
}

// positionShares gives 40% to the first and last touch and 20% split over
// the ones between; one or two touches split equally.
func positionShares(out []*big.Rat) {
	n := len(out)
	if n <= 2 {
		for i := range out {
			out[i].SetFrac64(1, int64(n))
		}
		return
	}
	out[0].SetFrac64(2, 5)
	out[n-1].SetFrac64(2, 5)
	for i := 1; i < n-1; i++ {
		out[i].SetFrac64(1, int64(5*(n-2)))
	}
}

// decayShares weighs each touch 2^(-age/half-life), normalised. The float
// weights are taken exactly as binary fractions, so the shares sum to 1
// exactly and the split is reproducible.
func decayShares(out []*big.Rat, s Settings, conv time.Time, touches []Touch) {
	half := float64(time.Duration(s.HalfLifeDays) * Day)
	total := new(big.Rat)
	for i, t := range touches {
		w := math.Exp2(-float64(conv.Sub(t.At)) / half)
		if w <= 0 || math.IsNaN(w) {
			w = math.SmallestNonzeroFloat64
		}
		out[i].SetFloat64(w)
		total.Add(total, out[i])
	}
	for _, r := range out {
		r.Quo(r, total)
	}
}

// staffShare is one staff member's summed share.
type staffShare struct {
	staffID int64
	first   Touch
	share   *big.Rat
}

// split sums touch shares per staff member (ordered by their first touch)
// and turns them into weights (millionths) and credited fen, each by
// largest remainder so that they sum exactly to one and to the amount.
func split(in Input, touches []Touch, shares []*big.Rat) ([]Considered, []Credit) {
	var per []*staffShare
	index := map[int64]*staffShare{}
	considered := make([]Considered, len(touches))
	tw := largestRemainder(shares, int64(WeightOne))
	for i, t := range touches {
		considered[i] = Considered{Touch: t, Weight: Weight(tw[i])}
		s, ok := index[t.StaffID]
		if !ok {
			s = &staffShare{staffID: t.StaffID, first: t, share: new(big.Rat)}
			index[t.StaffID] = s
			per = append(per, s)
		}
		s.share.Add(s.share, shares[i])
	}
	per = slices.DeleteFunc(per, func(s *staffShare) bool { return s.share.Sign() == 0 })
	sh := make([]*big.Rat, len(per))
	for i, s := range per {
		sh[i] = s.share
	}
	weights := largestRemainder(sh, int64(WeightOne))
	fen := largestRemainder(sh, in.Conversion.AmountFen)
	credits := make([]Credit, 0, len(per))
	for i, s := range per {
		st := in.Staff[s.staffID]
		credits = append(credits, Credit{StaffID: s.staffID, EmployeeNo: st.EmployeeNo, Weight: Weight(weights[i]),
			CreditedFen: fen[i], FirstTouchAt: s.first.At, Chain: st.Chain})
	}
	return considered, credits
}

// largestRemainder splits total (≥ 0) by shares (summing to 1): each gets
// the floor of its exact part, and what is left goes one unit each to the
// largest remainders; equal remainders go to the earlier entry.
func largestRemainder(shares []*big.Rat, total int64) []int64 {
	out := make([]int64, len(shares))
	rems := make([]*big.Rat, len(shares))
	left := total
	t := new(big.Rat).SetInt64(total)
	for i, s := range shares {
		exact := new(big.Rat).Mul(s, t)
		q := new(big.Int).Quo(exact.Num(), exact.Denom()) // floor for non-negative
		out[i] = q.Int64()
		rems[i] = exact.Sub(exact, new(big.Rat).SetInt(q))
		left -= out[i]
	}
	order := make([]int, len(shares))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return rems[order[a]].Cmp(rems[order[b]]) > 0 })
	for k := 0; left > 0 && k < len(order); k++ {
		out[order[k]]++
		left--
	}
	return out
}
