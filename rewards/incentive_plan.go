package rewards

import (
	"context"
	"strconv"

	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/audit"
	"rmref/internal/auth"
)

// canProposePlan: plans are proposed by campaign managers.
func canProposePlan(p auth.Principal) bool { return p.IsStaff() && p.Has(auth.RoleCampaignManager) }

// canDecidePlan: another campaign manager or an hq_admin approves.
func canDecidePlan(p auth.Principal) bool {
	return p.IsStaff() && p.HasAny(auth.RoleCampaignManager, auth.RoleHQAdmin)
}

// canReadPlans: campaign managers, HQ and auditors read plans and summaries.
func canReadPlans(p auth.Principal) bool {
	return p.HasAny(auth.RoleCampaignManager, auth.RoleHQAdmin, auth.RoleAuditor)
}

// ProposePlan records a new, proposed version of a campaign's plan.
func (s *Incentives) ProposePlan(ctx context.Context, p auth.Principal, in IncentivePlanInput) (IncentivePlan, error) {
	if !canProposePlan(p) {
		return IncentivePlan{}, apperr.Forbiddenf("only a campaign manager proposes incentive plans")
	}
	if err := in.Validate(); err != nil {
		return IncentivePlan{}, err
	}
	var out IncentivePlan
	err := s.db.WithTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := s.st.campaign(ctx, tx, in.CampaignID); err != nil {
			return apperr.Field("campaign_id", "no such campaign")
		}
		now := s.clock.Now()
		id, err := s.st.insertPlan(ctx, tx, in, p.StaffID, now)
		if err != nil {
			return err
		}
		if out, err = s.st.plan(ctx, tx, id); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{At: now, Actor: p.Actor(), Action: "incentive_plan.propose",
			EntityType: "incentive_plan", EntityID: strconv.FormatInt(id, 10), Detail: out})
	})
	return out, err
}

// ApprovePlan approves a proposed version: from now on it governs the
// campaign's new credits, and its budget replaces the campaign's (what is
// already used stays used). The proposer may not approve it.
func (s *Incentives) ApprovePlan(ctx context.Context, p auth.Principal, id int64) (IncentivePlan, error) {
	return s.decidePlan(ctx, p, id, PlanApproved)
}

// RejectPlan rejects a proposed version (not by its proposer either).
func (s *Incentives) RejectPlan(ctx context.Context, p auth.Principal, id int64) (IncentivePlan, error) {
	return s.decidePlan(ctx, p, id, PlanRejected)
}

func (s *Incentives) decidePlan(ctx context.Context, p auth.Principal, id int64, status string) (IncentivePlan, error) {
	if !canReadPlans(p) {
		return IncentivePlan{}, ErrIncentivePlanNotFound
	}
	if !canDecidePlan(p) {
		return IncentivePlan{}, apperr.Forbiddenf("only another campaign manager or an hq_admin decides incentive plans")
	}
	var out IncentivePlan
	err := s.db.WithTx(ctx, func(tx *sqlx.Tx) error {
		plan, err := s.st.plan(ctx, tx, id)
		if err != nil {
			return err
		}
		if plan.ProposedBy == p.StaffID {
			return ErrIncentiveSelfApproval
		}
		now := s.clock.Now()
		if err := s.st.decidePlan(ctx, tx, id, status, p.StaffID, now); err != nil {
			return err
		}
		if status == PlanApproved {
			budget := int64(-1)
			if plan.BudgetFen != nil {
				budget = *plan.BudgetFen
			}
			if err := s.st.setBudget(ctx, tx, plan.CampaignID, budget, now); err != nil {
				return err
			}
		}
		if out, err = s.st.plan(ctx, tx, id); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{At: now, Actor: p.Actor(), Action: "incentive_plan." + status[:len(status)-1],
			EntityType: "incentive_plan", EntityID: strconv.FormatInt(id, 10), Detail: map[string]any{"campaign_id": plan.CampaignID, "version": plan.Version}})
	})
	return out, err
}

// Plan returns one version.
func (s *Incentives) Plan(ctx context.Context, p auth.Principal, id int64) (IncentivePlan, error) {
	if !canReadPlans(p) {
		return IncentivePlan{}, ErrIncentivePlanNotFound
	}
	return s.st.plan(ctx, s.db, id)
}

// Plans lists a campaign's versions, newest first.
func (s *Incentives) Plans(ctx context.Context, p auth.Principal, campaignID int64) ([]IncentivePlan, error) {
	if !canReadPlans(p) {
		return nil, apperr.Forbiddenf("only campaign managers, HQ and auditors read incentive plans")
	}
	return s.st.plans(ctx, s.db, `WHERE campaign_id = ? ORDER BY version DESC`, campaignID)
}
