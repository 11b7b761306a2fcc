package attribution

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/customer"
	"rmref/internal/apperr"
)

// IdentityInput links identifiers of one customer (POST /api/v1/identities).
type IdentityInput struct {
	Source      string               `json:"source"`
	Identifiers customer.Identifiers `json:"identifiers"`
}

// LinkIdentities links the identifiers; when the link joins customers
// known before, their conversions are re-attributed in the same
// transaction (a late identity link gives the credits in-order data would
// have given). Linking again changes nothing.
func (s *Service) LinkIdentities(ctx context.Context, in IdentityInput, actor string) (customer.LinkResult, error) {
	if !slugRe.MatchString(in.Source) {
		return customer.LinkResult{}, apperr.Field("source", "must be a lowercase identifier (letters, digits, _), at most 64")
	}
	ids, err := s.Customers.Normalize(in.Identifiers, "identifiers.")
	if err != nil {
		return customer.LinkResult{}, err
	}
	now := s.Clock.Now()
	var res customer.LinkResult
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if res, err = s.Customers.Link(ctx, tx, ids, in.Source, actor, now); err != nil || !res.Merged() {
			return err
		}
		return s.reattributeCluster(ctx, tx, res.Cluster.ID, time.Time{}, actor, "identity_link", now)
	})
	return res, err
}
