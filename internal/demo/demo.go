// Package demo creates the demo bank: the org tree with 40 staff, managers,
// campaign managers, HQ admins and an auditor; an active campaign with its
// poster; a month of shares, clicks, touches, identities, conversions and
// reversals; the coffee perk programme with cardholders in every state; an
// incentive plan with earnings; lead rules with leads waiting. Seeding is
// idempotent: re-running it finds what exists and adds nothing twice.
package demo

import (
	"context"
	"io"

	"rmref/internal/app"
)

// Seed creates (or finds) the demo data and prints sign-in material to w.
func Seed(ctx context.Context, a *app.App, w io.Writer) error {
	org, err := seedOrg(ctx, a)
	if err != nil {
		return err
	}
	camp, err := seedCampaign(ctx, a, org)
	if err != nil {
		return err
	}
	if err := seedReferral(ctx, a, org, camp); err != nil {
		return err
	}
	if err := seedPerks(ctx, a, org); err != nil {
		return err
	}
	if err := seedIncentives(ctx, a, org); err != nil {
		return err
	}
	if err := seedLeads(ctx, a, org); err != nil {
		return err
	}
	if err := seedActivity(ctx, a, org, camp); err != nil {
		return err
	}
	return printCredentials(ctx, a, org, w)
}
