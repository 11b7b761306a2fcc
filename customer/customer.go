// Package customer knows bank customers and every identifier that points
// at one: the bank's customer id, phone numbers (as keyed hashes only),
// WeChat openid/unionid, the first-party visitor id and the clicks behind
// referral tokens. Identifiers are linked into clusters, a union-find
// persisted as a cluster id per identifier, so that resolution is
// transitive: a visitor id linked to an openid linked to a customer id
// finds the clicks of all three.
package customer

import (
	"strings"
	"unicode/utf8"

	"rmref/internal/apperr"
)

// Kind is the kind of a customer identifier.
type Kind string

// The identifier kinds. Phone values are keyed hashes; click values are
// the click ids carried by verified referral tokens.
const (
	KindCustomerID Kind = "customer_id"
	KindPhone      Kind = "phone"
	KindOpenID     Kind = "openid"
	KindUnionID    Kind = "unionid"
	KindVisitor    Kind = "visitor_id"
	KindClick      Kind = "click"
)

// maxValueLen bounds identifier values (runes).
const maxValueLen = 128

// Identifier is one normalised identifier.
type Identifier struct {
	Kind  Kind   `json:"kind"`
	Value string `json:"value"`
}

// Identifiers is the JSON shape in which upstream systems name a customer:
// any subset of the bank customer id, a phone number (hashed on arrival),
// WeChat ids, the visitor id and a referral token (rmref_t).
type Identifiers struct {
	CustomerID    string `json:"customer_id,omitempty"`
	Phone         string `json:"phone,omitempty"`
	OpenID        string `json:"openid,omitempty"`
	UnionID       string `json:"unionid,omitempty"`
	VisitorID     string `json:"visitor_id,omitempty"`
	ReferralToken string `json:"referral_token,omitempty"`
}

// Empty reports whether no identifier is given.
func (in Identifiers) Empty() bool { return in == Identifiers{} }

// Cluster is one customer (or anonymous visitor) as far as rmref knows:
// every identifier linked to it, directly or transitively.
type Cluster struct {
	ID          int64        `json:"cluster_id,string"`
	Identifiers []Identifier `json:"identifiers"`
}

// Values returns the values of the cluster's identifiers of kind k.
func (c Cluster) Values(k Kind) []string {
	var out []string
	for _, id := range c.Identifiers {
		if id.Kind == k {
			out = append(out, id.Value)
		}
	}
	return out
}

// CustomerNo returns the bank customer id of the cluster, or "".
func (c Cluster) CustomerNo() string {
	if v := c.Values(KindCustomerID); len(v) > 0 {
		return v[0]
	}
	return ""
}

// HasPhoneHash reports whether h is one of the cluster's phone hashes.
func (c Cluster) HasPhoneHash(h string) bool {
	if h == "" {
		return false
	}
	for _, v := range c.Values(KindPhone) {
		if v == h {
			return true
		}
	}
	return false
}

// ErrIdentityConflict refuses a link that would make two bank customers one.
var ErrIdentityConflict = apperr.Conflictf("identity_conflict", "the identifiers belong to different bank customers")

// validValue checks a clear-text identifier value.
func validValue(v string) bool {
	if v == "" || utf8.RuneCountInString(v) > maxValueLen || !utf8.ValidString(v) {
		return false
	}
	return !strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f })
}
