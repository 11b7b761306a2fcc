package leads

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/customer"
	"rmref/internal/audit"
	"rmref/internal/db"
)

// batchCache keeps, for one transaction (an events batch or one worker
// step), what evaluation reads again and again: customers' attributes,
// unit calendars, rules, each customer and product's lead state, and the
// recent events of count windows. It lives no longer than its transaction,
// so it never sees stale data from other writers' commits.
type batchCache struct {
	attrs     map[string]attrEntry
	calendars map[int64]Calendar
	rules     map[int64]Rule
	blocks    map[string][]blockRow
	windows   map[string][]int64
	span      [2]time.Time // the batch's earliest and latest event
	timers    []timerArm

	// contacts holds the batch customers' recorded contact times within
	// contactSpan, read on the first cap check (nil: not read yet).
	contacts    map[string][]int64
	contactOf   map[string]bool // customers whose contacts were read
	contactSpan [2]int64

	// history and audits are the transitions recorded during the batch,
	// written in multi-row inserts by flush (in the order recorded).
	history []histEntry
	audits  []audit.Entry
}

type histEntry struct {
	leadID int64
	t      Transition
}

type attrEntry struct {
	a   customer.Attributes
	has bool
}

type timerArm struct {
	rule Rule
	e    EventIn
}

func newBatchCache() *batchCache {
	return &batchCache{attrs: map[string]attrEntry{}, calendars: map[int64]Calendar{}, rules: map[int64]Rule{},
		blocks: map[string][]blockRow{}, windows: map[string][]int64{}}
}

// attrsOf returns a customer's attributes, through the cache when there is one.
func (o offerer) attrsOf(ctx context.Context, customerID string) (customer.Attributes, bool, error) {
	if o.cache == nil {
		return attrs(ctx, o.ext, customerID)
	}
	if e, ok := o.cache.attrs[customerID]; ok {
		return e.a, e.has, nil
	}
	a, has, err := attrs(ctx, o.ext, customerID)
	if err == nil {
		o.cache.attrs[customerID] = attrEntry{a, has}
	}
	return a, has, err
}

func (o offerer) calendarOf(ctx context.Context, unitID int64) (Calendar, error) {
	if o.cache == nil {
		return calendarFor(ctx, o.ext, unitID)
	}
	if c, ok := o.cache.calendars[unitID]; ok {
		return c, nil
	}
	c, err := calendarFor(ctx, o.ext, unitID)
	if err == nil {
		o.cache.calendars[unitID] = c
	}
	return c, err
}

func (o offerer) ruleOf(ctx context.Context, id int64) (Rule, error) {
	if o.cache == nil {
		return getRule(ctx, o.ext, id)
	}
	if r, ok := o.cache.rules[id]; ok {
		return r, nil
	}
	r, err := getRule(ctx, o.ext, id)
	if err == nil {
		o.cache.rules[id] = r
	}
	return r, err
}

// blocked reports whether an open lead exists for the customer and
// product, or a closed one's cool-down has not ended at at.
func (o offerer) blocked(ctx context.Context, customerID, product string, at time.Time) (bool, error) {
	key := customerID + "\x1f" + product
	rows, ok := []blockRow(nil), false
	if o.cache != nil {
		rows, ok = o.cache.blocks[key]
	}
	if !ok {
		if err := sqlx.SelectContext(ctx, o.ext, &rows, `SELECT CASE WHEN open_key IS NULL THEN 0 ELSE 1 END AS open_lead,
			COALESCE(cooldown_until, 0) AS cooldown FROM leads WHERE customer_id = ? AND product = ?`, customerID, product); err != nil {
			return false, fmt.Errorf("leads: dedup: %w", err)
		}
		if o.cache != nil {
			o.cache.blocks[key] = rows
		}
	}
	for _, r := range rows {
		if r.Open || r.Cooldown >= db.Micros(at) {
			return true, nil
		}
	}
	return false, nil
}

// made records a new lead's state (open, or closed with its cool-down) in the cache.
func (o offerer) made(l Lead) {
	if o.cache == nil {
		return
	}
	b := blockRow{Open: IsOpen(l.Status)}
	if l.CooldownUntil != nil {
		b.Cooldown = db.Micros(*l.CooldownUntil)
	}
	key := l.CustomerID + "\x1f" + l.Product
	o.cache.blocks[key] = append(o.cache.blocks[key], b)
}

type blockRow struct {
	Open     bool  `db:"open_lead"`
	Cooldown int64 `db:"cooldown"`
}

// preload fills the cache for the customers of a batch in a few queries:
// attributes, lead states per product, and count-rule windows.
func (o offerer) preload(ctx context.Context, evs []EventIn, rules []Rule) error {
	var ids []string
	seen := map[string]bool{}
	for _, e := range evs {
		if e.CustomerID != "" && !seen[e.CustomerID] {
			seen[e.CustomerID] = true
			ids = append(ids, e.CustomerID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if err := o.preloadAttrs(ctx, ids); err != nil {
		return err
	}
	if err := o.preloadBlocks(ctx, ids, evs); err != nil {
		return err
	}
	for _, r := range rules {
		if r.Definition.Trigger.Type == TriggerCount {
			if err := o.preloadWindows(ctx, r, ids); err != nil {
				return err
			}
		}
	}
	return nil
}

func (o offerer) preloadAttrs(ctx context.Context, ids []string) error {
	got, err := customer.AttributesOf(ctx, o.ext, ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		a, has := got[id]
		if !has {
			a = customer.Attributes{CustomerID: id, Timezone: customer.AttrDefaultTimezone}
		}
		o.cache.attrs[id] = attrEntry{a, has}
	}
	return nil
}

func (o offerer) preloadBlocks(ctx context.Context, ids []string, evs []EventIn) error {
	for _, e := range evs {
		if e.CustomerID != "" {
			o.cache.blocks[e.CustomerID+"\x1f"+e.Product] = nil
		}
	}
	for start := 0; start < len(ids); start += 500 {
		q, args, err := sqlx.In(`SELECT customer_id, product, CASE WHEN open_key IS NULL THEN 0 ELSE 1 END AS open_lead,
			COALESCE(cooldown_until, 0) AS cooldown FROM leads WHERE customer_id IN (?)`, ids[start:min(start+500, len(ids))])
		if err != nil {
			return err
		}
		var rows []struct {
			Customer string `db:"customer_id"`
			Product  string `db:"product"`
			blockRow
		}
		if err := sqlx.SelectContext(ctx, o.ext, &rows, q, args...); err != nil {
			return fmt.Errorf("leads: preload dedup: %w", err)
		}
		for _, r := range rows {
			k := r.Customer + "\x1f" + r.Product
			o.cache.blocks[k] = append(o.cache.blocks[k], r.blockRow)
		}
	}
	return nil
}

func (o offerer) preloadWindows(ctx context.Context, r Rule, ids []string) error {
	t := r.Definition.Trigger
	w := time.Duration(t.WindowMinutes) * time.Minute
	for _, id := range ids {
		o.cache.windows[fmt.Sprintf("%d\x1f%s", r.ID, id)] = nil
	}
	for start := 0; start < len(ids); start += 500 {
		q := `SELECT customer_id, occurred_at FROM lead_events WHERE customer_id IN (?) AND kind = ? AND occurred_at >= ? AND occurred_at <= ?`
		args := []any{ids[start:min(start+500, len(ids))], t.EventKind, db.Micros(o.cache.span[0].Add(-w)), db.Micros(o.cache.span[1].Add(w))}
		if len(t.Products) > 0 {
			q += ` AND product IN (?)`
			args = append(args, t.Products)
		}
		q, args, err := sqlx.In(q+` ORDER BY customer_id, occurred_at`, args...)
		if err != nil {
			return err
		}
		var rows []struct {
			Customer string `db:"customer_id"`
			At       int64  `db:"occurred_at"`
		}
		if err := sqlx.SelectContext(ctx, o.ext, &rows, q, args...); err != nil {
			return fmt.Errorf("leads: preload windows: %w", err)
		}
		for _, row := range rows {
			k := fmt.Sprintf("%d\x1f%s", r.ID, row.Customer)
			o.cache.windows[k] = append(o.cache.windows[k], row.At)
		}
	}
	return nil
}

// contactMargin widens the batch's span for the contact read: a week or a
// calendar month around any instant of the span, in any time zone, lies
// within it.
const contactMargin = 33 * 24 * time.Hour

// countContacts counts a customer's recorded lead contacts in [from, to):
// from the batch's contact read when it covers the range, else by query.
// Contacts are recorded only by reports, never during a batch, so the
// read stays right for the whole transaction.
func (o offerer) countContacts(ctx context.Context, customerID string, from, to time.Time) (int, error) {
	c := o.cache
	if c == nil || len(c.attrs) == 0 {
		return countContacts(ctx, o.ext, customerID, from, to)
	}
	if c.contacts == nil {
		if err := o.preloadContacts(ctx); err != nil {
			return 0, err
		}
	}
	known := c.contactOf[customerID]
	f, t := db.Micros(from), db.Micros(to)
	if !known || f < c.contactSpan[0] || t > c.contactSpan[1] {
		return countContacts(ctx, o.ext, customerID, from, to)
	}
	n := 0
	for _, at := range c.contacts[customerID] {
		if at >= f && at < t {
			n++
		}
	}
	return n, nil
}

// preloadContacts reads the contacts of the batch's customers (those whose
// attributes were preloaded) around the batch's span.
func (o offerer) preloadContacts(ctx context.Context) error {
	c := o.cache
	c.contacts, c.contactOf = map[string][]int64{}, map[string]bool{}
	c.contactSpan = [2]int64{db.Micros(c.span[0].Add(-contactMargin)), db.Micros(c.span[1].Add(contactMargin))}
	ids := make([]string, 0, len(c.attrs))
	for id := range c.attrs {
		ids = append(ids, id)
		c.contactOf[id] = true
	}
	for start := 0; start < len(ids); start += 500 {
		q, args, err := sqlx.In(`SELECT customer_id, at FROM lead_contacts WHERE customer_id IN (?) AND kind = 'contact' AND at >= ? AND at < ?`,
			ids[start:min(start+500, len(ids))], c.contactSpan[0], c.contactSpan[1])
		if err != nil {
			return err
		}
		var rows []struct {
			Customer string `db:"customer_id"`
			At       int64  `db:"at"`
		}
		if err := sqlx.SelectContext(ctx, o.ext, &rows, q, args...); err != nil {
			return fmt.Errorf("leads: preload contacts: %w", err)
		}
		for _, r := range rows {
			c.contacts[r.Customer] = append(c.contacts[r.Customer], r.At)
		}
	}
	return nil
}

// addHistory records a transition: at once without a cache, else at flush.
func (o offerer) addHistory(ctx context.Context, leadID int64, t Transition) error {
	if o.cache == nil {
		return addHistory(ctx, o.ext, leadID, t)
	}
	o.cache.history = append(o.cache.history, histEntry{leadID, t})
	return nil
}

// audit records an audit entry: at once without a cache, else at flush.
func (o offerer) audit(ctx context.Context, e audit.Entry) error {
	if o.cache == nil {
		return audit.Record(ctx, o.ext, e)
	}
	if e.RequestID == "" {
		e.RequestID = audit.RequestID(ctx)
	}
	o.cache.audits = append(o.cache.audits, e)
	return nil
}

// flush writes the batch's recorded history and audit entries in
// multi-row inserts, in the order they were recorded.
func (o offerer) flush(ctx context.Context) error {
	c := o.cache
	if c == nil {
		return nil
	}
	for start := 0; start < len(c.history); start += 200 {
		chunk := c.history[start:min(start+200, len(c.history))]
		var sb strings.Builder
		sb.WriteString(`INSERT INTO lead_history (lead_id, at, from_status, to_status, channel, actor, reason) VALUES `)
		args := make([]any, 0, 7*len(chunk))
		for i, h := range chunk {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?, ?, ?, ?, ?)")
			args = append(args, h.leadID, db.Micros(h.t.At), h.t.From, h.t.To, h.t.Channel, h.t.Actor, h.t.Reason)
		}
		if _, err := o.ext.ExecContext(ctx, sb.String(), args...); err != nil {
			return fmt.Errorf("leads: history: %w", err)
		}
	}
	c.history = nil
	err := audit.RecordMany(ctx, o.ext, c.audits)
	c.audits = nil
	return err
}

// save writes l's state. A lead being made in a batch (no id yet) is
// written once, in its final state, by tryCreate; until then only its
// version counts the saves, as the database would.
func (o offerer) save(ctx context.Context, l *Lead) error {
	if l.ID == 0 && o.cache != nil {
		l.Version++
		return nil
	}
	return saveLead(ctx, o.ext, l, o.now)
}

// mark returns the lengths of the recorded history and audit entries.
func (c *batchCache) mark() [2]int { return [2]int{len(c.history), len(c.audits)} }

// dropSince forgets the entries recorded since m.
func (c *batchCache) dropSince(m [2]int) {
	c.history, c.audits = c.history[:m[0]], c.audits[:m[1]]
}

// identify gives the entries recorded since m for a lead without an id
// (one being made) the id it was inserted with.
func (c *batchCache) identify(m [2]int, id int64) {
	for i := m[0]; i < len(c.history); i++ {
		if c.history[i].leadID == 0 {
			c.history[i].leadID = id
		}
	}
	for i := m[1]; i < len(c.audits); i++ {
		if c.audits[i].EntityType == "lead" && c.audits[i].EntityID == "0" {
			c.audits[i].EntityID = strconv.FormatInt(id, 10)
		}
	}
}
