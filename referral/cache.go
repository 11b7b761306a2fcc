package referral

import (
	"sync"
	"time"
)

// target is what a share link resolves to: the code, its staff member and
// (for a campaign code) the campaign.
type target struct {
	code     Code
	staff    staffRow
	campaign *Campaign
}

// codeCache keeps resolved codes for a short time. It is bounded: when
// full, an arbitrary entry makes room (map iteration order is random).
type codeCache struct {
	mu  sync.Mutex
	ttl time.Duration
	max int
	m   map[string]cacheEntry
}

type cacheEntry struct {
	t   target
	exp time.Time
}

func newCodeCache(ttl time.Duration, max int) *codeCache {
	return &codeCache{ttl: ttl, max: max, m: make(map[string]cacheEntry)}
}

func (c *codeCache) get(code string, now time.Time) (target, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[code]
	if !ok || !now.Before(e.exp) {
		return target{}, false
	}
	return e.t, true
}

func (c *codeCache) put(code string, t target, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[code]; !ok && len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[code] = cacheEntry{t: t, exp: now.Add(c.ttl)}
}

func (c *codeCache) invalidate(code string) {
	c.mu.Lock()
	delete(c.m, code)
	c.mu.Unlock()
}
