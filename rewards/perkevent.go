package rewards

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"rmref/internal/apperr"
)

// Card event kinds streamed by the card system.
const (
	EventCardApproved     = "card_approved"
	EventPurchase         = "purchase"
	EventPurchaseReversed = "purchase_reversed"
	EventExchange         = "points_exchange_requested"
	EventCouponRedeemed   = "coupon_redeemed"
)

// PerkMaxFuture is how far ahead of the clock an event or claim time may be.
const PerkMaxFuture = 5 * time.Minute

// CardEvent is one event from the card system. Every kind names the
// customer (the bank customer id) and the card; the other fields depend on
// the kind.
type CardEvent struct {
	Seq        int64     `json:"-"` // stored row id, for stable keys
	EventID    string    `json:"event_id"`
	Kind       string    `json:"kind"`
	CustomerID string    `json:"customer_id"`
	CardID     string    `json:"card_id"`
	OccurredAt time.Time `json:"occurred_at"`

	Product     string `json:"product,omitempty"`      // card_approved
	Tier        string `json:"tier,omitempty"`         // card_approved
	Primary     *bool  `json:"primary,omitempty"`      // card_approved
	NewCustomer *bool  `json:"new_customer,omitempty"` // card_approved

	AmountFen int64  `json:"amount_fen,omitempty"` // purchase
	Merchant  string `json:"merchant,omitempty"`   // purchase

	PurchaseEventID string `json:"purchase_event_id,omitempty"` // purchase_reversed
	Points          int64  `json:"points,omitempty"`            // points_exchange_requested
	CouponID        string `json:"coupon_id,omitempty"`         // coupon_redeemed
}

// Validate checks the event's fields for its kind and that its time is not
// more than PerkMaxFuture ahead of now.
func (e CardEvent) Validate(now time.Time) error {
	var v apperr.Collector
	v.Check(e.EventID == "" || len(e.EventID) > 128, "event_id", "is required (at most 128 characters)")
	v.Check(e.CustomerID == "" || len(e.CustomerID) > 64, "customer_id", "is required (at most 64 characters)")
	v.Check(e.CardID == "" || len(e.CardID) > 64, "card_id", "is required (at most 64 characters)")
	v.Check(e.OccurredAt.IsZero(), "occurred_at", "is required (RFC 3339)")
	switch e.Kind {
	case EventCardApproved:
		v.Check(e.Product == "", "product", "is required")
		v.Check(e.Tier == "", "tier", "is required")
		v.Check(e.Primary == nil, "primary", "is required")
		v.Check(e.NewCustomer == nil, "new_customer", "is required")
	case EventPurchase:
		v.Check(e.AmountFen <= 0, "amount_fen", "must be > 0")
	case EventPurchaseReversed:
		v.Check(e.PurchaseEventID == "", "purchase_event_id", "is required")
	case EventExchange:
		v.Check(e.Points < 0, "points", "must be ≥ 0")
	case EventCouponRedeemed:
		_, _, _, err := ParseCouponID(e.CouponID)
		v.Check(err != nil, "coupon_id", "must be a coupon id such as 1.welcome#2")
	default:
		v.Add("kind", "must be card_approved, purchase, purchase_reversed, points_exchange_requested or coupon_redeemed")
	}
	if err := v.Err(); err != nil {
		return err
	}
	if e.OccurredAt.After(now.Add(PerkMaxFuture)) {
		return ErrPerkFutureTime
	}
	return nil
}

// Hash returns a digest of the event's payload, to tell a replay (same
// event id, same payload) from a reuse of the id with another payload.
func (e CardEvent) Hash() string {
	e.Seq = 0
	e.OccurredAt = e.OccurredAt.UTC()
	b, _ := json.Marshal(e)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// GrantID returns the public id of a grant: programme id and grant key.
func GrantID(programmeID int64, key string) string { return fmt.Sprintf("%d.%s", programmeID, key) }

// ParseGrantID splits a grant id into programme id and key.
func ParseGrantID(id string) (int64, string, error) {
	p, key, ok := strings.Cut(id, ".")
	var pid int64
	if _, err := fmt.Sscan(p, &pid); !ok || err != nil || pid <= 0 || key == "" {
		return 0, "", ErrPerkGrantNotFound
	}
	return pid, key, nil
}

// CouponID returns the id of the n-th (1-based) coupon of a grant.
func CouponID(grantID string, n int) string { return fmt.Sprintf("%s#%d", grantID, n) }

// ParseCouponID splits a coupon id into programme id, grant key and number.
func ParseCouponID(id string) (int64, string, int, error) {
	g, num, ok := strings.Cut(id, "#")
	var n int
	if _, err := fmt.Sscan(num, &n); !ok || err != nil || n <= 0 {
		return 0, "", 0, apperr.Field("coupon_id", "must be a coupon id such as 1.welcome#2")
	}
	pid, key, err := ParseGrantID(g)
	if err != nil {
		return 0, "", 0, apperr.Field("coupon_id", "must be a coupon id such as 1.welcome#2")
	}
	return pid, key, n, nil
}
