package leads

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/auth"
	"rmref/internal/db"
)

// ListFilter selects leads; Mine limits to the caller's own leads.
type ListFilter struct {
	Mine    bool
	Status  string
	Channel string
	AfterID int64
	Limit   int
}

// List returns the leads the caller may see, newest first: a staff member
// their own, a manager those worked in their subtree, HQ everything.
func (s *Service) List(ctx context.Context, p auth.Principal, f ListFilter) ([]Lead, error) {
	q := `SELECT ` + prefixed("l.", leadCols) + ` FROM leads l LEFT JOIN org_units u ON u.id = l.unit_id WHERE 1=1`
	var args []any
	prefix, ok := p.ScopePath()
	switch {
	case f.Mine || !ok:
		q += ` AND l.assignee_id = ?`
		args = append(args, p.StaffID)
	case prefix != "":
		lo, hi := auth.PathRange(prefix)
		q += ` AND u.path >= ? AND u.path < ?`
		args = append(args, lo, hi)
	}
	if f.Status != "" {
		q += ` AND l.status = ?`
		args = append(args, f.Status)
	}
	if f.Channel != "" {
		q += ` AND l.channel = ?`
		args = append(args, f.Channel)
	}
	if f.AfterID > 0 {
		q += ` AND l.id < ?`
		args = append(args, f.AfterID)
	}
	q += ` ORDER BY l.id DESC LIMIT ?`
	args = append(args, max(f.Limit, 1))
	ls, err := selectLeads(ctx, s.DB, q, args...)
	now := s.Clock.Now()
	for i := range ls {
		ls[i].SLAState = ls[i].slaState(now)
	}
	return ls, err
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// visible reports whether p may see l.
func visible(ctx context.Context, ext sqlx.ExtContext, p auth.Principal, l Lead) (bool, error) {
	if p.IsStaff() && l.AssigneeID == p.StaffID {
		return true, nil
	}
	prefix, ok := p.ScopePath()
	if !ok {
		return false, nil
	}
	if prefix == "" {
		return true, nil
	}
	var path string
	err := sqlx.GetContext(ctx, ext, &path, `SELECT path FROM org_units WHERE id = ?`, l.UnitID)
	if errors.Is(err, db.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("leads: unit path: %w", err)
	}
	return strings.HasPrefix(path, prefix), nil
}

// Detail is a lead with its history and contacts.
type Detail struct {
	Lead
	History  []Transition `json:"history"`
	Contacts []Contact    `json:"contacts"`
}

// Get returns a lead the caller may see, with history and contacts.
func (s *Service) Get(ctx context.Context, p auth.Principal, id int64) (Detail, error) {
	l, err := s.get(ctx, s.DB, id)
	if err != nil {
		return Detail{}, err
	}
	if ok, err := visible(ctx, s.DB, p, l); err != nil || !ok {
		return Detail{}, errOr(err, ErrNotFound)
	}
	d := Detail{Lead: l}
	if d.History, err = listHistory(ctx, s.DB, id); err != nil {
		return Detail{}, err
	}
	d.Contacts, err = listContacts(ctx, s.DB, id)
	return d, err
}

func errOr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

// ownBranchLead loads a lead for an action by its assigned RM: out of sight
// is 404, visible but someone else's is 403.
func (s *Service) ownBranchLead(ctx context.Context, ext sqlx.ExtContext, p auth.Principal, id int64) (Lead, error) {
	l, err := getLead(ctx, ext, id)
	if err != nil {
		return Lead{}, err
	}
	if ok, err := visible(ctx, ext, p, l); err != nil || !ok {
		return Lead{}, errOr(err, ErrNotFound)
	}
	if l.AssigneeID != p.StaffID {
		return Lead{}, apperr.Forbiddenf("only the assigned staff member may work this lead")
	}
	if l.Channel != ChannelBranch {
		return Lead{}, ErrNotBranch
	}
	return l, nil
}

// Accept records that the assigned RM accepted an offered lead.
func (s *Service) Accept(ctx context.Context, p auth.Principal, id int64) (Lead, error) {
	err := s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		l, err := s.ownBranchLead(ctx, tx, p, id)
		if err != nil {
			return err
		}
		if l.Status != StatusOffered {
			return ErrInvalidState
		}
		o, err := s.offerer(ctx, tx, p.Actor())
		if err != nil {
			return err
		}
		l.Status, l.AcceptedAt = StatusAccepted, &o.now
		if err := saveLead(ctx, tx, &l, o.now); err != nil {
			return err
		}
		return o.record(ctx, &l, StatusOffered, o.now, "accept")
	})
	if err != nil {
		return Lead{}, err
	}
	return s.get(ctx, s.DB, id)
}

// StaffReport records the assigned RM's contact or outcome.
func (s *Service) StaffReport(ctx context.Context, p auth.Principal, id int64, r Report) (Lead, error) {
	now := s.Clock.Now()
	if err := r.validate(now, false); err != nil {
		return Lead{}, err
	}
	err := s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		l, err := s.ownBranchLead(ctx, tx, p, id)
		if err != nil {
			return err
		}
		key := keyOf(p.Actor(), r.EventID)
		if key != "" && reportSeen(ctx, tx, key) {
			return nil
		}
		st, err := staffByID(ctx, tx, p.StaffID)
		if err != nil {
			return fmt.Errorf("leads: staff: %w", err)
		}
		o, err := s.offerer(ctx, tx, p.Actor())
		if err != nil {
			return err
		}
		return s.apply(ctx, o, &l, st, r, key)
	})
	if err != nil && !errors.Is(err, errDuplicateReport) {
		return Lead{}, err
	}
	return s.get(ctx, s.DB, id)
}

// Reassign gives a branch or queued lead to another active staff member in
// the manager's subtree. A queued lead is offered afresh (new SLA); an
// offered or accepted one waits for the new RM's acceptance, keeping its
// deadline.
func (s *Service) Reassign(ctx context.Context, p auth.Principal, id, staffID int64) (Lead, error) {
	err := s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		l, err := getLead(ctx, tx, id)
		if err != nil {
			return err
		}
		if ok, err := visible(ctx, tx, p, l); err != nil || !ok {
			return errOr(err, ErrNotFound)
		}
		if !p.HasAny(auth.RoleManager, auth.RoleHQAdmin) {
			return apperr.Forbiddenf("only managers reassign leads")
		}
		if l.Channel != ChannelBranch || !IsOpen(l.Status) || l.Status == StatusContacted {
			return ErrInvalidState
		}
		st, err := staffByID(ctx, tx, staffID)
		prefix, _ := p.ScopePath()
		if err != nil || st.Status != "active" || !strings.HasPrefix(st.Path, prefix) {
			return ErrAssigneeInactive
		}
		o, err := s.offerer(ctx, tx, p.Actor())
		if err != nil {
			return err
		}
		return o.reassign(ctx, &l, st)
	})
	if err != nil {
		return Lead{}, err
	}
	return s.get(ctx, s.DB, id)
}

func (o offerer) reassign(ctx context.Context, l *Lead, st staffInfo) error {
	from := l.Status
	l.AssigneeID, l.UnitID, l.Status, l.AcceptedAt = st.ID, st.UnitID, StatusOffered, nil
	if from == StatusQueued {
		cal, err := calendarFor(ctx, o.ext, st.UnitID)
		if err != nil {
			return err
		}
		work := time.Duration(l.SLAHours) * time.Hour
		off, risk, dead := o.now, cal.AddWorking(o.now, work*8/10), cal.AddWorking(o.now, work)
		l.OfferedAt, l.SLAAtRiskAt, l.SLADeadline = &off, &risk, &dead
	}
	if err := o.save(ctx, l); err != nil {
		return err
	}
	return o.record(ctx, l, from, o.now, ReasonReassigned)
}
