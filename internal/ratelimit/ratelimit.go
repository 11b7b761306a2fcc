// Package ratelimit is an in-memory token-bucket limiter keyed by a string
// (a client IP, an account). Memory is bounded: past MaxKeys, the least
// recently used key is forgotten (which at worst gives that key a fresh
// bucket). It is per process; replicas each limit on their own.
package ratelimit

import (
	"container/list"
	"math"
	"sync"
	"time"

	"rmref/internal/clock"
)

// Limiter allows Burst requests at once per key, refilled at Rate per second.
type Limiter struct {
	rate    float64
	burst   float64
	maxKeys int
	clock   clock.Clock

	mu   sync.Mutex
	keys map[string]*list.Element
	lru  *list.List // front: most recently used
}

type bucket struct {
	key    string
	tokens float64
	last   time.Time
}

// New returns a limiter: rate tokens per second, burst tokens at most,
// remembering at most maxKeys keys.
func New(clk clock.Clock, rate float64, burst, maxKeys int) *Limiter {
	if maxKeys < 1 {
		maxKeys = 1
	}
	return &Limiter{rate: rate, burst: float64(burst), maxKeys: maxKeys, clock: clk,
		keys: make(map[string]*list.Element), lru: list.New()}
}

// Allow takes one token from key's bucket. When none is left it returns
// false and how long until one is (for Retry-After).
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, now)
	elapsed := now.Sub(b.last).Seconds()
	if elapsed > 0 {
		b.tokens = math.Min(l.burst, b.tokens+elapsed*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	if l.rate <= 0 {
		return false, time.Hour
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, wait
}

// bucket returns key's bucket (creating it full), marking it recently used.
func (l *Limiter) bucket(key string, now time.Time) *bucket {
	if e, ok := l.keys[key]; ok {
		l.lru.MoveToFront(e)
		return e.Value.(*bucket)
	}
	if l.lru.Len() >= l.maxKeys {
		old := l.lru.Back()
		l.lru.Remove(old)
		delete(l.keys, old.Value.(*bucket).key)
	}
	b := &bucket{key: key, tokens: l.burst, last: now}
	l.keys[key] = l.lru.PushFront(b)
	return b
}

// Len returns how many keys the limiter remembers.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}
