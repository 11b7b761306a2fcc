package leads

import (
	"sort"
	"time"
)

// dryFire is one instant a trigger would have fired.
type dryFire struct {
	customer, product string
	at                time.Time
}

// dryRun replays events through one trigger in memory.
type dryRun struct {
	def    Definition
	fired  []dryFire
	counts map[string][]time.Time // customer|product|kind -> times (count trigger)
	starts []EventIn
	submit map[string][]time.Time // customer|product -> submit times
}

func newDryRun(def Definition) *dryRun {
	return &dryRun{def: def, counts: map[string][]time.Time{}, submit: map[string][]time.Time{}}
}

func (d *dryRun) add(e EventIn) {
	t := d.def.Trigger
	if e.Kind == EventApplicationSubmitted {
		d.submit[e.CustomerID+"\x1f"+e.Product] = append(d.submit[e.CustomerID+"\x1f"+e.Product], e.OccurredAt)
	}
	if !t.matchesProduct(e.Product) {
		return
	}
	switch t.Type {
	case TriggerDwell:
		if e.Kind == EventProductView && e.DwellSeconds >= t.DwellSeconds {
			d.fired = append(d.fired, dryFire{e.CustomerID, e.Product, e.OccurredAt})
		}
	case TriggerCount:
		if e.Kind == t.EventKind {
			k := e.CustomerID + "\x1f" + e.Product
			d.counts[k] = append(d.counts[k], e.OccurredAt)
		}
	case TriggerAbandon:
		if e.Kind == EventApplicationStarted {
			d.starts = append(d.starts, e)
		}
	}
}

// fires returns every firing in time order (abandonments due by now).
func (d *dryRun) fires(now time.Time) []dryFire {
	t := d.def.Trigger
	w := time.Duration(t.WindowMinutes) * time.Minute
	for k, times := range d.counts {
		cust, prod := splitKey(k)
		for i := 0; i+t.Count-1 < len(times); i++ {
			if last := times[i+t.Count-1]; last.Sub(times[i]) <= w {
				d.fired = append(d.fired, dryFire{cust, prod, last})
			}
		}
	}
	m := time.Duration(t.AbandonMinutes) * time.Minute
	for _, s := range d.starts {
		due := s.OccurredAt.Add(m)
		if due.After(now) || submittedBetween(d.submit[s.CustomerID+"\x1f"+s.Product], s.OccurredAt, due) {
			continue
		}
		d.fired = append(d.fired, dryFire{s.CustomerID, s.Product, due})
	}
	sort.SliceStable(d.fired, func(i, j int) bool { return d.fired[i].at.Before(d.fired[j].at) })
	return d.fired
}

func submittedBetween(ts []time.Time, from, to time.Time) bool {
	for _, t := range ts {
		if !t.Before(from) && !t.After(to) {
			return true
		}
	}
	return false
}

func splitKey(k string) (string, string) {
	for i := 0; i < len(k); i++ {
		if k[i] == 0x1f {
			return k[:i], k[i+1:]
		}
	}
	return k, ""
}
