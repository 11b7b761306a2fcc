package rewards

import "time"

// Day counting for perk programmes (DOMAIN.md): the day of the starting
// event is day 1, and a window of N days ends at the end of day N, just
// before 00:00 of day N+1, in the programme's time zone. Every function
// here returns exclusive ends: an instant t is inside the window when
// start <= t < end.

// PerkDayStart returns 00:00 of the day holding t in loc.
func PerkDayStart(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// PerkDate returns the YYYY-MM-DD of the day holding t in loc.
func PerkDate(t time.Time, loc *time.Location) string {
	return t.In(loc).Format(time.DateOnly)
}

// PerkWindowEnd returns the exclusive end of a window of days days whose
// day 1 holds start: 00:00 of day days+1 in loc.
func PerkWindowEnd(start time.Time, days int, loc *time.Location) time.Time {
	y, m, d := start.In(loc).Date()
	return time.Date(y, m, d+days, 0, 0, 0, 0, loc)
}

// PerkLastDay returns the date of the last day of a window of days days
// starting on the day holding start (the day before PerkWindowEnd).
func PerkLastDay(start time.Time, days int, loc *time.Location) string {
	y, m, d := start.In(loc).Date()
	return time.Date(y, m, d+days-1, 0, 0, 0, 0, loc).Format(time.DateOnly)
}

// PerkWeekStart returns 00:00 of the Monday of the natural week
// (Monday–Sunday) holding t in loc.
func PerkWeekStart(t time.Time, loc *time.Location) time.Time {
	day := PerkDayStart(t, loc)
	back := (int(day.Weekday()) + 6) % 7 // Monday 0 … Sunday 6
	y, m, d := day.Date()
	return time.Date(y, m, d-back, 0, 0, 0, 0, loc)
}

// PerkMonthStart returns 00:00 of the 1st of the calendar month holding t in loc.
func PerkMonthStart(t time.Time, loc *time.Location) time.Time {
	y, m, _ := t.In(loc).Date()
	return time.Date(y, m, 1, 0, 0, 0, 0, loc)
}

// PerkPeriodStart returns the start of the natural period ("week" or
// "month") holding t in loc.
func PerkPeriodStart(period string, t time.Time, loc *time.Location) time.Time {
	if period == PeriodMonth {
		return PerkMonthStart(t, loc)
	}
	return PerkWeekStart(t, loc)
}

// PerkYearStart returns the start of the year holding t: the calendar
// year in loc, or, when programmeStart is not zero, the programme year
// (anniversaries of programmeStart's day in loc).
func PerkYearStart(t time.Time, loc *time.Location, programmeStart time.Time) time.Time {
	lt := t.In(loc)
	if programmeStart.IsZero() {
		return time.Date(lt.Year(), 1, 1, 0, 0, 0, 0, loc)
	}
	ps := programmeStart.In(loc)
	start := time.Date(lt.Year(), ps.Month(), ps.Day(), 0, 0, 0, 0, loc)
	if start.After(lt) {
		start = time.Date(lt.Year()-1, ps.Month(), ps.Day(), 0, 0, 0, 0, loc)
	}
	return start
}

// PerkActivations returns when each of n coupons claimed at claimed takes
// effect when at most perMonth take effect per calendar month: the first
// perMonth at the claim itself, the next perMonth at 00:00 of the 1st of
// the following month, and so on. perMonth <= 0 means no cap.
func PerkActivations(claimed time.Time, n, perMonth int, loc *time.Location) []time.Time {
	out := make([]time.Time, n)
	if perMonth <= 0 {
		perMonth = n
	}
	y, m, _ := claimed.In(loc).Date()
	for i := range out {
		tranche := i / perMonth
		if tranche == 0 {
			out[i] = claimed
			continue
		}
		out[i] = time.Date(y, m+time.Month(tranche), 1, 0, 0, 0, 0, loc)
	}
	return out
}
