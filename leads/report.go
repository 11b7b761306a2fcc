package leads

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/auth"
	"rmref/internal/db"
)

// Count is one group of a report.
type Count struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
}

// ChannelConversion is the lead-to-conversion rate of one channel (the
// channel a lead closed on).
type ChannelConversion struct {
	Channel   string `json:"channel"`
	Closed    int64  `json:"closed"`
	Converted int64  `json:"converted"`
	RateBP    int64  `json:"rate_bp"`
}

// ReturnCount counts returns (回流) by reason, the channel they left and
// where they went (a channel, "queued" or "suppressed").
type ReturnCount struct {
	Reason string `json:"reason"`
	From   string `json:"from_channel"`
	To     string `json:"to"`
	Count  int64  `json:"count"`
}

// ReportResult is the lead report over leads made in [From, To).
type ReportResult struct {
	From                   time.Time           `json:"from"`
	To                     time.Time           `json:"to"`
	Leads                  int64               `json:"leads"`
	ByRule                 []Count             `json:"by_rule"`
	ByChannel              []Count             `json:"by_channel"`
	ByUnit                 []Count             `json:"by_unit"`
	Accepted               int64               `json:"accepted"`
	AvgAcceptSeconds       int64               `json:"avg_accept_seconds"`
	Contacted              int64               `json:"contacted"`
	AvgFirstContactSeconds int64               `json:"avg_first_contact_seconds"`
	SLADue                 int64               `json:"sla_due"`
	SLAHit                 int64               `json:"sla_hit"`
	SLAHitRateBP           int64               `json:"sla_hit_rate_bp"`
	Returns                []ReturnCount       `json:"returns"`
	Conversion             []ChannelConversion `json:"conversion_by_channel"`
	Suppressions           []Count             `json:"suppressions_by_reason"`
}

// Report computes the lead report for the caller's scope (a manager their
// subtree, HQ and auditors everything).
func (s *Service) Report(ctx context.Context, p auth.Principal, from, to time.Time) (ReportResult, error) {
	prefix, ok := p.ScopePath()
	if !ok {
		return ReportResult{}, apperr.Forbiddenf("reports are for managers, HQ and auditors")
	}
	if !from.Before(to) {
		return ReportResult{}, apperr.Field("from", "must be before to")
	}
	r := ReportResult{From: from, To: to}
	where := ` l.triggered_at >= ? AND l.triggered_at < ?`
	args := []any{db.Micros(from), db.Micros(to)}
	if prefix != "" {
		lo, hi := auth.PathRange(prefix)
		where += ` AND u.path >= ? AND u.path < ?`
		args = append(args, lo, hi)
	}
	q := reportQuery{ctx: ctx, ext: s.DB, base: fromLeads + where, where: where, args: args}
	q.one(&r.Leads, `SELECT COUNT(*)`, "")
	q.groups(&r.ByRule, `SELECT r.code AS k, COUNT(*) AS n`, ``, ` GROUP BY r.code ORDER BY r.code`, ` JOIN lead_rules r ON r.id = l.rule_id`)
	q.groups(&r.ByChannel, `SELECT l.channel AS k, COUNT(*) AS n`, ``, ` GROUP BY l.channel ORDER BY l.channel`, "")
	q.groups(&r.ByUnit, `SELECT COALESCE(u.code, '') AS k, COUNT(*) AS n`, ``, ` GROUP BY u.code ORDER BY u.code`, "")
	q.avg(&r.Accepted, &r.AvgAcceptSeconds, `l.accepted_at - l.offered_at`, ` AND l.accepted_at IS NOT NULL AND l.offered_at IS NOT NULL`)
	q.avg(&r.Contacted, &r.AvgFirstContactSeconds, `l.first_contact_at - l.triggered_at`, ` AND l.first_contact_at IS NOT NULL`)
	now := db.Micros(s.Clock.Now())
	q.one(&r.SLADue, `SELECT COUNT(*)`, ` AND l.sla_deadline IS NOT NULL AND (l.first_contact_at IS NOT NULL OR l.sla_deadline <= ?)`, now)
	q.one(&r.SLAHit, `SELECT COUNT(*)`, ` AND l.first_contact_at IS NOT NULL AND l.first_contact_at <= l.sla_deadline`)
	var missedReturns int64
	q.one(&missedReturns, `SELECT COUNT(*)`+fromHistory+q.where+` AND h.to_status = 'returned' AND h.reason = 'sla_missed'`, "")
	r.SLADue += missedReturns // every missed deadline that returned the lead counts as a miss
	r.SLAHitRateBP = rate(r.SLAHit, r.SLADue)
	q.returns(&r.Returns)
	q.conversion(&r.Conversion)
	q.suppressions(&r.Suppressions)
	if q.err != nil {
		return ReportResult{}, q.err
	}
	return r, nil
}

const (
	fromLeads   = ` FROM leads l LEFT JOIN org_units u ON u.id = l.unit_id WHERE`
	fromHistory = ` FROM lead_history h JOIN leads l ON l.id = h.lead_id LEFT JOIN org_units u ON u.id = l.unit_id WHERE`
)

func rate(n, d int64) int64 {
	if d == 0 {
		return 0
	}
	return n * 10000 / d
}

// reportQuery runs the report's queries over one scoped base, keeping the
// first error.
type reportQuery struct {
	ctx   context.Context
	ext   sqlx.ExtContext
	base  string // FROM leads … WHERE <scope>
	where string // the scope conditions alone
	args  []any
	err   error
}

func (q *reportQuery) one(dst *int64, sel, cond string, extra ...any) {
	if q.err != nil {
		return
	}
	if !strings.Contains(sel, " FROM ") {
		sel += q.base
	}
	if err := sqlx.GetContext(q.ctx, q.ext, dst, sel+cond, append(append([]any{}, q.args...), extra...)...); err != nil {
		q.err = fmt.Errorf("leads: report: %w", err)
	}
}

type kn struct {
	K string `db:"k"`
	N int64  `db:"n"`
}

func (q *reportQuery) groups(dst *[]Count, sel, cond, tail, join string) {
	*dst = []Count{}
	if q.err != nil {
		return
	}
	base := q.base
	if join != "" {
		base = " FROM leads l" + join + " LEFT JOIN org_units u ON u.id = l.unit_id WHERE" + q.where
	}
	var rows []kn
	if err := sqlx.SelectContext(q.ctx, q.ext, &rows, sel+base+cond+tail, q.args...); err != nil {
		q.err = fmt.Errorf("leads: report: %w", err)
		return
	}
	for _, r := range rows {
		*dst = append(*dst, Count{Key: r.K, Count: r.N})
	}
}

func (q *reportQuery) avg(n, avgSeconds *int64, expr, cond string) {
	var sum int64
	q.one(n, `SELECT COUNT(*)`, cond)
	q.one(&sum, `SELECT COALESCE(SUM(`+expr+`), 0)`, cond)
	if *n > 0 {
		*avgSeconds = sum / *n / 1_000_000
	}
}

func (q *reportQuery) returns(dst *[]ReturnCount) {
	*dst = []ReturnCount{}
	if q.err != nil {
		return
	}
	var rows []struct {
		Reason string `db:"reason"`
		From   string `db:"from_channel"`
		To     string `db:"to_channel"`
		N      int64  `db:"n"`
	}
	sql := `SELECT h.reason, h.channel AS from_channel, COALESCE((SELECT CASE WHEN h2.to_status IN ('queued', 'suppressed') THEN h2.to_status ELSE h2.channel END
		FROM lead_history h2 WHERE h2.lead_id = h.lead_id AND h2.id > h.id AND h2.reason <> 'no_consent' ORDER BY h2.id LIMIT 1), '') AS to_channel,
		COUNT(*) AS n` + fromHistory + q.where + ` AND h.to_status = 'returned' GROUP BY h.reason, from_channel, to_channel ORDER BY h.reason, from_channel, to_channel`
	if err := sqlx.SelectContext(q.ctx, q.ext, &rows, sql, q.args...); err != nil {
		q.err = fmt.Errorf("leads: report returns: %w", err)
		return
	}
	for _, r := range rows {
		*dst = append(*dst, ReturnCount{Reason: r.Reason, From: r.From, To: r.To, Count: r.N})
	}
}

func (q *reportQuery) conversion(dst *[]ChannelConversion) {
	*dst = []ChannelConversion{}
	if q.err != nil {
		return
	}
	var rows []struct {
		Channel   string `db:"channel"`
		Closed    int64  `db:"closed"`
		Converted int64  `db:"converted"`
	}
	sql := `SELECT l.channel, COUNT(*) AS closed, SUM(CASE WHEN l.status = 'converted' THEN 1 ELSE 0 END) AS converted` + q.base +
		` AND l.status IN ('converted', 'not_interested', 'unreachable', 'invalid') GROUP BY l.channel ORDER BY l.channel`
	if err := sqlx.SelectContext(q.ctx, q.ext, &rows, sql, q.args...); err != nil {
		q.err = fmt.Errorf("leads: report conversion: %w", err)
		return
	}
	for _, r := range rows {
		*dst = append(*dst, ChannelConversion{Channel: r.Channel, Closed: r.Closed, Converted: r.Converted, RateBP: rate(r.Converted, r.Closed)})
	}
}

func (q *reportQuery) suppressions(dst *[]Count) {
	*dst = []Count{}
	if q.err != nil {
		return
	}
	var rows []kn
	sql := `SELECT h.reason AS k, COUNT(*) AS n` + fromHistory + q.where +
		` AND (h.to_status IN ('suppressed', 'deferred') OR h.reason = 'no_consent') GROUP BY h.reason ORDER BY h.reason`
	if err := sqlx.SelectContext(q.ctx, q.ext, &rows, sql, q.args...); err != nil {
		q.err = fmt.Errorf("leads: report suppressions: %w", err)
		return
	}
	for _, r := range rows {
		*dst = append(*dst, Count{Key: r.K, Count: r.N})
	}
}
