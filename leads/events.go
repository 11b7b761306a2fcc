package leads

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/db"
)

// MaxEventBatch is the largest batch POST /events/batch takes.
const MaxEventBatch = 1000

// EventIn is one behaviour event from the app's tracking.
type EventIn struct {
	EventID      string          `json:"event_id"`
	CustomerID   string          `json:"customer_id"`
	VisitorID    string          `json:"visitor_id"`
	Kind         string          `json:"kind"`
	Product      string          `json:"product"`
	OccurredAt   time.Time       `json:"occurred_at"`
	DwellSeconds int             `json:"dwell_seconds"`
	Attributes   json.RawMessage `json:"attributes,omitempty"`
}

// IngestResult says what a batch did.
type IngestResult struct {
	Accepted   int      `json:"accepted"`
	Duplicates int      `json:"duplicates"`
	Expired    int      `json:"expired"`
	LeadIDs    []int64  `json:"-"`
	Leads      []string `json:"lead_ids"`
}

// validateEvents checks a batch; any bad item refuses the whole batch.
func validateEvents(evs []EventIn, now time.Time) error {
	var c apperr.Collector
	c.Check(len(evs) == 0, "events", "at least one event")
	c.Check(len(evs) > MaxEventBatch, "events", fmt.Sprintf("at most %d events", MaxEventBatch))
	for i, e := range evs {
		p := "events[" + strconv.Itoa(i) + "]."
		c.Check(e.EventID == "" || len(e.EventID) > 128, p+"event_id", "required, at most 128 characters")
		c.Check(e.CustomerID == "" && e.VisitorID == "", p+"customer_id", "customer_id or visitor_id is required")
		c.Check(len(e.CustomerID) > 64, p+"customer_id", "at most 64 characters")
		c.Check(len(e.VisitorID) > 128, p+"visitor_id", "at most 128 characters")
		c.Check(e.Kind == "" || len(e.Kind) > 64, p+"kind", "required, at most 64 characters")
		c.Check(len(e.Product) > 64, p+"product", "at most 64 characters")
		c.Check(e.OccurredAt.IsZero(), p+"occurred_at", "required (RFC 3339)")
		c.Check(e.DwellSeconds < 0, p+"dwell_seconds", "must be ≥ 0")
		c.Check(len(e.Attributes) > 2048, p+"attributes", "at most 2 KB")
	}
	if err := c.Err(); err != nil {
		return err
	}
	for _, e := range evs {
		if e.OccurredAt.After(now.Add(MaxFuture)) {
			return ErrFutureTime
		}
	}
	return nil
}

// Ingest stores a batch of events (idempotent on event id) and evaluates
// each new event, in time order, against the active rules on its own time.
// Events older than the retention horizon are not kept or evaluated.
func (s *Service) Ingest(ctx context.Context, actor string, evs []EventIn) (IngestResult, error) {
	now := s.Clock.Now()
	if err := validateEvents(evs, now); err != nil {
		return IngestResult{}, err
	}
	var res IngestResult
	err := s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		res, err = s.ingestTx(ctx, tx, actor, evs, now)
		return err
	})
	for _, id := range res.LeadIDs {
		res.Leads = append(res.Leads, strconv.FormatInt(id, 10))
	}
	if res.Leads == nil {
		res.Leads = []string{}
	}
	return res, err
}

func (s *Service) ingestTx(ctx context.Context, tx *sqlx.Tx, actor string, evs []EventIn, now time.Time) (IngestResult, error) {
	var res IngestResult
	o, err := s.offerer(ctx, tx, "system")
	if err != nil {
		return res, err
	}
	rules, err := activeRules(ctx, tx)
	if err != nil {
		return res, err
	}
	fresh, dups, err := s.newEvents(ctx, tx, evs, now.Add(-retention(o.set, rules)))
	if err != nil {
		return res, err
	}
	res.Duplicates = dups
	res.Expired = len(evs) - dups - len(fresh)
	res.Accepted = len(fresh)
	if err := insertEvents(ctx, tx, fresh, now); err != nil {
		return res, err
	}
	o.cache = newBatchCache()
	if len(fresh) > 0 {
		o.cache.span = [2]time.Time{fresh[0].OccurredAt, fresh[len(fresh)-1].OccurredAt}
	}
	if err := o.preload(ctx, fresh, rules); err != nil {
		return res, err
	}
	for _, e := range fresh {
		ids, err := s.evaluate(ctx, o, rules, e)
		if err != nil {
			return res, err
		}
		res.LeadIDs = append(res.LeadIDs, ids...)
	}
	if err := armTimers(ctx, tx, s.DB.Dialect, o.cache.timers); err != nil {
		return res, err
	}
	fired, err := s.fireTimers(ctx, o, now, 1000)
	res.LeadIDs = append(res.LeadIDs, fired...)
	if err != nil {
		return res, err
	}
	return res, o.flush(ctx)
}

// retention is how long raw events are kept: the configured retention or
// the longest window an active rule needs, whichever is longer.
func retention(set Settings, rules []Rule) time.Duration {
	d := time.Duration(set.RetentionHours) * time.Hour
	for _, r := range rules {
		d = max(d, r.Definition.Trigger.window())
	}
	return d
}

// newEvents drops duplicates (stored or repeated in the batch) and events
// older than cutoff, resolves visitors, and sorts by time.
func (s *Service) newEvents(ctx context.Context, ext sqlx.ExtContext, evs []EventIn, cutoff time.Time) ([]EventIn, int, error) {
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.EventID
	}
	q, args, err := sqlx.In(`SELECT event_id FROM lead_events WHERE event_id IN (?)`, ids)
	if err != nil {
		return nil, 0, err
	}
	var have []string
	if err := sqlx.SelectContext(ctx, ext, &have, q, args...); err != nil {
		return nil, 0, fmt.Errorf("leads: known events: %w", err)
	}
	seen := map[string]bool{}
	for _, h := range have {
		seen[h] = true
	}
	var out []EventIn
	dups := 0
	for _, e := range evs {
		if seen[e.EventID] {
			dups++
			continue
		}
		seen[e.EventID] = true
		if e.OccurredAt.Before(cutoff) {
			continue
		}
		if e.CustomerID == "" && s.Identities != nil {
			if e.CustomerID, err = s.Identities.CustomerForVisitor(ctx, ext, e.VisitorID); err != nil {
				return nil, 0, err
			}
		}
		e.OccurredAt = e.OccurredAt.UTC()
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].OccurredAt.Before(out[j].OccurredAt) })
	return out, dups, nil
}

// insertEvents stores events in multi-row inserts.
func insertEvents(ctx context.Context, ext sqlx.ExtContext, evs []EventIn, now time.Time) error {
	const cols = 9
	for start := 0; start < len(evs); start += 200 {
		chunk := evs[start:min(start+200, len(evs))]
		var sb strings.Builder
		sb.WriteString(`INSERT INTO lead_events (event_id, customer_id, visitor_id, kind, product, occurred_at, dwell_seconds, attrs, received_at) VALUES `)
		args := make([]any, 0, cols*len(chunk))
		for i, e := range chunk {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, e.EventID, e.CustomerID, e.VisitorID, e.Kind, e.Product, db.Micros(e.OccurredAt), e.DwellSeconds, string(e.Attributes), db.Micros(now))
		}
		if _, err := ext.ExecContext(ctx, sb.String(), args...); err != nil {
			return fmt.Errorf("leads: insert events: %w", err)
		}
	}
	return nil
}

// evaluate runs the active rules on one new event.
func (s *Service) evaluate(ctx context.Context, o offerer, rules []Rule, e EventIn) ([]int64, error) {
	if e.CustomerID == "" {
		return nil, nil
	}
	var made []int64
	for _, r := range rules {
		at, ok, err := s.triggered(ctx, o, r, e)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		id, err := s.tryCreate(ctx, o, r, e.CustomerID, e.Product, at, e.EventID)
		if err != nil {
			return nil, err
		}
		if id > 0 {
			made = append(made, id)
		}
	}
	return made, nil
}

// triggered reports whether e fires r now, and the instant of the lead.
// An abandonment trigger only arms a timer (fired by fireTimers).
func (s *Service) triggered(ctx context.Context, o offerer, r Rule, e EventIn) (time.Time, bool, error) {
	t := r.Definition.Trigger
	if !t.matchesProduct(e.Product) {
		return time.Time{}, false, nil
	}
	switch t.Type {
	case TriggerDwell:
		return e.OccurredAt, e.Kind == EventProductView && e.DwellSeconds >= t.DwellSeconds, nil
	case TriggerCount:
		if e.Kind != t.EventKind {
			return time.Time{}, false, nil
		}
		return o.countWindow(ctx, r, e)
	case TriggerAbandon:
		if e.Kind == EventApplicationStarted {
			o.cache.timers = append(o.cache.timers, timerArm{r, e})
		}
	}
	return time.Time{}, false, nil
}

// countWindow looks for Count matching events within WindowMinutes (the
// first and last at most the window apart) in a window that contains e;
// the lead is dated at the window's last event. The customer's matching
// events around the whole batch are read once.
func (o offerer) countWindow(ctx context.Context, r Rule, e EventIn) (time.Time, bool, error) {
	t := r.Definition.Trigger
	w := time.Duration(t.WindowMinutes) * time.Minute
	key := fmt.Sprintf("%d\x1f%s", r.ID, e.CustomerID)
	times, ok := o.cache.windows[key]
	if !ok {
		var err error
		if times, err = windowEvents(ctx, o.ext, t, e.CustomerID, o.cache.span[0].Add(-w), o.cache.span[1].Add(w)); err != nil {
			return time.Time{}, false, err
		}
		o.cache.windows[key] = times
	}
	at := db.Micros(e.OccurredAt)
	for i := 0; i+t.Count-1 < len(times); i++ {
		last := times[i+t.Count-1]
		if last-times[i] <= w.Microseconds() && times[i] <= at && at <= last {
			return db.FromMicros(last), true, nil
		}
	}
	return time.Time{}, false, nil
}

func windowEvents(ctx context.Context, ext sqlx.ExtContext, t Trigger, customerID string, from, to time.Time) ([]int64, error) {
	q := `SELECT occurred_at FROM lead_events WHERE customer_id = ? AND kind = ? AND occurred_at >= ? AND occurred_at <= ?`
	args := []any{customerID, t.EventKind, db.Micros(from), db.Micros(to)}
	if len(t.Products) > 0 {
		q += ` AND product IN (?)`
		args = append(args, t.Products)
	}
	q, args, err := sqlx.In(q+` ORDER BY occurred_at`, args...)
	if err != nil {
		return nil, err
	}
	var times []int64
	if err := sqlx.SelectContext(ctx, ext, &times, q, args...); err != nil {
		return nil, fmt.Errorf("leads: window: %w", err)
	}
	return times, nil
}

// armTimers stores the batch's abandonment timers in multi-row inserts.
func armTimers(ctx context.Context, ext sqlx.ExtContext, d db.Dialect, arms []timerArm) error {
	for start := 0; start < len(arms); start += 200 {
		chunk := arms[start:min(start+200, len(arms))]
		var sb strings.Builder
		sb.WriteString(`INSERT INTO lead_timers (rule_id, rule_version, customer_id, product, event_id, started_at, due_at, status) VALUES `)
		args := make([]any, 0, 7*len(chunk))
		for i, a := range chunk {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?, ?, ?, ?, ?, 'pending')")
			due := a.e.OccurredAt.Add(time.Duration(a.rule.Definition.Trigger.AbandonMinutes) * time.Minute)
			args = append(args, a.rule.ID, a.rule.Version, a.e.CustomerID, a.e.Product, a.e.EventID, db.Micros(a.e.OccurredAt), db.Micros(due))
		}
		sb.WriteString(" " + d.IgnoreDup([]string{"rule_id", "event_id"}, "status"))
		if _, err := ext.ExecContext(ctx, sb.String(), args...); err != nil {
			return fmt.Errorf("leads: arm timers: %w", err)
		}
	}
	return nil
}

type timerRow struct {
	ID         int64  `db:"id"`
	RuleID     int64  `db:"rule_id"`
	CustomerID string `db:"customer_id"`
	Product    string `db:"product"`
	EventID    string `db:"event_id"`
	StartedAt  int64  `db:"started_at"`
	DueAt      int64  `db:"due_at"`
}

// fireTimers settles abandonment timers due by now: an application
// submitted within M minutes of its start (exactly M is in time) cancels
// it; otherwise the lead is made at start + M. Timers that cannot make a
// lead (submitted, or an open lead or cool-down blocks it) are settled in
// bulk; each one that may make a lead is won by a conditional UPDATE, so
// two replicas never both act on it.
func (s *Service) fireTimers(ctx context.Context, o offerer, now time.Time, limit int) ([]int64, error) {
	var ts []timerRow
	if err := sqlx.SelectContext(ctx, o.ext, &ts, `SELECT id, rule_id, customer_id, product, event_id, started_at, due_at FROM lead_timers
		WHERE status = 'pending' AND due_at <= ? ORDER BY due_at, id LIMIT ?`, db.Micros(now), limit); err != nil {
		return nil, fmt.Errorf("leads: due timers: %w", err)
	}
	if len(ts) == 0 {
		return nil, nil
	}
	submitted, err := submissions(ctx, o.ext, ts)
	if err != nil {
		return nil, err
	}
	var made []int64
	settled := map[string][]int64{}
	for _, t := range ts {
		status, live, err := s.timerFate(ctx, o, t, submitted)
		if err != nil {
			return nil, err
		}
		if !live {
			settled[status] = append(settled[status], t.ID)
			continue
		}
		id, err := s.fireTimer(ctx, o, t)
		if err != nil {
			return nil, err
		}
		if id > 0 {
			made = append(made, id)
		}
	}
	return made, settleTimers(ctx, o.ext, settled)
}

// timerFate says how a due timer ends without firing (status, false) or
// that it may make a lead (_, true).
func (s *Service) timerFate(ctx context.Context, o offerer, t timerRow, submitted map[string][]int64) (string, bool, error) {
	for _, at := range submitted[t.CustomerID+"\x1f"+t.Product] {
		if at >= t.StartedAt && at <= t.DueAt {
			return "submitted", false, nil
		}
	}
	r, err := o.ruleOf(ctx, t.RuleID)
	if err != nil || r.Status != RuleActive {
		return "fired", false, nil
	}
	blocked, err := o.blocked(ctx, t.CustomerID, t.Product, db.FromMicros(t.DueAt))
	return "fired", !blocked, err
}

// submissions returns the application_submitted times of the timers'
// customers and products within the timers' span.
func submissions(ctx context.Context, ext sqlx.ExtContext, ts []timerRow) (map[string][]int64, error) {
	var ids []string
	seen := map[string]bool{}
	from, to := ts[0].StartedAt, ts[0].DueAt
	for _, t := range ts {
		if !seen[t.CustomerID] {
			seen[t.CustomerID] = true
			ids = append(ids, t.CustomerID)
		}
		from, to = min(from, t.StartedAt), max(to, t.DueAt)
	}
	q, args, err := sqlx.In(`SELECT customer_id, product, occurred_at FROM lead_events WHERE kind = ? AND customer_id IN (?)
		AND occurred_at >= ? AND occurred_at <= ?`, EventApplicationSubmitted, ids, from, to)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		Customer string `db:"customer_id"`
		Product  string `db:"product"`
		At       int64  `db:"occurred_at"`
	}
	if err := sqlx.SelectContext(ctx, ext, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("leads: submissions: %w", err)
	}
	out := map[string][]int64{}
	for _, r := range rows {
		out[r.Customer+"\x1f"+r.Product] = append(out[r.Customer+"\x1f"+r.Product], r.At)
	}
	return out, nil
}

func settleTimers(ctx context.Context, ext sqlx.ExtContext, settled map[string][]int64) error {
	for status, ids := range settled {
		for start := 0; start < len(ids); start += 500 {
			q, args, err := sqlx.In(`UPDATE lead_timers SET status = ? WHERE status = 'pending' AND id IN (?)`, status, ids[start:min(start+500, len(ids))])
			if err != nil {
				return err
			}
			if _, err := ext.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("leads: settle timers: %w", err)
			}
		}
	}
	return nil
}

// fireTimer wins one timer and makes its lead.
func (s *Service) fireTimer(ctx context.Context, o offerer, t timerRow) (int64, error) {
	res, err := o.ext.ExecContext(ctx, `UPDATE lead_timers SET status = 'fired' WHERE id = ? AND status = 'pending'`, t.ID)
	if err != nil {
		return 0, fmt.Errorf("leads: settle timer: %w", err)
	}
	if won, _ := res.RowsAffected(); won != 1 {
		return 0, nil
	}
	r, err := o.ruleOf(ctx, t.RuleID)
	if err != nil {
		return 0, err
	}
	return s.tryCreate(ctx, o, r, t.CustomerID, t.Product, db.FromMicros(t.DueAt), t.EventID)
}

// tryCreate makes a lead unless the customer fails the rule's filters, an
// open lead for the customer and product exists, or a closed one's
// cool-down covers at. It returns the new lead's id or 0.
func (s *Service) tryCreate(ctx context.Context, o offerer, r Rule, customerID, product string, at time.Time, eventID string) (int64, error) {
	if blocked, err := o.blocked(ctx, customerID, product, at); err != nil || blocked {
		return 0, err
	}
	a, has, err := o.attrsOf(ctx, customerID)
	if err != nil || !r.Definition.Filters.Matches(a, has) {
		return 0, err
	}
	l := Lead{CustomerID: customerID, Product: product, RuleID: r.ID, RuleVersion: r.Version, Priority: r.Definition.Priority,
		Status: StatusNew, Route: r.Definition.Routing.Route(a), TriggerEventID: eventID, TriggeredAt: at,
		SLAHours: r.Definition.SLAHours, CooldownDays: r.Definition.CooldownDays}
	l.Channel = l.Route[0]
	if o.cache != nil {
		return o.makeLead(ctx, &l, r.Code, at)
	}
	if err := insertLead(ctx, o.ext, &l, o.now); err != nil {
		if o.s.DB.Dialect.IsUniqueViolation(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("leads: insert lead: %w", err)
	}
	if err := o.record(ctx, &l, "", at, "rule:"+r.Code); err != nil {
		return 0, err
	}
	err = o.offer(ctx, &l, 0, at, "")
	o.made(l)
	return l.ID, err
}

// makeLead makes and offers a new lead within an events batch: the offer
// is decided first and the lead inserted once in its resulting state; its
// history and audit entries (recorded in the batch cache) then get its id.
// A lead that another writer's open lead blocks (the open-key conflict)
// leaves nothing behind, as when it is inserted first.
func (o offerer) makeLead(ctx context.Context, l *Lead, ruleCode string, at time.Time) (int64, error) {
	m := o.cache.mark()
	if err := o.record(ctx, l, "", at, "rule:"+ruleCode); err != nil {
		return 0, err
	}
	if err := o.offer(ctx, l, 0, at, ""); err != nil {
		return 0, err
	}
	if err := insertMadeLead(ctx, o.ext, l, o.now); err != nil {
		o.cache.dropSince(m)
		if o.s.DB.Dialect.IsUniqueViolation(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("leads: insert lead: %w", err)
	}
	o.cache.identify(m, l.ID)
	o.made(*l)
	return l.ID, nil
}
