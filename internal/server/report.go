package server

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"rmref/attribution"
	"rmref/campaign"
	"rmref/internal/apperr"
	"rmref/internal/auth"
)

// reportHandlers serves leaderboards and reports.
type reportHandlers struct {
	s      *Server
	boards *attribution.Boards
	camps  *campaign.Service
}

func (s *Server) registerReportRoutes(v1 *gin.RouterGroup) {
	h := reportHandlers{s: s, boards: attribution.NewBoards(s.DB, s.Clock), camps: campaign.NewService(s.DB, s.Clock, s.Config.LandingHosts)}
	// Load the running campaigns' boards in the background, so that the
	// first request after a restart finds them in memory.
	warm, stop := context.WithCancel(context.Background())
	s.OnShutdown(func(context.Context) error { stop(); return nil })
	s.OnServe(func() {
		start := time.Now()
		if err := h.boards.Warm(warm); err != nil && warm.Err() == nil {
			s.Logger.Warn("leaderboards not preloaded", "err", err)
			return
		}
		s.Logger.Debug("leaderboards preloaded", "took", time.Since(start))
	})
	st := v1.Group("", s.requireStaff())
	st.GET("/campaigns/:id/leaderboard", h.board)
	st.GET("/campaigns/:id/leaderboard/me", h.me)
	st.GET("/campaigns/:id/funnel", h.funnel)
	hq := st.Group("", s.requireRole(auth.RoleHQAdmin, auth.RoleAuditor, auth.RoleCampaignManager, auth.RoleManager))
	hq.GET("/campaigns/:id/channels", h.channels)
	hq.GET("/campaigns/:id/paths", h.paths)
	st.GET("/customers/:id/journey", h.journey)
	st.GET("/me/conversions", h.myConversions)
	st.GET("/overview", s.requireRole(auth.RoleHQAdmin, auth.RoleAuditor, auth.RoleManager), h.overview)
}

// boardQuery reads a board's query parameters.
func boardQuery(c *gin.Context) (attribution.BoardQuery, error) {
	q := attribution.BoardQuery{Level: c.Query("level"), Metric: c.Query("metric"), Period: c.Query("period"),
		Date: c.Query("date"), From: c.Query("from"), To: c.Query("to")}
	ec := &apperr.Collector{}
	if v := c.Query("per_head"); v != "" {
		b, err := strconv.ParseBool(v)
		ec.Check(err != nil, "per_head", "must be true or false")
		q.PerHead = b
	}
	if v := c.Query("scope"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		ec.Check(err != nil || id <= 0, "scope", "must be a unit id")
		q.ScopeUnitID = id
	}
	if v := c.Query("min_visitors"); v != "" {
		n, err := strconv.Atoi(v)
		ec.Check(err != nil || n < 1, "min_visitors", "must be a positive integer")
		q.MinVisitors = n
	}
	return q, ec.Err()
}

// loadBoard reads the parameters and computes the board.
func (h reportHandlers) loadBoard(c *gin.Context) (attribution.Board, error) {
	id, err := pathID(c, "id")
	if err != nil {
		return attribution.Board{}, err
	}
	q, err := boardQuery(c)
	if err != nil {
		return attribution.Board{}, err
	}
	return h.boards.Board(c.Request.Context(), principal(c), id, q)
}

// boardPage is a page of a leaderboard with the board's description.
type boardPage struct {
	attribution.Board
	Page[attribution.BoardEntry]
}

func (h reportHandlers) board(c *gin.Context) {
	limit, cursor, err := pageParams(c)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	offset, err := IDCursor(cursor)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	bd, err := h.loadBoard(c)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	if wantsCSV(c) {
		writeCSV(c, boardCSV(bd))
		return
	}
	ok(c, http.StatusOK, pageOf(bd, int(offset), limit))
}

// pageOf cuts one page from the board; the cursor is the next offset.
func pageOf(bd attribution.Board, offset, limit int) boardPage {
	n := len(bd.Entries)
	lo, hi := min(offset, n), min(offset+limit, n)
	next := ""
	if hi < n {
		next = EncodeCursor(strconv.Itoa(hi))
	}
	return boardPage{Board: bd, Page: NewPage(bd.Entries[lo:hi], next, int64(n))}
}

func (h reportHandlers) me(c *gin.Context) {
	bd, err := h.loadBoard(c)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	p := principal(c)
	ch, err := h.boards.CallerChain(c.Request.Context(), p)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	e, err := bd.Me(p, ch)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	ok(c, http.StatusOK, gin.H{"level": bd.Level, "metric": bd.Metric, "from": bd.From, "to": bd.To, "total": len(bd.Entries),
		"frozen": bd.Frozen, "entry": e})
}

// wantsCSV reports whether the caller asked for CSV (format=csv or Accept).
func wantsCSV(c *gin.Context) bool {
	return c.Query("format") == "csv" || strings.Contains(c.GetHeader("Accept"), "text/csv")
}

// boardCSV renders the whole board as CSV rows.
func boardCSV(bd attribution.Board) [][]string {
	rows := [][]string{{"rank", "id", "name", "value", "conversions", "amount_yuan", "shares", "clicks", "unique_visitors", "heads"}}
	for _, e := range bd.Entries {
		r := ""
		if e.Rank > 0 {
			r = strconv.Itoa(e.Rank)
		}
		rows = append(rows, []string{r, strconv.FormatInt(e.ID, 10), e.Name, attribution.FormatValue(bd.Metric, e),
			strconv.FormatFloat(e.Conversions, 'f', -1, 64), attribution.FormatFen(e.AmountFen), strconv.FormatInt(e.Shares, 10),
			strconv.FormatInt(e.Clicks, 10), strconv.FormatInt(e.Visitors, 10), strconv.FormatInt(e.Heads, 10)})
	}
	return rows
}

// writeCSV answers with UTF-8 CSV preceded by a byte-order mark, so that
// Excel opens Chinese names correctly.
func writeCSV(c *gin.Context, rows [][]string) {
	var buf bytes.Buffer
	buf.WriteString("\ufeff")
	w := csv.NewWriter(&buf)
	_ = w.WriteAll(rows) // writes to memory
	c.Data(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

func (h reportHandlers) funnel(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	q := attribution.FunnelQuery{By: c.Query("by")}
	if v := c.Query("unit"); v != "" {
		if q.UnitID, err = strconv.ParseInt(v, 10, 64); err != nil || q.UnitID <= 0 {
			h.s.fail(c, apperr.Field("unit", "must be a unit id"))
			return
		}
	}
	f, err := h.boards.Funnel(c.Request.Context(), principal(c), id, q)
	h.s.respond(c, http.StatusOK, f, err)
}

func (h reportHandlers) channels(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	rep, err := h.boards.ChannelsFor(c.Request.Context(), principal(c), id, c.Query("model"))
	h.s.respond(c, http.StatusOK, rep, err)
}

func (h reportHandlers) paths(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		h.s.fail(c, err)
		return
	}
	limit, _, err := pageParams(c)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	rep, err := h.boards.PathsFor(c.Request.Context(), principal(c), id, limit)
	h.s.respond(c, http.StatusOK, rep, err)
}

func (h reportHandlers) journey(c *gin.Context) {
	j, err := h.boards.Journey(c.Request.Context(), principal(c), c.Param("id"))
	h.s.respond(c, http.StatusOK, j, err)
}

func (h reportHandlers) myConversions(c *gin.Context) {
	limit, cursor, err := pageParams(c)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	before, err := IDCursor(cursor)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	items, next, err := h.boards.MyConversions(c.Request.Context(), principal(c), before, limit)
	if err != nil {
		h.s.fail(c, err)
		return
	}
	nc := ""
	if next > 0 {
		nc = EncodeCursor(strconv.FormatInt(next, 10))
	}
	ok(c, http.StatusOK, NewPage(items, nc, -1))
}

// overviewItem is one campaign of the overview.
type overviewItem struct {
	Campaign campaign.Campaign    `json:"campaign"`
	Figures  attribution.Headline `json:"figures"`
}

// overview lists every campaign in the caller's scope (up to 100, newest
// first) with its headline figures within that scope.
func (h reportHandlers) overview(c *gin.Context) {
	ctx, p := c.Request.Context(), principal(c)
	cs, _, _, err := h.camps.List(ctx, p, campaign.Filter{Limit: 100})
	if err != nil {
		h.s.fail(c, err)
		return
	}
	items := make([]overviewItem, 0, len(cs))
	for _, camp := range cs {
		fig, err := h.boards.Headline(ctx, p, camp.ID)
		if apperr.KindOf(err) == apperr.NotFound {
			continue // visible as a campaign but without a part in it
		}
		if err != nil {
			h.s.fail(c, err)
			return
		}
		items = append(items, overviewItem{Campaign: camp, Figures: fig})
	}
	ok(c, http.StatusOK, gin.H{"items": items})
}
