package rewards

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/db"
)

// The SQL of settlement batches.

func (s incStore) batches(ctx context.Context, ext sqlx.ExtContext, where string, args ...any) ([]SettlementBatch, error) {
	var rows []batchRow
	if err := sqlx.SelectContext(ctx, ext, &rows, `SELECT `+batchCols+` FROM settlement_batches WHERE `+where, args...); err != nil {
		return nil, fmt.Errorf("rewards: batches: %w", err)
	}
	out := make([]SettlementBatch, len(rows))
	for i, r := range rows {
		out[i] = r.batch()
	}
	return out, nil
}

func (s incStore) batch(ctx context.Context, ext sqlx.ExtContext, id int64, lock bool) (SettlementBatch, error) {
	q := `id = ?`
	if lock {
		q += s.forUpdate()
	}
	bs, err := s.batches(ctx, ext, q, id)
	if err != nil {
		return SettlementBatch{}, err
	}
	if len(bs) == 0 {
		return SettlementBatch{}, ErrBatchNotFound
	}
	return bs[0], nil
}

// anyDue reports whether a line is due (approved by end, in no batch).
func (s incStore) anyDue(ctx context.Context, ext sqlx.ExtContext, campaignID int64, end, now time.Time) (bool, error) {
	var ids []int64
	err := sqlx.SelectContext(ctx, ext, &ids, `SELECT id FROM incentive_earnings WHERE campaign_id = ? AND batch_id = 0 AND hold_until < ? AND created_at <= ? LIMIT 1`,
		campaignID, db.Micros(end), db.Micros(now))
	if err != nil {
		return false, fmt.Errorf("rewards: due lines: %w", err)
	}
	return len(ids) > 0, nil
}

// settleGroup is one staff member's due lines in one currency.
type settleGroup struct {
	StaffID    int64  `db:"staff_id"`
	Currency   string `db:"currency"`
	Net        int64  `db:"net"`
	Clawback   int64  `db:"clawback"`
	Lines      int    `db:"line_count"`
	EmployeeNo string `db:"employee_no"`
	Name       string `db:"name"`
	Path       string `db:"path"`
}

// qBatchGroups nets a chunk's reserved lines per staff member, cash and
// points side by side: grouped by staff_id alone, the rows come in the
// order of incentive_earnings_due, with no sort. No join: the staff are
// named by batchGroups, once each.
const qBatchGroups = `SELECT staff_id,
 SUM(CASE WHEN currency = 'cash' THEN 1 ELSE 0 END) AS cash_lines,
 SUM(CASE WHEN currency = 'cash' THEN amount ELSE 0 END) AS cash_net,
 SUM(CASE WHEN currency = 'cash' AND entry = 'clawback' THEN -amount ELSE 0 END) AS cash_clawback,
 SUM(CASE WHEN currency = 'cash' THEN 0 ELSE 1 END) AS points_lines,
 SUM(CASE WHEN currency = 'cash' THEN 0 ELSE amount END) AS points_net,
 SUM(CASE WHEN currency <> 'cash' AND entry = 'clawback' THEN -amount ELSE 0 END) AS points_clawback
FROM incentive_earnings WHERE campaign_id = ? AND batch_id = ? AND staff_id > ? AND staff_id <= ?
GROUP BY staff_id ORDER BY staff_id`

// batchGroups returns a chunk's groups (per staff member and currency,
// cash first) with their staff members' employee numbers, names and unit
// paths; like a join, it leaves out lines of a staff member (or unit) that
// does not exist.
func (s incStore) batchGroups(ctx context.Context, tx sqlx.ExtContext, units map[int64]unitInfo, campaignID, id, after, upto int64) ([]settleGroup, error) {
	var sums []struct {
		StaffID        int64 `db:"staff_id"`
		CashLines      int   `db:"cash_lines"`
		CashNet        int64 `db:"cash_net"`
		CashClawback   int64 `db:"cash_clawback"`
		PointsLines    int   `db:"points_lines"`
		PointsNet      int64 `db:"points_net"`
		PointsClawback int64 `db:"points_clawback"`
	}
	if err := sqlx.SelectContext(ctx, tx, &sums, qBatchGroups, campaignID, id, after, upto); err != nil {
		return nil, fmt.Errorf("rewards: due lines: %w", err)
	}
	groups := make([]settleGroup, 0, len(sums)*2)
	for _, m := range sums {
		if m.CashLines > 0 {
			groups = append(groups, settleGroup{StaffID: m.StaffID, Currency: CurrencyCash, Net: m.CashNet, Clawback: m.CashClawback, Lines: m.CashLines})
		}
		if m.PointsLines > 0 {
			groups = append(groups, settleGroup{StaffID: m.StaffID, Currency: CurrencyPoints, Net: m.PointsNet, Clawback: m.PointsClawback, Lines: m.PointsLines})
		}
	}
	if len(groups) == 0 {
		return nil, nil
	}
	ids := make([]int64, 0, len(groups))
	for i, g := range groups {
		if i == 0 || groups[i-1].StaffID != g.StaffID {
			ids = append(ids, g.StaffID)
		}
	}
	// Primary-key look-ups only: joined with org_units, MariaDB may
	// drive the join from the few units and read all their staff.
	q, args, err := sqlx.In(`SELECT id, employee_no, name, unit_id FROM staff WHERE id IN (?)`, ids)
	if err != nil {
		return nil, err
	}
	var who []struct {
		ID         int64  `db:"id"`
		EmployeeNo string `db:"employee_no"`
		Name       string `db:"name"`
		UnitID     int64  `db:"unit_id"`
	}
	if err := sqlx.SelectContext(ctx, tx, &who, q, args...); err != nil {
		return nil, fmt.Errorf("rewards: batch staff: %w", err)
	}
	byID := make(map[int64]int, len(who))
	for i := range who {
		byID[who[i].ID] = i
	}
	out := groups[:0]
	for _, g := range groups {
		i, ok := byID[g.StaffID]
		if !ok {
			continue
		}
		u, ok := units[who[i].UnitID]
		if !ok {
			continue
		}
		g.EmployeeNo, g.Name, g.Path = who[i].EmployeeNo, who[i].Name, u.path
		out = append(out, g)
	}
	return out, nil
}

// qReserve reserves a chunk's due lines: the staff range bounds the
// statement (and its undo) and walks incentive_earnings_due in order.
const qReserve = `UPDATE incentive_earnings SET batch_id = ?
WHERE campaign_id = ? AND batch_id = 0 AND staff_id > ? AND staff_id <= ? AND hold_until < ? AND created_at <= ?`

// settleChunk is how many staff members a batch handles at a time, so
// that settling 200k staff runs in bounded memory.
var settleChunk = 2000

// createBatch reserves the due lines for a new batch and nets them per
// staff member and currency, a chunk of staff at a time (in one
// transaction). A staff member's lines of a currency whose net is negative
// are released again (and reported as owed), so that nothing settled ever
// goes below zero.
func (s incStore) createBatch(ctx context.Context, tx sqlx.ExtContext, camp incCampaign, period string, end time.Time, by int64, now time.Time) (SettlementBatch, error) {
	var seq int
	if err := sqlx.GetContext(ctx, tx, &seq, `SELECT COALESCE(MAX(seq), 0) FROM settlement_batches WHERE campaign_id = ? AND period = ?`, camp.ID, period); err != nil {
		return SettlementBatch{}, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO settlement_batches (campaign_id, period, seq, status, cutoff_at, proposed_by, proposed_at) VALUES (?, ?, ?, 'proposed', ?, ?, ?)`,
		camp.ID, period, seq+1, db.Micros(end), by, db.Micros(now))
	if err != nil {
		return SettlementBatch{}, fmt.Errorf("rewards: insert batch: %w", err)
	}
	id, _ := res.LastInsertId()
	units, names, err := s.units(ctx, tx)
	if err != nil {
		return SettlementBatch{}, err
	}
	tot := batchTotals{}
	w := lineWriter{st: s, tx: tx, batch: id, campaign: camp.ID, names: names, paths: map[string]string{}, tot: &tot}
	for after := int64(0); ; {
		upto, more, err := s.chunkEnd(ctx, tx, camp.ID, after)
		if err != nil {
			return SettlementBatch{}, err
		}
		res, err := tx.ExecContext(ctx, qReserve, id, camp.ID, after, upto, db.Micros(end), db.Micros(now))
		if err != nil {
			return SettlementBatch{}, fmt.Errorf("rewards: reserve lines: %w", err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			groups, err := s.batchGroups(ctx, tx, units, camp.ID, id, after, upto)
			if err != nil {
				return SettlementBatch{}, err
			}
			if err := w.write(ctx, groups); err != nil {
				return SettlementBatch{}, err
			}
		}
		if !more {
			break
		}
		after = upto
	}
	if _, err := tx.ExecContext(ctx, `UPDATE settlement_batches SET cash_fen = ?, points = ?, staff_count = ? WHERE id = ?`, tot.cash, tot.points, tot.staff, id); err != nil {
		return SettlementBatch{}, fmt.Errorf("rewards: batch totals: %w", err)
	}
	return s.batch(ctx, tx, id, false)
}

// chunkEnd returns the last staff id of the next chunk after after (staff
// with lines not in any batch), and whether more staff may follow.
func (s incStore) chunkEnd(ctx context.Context, tx sqlx.ExtContext, campaignID, after int64) (int64, bool, error) {
	var ids []int64
	err := sqlx.SelectContext(ctx, tx, &ids, `SELECT staff_id FROM incentive_earnings WHERE campaign_id = ? AND batch_id = 0 AND staff_id > ?
GROUP BY staff_id ORDER BY staff_id LIMIT ?`, campaignID, after, settleChunk)
	if err != nil {
		return 0, false, fmt.Errorf("rewards: batch staff: %w", err)
	}
	if len(ids) < settleChunk {
		return math.MaxInt64, false, nil
	}
	return ids[len(ids)-1], true, nil
}

type batchTotals struct {
	cash, points int64
	staff        int
}

// lineWriter nets a batch's groups into settlement lines and writes them.
type lineWriter struct {
	st              incStore
	tx              sqlx.ExtContext
	batch, campaign int64
	names           map[string]string // unit id → name
	paths           map[string]string // unit path → names, one per unit
	tot             *batchTotals
}

func (w lineWriter) write(ctx context.Context, groups []settleGroup) error {
	lines := make([]SettlementLine, 0, len(groups))
	for i := 0; i < len(groups); {
		path, ok := w.paths[groups[i].Path]
		if !ok {
			path = unitPathNames(groups[i].Path, w.names)
			w.paths[groups[i].Path] = path
		}
		l := SettlementLine{StaffID: groups[i].StaffID, EmployeeNo: groups[i].EmployeeNo, Name: groups[i].Name, UnitPath: path}
		for ; i < len(groups) && groups[i].StaffID == l.StaffID; i++ {
			if err := w.st.settleGroup(ctx, w.tx, w.campaign, w.batch, groups[i], &l); err != nil {
				return err
			}
		}
		w.tot.cash, w.tot.points, w.tot.staff = w.tot.cash+l.CashFen, w.tot.points+l.Points, w.tot.staff+1
		lines = append(lines, l)
	}
	for len(lines) > 0 {
		n := min(len(lines), 200)
		if err := w.st.insertLines(ctx, w.tx, w.batch, lines[:n]); err != nil {
			return err
		}
		lines = lines[n:]
	}
	return nil
}

func (s incStore) insertLines(ctx context.Context, tx sqlx.ExtContext, id int64, lines []SettlementLine) error {
	var q strings.Builder
	q.WriteString(`INSERT INTO settlement_lines (batch_id, staff_id, employee_no, name, unit_path, cash_fen, points,
clawback_fen, clawback_points, owed_fen, owed_points, line_count) VALUES `)
	args := make([]any, 0, len(lines)*12)
	for i, l := range lines {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, id, l.StaffID, l.EmployeeNo, l.Name, l.UnitPath, l.CashFen, l.Points, l.ClawbackFen, l.ClawbackPoints, l.OwedFen, l.OwedPoints, l.Lines)
	}
	if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
		return fmt.Errorf("rewards: settlement lines: %w", err)
	}
	return nil
}

// settleGroup adds one currency group to the staff member's line, or
// releases its lines when their net is negative (owed, carried forward).
func (s incStore) settleGroup(ctx context.Context, tx sqlx.ExtContext, campaignID, id int64, g settleGroup, l *SettlementLine) error {
	if g.Net < 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE incentive_earnings SET batch_id = 0 WHERE campaign_id = ? AND batch_id = ? AND staff_id = ? AND currency = ?`,
			campaignID, id, g.StaffID, g.Currency); err != nil {
			return fmt.Errorf("rewards: carry owed lines: %w", err)
		}
		if g.Currency == CurrencyCash {
			l.OwedFen = -g.Net
		} else {
			l.OwedPoints = -g.Net
		}
		return nil
	}
	l.Lines += g.Lines
	if g.Currency == CurrencyCash {
		l.CashFen, l.ClawbackFen = g.Net, g.Clawback
	} else {
		l.Points, l.ClawbackPoints = g.Net, g.Clawback
	}
	return nil
}

type unitInfo struct{ path string }

// units returns every unit's path (by id) and name (by id as in paths).
func (s incStore) units(ctx context.Context, ext sqlx.ExtContext) (map[int64]unitInfo, map[string]string, error) {
	var rows []struct {
		ID   int64  `db:"id"`
		Name string `db:"name"`
		Path string `db:"path"`
	}
	if err := sqlx.SelectContext(ctx, ext, &rows, `SELECT id, name, path FROM org_units`); err != nil {
		return nil, nil, fmt.Errorf("rewards: units: %w", err)
	}
	units := make(map[int64]unitInfo, len(rows))
	names := make(map[string]string, len(rows))
	for _, r := range rows {
		units[r.ID] = unitInfo{path: r.Path}
		names[strconv.FormatInt(r.ID, 10)] = r.Name
	}
	return units, names, nil
}

// unitPathNames turns "/1/4/9/" into "总行/华东区/…" (the units' names).
func unitPathNames(path string, names map[string]string) string {
	var parts []string
	for _, id := range strings.Split(strings.Trim(path, "/"), "/") {
		if id != "" {
			parts = append(parts, names[id])
		}
	}
	return strings.Join(parts, "/")
}

func (s incStore) decideBatch(ctx context.Context, tx sqlx.ExtContext, campaignID, id int64, status string, by int64, now time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE settlement_batches SET status = ?, decided_by = ?, decided_at = ? WHERE id = ? AND status = 'proposed'`,
		status, by, db.Micros(now), id)
	if err != nil {
		return fmt.Errorf("rewards: decide batch: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrBatchNotProposed
	}
	q := `UPDATE incentive_earnings SET settled_at = ? WHERE campaign_id = ? AND batch_id = ?`
	args := []any{db.Micros(now), campaignID, id}
	if status == BatchRejected {
		q, args = `UPDATE incentive_earnings SET batch_id = 0 WHERE campaign_id = ? AND batch_id = ?`, []any{campaignID, id}
	}
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("rewards: batch lines: %w", err)
	}
	if status == BatchRejected {
		_, err = tx.ExecContext(ctx, `DELETE FROM settlement_lines WHERE batch_id = ?`, id)
	}
	return err
}
