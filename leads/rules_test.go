package leads_test

import (
	"testing"
	"time"

	"rmref/internal/apperr"
	"rmref/internal/audit"
	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/leads"
)

func TestRulesAreValidatedVersionedAndAudited(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, local(2026, 11, 2, 10, 0))
		bad := dwellRule("remote:fax")
		bad.Trigger.DwellSeconds = 0
		_, err := w.svc.CreateRule(w.ctx, "staff:M", leads.RuleInput{Code: "x", Name: "x", Definition: bad})
		if e, ok := apperr.As(err); !ok || len(e.Fields) != 2 || e.Fields[0].Field != "definition.trigger.dwell_seconds" || e.Fields[1].Field != "definition.routing.default[0]" {
			t.Fatalf("invalid rule: %v", err)
		}
		r := w.rule(t, "dwell", dwellRule())
		def := dwellRule()
		def.Trigger.DwellSeconds = 120
		r2, err := w.svc.UpdateRule(w.ctx, "staff:M2", r.ID, leads.RuleInput{Name: "longer", Status: leads.RuleActive, Definition: def})
		if err != nil || r2.Version != 2 || r2.Definition.Trigger.DwellSeconds != 120 {
			t.Fatalf("update: %+v %v", r2, err)
		}
		w.customer(t, "C1", nil)
		w.ingest(t, view("C1", local(2026, 11, 2, 10, 0), 90))
		if n := len(w.leadsOf(t, "C1")); n != 0 {
			t.Fatalf("version 2 needs 120 s; 90 s made %d leads", n)
		}
		w.ingest(t, view("C1", local(2026, 11, 2, 10, 1), 120))
		if l := w.only(t, "C1"); l.RuleVersion != 2 {
			t.Fatalf("lead made by version %d", l.RuleVersion)
		}
		es, err := audit.List(w.ctx, d, audit.Filter{EntityType: "lead_rule"})
		if err != nil || len(es) != 2 || es[0].Action != "lead_rule.update" || es[0].Actor != "staff:M2" {
			t.Fatalf("audit %+v %v", es, err)
		}
	})
}

func TestDryRunCountsRetainedEvents(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		now := local(2026, 11, 5, 10, 0)
		w := newWorld(t, d, now)
		w.customer(t, "C1", nil)
		w.customer(t, "C2", nil)
		// No rule yet: the events are only stored.
		w.ingest(t,
			view("C1", now.Add(-48*time.Hour), 90), view("C1", now.Add(-47*time.Hour), 90), // same lead, inside the cool-down
			view("C2", now.Add(-30*time.Hour), 61), view("C2", now.Add(-30*time.Hour), 59),
			view("C1", now.Add(-10*24*time.Hour), 90)) // outside the 3 days asked
		res, err := w.svc.DryRun(w.ctx, dwellRule(), 3)
		if err != nil {
			t.Fatal(err)
		}
		if res.EventsScanned != 4 || res.Triggers != 3 || res.Leads != 2 || res.Customers != 2 {
			t.Fatalf("dry run %+v", res)
		}
		if n := len(w.leadsOf(t, "C1")); n != 0 {
			t.Fatalf("dry run stored %d leads", n)
		}
	})
}
