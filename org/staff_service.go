package org

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/auth"
	"rmref/internal/pii"
)

// NewStaff is the input of CreateStaff. Phone is taken in clear and kept
// only as a keyed hash and a masked form.
type NewStaff struct {
	EmployeeNo  string      `json:"employee_no"`
	Name        string      `json:"name"`
	UnitID      int64       `json:"unit_id,string"`
	Roles       []auth.Role `json:"roles"`
	Phone       string      `json:"phone"`
	EffectiveAt *time.Time  `json:"effective_at"`
}

// Validate checks the fields of n.
func (n NewStaff) Validate() error {
	var c apperr.Collector
	checkCode(&c, "employee_no", n.EmployeeNo)
	checkName(&c, "name", n.Name)
	c.Check(n.UnitID <= 0, "unit_id", "is required")
	checkRoles(&c, "roles", n.Roles)
	checkPhone(&c, "phone", n.Phone)
	return c.Err()
}

func checkRoles(c *apperr.Collector, field string, rs []auth.Role) {
	for i, r := range rs {
		c.Check(!auth.ValidRole(r), field+"["+strconv.Itoa(i)+"]", "must be one of staff, manager, campaign_manager, hq_admin, auditor")
	}
}

func checkPhone(c *apperr.Collector, field, v string) {
	if v != "" {
		_, err := pii.NormalizePhone(v)
		c.Check(err != nil, field, "must be a phone number")
	}
}

// normRoles sorts and deduplicates roles; none means staff.
func normRoles(rs []auth.Role) []auth.Role {
	if len(rs) == 0 {
		return []auth.Role{auth.RoleStaff}
	}
	out := slices.Clone(rs)
	slices.Sort(out)
	return slices.Compact(out)
}

// onlyStaffRole reports whether rs grants nothing beyond staff, the only
// role a manager may hand out.
func onlyStaffRole(rs []auth.Role) bool {
	return !slices.ContainsFunc(rs, func(r auth.Role) bool { return r != auth.RoleStaff })
}

// setPhone stores the keyed hash and masked form of raw ("" clears).
func (s *Service) setPhone(st *Staff, raw string) {
	st.PhoneHash, st.PhoneMasked = "", ""
	if raw == "" {
		return
	}
	if h, err := s.PII.Phone(raw); err == nil {
		st.PhoneHash, st.PhoneMasked = h, pii.MaskPhone(raw)
	}
}

// CreateStaff creates a staff member: hq_admin anywhere, a manager in
// their subtree with the staff role only.
func (s *Service) CreateStaff(ctx context.Context, p auth.Principal, n NewStaff) (Staff, error) {
	if err := n.Validate(); err != nil {
		return Staff{}, err
	}
	now, eff, err := s.effective(n.EffectiveAt)
	if err != nil {
		return Staff{}, err
	}
	st := Staff{EmployeeNo: n.EmployeeNo, Name: n.Name, UnitID: n.UnitID, Roles: normRoles(n.Roles), Status: StatusActive}
	s.setPhone(&st, n.Phone)
	err = s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := s.Store.GetUnit(ctx, tx, p, n.UnitID); err != nil {
			return orMissing(err, "unit_id")
		}
		if !s.mayWriteStaff(p, st.Roles) {
			return ErrReadOnly
		}
		id, err := s.Store.insertStaff(ctx, tx, st, eff, now)
		if err != nil {
			return err
		}
		if st, err = s.Store.GetStaff(ctx, tx, p, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, p, "staff.create", "staff", id, auditStaff(st))
	})
	return st, err
}

// mayWriteStaff reports whether p may write a staff member it can see and
// give them roles rs.
func (s *Service) mayWriteStaff(p auth.Principal, rs []auth.Role) bool {
	return p.WritesAll() || (p.Has(auth.RoleManager) && onlyStaffRole(rs))
}

func auditStaff(st Staff) map[string]any {
	return map[string]any{"employee_no": st.EmployeeNo, "name": st.Name, "unit_id": strconv.FormatInt(st.UnitID, 10),
		"roles": auth.FormatRoles(st.Roles), "status": st.Status, "phone_masked": st.PhoneMasked}
}

// StaffUpdate is the input of UpdateStaff; nil fields stay. Setting status
// to left ends every session of the staff member at once.
type StaffUpdate struct {
	Name   *string      `json:"name"`
	Roles  *[]auth.Role `json:"roles"`
	Phone  *string      `json:"phone"`
	Status *Status      `json:"status"`
	LeftAt *time.Time   `json:"left_at"`
}

// Validate checks the fields of up.
func (up StaffUpdate) Validate() error {
	var c apperr.Collector
	if up.Name != nil {
		checkName(&c, "name", *up.Name)
	}
	if up.Roles != nil {
		checkRoles(&c, "roles", *up.Roles)
	}
	if up.Phone != nil {
		checkPhone(&c, "phone", *up.Phone)
	}
	c.Check(up.Status != nil && *up.Status != StatusActive && *up.Status != StatusLeft, "status", "must be active or left")
	c.Check(up.LeftAt != nil && (up.Status == nil || *up.Status != StatusLeft), "left_at", "is only accepted with status left")
	return c.Err()
}

// UpdateStaff changes a staff member: hq_admin anyone, a manager the staff
// of their subtree (but not their roles beyond staff).
func (s *Service) UpdateStaff(ctx context.Context, p auth.Principal, id int64, up StaffUpdate) (Staff, error) {
	if err := up.Validate(); err != nil {
		return Staff{}, err
	}
	if up.LeftAt != nil && up.LeftAt.After(s.Clock.Now().Add(futureSkew)) {
		return Staff{}, ErrFutureTime
	}
	var out Staff
	err := s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		before, err := s.Store.GetStaff(ctx, tx, p, id)
		if err != nil {
			return err
		}
		after, bump := s.applyUpdate(before, up)
		if !s.mayWriteStaff(p, before.Roles) || !s.mayWriteStaff(p, after.Roles) {
			return ErrReadOnly
		}
		diff := staffDiff(before, after)
		if len(diff) == 0 {
			out = before
			return nil
		}
		if err := s.Store.updateStaff(ctx, tx, after, bump, s.Clock.Now()); err != nil {
			return err
		}
		if out, err = s.Store.GetStaff(ctx, tx, auth.Principal{Roles: []auth.Role{auth.RoleAuditor}}, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, p, actionOf(before, after), "staff", id, diff)
	})
	return out, err
}

// applyUpdate returns st with up applied, and whether sessions must end.
func (s *Service) applyUpdate(st Staff, up StaffUpdate) (Staff, bool) {
	if up.Name != nil {
		st.Name = *up.Name
	}
	if up.Roles != nil {
		st.Roles = normRoles(*up.Roles)
	}
	if up.Phone != nil {
		s.setPhone(&st, *up.Phone)
	}
	bump := false
	if up.Status != nil && *up.Status != st.Status {
		st.Status, st.LeftAt = *up.Status, nil
		if st.Status == StatusLeft {
			t := s.Clock.Now()
			if up.LeftAt != nil {
				t = up.LeftAt.UTC()
			}
			st.LeftAt, bump = &t, true
		}
	}
	return st, bump
}

func actionOf(before, after Staff) string {
	if before.Status != StatusLeft && after.Status == StatusLeft {
		return "staff.leave"
	}
	return "staff.update"
}

// staffDiff lists the changed fields as {from, to}.
func staffDiff(a, b Staff) map[string]any {
	d := map[string]any{}
	add := func(field, from, to string) {
		if from != to {
			d[field] = map[string]string{"from": from, "to": to}
		}
	}
	add("name", a.Name, b.Name)
	add("roles", auth.FormatRoles(a.Roles), auth.FormatRoles(b.Roles))
	add("status", string(a.Status), string(b.Status))
	add("phone_masked", a.PhoneMasked, b.PhoneMasked)
	if a.PhoneHash != b.PhoneHash && a.PhoneMasked == b.PhoneMasked {
		d["phone"] = "changed"
	}
	add("left_at", timeText(a.LeftAt), timeText(b.LeftAt))
	return d
}

func timeText(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Transfer is the input of TransferStaff.
type Transfer struct {
	UnitID      int64      `json:"unit_id,string"`
	EffectiveAt *time.Time `json:"effective_at"`
}

// TransferStaff moves a staff member to another unit from effectiveAt
// (default now; not before their current assignment began). A manager may
// transfer within their subtree.
func (s *Service) TransferStaff(ctx context.Context, p auth.Principal, id int64, t Transfer) (Staff, error) {
	if t.UnitID <= 0 {
		return Staff{}, apperr.Field("unit_id", "is required")
	}
	now, eff, err := s.effective(t.EffectiveAt)
	if err != nil {
		return Staff{}, err
	}
	var out Staff
	err = s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		st, err := s.Store.GetStaff(ctx, tx, p, id)
		if err != nil {
			return err
		}
		if _, err := s.Store.GetUnit(ctx, tx, p, t.UnitID); err != nil {
			return orMissing(err, "unit_id")
		}
		if err := s.checkTransfer(ctx, tx, p, st, eff); err != nil || st.UnitID == t.UnitID {
			out = st
			return err
		}
		if err := s.Store.transferStaff(ctx, tx, id, t.UnitID, eff, now); err != nil {
			return err
		}
		if out, err = s.Store.GetStaff(ctx, tx, auth.Principal{Roles: []auth.Role{auth.RoleAuditor}}, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, p, "staff.transfer", "staff", id, map[string]any{
			"from_unit_id": strconv.FormatInt(st.UnitID, 10), "to_unit_id": strconv.FormatInt(t.UnitID, 10), "effective_at": eff})
	})
	return out, err
}

func (s *Service) checkTransfer(ctx context.Context, ext sqlx.ExtContext, p auth.Principal, st Staff, eff time.Time) error {
	if !s.mayWriteStaff(p, st.Roles) {
		return ErrReadOnly
	}
	if st.Status == StatusLeft {
		return ErrAlreadyLeft
	}
	start, err := s.Store.currentAssignmentStart(ctx, ext, st.ID)
	if err == nil && eff.Before(start) {
		err = ErrBackdated
	}
	return err
}

// ListStaff lists the staff p may see.
func (s *Service) ListStaff(ctx context.Context, p auth.Principal, f StaffFilter) ([]Staff, int64, error) {
	return s.Store.ListStaff(ctx, s.DB, p, f)
}

// GetStaff returns a staff member p may see.
func (s *Service) GetStaff(ctx context.Context, p auth.Principal, id int64) (Staff, error) {
	return s.Store.GetStaff(ctx, s.DB, p, id)
}

// StaffHistory returns the assignments of a staff member p may see.
func (s *Service) StaffHistory(ctx context.Context, p auth.Principal, id int64) ([]Assignment, error) {
	return s.Store.StaffHistory(ctx, s.DB, p, id)
}

// ChainAt answers which unit and chain of ancestors a staff member p may
// see was in at instant at.
func (s *Service) ChainAt(ctx context.Context, p auth.Principal, id int64, at time.Time) (Chain, error) {
	if _, err := s.Store.GetStaff(ctx, s.DB, p, id); err != nil {
		return Chain{}, err
	}
	return s.Store.ChainAt(ctx, s.DB, id, at)
}

// PhoneHash returns the keyed hash of a phone number, for lookups.
func (s *Service) PhoneHash(raw string) (string, error) {
	h, err := s.PII.Phone(strings.TrimSpace(raw))
	if err != nil {
		return "", apperr.Field("phone", "must be a phone number")
	}
	return h, nil
}
