package referral_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"rmref/referral"
)

func TestTokenRoundTripAndTamper(t *testing.T) {
	key := []byte("test-hash-key-0123456789")
	want := referral.Token{ClickID: "AAECAwQFBgcICQoL", Code: newCode(t), CampaignID: 1234567,
		Channel: referral.ChannelQRPoster, At: time.Date(2026, 11, 2, 3, 4, 5, 0, time.UTC), Counted: true}
	tok, err := referral.SignToken(key, want)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) > 80 {
		t.Errorf("token is %d characters, want compact (≤ 80)", len(tok))
	}
	got, err := referral.VerifyToken(key, tok)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("round trip (-want +got):\n%s", d)
	}
	if _, err := referral.VerifyToken([]byte("another-key-0123456789"), tok); !errors.Is(err, referral.ErrBadToken) {
		t.Errorf("other key: %v, want ErrBadToken", err)
	}
	for i := range tok {
		b := []byte(tok)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		if _, err := referral.VerifyToken(key, string(b)); err == nil {
			t.Fatalf("tampered token (byte %d) accepted", i)
		}
	}
	for _, bad := range []string{"", "x", tok[:len(tok)-1], tok + "A", "!!!!"} {
		if _, err := referral.VerifyToken(key, bad); !errors.Is(err, referral.ErrBadToken) {
			t.Errorf("VerifyToken(%q) = %v", bad, err)
		}
	}
}

func TestIsBot(t *testing.T) {
	const iphoneWeChat = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.44(0x18002c2f) NetType/WIFI Language/zh_CN"
	cases := []struct {
		name, method, ua, purpose string
		want                      bool
	}{
		{"wechat in-app browser", "GET", iphoneWeChat, "", false},
		{"weibo in-app browser", "GET", "Mozilla/5.0 (Linux; Android 13) Mobile Safari/537.36 Weibo (Xiaomi__weibo__13.6.0__android__android13)", "", false},
		{"desktop chrome", "GET", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36", "", false},
		{"HEAD", "HEAD", iphoneWeChat, "", true},
		{"prefetch", "GET", iphoneWeChat, "prefetch", true},
		{"empty UA", "GET", "", "", true},
		{"facebook", "GET", "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "", true},
		{"twitter", "GET", "Twitterbot/1.0", "", true},
		{"slack", "GET", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "", true},
		{"telegram", "GET", "TelegramBot (like TwitterBot)", "", true},
		{"baidu", "GET", "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)", "", true},
		{"googlebot", "GET", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "", true},
		{"bytespider", "GET", "Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 (compatible; Bytespider; spider-feedback@bytedance.com)", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := referral.IsBot(tc.method, tc.ua, tc.purpose); got != tc.want {
				t.Fatalf("IsBot = %v, want %v", got, tc.want)
			}
		})
	}
}
