package referral

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"rmref/internal/db"
)

const insertClickPrefix = `INSERT INTO referral_clicks (click_id, at, day, code_id, code, staff_id, campaign_id,
	channel, visitor_id, ip_hash, user_agent, referer, bot, is_unique, counted, reason) VALUES `

const clickPlaceholders = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const clickColumns = 16

// maxInsertStmts bounds the prepared INSERTs kept (one per batch size seen).
const maxInsertStmts = 48

// checkpointEvery is how many commits the writer lets into the SQLite WAL
// before it asks for a checkpoint (about as many pages as SQLite's own
// automatic checkpoint at 1 000).
const checkpointEvery = 48

// inserter writes a batch of clicks as one multi-row INSERT statement
// (atomic and durable on its own: autocommit), prepared once per batch size
// instead of parsed per commit. On SQLite it writes through a connection of
// its own whose automatic WAL checkpoint is off: a background goroutine
// checkpoints (PASSIVE) on another connection, so copying the WAL into the
// database and its fsync never delay the clicks waiting on a commit.
type inserter struct {
	db   *db.DB
	mu   sync.Mutex
	conn *sql.Conn // SQLite only
	stmt map[int]*sql.Stmt
	read map[string]*sql.Stmt // the classification counts, on the pool

	commits    int
	checkpoint chan struct{} // SQLite: a checkpoint is due
	catchUp    atomic.Bool   // SQLite: a background checkpoint finished
	stopped    chan struct{}
}

func newInserter(d *db.DB) *inserter {
	ins := &inserter{db: d, stmt: map[int]*sql.Stmt{}, read: map[string]*sql.Stmt{}}
	if d.Dialect.Name() == "sqlite" {
		ins.checkpoint, ins.stopped = make(chan struct{}, 1), make(chan struct{})
		go ins.checkpointLoop()
	}
	return ins
}

// insert writes clicks in one statement.
func (ins *inserter) insert(ctx context.Context, clicks []*Click) error {
	st, err := ins.prepared(ctx, len(clicks))
	if err != nil {
		return fmt.Errorf("referral: insert %d clicks: %w", len(clicks), err)
	}
	args := make([]any, 0, clickColumns*len(clicks))
	for _, c := range clicks {
		args = append(args, c.ClickID, db.Micros(c.At), c.Day, c.CodeID, c.Code, c.StaffID, c.CampaignID,
			string(c.Channel), c.VisitorID, c.IPHash, c.UserAgent, c.Referer, c.Bot, c.Unique, c.Counted, c.Reason)
	}
	if _, err := st.ExecContext(ctx, args...); err != nil {
		return fmt.Errorf("referral: insert %d clicks: %w", len(clicks), err)
	}
	if ins.checkpoint != nil {
		ins.mu.Lock()
		ins.commits++
		due := ins.commits%checkpointEvery == 0
		ins.mu.Unlock()
		if due {
			select {
			case ins.checkpoint <- struct{}{}:
			default:
			}
		}
	}
	return nil
}

// afterCommit runs after a batch's callers are answered. After a
// background checkpoint the writer copies the few frames committed since
// on its own connection: SQLite restarts the WAL from its beginning only
// when a write begins with every frame copied, which the background
// checkpoint alone never achieves while commits keep coming.
func (ins *inserter) afterCommit(ctx context.Context) {
	if !ins.catchUp.Swap(false) {
		return
	}
	ins.mu.Lock()
	conn := ins.conn
	ins.mu.Unlock()
	if conn != nil {
		_, _ = conn.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
	}
}

// count runs one of the classification's COUNT queries (a fixed few),
// prepared once on the pool, into n.
func (ins *inserter) count(ctx context.Context, n *int, query string, args ...any) error {
	ins.mu.Lock()
	st, ok := ins.read[query]
	if !ok {
		var err error
		if st, err = ins.db.PrepareContext(ctx, query); err != nil {
			ins.mu.Unlock()
			return err
		}
		ins.read[query] = st
	}
	ins.mu.Unlock()
	return st.QueryRowContext(ctx, args...).Scan(n)
}

// prepared returns the INSERT of n rows, preparing it on first use.
func (ins *inserter) prepared(ctx context.Context, n int) (*sql.Stmt, error) {
	ins.mu.Lock()
	defer ins.mu.Unlock()
	if st, ok := ins.stmt[n]; ok {
		return st, nil
	}
	if ins.checkpoint != nil && ins.conn == nil {
		conn, err := ins.db.Conn(ctx)
		if err != nil {
			return nil, err
		}
		if _, err := conn.ExecContext(ctx, `PRAGMA wal_autocheckpoint = 0`); err != nil {
			conn.Close()
			return nil, err
		}
		ins.conn = conn
	}
	if len(ins.stmt) >= maxInsertStmts {
		for k, st := range ins.stmt { // an arbitrary one makes room
			st.Close()
			delete(ins.stmt, k)
			break
		}
	}
	q := insertSQL(n)
	var st *sql.Stmt
	var err error
	if ins.conn != nil {
		st, err = ins.conn.PrepareContext(ctx, q)
	} else {
		st, err = ins.db.PrepareContext(ctx, q)
	}
	if err != nil {
		return nil, err
	}
	ins.stmt[n] = st
	return st, nil
}

func insertSQL(n int) string {
	var q strings.Builder
	q.Grow(len(insertClickPrefix) + n*(len(clickPlaceholders)+2))
	q.WriteString(insertClickPrefix)
	for i := range n {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(clickPlaceholders)
	}
	return q.String()
}

// checkpointLoop copies committed WAL frames into the SQLite database when
// asked (and every few seconds while frames may be waiting) on a pool
// connection, never blocking the writer (PASSIVE).
func (ins *inserter) checkpointLoop() {
	defer close(ins.stopped)
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	last := 0
	for {
		select {
		case _, ok := <-ins.checkpoint:
			if !ok {
				return
			}
		case <-tick.C:
			ins.mu.Lock()
			idle := ins.commits == last
			ins.mu.Unlock()
			if idle {
				continue
			}
		}
		ins.mu.Lock()
		last = ins.commits
		ins.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := ins.db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
		if err == nil {
			ins.catchUp.Store(true)
		}
		cancel()
	}
}

// close stops the checkpointer and releases the statements and the
// connection (with automatic checkpoints back on). The committers have
// stopped.
func (ins *inserter) close() {
	if ins.checkpoint != nil {
		close(ins.checkpoint)
		<-ins.stopped
	}
	ins.mu.Lock()
	defer ins.mu.Unlock()
	for k, st := range ins.stmt {
		st.Close()
		delete(ins.stmt, k)
	}
	for k, st := range ins.read {
		st.Close()
		delete(ins.read, k)
	}
	if ins.conn != nil {
		_, _ = ins.conn.ExecContext(context.Background(), `PRAGMA wal_autocheckpoint = 1000`)
		ins.conn.Close()
		ins.conn = nil
	}
}
