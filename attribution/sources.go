package attribution

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/campaign"
	"rmref/customer"
	"rmref/internal/auth"
	"rmref/internal/clock"
	"rmref/internal/db"
	"rmref/internal/pii"
	"rmref/org"
	"rmref/referral"
)

// Campaigns is the campaign store as attribution reads it.
type Campaigns interface {
	// Covering returns the campaigns (not drafts) whose dates cover at.
	Covering(ctx context.Context, ext sqlx.ExtContext, at time.Time) ([]Campaign, error)
	// Campaign returns one campaign; unknown ids wrap apperr.NotFound.
	Campaign(ctx context.Context, ext sqlx.ExtContext, id int64) (Campaign, error)
}

// Directory is the org as attribution reads it.
type Directory interface {
	// StaffAt returns the staff members with their org chain at at;
	// unknown ids are absent.
	StaffAt(ctx context.Context, ext sqlx.ExtContext, ids []int64, at time.Time) (map[int64]Staff, error)
	// StaffID returns the id of the staff member with employee number no.
	StaffID(ctx context.Context, ext sqlx.ExtContext, no string) (int64, error)
}

// Referrals are the codes, tokens and clicks as attribution reads them.
type Referrals interface {
	// CodeBinding resolves an entered invitation code (any spelling).
	CodeBinding(ctx context.Context, ext sqlx.ExtContext, raw string) (Binding, error)
	// TokenBinding verifies a referral token and resolves its code; it
	// also returns the click id it carries.
	TokenBinding(ctx context.Context, ext sqlx.ExtContext, token string) (Binding, string, error)
	// Clicks returns the clicks of the given visitors or click ids at
	// from ≤ at ≤ to, as touches.
	Clicks(ctx context.Context, ext sqlx.ExtContext, visitorIDs, clickIDs []string, from, to time.Time) ([]Touch, error)
}

// Bank reads campaigns, org and referrals from their packages.
type Bank struct {
	Org     *org.Store
	HashKey []byte     // signs referral tokens
	cache   *campCache // hydrated campaigns by version; nil: no cache
	kinds   *kindCache // org unit kinds (they never change); nil: no cache
}

// kindCache keeps the kinds of org units, which never change.
type kindCache struct {
	mu sync.Mutex
	m  map[int64]org.Kind
}

// campCache keeps hydrated campaigns keyed by their version (id, status,
// updated_at, freeze_at), so that a conversion reads one row per campaign
// instead of three queries, and any change to a campaign misses the cache.
type campCache struct {
	mu sync.Mutex
	m  map[campVersion]Campaign
}

type campVersion struct {
	ID        int64         `db:"id"`
	Status    string        `db:"status"`
	UpdatedAt int64         `db:"updated_at"`
	FreezeAt  sql.NullInt64 `db:"freeze_at"`
}

var systemReader = auth.Principal{Roles: []auth.Role{auth.RoleHQAdmin}}

const coveringQuery = `SELECT id, status, updated_at, freeze_at FROM campaigns WHERE status <> 'draft' AND start_at <= ? AND end_at > ? ORDER BY id`

// Covering returns the non-draft campaigns whose dates cover at: late data
// still counts in a campaign that has ended since.
func (b Bank) Covering(ctx context.Context, ext sqlx.ExtContext, at time.Time) ([]Campaign, error) {
	var vs []campVersion
	us := db.Micros(at)
	if err := sqlx.SelectContext(ctx, ext, &vs, coveringQuery, us, us); err != nil {
		return nil, fmt.Errorf("attribution: covering campaigns: %w", err)
	}
	out := make([]Campaign, 0, len(vs))
	for _, v := range vs {
		c, err := b.cached(ctx, ext, v)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func (b Bank) cached(ctx context.Context, ext sqlx.ExtContext, v campVersion) (Campaign, error) {
	if b.cache == nil {
		return b.Campaign(ctx, ext, v.ID)
	}
	b.cache.mu.Lock()
	c, ok := b.cache.m[v]
	b.cache.mu.Unlock()
	if ok {
		return c, nil
	}
	c, err := b.Campaign(ctx, ext, v.ID)
	if err != nil {
		return c, err
	}
	b.cache.mu.Lock()
	if len(b.cache.m) > 1000 {
		clear(b.cache.m)
	}
	b.cache.m[v] = c
	b.cache.mu.Unlock()
	return c, nil
}

// Campaign returns one campaign in the engine's terms.
func (b Bank) Campaign(ctx context.Context, ext sqlx.ExtContext, id int64) (Campaign, error) {
	c, err := campaign.Get(ctx, ext, id)
	if err != nil {
		return Campaign{}, err
	}
	return fromCampaign(c), nil
}

func fromCampaign(c campaign.Campaign) Campaign {
	out := Campaign{ID: c.ID, Code: c.Code, Start: c.StartAt, End: c.EndAt, Location: c.Location(), FreezeAt: c.FreezeAt,
		Counts: map[string]int64{}, UnitPaths: []string{},
		Settings: Settings{Model: Model(c.Attribution.Model), LookbackDays: c.Attribution.LookbackDays,
			HalfLifeDays: c.Attribution.HalfLifeDays, ProtectionDays: c.Attribution.ProtectionDays}}
	for _, r := range c.Conversions {
		out.Counts[r.Type] = r.MinAmountFen
	}
	for _, u := range c.Units {
		out.UnitPaths = append(out.UnitPaths, u.Path)
	}
	if len(out.UnitPaths) == 0 {
		out.UnitPaths = []string{"\x00none"} // a campaign without units counts nobody
	}
	return out
}

// staffFactsQuery reads the few staff columns attribution needs (the
// foundation's staff table) for many staff members in one query.
const staffFactsQuery = `SELECT id, employee_no, left_at, phone_hash FROM staff WHERE id IN (?)`

type staffFactRow struct {
	ID         int64          `db:"id"`
	EmployeeNo string         `db:"employee_no"`
	LeftAt     db.NullInstant `db:"left_at"`
	PhoneHash  sql.NullString `db:"phone_hash"`
}

// staffAtQuery reads the staff facts with their unit and its path at an
// instant (the org's assignment and path history) in one query.
const staffAtQuery = `SELECT s.id, s.employee_no, s.left_at, s.phone_hash, a.unit_id, p.path FROM staff s
	LEFT JOIN staff_assignments a ON a.staff_id = s.id AND a.valid_from <= ? AND a.valid_to > ?
	LEFT JOIN unit_paths p ON p.unit_id = a.unit_id AND p.valid_from <= ? AND p.valid_to > ?
	WHERE s.id IN (?)`

type staffAtRow struct {
	staffFactRow
	UnitID sql.NullInt64  `db:"unit_id"`
	Path   sql.NullString `db:"path"`
}

// StaffAt returns staff facts with their chains at at: one query for the
// facts, units and paths, and the unit kinds from a cache. A unit without
// a path at that instant (which the org resolves by its first path) falls
// back to the org's own chain reads.
func (b Bank) StaffAt(ctx context.Context, ext sqlx.ExtContext, ids []int64, at time.Time) (map[int64]Staff, error) {
	out := make(map[int64]Staff, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	us := db.Micros(at)
	q, args, err := sqlx.In(staffAtQuery, us, us, us, us, ids)
	if err != nil {
		return nil, fmt.Errorf("attribution: staff: %w", err)
	}
	var rows []staffAtRow
	if err := sqlx.SelectContext(ctx, ext, &rows, ext.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("attribution: staff: %w", err)
	}
	var unitIDs []int64
	for _, r := range rows {
		if r.UnitID.Valid && !r.Path.Valid {
			return b.staffAtOrg(ctx, ext, ids, at)
		}
		unitIDs = append(unitIDs, org.PathIDs(r.Path.String)...)
	}
	kinds, err := b.unitKinds(ctx, ext, unitIDs)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		s := Staff{ID: r.ID, EmployeeNo: r.EmployeeNo, LeftAt: r.LeftAt.Time, PhoneHash: r.PhoneHash.String}
		if r.UnitID.Valid {
			s.Chain = chainOf(r.UnitID.Int64, r.Path.String, kinds)
		}
		out[r.ID] = s
	}
	return out, nil
}

// chainOf classifies the units on a path by kind (as the org does).
func chainOf(unitID int64, path string, kinds map[int64]org.Kind) Chain {
	c := Chain{UnitID: unitID, UnitPath: path}
	for _, id := range org.PathIDs(path) {
		switch kinds[id] {
		case org.KindRegion:
			c.RegionID = id
		case org.KindBranch:
			c.BranchID = id
		case org.KindSubbranch:
			c.SubbranchID = id
		case org.KindTeam:
			c.TeamID = id
		}
	}
	return c
}

// unitKinds returns the kinds of the units, from the cache where known.
func (b Bank) unitKinds(ctx context.Context, ext sqlx.ExtContext, ids []int64) (map[int64]org.Kind, error) {
	out := make(map[int64]org.Kind, len(ids))
	miss := ids
	if b.kinds != nil {
		miss = nil
		b.kinds.mu.Lock()
		for _, id := range ids {
			if k, ok := b.kinds.m[id]; ok {
				out[id] = k
			} else {
				miss = append(miss, id)
			}
		}
		b.kinds.mu.Unlock()
	}
	if len(miss) == 0 {
		return out, nil
	}
	miss = slices.Clone(miss)
	slices.Sort(miss)
	miss = slices.Compact(miss)
	q, args, err := sqlx.In(`SELECT id, kind FROM org_units WHERE id IN (?)`, miss)
	if err != nil {
		return nil, fmt.Errorf("attribution: unit kinds: %w", err)
	}
	var rows []struct {
		ID   int64  `db:"id"`
		Kind string `db:"kind"`
	}
	if err := sqlx.SelectContext(ctx, ext, &rows, ext.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("attribution: unit kinds: %w", err)
	}
	for _, r := range rows {
		out[r.ID] = org.Kind(r.Kind)
	}
	if b.kinds != nil {
		b.kinds.mu.Lock()
		if len(b.kinds.m) > 100_000 {
			clear(b.kinds.m)
		}
		for _, r := range rows {
			b.kinds.m[r.ID] = org.Kind(r.Kind)
		}
		b.kinds.mu.Unlock()
	}
	return out, nil
}

// staffAtOrg returns staff facts with their chains read by the org.
func (b Bank) staffAtOrg(ctx context.Context, ext sqlx.ExtContext, ids []int64, at time.Time) (map[int64]Staff, error) {
	out := make(map[int64]Staff, len(ids))
	chains, err := b.Org.ChainsAt(ctx, ext, ids, at)
	if err != nil {
		return nil, err
	}
	q, args, err := sqlx.In(staffFactsQuery, ids)
	if err != nil {
		return nil, fmt.Errorf("attribution: staff: %w", err)
	}
	var rows []staffFactRow
	if err := sqlx.SelectContext(ctx, ext, &rows, ext.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("attribution: staff: %w", err)
	}
	for _, r := range rows {
		s := Staff{ID: r.ID, EmployeeNo: r.EmployeeNo, LeftAt: r.LeftAt.Time, PhoneHash: r.PhoneHash.String}
		if c, ok := chains[r.ID]; ok {
			s.Chain = Chain{UnitID: c.UnitID, UnitPath: c.Path, TeamID: c.TeamID, SubbranchID: c.SubbranchID, BranchID: c.BranchID, RegionID: c.RegionID}
		}
		out[r.ID] = s
	}
	return out, nil
}

// StaffID returns the id of the staff member with employee number no.
func (b Bank) StaffID(ctx context.Context, ext sqlx.ExtContext, no string) (int64, error) {
	st, err := b.Org.StaffByEmployeeNo(ctx, ext, systemReader, no)
	if err != nil {
		return 0, err
	}
	return st.ID, nil
}

// CodeBinding resolves an entered code.
func (b Bank) CodeBinding(ctx context.Context, ext sqlx.ExtContext, raw string) (Binding, error) {
	code, err := referral.ParseCode(raw)
	if err != nil {
		return Binding{}, err
	}
	c, err := referral.LookupCode(ctx, ext, code)
	if err != nil {
		return Binding{}, err
	}
	return Binding{Via: "code", Code: c.Code, StaffID: c.StaffID, CampaignID: c.CampaignID, RevokedAt: c.RevokedAt}, nil
}

// TokenBinding verifies a referral token and resolves its code.
func (b Bank) TokenBinding(ctx context.Context, ext sqlx.ExtContext, token string) (Binding, string, error) {
	t, err := referral.VerifyToken(b.HashKey, token)
	if err != nil {
		return Binding{}, "", err
	}
	c, err := referral.LookupCode(ctx, ext, t.Code)
	if err != nil {
		return Binding{}, "", err
	}
	return Binding{Via: "token", Code: c.Code, StaffID: c.StaffID, CampaignID: c.CampaignID, RevokedAt: c.RevokedAt}, t.ClickID, nil
}

// TokenClick verifies a referral token and returns its click id (for
// customer identity links).
func (b Bank) TokenClick(token string) (string, error) {
	t, err := referral.VerifyToken(b.HashKey, token)
	if err != nil {
		return "", err
	}
	return t.ClickID, nil
}

type clickRow struct {
	ID         int64          `db:"id"`
	At         int64          `db:"at"`
	StaffID    int64          `db:"staff_id"`
	CampaignID int64          `db:"campaign_id"`
	Channel    string         `db:"channel"`
	Bot        bool           `db:"bot"`
	Counted    bool           `db:"counted"`
	Reason     string         `db:"reason"`
	RevokedAt  db.NullInstant `db:"revoked_at"`
}

// The click table belongs to referral; attribution reads it (by visitor
// id through the index of migration 00051, or by click id).
const clicksQuery = `SELECT k.id, k.at, k.staff_id, k.campaign_id, k.channel, k.bot, k.counted, k.reason, c.revoked_at
	FROM referral_clicks k JOIN referral_codes c ON c.id = k.code_id
	WHERE k.%s IN (?) AND k.at >= ? AND k.at <= ?`

// Clicks returns the clicks of the visitors or click ids in [from, to].
func (b Bank) Clicks(ctx context.Context, ext sqlx.ExtContext, visitorIDs, clickIDs []string, from, to time.Time) ([]Touch, error) {
	seen := map[int64]bool{}
	var out []Touch
	for col, vals := range map[string][]string{"visitor_id": visitorIDs, "click_id": clickIDs} {
		if len(vals) == 0 {
			continue
		}
		q, args, err := sqlx.In(fmt.Sprintf(clicksQuery, col), vals, db.Micros(from), db.Micros(to))
		if err != nil {
			return nil, fmt.Errorf("attribution: clicks: %w", err)
		}
		var rows []clickRow
		if err := sqlx.SelectContext(ctx, ext, &rows, ext.Rebind(q), args...); err != nil {
			return nil, fmt.Errorf("attribution: clicks: %w", err)
		}
		for _, r := range rows {
			if !seen[r.ID] {
				seen[r.ID] = true
				out = append(out, clickTouch(r))
			}
		}
	}
	return out, nil
}

func clickTouch(r clickRow) Touch {
	t := Touch{Source: "click", ID: r.ID, At: db.FromMicros(r.At), StaffID: r.StaffID, CampaignID: r.CampaignID,
		Channel: r.Channel, Kind: "click", Bot: r.Bot, CodeRevokedAt: r.RevokedAt.Time}
	if !r.Counted && !r.Bot {
		t.NotCounted = r.Reason
		if t.NotCounted == "" {
			t.NotCounted = "not_counted"
		}
	}
	return t
}

// NewBankService returns the service wired to the bank's own campaign, org
// and referral packages; hashKey keys phone hashes and referral tokens.
func NewBankService(d *db.DB, clk clock.Clock, hasher *pii.Hasher, hashKey []byte) *Service {
	bank := Bank{Org: org.NewStore(d.Dialect), HashKey: hashKey, cache: &campCache{m: map[campVersion]Campaign{}},
		kinds: &kindCache{m: map[int64]org.Kind{}}}
	cust := &customer.Service{Store: customer.Store{Dialect: d.Dialect}, Hasher: hasher, Tokens: bank}
	return NewService(d, clk, cust, bank, bank, bank)
}
