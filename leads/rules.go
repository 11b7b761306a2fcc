package leads

import (
	"fmt"
	"regexp"
	"slices"
	"time"

	"rmref/customer"
	"rmref/internal/apperr"
)

// Trigger types.
const (
	TriggerDwell   = "dwell"   // one product_view with dwell ≥ DwellSeconds
	TriggerCount   = "count"   // Count events of EventKind within WindowMinutes
	TriggerAbandon = "abandon" // application_started not submitted within AbandonMinutes
)

// Event kinds the app's tracking sends.
const (
	EventProductView          = "product_view"
	EventApplicationStarted   = "application_started"
	EventApplicationSubmitted = "application_submitted"
	EventApplicationAbandoned = "application_abandoned"
	EventCalculatorUsed       = "calculator_used"
	EventPageView             = "page_view"
)

// Rule statuses.
const (
	RuleDraft    = "draft"
	RuleActive   = "active"
	RuleInactive = "inactive"
)

// Trigger says which behaviour makes a lead. Products (a product group)
// restricts it to those product codes; empty means any product.
type Trigger struct {
	Type           string   `json:"type"`
	EventKind      string   `json:"event_kind,omitempty"`
	Products       []string `json:"products"`
	DwellSeconds   int      `json:"dwell_seconds,omitempty"`
	Count          int      `json:"count,omitempty"`
	WindowMinutes  int      `json:"window_minutes,omitempty"`
	AbandonMinutes int      `json:"abandon_minutes,omitempty"`
}

// Filters select customers by the attributes CRM sends; an empty list
// matches everyone. A customer without attributes matches only rules with
// no filters.
type Filters struct {
	ValueTiers    []string `json:"value_tiers,omitempty"`
	AssetsBands   []string `json:"assets_bands,omitempty"`
	AgeBands      []string `json:"age_bands,omitempty"`
	HasProducts   []string `json:"has_products,omitempty"`
	LacksProducts []string `json:"lacks_products,omitempty"`
}

// Routing chooses the ordered route of channels: the route for the
// customer's value tier if there is one, else for their age band, else the
// default; the customer's stated channel preference (if it is one of the
// rule's channels) then goes first.
type Routing struct {
	Default []string            `json:"default"`
	ByValue map[string][]string `json:"by_value,omitempty"`
	ByAge   map[string][]string `json:"by_age,omitempty"`
}

// Definition is one version of a lead rule.
type Definition struct {
	Trigger           Trigger        `json:"trigger"`
	Filters           Filters        `json:"filters"`
	Routing           Routing        `json:"routing"`
	Priority          int            `json:"priority"`
	SLAHours          int            `json:"sla_hours"`
	SLAHoursByChannel map[string]int `json:"sla_hours_by_channel,omitempty"`
	CooldownDays      int            `json:"cooldown_days"`
}

// Rule is a versioned lead rule.
type Rule struct {
	ID         int64      `json:"id,string"`
	Code       string     `json:"code"`
	Name       string     `json:"name"`
	Status     string     `json:"status"`
	Version    int        `json:"version"`
	Definition Definition `json:"definition"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

var codeRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// validateRuleHead checks the code and name of a new rule.
func validateRuleHead(c *apperr.Collector, code, name string) {
	c.Check(!codeRE.MatchString(code), "code", "1 to 64 lowercase letters, digits, - or _")
	c.Check(name == "" || len(name) > 200, "name", "required, at most 200 characters")
}

// Validate checks the definition; field paths start at "definition".
func (d Definition) Validate() error {
	var c apperr.Collector
	d.Trigger.validate(&c)
	validateRoute(&c, "definition.routing.default", d.Routing.Default)
	for k, r := range d.Routing.ByValue {
		c.Check(!slices.Contains(customer.ValueTiers, k), "definition.routing.by_value."+k, "unknown value tier")
		validateRoute(&c, "definition.routing.by_value."+k, r)
	}
	for k, r := range d.Routing.ByAge {
		c.Check(!slices.Contains(customer.AgeBands, k), "definition.routing.by_age."+k, "unknown age band")
		validateRoute(&c, "definition.routing.by_age."+k, r)
	}
	for _, v := range d.Filters.ValueTiers {
		c.Check(!slices.Contains(customer.ValueTiers, v), "definition.filters.value_tiers", "unknown value tier "+v)
	}
	for _, v := range d.Filters.AgeBands {
		c.Check(!slices.Contains(customer.AgeBands, v), "definition.filters.age_bands", "unknown age band "+v)
	}
	c.Check(d.Priority < 0 || d.Priority > 1000, "definition.priority", "must be 0 to 1000")
	c.Check(d.SLAHours < 1 || d.SLAHours > 720, "definition.sla_hours", "must be 1 to 720 working hours")
	for ch, h := range d.SLAHoursByChannel {
		c.Check(!slices.Contains(AllChannels, ch), "definition.sla_hours_by_channel."+ch, "unknown channel")
		c.Check(h < 1 || h > 720, "definition.sla_hours_by_channel."+ch, "must be 1 to 720 working hours")
	}
	c.Check(d.CooldownDays < 0 || d.CooldownDays > 365, "definition.cooldown_days", "must be 0 to 365")
	return c.Err()
}

func (t Trigger) validate(c *apperr.Collector) {
	p := "definition.trigger."
	for i, pr := range t.Products {
		c.Check(pr == "" || len(pr) > 64, fmt.Sprintf("%sproducts[%d]", p, i), "a product code of 1 to 64 characters")
	}
	switch t.Type {
	case TriggerDwell:
		c.Check(t.DwellSeconds < 1 || t.DwellSeconds > 86400, p+"dwell_seconds", "must be 1 to 86400")
	case TriggerCount:
		c.Check(t.EventKind == "" || len(t.EventKind) > 64, p+"event_kind", "required")
		c.Check(t.Count < 1 || t.Count > 1000, p+"count", "must be 1 to 1000")
		c.Check(t.WindowMinutes < 1 || t.WindowMinutes > 30*24*60, p+"window_minutes", "must be 1 to 43200")
	case TriggerAbandon:
		c.Check(t.AbandonMinutes < 1 || t.AbandonMinutes > 30*24*60, p+"abandon_minutes", "must be 1 to 43200")
	default:
		c.Add(p+"type", "must be dwell, count or abandon")
	}
}

func validateRoute(c *apperr.Collector, field string, route []string) {
	if len(route) == 0 {
		c.Add(field, "at least one channel")
	}
	for i, ch := range route {
		c.Check(!slices.Contains(AllChannels, ch), fmt.Sprintf("%s[%d]", field, i), "unknown channel")
		c.Check(slices.Index(route, ch) != i, fmt.Sprintf("%s[%d]", field, i), "channel listed twice")
	}
}

// window is how long raw events must be kept for this trigger.
func (t Trigger) window() time.Duration {
	switch t.Type {
	case TriggerCount:
		return time.Duration(t.WindowMinutes) * time.Minute
	case TriggerAbandon:
		return time.Duration(t.AbandonMinutes) * time.Minute
	}
	return 0
}

func (t Trigger) matchesProduct(p string) bool {
	return len(t.Products) == 0 || slices.Contains(t.Products, p)
}

// Matches reports whether attrs pass the filters (has: attributes exist).
func (f Filters) Matches(a customer.Attributes, has bool) bool {
	if !has {
		return len(f.ValueTiers)+len(f.AssetsBands)+len(f.AgeBands)+len(f.HasProducts)+len(f.LacksProducts) == 0
	}
	in := func(list []string, v string) bool { return len(list) == 0 || slices.Contains(list, v) }
	if !in(f.ValueTiers, a.ValueTier) || !in(f.AssetsBands, a.AssetsBand) || !in(f.AgeBands, a.AgeBand) {
		return false
	}
	for _, p := range f.HasProducts {
		if !a.HasProduct(p) {
			return false
		}
	}
	for _, p := range f.LacksProducts {
		if a.HasProduct(p) {
			return false
		}
	}
	return true
}

// Route returns the ordered channels for a customer: stated preference
// first, then the route of their value tier, else of their age band, else
// the default.
func (r Routing) Route(a customer.Attributes) []string {
	base := r.Default
	if v, ok := r.ByValue[a.ValueTier]; ok && a.ValueTier != "" {
		base = v
	} else if v, ok := r.ByAge[a.AgeBand]; ok && a.AgeBand != "" {
		base = v
	}
	route := slices.Clone(base)
	if p := a.PreferredChannel; p != "" && slices.Contains(r.channels(), p) {
		route = slices.DeleteFunc(route, func(c string) bool { return c == p })
		route = append([]string{p}, route...)
	}
	return route
}

// channels lists every channel the rule routes to.
func (r Routing) channels() []string {
	all := slices.Clone(r.Default)
	for _, v := range r.ByValue {
		all = append(all, v...)
	}
	for _, v := range r.ByAge {
		all = append(all, v...)
	}
	return all
}

// slaHours returns the SLA of the rule on channel.
func (d Definition) slaHours(channel string) int {
	if h, ok := d.SLAHoursByChannel[channel]; ok {
		return h
	}
	return d.SLAHours
}
