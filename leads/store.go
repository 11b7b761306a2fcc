package leads

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/db"
)

const leadCols = `id, customer_id, product, rule_id, rule_version, priority, status, route, route_pos, channel, unit_id,
	assignee_id, trigger_event_id, triggered_at, offered_at, sla_hours, sla_at_risk_at, sla_deadline, accepted_at,
	first_contact_at, deferred_until, closed_at, outcome, close_reason, cooldown_days, cooldown_until, lease_until,
	lease_holder, returns, version`

type leadRow struct {
	ID             int64         `db:"id"`
	CustomerID     string        `db:"customer_id"`
	Product        string        `db:"product"`
	RuleID         int64         `db:"rule_id"`
	RuleVersion    int           `db:"rule_version"`
	Priority       int           `db:"priority"`
	Status         string        `db:"status"`
	Route          string        `db:"route"`
	RoutePos       int           `db:"route_pos"`
	Channel        string        `db:"channel"`
	UnitID         sql.NullInt64 `db:"unit_id"`
	AssigneeID     sql.NullInt64 `db:"assignee_id"`
	TriggerEventID string        `db:"trigger_event_id"`
	TriggeredAt    int64         `db:"triggered_at"`
	OfferedAt      sql.NullInt64 `db:"offered_at"`
	SLAHours       int           `db:"sla_hours"`
	SLAAtRiskAt    sql.NullInt64 `db:"sla_at_risk_at"`
	SLADeadline    sql.NullInt64 `db:"sla_deadline"`
	AcceptedAt     sql.NullInt64 `db:"accepted_at"`
	FirstContactAt sql.NullInt64 `db:"first_contact_at"`
	DeferredUntil  sql.NullInt64 `db:"deferred_until"`
	ClosedAt       sql.NullInt64 `db:"closed_at"`
	Outcome        string        `db:"outcome"`
	CloseReason    string        `db:"close_reason"`
	CooldownDays   int           `db:"cooldown_days"`
	CooldownUntil  sql.NullInt64 `db:"cooldown_until"`
	LeaseUntil     int64         `db:"lease_until"`
	LeaseHolder    string        `db:"lease_holder"`
	Returns        int           `db:"returns"`
	Version        int           `db:"version"`
}

func ptime(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := db.FromMicros(n.Int64)
	return &t
}

func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return db.Micros(*t)
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

func (r leadRow) lead() Lead {
	l := Lead{ID: r.ID, CustomerID: r.CustomerID, Product: r.Product, RuleID: r.RuleID, RuleVersion: r.RuleVersion,
		Priority: r.Priority, Status: r.Status, Route: strings.Split(r.Route, ","), RoutePos: r.RoutePos, Channel: r.Channel,
		UnitID: r.UnitID.Int64, AssigneeID: r.AssigneeID.Int64, TriggerEventID: r.TriggerEventID,
		TriggeredAt: db.FromMicros(r.TriggeredAt), OfferedAt: ptime(r.OfferedAt), SLAHours: r.SLAHours,
		SLAAtRiskAt: ptime(r.SLAAtRiskAt), SLADeadline: ptime(r.SLADeadline), AcceptedAt: ptime(r.AcceptedAt),
		FirstContactAt: ptime(r.FirstContactAt), DeferredUntil: ptime(r.DeferredUntil), ClosedAt: ptime(r.ClosedAt),
		Outcome: r.Outcome, CloseReason: r.CloseReason, CooldownDays: r.CooldownDays, CooldownUntil: ptime(r.CooldownUntil),
		LeaseHolder: r.LeaseHolder, Returns: r.Returns, Version: r.Version}
	if r.LeaseUntil > 0 {
		t := db.FromMicros(r.LeaseUntil)
		l.LeaseUntil = &t
	}
	return l
}

func openKey(l Lead) any {
	if !IsOpen(l.Status) {
		return nil
	}
	return l.CustomerID + "\x1f" + l.Product
}

const qInsertLead = `INSERT INTO leads (customer_id, product, rule_id, rule_version, priority, status, route, route_pos, channel,
	trigger_event_id, triggered_at, sla_hours, cooldown_days, open_key, created_at, updated_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func insertLead(ctx context.Context, ext sqlx.ExtContext, l *Lead, now time.Time) error {
	res, err := ext.ExecContext(ctx, qInsertLead, l.CustomerID, l.Product, l.RuleID, l.RuleVersion, l.Priority, l.Status,
		strings.Join(l.Route, ","), l.RoutePos, l.Channel, l.TriggerEventID, db.Micros(l.TriggeredAt), l.SLAHours,
		l.CooldownDays, openKey(*l), db.Micros(now), db.Micros(now))
	if err != nil {
		return err
	}
	l.ID, err = res.LastInsertId()
	return err
}

const qInsertMadeLead = `INSERT INTO leads (customer_id, product, rule_id, rule_version, priority, status, route, route_pos, channel,
	unit_id, assignee_id, trigger_event_id, triggered_at, offered_at, sla_hours, sla_at_risk_at, sla_deadline, accepted_at,
	first_contact_at, deferred_until, closed_at, outcome, close_reason, cooldown_days, cooldown_until, lease_until,
	lease_holder, returns, version, open_key, created_at, updated_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// insertMadeLead inserts a lead made and offered within an events batch
// in its state after the offer, in one statement. The open key is set as
// for a new lead, so the one-open-lead rule is checked exactly as when
// the lead is inserted first and then saved; a lead that the offer closed
// (suppressed) has it cleared again.
func insertMadeLead(ctx context.Context, ext sqlx.ExtContext, l *Lead, now time.Time) error {
	var lease int64
	if l.LeaseUntil != nil {
		lease = db.Micros(*l.LeaseUntil)
	}
	key := l.CustomerID + "\x1f" + l.Product
	res, err := ext.ExecContext(ctx, qInsertMadeLead, l.CustomerID, l.Product, l.RuleID, l.RuleVersion, l.Priority, l.Status,
		strings.Join(l.Route, ","), l.RoutePos, l.Channel, nullID(l.UnitID), nullID(l.AssigneeID), l.TriggerEventID,
		db.Micros(l.TriggeredAt), nullMicros(l.OfferedAt), l.SLAHours, nullMicros(l.SLAAtRiskAt), nullMicros(l.SLADeadline),
		nullMicros(l.AcceptedAt), nullMicros(l.FirstContactAt), nullMicros(l.DeferredUntil), nullMicros(l.ClosedAt), l.Outcome,
		l.CloseReason, l.CooldownDays, nullMicros(l.CooldownUntil), lease, l.LeaseHolder, l.Returns, l.Version, key,
		db.Micros(now), db.Micros(now))
	if err != nil {
		return err
	}
	if l.ID, err = res.LastInsertId(); err != nil {
		return err
	}
	if openKey(*l) == nil {
		if _, err := ext.ExecContext(ctx, `UPDATE leads SET open_key = NULL WHERE id = ?`, l.ID); err != nil {
			return fmt.Errorf("leads: save lead %d: %w", l.ID, err)
		}
	}
	return nil
}

const qSaveLead = `UPDATE leads SET status = ?, route_pos = ?, channel = ?, unit_id = ?, assignee_id = ?, offered_at = ?,
	sla_hours = ?, sla_at_risk_at = ?, sla_deadline = ?, accepted_at = ?, first_contact_at = ?, deferred_until = ?,
	closed_at = ?, outcome = ?, close_reason = ?, open_key = ?, cooldown_until = ?, lease_until = ?, lease_holder = ?,
	returns = ?, version = version + 1, updated_at = ?
	WHERE id = ? AND version = ?`

// errStale means another writer changed the lead first.
var errStale = errors.New("leads: lead changed concurrently")

// saveLead writes l's mutable state if nobody changed it since it was read.
func saveLead(ctx context.Context, ext sqlx.ExtContext, l *Lead, now time.Time) error {
	var lease int64
	if l.LeaseUntil != nil {
		lease = db.Micros(*l.LeaseUntil)
	}
	res, err := ext.ExecContext(ctx, qSaveLead, l.Status, l.RoutePos, l.Channel, nullID(l.UnitID), nullID(l.AssigneeID),
		nullMicros(l.OfferedAt), l.SLAHours, nullMicros(l.SLAAtRiskAt), nullMicros(l.SLADeadline), nullMicros(l.AcceptedAt),
		nullMicros(l.FirstContactAt), nullMicros(l.DeferredUntil), nullMicros(l.ClosedAt), l.Outcome, l.CloseReason,
		openKey(*l), nullMicros(l.CooldownUntil), lease, l.LeaseHolder, l.Returns, db.Micros(now), l.ID, l.Version)
	if err != nil {
		return fmt.Errorf("leads: save lead %d: %w", l.ID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errStale
	}
	l.Version++
	return nil
}

func getLead(ctx context.Context, ext sqlx.ExtContext, id int64) (Lead, error) {
	var r leadRow
	err := sqlx.GetContext(ctx, ext, &r, `SELECT `+leadCols+` FROM leads WHERE id = ?`, id)
	if errors.Is(err, db.ErrNoRows) {
		return Lead{}, ErrNotFound
	}
	if err != nil {
		return Lead{}, fmt.Errorf("leads: get %d: %w", id, err)
	}
	return r.lead(), nil
}

func selectLeads(ctx context.Context, ext sqlx.ExtContext, q string, args ...any) ([]Lead, error) {
	var rows []leadRow
	if err := sqlx.SelectContext(ctx, ext, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("leads: select: %w", err)
	}
	out := make([]Lead, len(rows))
	for i, r := range rows {
		out[i] = r.lead()
	}
	return out, nil
}

func addHistory(ctx context.Context, ext sqlx.ExtContext, leadID int64, t Transition) error {
	_, err := ext.ExecContext(ctx, `INSERT INTO lead_history (lead_id, at, from_status, to_status, channel, actor, reason) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		leadID, db.Micros(t.At), t.From, t.To, t.Channel, t.Actor, t.Reason)
	if err != nil {
		return fmt.Errorf("leads: history %d: %w", leadID, err)
	}
	return nil
}

type historyRow struct {
	At      int64  `db:"at"`
	From    string `db:"from_status"`
	To      string `db:"to_status"`
	Channel string `db:"channel"`
	Actor   string `db:"actor"`
	Reason  string `db:"reason"`
}

func listHistory(ctx context.Context, ext sqlx.ExtContext, leadID int64) ([]Transition, error) {
	var rows []historyRow
	if err := sqlx.SelectContext(ctx, ext, &rows, `SELECT at, from_status, to_status, channel, actor, reason FROM lead_history WHERE lead_id = ? ORDER BY id`, leadID); err != nil {
		return nil, fmt.Errorf("leads: history: %w", err)
	}
	out := make([]Transition, len(rows))
	for i, r := range rows {
		out[i] = Transition{At: db.FromMicros(r.At), From: r.From, To: r.To, Channel: r.Channel, Actor: r.Actor, Reason: r.Reason}
	}
	return out, nil
}

// countContacts counts recorded contacts of a customer in [from, to).
func countContacts(ctx context.Context, ext sqlx.ExtContext, customerID string, from, to time.Time) (int, error) {
	var n int
	err := sqlx.GetContext(ctx, ext, &n, `SELECT COUNT(*) FROM lead_contacts WHERE customer_id = ? AND kind = 'contact' AND at >= ? AND at < ?`,
		customerID, db.Micros(from), db.Micros(to))
	if err != nil {
		return 0, fmt.Errorf("leads: count contacts: %w", err)
	}
	return n, nil
}

func insertContact(ctx context.Context, ext sqlx.ExtContext, c *Contact, eventKey string, now time.Time) error {
	var key any
	if eventKey != "" {
		key = eventKey
	}
	res, err := ext.ExecContext(ctx, `INSERT INTO lead_contacts (lead_id, customer_id, channel, kind, outcome, staff_id, unit_id, at, event_key, note, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, c.LeadID, c.CustomerID, c.Channel, c.Kind, c.Outcome, nullID(c.StaffID),
		nullID(c.UnitID), db.Micros(c.At), key, c.Note, db.Micros(now))
	if err != nil {
		return err
	}
	c.ID, err = res.LastInsertId()
	return err
}

type contactRow struct {
	ID         int64         `db:"id"`
	LeadID     int64         `db:"lead_id"`
	CustomerID string        `db:"customer_id"`
	Channel    string        `db:"channel"`
	Kind       string        `db:"kind"`
	Outcome    string        `db:"outcome"`
	StaffID    sql.NullInt64 `db:"staff_id"`
	UnitID     sql.NullInt64 `db:"unit_id"`
	At         int64         `db:"at"`
	Note       string        `db:"note"`
}

func listContacts(ctx context.Context, ext sqlx.ExtContext, leadID int64) ([]Contact, error) {
	var rows []contactRow
	if err := sqlx.SelectContext(ctx, ext, &rows, `SELECT id, lead_id, customer_id, channel, kind, outcome, staff_id, unit_id, at, note FROM lead_contacts WHERE lead_id = ? ORDER BY id`, leadID); err != nil {
		return nil, fmt.Errorf("leads: contacts: %w", err)
	}
	out := make([]Contact, len(rows))
	for i, r := range rows {
		out[i] = Contact{ID: r.ID, LeadID: r.LeadID, CustomerID: r.CustomerID, Channel: r.Channel, Kind: r.Kind, Outcome: r.Outcome,
			StaffID: r.StaffID.Int64, UnitID: r.UnitID.Int64, At: db.FromMicros(r.At), Note: r.Note}
	}
	return out, nil
}

// staffInfo is what leads need to know about a staff member.
type staffInfo struct {
	ID         int64  `db:"id"`
	EmployeeNo string `db:"employee_no"`
	UnitID     int64  `db:"unit_id"`
	Path       string `db:"path"`
	Status     string `db:"status"`
}

func staffByID(ctx context.Context, ext sqlx.ExtContext, id int64) (staffInfo, error) {
	var s staffInfo
	err := sqlx.GetContext(ctx, ext, &s, `SELECT s.id, s.employee_no, s.unit_id, u.path, s.status FROM staff s JOIN org_units u ON u.id = s.unit_id WHERE s.id = ?`, id)
	return s, err
}

func staffByEmployeeNo(ctx context.Context, ext sqlx.ExtContext, no string) (staffInfo, error) {
	var s staffInfo
	err := sqlx.GetContext(ctx, ext, &s, `SELECT s.id, s.employee_no, s.unit_id, u.path, s.status FROM staff s JOIN org_units u ON u.id = s.unit_id WHERE s.employee_no = ?`, no)
	return s, err
}

func unitByCode(ctx context.Context, ext sqlx.ExtContext, code string) (int64, error) {
	var id int64
	err := sqlx.GetContext(ctx, ext, &id, `SELECT id FROM org_units WHERE code = ?`, code)
	if errors.Is(err, db.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

const qLeastLoaded = `
SELECT s.id FROM staff s
LEFT JOIN lead_staff_capacity c ON c.staff_id = s.id
WHERE s.unit_id = ? AND s.status = 'active'
  AND (SELECT COUNT(*) FROM leads l WHERE l.assignee_id = s.id AND l.open_key IS NOT NULL) < COALESCE(c.capacity, ?)
ORDER BY (SELECT COUNT(*) FROM leads l WHERE l.assignee_id = s.id AND l.open_key IS NOT NULL), s.id
LIMIT 1`

// leastLoaded returns the active staff member of unit with the fewest open
// leads below their capacity, or 0 when everyone is full.
func leastLoaded(ctx context.Context, ext sqlx.ExtContext, unitID int64, defCap int) (int64, error) {
	var id int64
	err := sqlx.GetContext(ctx, ext, &id, qLeastLoaded, unitID, defCap)
	if errors.Is(err, db.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("leads: assign in unit %d: %w", unitID, err)
	}
	return id, nil
}
