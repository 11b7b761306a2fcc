package attribution

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/customer"
	"rmref/internal/audit"
	"rmref/internal/clock"
	"rmref/internal/db"
)

// Service ingests conversions and touches and attributes conversions, in
// the same transaction as the data that changes them.
type Service struct {
	DB        *db.DB
	Clock     clock.Clock
	Store     Store
	Customers *customer.Service
	Campaigns Campaigns
	Directory Directory
	Referrals Referrals
	// Listeners hear, inside the transaction, that a conversion's credits
	// changed (rewards' staff incentives reconcile their earnings).
	Listeners []CreditListener

	// serial queues this service's write transactions in-process on
	// SQLite, which has one write lock: Go's mutex hands over in FIFO
	// order under contention, where SQLite's busy-timeout polling lets
	// unlucky writers wait for seconds. nil on MySQL.
	serial *sync.Mutex
}

// CreditListener is told, in the same transaction, that the credits of a
// conversion were written or changed; it must be idempotent.
type CreditListener interface {
	SyncConversion(ctx context.Context, tx sqlx.ExtContext, conversionID int64) error
}

// notify tells the listeners that a conversion's credits changed.
func (s *Service) notify(ctx context.Context, ext sqlx.ExtContext, convID int64) error {
	for _, l := range s.Listeners {
		if err := l.SyncConversion(ctx, ext, convID); err != nil {
			return err
		}
	}
	return nil
}

// NewService returns a service on d.
func NewService(d *db.DB, clk clock.Clock, cust *customer.Service, camps Campaigns, dir Directory, refs Referrals) *Service {
	s := &Service{DB: d, Clock: clk, Store: Store{Dialect: d.Dialect}, Customers: cust, Campaigns: camps, Directory: dir, Referrals: refs}
	if d.Dialect.Name() == "sqlite" {
		s.serial = &sync.Mutex{}
	}
	return s
}

// inTx runs fn in a transaction, retried on deadlocks and once more when
// a concurrent transaction took the same idempotency key (the retry then
// finds the winner's row).
func (s *Service) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	run := func() error {
		if s.serial != nil {
			s.serial.Lock()
			defer s.serial.Unlock()
		}
		return db.Retry(ctx, func() error { return s.DB.WithTx(ctx, fn) })
	}
	err := run()
	if errors.Is(err, errRaced) {
		err = run()
	}
	return err
}

// conversionPayload is what the payload hash covers: the normalised input.
type conversionPayload struct {
	Type, ProductCode, Channel, SubChannel, Code, Token string
	Amount                                              int64
	At                                                  int64
	IDs                                                 []customer.Identifier
}

// Record ingests one conversion and attributes it. A repeat of the same
// (source, external id) and payload returns the original conversion with
// created false; the same key with another payload is ErrKeyReused.
func (s *Service) Record(ctx context.Context, in ConversionInput, actor string) (ConversionView, bool, error) {
	if err := in.validate(); err != nil {
		return ConversionView{}, false, err
	}
	now, at := s.Clock.Now(), in.OccurredAt.UTC()
	if err := checkFuture(at, now); err != nil {
		return ConversionView{}, false, err
	}
	ids, err := s.Customers.Normalize(in.Customer, "customer.")
	if err != nil {
		return ConversionView{}, false, err
	}
	row := conversionRow{Source: in.Source, ExternalID: in.ExternalID, Type: in.Type, AmountFen: *in.AmountFen, ProductCode: in.ProductCode,
		Channel: in.Channel, SubChannel: in.SubChannel, InvitationCode: in.InvitationCode, ReferralToken: in.ReferralToken,
		OccurredAt: db.Micros(at), CreatedAt: db.Micros(now), CustomerNo: in.Customer.CustomerID}
	row.PayloadHash = payloadHash(conversionPayload{row.Type, row.ProductCode, row.Channel, row.SubChannel, row.InvitationCode, row.ReferralToken, row.AmountFen, row.OccurredAt, ids})
	var id int64
	created := false
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		old, err := s.Store.conversionByKey(ctx, tx, row.Source, row.ExternalID)
		switch {
		case err == nil && old.PayloadHash != row.PayloadHash:
			return ErrKeyReused
		case err == nil:
			id, created = old.ID, false
			return nil
		case !errors.Is(err, db.ErrNoRows):
			return fmt.Errorf("attribution: conversion by key: %w", err)
		}
		id, err = s.recordTx(ctx, tx, row, ids, actor, now)
		created = err == nil
		return err
	})
	if err != nil {
		return ConversionView{}, false, err
	}
	v, err := s.view(ctx, s.DB, id)
	return v, created, err
}

// recordTx stores a new conversion, links its customer's identifiers and
// attributes it (and, when the link joined known clusters, re-attributes
// the customer's other conversions).
func (s *Service) recordTx(ctx context.Context, tx *sqlx.Tx, row conversionRow, ids []customer.Identifier, actor string, now time.Time) (int64, error) {
	if row.ReferralToken != "" {
		if _, click, err := s.Referrals.TokenBinding(ctx, tx, row.ReferralToken); err == nil {
			ids = append(ids, customer.Identifier{Kind: customer.KindClick, Value: click})
		}
	}
	link, err := s.Customers.Link(ctx, tx, ids, row.Source, actor, now)
	if err != nil {
		return 0, err
	}
	row.IdentifierID = link.AnchorID
	if row.ID, err = s.Store.insertConversion(ctx, tx, row); err != nil {
		return 0, err
	}
	if link.Merged() {
		if err := s.reattributeCluster(ctx, tx, link.Cluster.ID, time.Time{}, actor, "identity_link", now); err != nil {
			return 0, err
		}
	} else if err := s.attributeNew(ctx, tx, row, link.Cluster, actor, now); err != nil {
		return 0, err
	}
	return row.ID, audit.Record(ctx, tx, audit.Entry{At: now, Actor: actor, Action: "conversion.record", EntityType: "conversion",
		EntityID: strconv.FormatInt(row.ID, 10), Detail: map[string]any{"source": row.Source, "external_id": row.ExternalID, "amount_fen": row.AmountFen}})
}

// attributeNew attributes a new conversion and then, when it arrived out
// of order, the customer's later conversions (a protection period it
// starts changes them), so that arrival order never changes credits.
func (s *Service) attributeNew(ctx context.Context, ext sqlx.ExtContext, row conversionRow, cl customer.Cluster, actor string, now time.Time) error {
	if err := s.attributeConversion(ctx, ext, row, cl, "", actor, now); err != nil {
		return err
	}
	later, err := s.Store.clusterConversions(ctx, ext, cl.ID, db.FromMicros(row.OccurredAt))
	if err != nil {
		return err
	}
	for _, c := range later {
		if c.ID == row.ID || c.OccurredAt == row.OccurredAt && c.ID < row.ID {
			continue
		}
		if err := s.attributeConversion(ctx, ext, c, cl, "late_conversion", actor, now); err != nil {
			return err
		}
	}
	return nil
}

// reattributeCluster attributes again every conversion of the cluster at
// or after from, in time order (protection depends on earlier ones).
func (s *Service) reattributeCluster(ctx context.Context, ext sqlx.ExtContext, clusterID int64, from time.Time, actor, why string, now time.Time) error {
	cl, err := s.Customers.Store.Cluster(ctx, ext, clusterID)
	if err != nil {
		return err
	}
	convs, err := s.Store.clusterConversions(ctx, ext, clusterID, from)
	if err != nil {
		return err
	}
	for _, c := range convs {
		if err := s.attributeConversion(ctx, ext, c, cl, why, actor, now); err != nil {
			return err
		}
	}
	return nil
}
