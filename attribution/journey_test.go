package attribution_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"rmref/attribution"
	"rmref/internal/apperr"
	"rmref/internal/db"
	"rmref/internal/dbtest"

	"github.com/google/go-cmp/cmp"
)

func TestJourneyScope(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{Model: attribution.Linear})
		seedBoard(t, w)
		ctx := context.Background()
		for name, c := range map[string]struct {
			staff int64
			ok    bool
		}{"A credited": {w.a, true}, "B credited": {w.b, true}, "C never served C1": {w.c, false}, "manager of the branch": {w.m, true}, "hqAdmin admin": {w.h1, true}} {
			j, err := w.boards().Journey(ctx, principalOf(t, w, c.staff), "C1")
			switch {
			case c.ok && err != nil:
				t.Errorf("%s: %v", name, err)
			case !c.ok && apperr.KindOf(err) != apperr.NotFound:
				t.Errorf("%s: %v, want not found", name, err)
			case c.ok:
				kinds := map[string]int{}
				for _, e := range j.Events {
					kinds[e.Kind]++
				}
				// three calls, one conversion, credits to A and B.
				if kinds["contact"] != 3 || kinds["conversion"] != 1 || kinds["credit"] != 2 || strings.Contains(j.Customer, "C1") {
					t.Errorf("%s: %+v %v", name, j, kinds)
				}
			}
		}
		if _, err := w.boards().Journey(ctx, principalOf(t, w, w.h1), "nobody"); apperr.KindOf(err) != apperr.NotFound {
			t.Errorf("unknown customer: %v", err)
		}
	})
}

// TestJourneyLeadsAndPerks: the journey shows the customer's leads (with
// the RM assigned), card events and perk claims; an RM who was only
// assigned a lead for the customer may read it, another RM may not.
func TestJourneyLeadsAndPerks(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{Model: attribution.Linear})
		seedBoard(t, w)
		ctx := context.Background()
		at := db.Micros(t0.Add(time.Hour))
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := d.ExecContext(ctx, d.Rebind(q), args...); err != nil {
				t.Fatal(err)
			}
		}
		// C1 gets a lead assigned to C (who never otherwise served C1).
		exec(`INSERT INTO leads (customer_id, product, rule_id, rule_version, priority, status, route, route_pos, channel, assignee_id,
			trigger_event_id, triggered_at, sla_hours, outcome, cooldown_days, created_at, updated_at)
			VALUES ('C1', 'credit_card', 1, 1, 5, 'closed', 'branch_rm', 0, 'branch_rm', ?, 'ev1', ?, 4, 'converted', 30, ?, ?)`, w.c, at, at, at)
		exec(`INSERT INTO perk_card_events (event_id, kind, customer_id, card_id, product, occurred_at, payload, payload_hash, outcome, received_by, received_at)
			VALUES ('ce1', 'activated', 'C1', 'card1', 'coffee_card', ?, '{}', 'h', 'applied', 'test', ?)`, at, at)
		exec(`INSERT INTO perk_programmes (name, product, created_by, created_at, updated_at) VALUES ('咖啡卡', 'coffee_card', 'test', ?, ?)`, at, at)
		exec(`INSERT INTO perk_claims (programme_id, customer_id, grant_key, kind, claimed_at, terms, claimed_by, created_at)
			VALUES ((SELECT MAX(id) FROM perk_programmes), 'C1', 'welcome', 'coupon', ?, '{}', 'test', ?)`, at+1, at+1)
		j, err := w.boards().Journey(ctx, principalOf(t, w, w.c), "C1")
		if err != nil {
			t.Fatalf("the RM assigned the lead: %v", err)
		}
		var got []string
		for _, e := range j.Events {
			switch e.Kind {
			case "lead":
				got = append(got, fmt.Sprintf("lead %s %s/%s %d %s", e.Type, e.Status, e.Detail, e.StaffID, e.StaffName))
			case "card_event", "perk_claim":
				got = append(got, fmt.Sprintf("%s %s %s/%s", e.Kind, e.Type, e.Status, e.Detail))
			}
		}
		want := []string{"card_event activated applied/coffee_card", fmt.Sprintf("lead credit_card closed/converted %d 丙", w.c), "perk_claim coupon claimed/welcome"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("journey leads and perks (-want +got):\n%s", diff)
		}
		// C2's journey stays closed to A, who has no lead, credit or contact there.
		if _, err := w.boards().Journey(ctx, principalOf(t, w, w.a), "C2"); apperr.KindOf(err) != apperr.NotFound {
			t.Fatalf("A on C2: %v, want not found", err)
		}
	})
}
