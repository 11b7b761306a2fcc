package customer_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/customer"
	"rmref/internal/apperr"
	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/internal/pii"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

var now = time.Date(2026, 11, 2, 2, 0, 0, 0, time.UTC)

func link(t *testing.T, d *db.DB, s *customer.Service, in customer.Identifiers) customer.LinkResult {
	t.Helper()
	ids, err := s.Normalize(in, "")
	if err != nil {
		t.Fatal(err)
	}
	var res customer.LinkResult
	err = d.WithTx(context.Background(), func(tx *sqlx.Tx) error {
		res, err = s.Link(context.Background(), tx, ids, "test", "system", now)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestTransitiveResolution(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := &customer.Service{Store: customer.Store{Dialect: d.Dialect}, Hasher: pii.NewHasher([]byte("k"))}
		link(t, d, s, customer.Identifiers{VisitorID: "v1", OpenID: "o1"})
		link(t, d, s, customer.Identifiers{VisitorID: "v2"})
		res := link(t, d, s, customer.Identifiers{OpenID: "o1", CustomerID: "C1", Phone: "138 0013 8000"})
		if res.Merged() {
			t.Fatalf("o1 link with new ids should extend one cluster, absorbed %v", res.Absorbed)
		}
		res = link(t, d, s, customer.Identifiers{CustomerID: "C1", VisitorID: "v2"})
		if !res.Merged() {
			t.Fatal("linking v2 to C1 must merge two clusters")
		}
		cl, err := s.Resolve(context.Background(), d, customer.Identifier{Kind: customer.KindVisitor, Value: "v1"})
		if err != nil {
			t.Fatal(err)
		}
		if got := cl.Values(customer.KindVisitor); len(got) != 2 {
			t.Fatalf("visitor ids of v1's cluster = %v, want v1 and v2", got)
		}
		if cl.CustomerNo() != "C1" {
			t.Fatalf("customer no = %q", cl.CustomerNo())
		}
		h, _ := s.Hasher.Phone("+8613800138000")
		if !cl.HasPhoneHash(h) {
			t.Fatal("phone hash not in cluster")
		}
		for _, id := range cl.Identifiers {
			if id.Kind == customer.KindPhone && id.Value == "+8613800138000" {
				t.Fatal("phone stored in clear")
			}
		}
	})
}

func TestLinkTwoCustomersConflicts(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := &customer.Service{Store: customer.Store{Dialect: d.Dialect}, Hasher: pii.NewHasher([]byte("k"))}
		link(t, d, s, customer.Identifiers{CustomerID: "C1", OpenID: "o1"})
		link(t, d, s, customer.Identifiers{CustomerID: "C2", OpenID: "o2"})
		ids, _ := s.Normalize(customer.Identifiers{OpenID: "o1", UnionID: "u"}, "")
		ids2, _ := s.Normalize(customer.Identifiers{OpenID: "o2", UnionID: "u"}, "")
		err := d.WithTx(context.Background(), func(tx *sqlx.Tx) error {
			if _, err := s.Link(context.Background(), tx, ids, "t", "system", now); err != nil {
				return err
			}
			_, err := s.Link(context.Background(), tx, ids2, "t", "system", now)
			return err
		})
		if !errors.Is(err, customer.ErrIdentityConflict) || apperr.KindOf(err) != apperr.Conflict {
			t.Fatalf("err = %v, want identity conflict", err)
		}
	})
}

func TestNormalizeRejectsBadInput(t *testing.T) {
	s := &customer.Service{Hasher: pii.NewHasher([]byte("k"))}
	for name, in := range map[string]customer.Identifiers{
		"empty":     {},
		"bad phone": {Phone: "abc"},
		"control":   {OpenID: "a\x00b"},
		"token":     {ReferralToken: "x"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := s.Normalize(in, "customer."); apperr.KindOf(err) != apperr.Invalid {
				t.Fatalf("err = %v, want invalid", err)
			}
		})
	}
}
