// Package auth identifies callers: staff by signed access tokens (JWT) and
// upstream systems by HMAC-signed requests. It also defines the roles and
// the Principal that services use to scope every read and write.
package auth

import (
	"context"
	"slices"
	"strings"
)

// Role is a staff role.
type Role string

// The roles. A staff member may hold several.
const (
	RoleStaff           Role = "staff"            // own data
	RoleManager         Role = "manager"          // own unit's subtree
	RoleCampaignManager Role = "campaign_manager" // campaigns and their configuration
	RoleHQAdmin         Role = "hq_admin"         // everything
	RoleAuditor         Role = "auditor"          // read-only, everything
)

// AllRoles lists the valid roles.
var AllRoles = []Role{RoleStaff, RoleManager, RoleCampaignManager, RoleHQAdmin, RoleAuditor}

// ValidRole reports whether r is a known role.
func ValidRole(r Role) bool { return slices.Contains(AllRoles, r) }

// ParseRoles parses a comma-separated role list as stored in the database.
func ParseRoles(s string) []Role {
	var out []Role
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, Role(p))
		}
	}
	return out
}

// FormatRoles is the inverse of ParseRoles.
func FormatRoles(rs []Role) string {
	ss := make([]string, len(rs))
	for i, r := range rs {
		ss[i] = string(r)
	}
	return strings.Join(ss, ",")
}

// Principal is the authenticated caller: a staff member (StaffID > 0) or a
// service client (ClientKey != "").
type Principal struct {
	StaffID    int64
	EmployeeNo string
	Name       string
	UnitID     int64
	UnitPath   string // materialised path of the staff member's unit, e.g. "/1/4/9/"
	Roles      []Role
	ClientKey  string
	ClientName string
	Scopes     []string // service client scopes
}

// Has reports whether the principal holds role r.
func (p Principal) Has(r Role) bool { return slices.Contains(p.Roles, r) }

// HasAny reports whether the principal holds any of rs.
func (p Principal) HasAny(rs ...Role) bool {
	for _, r := range rs {
		if p.Has(r) {
			return true
		}
	}
	return false
}

// IsStaff reports whether the caller is a signed-in staff member.
func (p Principal) IsStaff() bool { return p.StaffID > 0 }

// IsClient reports whether the caller is a service client.
func (p Principal) IsClient() bool { return p.ClientKey != "" }

// ReadsAll reports whether the caller may read everything (hq_admin, auditor).
func (p Principal) ReadsAll() bool { return p.HasAny(RoleHQAdmin, RoleAuditor) }

// WritesAll reports whether the caller may write anything in the org (hq_admin).
func (p Principal) WritesAll() bool { return p.Has(RoleHQAdmin) }

// ScopePath returns the materialised path prefix the caller may read, "" for
// everything, and ok=false when the caller sees only their own data.
func (p Principal) ScopePath() (prefix string, ok bool) {
	switch {
	case p.ReadsAll():
		return "", true
	case p.Has(RoleManager):
		return p.UnitPath, true
	}
	return "", false
}

// Actor returns the label recorded in audit entries: "staff:E001" or "client:KEY".
func (p Principal) Actor() string {
	switch {
	case p.IsStaff():
		return "staff:" + p.EmployeeNo
	case p.IsClient():
		return "client:" + p.ClientKey
	}
	return "system"
}

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal in ctx, if any.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}

// PathRange returns the half-open range [lo, hi) of materialised paths
// under prefix (which ends in "/"), for index-backed subtree queries:
// path >= lo AND path < hi. '0' is the byte after '/'.
func PathRange(prefix string) (lo, hi string) {
	return prefix, prefix[:len(prefix)-1] + "0"
}
