package referral

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

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
	// on SQLite, whose writes are serialised anyway; 2 on MySQL, where
	// concurrent commits share the redo-log flush).
	Committers int
	// GatherWait is how long a free committer may wait for more clicks
	// when fewer are waiting than the last batch held (the clients it just
	// answered are usually on their way back with their next click), and
	// never longer than its last commit took (past that, committing the
	// latecomers separately costs less); default 4 ms, negative: never wait.
	GatherWait time.Duration
}

// ClickWriter records clicks with group commit. One goroutine collects
// waiting clicks until a committer is free, classifies them (unique,
// self-click, burst) and hands them over; the committer writes the batch
// in one multi-row INSERT (one atomic, durable statement) and then
// releases all its callers. A batch is taken as late as possible: while
// every committer is busy, clicks keep joining the next batch, and a free
// committer waits up to GatherWait for as many clicks as the previous
// batch held, so that one commit (one fsync) serves every waiting client
// instead of alternating big and small batches. A caller returns only
// after its click is committed.
type ClickWriter struct {
	db       *db.DB
	opt      WriterOptions
	in       chan *pendingClick
	idle     chan freeCommitter
	sent     atomic.Int64 // clicks handed to the writer so far (their sequence numbers)
	done     chan struct{}
	mu       sync.RWMutex
	closed   bool
	inflight inflight
	ins      *inserter
	commits  atomic.Int64
	rows     atomic.Int64
}

type pendingClick struct {
	c   *Click
	seq int64 // from ClickWriter.sent
	err chan error
}

// freeCommitter is a committer waiting for a batch on ch. Clicks numbered
// up to seen were sent before its last commit ended, so they cannot come
// from the clients that commit answered.
type freeCommitter struct {
	ch   chan []*pendingClick
	seen int64
	took time.Duration // its last commit
}

var pendingPool = sync.Pool{New: func() any { return &pendingClick{err: make(chan error, 1)} }}

// inflight counts the classified clicks not yet committed, so that the
// next batch's checks see them although the database does not yet.
type inflight struct {
	mu     sync.Mutex
	visits map[visitKey]int
	ips    map[ipKey]int
}

type visitKey struct {
	code    int64
	visitor string
}

type ipKey struct {
	ip   string
	code int64
}

func visitKeyOf(c *Click) visitKey { return visitKey{c.CodeID, c.VisitorID} }
func ipKeyOf(c *Click) ipKey       { return ipKey{c.IPHash, c.CodeID} }

func (f *inflight) add(clicks []*Click, delta int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range clicks {
		bump(f.visits, visitKeyOf(c), delta)
		bump(f.ips, ipKeyOf(c), delta)
	}
}

func (f *inflight) counts(c *Click) (visits, ips int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.visits[visitKeyOf(c)], f.ips[ipKeyOf(c)]
}

func bump[K comparable](m map[K]int, k K, delta int) {
	if m[k] += delta; m[k] <= 0 {
		delete(m, k)
	}
}

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
	if opt.GatherWait == 0 {
		opt.GatherWait = 4 * time.Millisecond
	}
	w := &ClickWriter{db: d, opt: opt, in: make(chan *pendingClick, 4*opt.MaxBatch),
		idle: make(chan freeCommitter, opt.Committers), done: make(chan struct{}),
		inflight: inflight{visits: map[visitKey]int{}, ips: map[ipKey]int{}}, ins: newInserter(d)}
	var wg sync.WaitGroup
	for range opt.Committers {
		wg.Add(1)
		go func() { defer wg.Done(); w.commitLoop() }()
	}
	go func() { w.collectLoop(); wg.Wait(); w.ins.close(); close(w.done) }()
	return w
}

// Record classifies and durably stores c (its Unique, Counted and Reason
// may be updated), returning once the row is committed.
func (w *ClickWriter) Record(ctx context.Context, c *Click) error {
	p := pendingPool.Get().(*pendingClick)
	p.c, p.seq = c, w.sent.Add(1)
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		p.c = nil
		pendingPool.Put(p)
		return ErrWriterClosed
	}
	select {
	case w.in <- p:
	case <-ctx.Done():
		w.mu.RUnlock()
		p.c = nil
		pendingPool.Put(p)
		return ctx.Err()
	}
	w.mu.RUnlock()
	err := <-p.err // the writer is done with p once it has answered
	p.c = nil
	pendingPool.Put(p)
	return err
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

// collectLoop gathers waiting clicks (up to MaxBatch) until a committer
// is free, classifies them and hands them over; when the queue is closed
// it hands over the rest and stops the committers.
//
// When a committer becomes free it may wait (up to GatherWait after the
// batch's first click) for the clients the previous commit answered: it
// wants the clicks that queued during that commit plus as many as the
// previous batch held. Closed-loop clients then share one commit instead
// of splitting into two groups that alternate, each paying for its own
// fsync; a click with nothing else in flight is never held back.
func (w *ClickWriter) collectLoop() {
	in := w.in
	var (
		batch []*pendingClick
		to    freeCommitter // a free committer, once we hold one (to.ch != nil)
		want  int
		last  int // size of the previous batch
	)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for in != nil || len(batch) > 0 {
		if to.ch == nil {
			recv := in
			if len(batch) >= w.opt.MaxBatch {
				recv = nil // full: wait for a committer only
			}
			select {
			case p, ok := <-recv:
				if !ok {
					in = nil
				} else {
					batch = append(batch, p)
				}
				continue
			case to = <-w.idle:
				want = min(sentBefore(batch, to.seen)+last, w.opt.MaxBatch)
			}
		}
		if len(batch) == 0 {
			p, ok := <-in
			if !ok {
				in = nil
				continue
			}
			batch = append(batch, p)
		}
		if wait := min(w.opt.GatherWait, to.took); in != nil && len(batch) < want && wait > 0 {
			timer.Reset(wait)
		gather:
			for len(batch) < want {
				select {
				case p, ok := <-in:
					if !ok {
						in = nil
						break gather
					}
					batch = append(batch, p)
				case <-timer.C:
					break gather
				}
			}
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
		last = len(batch)
		w.handOver(batch, to)
		batch, to = nil, freeCommitter{}
	}
	if to.ch != nil {
		w.idle <- to
	}
	for range w.opt.Committers {
		close((<-w.idle).ch)
	}
}

// sentBefore counts the clicks of batch numbered up to seq.
func sentBefore(batch []*pendingClick, seq int64) int {
	n := 0
	for _, p := range batch {
		if p.seq <= seq {
			n++
		}
	}
	return n
}

// handOver classifies batch and gives it to the committer waiting on to
// (or answers its callers with the classification error).
func (w *ClickWriter) handOver(batch []*pendingClick, to freeCommitter) {
	clicks := clicksOf(batch)
	if err := w.classify(context.Background(), clicks); err != nil {
		release(batch, err)
		w.idle <- to // unused: still free
		return
	}
	w.inflight.add(clicks, 1)
	to.ch <- batch
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

// commitLoop writes classified batches, one atomic INSERT statement each
// (autocommit: no statement journal, no BEGIN/COMMIT round trips). It
// announces itself on idle before each batch and stops when its hand-over
// channel is closed.
func (w *ClickWriter) commitLoop() {
	mine := freeCommitter{ch: make(chan []*pendingClick, 1), seen: w.sent.Load()}
	for {
		w.idle <- mine
		batch, ok := <-mine.ch
		if !ok {
			return
		}
		clicks := clicksOf(batch)
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := w.ins.insert(ctx, clicks)
		cancel()
		w.inflight.add(clicks, -1)
		mine.seen = w.sent.Load() // before the callers can send again
		mine.took = time.Since(start)
		if err == nil {
			w.commits.Add(1)
			w.rows.Add(int64(len(clicks)))
		}
		release(batch, err)
		w.ins.afterCommit(context.Background())
	}
}

// classify sets Unique and the self-click and burst reasons, looking at
// committed clicks and at the earlier clicks of the same batch.
func (w *ClickWriter) classify(ctx context.Context, clicks []*Click) error {
	seen := map[visitKey]bool{} // code_id/visitor in this batch
	burst := map[ipKey]int{}    // ip_hash/code_id → clicks in the last minute
	self := map[staffVisitor]bool{}
	for _, c := range clicks {
		vkey := visitKeyOf(c)
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
	if err := w.ins.count(ctx, &n, seenVisitorQuery, c.CodeID, c.VisitorID, at-dayMicros, at); err != nil {
		return false, fmt.Errorf("referral: unique check: %w", err)
	}
	return n == 0, nil
}

// judge applies the not-counted rules that need history: a self-click
// (the visitor id was seen on the staff member's own session) and a burst.
func (w *ClickWriter) judge(ctx context.Context, c *Click, self map[staffVisitor]bool, burst map[ipKey]int) error {
	bkey := ipKeyOf(c)
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
	err := w.ins.count(ctx, &n, recentFromIPQuery, c.IPHash, c.CodeID, at-60_000_000, at, w.opt.BurstLimit+1)
	if err != nil {
		return 0, fmt.Errorf("referral: burst check: %w", err)
	}
	return n, nil
}

const selfVisitorQuery = `SELECT COUNT(*) FROM referral_staff_visitors WHERE visitor_id = ? AND staff_id = ?`

type staffVisitor struct {
	staff   int64
	visitor string
}

func (w *ClickWriter) isSelf(ctx context.Context, c *Click, memo map[staffVisitor]bool) (bool, error) {
	if c.NewVisitor {
		return false, nil
	}
	key := staffVisitor{c.StaffID, c.VisitorID}
	if v, ok := memo[key]; ok {
		return v, nil
	}
	var n int
	if err := w.ins.count(ctx, &n, selfVisitorQuery, c.VisitorID, c.StaffID); err != nil {
		return false, fmt.Errorf("referral: self-click check: %w", err)
	}
	memo[key] = n > 0
	return n > 0, nil
}
