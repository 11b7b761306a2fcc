package rewards

import (
	"context"
	"sort"
	"time"
)

// PerkSummaryRow counts one rule's grants in one state.
type PerkSummaryRow struct {
	Rule     string `json:"rule"`
	State    string `json:"state"`
	Grants   int    `json:"grants"`
	Coupons  int    `json:"coupons"`
	ValueFen int64  `json:"value_fen"`
}

// PerkStageCount counts the cardholders who reached a stage.
type PerkStageCount struct {
	Stage       int `json:"stage"`
	Cardholders int `json:"cardholders"`
}

// PerkLiability is the programme's coupon money as of a date: coupons
// claimed and not yet spent or expired (outstanding), coupons of grants
// still claimable (potential), and coupons redeemed.
type PerkLiability struct {
	OutstandingFen int64 `json:"outstanding_fen"`
	PotentialFen   int64 `json:"potential_fen"`
	RedeemedFen    int64 `json:"redeemed_fen"`
	ExpiredFen     int64 `json:"expired_fen"`
}

// PerkSummary is a programme-level view as of a date.
type PerkSummary struct {
	ProgrammeID int64            `json:"programme_id,string"`
	At          time.Time        `json:"at"`
	Cardholders int              `json:"cardholders"`
	Grants      []PerkSummaryRow `json:"grants"`
	Stages      []PerkStageCount `json:"stages"`
	Icons       int              `json:"icons"`
	Liability   PerkLiability    `json:"liability"`
}

// Summary evaluates every cardholder of the programme's product as of at
// and sums grants by rule and state, stage counts and coupon liability.
func (s *PerkService) Summary(ctx context.Context, programmeID int64, at time.Time) (PerkSummary, error) {
	prog, err := loadPerkProgramme(ctx, s.DB, programmeID)
	if err != nil {
		return PerkSummary{}, err
	}
	customers, err := perkCardholdersOf(ctx, s.DB, prog.Product)
	if err != nil {
		return PerkSummary{}, err
	}
	sum := PerkSummary{ProgrammeID: programmeID, At: at, Grants: []PerkSummaryRow{}, Stages: []PerkStageCount{}}
	rows, stages := map[[2]string]*PerkSummaryRow{}, map[int]int{}
	for _, c := range customers {
		l, err := s.ledger(ctx, s.DB, programmeID, c, at)
		if err != nil {
			return PerkSummary{}, err
		}
		sum.Cardholders++
		sum.Icons += l.Map.Icons
		for st := 1; st <= l.Map.Stage; st++ {
			stages[st]++
		}
		for _, g := range l.Grants {
			addToSummary(&sum.Liability, rows, g)
		}
	}
	for _, r := range rows {
		sum.Grants = append(sum.Grants, *r)
	}
	sort.Slice(sum.Grants, func(i, j int) bool {
		a, b := sum.Grants[i], sum.Grants[j]
		return a.Rule < b.Rule || a.Rule == b.Rule && a.State < b.State
	})
	for st := 1; stages[st] > 0; st++ {
		sum.Stages = append(sum.Stages, PerkStageCount{Stage: st, Cardholders: stages[st]})
	}
	return sum, nil
}

func addToSummary(li *PerkLiability, rows map[[2]string]*PerkSummaryRow, g PerkGrant) {
	k := [2]string{g.Rule, g.State}
	r := rows[k]
	if r == nil {
		r = &PerkSummaryRow{Rule: g.Rule, State: g.State}
		rows[k] = r
	}
	r.Grants++
	r.Coupons += g.Coupons
	r.ValueFen += int64(g.Coupons) * g.ValueFen
	if g.State == StateClaimable {
		li.PotentialFen += int64(g.Coupons) * g.ValueFen
	}
	for _, c := range g.CouponList {
		switch c.State {
		case StateClaimed, StateEffective:
			li.OutstandingFen += c.ValueFen
		case StateRedeemed:
			li.RedeemedFen += c.ValueFen
		case StateExpired:
			li.ExpiredFen += c.ValueFen
		}
	}
}
