// Package clock provides the one injected clock that every service uses, so
// that demos and replay tests can run the whole system at another time.
package clock

import (
	"sync"
	"time"
)

// Clock tells the current instant.
type Clock interface {
	Now() time.Time
}

// System is the wall clock.
type System struct{}

// Now returns the wall-clock time in UTC.
func (System) Now() time.Time { return time.Now().UTC() }

// Sim is a simulation clock: it starts at a given instant and advances in
// real time from there (RMREF_NOW / --now).
type Sim struct {
	start time.Time
	base  time.Time
}

// NewSim returns a clock that reads start now and advances in real time.
func NewSim(start time.Time) *Sim { return &Sim{start: start.UTC(), base: time.Now()} }

// Now returns the simulated instant.
func (s *Sim) Now() time.Time { return s.start.Add(time.Since(s.base)).UTC() }

// Manual is a clock for tests: it stands still until Set or Advance.
type Manual struct {
	mu sync.Mutex
	t  time.Time
}

// NewManual returns a manual clock reading t.
func NewManual(t time.Time) *Manual { return &Manual{t: t.UTC()} }

// Now returns the clock's instant.
func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.t
}

// Set moves the clock to t.
func (m *Manual) Set(t time.Time) {
	m.mu.Lock()
	m.t = t.UTC()
	m.mu.Unlock()
}

// Advance moves the clock forward by d.
func (m *Manual) Advance(d time.Duration) {
	m.mu.Lock()
	m.t = m.t.Add(d)
	m.mu.Unlock()
}
