package org_test

import (
	"context"
	"testing"
	"time"

	"rmref/internal/apperr"
	"rmref/internal/auth"
	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/org"
)

func wantKind(t *testing.T, err error, kind apperr.Kind, slug string) {
	t.Helper()
	ae, ok := apperr.As(err)
	if !ok || ae.Kind != kind || (slug != "" && ae.Slug() != slug) {
		t.Errorf("err = %v, want %v %s", err, kind, slug)
	}
}

func TestUnitAndTransferRules(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		tr := newTree(t, d)
		svc := tr.svc
		mk := func(kind org.Kind, code string, parent int64) error {
			_, err := svc.CreateUnit(ctx, hqAdmin, org.NewUnit{Kind: kind, Code: code, Name: code, ParentID: parent})
			return err
		}
		t.Run("tree shape", func(t *testing.T) {
			wantKind(t, mk(org.KindHQ, "HQ2", 0), apperr.Conflict, "second_root")
			wantKind(t, mk(org.KindTeam, "TT", tr.t1.ID), apperr.Invalid, "")
			wantKind(t, mk(org.KindSubbranch, "SBX", tr.r1.ID), apperr.Invalid, "")
			wantKind(t, mk(org.KindRegion, "R1", tr.hq.ID), apperr.Conflict, "duplicate_code")
			wantKind(t, mk(org.Kind("galaxy"), "G", tr.hq.ID), apperr.Invalid, "")
			if err := mk(org.KindTeam, "CC", tr.hq.ID); err != nil {
				t.Errorf("call-centre team under hq: %v", err)
			}
			if err := mk(org.KindBranch, "BX", tr.hq.ID); err != nil {
				t.Errorf("branch directly under hq: %v", err)
			}
			_, err := svc.MoveUnit(ctx, hqAdmin, tr.r1.ID, tr.t1.ID, nil)
			wantKind(t, err, apperr.Conflict, "move_into_subtree")
		})
		t.Run("transfers", func(t *testing.T) {
			st := tr.staff(t, "E1", tr.t1)
			past := t0.Add(-time.Hour)
			_, err := svc.TransferStaff(ctx, hqAdmin, st.ID, org.Transfer{UnitID: tr.t2.ID, EffectiveAt: &past})
			wantKind(t, err, apperr.Conflict, "before_current_period")
			future := tr.clk.Now().Add(time.Hour)
			_, err = svc.TransferStaff(ctx, hqAdmin, st.ID, org.Transfer{UnitID: tr.t2.ID, EffectiveAt: &future})
			wantKind(t, err, apperr.Conflict, "future_time")
			left := org.StatusLeft
			if _, err := svc.UpdateStaff(ctx, hqAdmin, st.ID, org.StaffUpdate{Status: &left}); err != nil {
				t.Fatal(err)
			}
			_, err = svc.TransferStaff(ctx, hqAdmin, st.ID, org.Transfer{UnitID: tr.t2.ID})
			wantKind(t, err, apperr.Conflict, "staff_left")
			hist, err := svc.StaffHistory(ctx, hqAdmin, st.ID)
			if err != nil || len(hist) != 1 {
				t.Errorf("history after refused transfers: %v %v", hist, err)
			}
		})
		t.Run("manager writes", func(t *testing.T) {
			mgr := auth.Principal{StaffID: 99, EmployeeNo: "M", Roles: []auth.Role{auth.RoleManager}, UnitID: tr.b1.ID, UnitPath: tr.b1.Path}
			_, err := svc.CreateStaff(ctx, mgr, org.NewStaff{EmployeeNo: "E2", Name: "新人", UnitID: tr.t1.ID})
			if err != nil {
				t.Errorf("manager creates staff in subtree: %v", err)
			}
			_, err = svc.CreateStaff(ctx, mgr, org.NewStaff{EmployeeNo: "E3", Name: "新人", UnitID: tr.t1.ID, Roles: []auth.Role{auth.RoleManager}})
			wantKind(t, err, apperr.Forbidden, "")
			_, err = svc.CreateStaff(ctx, mgr, org.NewStaff{EmployeeNo: "E4", Name: "新人", UnitID: tr.t2.ID})
			wantKind(t, err, apperr.NotFound, "")
		})
	})
}
