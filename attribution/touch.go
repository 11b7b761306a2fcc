package attribution

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/customer"
	"rmref/internal/apperr"
	"rmref/internal/audit"
	"rmref/internal/db"
)

// TouchView is a stored remote or offline contact.
type TouchView struct {
	ID         int64     `json:"id,string"`
	Source     string    `json:"source"`
	ExternalID string    `json:"external_id"`
	StaffID    int64     `json:"staff_id,string"`
	Channel    string    `json:"channel"`
	Kind       string    `json:"kind"`
	CampaignID int64     `json:"campaign_id,string,omitempty"`
	OccurredAt time.Time `json:"occurred_at"`
	CreatedAt  time.Time `json:"created_at"`
}

func (r touchRow) view() TouchView {
	return TouchView{ID: r.ID, Source: r.Source, ExternalID: r.ExternalID, StaffID: r.StaffID, Channel: r.Channel, Kind: r.Kind,
		CampaignID: r.CampaignID, OccurredAt: db.FromMicros(r.OccurredAt), CreatedAt: db.FromMicros(r.CreatedAt)}
}

// RecordTouch records one contact in its own transaction; see RecordTouchTx.
func (s *Service) RecordTouch(ctx context.Context, in TouchInput, actor string) (TouchView, bool, error) {
	var v TouchView
	var created bool
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		v, created, err = s.RecordTouchTx(ctx, tx, in, actor)
		return err
	})
	return v, created, err
}

// RecordTouchTx records a remote or offline contact inside the caller's
// transaction (the leads domain records follow-ups this way) and
// re-attributes the customer's conversions it may change. It is idempotent
// on (source, external id): a repeat returns the stored touch with created
// false; another payload under the same key is ErrKeyReused.
func (s *Service) RecordTouchTx(ctx context.Context, ext sqlx.ExtContext, in TouchInput, actor string) (TouchView, bool, error) {
	if err := in.validate(); err != nil {
		return TouchView{}, false, err
	}
	now, at := s.Clock.Now(), in.OccurredAt.UTC()
	if err := checkFuture(at, now); err != nil {
		return TouchView{}, false, err
	}
	ids, err := s.Customers.Normalize(in.Customer, "customer.")
	if err != nil {
		return TouchView{}, false, err
	}
	r := touchRow{Source: in.Source, ExternalID: in.ExternalID, Channel: in.Channel, Kind: in.Kind, CampaignID: in.CampaignID,
		OccurredAt: db.Micros(at), CreatedAt: db.Micros(now)}
	r.PayloadHash = payloadHash([]any{in.StaffEmployeeNo, r.Channel, r.Kind, r.CampaignID, r.OccurredAt, ids})
	old, err := s.Store.touchByKey(ctx, ext, r.Source, r.ExternalID)
	switch {
	case err == nil && old.PayloadHash != r.PayloadHash:
		return TouchView{}, false, ErrKeyReused
	case err == nil:
		return old.view(), false, nil
	case !errors.Is(err, db.ErrNoRows):
		return TouchView{}, false, fmt.Errorf("attribution: touch by key: %w", err)
	}
	if r.StaffID, err = s.Directory.StaffID(ctx, ext, in.StaffEmployeeNo); err != nil {
		if apperr.KindOf(err) == apperr.NotFound {
			return TouchView{}, false, apperr.Field("staff_employee_no", "no such staff member")
		}
		return TouchView{}, false, err
	}
	if err := s.insertTouchTx(ctx, ext, &r, ids, actor, now); err != nil {
		return TouchView{}, false, err
	}
	return r.view(), true, nil
}

func (s *Service) insertTouchTx(ctx context.Context, ext sqlx.ExtContext, r *touchRow, ids []customer.Identifier, actor string, now time.Time) error {
	link, err := s.Customers.Link(ctx, ext, ids, r.Source, actor, now)
	if err != nil {
		return err
	}
	r.IdentifierID = link.AnchorID
	if r.ID, err = s.Store.insertTouch(ctx, ext, *r); err != nil {
		return err
	}
	// A touch can change the conversions after it; protection chains make
	// any later conversion of the customer depend on earlier ones.
	from := db.FromMicros(r.OccurredAt)
	if link.Merged() {
		from = time.Time{}
	}
	if err := s.reattributeCluster(ctx, ext, link.Cluster.ID, from, actor, "late_touch", now); err != nil {
		return err
	}
	return audit.Record(ctx, ext, audit.Entry{At: now, Actor: actor, Action: "touch.record", EntityType: "touch",
		EntityID: strconv.FormatInt(r.ID, 10), Detail: map[string]any{"source": r.Source, "external_id": r.ExternalID, "staff_id": r.StaffID}})
}
