package ratelimit_test

import (
	"fmt"
	"testing"
	"time"

	"rmref/internal/clock"
	"rmref/internal/ratelimit"
)

func TestBurstThenRefill(t *testing.T) {
	clk := clock.NewManual(time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC))
	l := ratelimit.New(clk, 2, 3, 100) // 2/s, burst 3
	for i := range 3 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("request %d refused within the burst", i)
		}
	}
	ok, wait := l.Allow("a")
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("4th request: ok=%v wait=%s, want refused with 500ms", ok, wait)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("another key shares the bucket")
	}
	clk.Advance(500 * time.Millisecond)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("not refilled after 500ms")
	}
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("refilled more than one token")
	}
	clk.Advance(time.Hour)
	for i := range 3 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("after an hour, request %d refused: bucket above burst?", i)
		}
	}
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("bucket grew past the burst")
	}
}

func TestBoundedMemory(t *testing.T) {
	clk := clock.NewManual(time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC))
	l := ratelimit.New(clk, 1, 1, 10)
	for i := range 1000 {
		l.Allow(fmt.Sprint("ip", i))
	}
	if n := l.Len(); n != 10 {
		t.Fatalf("remembers %d keys, want 10", n)
	}
	// the most recent key is still limited
	if ok, _ := l.Allow("ip999"); ok {
		t.Fatal("recent key forgotten")
	}
}
