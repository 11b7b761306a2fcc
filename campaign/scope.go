package campaign

import (
	"context"

	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/auth"
)

// Who may read and write which campaign. The list query applies the same
// read rule in SQL (visibleClause in store.go).

// CanWrite reports whether p holds a role that writes campaigns.
func CanWrite(p auth.Principal) bool {
	return p.HasAny(auth.RoleHQAdmin, auth.RoleCampaignManager)
}

// writable loads a campaign for a write: invisible is ErrNotFound, visible
// but not writable by p is Forbidden.
func (s *Service) writable(ctx context.Context, ext sqlx.ExtContext, p auth.Principal, id int64) (Campaign, error) {
	c, err := Get(ctx, ext, id)
	if err != nil {
		return Campaign{}, err
	}
	if !CanRead(p, c) {
		return Campaign{}, ErrNotFound
	}
	if !CanWrite(p) {
		return Campaign{}, apperr.Forbiddenf("only campaign managers and HQ admins change campaigns")
	}
	if !p.WritesAll() && !unitsWithin(c.Units, p.UnitPath) {
		return Campaign{}, apperr.Forbiddenf("the campaign reaches beyond your part of the organisation")
	}
	return c, nil
}

// CanRead reports whether p may read c: HQ admins and auditors read all;
// others read campaigns whose participating subtrees contain their unit,
// and managers and campaign managers also those reaching into their subtree.
func CanRead(p auth.Principal, c Campaign) bool {
	if p.ReadsAll() {
		return true
	}
	if p.UnitPath == "" {
		return false
	}
	if c.IncludesUnitPath(p.UnitPath) {
		return true
	}
	if !p.HasAny(auth.RoleManager, auth.RoleCampaignManager) {
		return false
	}
	for _, u := range c.Units {
		if len(u.Path) >= len(p.UnitPath) && u.Path[:len(p.UnitPath)] == p.UnitPath {
			return true
		}
	}
	return false
}

func unitsWithin(units []Unit, prefix string) bool {
	if prefix == "" {
		return false
	}
	for _, u := range units {
		if len(u.Path) < len(prefix) || u.Path[:len(prefix)] != prefix {
			return false
		}
	}
	return true
}
