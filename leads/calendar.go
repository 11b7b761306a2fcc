package leads

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"rmref/internal/apperr"
)

// Day kinds of calendar overrides: a holiday on a usual workday, or a
// workday on a usual rest day (China moves workdays around holidays).
const (
	DayHoliday = "holiday"
	DayWorkday = "workday"
)

// DayOverride changes one date of a calendar.
type DayOverride struct {
	Date string `json:"date"`
	Kind string `json:"kind"`
}

// Calendar is the working time of a unit: weekdays (1 = Monday … 7 =
// Sunday) from Start to End (HH:MM) in Timezone, with date overrides. SLA
// deadlines count only working time on the calendar of the unit that
// works the lead.
type Calendar struct {
	UnitID    int64         `json:"unit_id,string"`
	Timezone  string        `json:"timezone"`
	Workdays  []int         `json:"workdays"`
	Start     string        `json:"start"`
	End       string        `json:"end"`
	Overrides []DayOverride `json:"overrides"`
	Inherited bool          `json:"inherited"`

	loc      *time.Location
	startMin int
	endMin   int
	days     map[string]string
}

// DefaultCalendar is used for units with no calendar of their own or of an
// ancestor: Monday to Friday, 09:00–18:00, Asia/Shanghai.
func DefaultCalendar() Calendar {
	c := Calendar{Timezone: "Asia/Shanghai", Workdays: []int{1, 2, 3, 4, 5}, Start: "09:00", End: "18:00", Overrides: []DayOverride{}}
	_ = c.compile()
	return c
}

// Validate checks the calendar's fields.
func (c *Calendar) Validate() error {
	var col apperr.Collector
	if _, err := time.LoadLocation(c.Timezone); err != nil || c.Timezone == "" {
		col.Add("timezone", "must be an IANA time zone")
	}
	col.Check(len(c.Workdays) == 0, "workdays", "at least one weekday (1 = Monday … 7 = Sunday)")
	for i, d := range c.Workdays {
		col.Check(d < 1 || d > 7, "workdays["+strconv.Itoa(i)+"]", "must be 1 (Monday) to 7 (Sunday)")
	}
	s, serr := parseHHMM(c.Start)
	e, eerr := parseHHMM(c.End)
	col.Check(serr != nil, "start", "must be HH:MM")
	col.Check(eerr != nil, "end", "must be HH:MM")
	col.Check(serr == nil && eerr == nil && e <= s, "end", "must be after start")
	for i, o := range c.Overrides {
		_, derr := time.Parse("2006-01-02", o.Date)
		col.Check(derr != nil, fmt.Sprintf("overrides[%d].date", i), "must be YYYY-MM-DD")
		col.Check(o.Kind != DayHoliday && o.Kind != DayWorkday, fmt.Sprintf("overrides[%d].kind", i), "must be holiday or workday")
	}
	if err := col.Err(); err != nil {
		return err
	}
	return c.compile()
}

func (c *Calendar) compile() error {
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return fmt.Errorf("leads: calendar zone: %w", err)
	}
	c.loc = loc
	c.startMin, _ = parseHHMM(c.Start)
	c.endMin, _ = parseHHMM(c.End)
	c.days = map[string]string{}
	for _, o := range c.Overrides {
		c.days[o.Date] = o.Kind
	}
	slices.Sort(c.Workdays)
	return nil
}

func parseHHMM(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || len(h) != 2 || len(m) != 2 || err1 != nil || err2 != nil || hh > 24 || mm > 59 || hh*60+mm > 24*60 {
		return 0, fmt.Errorf("bad time %q", s)
	}
	return hh*60 + mm, nil
}

// IsWorkday reports whether the date (in the calendar's zone) is a working day.
func (c Calendar) IsWorkday(day time.Time) bool {
	switch c.days[day.Format("2006-01-02")] {
	case DayHoliday:
		return false
	case DayWorkday:
		return true
	}
	wd := int(day.Weekday())
	if wd == 0 {
		wd = 7
	}
	return slices.Contains(c.Workdays, wd)
}

// AddWorking returns the instant d of working time after t. Time outside
// working hours does not count; a deadline that falls exactly at the end of
// a working day stays there.
func (c Calendar) AddWorking(t time.Time, d time.Duration) time.Time {
	cur := t.In(c.loc)
	for range 3700 { // ten years of days: a calendar with no working days at all is refused by Validate
		y, m, dd := cur.Date()
		dayStart := time.Date(y, m, dd, 0, 0, 0, 0, c.loc)
		if c.IsWorkday(dayStart) {
			ws := time.Date(y, m, dd, 0, c.startMin, 0, 0, c.loc)
			we := time.Date(y, m, dd, 0, c.endMin, 0, 0, c.loc)
			if cur.Before(ws) {
				cur = ws
			}
			if cur.Before(we) {
				if avail := we.Sub(cur); d <= avail {
					return cur.Add(d).UTC()
				} else {
					d -= avail
				}
			}
		}
		cur = time.Date(y, m, dd+1, 0, 0, 0, 0, c.loc)
	}
	return cur.UTC()
}
