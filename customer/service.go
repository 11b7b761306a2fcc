package customer

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/audit"
	"rmref/internal/pii"
)

// TokenClicks turns a referral token (rmref_t) into the id of the click
// that issued it, verifying its signature; the referral package provides it.
type TokenClicks interface {
	TokenClick(token string) (string, error)
}

// Service normalises identifiers and links them.
type Service struct {
	Store  Store
	Hasher *pii.Hasher
	Tokens TokenClicks // nil: referral tokens are refused
}

// Normalize validates in and returns its identifiers, phone hashed and
// token verified, in a fixed order (customer id first). Field errors are
// named under prefix (e.g. "customer.phone").
func (s *Service) Normalize(in Identifiers, prefix string) ([]Identifier, error) {
	var c apperr.Collector
	var out []Identifier
	add := func(k Kind, field, v string) {
		if v == "" {
			return
		}
		if !validValue(v) {
			c.Add(prefix+field, fmt.Sprintf("must be 1 to %d printable characters", maxValueLen))
			return
		}
		out = append(out, Identifier{Kind: k, Value: v})
	}
	add(KindCustomerID, "customer_id", in.CustomerID)
	if in.Phone != "" {
		h, err := s.Hasher.Phone(in.Phone)
		if err != nil {
			c.Add(prefix+"phone", "must be a phone number")
		} else {
			out = append(out, Identifier{Kind: KindPhone, Value: h})
		}
	}
	add(KindOpenID, "openid", in.OpenID)
	add(KindUnionID, "unionid", in.UnionID)
	add(KindVisitor, "visitor_id", in.VisitorID)
	if in.ReferralToken != "" {
		id, err := s.tokenClick(in.ReferralToken)
		if err != nil {
			c.Add(prefix+"referral_token", "must be a valid referral token")
		} else {
			out = append(out, Identifier{Kind: KindClick, Value: id})
		}
	}
	if err := c.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, apperr.Field(prefix+"customer_id", "at least one identifier is required")
	}
	return out, nil
}

func (s *Service) tokenClick(tok string) (string, error) {
	if s.Tokens == nil {
		return "", apperr.Field("referral_token", "referral tokens are not accepted")
	}
	return s.Tokens.TokenClick(tok)
}

// LinkResult is the outcome of linking identifiers.
type LinkResult struct {
	Cluster  Cluster // the cluster after the link
	AnchorID int64   // id of the first identifier given
	Absorbed []int64 // roots of clusters merged into Cluster
	Joined   bool    // two clusters known before were joined
}

// Merged reports whether the link joined clusters known before (which may
// change the attribution of their conversions).
func (r LinkResult) Merged() bool { return r.Joined }

// Link records ids as identifiers of one customer inside ext (a
// transaction), merging their clusters; linking a cluster to itself
// changes nothing. A merge is audited.
func (s *Service) Link(ctx context.Context, ext sqlx.ExtContext, ids []Identifier, source, actor string, now time.Time) (LinkResult, error) {
	rows, read, err := s.Store.ensure(ctx, ext, ids, now)
	if err != nil {
		return LinkResult{}, err
	}
	root, absorbed := roots(rows)
	if len(absorbed) > 0 {
		if err := s.merge(ctx, ext, root, absorbed, rows, source, actor, now); err != nil {
			return LinkResult{}, err
		}
	}
	if err := s.ensureCustomer(ctx, ext, ids, rows, now); err != nil {
		return LinkResult{}, err
	}
	cl, ok := Cluster{}, false
	switch {
	case len(absorbed) > 0:
	case len(rows) == 1 && rows[0].New: // a new identifier is its own cluster
		cl, ok = Cluster{ID: root, Identifiers: []Identifier{{Kind: Kind(rows[0].Kind), Value: rows[0].Value}}}, true
	default: // nothing joined: the cluster as first read, if no row moved since
		cl, ok = read.cluster(rows, root)
	}
	if !ok {
		if cl, err = s.Store.Cluster(ctx, ext, root); err != nil {
			return LinkResult{}, err
		}
	}
	return LinkResult{Cluster: cl, AnchorID: rows[0].ID, Absorbed: absorbed, Joined: joined(rows)}, nil
}

func (s *Service) merge(ctx context.Context, ext sqlx.ExtContext, root int64, absorbed []int64, rows []identRow, source, actor string, now time.Time) error {
	nos, err := s.Store.CustomerNos(ctx, ext, append([]int64{root}, absorbed...))
	if err != nil {
		return err
	}
	if len(nos) > 1 {
		return ErrIdentityConflict
	}
	if err := s.Store.Merge(ctx, ext, root, absorbed); err != nil {
		return err
	}
	for _, r := range rows[1:] {
		if err := s.Store.RecordLink(ctx, ext, rows[0].ID, r.ID, source, now); err != nil {
			return err
		}
	}
	return audit.Record(ctx, ext, audit.Entry{At: now, Actor: actor, Action: "identity.merge", EntityType: "customer_cluster",
		EntityID: strconv.FormatInt(root, 10), Detail: map[string]any{"absorbed": absorbed, "source": source}})
}

// ensureCustomer creates the customer row for a bank customer id seen for
// the first time.
func (s *Service) ensureCustomer(ctx context.Context, ext sqlx.ExtContext, ids []Identifier, rows []identRow, now time.Time) error {
	for i, id := range ids {
		if id.Kind == KindCustomerID && rows[i].New {
			return s.Store.EnsureCustomer(ctx, ext, id.Value, now)
		}
	}
	return nil
}

// roots returns the smallest cluster root among rows and the others.
func roots(rows []identRow) (int64, []int64) {
	root := rows[0].ClusterID
	for _, r := range rows {
		root = min(root, r.ClusterID)
	}
	seen := map[int64]bool{root: true}
	var others []int64
	for _, r := range rows {
		if !seen[r.ClusterID] {
			seen[r.ClusterID] = true
			others = append(others, r.ClusterID)
		}
	}
	return root, others
}

// joined reports whether rows known before the call span several clusters.
func joined(rows []identRow) bool {
	seen := map[int64]bool{}
	for _, r := range rows {
		if !r.New {
			seen[r.ClusterID] = true
		}
	}
	return len(seen) > 1
}

// Resolve returns the cluster of the identifier (kind, value).
func (s *Service) Resolve(ctx context.Context, ext sqlx.ExtContext, id Identifier) (Cluster, error) {
	root, err := s.Store.RootOf(ctx, ext, id)
	if err != nil {
		return Cluster{}, err
	}
	return s.Store.Cluster(ctx, ext, root)
}
