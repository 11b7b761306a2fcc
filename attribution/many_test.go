package attribution_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"rmref/attribution"
	"rmref/customer"
	"rmref/internal/auth"
	"rmref/internal/db"
	"rmref/internal/dbtest"
)

// Record answers a new conversion from what it wrote; the answer must be
// what reading the conversion back gives.
func TestRecordAnswerEqualsReadBack(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{Model: attribution.Linear})
		c1, c2 := customer.Identifiers{CustomerID: "C1"}, customer.Identifiers{CustomerID: "C2", Phone: "13800138000"}
		w.touch(t, "t1", "A", t0.Add(-3*day), c1)
		w.touch(t, "t2", "B", t0.Add(-day), c1)
		w.touch(t, "t3", "C", t0.Add(-day), c2)
		auditor := auth.Principal{Roles: []auth.Role{auth.RoleAuditor}}
		for _, in := range []attribution.ConversionInput{
			conv("x1", 1000, t0, c1),                                  // linear over A, B
			conv("x2", 500, t0.Add(-2*day), c2),                       // one touch
			conv("x3", 0, t0, customer.Identifiers{CustomerID: "C3"}), // no touches
			conv("x4", 700, t0.Add(-300*day), c1),                     // outside the campaign
		} {
			v, created, err := w.svc.Record(context.Background(), in, "test")
			if err != nil || !created {
				t.Fatalf("%s: created %v err %v", in.ExternalID, created, err)
			}
			back, err := w.svc.Conversion(context.Background(), auditor, v.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(back, v); diff != "" {
				t.Fatalf("%s: answer differs from the read-back (-back +answer):\n%s", in.ExternalID, diff)
			}
		}
	})
}

// RecordMany gives each item the outcome Record would give it in turn: a
// failing item (checks, key reused, identity conflict inside the
// transaction, a key twice in the group) fails alone, and a re-run finds
// every recorded item already present.
func TestRecordManyPartialFailure(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{Model: attribution.Linear})
		ctx := context.Background()
		c1 := customer.Identifiers{CustomerID: "C1", Phone: "13800138000"}
		w.touch(t, "t1", "A", t0.Add(-3*day), c1)
		w.touch(t, "t2", "B", t0.Add(-day), c1)
		w.convert(t, "x0", 100, t0, c1)
		bad := conv("bad", 1, t0, c1)
		bad.Channel = "mail"
		conflict := conv("conflict", 5, t0, customer.Identifiers{CustomerID: "C9", Phone: "13800138000"}) // C1's phone
		ins := []attribution.ConversionInput{
			conv("x1", 1000, t0, c1),
			bad,
			conv("x0", 100, t0, c1), // already present
			conv("x0", 101, t0, c1), // key reused
			conflict,
			conv("x2", 300, t0.Add(-2*day), customer.Identifiers{CustomerID: "C2"}),
			conv("x2", 300, t0.Add(-2*day), customer.Identifiers{CustomerID: "C2"}), // twice in the group
		}
		type got struct {
			Created bool
			Err     string
		}
		outcomes := func(os []attribution.Outcome) []got {
			out := make([]got, len(os))
			for i, o := range os {
				out[i].Created = o.Created
				switch {
				case errors.Is(o.Err, attribution.ErrKeyReused):
					out[i].Err = "reused"
				case errors.Is(o.Err, customer.ErrIdentityConflict):
					out[i].Err = "conflict"
				case o.Err != nil:
					out[i].Err = "other"
				}
			}
			return out
		}
		want := []got{{Created: true}, {Err: "other"}, {}, {Err: "reused"}, {Err: "conflict"}, {Created: true}, {}}
		if diff := cmp.Diff(want, outcomes(w.svc.RecordMany(ctx, ins, "test"))); diff != "" {
			t.Fatalf("outcomes (-want +got):\n%s", diff)
		}
		want = []got{{}, {Err: "other"}, {}, {Err: "reused"}, {Err: "conflict"}, {}, {}}
		if diff := cmp.Diff(want, outcomes(w.svc.RecordMany(ctx, ins, "test"))); diff != "" {
			t.Fatalf("re-run (-want +got):\n%s", diff)
		}
		var convs int
		_ = d.GetContext(ctx, &convs, `SELECT COUNT(*) FROM conversions`)
		if convs != 3 {
			t.Fatalf("conversions %d, want 3", convs)
		}
		// A clean group goes through in one transaction.
		clean := []attribution.ConversionInput{conv("y1", 10, t0, c1), conv("y2", 20, t0, customer.Identifiers{CustomerID: "C5"})}
		want = []got{{Created: true}, {Created: true}}
		if diff := cmp.Diff(want, outcomes(w.svc.RecordMany(ctx, clean, "test"))); diff != "" {
			t.Fatalf("clean group (-want +got):\n%s", diff)
		}
		mustCheck(t, d)
	})
}
