package rewards

import (
	"math/big"
	"sort"
	"time"
)

// The arithmetic of incentives: exact integer products (through big.Int, so
// that fen × basis points × weights never overflow), half-up rounding to
// the fen, and largest-remainder splits that sum exactly.

// mulDivHalfUp returns a×b÷d rounded half up, for a, b ≥ 0 and d > 0.
func mulDivHalfUp(a, b, d int64) int64 {
	n := new(big.Int).Mul(big.NewInt(a), big.NewInt(b))
	return divHalfUp(n, d)
}

func divHalfUp(n *big.Int, d int64) int64 {
	bd := big.NewInt(d)
	n = new(big.Int).Add(new(big.Int).Mul(n, big.NewInt(2)), bd)
	return n.Quo(n, new(big.Int).Mul(bd, big.NewInt(2))).Int64()
}

// BountyAmount is a bounty of amount per whole credit for a credit of
// weight (WeightScale = 1), rounded half up.
func BountyAmount(amount, weight int64) int64 { return mulDivHalfUp(amount, weight, WeightScale) }

// PercentageAmount is rateBP basis points of fen, rounded half up to the
// fen: 7 fen at 2000 bp is 1, 2 fen at 2000 bp is 0, 15 fen at 1000 bp is 2.
func PercentageAmount(fen, rateBP int64) int64 { return mulDivHalfUp(fen, rateBP, 10000) }

// TierEntitlement is what a tier rule pays in total for a period's
// quantity qty (weight units for basis count, fen for basis amount). The
// payout of each credit is the difference of the entitlement before and
// after it, so rounding never drifts over a period.
func TierEntitlement(r IncentiveRule, qty int64) int64 {
	scale, div := int64(1), int64(10000)
	if r.Basis == TierByCount {
		scale, div = WeightScale, WeightScale
	}
	if r.Mode == TierBackToFirst {
		return backToFirst(r, qty, scale, div)
	}
	sum := new(big.Int)
	for i, t := range r.Tiers {
		lo := t.Threshold * scale
		if qty <= lo {
			break
		}
		hi := qty
		if i+1 < len(r.Tiers) && r.Tiers[i+1].Threshold*scale < hi {
			hi = r.Tiers[i+1].Threshold * scale
		}
		sum.Add(sum, new(big.Int).Mul(big.NewInt(tierRate(r, t)), big.NewInt(hi-lo)))
	}
	return divHalfUp(sum, div)
}

func backToFirst(r IncentiveRule, qty, scale, div int64) int64 {
	rate := int64(0)
	for _, t := range r.Tiers {
		if qty >= t.Threshold*scale {
			rate = tierRate(r, t)
		}
	}
	return mulDivHalfUp(rate, qty, div)
}

func tierRate(r IncentiveRule, t IncentiveTier) int64 {
	if r.Basis == TierByCount {
		return t.Amount
	}
	return t.RateBP
}

// LargestRemainder splits total over weights in proportion, each share
// rounded down and the units left over given to the largest remainders
// (ties to the earlier entry), so the shares sum to total exactly. All
// weights zero gives all shares zero.
func LargestRemainder(total int64, weights []int64) []int64 {
	out := make([]int64, len(weights))
	var sum int64
	for _, w := range weights {
		sum += w
	}
	if sum <= 0 || total == 0 {
		return out
	}
	rems := make([]*big.Int, len(weights))
	bs, given := big.NewInt(sum), int64(0)
	for i, w := range weights {
		q, r := new(big.Int).QuoRem(new(big.Int).Mul(big.NewInt(total), big.NewInt(w)), bs, new(big.Int))
		out[i], rems[i] = q.Int64(), r
		given += out[i]
	}
	order := make([]int, len(weights))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return rems[order[a]].Cmp(rems[order[b]]) > 0 })
	for k := 0; given < total; k++ {
		out[order[k%len(order)]]++
		given++
	}
	return out
}

// incentivePeriodKey names the day, natural week (by its Monday), month or
// whole campaign holding t in loc.
func incentivePeriodKey(period string, t time.Time, loc *time.Location) string {
	switch period {
	case IncentiveDay:
		return t.In(loc).Format(time.DateOnly)
	case IncentiveWeek:
		y, m, d := t.In(loc).Date()
		back := (int(t.In(loc).Weekday()) + 6) % 7 // Monday 0 … Sunday 6
		return "W" + time.Date(y, m, d-back, 0, 0, 0, 0, loc).Format(time.DateOnly)
	case IncentiveMonth:
		return t.In(loc).Format("2006-01")
	}
	return IncentiveCampaign
}

// HoldUntil is when an earning made at t is approved: the end of day days
// counting t's day as day 1, in loc (DOMAIN.md). days ≤ 0 approves at once.
func HoldUntil(t time.Time, days int, loc *time.Location) time.Time {
	if days <= 0 {
		return t
	}
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d+days, 0, 0, 0, 0, loc)
}

// monthBounds returns the start and exclusive end of a YYYY-MM month in loc.
func monthBounds(period string, loc *time.Location) (time.Time, time.Time, bool) {
	m, err := time.ParseInLocation("2006-01", period, loc)
	if err != nil {
		return time.Time{}, time.Time{}, false
	}
	return m, m.AddDate(0, 1, 0), true
}
