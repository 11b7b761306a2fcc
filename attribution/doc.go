// Package attribution credits every conversion to the staff who brought
// it, exactly once and explainably: explicit bindings (an entered
// invitation code or a referral token), customer protection, and the
// campaign's multi-touch model over the customer's touches in the lookback
// window, with exclusions recorded with their reasons. Credits carry the
// staff member's org chain as of the conversion, and leaderboard rollups
// are written in the same transaction as append-only deltas, so concurrent
// conversions never queue on one hot row.
//
// The engine (Attribute) is a pure function of its inputs; the Service
// gathers those inputs from the database and the other domains (through
// the small interfaces declared in sources.go) and stores the results.
package attribution
