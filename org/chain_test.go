package org_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"rmref/internal/auth"
	"rmref/internal/clock"
	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/internal/pii"
	"rmref/org"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var hqAdmin = auth.Principal{StaffID: 1, EmployeeNo: "ROOT", Roles: []auth.Role{auth.RoleHQAdmin}}

// tree is a small bank: hq > r1 > b1 > t1, hq > r2 > b2 > sb2 > t2.
type tree struct {
	svc                     *org.Service
	clk                     *clock.Manual
	hq, r1, r2, b1, b2, sb2 org.Unit
	t1, t2                  org.Unit
}

func newTree(t *testing.T, d *db.DB) tree {
	t.Helper()
	clk := clock.NewManual(t0)
	tr := tree{svc: org.NewService(d, clk, pii.NewHasher([]byte("k")), time.UTC), clk: clk}
	mk := func(kind org.Kind, code string, parent org.Unit) org.Unit {
		t.Helper()
		u, err := tr.svc.CreateUnit(context.Background(), hqAdmin, org.NewUnit{Kind: kind, Code: code, Name: code, ParentID: parent.ID})
		if err != nil {
			t.Fatalf("create %s: %v", code, err)
		}
		return u
	}
	tr.hq = mk(org.KindHQ, "HQ", org.Unit{})
	tr.r1, tr.r2 = mk(org.KindRegion, "R1", tr.hq), mk(org.KindRegion, "R2", tr.hq)
	tr.b1, tr.b2 = mk(org.KindBranch, "B1", tr.r1), mk(org.KindBranch, "B2", tr.r2)
	tr.sb2 = mk(org.KindSubbranch, "SB2", tr.b2)
	tr.t1, tr.t2 = mk(org.KindTeam, "T1", tr.b1), mk(org.KindTeam, "T2", tr.sb2)
	return tr
}

func (tr tree) staff(t *testing.T, no string, u org.Unit, roles ...auth.Role) org.Staff {
	t.Helper()
	st, err := tr.svc.CreateStaff(context.Background(), hqAdmin, org.NewStaff{EmployeeNo: no, Name: "员工" + no, UnitID: u.ID, Roles: roles, Phone: "13800138000"})
	if err != nil {
		t.Fatalf("create staff %s: %v", no, err)
	}
	return st
}

func TestChainAtAfterTransferAndMove(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		tr := newTree(t, d)
		st := tr.staff(t, "E1", tr.t1)
		before := tr.clk.Now().Add(time.Hour)

		tr.clk.Advance(24 * time.Hour)
		transferAt := tr.clk.Now()
		if _, err := tr.svc.TransferStaff(ctx, hqAdmin, st.ID, org.Transfer{UnitID: tr.t2.ID}); err != nil {
			t.Fatal(err)
		}
		tr.clk.Advance(24 * time.Hour)
		moveAt := tr.clk.Now()
		// Move branch B2 (with SB2 and T2) from region R2 to region R1.
		if _, err := tr.svc.MoveUnit(ctx, hqAdmin, tr.b2.ID, tr.r1.ID, nil); err != nil {
			t.Fatal(err)
		}
		s := tr.svc.Store
		cases := []struct {
			name string
			at   time.Time
			want org.Chain
		}{
			{"before transfer", before, org.Chain{StaffID: st.ID, UnitID: tr.t1.ID, Path: tr.t1.Path, TeamID: tr.t1.ID, BranchID: tr.b1.ID, RegionID: tr.r1.ID, HQID: tr.hq.ID}},
			{"after transfer, before move", transferAt.Add(time.Microsecond), org.Chain{StaffID: st.ID, UnitID: tr.t2.ID, Path: tr.t2.Path, TeamID: tr.t2.ID, SubbranchID: tr.sb2.ID, BranchID: tr.b2.ID, RegionID: tr.r2.ID, HQID: tr.hq.ID}},
			{"just before move", moveAt.Add(-time.Microsecond), org.Chain{StaffID: st.ID, UnitID: tr.t2.ID, Path: tr.t2.Path, TeamID: tr.t2.ID, SubbranchID: tr.sb2.ID, BranchID: tr.b2.ID, RegionID: tr.r2.ID, HQID: tr.hq.ID}},
			{"after move", moveAt, org.Chain{StaffID: st.ID, UnitID: tr.t2.ID, Path: tr.r1.Path + itoa(tr.b2.ID) + "/" + itoa(tr.sb2.ID) + "/" + itoa(tr.t2.ID) + "/", TeamID: tr.t2.ID, SubbranchID: tr.sb2.ID, BranchID: tr.b2.ID, RegionID: tr.r1.ID, HQID: tr.hq.ID}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				got, err := s.ChainAt(ctx, d, st.ID, c.at)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(c.want, got); diff != "" {
					t.Errorf("ChainAt (-want +got):\n%s", diff)
				}
				bulk, err := s.ChainsAt(ctx, d, []int64{st.ID}, c.at)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(c.want, bulk[st.ID]); diff != "" {
					t.Errorf("ChainsAt (-want +got):\n%s", diff)
				}
				pl, err := s.PlacementsAt(ctx, d, c.at)
				if err != nil {
					t.Fatal(err)
				}
				placed, ok := pl.Chain(st.ID)
				if diff := cmp.Diff(c.want, placed); !ok || diff != "" {
					t.Errorf("PlacementsAt (placed %v; -want +got):\n%s", ok, diff)
				}
			})
		}
		if _, err := s.ChainAt(ctx, d, st.ID, t0.Add(-time.Hour)); err != org.ErrNoAssignment {
			t.Errorf("ChainAt before hire: err = %v, want ErrNoAssignment", err)
		}
		t2, err := tr.svc.GetUnit(ctx, hqAdmin, tr.t2.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := cases[3].want.Path; t2.Path != want || t2.Depth != 4 {
			t.Errorf("moved team path %q depth %d, want %q depth 4", t2.Path, t2.Depth, want)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestPlacementsAtSkipsLeavers: a staff member who left is not placed from
// the moment of leaving; their colleague still is.
func TestPlacementsAtSkipsLeavers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		tr := newTree(t, d)
		stay, leave := tr.staff(t, "E1", tr.t1), tr.staff(t, "E2", tr.t2)
		tr.clk.Advance(time.Hour)
		leftAt := tr.clk.Now()
		left := org.StatusLeft
		if _, err := tr.svc.UpdateStaff(ctx, hqAdmin, leave.ID, org.StaffUpdate{Status: &left, LeftAt: &leftAt}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			at     time.Time
			placed []int64
		}{{leftAt.Add(-time.Microsecond), []int64{stay.ID, leave.ID}}, {leftAt, []int64{stay.ID}}} {
			pl, err := tr.svc.Store.PlacementsAt(ctx, d, c.at)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, id := range []int64{stay.ID, leave.ID} {
				if _, ok := pl.Chain(id); ok {
					got = append(got, id)
				}
			}
			if diff := cmp.Diff(c.placed, got); diff != "" {
				t.Errorf("placed at %v (-want +got):\n%s", c.at, diff)
			}
			if ch, _ := pl.Chain(stay.ID); ch.TeamID != tr.t1.ID || ch.StaffID != stay.ID {
				t.Errorf("chain of the one who stayed: %+v", ch)
			}
		}
	})
}
