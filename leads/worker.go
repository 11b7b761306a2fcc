package leads

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/db"
)

// DueResult counts what one RunDue pass did.
type DueResult struct {
	TimersFired int `json:"timers_fired"`
	Offered     int `json:"deferred_offered"`
	Returned    int `json:"returned"`
	Pruned      int `json:"events_pruned"`
}

// RunDue does the clock-driven work up to now: abandonment timers, offers
// deferred by quiet hours (dated at the end of quiet hours), and the
// return flow of leads not contacted by their SLA deadline (dated at the
// deadline, whenever it runs); then it prunes events past retention.
// Every lead change is conditional on the version it read, so several
// replicas may run it at once.
func (s *Service) RunDue(ctx context.Context) (DueResult, error) {
	var res DueResult
	now := s.Clock.Now()
	err := s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		o, err := s.offerer(ctx, tx, "system")
		if err != nil {
			return err
		}
		ids, err := s.fireTimers(ctx, o, now, 500)
		res.TimersFired = len(ids)
		return err
	})
	if err != nil {
		return res, err
	}
	for round := 0; round < 50; round++ {
		n, m, err := s.dueRound(ctx, now)
		res.Offered += n
		res.Returned += m
		if err != nil || n+m == 0 {
			if err != nil {
				return res, err
			}
			break
		}
	}
	res.Pruned, err = s.prune(ctx, now)
	return res, err
}

const qDeferredDue = `SELECT id FROM leads WHERE status = 'deferred' AND deferred_until <= ? ORDER BY deferred_until, id LIMIT 200`
const qSLADue = `SELECT id FROM leads WHERE status IN ('offered', 'accepted') AND sla_deadline <= ? ORDER BY sla_deadline, id LIMIT 200`

func (s *Service) dueRound(ctx context.Context, now time.Time) (int, int, error) {
	var deferred, missed []int64
	if err := s.DB.SelectContext(ctx, &deferred, qDeferredDue, db.Micros(now)); err != nil {
		return 0, 0, fmt.Errorf("leads: deferred due: %w", err)
	}
	if err := s.DB.SelectContext(ctx, &missed, qSLADue, db.Micros(now)); err != nil {
		return 0, 0, fmt.Errorf("leads: sla due: %w", err)
	}
	n, err := s.eachLead(ctx, deferred, func(o offerer, l *Lead) (bool, error) {
		if l.Status != StatusDeferred || l.DeferredUntil == nil || l.DeferredUntil.After(now) {
			return false, nil
		}
		return true, o.offer(ctx, l, l.RoutePos, *l.DeferredUntil, "deferred_offer")
	})
	if err != nil {
		return n, 0, err
	}
	m, err := s.eachLead(ctx, missed, func(o offerer, l *Lead) (bool, error) {
		if (l.Status != StatusOffered && l.Status != StatusAccepted) || l.SLADeadline == nil || l.SLADeadline.After(now) {
			return false, nil
		}
		return true, o.returnFlow(ctx, l, ReasonSLAMissed, *l.SLADeadline)
	})
	return n, m, err
}

// eachLead runs fn on each lead in its own transaction; a lead another
// replica changed first is skipped.
func (s *Service) eachLead(ctx context.Context, ids []int64, fn func(o offerer, l *Lead) (bool, error)) (int, error) {
	done := 0
	for _, id := range ids {
		var did bool
		err := s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
			l, err := getLead(ctx, tx, id)
			if err != nil {
				return err
			}
			o, err := s.offerer(ctx, tx, "system")
			if err != nil {
				return err
			}
			did, err = fn(o, &l)
			return err
		})
		if errors.Is(err, errStale) {
			continue
		}
		if err != nil {
			return done, err
		}
		if did {
			done++
		}
	}
	return done, nil
}

func (s *Service) prune(ctx context.Context, now time.Time) (int, error) {
	set, err := loadSettings(ctx, s.DB)
	if err != nil {
		return 0, err
	}
	rules, err := activeRules(ctx, s.DB)
	if err != nil {
		return 0, err
	}
	cut := db.Micros(now.Add(-retention(set, rules)))
	res, err := s.DB.ExecContext(ctx, `DELETE FROM lead_events WHERE occurred_at < ?`, cut)
	if err != nil {
		return 0, fmt.Errorf("leads: prune events: %w", err)
	}
	if _, err := s.DB.ExecContext(ctx, `DELETE FROM lead_timers WHERE status <> 'pending' AND due_at < ?`, cut); err != nil {
		return 0, fmt.Errorf("leads: prune timers: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// Worker runs RunDue every interval while it holds the worker lease, so
// that usually one replica does the work; correctness does not depend on
// it (RunDue is safe to run concurrently).
type Worker struct {
	svc      *Service
	interval time.Duration
	holder   string
	logger   *slog.Logger
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// NewWorker returns a worker for svc.
func NewWorker(svc *Service, interval time.Duration, logger *slog.Logger) *Worker {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &Worker{svc: svc, interval: interval, holder: hex.EncodeToString(b), logger: logger}
}

// Start runs the worker in the background until Stop.
func (w *Worker) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(w.interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				w.tick(ctx)
			}
		}
	}()
}

func (w *Worker) tick(ctx context.Context) {
	ok, err := w.svc.acquireLease(ctx, "leads.worker", w.holder, 3*w.interval)
	if err == nil && ok {
		_, err = w.svc.RunDue(ctx)
	}
	if err != nil && ctx.Err() == nil {
		w.logger.ErrorContext(ctx, "lead worker", "err", err)
	}
}

// Stop stops the worker and waits for a running pass to end.
func (w *Worker) Stop(ctx context.Context) error {
	if w.cancel != nil {
		w.cancel()
	}
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// acquireLease takes or renews the named lease for holder until now + ttl,
// by a conditional UPDATE checked by rows affected.
func (s *Service) acquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	now := s.Clock.Now()
	if _, err := s.DB.ExecContext(ctx, `INSERT INTO lead_worker_leases (name, holder, lease_until) VALUES (?, '', 0) `+
		s.DB.Dialect.IgnoreDup([]string{"name"}, "name"), name); err != nil {
		return false, fmt.Errorf("leads: worker lease: %w", err)
	}
	res, err := s.DB.ExecContext(ctx, `UPDATE lead_worker_leases SET holder = ?, lease_until = ? WHERE name = ? AND (lease_until <= ? OR holder = ?)`,
		holder, db.Micros(now.Add(ttl)), name, db.Micros(now), holder)
	if err != nil {
		return false, fmt.Errorf("leads: worker lease: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}
