package leads_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/leads"
)

// Claims made at once on one handle are served together; each still gets
// its own leads, none twice, and together they take the oldest offers in
// hand-out order, each with its acceptance in the history once.
func TestClaimsAtOnceOnOneHandle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		mon := local(2026, 11, 2, 10, 0)
		w := newWorld(t, d, mon)
		w.rule(t, "dwell", dwellRule(leads.ChannelCallCenter))
		const n, claimers, each = 30, 12, 2
		var evs []leads.EventIn
		for i := range n {
			c := fmt.Sprintf("G%03d", i)
			w.customer(t, c, nil)
			evs = append(evs, view(c, mon.Add(time.Duration(i)*time.Second), 90))
		}
		w.ingest(t, evs...)
		var mu sync.Mutex
		owner := map[int64]string{}
		var wg sync.WaitGroup
		gate := make(chan struct{})
		errs := make(chan error, claimers)
		for i := range claimers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				name := fmt.Sprintf("g-%d", i)
				got, err := w.svc.Claim(w.ctx, name, leads.ChannelCallCenter, each)
				if err != nil {
					errs <- err
					return
				}
				if len(got) != each {
					errs <- fmt.Errorf("%s got %d leads, want %d", name, len(got), each)
				}
				mu.Lock()
				defer mu.Unlock()
				for _, l := range got {
					if prev, dup := owner[l.ID]; dup {
						errs <- fmt.Errorf("lead %d handed to %s and %s", l.ID, prev, name)
					}
					owner[l.ID] = name
					if l.Status != leads.StatusAccepted || l.LeaseUntil == nil {
						errs <- fmt.Errorf("lead %d claimed as %s, lease %v", l.ID, l.Status, l.LeaseUntil)
					}
				}
			}()
		}
		close(gate)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		// The claimed leads are the oldest offers (all of one priority).
		var claimedCust []string
		for id := range owner {
			claimedCust = append(claimedCust, w.detail(t, id).CustomerID)
		}
		slices.Sort(claimedCust)
		for i, c := range claimedCust {
			if want := fmt.Sprintf("G%03d", i); c != want {
				t.Fatalf("claimed customers %v, want G000…G%03d", claimedCust, claimers*each-1)
			}
		}
		for id := range owner {
			claims := 0
			for _, h := range w.detail(t, id).History {
				if h.Reason == "claim" && h.From == leads.StatusOffered && h.To == leads.StatusAccepted {
					claims++
				}
			}
			if claims != 1 {
				t.Fatalf("lead %d has %d claim transitions, want 1", id, claims)
			}
		}
		// A claim whose caller has gone claims nothing.
		ctx, cancel := context.WithCancel(w.ctx)
		cancel()
		if _, err := w.svc.Claim(ctx, "gone", leads.ChannelCallCenter, 5); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled claim: %v", err)
		}
		rest, err := w.svc.Claim(w.ctx, "last", leads.ChannelCallCenter, 100)
		if err != nil || len(rest) != n-claimers*each {
			t.Fatalf("remaining claim: %d leads, %v; want %d", len(rest), err, n-claimers*each)
		}
	})
}

// A lead made when an abandonment timer fires for a customer who has no
// event in the batch still counts that customer's recorded contacts
// against the caps.
func TestTimerLeadOutsideBatchRespectsCaps(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		mon := local(2026, 11, 2, 10, 0)
		w := newWorld(t, d, mon)
		w.rule(t, "fund", dwellRule(leads.ChannelCallCenter))
		w.rule(t, "abandon", leads.Definition{
			Trigger: leads.Trigger{Type: leads.TriggerAbandon, Products: []string{"CARD1"}, AbandonMinutes: 30},
			Routing: leads.Routing{Default: []string{leads.ChannelCallCenter}}, Priority: 5, SLAHours: 2,
		})
		w.customer(t, "C1", nil)
		w.customer(t, "C2", nil)
		// Two contacts this week (the default week cap is 2).
		w.ingest(t, view("C1", mon, 90))
		l := w.only(t, "C1")
		if got, err := w.svc.Claim(w.ctx, "cc", leads.ChannelCallCenter, 5); err != nil || len(got) != 1 {
			t.Fatalf("claim: %v %v", got, err)
		}
		for i, at := range []time.Time{mon.Add(time.Minute), mon.Add(2 * time.Minute)} {
			if _, err := w.svc.RemoteReport(w.ctx, "cc", l.ID, leads.Report{EventID: fmt.Sprintf("c%d", i), EmployeeNo: "A001", Type: leads.ReportContact, At: at}); err != nil {
				t.Fatal(err)
			}
		}
		w.ingest(t, event("C1", leads.EventApplicationStarted, "CARD1", mon.Add(5*time.Minute)))
		// The timer comes due in a batch that has only C2's event, which
		// makes a lead (and so reads the batch customers' contacts) first.
		w.clk.Set(mon.Add(40 * time.Minute))
		w.ingest(t, view("C2", mon.Add(39*time.Minute), 90))
		if c2 := w.only(t, "C2"); c2.Status != leads.StatusOffered {
			t.Fatalf("C2 lead %s", c2.Status)
		}
		var card *leads.Lead
		for _, x := range w.leadsOf(t, "C1") {
			if x.Product == "CARD1" {
				card = &x
			}
		}
		if card == nil || card.Status != leads.StatusSuppressed || card.CloseReason != leads.ReasonWeekCap {
			t.Fatalf("timer lead: %+v, want suppressed by week_cap", card)
		}
	})
}
