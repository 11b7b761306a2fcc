package campaign

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"unicode/utf8"

	"rmref/internal/apperr"
)

// Bounds of the editable fields.
const (
	MaxNameRunes        = 200
	MaxDescriptionRunes = 2000
	MaxLandingURLBytes  = 2048
	MaxConversionRules  = 32
	MaxSettingDays      = 365
)

// Validate records every problem with c in ec, naming JSON fields.
// landingHosts is the landing URL host allow-list.
func (c Campaign) Validate(ec *apperr.Collector, landingHosts []string) {
	ec.Check(!ValidCode(c.Code), "code", "must be 2–64 of a–z, 0–9, '-' and '_', starting with a letter or digit")
	n := utf8.RuneCountInString(strings.TrimSpace(c.Name))
	ec.Check(n == 0 || n > MaxNameRunes, "name", fmt.Sprintf("must be 1 to %d characters", MaxNameRunes))
	ec.Check(utf8.RuneCountInString(c.Description) > MaxDescriptionRunes, "description",
		fmt.Sprintf("must be at most %d characters", MaxDescriptionRunes))
	ec.Check(c.StartAt.IsZero(), "start_at", "is required")
	ec.Check(c.EndAt.IsZero(), "end_at", "is required")
	ec.Check(!c.EndAt.IsZero() && !c.EndAt.After(c.StartAt), "end_at", "must be after start_at")
	if _, err := LoadLocation(c.Timezone); err != nil {
		ec.Add("timezone", "must be an IANA time zone such as Asia/Shanghai")
	}
	if err := CheckLandingURL(c.LandingURL, landingHosts); err != nil {
		ec.Add("landing_url", err.Error())
	}
	c.validateConversions(ec)
	c.validateSettings(ec)
}

func (c Campaign) validateConversions(ec *apperr.Collector) {
	if len(c.Conversions) == 0 || len(c.Conversions) > MaxConversionRules {
		ec.Add("conversion_types", fmt.Sprintf("must list 1 to %d conversion types", MaxConversionRules))
	}
	seen := map[string]bool{}
	for i, r := range c.Conversions {
		f := fmt.Sprintf("conversion_types[%d]", i)
		ec.Check(!ValidConversionType(r.Type), f+".type", "must be a snake_case conversion type such as account_opened")
		ec.Check(seen[r.Type], f+".type", "is listed twice")
		ec.Check(r.MinAmountFen < 0, f+".min_amount_fen", "must be ≥ 0")
		seen[r.Type] = true
	}
}

func (c Campaign) validateSettings(ec *apperr.Collector) {
	a := c.Attribution
	days := func(field string, v, lo int) {
		ec.Check(v < lo || v > MaxSettingDays, field, fmt.Sprintf("must be from %d to %d", lo, MaxSettingDays))
	}
	days("attribution.lookback_days", a.LookbackDays, 1)
	ec.Check(!ValidModel(a.Model), "attribution.model", "must be one of last_touch, first_touch, linear, time_decay, position_based")
	days("attribution.half_life_days", a.HalfLifeDays, 1)
	days("attribution.protection_days", a.ProtectionDays, 0)
	days("holding_days", c.HoldingDays, 0)
	ec.Check(!c.FreezeAt.IsZero() && c.FreezeAt.Before(c.EndAt), "freeze_at", "must not be before end_at")
}

// CheckLandingURL accepts only an absolute https URL whose host is exactly
// one of allowed (case-insensitive), so that share links can never redirect
// elsewhere: no other scheme, no user info, no port, no IP literal, no
// backslash, whitespace, control or percent-encoded characters in the
// authority, and no scheme-relative form.
func CheckLandingURL(raw string, allowed []string) error {
	if raw == "" {
		return fmt.Errorf("is required")
	}
	if len(raw) > MaxLandingURLBytes {
		return fmt.Errorf("must be at most %d bytes", MaxLandingURLBytes)
	}
	if strings.ContainsAny(raw, "\\ \t\r\n") || strings.ContainsFunc(raw, isControl) || !utf8.ValidString(raw) {
		return fmt.Errorf("must not contain backslashes, spaces or control characters")
	}
	if !strings.HasPrefix(raw, "https://") {
		return fmt.Errorf("must be an https:// URL")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Opaque != "" {
		return fmt.Errorf("must be an absolute https:// URL")
	}
	if u.User != nil {
		return fmt.Errorf("must not contain user info")
	}
	return checkHost(u, allowed)
}

func checkHost(u *url.URL, allowed []string) error {
	host := u.Hostname()
	if u.Port() != "" || strings.HasSuffix(u.Host, ":") {
		return fmt.Errorf("must not name a port")
	}
	if host == "" || strings.ContainsAny(u.Host, "%@[]") || net.ParseIP(host) != nil {
		return fmt.Errorf("must name an allowed host")
	}
	for _, r := range host {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return fmt.Errorf("host must be plain ASCII letters, digits, '-' and '.'")
		}
	}
	for _, a := range allowed {
		if strings.EqualFold(host, strings.TrimSuffix(a, ".")) {
			return nil
		}
	}
	return fmt.Errorf("host %q is not on the landing host allow-list", host)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
