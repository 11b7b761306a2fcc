package leads

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/customer"
	"rmref/internal/audit"
	"rmref/internal/clock"
	"rmref/internal/db"
)

// IdentityResolver finds the bank customer id behind a visitor id ("" when
// the visitor is not linked to a customer). The customer package provides it.
type IdentityResolver interface {
	CustomerForVisitor(ctx context.Context, ext sqlx.ExtContext, visitorID string) (string, error)
}

// ProtectionLookup returns the staff id of the RM who protects a customer
// at an instant, or 0. The attribution package provides it.
type ProtectionLookup interface {
	ProtectedRM(ctx context.Context, ext sqlx.ExtContext, customerID string, at time.Time) (int64, error)
}

// TouchRecorder records a lead contact as a touch for attribution (staff,
// channel remote:* or offline:*), in the same transaction.
type TouchRecorder interface {
	RecordLeadContact(ctx context.Context, ext sqlx.ExtContext, c Contact, employeeNo string) error
}

// ContactCounter counts remote and offline contacts of a customer in
// [from, to) that other systems recorded (touches not made by leads), so
// that frequency caps hold across channels.
type ContactCounter interface {
	CountExternalContacts(ctx context.Context, ext sqlx.ExtContext, customerID string, from, to time.Time) (int, error)
}

// Service runs the lead rules, the contact policy and the lifecycle.
// The optional hooks may be nil.
type Service struct {
	DB         *db.DB
	Clock      clock.Clock
	Identities IdentityResolver
	Protection ProtectionLookup
	Touches    TouchRecorder
	Contacts   ContactCounter
}

// NewService returns a service on d with clock c.
func NewService(d *db.DB, c clock.Clock) *Service { return &Service{DB: d, Clock: c} }

// attrs returns a customer's attributes and whether CRM sent any.
func attrs(ctx context.Context, ext sqlx.ExtContext, customerID string) (customer.Attributes, bool, error) {
	a, err := customer.GetAttributes(ctx, ext, customerID)
	if err == nil {
		return a, true, nil
	}
	if kindNotFound(err) {
		return customer.Attributes{CustomerID: customerID, Timezone: customer.AttrDefaultTimezone}, false, nil
	}
	return a, false, err
}

// offerer carries what one offer decision needs.
type offerer struct {
	s     *Service
	ext   sqlx.ExtContext
	set   Settings
	actor string
	now   time.Time
	cache *batchCache // nil: read everything afresh
}

// offer puts l on the channel at route position pos at instant at,
// applying the contact policy: do-not-contact suppresses, a channel without
// consent is skipped, quiet hours defer a remote offer, a reached cap
// suppresses. Past the end of the route the lead is queued for the home
// branch's (or the default pool's) managers.
func (o offerer) offer(ctx context.Context, l *Lead, pos int, at time.Time, reason string) error {
	a, _, err := o.attrsOf(ctx, l.CustomerID)
	if err != nil {
		return err
	}
	from := l.Status
	if a.DoNotContact {
		return o.close(ctx, l, StatusSuppressed, ReasonDoNotContact, at, a)
	}
	for ; pos < len(l.Route); pos++ {
		ch := l.Route[pos]
		if a.Consent.Allows(ch) {
			break
		}
		if err := o.addHistory(ctx, l.ID, Transition{At: at, From: from, To: from, Channel: ch, Actor: o.actor, Reason: ReasonNoConsent}); err != nil {
			return err
		}
	}
	if pos >= len(l.Route) {
		if !slices.ContainsFunc(l.Route, a.Consent.Allows) {
			return o.close(ctx, l, StatusSuppressed, ReasonNoChannel, at, a)
		}
		return o.queue(ctx, l, at, a)
	}
	ch := l.Route[pos]
	if IsRemote(ch) {
		if until, quiet := o.set.quietUntil(at, a.Location()); quiet {
			return o.defer_(ctx, l, pos, ch, at, until)
		}
	}
	if capReason, err := o.capReached(ctx, l.CustomerID, at, a); err != nil || capReason != "" {
		if err != nil {
			return err
		}
		return o.close(ctx, l, StatusSuppressed, capReason, at, a)
	}
	return o.place(ctx, l, pos, ch, at, a, reason)
}

func (o offerer) capReached(ctx context.Context, customerID string, at time.Time, a customer.Attributes) (string, error) {
	loc := a.Location()
	for _, c := range []struct {
		limit  int
		rng    func(time.Time, *time.Location) (time.Time, time.Time)
		reason string
	}{{o.set.WeekCap, weekRange, ReasonWeekCap}, {o.set.MonthCap, monthRange, ReasonMonthCap}} {
		if c.limit <= 0 {
			continue
		}
		from, to := c.rng(at, loc)
		n, err := o.countAllContacts(ctx, customerID, from, to)
		if err != nil {
			return "", err
		}
		if n >= c.limit {
			return c.reason, nil
		}
	}
	return "", nil
}

// countAllContacts counts lead contacts and other systems' contacts.
func (o offerer) countAllContacts(ctx context.Context, customerID string, from, to time.Time) (int, error) {
	n, err := o.countContacts(ctx, customerID, from, to)
	if err != nil || o.s.Contacts == nil {
		return n, err
	}
	m, err := o.s.Contacts.CountExternalContacts(ctx, o.ext, customerID, from, to)
	return n + m, err
}

// place offers l on ch at pos: it picks the unit (and for a branch, the
// staff member) that works it and dates the SLA on that unit's calendar.
func (o offerer) place(ctx context.Context, l *Lead, pos int, ch string, at time.Time, a customer.Attributes, reason string) error {
	from := l.Status
	unit, assignee, err := o.target(ctx, l, ch, at, a)
	if err != nil {
		return err
	}
	cal, err := o.calendarOf(ctx, unit)
	if err != nil {
		return err
	}
	l.RoutePos, l.Channel, l.UnitID, l.AssigneeID, l.Status = pos, ch, unit, assignee, StatusOffered
	l.SLAHours = o.slaHours(ctx, l, ch)
	work := time.Duration(l.SLAHours) * time.Hour
	off, risk, dead := at, cal.AddWorking(at, work*8/10), cal.AddWorking(at, work)
	l.OfferedAt, l.SLAAtRiskAt, l.SLADeadline = &off, &risk, &dead
	l.AcceptedAt, l.DeferredUntil, l.LeaseUntil, l.LeaseHolder = nil, nil, nil, ""
	if err := o.save(ctx, l); err != nil {
		return err
	}
	return o.record(ctx, l, from, at, reason)
}

func (o offerer) slaHours(ctx context.Context, l *Lead, ch string) int {
	r, err := o.ruleOf(ctx, l.RuleID)
	if err != nil {
		return l.SLAHours
	}
	return r.Definition.slaHours(ch)
}

// target returns the unit that works l on ch and, for a branch, the staff
// member: the protected RM while still employed, else the least-loaded
// active staff member of the home branch, else of the default pool.
func (o offerer) target(ctx context.Context, l *Lead, ch string, at time.Time, a customer.Attributes) (int64, int64, error) {
	if IsRemote(ch) {
		u := o.set.ChannelUnits[ch]
		if u == 0 {
			u = o.set.DefaultPoolUnitID
		}
		return u, 0, nil
	}
	if o.s.Protection != nil {
		rm, err := o.s.Protection.ProtectedRM(ctx, o.ext, l.CustomerID, at)
		if err != nil {
			return 0, 0, err
		}
		if rm > 0 {
			st, err := staffByID(ctx, o.ext, rm)
			if err == nil && st.Status == "active" {
				return st.UnitID, st.ID, nil
			}
		}
	}
	unit, err := o.homeUnit(ctx, a)
	if err != nil || unit == 0 {
		return 0, 0, err
	}
	staff, err := leastLoaded(ctx, o.ext, unit, o.set.DefaultCapacity)
	return unit, staff, err
}

func (o offerer) homeUnit(ctx context.Context, a customer.Attributes) (int64, error) {
	if a.HomeBranch != "" {
		u, err := unitByCode(ctx, o.ext, a.HomeBranch)
		if err != nil || u != 0 {
			return u, err
		}
	}
	return o.set.DefaultPoolUnitID, nil
}

func (o offerer) defer_(ctx context.Context, l *Lead, pos int, ch string, at, until time.Time) error {
	from := l.Status
	l.RoutePos, l.Channel, l.Status, l.DeferredUntil = pos, ch, StatusDeferred, &until
	l.OfferedAt, l.SLAAtRiskAt, l.SLADeadline, l.AcceptedAt, l.LeaseUntil, l.LeaseHolder = nil, nil, nil, nil, nil, ""
	l.UnitID, l.AssigneeID = 0, 0
	if err := o.save(ctx, l); err != nil {
		return err
	}
	return o.record(ctx, l, from, at, ReasonQuietHours)
}

// queue leaves l, past the end of its route, in the queue of its home
// branch (or the default pool) for a manager to reassign.
func (o offerer) queue(ctx context.Context, l *Lead, at time.Time, a customer.Attributes) error {
	from := l.Status
	unit, err := o.homeUnit(ctx, a)
	if err != nil {
		return err
	}
	l.RoutePos, l.Channel, l.Status, l.UnitID, l.AssigneeID = len(l.Route), ChannelBranch, StatusQueued, unit, 0
	l.OfferedAt, l.SLAAtRiskAt, l.SLADeadline, l.DeferredUntil, l.LeaseUntil, l.LeaseHolder = nil, nil, nil, nil, nil, ""
	if err := o.save(ctx, l); err != nil {
		return err
	}
	return o.record(ctx, l, from, at, ReasonRouteEnd)
}

// StatusReturned marks, in a lead's history only, the moment it left a
// channel by return flow (回流); the next entry says where it went.
const StatusReturned = "returned"

// returnFlow moves l to the next channel of its route, dated at (the missed
// deadline or the failed attempt), keeping the history.
func (o offerer) returnFlow(ctx context.Context, l *Lead, reason string, at time.Time) error {
	if err := o.addHistory(ctx, l.ID, Transition{At: at, From: l.Status, To: StatusReturned, Channel: l.Channel, Actor: o.actor, Reason: reason}); err != nil {
		return err
	}
	l.Returns++
	return o.offer(ctx, l, l.RoutePos+1, at, reason)
}

// close ends l with status at instant at; its cool-down (the rule's days,
// day 1 the closing day in the customer's zone) starts.
func (o offerer) close(ctx context.Context, l *Lead, status, reason string, at time.Time, a customer.Attributes) error {
	from := l.Status
	cd := cooldownEnd(at, l.CooldownDays, a.Location())
	l.Status, l.ClosedAt, l.CloseReason, l.CooldownUntil = status, &at, reason, &cd
	l.LeaseUntil, l.LeaseHolder, l.DeferredUntil = nil, "", nil
	if slices.Contains(Outcomes, status) {
		l.Outcome = status
	}
	if err := o.save(ctx, l); err != nil {
		return err
	}
	return o.record(ctx, l, from, at, reason)
}

// record writes the history entry and the audit entry of a transition.
func (o offerer) record(ctx context.Context, l *Lead, from string, at time.Time, reason string) error {
	if err := o.addHistory(ctx, l.ID, Transition{At: at, From: from, To: l.Status, Channel: l.Channel, Actor: o.actor, Reason: reason}); err != nil {
		return err
	}
	return o.audit(ctx, audit.Entry{At: o.now, Actor: o.actor, Action: "lead." + l.Status, EntityType: "lead",
		EntityID: strconv.FormatInt(l.ID, 10), Detail: map[string]any{"from": from, "to": l.Status, "channel": l.Channel, "reason": reason, "at": at}})
}

func (s *Service) offerer(ctx context.Context, ext sqlx.ExtContext, actor string) (offerer, error) {
	set, err := loadSettings(ctx, ext)
	if err != nil {
		return offerer{}, err
	}
	return offerer{s: s, ext: ext, set: set, actor: actor, now: s.Clock.Now()}, nil
}
