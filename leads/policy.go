package leads

import (
	"time"

	"rmref/internal/apperr"
)

// Settings are the bank-wide lead settings (hq_admin): frequency caps per
// customer across all channels, quiet hours of remote channels, the lease
// of claimed leads, how long raw events are kept, the default pool and the
// default number of open leads a staff member may hold.
type Settings struct {
	WeekCap           int              `json:"week_cap"`
	MonthCap          int              `json:"month_cap"`
	QuietStart        string           `json:"quiet_start"`
	QuietEnd          string           `json:"quiet_end"`
	LeaseSeconds      int              `json:"lease_seconds"`
	RetentionHours    int              `json:"retention_hours"`
	DefaultPoolUnitID int64            `json:"default_pool_unit_id,string,omitempty"`
	DefaultCapacity   int              `json:"default_capacity"`
	ChannelUnits      map[string]int64 `json:"channel_units"`

	quietStartMin, quietEndMin int
}

// DefaultSettings are used until an administrator changes them.
func DefaultSettings() Settings {
	s := Settings{WeekCap: 2, MonthCap: 4, QuietStart: "21:00", QuietEnd: "09:00", LeaseSeconds: 300,
		RetentionHours: 168, DefaultCapacity: 30, ChannelUnits: map[string]int64{}}
	s.quietStartMin, s.quietEndMin = 21*60, 9*60
	return s
}

// Validate checks the settings.
func (s *Settings) Validate() error {
	var c apperr.Collector
	c.Check(s.WeekCap < 0, "week_cap", "must be ≥ 0 (0: no cap)")
	c.Check(s.MonthCap < 0, "month_cap", "must be ≥ 0 (0: no cap)")
	qs, err1 := parseHHMM(s.QuietStart)
	qe, err2 := parseHHMM(s.QuietEnd)
	c.Check(err1 != nil, "quiet_start", "must be HH:MM")
	c.Check(err2 != nil, "quiet_end", "must be HH:MM")
	c.Check(s.LeaseSeconds < 10 || s.LeaseSeconds > 86400, "lease_seconds", "must be 10 to 86400")
	c.Check(s.RetentionHours < 1 || s.RetentionHours > 24*400, "retention_hours", "must be 1 to 9600")
	c.Check(s.DefaultCapacity < 1 || s.DefaultCapacity > 10000, "default_capacity", "must be 1 to 10000")
	for ch := range s.ChannelUnits {
		c.Check(!IsRemote(ch), "channel_units."+ch, "must be a remote channel")
	}
	s.quietStartMin, s.quietEndMin = qs, qe
	return c.Err()
}

// quietUntil returns when quiet hours that contain t end (in loc), and
// whether t is inside quiet hours. Quiet hours may span midnight
// (21:00–09:00): 21:00 is quiet, 20:59 is not, 09:00 is not.
func (s Settings) quietUntil(t time.Time, loc *time.Location) (time.Time, bool) {
	lt := t.In(loc)
	m := lt.Hour()*60 + lt.Minute()
	qs, qe := s.quietStartMin, s.quietEndMin
	if qs == qe {
		return time.Time{}, false
	}
	y, mo, d := lt.Date()
	end := time.Date(y, mo, d, 0, qe, 0, 0, loc)
	switch {
	case qs > qe && m >= qs: // evening part of an overnight window
		return time.Date(y, mo, d+1, 0, qe, 0, 0, loc).UTC(), true
	case qs > qe && m < qe: // morning part
		return end.UTC(), true
	case qs < qe && m >= qs && m < qe:
		return end.UTC(), true
	}
	return time.Time{}, false
}

// weekRange returns the natural week (Monday 00:00 to the next Monday) in
// loc that contains t, and monthRange the calendar month.
func weekRange(t time.Time, loc *time.Location) (time.Time, time.Time) {
	lt := t.In(loc)
	back := (int(lt.Weekday()) + 6) % 7
	y, m, d := lt.Date()
	start := time.Date(y, m, d-back, 0, 0, 0, 0, loc)
	return start.UTC(), start.AddDate(0, 0, 7).UTC()
}

func monthRange(t time.Time, loc *time.Location) (time.Time, time.Time) {
	lt := t.In(loc)
	start := time.Date(lt.Year(), lt.Month(), 1, 0, 0, 0, 0, loc)
	return start.UTC(), start.AddDate(0, 1, 0).UTC()
}

// cooldownEnd returns the end of a cool-down of days days starting on the
// day of closedAt (day 1) in loc: just before 00:00 of day days+1. Zero
// days means no cool-down (closedAt itself).
func cooldownEnd(closedAt time.Time, days int, loc *time.Location) time.Time {
	if days <= 0 {
		return closedAt
	}
	lt := closedAt.In(loc)
	y, m, d := lt.Date()
	return time.Date(y, m, d+days, 0, 0, 0, 0, loc).Add(-time.Microsecond).UTC()
}
