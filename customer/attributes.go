package customer

// Attributes: what upstream systems (CRM) say about a customer, used by
// lead rules (filters, routing) and the contact policy (consent, caps).

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/audit"
	"rmref/internal/db"
)

// Value tiers, lowest first.
const (
	TierMass     = "mass"
	TierAffluent = "affluent"
	TierHNW      = "hnw"
	TierPrivate  = "private"
)

// ValueTiers lists the value tiers, lowest first.
var ValueTiers = []string{TierMass, TierAffluent, TierHNW, TierPrivate}

// AgeBands lists the age bands, youngest first; the last two are 60+.
var AgeBands = []string{"under_30", "30_44", "45_59", "60_74", "75_plus"}

// ContactChannels lists the contact channels a customer may prefer or consent to.
var ContactChannels = []string{"remote:call_center", "remote:sms", "remote:wecom", "offline:branch"}

// MaxAttributesBatch is the largest batch POST /customers/attributes takes.
const MaxAttributesBatch = 1000

// AttrDefaultTimezone is the zone of a customer whose CRM record names none.
const AttrDefaultTimezone = "Asia/Shanghai"

// Consent records whether the customer agreed to be contacted per channel.
type Consent struct {
	CallCenter bool `json:"call_center"`
	SMS        bool `json:"sms"`
	WeCom      bool `json:"wecom"`
	Branch     bool `json:"branch"`
}

// Allows reports whether the consent covers channel.
func (c Consent) Allows(channel string) bool {
	switch channel {
	case "remote:call_center":
		return c.CallCenter
	case "remote:sms":
		return c.SMS
	case "remote:wecom":
		return c.WeCom
	case "offline:branch":
		return c.Branch
	}
	return false
}

// Attributes are what CRM tells rmref about a customer, keyed by the bank's
// customer id. Consent is per channel; DoNotContact overrides it.
type Attributes struct {
	CustomerID       string    `json:"customer_id"`
	ValueTier        string    `json:"value_tier"`
	AssetsBand       string    `json:"assets_band"`
	AgeBand          string    `json:"age_band"`
	PreferredChannel string    `json:"preferred_channel"`
	Consent          Consent   `json:"consent"`
	DoNotContact     bool      `json:"do_not_contact"`
	HomeBranch       string    `json:"home_branch"`
	Timezone         string    `json:"timezone"`
	Products         []string  `json:"products"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// Senior reports whether the customer's age band is 60 or over.
func (a Attributes) Senior() bool { return a.AgeBand == "60_74" || a.AgeBand == "75_plus" }

// Location returns the customer's time zone (AttrDefaultTimezone when unset).
func (a Attributes) Location() *time.Location {
	name := a.Timezone
	if name == "" {
		name = AttrDefaultTimezone
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		loc, _ = time.LoadLocation(AttrDefaultTimezone)
	}
	return loc
}

// HasProduct reports whether the customer holds product code p.
func (a Attributes) HasProduct(p string) bool { return slices.Contains(a.Products, p) }

// Normalize fills defaults (timezone) and sorts the product list.
func (a *Attributes) Normalize() {
	a.CustomerID = strings.TrimSpace(a.CustomerID)
	if a.Timezone == "" {
		a.Timezone = AttrDefaultTimezone
	}
	slices.Sort(a.Products)
	a.Products = slices.Compact(a.Products)
}

// Validate checks a into c; prefix is the JSON path of a (e.g. "items[3]").
func (a Attributes) Validate(c *apperr.Collector, prefix string) {
	f := func(name string) string { return prefix + "." + name }
	c.Check(a.CustomerID == "" || len(a.CustomerID) > 64, f("customer_id"), "required, at most 64 characters")
	c.Check(a.ValueTier != "" && !slices.Contains(ValueTiers, a.ValueTier), f("value_tier"), "must be one of "+strings.Join(ValueTiers, ", "))
	c.Check(a.AgeBand != "" && !slices.Contains(AgeBands, a.AgeBand), f("age_band"), "must be one of "+strings.Join(AgeBands, ", "))
	c.Check(a.PreferredChannel != "" && !slices.Contains(ContactChannels, a.PreferredChannel), f("preferred_channel"), "must be one of "+strings.Join(ContactChannels, ", "))
	c.Check(len(a.AssetsBand) > 32, f("assets_band"), "at most 32 characters")
	c.Check(len(a.HomeBranch) > 64, f("home_branch"), "at most 64 characters")
	if _, err := time.LoadLocation(a.Timezone); err != nil || len(a.Timezone) > 64 {
		c.Add(f("timezone"), "must be an IANA time zone")
	}
	for i, p := range a.Products {
		c.Check(p == "" || len(p) > 64 || strings.Contains(p, ","), f("products["+strconv.Itoa(i)+"]"), "a product code of 1 to 64 characters without commas")
	}
}

const attrCols = `customer_id, value_tier, assets_band, age_band, preferred_channel, consent_call, consent_sms,
	consent_wecom, consent_branch, do_not_contact, home_branch, timezone, products, created_at, updated_at`

type attrRow struct {
	CustomerID       string `db:"customer_id"`
	ValueTier        string `db:"value_tier"`
	AssetsBand       string `db:"assets_band"`
	AgeBand          string `db:"age_band"`
	PreferredChannel string `db:"preferred_channel"`
	ConsentCall      bool   `db:"consent_call"`
	ConsentSMS       bool   `db:"consent_sms"`
	ConsentWeCom     bool   `db:"consent_wecom"`
	ConsentBranch    bool   `db:"consent_branch"`
	DoNotContact     bool   `db:"do_not_contact"`
	HomeBranch       string `db:"home_branch"`
	Timezone         string `db:"timezone"`
	Products         string `db:"products"`
	CreatedAt        int64  `db:"created_at"`
	UpdatedAt        int64  `db:"updated_at"`
}

func (r attrRow) attributes() Attributes {
	a := Attributes{CustomerID: r.CustomerID, ValueTier: r.ValueTier, AssetsBand: r.AssetsBand, AgeBand: r.AgeBand,
		PreferredChannel: r.PreferredChannel, DoNotContact: r.DoNotContact, HomeBranch: r.HomeBranch, Timezone: r.Timezone,
		Consent:   Consent{CallCenter: r.ConsentCall, SMS: r.ConsentSMS, WeCom: r.ConsentWeCom, Branch: r.ConsentBranch},
		UpdatedAt: db.FromMicros(r.UpdatedAt), Products: []string{}}
	if r.Products != "" {
		a.Products = strings.Split(r.Products, ",")
	}
	return a
}

// UpsertAttributes stores each item (already validated and normalised),
// replacing what was stored for its customer; sending the same batch twice
// leaves the same rows. It returns how many rows changed.
func UpsertAttributes(ctx context.Context, ext sqlx.ExtContext, d db.Dialect, items []Attributes, now time.Time) (int, error) {
	changed := 0
	for _, a := range items {
		old, err := GetAttributes(ctx, ext, a.CustomerID)
		if err == nil && sameAttributes(old, a) {
			continue
		}
		if err != nil && apperr.KindOf(err) != apperr.NotFound {
			return changed, err
		}
		if err := upsertAttr(ctx, ext, d, a, now); err != nil {
			return changed, err
		}
		changed++
	}
	return changed, nil
}

func sameAttributes(x, y Attributes) bool {
	x.UpdatedAt, y.UpdatedAt = time.Time{}, time.Time{}
	return x.CustomerID == y.CustomerID && x.ValueTier == y.ValueTier && x.AssetsBand == y.AssetsBand &&
		x.AgeBand == y.AgeBand && x.PreferredChannel == y.PreferredChannel && x.Consent == y.Consent &&
		x.DoNotContact == y.DoNotContact && x.HomeBranch == y.HomeBranch && x.Timezone == y.Timezone &&
		slices.Equal(x.Products, y.Products)
}

func upsertAttr(ctx context.Context, ext sqlx.ExtContext, d db.Dialect, a Attributes, now time.Time) error {
	q := `INSERT INTO customer_attributes (` + attrCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ` +
		d.Upsert([]string{"customer_id"}, []string{"value_tier", "assets_band", "age_band", "preferred_channel", "consent_call",
			"consent_sms", "consent_wecom", "consent_branch", "do_not_contact", "home_branch", "timezone", "products", "updated_at"})
	us := db.Micros(now)
	_, err := ext.ExecContext(ctx, q, a.CustomerID, a.ValueTier, a.AssetsBand, a.AgeBand, a.PreferredChannel,
		a.Consent.CallCenter, a.Consent.SMS, a.Consent.WeCom, a.Consent.Branch, a.DoNotContact, a.HomeBranch,
		a.Timezone, strings.Join(a.Products, ","), us, us)
	if err != nil {
		return fmt.Errorf("customer: upsert attributes %s: %w", a.CustomerID, err)
	}
	return nil
}

// GetAttributes returns the stored attributes of a customer (NotFound when
// CRM has sent none).
func GetAttributes(ctx context.Context, ext sqlx.ExtContext, customerID string) (Attributes, error) {
	var r attrRow
	err := sqlx.GetContext(ctx, ext, &r, `SELECT `+attrCols+` FROM customer_attributes WHERE customer_id = ?`, customerID)
	if errors.Is(err, db.ErrNoRows) {
		return Attributes{}, apperr.NotFoundf("no attributes for customer %s", customerID)
	}
	if err != nil {
		return Attributes{}, fmt.Errorf("customer: get attributes %s: %w", customerID, err)
	}
	return r.attributes(), nil
}

// SaveAttributes validates a CRM batch and upserts it in one transaction
// with an audit entry; a bad item refuses the whole batch (nothing stored).
func SaveAttributes(ctx context.Context, d *db.DB, actor string, items []Attributes, now time.Time) (int, error) {
	var c apperr.Collector
	c.Check(len(items) == 0, "items", "at least one item")
	c.Check(len(items) > MaxAttributesBatch, "items", "at most "+strconv.Itoa(MaxAttributesBatch)+" items")
	seen := map[string]int{}
	for i := range items {
		items[i].Normalize()
		p := "items[" + strconv.Itoa(i) + "]"
		items[i].Validate(&c, p)
		if j, dup := seen[items[i].CustomerID]; dup {
			c.Add(p+".customer_id", "repeats items["+strconv.Itoa(j)+"]")
		}
		seen[items[i].CustomerID] = i
	}
	if err := c.Err(); err != nil {
		return 0, err
	}
	changed := 0
	err := d.WithTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if changed, err = UpsertAttributes(ctx, tx, d.Dialect, items, now); err != nil || changed == 0 {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{At: now, Actor: actor, Action: "customer_attributes.upsert", EntityType: "customer_attributes",
			EntityID: "batch", Detail: map[string]int{"items": len(items), "changed": changed}})
	})
	return changed, err
}

// AttributesOf returns the stored attributes of several customers by id
// (customers without attributes are absent), in chunks of 500 ids.
func AttributesOf(ctx context.Context, ext sqlx.ExtContext, ids []string) (map[string]Attributes, error) {
	out := make(map[string]Attributes, len(ids))
	for start := 0; start < len(ids); start += 500 {
		q, args, err := sqlx.In(`SELECT `+attrCols+` FROM customer_attributes WHERE customer_id IN (?)`, ids[start:min(start+500, len(ids))])
		if err != nil {
			return nil, fmt.Errorf("customer: attributes of: %w", err)
		}
		var rows []attrRow
		if err := sqlx.SelectContext(ctx, ext, &rows, q, args...); err != nil {
			return nil, fmt.Errorf("customer: attributes of: %w", err)
		}
		for _, r := range rows {
			out[r.CustomerID] = r.attributes()
		}
	}
	return out, nil
}
