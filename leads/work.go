package leads

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/audit"
	"rmref/internal/db"
)

// Report types.
const (
	ReportContact = "contact"
	ReportOutcome = "outcome"
)

// Report is a contact or an outcome recorded for a lead.
type Report struct {
	EventID    string    `json:"event_id"`
	EmployeeNo string    `json:"employee_no"`
	Type       string    `json:"type"`
	Outcome    string    `json:"outcome"`
	At         time.Time `json:"at"`
	Note       string    `json:"note"`
}

func (r *Report) validate(now time.Time, needEmployee bool) error {
	var c apperr.Collector
	c.Check(r.Type != ReportContact && r.Type != ReportOutcome, "type", "must be contact or outcome")
	c.Check(r.Type == ReportOutcome && !slices.Contains(Outcomes, r.Outcome), "outcome", "must be converted, not_interested, unreachable or invalid")
	c.Check(needEmployee && r.EmployeeNo == "", "employee_no", "required: the agent who made the contact")
	c.Check(len(r.EventID) > 128, "event_id", "at most 128 characters")
	c.Check(len(r.Note) > 500, "note", "at most 500 characters")
	if err := c.Err(); err != nil {
		return err
	}
	if r.At.IsZero() {
		r.At = now
	}
	r.At = r.At.UTC()
	if r.At.After(now.Add(MaxFuture)) {
		return ErrFutureTime
	}
	return nil
}

// apply records r on l by staff st. A contact moves the lead to contacted
// (the first one settles the SLA); an outcome closes it, except that a
// remote unreachable returns it to the next channel of its route dated at
// the attempt.
func (s *Service) apply(ctx context.Context, o offerer, l *Lead, st staffInfo, r Report, eventKey string) error {
	if !slices.Contains([]string{StatusOffered, StatusAccepted, StatusContacted}, l.Status) {
		return ErrInvalidState
	}
	kind := r.Type
	if kind == ReportOutcome && r.Outcome != StatusUnreachable && r.Outcome != StatusInvalid && l.FirstContactAt == nil {
		kind = ReportContact // reaching the customer to hear an answer is a contact
	}
	c := Contact{LeadID: l.ID, CustomerID: l.CustomerID, Channel: l.Channel, Kind: kind, StaffID: st.ID, UnitID: st.UnitID, At: r.At, Note: r.Note}
	if r.Type == ReportOutcome {
		c.Outcome = r.Outcome
	}
	if err := insertContact(ctx, o.ext, &c, eventKey, o.now); err != nil {
		if s.DB.Dialect.IsUniqueViolation(err) {
			return errDuplicateReport
		}
		return fmt.Errorf("leads: contact: %w", err)
	}
	if kind == ReportContact && s.Touches != nil {
		if err := s.Touches.RecordLeadContact(ctx, o.ext, c, st.EmployeeNo); err != nil {
			return err
		}
	}
	if kind == ReportContact {
		if err := o.contacted(ctx, l, r.At); err != nil {
			return err
		}
	}
	if r.Type == ReportOutcome {
		return o.outcome(ctx, l, r.Outcome, r.At)
	}
	return nil
}

// errDuplicateReport marks a report whose event id was already applied.
var errDuplicateReport = errors.New("leads: report already recorded")

func (o offerer) contacted(ctx context.Context, l *Lead, at time.Time) error {
	from := l.Status
	if l.AcceptedAt == nil {
		l.AcceptedAt = &at
	}
	if l.FirstContactAt == nil {
		l.FirstContactAt = &at
	}
	l.Status = StatusContacted
	if err := saveLead(ctx, o.ext, l, o.now); err != nil {
		return err
	}
	return o.record(ctx, l, from, at, "contact")
}

func (o offerer) outcome(ctx context.Context, l *Lead, outcome string, at time.Time) error {
	a, _, err := o.attrsOf(ctx, l.CustomerID)
	if err != nil {
		return err
	}
	if outcome == StatusUnreachable && IsRemote(l.Channel) {
		return o.returnFlow(ctx, l, ReasonUnreachable, at)
	}
	return o.close(ctx, l, outcome, outcome, at, a)
}

// Claim hands a remote channel's claimer up to limit leads, highest
// priority then oldest offer, each leased to holder until now + the lease.
// A lead whose lease has ended (lease_until ≤ now) can be claimed again.
// Each hand-out is a conditional UPDATE checked by rows affected, so two
// claimers (or replicas) never get the same lead; candidates are taken in
// one global order, so concurrent claimers never wait on each other in a
// cycle.
func (s *Service) Claim(ctx context.Context, holder, channel string, limit int) ([]Lead, error) {
	if !IsRemote(channel) {
		return nil, apperr.Field("channel", "must be remote:call_center, remote:sms or remote:wecom")
	}
	if limit < 1 || limit > 100 {
		return nil, apperr.Field("limit", "must be 1 to 100")
	}
	set, err := loadSettings(ctx, s.DB)
	if err != nil {
		return nil, err
	}
	var got []Lead
	for attempt := 0; attempt < 5 && len(got) < limit; attempt++ {
		now := s.Clock.Now()
		cands, err := claimCandidates(ctx, s.DB, channel, now, 2*(limit-len(got))+8)
		if err != nil || len(cands) == 0 {
			return got, err
		}
		won, err := s.claimSome(ctx, holder, channel, cands, limit-len(got), now, now.Add(time.Duration(set.LeaseSeconds)*time.Second))
		if err != nil {
			return got, err
		}
		got = append(got, won...)
	}
	return got, nil
}

type claimCand struct {
	ID        int64         `db:"id"`
	Status    string        `db:"status"`
	Priority  int           `db:"priority"`
	OfferedAt sql.NullInt64 `db:"offered_at"`
}

// Never-claimed offers come straight from leads_claim_order (lease_until
// + 0 keeps planners off the lease index, which would sort every offer);
// leads whose lease has expired from leads_lease. The two lists are
// merged in hand-out order.
const (
	qFreshCandidates = `SELECT id, status, priority, offered_at FROM leads WHERE channel = ? AND status = 'offered' AND lease_until + 0 <= ?
	ORDER BY priority DESC, offered_at, id LIMIT ?`
	qExpiredCandidates = `SELECT id, status, priority, offered_at FROM leads WHERE channel = ? AND status IN ('accepted', 'contacted')
	AND lease_until <= ? ORDER BY priority DESC, offered_at, id LIMIT ?`
)

func claimCandidates(ctx context.Context, ext sqlx.ExtContext, channel string, now time.Time, n int) ([]claimCand, error) {
	var fresh, expired []claimCand
	if err := sqlx.SelectContext(ctx, ext, &fresh, qFreshCandidates, channel, db.Micros(now), n); err != nil {
		return nil, fmt.Errorf("leads: claim candidates: %w", err)
	}
	if err := sqlx.SelectContext(ctx, ext, &expired, qExpiredCandidates, channel, db.Micros(now), n); err != nil {
		return nil, fmt.Errorf("leads: claim candidates: %w", err)
	}
	all := append(fresh, expired...)
	slices.SortFunc(all, func(a, b claimCand) int {
		if a.Priority != b.Priority {
			return b.Priority - a.Priority
		}
		if a.OfferedAt.Int64 != b.OfferedAt.Int64 {
			return cmp.Compare(a.OfferedAt.Int64, b.OfferedAt.Int64)
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return all[:min(n, len(all))], nil
}

// qClaim leases one lead if its lease has ended; a first claim is the
// channel's acceptance.
const qClaim = `UPDATE leads SET lease_until = ?, lease_holder = ?, version = version + 1, updated_at = ?,
	status = CASE WHEN status = 'offered' THEN 'accepted' ELSE status END, accepted_at = COALESCE(accepted_at, ?)
	WHERE id = ? AND channel = ? AND status IN ('offered', 'accepted', 'contacted') AND lease_until <= ?`

// claimSome claims candidates in hand-out order in one transaction and
// returns the leads won (at most want). All claimers take rows in the same
// order, so on MySQL-family servers their row locks never wait in a
// cycle; on SQLite (one writer) claimers queue on a mutex rather than in
// SQLite's sleeping busy handler.
func (s *Service) claimSome(ctx context.Context, holder, channel string, cands []claimCand, want int, now, until time.Time) ([]Lead, error) {
	unlock := writerLock(s.DB)
	defer unlock()
	return s.claimTx(ctx, holder, channel, cands, want, now, until)
}

// claimTx claims candidates in order in one transaction: each by a
// conditional UPDATE checked by rows affected.
func (s *Service) claimTx(ctx context.Context, holder, channel string, cands []claimCand, want int, now, until time.Time) ([]Lead, error) {
	var won []Lead
	err := s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		before := map[int64]string{}
		var ids []int64
		for _, c := range cands {
			if len(ids) == want {
				break
			}
			res, err := tx.ExecContext(ctx, qClaim, db.Micros(until), holder, db.Micros(now), db.Micros(now), c.ID, channel, db.Micros(now))
			if err != nil {
				return fmt.Errorf("leads: claim %d: %w", c.ID, err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				ids = append(ids, c.ID)
				before[c.ID] = c.Status
			}
		}
		if len(ids) == 0 {
			won = nil
			return nil
		}
		q, args, err := sqlx.In(`SELECT `+leadCols+` FROM leads WHERE id IN (?) ORDER BY priority DESC, offered_at, id`, ids)
		if err != nil {
			return err
		}
		if won, err = selectLeads(ctx, tx, q, args...); err != nil {
			return err
		}
		for i := range won {
			if err := s.claimed(ctx, tx, won[i], before[won[i].ID], holder, now); err != nil {
				return err
			}
			won[i].SLAState = won[i].slaState(now)
		}
		return nil
	})
	return won, err
}

// claimed records a claim: the acceptance transition on a first claim, and
// the audit entry.
func (s *Service) claimed(ctx context.Context, tx *sqlx.Tx, l Lead, before, holder string, now time.Time) error {
	o := offerer{s: s, ext: tx, actor: "client:" + holder, now: now}
	if before == StatusOffered && l.Status == StatusAccepted {
		return o.record(ctx, &l, before, now, "claim")
	}
	return audit.Record(ctx, tx, audit.Entry{At: now, Actor: o.actor, Action: "lead.claim", EntityType: "lead",
		EntityID: strconv.FormatInt(l.ID, 10), Detail: map[string]any{"lease_until": l.LeaseUntil}})
}

// RenewLease extends holder's lease on a lead to now + the lease length.
func (s *Service) RenewLease(ctx context.Context, holder string, id int64) (Lead, error) {
	set, err := loadSettings(ctx, s.DB)
	if err != nil {
		return Lead{}, err
	}
	now := s.Clock.Now()
	res, err := s.DB.ExecContext(ctx, `UPDATE leads SET lease_until = ?, updated_at = ? WHERE id = ? AND lease_holder = ? AND lease_until > ?
		AND status IN ('offered', 'accepted', 'contacted')`, db.Micros(now.Add(time.Duration(set.LeaseSeconds)*time.Second)), db.Micros(now), id, holder, db.Micros(now))
	if err != nil {
		return Lead{}, fmt.Errorf("leads: renew %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		if _, err := getLead(ctx, s.DB, id); err != nil {
			return Lead{}, err
		}
		return Lead{}, ErrLeaseLost
	}
	return s.get(ctx, s.DB, id)
}

// RemoteReport records a remote platform's contact or outcome for an
// agent (named by employee number) on a lead it holds the lease of.
// Reports are idempotent on their event id.
func (s *Service) RemoteReport(ctx context.Context, holder string, id int64, r Report) (Lead, error) {
	now := s.Clock.Now()
	if err := r.validate(now, true); err != nil {
		return Lead{}, err
	}
	err := s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		l, err := getLead(ctx, tx, id)
		if err != nil {
			return err
		}
		if !IsRemote(l.Channel) {
			return ErrNotRemote
		}
		st, err := staffByEmployeeNo(ctx, tx, r.EmployeeNo)
		if err != nil || st.Status != "active" {
			return apperr.Field("employee_no", "no active staff member with this employee number")
		}
		if eventKey := keyOf(holder, r.EventID); eventKey != "" && reportSeen(ctx, tx, eventKey) {
			return nil
		}
		if l.LeaseHolder != holder || l.LeaseUntil == nil || !now.Before(*l.LeaseUntil) {
			return ErrLeaseLost
		}
		o, err := s.offerer(ctx, tx, "staff:"+st.EmployeeNo)
		if err != nil {
			return err
		}
		return s.apply(ctx, o, &l, st, r, keyOf(holder, r.EventID))
	})
	if err != nil && !errors.Is(err, errDuplicateReport) {
		return Lead{}, err
	}
	return s.get(ctx, s.DB, id)
}

func keyOf(holder, eventID string) string {
	if eventID == "" {
		return ""
	}
	return holder + "\x1f" + eventID
}

func reportSeen(ctx context.Context, ext sqlx.ExtContext, key string) bool {
	var n int
	_ = sqlx.GetContext(ctx, ext, &n, `SELECT COUNT(*) FROM lead_contacts WHERE event_key = ?`, key)
	return n > 0
}

// get returns a lead with its SLA state at the clock.
func (s *Service) get(ctx context.Context, ext sqlx.ExtContext, id int64) (Lead, error) {
	l, err := getLead(ctx, ext, id)
	l.SLAState = l.slaState(s.Clock.Now())
	return l, err
}

// sqliteWriters holds one mutex per embedded database: SQLite has one
// writer at a time, and queueing claimers here is far cheaper than
// SQLite's sleeping busy handler when many claim at once.
var sqliteWriters sync.Map // *db.DB -> *sync.Mutex

// writerLock serialises hot writers on an embedded database (a no-op on
// MySQL-family servers, which lock rows) and returns the unlock function.
func writerLock(d *db.DB) func() {
	if d.Dialect.Name() != "sqlite" {
		return func() {}
	}
	m, _ := sqliteWriters.LoadOrStore(d, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}
