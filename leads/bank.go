package leads

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/attribution"
	"rmref/customer"
	"rmref/internal/db"
)

// TouchSource is the source of the touches leads record for attribution;
// contacts from other sources count towards the caps as external.
const TouchSource = "leads"

// Bank connects leads to the customer and attribution domains: visitor
// resolution, the protected RM, contacts other systems recorded, and the
// touches lead contacts become.
type Bank struct {
	Customers   *customer.Service
	Attribution *attribution.Service
}

// Hook sets svc's hooks to b.
func (b Bank) Hook(svc *Service) {
	svc.Identities, svc.Protection, svc.Contacts, svc.Touches = b, b, b, b
}

// CustomerForVisitor returns the bank customer id linked to a visitor id, or "".
func (b Bank) CustomerForVisitor(ctx context.Context, ext sqlx.ExtContext, visitorID string) (string, error) {
	cl, err := b.Customers.Resolve(ctx, ext, customer.Identifier{Kind: customer.KindVisitor, Value: visitorID})
	if errors.Is(err, customer.ErrUnknownIdentifier) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return cl.CustomerNo(), nil
}

// qProtector finds the staff member whose protection of the customer (in
// any campaign, for the campaign's protection days) covers at, latest first.
const qProtector = `SELECT a.protector_id FROM attributions a
	JOIN campaigns cp ON cp.id = a.campaign_id
	JOIN conversions c ON c.id = a.conversion_id
	JOIN customer_identifiers i ON i.id = c.identifier_id
	JOIN customer_identifiers k ON k.cluster_id = i.cluster_id AND k.kind = 'customer_id' AND k.value = ?
	WHERE a.protection_start = 1 AND a.protector_id > 0 AND a.occurred_at <= ? AND a.occurred_at + cp.protection_days * 86400000000 >= ?
	ORDER BY a.occurred_at DESC, a.conversion_id DESC LIMIT 1`

// ProtectedRM returns the staff id of the customer's protector at at, or 0.
func (b Bank) ProtectedRM(ctx context.Context, ext sqlx.ExtContext, customerID string, at time.Time) (int64, error) {
	var ids []int64
	us := db.Micros(at)
	if err := sqlx.SelectContext(ctx, ext, &ids, qProtector, customerID, us, us); err != nil {
		return 0, fmt.Errorf("leads: protected RM: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	return ids[0], nil
}

const qExternalContacts = `SELECT COUNT(*) FROM touches t
	JOIN customer_identifiers i ON i.id = t.identifier_id
	JOIN customer_identifiers k ON k.cluster_id = i.cluster_id AND k.kind = 'customer_id' AND k.value = ?
	WHERE t.source <> ? AND t.occurred_at >= ? AND t.occurred_at < ?`

// CountExternalContacts counts remote and offline touches of the customer
// in [from, to) that other systems recorded.
func (b Bank) CountExternalContacts(ctx context.Context, ext sqlx.ExtContext, customerID string, from, to time.Time) (int, error) {
	var n int
	if err := sqlx.GetContext(ctx, ext, &n, qExternalContacts, customerID, TouchSource, db.Micros(from), db.Micros(to)); err != nil {
		return 0, fmt.Errorf("leads: external contacts: %w", err)
	}
	return n, nil
}

// RecordLeadContact records a lead contact as a touch (staff, remote or
// offline) so that a later conversion credits whoever followed up.
func (b Bank) RecordLeadContact(ctx context.Context, ext sqlx.ExtContext, c Contact, employeeNo string) error {
	at := c.At
	in := attribution.TouchInput{Source: TouchSource, ExternalID: "contact-" + strconv.FormatInt(c.ID, 10),
		Customer: customer.Identifiers{CustomerID: c.CustomerID}, StaffEmployeeNo: employeeNo,
		Channel: "remote", Kind: touchKind(c.Channel), OccurredAt: &at}
	if !IsRemote(c.Channel) {
		in.Channel = "offline"
	}
	if _, _, err := b.Attribution.RecordTouchTx(ctx, ext, in, "system"); err != nil {
		return fmt.Errorf("leads: touch for contact %d: %w", c.ID, err)
	}
	return nil
}

func touchKind(channel string) string {
	switch channel {
	case ChannelCallCenter:
		return "call"
	case ChannelBranch:
		return "branch_visit"
	}
	return strings.TrimPrefix(channel, "remote:")
}
