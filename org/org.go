// Package org holds the bank's hierarchy (hq > region > branch > subbranch >
// team), its staff, and their effective-dated history: which unit a staff
// member sat in, and where that unit sat in the tree, at any instant. Every
// read and write is scoped by the caller's auth.Principal in the store's
// queries: staff see themselves, managers their unit's subtree, hq_admin and
// auditors everything.
package org

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"rmref/internal/apperr"
	"rmref/internal/auth"
)

// Kind is the kind of an org unit.
type Kind string

// The unit kinds, from the root down.
const (
	KindHQ        Kind = "hq"
	KindRegion    Kind = "region"
	KindBranch    Kind = "branch"
	KindSubbranch Kind = "subbranch"
	KindTeam      Kind = "team"
)

// Kinds lists the valid unit kinds, root first.
var Kinds = []Kind{KindHQ, KindRegion, KindBranch, KindSubbranch, KindTeam}

// allowedParents says under which kinds a unit of each kind may sit. The hq
// is the one root; teams sit under any unit (a call-centre team under hq or
// a region, a sales team under a branch or a sub-branch).
var allowedParents = map[Kind][]Kind{
	KindHQ:        nil,
	KindRegion:    {KindHQ},
	KindBranch:    {KindRegion, KindHQ},
	KindSubbranch: {KindBranch},
	KindTeam:      {KindHQ, KindRegion, KindBranch, KindSubbranch},
}

// ValidKind reports whether k is a known kind.
func ValidKind(k Kind) bool { return slices.Contains(Kinds, k) }

// CanParent reports whether a unit of kind child may sit under a unit of
// kind parent.
func CanParent(parent, child Kind) bool { return slices.Contains(allowedParents[child], parent) }

// parentKindsText names the allowed parent kinds of k, for messages.
func parentKindsText(k Kind) string {
	ps := allowedParents[k]
	ss := make([]string, len(ps))
	for i, p := range ps {
		ss[i] = string(p)
	}
	return strings.Join(ss, ", ")
}

// Status is a staff member's employment status.
type Status string

// The staff statuses.
const (
	StatusActive Status = "active"
	StatusLeft   Status = "left"
)

// OpenEnd is the valid_to of a history row that still holds.
const OpenEnd int64 = math.MaxInt64

// Unit is one node of the org tree.
type Unit struct {
	ID        int64     `json:"id,string"`
	Kind      Kind      `json:"kind"`
	Code      string    `json:"code"`
	Name      string    `json:"name"`
	ParentID  int64     `json:"parent_id,string,omitempty"`
	Path      string    `json:"path"`
	Depth     int       `json:"depth"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Staff is an employee. The phone is kept only as a keyed hash (never
// shown) and a masked form.
type Staff struct {
	ID          int64       `json:"id,string"`
	EmployeeNo  string      `json:"employee_no"`
	Name        string      `json:"name"`
	UnitID      int64       `json:"unit_id,string"`
	UnitCode    string      `json:"unit_code"`
	UnitPath    string      `json:"unit_path"`
	Roles       []auth.Role `json:"roles"`
	Status      Status      `json:"status"`
	LeftAt      *time.Time  `json:"left_at"`
	PhoneMasked string      `json:"phone_masked,omitempty"`
	PhoneHash   string      `json:"-"`
	CreatedAt   time.Time   `json:"created_at"`
	UpdatedAt   time.Time   `json:"updated_at"`
}

// Chain is where a staff member sat at one instant: their unit, its
// materialised path then, and the ids of the ancestors of each kind on
// that path (0 when the path has no unit of that kind: staff placed
// directly under a branch have TeamID 0).
type Chain struct {
	StaffID     int64  `json:"staff_id,string"`
	UnitID      int64  `json:"unit_id,string"`
	Path        string `json:"path"`
	TeamID      int64  `json:"team_id,string"`
	SubbranchID int64  `json:"subbranch_id,string"`
	BranchID    int64  `json:"branch_id,string"`
	RegionID    int64  `json:"region_id,string"`
	HQID        int64  `json:"hq_id,string"`
}

// Assignment is one effective-dated period of a staff member in a unit.
type Assignment struct {
	UnitID    int64      `json:"unit_id,string"`
	UnitCode  string     `json:"unit_code"`
	UnitName  string     `json:"unit_name"`
	Path      string     `json:"path"` // the unit's path now
	ValidFrom time.Time  `json:"valid_from"`
	ValidTo   *time.Time `json:"valid_to"` // nil while it holds
}

// PathEntry is one effective-dated position of a unit in the tree.
type PathEntry struct {
	ParentID  int64      `json:"parent_id,string,omitempty"`
	Path      string     `json:"path"`
	ValidFrom time.Time  `json:"valid_from"`
	ValidTo   *time.Time `json:"valid_to"`
}

// Sentinel errors.
var (
	ErrUnitNotFound  = apperr.NotFoundf("no such org unit")
	ErrStaffNotFound = apperr.NotFoundf("no such staff member")
	ErrNoAssignment  = apperr.NotFoundf("staff member had no unit at that time")
	ErrReadOnly      = apperr.Forbiddenf("your role may not change this")
	ErrDuplicateCode = apperr.Conflictf("duplicate_code", "an org unit with this code exists")
	ErrDuplicateEmp  = apperr.Conflictf("duplicate_employee_no", "a staff member with this employee number exists")
	ErrCycle         = apperr.Conflictf("move_into_subtree", "a unit cannot move under itself or its own subtree")
	ErrSecondRoot    = apperr.Conflictf("second_root", "the tree already has its hq root")
	ErrBackdated     = apperr.Conflictf("before_current_period", "effective_at is before the current period began")
	ErrFutureTime    = apperr.Conflictf("future_time", "effective_at is more than 5 minutes ahead of the server clock")
	ErrAlreadyLeft   = apperr.Conflictf("staff_left", "the staff member has left")
)

// PathIDs returns the unit ids on a materialised path, root first.
func PathIDs(path string) []int64 {
	var out []int64
	for _, p := range strings.Split(strings.Trim(path, "/"), "/") {
		if id, err := strconv.ParseInt(p, 10, 64); err == nil {
			out = append(out, id)
		}
	}
	return out
}

// childPath returns the path of unit id under a parent with parentPath
// ("" or "/" for the root).
func childPath(parentPath string, id int64) string {
	if parentPath == "" {
		parentPath = "/"
	}
	return parentPath + strconv.FormatInt(id, 10) + "/"
}
