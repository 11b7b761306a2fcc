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
	// stmts keeps prepared statements for ingestion on SQLite; nil on MySQL.
	stmts *stmtCache
}

// ext returns the transaction as ingestion runs its statements in it:
// through the statement cache on SQLite.
func (s *Service) ext(tx *sqlx.Tx) sqlx.ExtContext {
	if s.stmts == nil {
		return tx
	}
	return cachedTx{Tx: tx, c: s.stmts}
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
		s.stmts = newStmtCache(d.DB)
	}
	return s
}

// withTx runs fn in a transaction, retried on deadlocks.
func (s *Service) withTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	if s.serial != nil {
		s.serial.Lock()
		defer s.serial.Unlock()
	}
	return db.Retry(ctx, func() error { return s.DB.WithTx(ctx, fn) })
}

// inTx runs fn in a transaction, retried on deadlocks and once more when
// a concurrent transaction took the same idempotency key (the retry then
// finds the winner's row).
func (s *Service) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	err := s.withTx(ctx, fn)
	if errors.Is(err, errRaced) {
		err = s.withTx(ctx, fn)
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
	now := s.Clock.Now()
	p, err := s.prepare(in, now)
	if err != nil {
		return ConversionView{}, false, err
	}
	row, ids := p.row, p.ids
	// The conversion is inserted straight away, without first reading its
	// key: the unique key refuses a repeat, the transaction is rolled back
	// (nothing of it stays) and the stored conversion is read then. The
	// key decides before any other error, as a read first would have.
	var id int64
	var fresh *ConversionView
	for try := 0; ; try++ {
		err = s.withTx(ctx, func(tx *sqlx.Tx) error {
			var err error
			id, fresh, err = s.recordTx(ctx, s.ext(tx), row, ids, actor, now)
			return err
		})
		if err == nil {
			if fresh != nil {
				return *fresh, true, nil
			}
			v, err := s.view(ctx, s.DB, id)
			return v, true, err
		}
		old, kerr := s.Store.conversionByKey(ctx, s.DB, row.Source, row.ExternalID)
		switch {
		case kerr == nil && old.PayloadHash != row.PayloadHash:
			return ConversionView{}, false, ErrKeyReused
		case kerr == nil:
			v, err := s.view(ctx, s.DB, old.ID)
			return v, false, err
		case !errors.Is(kerr, db.ErrNoRows):
			return ConversionView{}, false, fmt.Errorf("attribution: conversion by key: %w", kerr)
		case !errors.Is(err, errRaced) || try > 0:
			return ConversionView{}, false, err
		}
	}
}

// prepare checks and normalises a conversion input into the row to store.
func (s *Service) prepare(in ConversionInput, now time.Time) (pending, error) {
	if err := in.validate(); err != nil {
		return pending{}, err
	}
	at := in.OccurredAt.UTC()
	if err := checkFuture(at, now); err != nil {
		return pending{}, err
	}
	ids, err := s.Customers.Normalize(in.Customer, "customer.")
	if err != nil {
		return pending{}, err
	}
	row := conversionRow{Source: in.Source, ExternalID: in.ExternalID, Type: in.Type, AmountFen: *in.AmountFen, ProductCode: in.ProductCode,
		Channel: in.Channel, SubChannel: in.SubChannel, InvitationCode: in.InvitationCode, ReferralToken: in.ReferralToken,
		OccurredAt: db.Micros(at), CreatedAt: db.Micros(now), CustomerNo: in.Customer.CustomerID}
	row.PayloadHash = payloadHash(conversionPayload{row.Type, row.ProductCode, row.Channel, row.SubChannel, row.InvitationCode, row.ReferralToken, row.AmountFen, row.OccurredAt, ids})
	return pending{row: row, ids: ids}, nil
}

// recordTx stores a new conversion, links its customer's identifiers and
// attributes it (and, when the link joined known clusters, re-attributes
// the customer's other conversions). It returns the conversion's view
// when it has it in hand (a first attribution), else nil.
func (s *Service) recordTx(ctx context.Context, tx sqlx.ExtContext, row conversionRow, ids []customer.Identifier, actor string, now time.Time) (int64, *ConversionView, error) {
	if row.ReferralToken != "" {
		if _, click, err := s.Referrals.TokenBinding(ctx, tx, row.ReferralToken); err == nil {
			ids = append(ids, customer.Identifier{Kind: customer.KindClick, Value: click})
		}
	}
	link, err := s.Customers.Link(ctx, tx, ids, row.Source, actor, now)
	if err != nil {
		return 0, nil, err
	}
	row.IdentifierID = link.AnchorID
	if row.ID, err = s.Store.insertConversion(ctx, tx, row); err != nil {
		return 0, nil, err
	}
	var v *ConversionView
	if link.Merged() {
		if err := s.reattributeCluster(ctx, tx, link.Cluster.ID, time.Time{}, actor, "identity_link", now); err != nil {
			return 0, nil, err
		}
	} else if v, err = s.attributeNew(ctx, tx, row, link.Cluster, actor, now); err != nil {
		return 0, nil, err
	}
	return row.ID, v, audit.Record(ctx, tx, audit.Entry{At: now, Actor: actor, Action: "conversion.record", EntityType: "conversion",
		EntityID: strconv.FormatInt(row.ID, 10), Detail: map[string]any{"source": row.Source, "external_id": row.ExternalID, "amount_fen": row.AmountFen}})
}

// attributeNew attributes a new conversion and then, when it arrived out
// of order, the customer's later conversions (a protection period it
// starts changes them), so that arrival order never changes credits. It
// returns the new conversion's view, built from what it wrote.
func (s *Service) attributeNew(ctx context.Context, ext sqlx.ExtContext, row conversionRow, cl customer.Cluster, actor string, now time.Time) (*ConversionView, error) {
	v := newView(row)
	at := db.FromMicros(row.OccurredAt)
	camps, err := s.Campaigns.Covering(ctx, ext, at)
	if err != nil {
		return nil, err
	}
	later := true // unknown until read
	if len(camps) > 0 {
		g, err := s.gather(ctx, ext, row, cl, camps, true)
		if err != nil {
			return nil, err
		}
		g.fresh, later = true, g.later
		for _, c := range camps {
			res, err := s.decide(ctx, ext, g, c)
			if err != nil {
				return nil, err
			}
			rows := newCreditRows(row, c, res, now)
			if err := s.firstApply(ctx, ext, row, rows, res, now); err != nil {
				return nil, err
			}
			v.Attributions = append(v.Attributions, attributionView(c.ID, res, 1, rows))
		}
	}
	if !later {
		return &v, nil
	}
	convs, err := s.Store.clusterConversions(ctx, ext, cl.ID, at)
	if err != nil {
		return nil, err
	}
	for _, c := range convs {
		if !isLater(c, row) {
			continue
		}
		if err := s.attributeConversion(ctx, ext, c, cl, "late_conversion", actor, now); err != nil {
			return nil, err
		}
	}
	return &v, nil
}

// isLater reports whether c comes after the new conversion row (in time,
// then id), so that row's arrival may change its attribution.
func isLater(c, row conversionRow) bool {
	return c.ID != row.ID && (c.OccurredAt != row.OccurredAt || c.ID > row.ID)
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
