package referral

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/audit"
	"rmref/internal/auth"
	"rmref/internal/clock"
	"rmref/internal/db"
	"rmref/internal/pii"
)

// Config configures the referral service.
type Config struct {
	HashKey        []byte         // signs referral tokens (a derived key) and hashes IPs
	BankLandingURL string         // landing of general codes
	Location       *time.Location // day boundaries of general-code activity
	CacheTTL       time.Duration  // code lookups (default 10 s)
	CacheSize      int            // cached codes (default 100 000)
	Writer         WriterOptions
}

// Service is the referral domain: codes, clicks, shares and statistics.
type Service struct {
	db        *db.DB
	clock     clock.Clock
	campaigns Campaigns
	hasher    *keyedHasher // pii.Hasher's Hash, with reused HMAC states
	signer    *tokenSigner
	landings  landingCache
	cfg       Config
	cache     *codeCache
	writer    *ClickWriter
}

// NewService builds the service and starts its click writer; Close stops it.
func NewService(d *db.DB, clk clock.Clock, camps Campaigns, cfg Config) *Service {
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 10 * time.Second
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 100_000
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	return &Service{db: d, clock: clk, campaigns: camps, hasher: newKeyedHasher(cfg.HashKey),
		signer: newTokenSigner(cfg.HashKey), cfg: cfg,
		cache: newCodeCache(cfg.CacheTTL, cfg.CacheSize), writer: NewClickWriter(d, cfg.Writer)}
}

// Close flushes the clicks in flight and stops the writer.
func (s *Service) Close(ctx context.Context) error { return s.writer.Close(ctx) }

// Writer returns the click writer (for its counters).
func (s *Service) Writer() *ClickWriter { return s.writer }

// CodeFor returns the staff member's active code for the campaign (0: the
// general code), creating it on first use. A campaign code needs a
// campaign that is not a draft and covers the staff member's unit.
func (s *Service) CodeFor(ctx context.Context, staffID, campaignID int64) (Code, error) {
	st, err := getStaff(ctx, s.db, staffID)
	if err != nil {
		return Code{}, err
	}
	if campaignID != 0 {
		if _, err := s.checkParticipation(ctx, campaignID, st.UnitPath); err != nil {
			return Code{}, err
		}
	}
	for range 5 {
		c, err := activeCode(ctx, s.db, staffID, campaignID)
		if !errors.Is(err, ErrCodeNotFound) {
			return c, err
		}
		c, err = s.issue(ctx, s.db, staffID, campaignID)
		if err == nil || !s.db.Dialect.IsUniqueViolation(err) {
			return c, err
		}
		// Another request created it first, or (rarely) the random value
		// exists already: look again / draw again.
	}
	return Code{}, fmt.Errorf("referral: could not issue a unique code for staff %d", staffID)
}

func (s *Service) checkParticipation(ctx context.Context, campaignID int64, unitPath string) (Campaign, error) {
	camp, err := s.campaigns.Campaign(ctx, campaignID)
	if err != nil {
		return Campaign{}, err
	}
	if camp.Status == StatusDraft {
		return Campaign{}, ErrNoCampaign
	}
	ok, err := s.campaigns.Covers(ctx, campaignID, unitPath)
	if err != nil {
		return Campaign{}, err
	}
	if !ok {
		return Campaign{}, ErrNoCampaign
	}
	return camp, nil
}

func (s *Service) issue(ctx context.Context, ext sqlx.ExtContext, staffID, campaignID int64) (Code, error) {
	v, err := NewCode()
	if err != nil {
		return Code{}, err
	}
	return insertCode(ctx, ext, Code{Code: v, StaffID: staffID, CampaignID: campaignID, CreatedAt: s.clock.Now()})
}

// Lookup answers the public code check: the owner's masked name and unit
// for an active code. Malformed, unknown and revoked codes are one
// ErrCodeNotFound; malformed ones never reach the database.
func (s *Service) Lookup(ctx context.Context, raw string) (Owner, error) {
	code, err := ParseCode(raw)
	if err != nil {
		return Owner{}, ErrCodeNotFound
	}
	t, err := s.resolve(ctx, code)
	if err != nil {
		return Owner{}, err
	}
	if !t.code.ActiveAt(s.clock.Now()) {
		return Owner{}, ErrCodeNotFound
	}
	name := pii.MaskName(t.staff.Name)
	return Owner{Code: code, NameMasked: name, UnitName: t.staff.UnitName, Display: name + " · " + t.staff.UnitName}, nil
}

// resolve returns the code's target, from the cache when fresh.
func (s *Service) resolve(ctx context.Context, code string) (target, error) {
	now := s.clock.Now()
	if t, ok := s.cache.get(code, now); ok {
		return t, nil
	}
	c, err := LookupCode(ctx, s.db, code)
	if err != nil {
		return target{}, err
	}
	st, err := getStaff(ctx, s.db, c.StaffID)
	if err != nil {
		return target{}, err
	}
	t := target{code: c, staff: st}
	if !c.General() {
		camp, err := s.campaigns.Campaign(ctx, c.CampaignID)
		if err != nil {
			return target{}, err
		}
		t.campaign = &camp
	}
	s.cache.put(code, t, now)
	return t, nil
}

// Revoke revokes a code now: it stops counting from this instant, its
// history stays. The code's own staff member, a manager whose subtree
// holds them, or an hq_admin may revoke; anyone else gets ErrCodeNotFound.
func (s *Service) Revoke(ctx context.Context, p auth.Principal, raw string) (Code, error) {
	var out Code
	err := s.db.WithTx(ctx, func(tx *sqlx.Tx) error {
		c, err := s.codeInScope(ctx, tx, p, raw)
		if err != nil {
			return err
		}
		out, err = s.revoke(ctx, tx, p, c, "referral_code.revoke")
		return err
	})
	if err == nil {
		s.cache.invalidate(out.Code)
	}
	return out, err
}

// Reissue revokes a code (if still active) and issues the staff member a
// new one for the same campaign, in one transaction.
func (s *Service) Reissue(ctx context.Context, p auth.Principal, raw string) (Code, error) {
	var old, fresh Code
	err := s.db.WithTx(ctx, func(tx *sqlx.Tx) error {
		c, err := s.codeInScope(ctx, tx, p, raw)
		if err != nil {
			return err
		}
		if c.RevokedAt.IsZero() {
			if c, err = s.revoke(ctx, tx, p, c, "referral_code.revoke"); err != nil {
				return err
			}
		}
		old = c
		if fresh, err = s.issue(ctx, tx, c.StaffID, c.CampaignID); err != nil {
			if s.db.Dialect.IsUniqueViolation(err) {
				return apperr.Conflictf("code_exists", "the staff member already has an active code for this campaign")
			}
			return fmt.Errorf("referral: reissue: %w", err)
		}
		return audit.Record(ctx, tx, audit.Entry{At: s.clock.Now(), Actor: p.Actor(), Action: "referral_code.reissue",
			EntityType: "referral_code", EntityID: fresh.Code,
			Detail: map[string]any{"replaces": c.Code, "staff_id": c.StaffID, "campaign_id": c.CampaignID}})
	})
	if err == nil {
		s.cache.invalidate(old.Code)
	}
	return fresh, err
}

func (s *Service) revoke(ctx context.Context, tx *sqlx.Tx, p auth.Principal, c Code, action string) (Code, error) {
	now := s.clock.Now()
	ok, err := revokeCode(ctx, tx, c.ID, db.Micros(now), p.Actor())
	if err != nil {
		return Code{}, err
	}
	if !ok {
		return Code{}, ErrCodeRevoked
	}
	c.RevokedAt = db.FromMicros(db.Micros(now))
	return c, audit.Record(ctx, tx, audit.Entry{At: now, Actor: p.Actor(), Action: action,
		EntityType: "referral_code", EntityID: c.Code,
		Detail: map[string]any{"staff_id": c.StaffID, "campaign_id": c.CampaignID}})
}

// codeInScope returns the code if p may manage it, else ErrCodeNotFound.
func (s *Service) codeInScope(ctx context.Context, ext sqlx.ExtContext, p auth.Principal, raw string) (Code, error) {
	code, err := ParseCode(raw)
	if err != nil {
		return Code{}, ErrCodeNotFound
	}
	c, err := LookupCode(ctx, ext, code)
	if err != nil {
		return Code{}, err
	}
	if p.StaffID == c.StaffID || p.WritesAll() {
		return c, nil
	}
	if !p.Has(auth.RoleManager) {
		return Code{}, ErrCodeNotFound
	}
	if _, err := staffInScope(ctx, ext, p, c.StaffID); err != nil {
		return Code{}, ErrCodeNotFound
	}
	return c, nil
}

// RememberVisitor notes that visitorID was seen on the staff member's own
// signed-in session, so that their clicks on their own links are
// self-clicks.
func (s *Service) RememberVisitor(ctx context.Context, staffID int64, visitorID string) error {
	if !ValidVisitorID(visitorID) {
		return apperr.Field("rmref_vid", "malformed visitor id")
	}
	return rememberVisitor(ctx, s.db, visitorID, staffID, db.Micros(s.clock.Now()))
}

// NewVisitorID returns a fresh visitor id (22 characters): 4 bytes of the
// wall-clock second and 12 random bytes. The time prefix keeps new ids
// close together in the click indexes (fewer pages written per commit);
// the random part keeps them unguessable.
func (s *Service) NewVisitorID() string { return timedID(16, s.clock.Now()) }

// ValidVisitorID reports whether v has the shape NewVisitorID gives.
func ValidVisitorID(v string) bool {
	if len(v) != 22 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil && len(b) == 16
}

// timedID returns n bytes, base64url: the first 4 the Unix second of t
// (big-endian), the rest random. Ids minted together share their prefix,
// so their index entries land on the same pages.
func timedID(n int, t time.Time) string {
	b := make([]byte, n)
	binary.BigEndian.PutUint32(b, uint32(t.Unix()))
	_, _ = rand.Read(b[4:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Card is what a QR code or a poster shows about an active code.
type Card struct {
	Code         string
	StaffID      int64
	StaffName    string
	UnitName     string
	CampaignID   int64
	CampaignName string
}

// Card returns the card of an active code; malformed, unknown and revoked
// codes (and codes of draft campaigns) are ErrCodeNotFound.
func (s *Service) Card(ctx context.Context, raw string) (Card, error) {
	code, err := ParseCode(raw)
	if err != nil {
		return Card{}, ErrCodeNotFound
	}
	t, err := s.resolve(ctx, code)
	if err != nil {
		return Card{}, err
	}
	if !t.code.ActiveAt(s.clock.Now()) || (t.campaign != nil && t.campaign.Status == StatusDraft) {
		return Card{}, ErrCodeNotFound
	}
	card := Card{Code: code, StaffID: t.staff.ID, StaffName: t.staff.Name, UnitName: t.staff.UnitName,
		CampaignID: t.code.CampaignID}
	if t.campaign != nil {
		card.CampaignName = t.campaign.Name
	}
	return card, nil
}
