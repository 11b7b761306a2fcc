package attribution_test

import (
	"context"
	"strings"
	"testing"

	"rmref/attribution"
	"rmref/internal/apperr"
	"rmref/internal/db"
	"rmref/internal/dbtest"
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
