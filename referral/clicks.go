package referral

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/db"
)

// Click is one share-link click as recorded.
type Click struct {
	ClickID    string
	At         time.Time
	Day        string // YYYY-MM-DD in the campaign's timezone
	CodeID     int64
	Code       string
	StaffID    int64
	CampaignID int64
	Channel    Channel
	VisitorID  string
	NewVisitor bool // the visitor id was minted for this click (no cookie)
	IPHash     string
	UserAgent  string
	Referer    string
	Bot        bool
	Unique     bool
	Counted    bool
	Reason     string
}

// WriterOptions tune the click writer.
type WriterOptions struct {
	MaxBatch   int // clicks per commit (default 256)
	BurstLimit int // clicks per minute from one IP hash on one code before "burst" (default 20)
	// Committers is how many batches may be committing at once (default 1
	// on SQLite, whose writes are serialised anyway; 4 on MySQL, where
	// concurrent commits share the redo-log flush).
	Committers int
}

// ClickWriter records clicks with group commit. One goroutine takes every
// click waiting, classifies the batch (unique, self-click, burst) and
// hands it to a committer, which writes it in one multi-row INSERT in one
// transaction and then releases all its callers. While a batch commits,
// the next one is classified (and, on MySQL, committed alongside). A
// caller returns only after its click is committed.
type ClickWriter struct {
	db       *db.DB
	opt      WriterOptions
	in       chan *pendingClick
	batches  chan []*pendingClick
	done     chan struct{}
	mu       sync.RWMutex
	closed   bool
	inflight inflight
	commits  atomic.Int64
	rows     atomic.Int64
}

type pendingClick struct {
	c   *Click
	err chan error
}

// inflight counts the classified clicks not yet committed, so that the
// next batch's checks see them although the database does not yet.
type inflight struct {
	mu     sync.Mutex
	visits map[string]int // code/visitor
	ips    map[string]int // ip hash/code
}

func (f *inflight) add(clicks []*Click, delta int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range clicks {
		bump(f.visits, visitKey(c), delta)
		bump(f.ips, ipKey(c), delta)
	}
}

func (f *inflight) counts(c *Click) (visits, ips int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.visits[visitKey(c)], f.ips[ipKey(c)]
}

func bump(m map[string]int, k string, delta int) {
	if m[k] += delta; m[k] <= 0 {
		delete(m, k)
	}
}

func visitKey(c *Click) string { return strconv.FormatInt(c.CodeID, 10) + "/" + c.VisitorID }
func ipKey(c *Click) string    { return c.IPHash + "/" + strconv.FormatInt(c.CodeID, 10) }

// NewClickWriter starts a writer on d; Close stops it.
func NewClickWriter(d *db.DB, opt WriterOptions) *ClickWriter {
	if opt.MaxBatch <= 0 {
		opt.MaxBatch = 256
	}
	if opt.BurstLimit <= 0 {
		opt.BurstLimit = 20
	}
	if opt.Committers <= 0 {
		opt.Committers = 1
		if d.Dialect.Name() == "mysql" {
			opt.Committers = 2
		}
	}
	w := &ClickWriter{db: d, opt: opt, in: make(chan *pendingClick, 4*opt.MaxBatch),
		batches: make(chan []*pendingClick), done: make(chan struct{}),
		inflight: inflight{visits: map[string]int{}, ips: map[string]int{}}}
	var wg sync.WaitGroup
	for range opt.Committers {
		wg.Add(1)
		go func() { defer wg.Done(); w.commitLoop() }()
	}
	go func() { w.classifyLoop(); close(w.batches); wg.Wait(); close(w.done) }()
	return w
}

// Record classifies and durably stores c (its Unique, Counted and Reason
// may be updated), returning once the row is committed.
func (w *ClickWriter) Record(ctx context.Context, c *Click) error {
	p := &pendingClick{c: c, err: make(chan error, 1)}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return ErrWriterClosed
	}
	select {
	case w.in <- p:
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	w.mu.RUnlock()
	return <-p.err
}

// Close stops taking clicks, writes those already queued, and waits for
// the last commit (or ctx).
func (w *ClickWriter) Close(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.in)
	}
	w.mu.Unlock()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("referral: click writer: %w", ctx.Err())
	}
}

// Commits returns how many transactions the writer has committed.
func (w *ClickWriter) Commits() int64 { return w.commits.Load() }

// Rows returns how many clicks the writer has committed.
func (w *ClickWriter) Rows() int64 { return w.rows.Load() }

// classifyLoop takes every click waiting (up to MaxBatch), classifies the
// batch and hands it to a committer.
func (w *ClickWriter) classifyLoop() {
	for first := range w.in {
		batch := []*pendingClick{first}
	drain:
		for len(batch) < w.opt.MaxBatch {
			select {
			case p, ok := <-w.in:
				if !ok {
					break drain
				}
				batch = append(batch, p)
			default:
				break drain
			}
		}
		clicks := clicksOf(batch)
		if err := w.classify(context.Background(), clicks); err != nil {
			release(batch, err)
			continue
		}
		w.inflight.add(clicks, 1)
		w.batches <- batch
	}
}

func clicksOf(batch []*pendingClick) []*Click {
	clicks := make([]*Click, len(batch))
	for i, p := range batch {
		clicks[i] = p.c
	}
	return clicks
}

func release(batch []*pendingClick, err error) {
	for _, p := range batch {
		p.err <- err
	}
}

// commitLoop writes classified batches, one transaction each.
func (w *ClickWriter) commitLoop() {
	for batch := range w.batches {
		clicks := clicksOf(batch)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := w.db.WithTx(ctx, func(tx *sqlx.Tx) error { return insertClicks(ctx, tx, clicks) })
		cancel()
		w.inflight.add(clicks, -1)
		if err == nil {
			w.commits.Add(1)
			w.rows.Add(int64(len(clicks)))
		}
		release(batch, err)
	}
}

// classify sets Unique and the self-click and burst reasons, looking at
// committed clicks and at the earlier clicks of the same batch.
func (w *ClickWriter) classify(ctx context.Context, clicks []*Click) error {
	seen := map[string]bool{} // code_id/visitor in this batch
	burst := map[string]int{} // ip_hash/code_id → clicks in the last minute
	self := map[string]bool{} // staff/visitor → self-click
	for _, c := range clicks {
		vkey := fmt.Sprint(c.CodeID, "/", c.VisitorID)
		unique, err := w.firstVisit(ctx, c, seen[vkey])
		if err != nil {
			return err
		}
		c.Unique, seen[vkey] = unique, true
		if err := w.judge(ctx, c, self, burst); err != nil {
			return err
		}
	}
	return nil
}

const dayMicros = 24 * 60 * 60 * 1_000_000

const seenVisitorQuery = `SELECT COUNT(*) FROM referral_clicks WHERE code_id = ? AND visitor_id = ? AND at > ? AND at <= ?`

// firstVisit reports whether c is the visitor's first click on the code
// within 24 hours. A freshly minted visitor id has no history.
func (w *ClickWriter) firstVisit(ctx context.Context, c *Click, inBatch bool) (bool, error) {
	if inBatch {
		return false, nil
	}
	if c.NewVisitor {
		return true, nil
	}
	var n int
	at := db.Micros(c.At)
	if err := w.db.GetContext(ctx, &n, seenVisitorQuery, c.CodeID, c.VisitorID, at-dayMicros, at); err != nil {
		return false, fmt.Errorf("referral: unique check: %w", err)
	}
	return n == 0, nil
}

// judge applies the not-counted rules that need history: a self-click
// (the visitor id was seen on the staff member's own session) and a burst.
func (w *ClickWriter) judge(ctx context.Context, c *Click, self map[string]bool, burst map[string]int) error {
	bkey := ipKey(c)
	n, ok := burst[bkey]
	if !ok {
		var err error
		if n, err = w.recentFromIP(ctx, c); err != nil {
			return err
		}
		_, pendingIPs := w.inflight.counts(c)
		n += pendingIPs
	}
	burst[bkey] = n + 1
	if !c.Counted {
		return nil
	}
	isSelf, err := w.isSelf(ctx, c, self)
	if err != nil {
		return err
	}
	switch {
	case isSelf:
		c.Counted, c.Reason = false, ReasonSelfClick
	case n >= w.opt.BurstLimit:
		c.Counted, c.Reason = false, ReasonBurst
	}
	return nil
}

const recentFromIPQuery = `SELECT COUNT(*) FROM (SELECT 1 FROM referral_clicks
	WHERE ip_hash = ? AND code_id = ? AND at > ? AND at <= ? LIMIT ?) r`

// recentFromIP counts (up to the burst limit) the committed clicks from
// c's IP hash on its code in the minute before it.
func (w *ClickWriter) recentFromIP(ctx context.Context, c *Click) (int, error) {
	var n int
	at := db.Micros(c.At)
	err := w.db.GetContext(ctx, &n, recentFromIPQuery, c.IPHash, c.CodeID, at-60_000_000, at, w.opt.BurstLimit+1)
	if err != nil {
		return 0, fmt.Errorf("referral: burst check: %w", err)
	}
	return n, nil
}

const selfVisitorQuery = `SELECT COUNT(*) FROM referral_staff_visitors WHERE visitor_id = ? AND staff_id = ?`

func (w *ClickWriter) isSelf(ctx context.Context, c *Click, memo map[string]bool) (bool, error) {
	if c.NewVisitor {
		return false, nil
	}
	key := fmt.Sprint(c.StaffID, "/", c.VisitorID)
	if v, ok := memo[key]; ok {
		return v, nil
	}
	var n int
	if err := w.db.GetContext(ctx, &n, selfVisitorQuery, c.VisitorID, c.StaffID); err != nil {
		return false, fmt.Errorf("referral: self-click check: %w", err)
	}
	memo[key] = n > 0
	return n > 0, nil
}

const insertClickPrefix = `INSERT INTO referral_clicks (click_id, at, day, code_id, code, staff_id, campaign_id,
	channel, visitor_id, ip_hash, user_agent, referer, bot, is_unique, counted, reason) VALUES `

const clickPlaceholders = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// insertClicks writes clicks in one multi-row INSERT.
func insertClicks(ctx context.Context, ext sqlx.ExtContext, clicks []*Click) error {
	var q strings.Builder
	q.WriteString(insertClickPrefix)
	args := make([]any, 0, 16*len(clicks))
	for i, c := range clicks {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(clickPlaceholders)
		args = append(args, c.ClickID, db.Micros(c.At), c.Day, c.CodeID, c.Code, c.StaffID, c.CampaignID,
			string(c.Channel), c.VisitorID, c.IPHash, c.UserAgent, c.Referer, c.Bot, c.Unique, c.Counted, c.Reason)
	}
	if _, err := ext.ExecContext(ctx, q.String(), args...); err != nil {
		return fmt.Errorf("referral: insert %d clicks: %w", len(clicks), err)
	}
	return nil
}
