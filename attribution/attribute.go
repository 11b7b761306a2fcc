package attribution

import (
	"cmp"
	"slices"
	"time"
)

// Attribute decides how one conversion is credited in one campaign. It is
// a pure function of its input: the same input gives the same result,
// whatever order the data arrived in.
func Attribute(in Input) Result {
	in.Campaign.Settings = in.Campaign.Settings.WithDefaults()
	r := Result{CampaignID: in.Campaign.ID, Settings: in.Campaign.Settings, Considered: []Considered{}, Excluded: []Excluded{}, Credits: []Credit{}}
	if reason := conversionExcluded(in); reason != "" {
		r.Rule, r.Reason = RuleNotCounted, reason
		return r
	}
	if applyProtection(in, &r) {
		return r
	}
	if applyBinding(in, &r) {
		r.ProtectionStart = in.Campaign.Settings.ProtectionDays > 0
		return r
	}
	applyModel(in, &r)
	r.ProtectionStart = in.Campaign.Settings.ProtectionDays > 0 && len(r.Credits) > 0
	return r
}

// conversionExcluded returns why the campaign does not count the
// conversion at all, or "".
func conversionExcluded(in Input) string {
	c, cv := in.Campaign, in.Conversion
	minFen, counted := c.Counts[cv.Type]
	switch {
	case !c.Covers(cv.OccurredAt):
		return ReasonOutsideDates
	case !counted:
		return ReasonTypeNotCounted
	case cv.AmountFen < minFen:
		return ReasonBelowMinAmount
	}
	return ""
}

// applyProtection credits the protector when the customer is protected at
// the conversion; it reports whether it did. Bindings and touches are then
// listed as excluded.
func applyProtection(in Input, r *Result) bool {
	p := in.Protection
	t := in.Conversion.OccurredAt
	if p == nil || t.Before(p.Since) || t.After(p.Until) {
		return false
	}
	st, ok := in.Staff[p.StaffID]
	if !ok || st.LeftBy(t) {
		r.Excluded = append(r.Excluded, Excluded{Reason: ReasonProtectorLeft, Bind: &Binding{Via: "protection", StaffID: p.StaffID}})
		return false
	}
	r.Rule, r.Protection = RuleProtection, p
	for i := range in.Bindings {
		r.Excluded = append(r.Excluded, Excluded{Bind: &in.Bindings[i], Reason: ReasonUnderProtection})
	}
	for i := range in.Touches {
		r.Excluded = append(r.Excluded, Excluded{Touch: &in.Touches[i], Reason: ReasonUnderProtection})
	}
	r.Credits = []Credit{whole(st, in.Conversion.AmountFen, p.Since)}
	return true
}

// applyBinding credits the first valid binding; it reports whether it did.
func applyBinding(in Input, r *Result) bool {
	for i := range in.Bindings {
		b := &in.Bindings[i]
		if reason := bindingExcluded(in, *b); reason != "" {
			r.Excluded = append(r.Excluded, Excluded{Bind: b, Reason: reason})
			continue
		}
		r.Rule, r.Binding = RuleBinding, b
		for j := range in.Touches {
			r.Excluded = append(r.Excluded, Excluded{Touch: &in.Touches[j], Reason: ReasonBindingTakesOver})
		}
		r.Credits = []Credit{whole(in.Staff[b.StaffID], in.Conversion.AmountFen, in.Conversion.OccurredAt)}
		return true
	}
	return false
}

func bindingExcluded(in Input, b Binding) string {
	t := in.Conversion.OccurredAt
	if b.Invalid != "" {
		return b.Invalid
	}
	if b.CampaignID != 0 && b.CampaignID != in.Campaign.ID {
		return ReasonOtherCampaign
	}
	if !b.RevokedAt.IsZero() && !b.RevokedAt.After(t) {
		return ReasonCodeRevoked
	}
	return staffExcluded(in, b.StaffID)
}

// staffExcluded returns why a staff member cannot be credited for the
// conversion, or "".
func staffExcluded(in Input, id int64) string {
	st, ok := in.Staff[id]
	switch {
	case !ok:
		return ReasonUnknownStaff
	case st.LeftBy(in.Conversion.OccurredAt):
		return ReasonStaffLeft
	case !in.Campaign.Participates(st.Chain.UnitPath):
		return ReasonOutsideUnits
	case st.PhoneHash != "" && slices.Contains(in.PhoneHashes, st.PhoneHash):
		return ReasonSelfReferral
	}
	return ""
}

// touchExcluded returns why a touch does not count, or "".
func touchExcluded(in Input, t Touch) string {
	conv, c := in.Conversion.OccurredAt, in.Campaign
	from := conv.Add(-time.Duration(c.Settings.LookbackDays) * Day)
	switch {
	case t.At.After(conv):
		return ReasonAfterConversion
	case t.At.Before(from):
		return ReasonOutsideLookback
	case t.CampaignID != 0 && t.CampaignID != c.ID:
		return ReasonOtherCampaign
	case t.Bot:
		return ReasonBot
	case t.NotCounted != "":
		return ReasonNotCounted + ":" + t.NotCounted
	case !c.Covers(t.At):
		return ReasonOutsideDates
	case !t.CodeRevokedAt.IsZero() && !t.CodeRevokedAt.After(t.At):
		return ReasonCodeRevoked
	}
	return staffExcluded(in, t.StaffID)
}

// applyModel credits the counted touches by the campaign's model.
func applyModel(in Input, r *Result) {
	touches := slices.Clone(in.Touches)
	slices.SortStableFunc(touches, touchOrder)
	var kept []Touch
	for i := range touches {
		if reason := touchExcluded(in, touches[i]); reason != "" {
			r.Excluded = append(r.Excluded, Excluded{Touch: &touches[i], Reason: reason})
			continue
		}
		kept = append(kept, touches[i])
	}
	if len(kept) == 0 {
		r.Rule = RuleNoTouches
		return
	}
	r.Rule = RuleModel
	shares := modelShares(in.Campaign.Settings, in.Conversion.OccurredAt, kept)
	r.Considered, r.Credits = split(in, kept, shares)
}

// touchOrder orders touches by time, then id (then source, for a
// deterministic order between a click and a contact with equal ids).
func touchOrder(a, b Touch) int {
	if c := a.At.Compare(b.At); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ID, b.ID); c != 0 {
		return c
	}
	return cmp.Compare(a.Source, b.Source)
}

// whole is a 100% credit.
func whole(st Staff, amount int64, first time.Time) Credit {
	return Credit{StaffID: st.ID, EmployeeNo: st.EmployeeNo, Weight: WeightOne, CreditedFen: amount, FirstTouchAt: first, Chain: st.Chain}
}
