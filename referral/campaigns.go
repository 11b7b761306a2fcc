package referral

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/campaign"
)

// CampaignStore reads campaigns from the campaign package's store: the
// Campaigns that the application uses (tests may supply their own).
type CampaignStore struct{ DB sqlx.ExtContext }

// Campaign returns campaign id as referral sees it, or ErrNoCampaign.
func (cs CampaignStore) Campaign(ctx context.Context, id int64) (Campaign, error) {
	c, err := campaign.Get(ctx, cs.DB, id)
	if err != nil {
		if errors.Is(err, campaign.ErrNotFound) {
			return Campaign{}, ErrNoCampaign
		}
		return Campaign{}, err
	}
	return Campaign{ID: c.ID, Name: c.Name, Status: string(c.Status), Start: c.StartAt, End: c.EndAt,
		Location: c.Location(), LandingURL: c.LandingURL}, nil
}

// Covers reports whether the unit at unitPath lies in one of the campaign's
// participating subtrees.
func (cs CampaignStore) Covers(ctx context.Context, id int64, unitPath string) (bool, error) {
	c, err := campaign.Get(ctx, cs.DB, id)
	if err != nil {
		if errors.Is(err, campaign.ErrNotFound) {
			return false, ErrNoCampaign
		}
		return false, err
	}
	return c.IncludesUnitPath(unitPath), nil
}

// CampaignsOf returns the ids of the campaigns in which code c binds a
// customer at instant at: its own campaign for a campaign code, and for a
// general code every campaign live at that instant whose participating
// subtrees hold the staff member's unit. A code revoked by then binds in
// none.
func CampaignsOf(ctx context.Context, ext sqlx.ExtContext, c Code, at time.Time) ([]int64, error) {
	if !c.ActiveAt(at) {
		return []int64{}, nil
	}
	if !c.General() {
		return []int64{c.CampaignID}, nil
	}
	st, err := getStaff(ctx, ext, c.StaffID)
	if err != nil {
		return nil, err
	}
	camps, err := campaign.ForUnitPath(ctx, ext, st.UnitPath, at)
	if err != nil {
		return nil, fmt.Errorf("referral: campaigns of %s: %w", c.Code, err)
	}
	ids := make([]int64, len(camps))
	for i, cp := range camps {
		ids[i] = cp.ID
	}
	return ids, nil
}
