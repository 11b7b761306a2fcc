package leads_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"rmref/customer"
	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/leads"
)

func TestLeaseExpiryAndReclaim(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		mon := local(2026, 11, 2, 10, 0)
		w := newWorld(t, d, mon)
		w.rule(t, "dwell", dwellRule())
		w.customer(t, "C1", nil)
		w.ingest(t, view("C1", mon, 90))
		a, err := w.svc.Claim(w.ctx, "alpha", leads.ChannelCallCenter, 10)
		if err != nil || len(a) != 1 || a[0].Status != leads.StatusAccepted {
			t.Fatalf("alpha claim %+v %v", a, err)
		}
		eqTime(t, "lease", a[0].LeaseUntil, mon.Add(300*time.Second))
		w.clk.Set(mon.Add(299 * time.Second))
		if b, _ := w.svc.Claim(w.ctx, "beta", leads.ChannelCallCenter, 10); len(b) != 0 {
			t.Fatalf("beta got a leased lead at t+299 s: %+v", b)
		}
		// From t + L the lead can be claimed again; alpha has lost it.
		w.clk.Set(mon.Add(300 * time.Second))
		b, err := w.svc.Claim(w.ctx, "beta", leads.ChannelCallCenter, 10)
		if err != nil || len(b) != 1 || b[0].ID != a[0].ID {
			t.Fatalf("beta at t+300 s: %+v %v", b, err)
		}
		if _, err := w.svc.RenewLease(w.ctx, "alpha", a[0].ID); err != leads.ErrLeaseLost {
			t.Fatalf("alpha renew: %v", err)
		}
		if _, err := w.svc.RemoteReport(w.ctx, "alpha", a[0].ID, leads.Report{EventID: "a1", EmployeeNo: "A001", Type: leads.ReportContact}); err != leads.ErrLeaseLost {
			t.Fatalf("alpha report: %v", err)
		}
		w.clk.Set(mon.Add(400 * time.Second))
		r, err := w.svc.RenewLease(w.ctx, "beta", a[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		eqTime(t, "renewed lease", r.LeaseUntil, mon.Add(700*time.Second))
		got, err := w.svc.RemoteReport(w.ctx, "beta", a[0].ID, leads.Report{EventID: "b1", EmployeeNo: "A001", Type: leads.ReportContact})
		if err != nil || got.Status != leads.StatusContacted || got.SLAState != leads.SLAMet {
			t.Fatalf("beta contact %+v %v", got, err)
		}
		again, err := w.svc.RemoteReport(w.ctx, "beta", a[0].ID, leads.Report{EventID: "b1", EmployeeNo: "A001", Type: leads.ReportContact})
		if err != nil || len(w.detail(t, again.ID).Contacts) != 1 {
			t.Fatalf("replayed report: %v, contacts %d", err, len(w.detail(t, again.ID).Contacts))
		}
	})
}

// handles opens n more connections pools to the same database.
func handles(t *testing.T, d *db.DB, path string, n int) []*db.DB {
	t.Helper()
	out := []*db.DB{d}
	dsn := path
	if d.Dialect.Name() == "mysql" {
		dsn = dbtest.MySQLDSN(t)
	}
	for range n - 1 {
		h, err := db.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		out = append(out, h)
	}
	return out
}

func TestConcurrentClaimersNeverShare(t *testing.T) {
	for _, kind := range dbtest.Kinds() {
		t.Run(kind, func(t *testing.T) {
			var d *db.DB
			path := ""
			if kind == "mysql" {
				d = dbtest.OpenMySQL(t)
			} else {
				path = dbtest.SQLitePath(t)
				var err error
				if d, err = db.Open(context.Background(), path); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { d.Close() })
				if _, err := d.Migrate(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			mon := local(2026, 11, 2, 10, 0)
			w := newWorld(t, d, mon)
			w.rule(t, "dwell", dwellRule())
			const n = 60
			var evs []leads.EventIn
			for i := range n {
				c := fmt.Sprintf("C%03d", i)
				w.customer(t, c, nil)
				evs = append(evs, view(c, mon, 90))
			}
			w.ingest(t, evs...)
			hs := handles(t, d, path, 4)
			var mu sync.Mutex
			owner := map[int64]string{}
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for i := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					svc := leads.NewService(hs[i%len(hs)], w.clk)
					name := fmt.Sprintf("claimer-%d", i)
					for {
						got, err := svc.Claim(context.Background(), name, leads.ChannelCallCenter, 3)
						if err != nil {
							errs <- err
							return
						}
						if len(got) == 0 {
							return
						}
						mu.Lock()
						for _, l := range got {
							if prev, dup := owner[l.ID]; dup {
								errs <- fmt.Errorf("lead %d handed to %s and %s", l.ID, prev, name)
							}
							owner[l.ID] = name
						}
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if len(owner) != n {
				t.Fatalf("%d leads claimed, want %d", len(owner), n)
			}
		})
	}
}

func TestScopeOwnAndSubtree(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		mon := local(2026, 11, 2, 10, 0)
		w := newWorld(t, d, mon)
		w.rule(t, "dwell", dwellRule(leads.ChannelBranch))
		w.customer(t, "B1A", nil)
		w.customer(t, "B1B", nil)
		w.customer(t, "B2A", func(a *customer.Attributes) { a.HomeBranch = "B002" })
		w.ingest(t, view("B1A", mon, 90), view("B1B", mon, 90), view("B2A", mon, 90))
		// Balanced: the two B001 RMs get one lead each.
		mine1, _ := w.svc.List(w.ctx, w.pRM1, leads.ListFilter{Limit: 50})
		mine2, _ := w.svc.List(w.ctx, w.pRM2, leads.ListFilter{Limit: 50})
		if len(mine1) != 1 || len(mine2) != 1 || mine1[0].ID == mine2[0].ID {
			t.Fatalf("rm1 %+v, rm2 %+v: want one lead each", mine1, mine2)
		}
		sub, _ := w.svc.List(w.ctx, w.pMgr, leads.ListFilter{Limit: 50})
		if len(sub) != 2 {
			t.Fatalf("manager of B001 sees %d leads, want 2", len(sub))
		}
		other := w.only(t, "B2A")
		if other.AssigneeID != w.rm3 {
			t.Fatalf("B002 lead assigned to %d, want rm3", other.AssigneeID)
		}
		if _, err := w.svc.Get(w.ctx, w.pRM1, mine2[0].ID); err != leads.ErrNotFound {
			t.Fatalf("rm1 reading rm2's lead: %v, want not found", err)
		}
		if _, err := w.svc.Get(w.ctx, w.pMgr, other.ID); err != leads.ErrNotFound {
			t.Fatalf("B001 manager reading a B002 lead: %v", err)
		}
		if _, err := w.svc.Accept(w.ctx, w.pRM1, mine2[0].ID); err != leads.ErrNotFound {
			t.Fatalf("rm1 accepting rm2's lead: %v", err)
		}
		if _, err := w.svc.Reassign(w.ctx, w.pMgr, mine2[0].ID, w.rm3); err != leads.ErrAssigneeInactive {
			t.Fatalf("reassign outside the subtree: %v", err)
		}
		got, err := w.svc.Accept(w.ctx, w.pRM1, mine1[0].ID)
		if err != nil || got.Status != leads.StatusAccepted {
			t.Fatalf("accept %+v %v", got, err)
		}
	})
}
