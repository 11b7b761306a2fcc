package attribution

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"slices"
	"time"

	"rmref/customer"
	"rmref/internal/apperr"
)

// Channels where a conversion or contact happened.
var Channels = []string{"online", "remote", "offline"}

// MaxFuture is how far ahead of the server clock a reported time may be.
const MaxFuture = 5 * time.Minute

// Errors of ingestion.
var (
	ErrFutureTime      = apperr.Conflictf("future_time", "the time is more than 5 minutes ahead of the server clock")
	ErrKeyReused       = apperr.Conflictf("idempotency_key_reused", "the source and external id were used with another payload")
	ErrNotFound        = apperr.NotFoundf("no such conversion")
	ErrReversalTooBig  = apperr.Conflictf("reversal_exceeds_amount", "the reversal exceeds the amount not yet reversed")
	ErrNothingToRevert = apperr.Conflictf("fully_reversed", "the conversion is already fully reversed")
)

var (
	slugRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	keyRe  = regexp.MustCompile(`^[\x21-\x7e]{1,128}$`)
)

// ConversionInput is a conversion as an upstream system reports it.
type ConversionInput struct {
	Source         string               `json:"source"`
	ExternalID     string               `json:"external_id"`
	Type           string               `json:"type"`
	Customer       customer.Identifiers `json:"customer"`
	AmountFen      *int64               `json:"amount_fen"`
	ProductCode    string               `json:"product_code,omitempty"`
	Channel        string               `json:"channel"`
	SubChannel     string               `json:"sub_channel,omitempty"`
	OccurredAt     *time.Time           `json:"occurred_at"`
	InvitationCode string               `json:"invitation_code,omitempty"`
	ReferralToken  string               `json:"rmref_t,omitempty"`
}

// validate checks the fields that need no lookups.
func (in ConversionInput) validate() error {
	var c apperr.Collector
	c.Check(!slugRe.MatchString(in.Source), "source", "must be a lowercase identifier (letters, digits, _), at most 64")
	c.Check(!keyRe.MatchString(in.ExternalID), "external_id", "must be 1 to 128 printable ASCII characters")
	c.Check(!slugRe.MatchString(in.Type), "type", "must be a lowercase conversion type such as account_opened")
	c.Check(in.AmountFen == nil, "amount_fen", "is required")
	c.Check(in.AmountFen != nil && *in.AmountFen < 0, "amount_fen", "must be an integer ≥ 0")
	c.Check(in.ProductCode != "" && !keyRe.MatchString(in.ProductCode) || len(in.ProductCode) > 64, "product_code", "must be at most 64 printable ASCII characters")
	c.Check(!slices.Contains(Channels, in.Channel), "channel", "must be one of online, remote, offline")
	c.Check(in.SubChannel != "" && !slugRe.MatchString(in.SubChannel), "sub_channel", "must be a lowercase identifier")
	c.Check(in.OccurredAt == nil, "occurred_at", "is required (RFC 3339)")
	c.Check(len(in.InvitationCode) > 32, "invitation_code", "is too long")
	c.Check(len(in.ReferralToken) > 255, "rmref_t", "is too long")
	c.Check(in.Customer.Empty(), "customer", "at least one identifier is required")
	return c.Err()
}

// checkFuture refuses a time more than MaxFuture ahead of now.
func checkFuture(t, now time.Time) error {
	if t.After(now.Add(MaxFuture)) {
		return ErrFutureTime
	}
	return nil
}

// payloadHash fingerprints a normalised payload (phone numbers already
// hashed), to tell a repeat from a reuse of its idempotency key.
func payloadHash(v any) string {
	b, _ := json.Marshal(v)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TouchInput is a remote or offline contact as an upstream system (or the
// leads domain) reports it.
type TouchInput struct {
	Source          string               `json:"source"`
	ExternalID      string               `json:"external_id"`
	Customer        customer.Identifiers `json:"customer"`
	StaffEmployeeNo string               `json:"staff_employee_no"`
	Channel         string               `json:"channel"`
	Kind            string               `json:"kind"`
	OccurredAt      *time.Time           `json:"occurred_at"`
	CampaignID      int64                `json:"campaign_id,string,omitempty"`
}

func (in TouchInput) validate() error {
	var c apperr.Collector
	c.Check(!slugRe.MatchString(in.Source), "source", "must be a lowercase identifier (letters, digits, _), at most 64")
	c.Check(!keyRe.MatchString(in.ExternalID), "external_id", "must be 1 to 128 printable ASCII characters")
	c.Check(in.StaffEmployeeNo == "" || len(in.StaffEmployeeNo) > 64, "staff_employee_no", "is required")
	c.Check(in.Channel != "remote" && in.Channel != "offline", "channel", "must be remote or offline")
	c.Check(!slugRe.MatchString(in.Kind) || len(in.Kind) > 32, "kind", "must be a lowercase identifier such as call, sms, wecom, branch_visit")
	c.Check(in.OccurredAt == nil, "occurred_at", "is required (RFC 3339)")
	c.Check(in.CampaignID < 0, "campaign_id", "must be a campaign id")
	c.Check(in.Customer.Empty(), "customer", "at least one identifier is required")
	return c.Err()
}
