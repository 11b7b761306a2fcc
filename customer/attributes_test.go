package customer_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"rmref/customer"
	"rmref/internal/apperr"
	"rmref/internal/db"
	"rmref/internal/dbtest"
)

func TestSaveAttributesIsIdempotent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 2, 2, 0, 0, 0, time.UTC)
		batch := func() []customer.Attributes {
			return []customer.Attributes{
				{CustomerID: "C1", ValueTier: "private", AgeBand: "60_74", PreferredChannel: "offline:branch",
					Consent: customer.Consent{Branch: true}, HomeBranch: "B001", Products: []string{"FUND2", "FUND1", "FUND1"}},
				{CustomerID: "C2", DoNotContact: true},
			}
		}
		n, err := customer.SaveAttributes(ctx, d, "client:crm", batch(), now)
		if err != nil || n != 2 {
			t.Fatalf("first save: %d, %v", n, err)
		}
		if n, err = customer.SaveAttributes(ctx, d, "client:crm", batch(), now.Add(time.Hour)); err != nil || n != 0 {
			t.Fatalf("same batch again changed %d (%v), want 0", n, err)
		}
		got, err := customer.GetAttributes(ctx, d, "C1")
		if err != nil {
			t.Fatal(err)
		}
		want := customer.Attributes{CustomerID: "C1", ValueTier: "private", AgeBand: "60_74", PreferredChannel: "offline:branch",
			Consent: customer.Consent{Branch: true}, HomeBranch: "B001", Timezone: "Asia/Shanghai", Products: []string{"FUND1", "FUND2"}, UpdatedAt: now}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("stored (-want +got):\n%s", diff)
		}
		if !got.Senior() || !got.Consent.Allows("offline:branch") || got.Consent.Allows("remote:sms") {
			t.Fatalf("helpers on %+v", got)
		}
		c2 := batch()[1]
		c2.DoNotContact = false
		if n, err = customer.SaveAttributes(ctx, d, "client:crm", []customer.Attributes{c2}, now.Add(2*time.Hour)); err != nil || n != 1 {
			t.Fatalf("changed record: %d, %v", n, err)
		}
		many, err := customer.AttributesOf(ctx, d, []string{"C1", "C2", "C3"})
		if err != nil || len(many) != 2 || many["C2"].DoNotContact {
			t.Fatalf("AttributesOf: %+v %v", many, err)
		}
	})
}

func TestSaveAttributesRefusesBadBatch(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		bad := []customer.Attributes{
			{CustomerID: "C1", ValueTier: "gold"},
			{CustomerID: "C2", AgeBand: "60+", Timezone: "Mars/Base"},
			{CustomerID: "C1"},
		}
		_, err := customer.SaveAttributes(ctx, d, "client:crm", bad, time.Now())
		e, ok := apperr.As(err)
		if !ok || e.Kind != apperr.Invalid {
			t.Fatalf("err = %v", err)
		}
		var fields []string
		for _, f := range e.Fields {
			fields = append(fields, f.Field)
		}
		want := []string{"items[0].value_tier", "items[1].age_band", "items[1].timezone", "items[2].customer_id"}
		if diff := cmp.Diff(want, fields); diff != "" {
			t.Fatalf("fields (-want +got):\n%s", diff)
		}
		if _, err := customer.GetAttributes(ctx, d, "C2"); apperr.KindOf(err) != apperr.NotFound {
			t.Fatalf("a refused batch stored something: %v", err)
		}
	})
}
