package referral_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/referral"
)

// writerClick is a new visitor's click from its own IP (nothing to look
// up while classifying).
func writerClick(n int64) *referral.Click {
	return &referral.Click{ClickID: fmt.Sprintf("tc%014d", n), At: t0, Day: "2026-11-02", CodeID: 1,
		Code: "7K3M9QX2", StaffID: 1, Channel: referral.ChannelOther, VisitorID: fmt.Sprintf("v%06d", n),
		NewVisitor: true, IPHash: fmt.Sprintf("ip%06d", n), Counted: true}
}

// TestWriterGathersReturningClients: closed-loop clients (each sends its
// next click as soon as the last is committed) share one commit per round
// once the free committer waits for the clients it has just answered,
// instead of splitting into two groups with a commit each.
func TestWriterGathersReturningClients(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		const clients, rounds = 16, 6
		run := func(wait time.Duration) int64 {
			if _, err := d.ExecContext(context.Background(), `DELETE FROM referral_clicks`); err != nil {
				t.Fatal(err)
			}
			w := referral.NewClickWriter(d, referral.WriterOptions{Committers: 1, GatherWait: wait})
			defer w.Close(context.Background())
			var next atomic.Int64
			var wg sync.WaitGroup
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range rounds {
						if err := w.Record(context.Background(), writerClick(next.Add(1))); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			if got := w.Rows(); got != clients*rounds {
				t.Fatalf("%d rows committed, want %d", got, clients*rounds)
			}
			return w.Commits()
		}
		// A generous wait: every client is back long before it ends (the
		// last round, one client short, waits it out once).
		gathered := run(time.Second)
		t.Logf("%d clicks from %d closed-loop clients: %d commits gathering", clients*rounds, clients, gathered)
		// The first click may commit alone; then one commit per round (a
		// few spare for stragglers on a loaded machine).
		if gathered > rounds+3 {
			t.Fatalf("%d commits for %d rounds of %d clients: the writer did not gather them", gathered, rounds, clients)
		}
	})
}

// TestWriterDoesNotHoldLoneClicks: a click with nothing else in flight is
// committed at once, not held for GatherWait.
func TestWriterDoesNotHoldLoneClicks(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := referral.NewClickWriter(d, referral.WriterOptions{GatherWait: 5 * time.Second})
		defer w.Close(context.Background())
		start := time.Now()
		for i := range int64(4) {
			if err := w.Record(context.Background(), writerClick(i)); err != nil {
				t.Fatal(err)
			}
		}
		if el := time.Since(start); el > 4*time.Second {
			t.Fatalf("4 sequential clicks took %v: a lone click was held back", el)
		}
		if w.Commits() != 4 {
			t.Fatalf("%d commits for 4 sequential clicks", w.Commits())
		}
	})
}

// TestWriterCheckpointsSQLite: the writer's connection does not checkpoint
// the WAL itself (so no commit waits for it); the writer's background
// checkpoints keep the WAL from growing without bound.
func TestWriterCheckpointsSQLite(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		if d.Dialect.Name() != "sqlite" {
			t.Skip("SQLite only")
		}
		ctx := context.Background()
		w := referral.NewClickWriter(d, referral.WriterOptions{})
		const commits = 300
		for i := range int64(commits) {
			if err := w.Record(ctx, writerClick(i)); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(50 * time.Millisecond) // let the last checkpoint finish
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
		var busy, log, done int
		if err := d.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &done); err != nil {
			t.Fatal(err)
		}
		t.Logf("%d commits: %d frames in the WAL afterwards", commits, log)
		if log > commits*2 { // ≥ 4 frames per commit (table and indexes) when nothing checkpoints
			t.Fatalf("%d frames in the WAL after %d commits: the writer does not checkpoint", log, commits)
		}
		var n int
		if err := d.GetContext(ctx, &n, `SELECT COUNT(*) FROM referral_clicks`); err != nil || n != commits {
			t.Fatalf("%d rows (%v), want %d", n, err, commits)
		}
	})
}
