package leads

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
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
	if err := o.save(ctx, l); err != nil {
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
// Hand-outs are conditional UPDATEs checked by rows affected, so two
// claimers (or replicas) never get the same lead: each marks the rows it
// wins with a token of its own and reads back exactly those.
//
// Claims arriving on one database handle while another is being written
// are grouped: the next writer claims for all of them in one transaction
// (one commit), each in its turn, reading its candidates inside that
// transaction. On SQLite, whose single writer every claim queues on, that
// turns eight queued commits into one.
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
	req := &claimReq{ctx: ctx, svc: s, holder: holder, channel: channel, limit: limit,
		lease: time.Duration(set.LeaseSeconds) * time.Second, wake: make(chan bool, 1)}
	groupOf(s.DB).do(req)
	return req.got, req.err
}

// claimReq is one Claim call waiting in, or served by, a claim group.
type claimReq struct {
	ctx     context.Context
	svc     *Service
	holder  string
	channel string
	limit   int
	lease   time.Duration
	wake    chan bool // true: lead the group; false: served
	got     []Lead
	err     error
}

// claimGroup queues the claims of one database handle: one leader at a
// time claims for everyone queued, in one transaction.
type claimGroup struct {
	d       *db.DB
	mu      sync.Mutex
	busy    bool
	pending []*claimReq
	lastN   int       // claims served by the last transaction
	lastEnd time.Time // when it ended
}

// gatherWait is how long a claim that finds no transaction running waits
// for the claims of the group that has just ended to come back (their
// callers typically claim again at once), so that they share one commit
// instead of the first running alone. A lone claimer never waits.
const (
	gatherWait   = time.Millisecond
	gatherWithin = 5 * time.Millisecond
)

var claimGroups sync.Map // *db.DB -> *claimGroup

func groupOf(d *db.DB) *claimGroup {
	g, _ := claimGroups.LoadOrStore(d, &claimGroup{d: d})
	return g.(*claimGroup)
}

// maxGroup bounds the claims served by one transaction.
const maxGroup = 16

// do queues req and returns once it has been served: by a leader, or by
// req itself when no transaction is running or leadership passes to it.
func (g *claimGroup) do(req *claimReq) {
	g.mu.Lock()
	g.pending = append(g.pending, req)
	if g.busy {
		g.mu.Unlock()
		if lead := <-req.wake; !lead {
			return
		}
	} else {
		g.busy = true
		want := g.lastN
		gather := want > 1 && time.Since(g.lastEnd) < gatherWithin
		g.mu.Unlock()
		if gather {
			g.gather(want)
		}
	}
	// Leader: serve the queue (this request included) in one transaction,
	// then hand leadership to the oldest request still waiting.
	g.mu.Lock()
	n := min(len(g.pending), maxGroup)
	batch := slices.Clone(g.pending[:n])
	g.pending = g.pending[n:]
	g.mu.Unlock()
	g.serve(batch)
	g.mu.Lock()
	g.lastN, g.lastEnd = len(batch), time.Now()
	var next *claimReq
	if len(g.pending) > 0 {
		next = g.pending[0]
	} else {
		g.busy = false
	}
	g.mu.Unlock()
	for _, r := range batch {
		if r != req {
			r.wake <- false
		}
	}
	if next != nil {
		next.wake <- true
	}
}

// gather waits up to gatherWait for want claims to be queued.
func (g *claimGroup) gather(want int) {
	deadline := time.Now().Add(gatherWait)
	for time.Now().Before(deadline) {
		g.mu.Lock()
		n := len(g.pending)
		g.mu.Unlock()
		if n >= want {
			return
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// serve claims for batch in one transaction; if it fails, each request is
// tried again in a transaction of its own, so that one request's failure
// (e.g. a cancelled context) is only its own.
func (g *claimGroup) serve(batch []*claimReq) {
	var live []*claimReq
	for _, r := range batch {
		if r.err = r.ctx.Err(); r.err == nil {
			live = append(live, r)
		}
	}
	if len(live) == 0 {
		return
	}
	if len(live) > 1 {
		ctx := context.WithoutCancel(live[0].ctx)
		err := db.Retry(ctx, func() error { return g.claimTx(ctx, live) })
		if err == nil {
			return
		}
	}
	for _, r := range live {
		r.err = db.Retry(r.ctx, func() error { return g.claimTx(r.ctx, []*claimReq{r}) })
	}
}

// claimTx claims for each request in turn in one transaction and sets
// their results only when it commits.
func (g *claimGroup) claimTx(ctx context.Context, reqs []*claimReq) error {
	got := make([][]Lead, len(reqs))
	err := g.d.WithTx(ctx, func(tx *sqlx.Tx) error {
		var c batchCache
		pools := map[string]*candPool{}
		nows := make([]time.Time, len(reqs))
		for i, r := range reqs {
			nows[i] = r.svc.Clock.Now()
			p := pools[r.channel]
			if p == nil {
				p = &candPool{channel: r.channel, now: nows[i]}
				pools[r.channel] = p
			}
			p.want += r.limit
			if nows[i].Before(p.now) {
				p.now = nows[i]
			}
		}
		for i, r := range reqs {
			var err error
			if got[i], err = r.claim(ctx, tx, &c, nows[i], pools[r.channel]); err != nil {
				return err
			}
		}
		return offerer{ext: tx, cache: &c}.flush(ctx)
	})
	if err != nil {
		return err
	}
	for i, r := range reqs {
		r.got, r.err = got[i], nil
	}
	return nil
}

// claim takes up to r.limit leads in tx: candidates in hand-out order are
// claimed by a conditional UPDATE marked with a fresh token; the rows that
// carry the token are the ones won. History and audit entries go to c.
func (r *claimReq) claim(ctx context.Context, tx *sqlx.Tx, c *batchCache, now time.Time, pool *candPool) ([]Lead, error) {
	until := now.Add(r.lease)
	token, err := newToken()
	if err != nil {
		return nil, err
	}
	var tried []int64
	before := map[int64]string{}
	won := 0
	for attempt := 0; attempt < 5 && won < r.limit; attempt++ {
		// A repeatable-read snapshot (MySQL family) may show leads that
		// others have claimed since: each candidate is tried once.
		var cands []claimCand
		if attempt == 0 {
			cands, err = pool.take(ctx, tx, r.limit)
		} else {
			cands, err = claimCandidates(ctx, tx, r.channel, now, r.limit-won+8+len(tried))
		}
		if err != nil {
			return nil, err
		}
		cands = slices.DeleteFunc(cands, func(cd claimCand) bool { return slices.Contains(tried, cd.ID) })
		if len(cands) == 0 && attempt > 0 {
			break
		}
		for len(cands) > 0 && won < r.limit {
			take := cands[:min(r.limit-won, len(cands))]
			cands = cands[len(take):]
			ids := make([]int64, len(take))
			for i, cd := range take {
				ids[i] = cd.ID
				before[cd.ID] = cd.Status
			}
			q, args, err := sqlx.In(qClaim, db.Micros(until), r.holder, token, db.Micros(now), db.Micros(now), ids, r.channel, db.Micros(now))
			if err != nil {
				return nil, err
			}
			res, err := tx.ExecContext(ctx, q, args...)
			if err != nil {
				return nil, fmt.Errorf("leads: claim: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return nil, fmt.Errorf("leads: claim: %w", err)
			}
			won += int(n)
			tried = append(tried, ids...)
		}
	}
	if won == 0 {
		return nil, nil
	}
	q, args, err := sqlx.In(`SELECT `+leadCols+` FROM leads WHERE id IN (?) AND lease_token = ? ORDER BY priority DESC, offered_at, id`, tried, token)
	if err != nil {
		return nil, err
	}
	leads, err := selectLeads(ctx, tx, q, args...)
	if err != nil {
		return nil, err
	}
	if len(leads) != won {
		return nil, fmt.Errorf("leads: claim read back %d of %d leads won", len(leads), won)
	}
	o := offerer{s: r.svc, ext: tx, actor: "client:" + r.holder, now: now, cache: c}
	for i := range leads {
		if err := o.claimed(ctx, leads[i], before[leads[i].ID]); err != nil {
			return nil, err
		}
		leads[i].SLAState = leads[i].slaState(now)
	}
	return leads, nil
}

func newToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("leads: claim token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// candPool is one read of candidates shared by the claims of a group on
// one channel: read once for all of them (as of the earliest of their
// clocks, so every candidate is one for each), each claim takes the next
// ones in hand-out order. A claim that wins fewer than it wants reads
// afresh.
type candPool struct {
	channel string
	now     time.Time
	want    int
	read    bool
	cands   []claimCand
}

func (p *candPool) take(ctx context.Context, ext sqlx.ExtContext, n int) ([]claimCand, error) {
	if !p.read {
		var err error
		if p.cands, err = claimCandidates(ctx, ext, p.channel, p.now, p.want+8); err != nil {
			return nil, err
		}
		p.read = true
	}
	out := p.cands[:min(n, len(p.cands))]
	p.cands = p.cands[len(out):]
	return out, nil
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

// qClaim leases the listed leads whose lease has ended, marking them with
// the claim's token; a first claim is the channel's acceptance. The
// conditions other than the id list sit in a CASE so that no planner
// prefers a channel/status/lease index range (every offer) to the few
// primary-key lookups.
const qClaim = `UPDATE leads SET lease_until = ?, lease_holder = ?, lease_token = ?, version = version + 1, updated_at = ?,
	status = CASE WHEN status = 'offered' THEN 'accepted' ELSE status END, accepted_at = COALESCE(accepted_at, ?)
	WHERE id IN (?) AND (CASE WHEN channel = ? AND status IN ('offered', 'accepted', 'contacted') AND lease_until <= ? THEN 1 ELSE 0 END) = 1`

// claimed records a claim: the acceptance transition on a first claim, and
// the audit entry.
func (o offerer) claimed(ctx context.Context, l Lead, before string) error {
	if before == StatusOffered && l.Status == StatusAccepted {
		return o.record(ctx, &l, before, o.now, "claim")
	}
	return o.audit(ctx, audit.Entry{At: o.now, Actor: o.actor, Action: "lead.claim", EntityType: "lead",
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
