package referral

import (
	"strings"
	"sync"
)

// botMarkers are lower-case User-Agent fragments of link-preview fetchers
// (chat apps unfurl a shared link before anyone taps it) and of crawlers.
// Real in-app browsers (MicroMessenger, Weibo, QQ) do not contain them.
var botMarkers = []string{
	// chat and social link previews
	"facebookexternalhit", "facebookcatalog", "twitterbot", "slackbot", "slack-imgproxy",
	"telegrambot", "discordbot", "whatsapp", "linkedinbot", "skypeuripreview", "pinterestbot",
	"redditbot", "embedly", "vkshare", "line-poker", "kakaotalk-scrap", "iframely",
	"wechatbot", "weixin-spider", "mpcrawler", "weibospider", "weibo-linkcard", "qq-url-manager",
	"qqbot", "tencenttraveler-preview", "dingtalkbot", "larkbot", "feishu-preview",
	// search engines and generic crawlers
	"googlebot", "bingbot", "bingpreview", "baiduspider", "yisouspider", "sogou web spider",
	"sogou inst spider", "360spider", "haosouspider", "bytespider", "petalbot", "yandexbot",
	"duckduckbot", "applebot", "semrushbot", "ahrefsbot", "mj12bot", "dotbot", "ccbot",
	"gptbot", "amazonbot", "headlesschrome", "phantomjs", "lighthouse", "crawler", "spider",
	"bot/", "bot;", "+http",
}

// IsBot classifies a request as automated: a HEAD request, a prefetch, an
// empty User-Agent, or one carrying a known preview-fetcher or crawler
// marker.
func IsBot(method, userAgent, purpose string) bool {
	if method == "HEAD" {
		return true
	}
	p := strings.ToLower(purpose)
	if strings.Contains(p, "prefetch") || strings.Contains(p, "preview") {
		return true
	}
	ua := strings.ToLower(strings.TrimSpace(userAgent))
	if ua == "" {
		return true
	}
	for _, m := range botMarkers {
		if strings.Contains(ua, m) {
			return true
		}
	}
	return false
}

// botUAs remembers IsBot's verdict on recent User-Agents (the same few
// browsers send most clicks); cleared when it grows past a bound.
var botUAs struct {
	sync.Mutex
	m map[string]bool
}

const maxBotUAs = 4096

// isBotCached is IsBot with the User-Agent verdict remembered.
func isBotCached(method, userAgent, purpose string) bool {
	if method == "HEAD" || len(userAgent) > 512 {
		return IsBot(method, userAgent, purpose)
	}
	p := strings.ToLower(purpose)
	if strings.Contains(p, "prefetch") || strings.Contains(p, "preview") {
		return true
	}
	botUAs.Lock()
	v, ok := botUAs.m[userAgent]
	botUAs.Unlock()
	if ok {
		return v
	}
	v = IsBot("GET", userAgent, "")
	botUAs.Lock()
	if botUAs.m == nil || len(botUAs.m) >= maxBotUAs {
		botUAs.m = map[string]bool{}
	}
	botUAs.m[userAgent] = v
	botUAs.Unlock()
	return v
}
