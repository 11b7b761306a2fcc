package referral

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"rmref/internal/pii"
)

// The redirect's cached and pooled helpers must give exactly what the
// plain functions give.

func TestTokenSignerMatchesSignToken(t *testing.T) {
	key := []byte("test-hash-key-0123456789")
	s := newTokenSigner(key)
	for i := range 50 {
		tok := Token{ClickID: timedID(clickIDLen, time.Unix(int64(1_790_000_000+i), 0)), Code: "7K3M9QX2",
			CampaignID: int64(i * 977), Channel: Channels[i%len(Channels)], At: time.Unix(int64(1_790_000_000+i*61), 0), Counted: i%3 == 0}
		want, err := SignToken(key, tok)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.sign(tok)
		if err != nil || got != want {
			t.Fatalf("sign(%+v) = %q, %v; SignToken = %q", tok, got, err, want)
		}
		if _, err := VerifyToken(key, got); err != nil {
			t.Fatalf("VerifyToken(sign()) = %v", err)
		}
	}
	if _, err := s.sign(Token{ClickID: "short", Code: "7K3M9QX2", Channel: ChannelSMS}); err != ErrBadToken {
		t.Fatalf("bad click id: %v", err)
	}
}

func TestKeyedHasherMatchesPII(t *testing.T) {
	key := []byte("test-hash-key-0123456789")
	want, got := pii.NewHasher(key), newKeyedHasher(key)
	for _, v := range []string{"", "203.0.113.9", "2001:db8::1", strings.Repeat("x", 300), "中文"} {
		for _, kind := range []string{"ip", "phone"} {
			if g, w := got.Hash(kind, v), want.Hash(kind, v); g != w {
				t.Fatalf("Hash(%q, %q) = %s, pii gives %s", kind, v, g, w)
			}
		}
	}
}

func TestBotCacheMatchesIsBot(t *testing.T) {
	uas := []string{"", "  ", "Mozilla/5.0 (iPhone) MicroMessenger/8.0.44", "Twitterbot/1.0", "curl/8.0 +http://x",
		"Mozilla/5.0 (compatible; Googlebot/2.1)", strings.Repeat("a", 600), strings.Repeat("a", 600) + "spider"}
	for round := range 2 { // the second round answers from the cache
		for _, ua := range uas {
			for _, m := range []string{"GET", "HEAD", "POST"} {
				for _, p := range []string{"", "prefetch", "Prefetch;anonymous-client-ip", "preview", "other"} {
					if got, want := isBotCached(m, ua, p), IsBot(m, ua, p); got != want {
						t.Fatalf("round %d: isBotCached(%s, %q, %q) = %v, IsBot = %v", round, m, ua, p, got, want)
					}
				}
			}
		}
	}
}

func TestLandingTemplateMatchesURLEncoding(t *testing.T) {
	tok := "AQHq3mJ0c2sVz8kF1m9QAbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AB"
	var c landingCache
	for _, landing := range []string{
		"https://m.example-bank.cn/join",
		"https://m.example-bank.cn/card?from=rm",
		"https://m.example-bank.cn/card?z=1&a=2&from=rm",
		"https://m.example-bank.cn/card?rmref_t=old&x=1",
		"https://m.example-bank.cn/card?x=a+b&y=%E4%B8%AD&x=2#section",
		"https://m.example-bank.cn/路径?名=值",
		"https://m.example-bank.cn/card?slot=" + tokenSlot,
		"https://m.example-bank.cn/" + tokenSlot + "/x",
	} {
		want, err := withToken(landing, tok)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			lt, err := c.get(landing)
			if err != nil {
				t.Fatal(err)
			}
			if got := lt.with(tok); got != want {
				t.Fatalf("landing %q: %q, want %q", landing, got, want)
			}
		}
	}
	if _, err := c.get("http://[::1"); err == nil {
		t.Fatal("a malformed landing URL gave no error")
	}
	for i := range maxLandings + 10 { // bounded
		_, _ = c.get(fmt.Sprintf("https://m.example-bank.cn/%d", i))
	}
	if len(c.m) > maxLandings {
		t.Fatalf("%d landing templates kept", len(c.m))
	}
}
