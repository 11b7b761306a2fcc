package leads_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/leads"
)

func TestAssignmentSkipsLeaversAndRespectsCapacity(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		mon := local(2026, 11, 2, 10, 0)
		w := newWorld(t, d, mon)
		w.rule(t, "dwell", dwellRule(leads.ChannelBranch))
		if _, err := d.ExecContext(w.ctx, `UPDATE staff SET status = 'left' WHERE id = ?`, w.rm2); err != nil {
			t.Fatal(err)
		}
		if err := w.svc.SetCapacity(w.ctx, w.pMgr, w.rm1, 2); err != nil {
			t.Fatal(err)
		}
		var evs []leads.EventIn
		for i := range 3 {
			c := fmt.Sprintf("C%d", i)
			w.customer(t, c, nil)
			evs = append(evs, view(c, mon.Add(time.Duration(i)*time.Minute), 90))
		}
		w.ingest(t, evs...)
		byStaff := map[int64]int{}
		for i := range 3 {
			byStaff[w.only(t, fmt.Sprintf("C%d", i)).AssigneeID]++
		}
		// rm2 left, the manager takes none (capacity 0), rm1 holds at most 2: the third waits unassigned.
		if byStaff[w.rm1] != 2 || byStaff[0] != 1 || len(byStaff) != 2 {
			t.Fatalf("assignments %v", byStaff)
		}
	})
}

func TestWorkerOnTwoReplicasReturnsOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		mon := local(2026, 11, 2, 10, 0)
		w := newWorld(t, d, mon)
		w.rule(t, "dwell", dwellRule())
		for i := range 5 {
			c := fmt.Sprintf("C%d", i)
			w.customer(t, c, nil)
			w.ingest(t, view(c, mon, 90))
		}
		w.clk.Set(local(2026, 11, 2, 12, 30))
		other := leads.NewService(d, w.clk)
		var wg sync.WaitGroup
		for _, s := range []*leads.Service{w.svc, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.RunDue(w.ctx); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		for i := range 5 {
			l := w.only(t, fmt.Sprintf("C%d", i))
			if l.Returns != 1 || l.Channel != leads.ChannelBranch {
				t.Fatalf("lead %d: %d returns, on %s", l.ID, l.Returns, l.Channel)
			}
			n := 0
			for _, h := range w.detail(t, l.ID).History {
				if h.To == leads.StatusReturned {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("lead %d returned %d times in its history", l.ID, n)
			}
		}
	})
}
