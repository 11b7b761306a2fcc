package rewards_test

import (
	"testing"
	"time"

	"rmref/rewards"
)

var shanghai = mustLoc("Asia/Shanghai")

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// sh returns an instant given in Shanghai wall time.
func sh(y int, m time.Month, d, hh, mm, ss int) time.Time {
	return time.Date(y, m, d, hh, mm, ss, 0, shanghai)
}

func TestPerkWindowDays(t *testing.T) {
	tests := []struct {
		name    string
		start   time.Time
		days    int
		lastDay string
		endUTC  string
		inside  time.Time
		outside time.Time
	}{
		{"60 days after approval on 10 January", sh(2026, 1, 10, 15, 0, 0), 60, "2026-03-10", "2026-03-10T16:00:00Z",
			sh(2026, 3, 10, 23, 59, 59), sh(2026, 3, 11, 0, 0, 0)},
		{"30-day claim window from 20 January", sh(2026, 1, 20, 9, 0, 0), 30, "2026-02-18", "2026-02-18T16:00:00Z",
			sh(2026, 2, 18, 23, 59, 59), sh(2026, 2, 19, 0, 0, 0)},
		{"7-day weekly window from a Sunday", sh(2026, 1, 11, 22, 0, 0), 7, "2026-01-17", "2026-01-17T16:00:00Z",
			sh(2026, 1, 17, 23, 59, 59), sh(2026, 1, 18, 0, 0, 0)},
		{"validity across a leap February", sh(2028, 2, 1, 0, 0, 0), 30, "2028-03-01", "2028-03-01T16:00:00Z",
			sh(2028, 3, 1, 12, 0, 0), sh(2028, 3, 2, 0, 0, 0)},
		{"one day: the start day only", sh(2026, 5, 5, 23, 0, 0), 1, "2026-05-05", "2026-05-05T16:00:00Z",
			sh(2026, 5, 5, 23, 59, 59), sh(2026, 5, 6, 0, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			end := rewards.PerkWindowEnd(tt.start, tt.days, shanghai)
			if got := rewards.PerkLastDay(tt.start, tt.days, shanghai); got != tt.lastDay {
				t.Errorf("last day = %s, want %s", got, tt.lastDay)
			}
			if got := end.UTC().Format(time.RFC3339); got != tt.endUTC {
				t.Errorf("end = %s, want %s", got, tt.endUTC)
			}
			if !tt.inside.Before(end) || tt.outside.Before(end) {
				t.Errorf("%v should be inside and %v outside the window ending %v", tt.inside, tt.outside, end)
			}
		})
	}
}

func TestPerkWeekStart(t *testing.T) {
	tests := []struct {
		name string
		at   time.Time
		want string
	}{
		{"Thursday 1 January 2026 belongs to the week of Monday 29 December 2025", sh(2026, 1, 1, 12, 0, 0), "2025-12-29"},
		{"Sunday 1 March is the last day of the week of 23 February", sh(2026, 3, 1, 23, 59, 59), "2026-02-23"},
		{"Monday 2 March starts its own week", sh(2026, 3, 2, 0, 0, 0), "2026-03-02"},
		{"Thursday 31 December 2026 is in the week of 28 December", sh(2026, 12, 31, 8, 0, 0), "2026-12-28"},
		{"Sunday 23:59:59 Shanghai sent in UTC", time.Date(2026, 1, 11, 15, 59, 59, 0, time.UTC), "2026-01-05"},
		{"Monday 00:00 Shanghai sent in UTC (still Sunday in UTC)", time.Date(2026, 1, 11, 16, 0, 0, 0, time.UTC), "2026-01-12"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rewards.PerkDate(rewards.PerkWeekStart(tt.at, shanghai), shanghai); got != tt.want {
				t.Errorf("week start = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestPerkActivations(t *testing.T) {
	tests := []struct {
		name    string
		claimed time.Time
		want    []string // effective day of each coupon
		valid   []string // last valid day of each coupon (30 days)
	}{
		{"claim on the 15th: 3 that day, 3 on the 1st of next month", sh(2026, 1, 15, 10, 0, 0),
			[]string{"2026-01-15", "2026-01-15", "2026-01-15", "2026-02-01", "2026-02-01", "2026-02-01"},
			[]string{"2026-02-13", "2026-02-13", "2026-02-13", "2026-03-02", "2026-03-02", "2026-03-02"}},
		{"claim on 30 January", sh(2026, 1, 30, 20, 0, 0),
			[]string{"2026-01-30", "2026-01-30", "2026-01-30", "2026-02-01", "2026-02-01", "2026-02-01"},
			[]string{"2026-02-28", "2026-02-28", "2026-02-28", "2026-03-02", "2026-03-02", "2026-03-02"}},
		{"claim in December rolls into January", sh(2026, 12, 15, 9, 0, 0),
			[]string{"2026-12-15", "2026-12-15", "2026-12-15", "2027-01-01", "2027-01-01", "2027-01-01"},
			[]string{"2027-01-13", "2027-01-13", "2027-01-13", "2027-01-30", "2027-01-30", "2027-01-30"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acts := rewards.PerkActivations(tt.claimed, 6, 3, shanghai)
			for i, a := range acts {
				if got := rewards.PerkDate(a, shanghai); got != tt.want[i] {
					t.Errorf("coupon %d effective %s, want %s", i+1, got, tt.want[i])
				}
				if got := rewards.PerkLastDay(a, 30, shanghai); got != tt.valid[i] {
					t.Errorf("coupon %d valid until %s, want %s", i+1, got, tt.valid[i])
				}
			}
			if !acts[0].Equal(tt.claimed) {
				t.Errorf("first tranche takes effect at %v, want the claim %v", acts[0], tt.claimed)
			}
		})
	}
	if got := rewards.PerkActivations(sh(2026, 1, 15, 0, 0, 0), 7, 3, shanghai); rewards.PerkDate(got[6], shanghai) != "2026-03-01" {
		t.Errorf("7th coupon of 3 a month takes effect %v, want 2026-03-01", got[6])
	}
}

func TestPerkYearStart(t *testing.T) {
	progStart := sh(2026, 4, 1, 0, 0, 0)
	tests := []struct {
		name  string
		at    time.Time
		start time.Time
		want  string
	}{
		{"calendar year", sh(2026, 12, 31, 23, 59, 59), time.Time{}, "2026-01-01"},
		{"calendar year, new year's day", sh(2027, 1, 1, 0, 0, 0), time.Time{}, "2027-01-01"},
		{"programme year, day before the anniversary", sh(2027, 3, 31, 23, 0, 0), progStart, "2026-04-01"},
		{"programme year, the anniversary", sh(2027, 4, 1, 0, 0, 0), progStart, "2027-04-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rewards.PerkDate(rewards.PerkYearStart(tt.at, shanghai, tt.start), shanghai); got != tt.want {
				t.Errorf("year start = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestCoffeeTemplateValid(t *testing.T) {
	cfg := rewards.CoffeeTemplate("luckin_cobrand", "2026-01-01", "2026-12-31")
	if err := cfg.Validate(); err != nil {
		t.Fatalf("template invalid: %v", err)
	}
	bad := cfg
	bad.Timezone = "Mars/Olympus"
	bad.Rules = append([]rewards.PerkRule(nil), cfg.Rules...)
	bad.Rules[1].Period = "fortnight"
	err := bad.Validate()
	if err == nil {
		t.Fatal("want an error")
	}
	for _, f := range []string{"timezone", "rules[1].period"} {
		if !containsField(err, f) {
			t.Errorf("error %v does not name %s", err, f)
		}
	}
}
