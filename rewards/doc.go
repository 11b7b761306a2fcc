// Package rewards computes what rmref gives out: customer-side perk
// programmes (perk*.go: configurable staged coupon programmes such as the
// co-branded card's coffee programme, evaluated from card events and
// claims) and staff incentives (incentive*.go).
//
// Perk ledgers are derived, not stored: every grant, coupon state, icon
// and stage is computed from the stored card events, the claims and the
// approved programme versions as of any instant, so a query "at" a date is
// exact without a job that must have run. Only claims (and granted points
// exchanges) are frozen snapshots, so a claimed grant is never rewritten.
package rewards
