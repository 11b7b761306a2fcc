package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"rmref/attribution"
	"rmref/customer"
	"rmref/internal/app"
	"rmref/rewards"
)

// runImportCommand routes `rmref import conversions FILE` to the
// conversion import and everything else to the HR import.
func runImportCommand(ctx context.Context, e env) error {
	if len(e.args) > 0 && e.args[0] == "conversions" {
		return runImportConversions(ctx, e)
	}
	return runImport(ctx, e)
}

// runImportConversions is `rmref import conversions FILE [--format csv|jsonl]
// [--workers N] [--group N] [--errors FILE]`: streams a warehouse export
// (CSV with a header, or JSON lines) through ingestion with attribution,
// idempotently, so a re-run after a crash neither loses nor doubles rows.
// Each worker records a group of rows in one transaction; a row that fails
// there sends its group back one transaction per row, so a bad row fails
// alone. Memory stays bounded (rows are read as they are
// processed); progress goes to stderr, one JSON line per bad row to the
// error report.
func runImportConversions(ctx context.Context, e env) error {
	const usage = "import conversions: usage: rmref import conversions FILE [--format csv|jsonl] [--workers N] [--group N] [--errors FILE]"
	args, file := e.args[1:], ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:] // the file may come before the flags
	}
	fs := newFlags("import conversions", e)
	format := fs.String("format", "", "csv or jsonl (default: from the file name)")
	workers := fs.Int("workers", 0, "concurrent transactions (default 1 on SQLite, 8 on MySQL)")
	group := fs.Int("group", 50, "rows per transaction (1: one transaction per row)")
	errPath := fs.String("errors", "", "write the per-line error report here (default stderr)")
	e.args = args
	cfg, err := loadConfig(fs, e, nil)
	if err != nil {
		return err
	}
	switch {
	case file == "" && fs.NArg() == 1:
		file = fs.Arg(0)
	case file == "" || fs.NArg() > 0:
		return errors.New(usage)
	}
	src, err := openRows(file, *format)
	if err != nil {
		return err
	}
	defer src.Close()
	report, closeReport, err := errorReport(*errPath, e.stderr)
	if err != nil {
		return err
	}
	defer closeReport()
	a, err := app.Open(ctx, cfg, nil, newLogger(e, cfg))
	if err != nil {
		return err
	}
	defer a.Shutdown(context.Background())
	n := *workers
	if n <= 0 {
		n = 1
		if a.DB.Dialect.Name() == "mysql" {
			n = 8
		}
	}
	svc := attribution.NewBankService(a.DB, a.Clock, a.PII, []byte(cfg.HashKey))
	svc.Listeners = []attribution.CreditListener{rewards.NewIncentives(a.DB, a.Clock)}
	st := importConversions(ctx, svc, src, n, max(*group, 1), report, e.stderr)
	st.print(e.stdout)
	if st.readErr != nil {
		return st.readErr
	}
	if st.failed.Load() > 0 {
		return fmt.Errorf("import conversions: %d rows failed (see the error report)", st.failed.Load())
	}
	return nil
}

// importStats counts an import's progress.
type importStats struct {
	rows, created, repeats, failed atomic.Int64
	peakHeap                       atomic.Uint64
	elapsed                        time.Duration
	readErr                        error
}

// print writes the summary line.
func (st *importStats) print(w io.Writer) {
	fmt.Fprintf(w, "rows %d: recorded %d, already present %d, failed %d in %s (%.0f rows/s, peak heap %.1f MiB)\n",
		st.rows.Load(), st.created.Load(), st.repeats.Load(), st.failed.Load(), st.elapsed.Round(time.Millisecond),
		float64(st.rows.Load())/st.elapsed.Seconds(), float64(st.peakHeap.Load())/(1<<20))
}

// errorReport opens the per-line error report (def when path is "").
func errorReport(path string, def io.Writer) (io.Writer, func(), error) {
	if path == "" {
		return def, func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("import conversions: %w", err)
	}
	return f, func() { f.Close() }, nil
}

type importJob struct {
	line int
	in   attribution.ConversionInput
	err  error
}

// importConversions feeds groups of up to size rows to n workers through
// a small channel (so memory stays bounded) and reports progress every two
// seconds.
func importConversions(ctx context.Context, svc *attribution.Service, src rowSource, n, size int, report, progress io.Writer) *importStats {
	st := &importStats{}
	start := time.Now()
	jobs := make(chan []importJob, 2*n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for g := range jobs {
				importGroup(ctx, svc, g, st, &mu, report)
			}
		}()
	}
	stop := make(chan struct{})
	go reportProgress(st, start, progress, stop)
	var g []importJob
	send := func() bool {
		if len(g) == 0 {
			return true
		}
		select {
		case jobs <- g:
			g = make([]importJob, 0, size)
			return true
		case <-ctx.Done():
			return false
		}
	}
	st.readErr = src.each(func(j importJob) bool {
		g = append(g, j)
		return len(g) < size || send()
	})
	if st.readErr == nil {
		send()
	}
	close(jobs)
	wg.Wait()
	close(stop)
	sampleHeap(st)
	st.elapsed = time.Since(start)
	return st
}

// importGroup records a group of rows (see attribution.RecordMany) and
// counts and reports each row's outcome.
func importGroup(ctx context.Context, svc *attribution.Service, g []importJob, st *importStats, mu *sync.Mutex, report io.Writer) {
	ins := make([]attribution.ConversionInput, 0, len(g))
	idx := make([]int, 0, len(g))
	errs := make([]error, len(g))
	created := make([]bool, len(g))
	for i, j := range g {
		if j.err != nil {
			errs[i] = j.err
			continue
		}
		ins, idx = append(ins, j.in), append(idx, i)
	}
	if len(ins) > 0 {
		for k, o := range svc.RecordMany(ctx, ins, "cli:import") {
			errs[idx[k]], created[idx[k]] = o.Err, o.Created
		}
	}
	for i, j := range g {
		st.rows.Add(1)
		switch {
		case errs[i] != nil:
			st.failed.Add(1)
			b, _ := json.Marshal(map[string]any{"line": j.line, "external_id": j.in.ExternalID, "error": errs[i].Error()})
			mu.Lock()
			fmt.Fprintln(report, string(b))
			mu.Unlock()
		case created[i]:
			st.created.Add(1)
		default:
			st.repeats.Add(1)
		}
	}
}

func reportProgress(st *importStats, start time.Time, w io.Writer, stop chan struct{}) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			sampleHeap(st)
			el := time.Since(start).Seconds()
			fmt.Fprintf(w, "… %d rows (%d failed), %.0f rows/s\n", st.rows.Load(), st.failed.Load(), float64(st.rows.Load())/el)
		}
	}
}

func sampleHeap(st *importStats) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	if m.HeapInuse > st.peakHeap.Load() {
		st.peakHeap.Store(m.HeapInuse)
	}
}

// rowSource streams the rows of an export file.
type rowSource struct {
	f      *os.File
	format string
}

func openRows(path, format string) (rowSource, error) {
	if format == "" {
		format = "csv"
		if strings.HasSuffix(path, ".jsonl") || strings.HasSuffix(path, ".ndjson") || strings.HasSuffix(path, ".json") {
			format = "jsonl"
		}
	}
	if format != "csv" && format != "jsonl" {
		return rowSource{}, fmt.Errorf("import conversions: --format must be csv or jsonl")
	}
	f, err := os.Open(path)
	if err != nil {
		return rowSource{}, fmt.Errorf("import conversions: %w", err)
	}
	return rowSource{f: f, format: format}, nil
}

// Close closes the file.
func (r rowSource) Close() error { return r.f.Close() }

// each calls fn for every row until fn returns false; a row that does not
// parse is passed with its error (reported, not fatal).
func (r rowSource) each(fn func(importJob) bool) error {
	if r.format == "jsonl" {
		return eachJSONLine(r.f, fn)
	}
	return eachCSVRow(r.f, fn)
}

func eachJSONLine(rd io.Reader, fn func(importJob) bool) error {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		j := importJob{line: line}
		if err := json.Unmarshal(sc.Bytes(), &j.in); err != nil {
			j.err = fmt.Errorf("malformed JSON: %w", err)
		}
		if !fn(j) {
			return nil
		}
	}
	return sc.Err()
}

// csvColumns are the CSV header names (any order; unknown ones refused).
var csvColumns = []string{"source", "external_id", "type", "customer_id", "phone", "openid", "unionid", "visitor_id",
	"amount_fen", "product_code", "channel", "sub_channel", "occurred_at", "invitation_code", "rmref_t"}

func eachCSVRow(rd io.Reader, fn func(importJob) bool) error {
	cr := csv.NewReader(bufio.NewReader(rd))
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("import conversions: header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if !contains(csvColumns, h) {
			return fmt.Errorf("import conversions: unknown column %q", h)
		}
		col[h] = i
	}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		j := importJob{line: line}
		if err != nil {
			j.err = err
		} else {
			j.in, j.err = csvConversion(rec, col)
		}
		if !fn(j) {
			return nil
		}
	}
}

func csvConversion(rec []string, col map[string]int) (attribution.ConversionInput, error) {
	get := func(k string) string {
		if i, ok := col[k]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	in := attribution.ConversionInput{Source: get("source"), ExternalID: get("external_id"), Type: get("type"), ProductCode: get("product_code"),
		Channel: get("channel"), SubChannel: get("sub_channel"), InvitationCode: get("invitation_code"), ReferralToken: get("rmref_t"),
		Customer: customer.Identifiers{CustomerID: get("customer_id"), Phone: get("phone"), OpenID: get("openid"), UnionID: get("unionid"), VisitorID: get("visitor_id")}}
	if v := get("amount_fen"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return in, errors.New("amount_fen: must be an integer")
		}
		in.AmountFen = &n
	}
	if v := get("occurred_at"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return in, errors.New("occurred_at: must be an RFC 3339 instant")
		}
		in.OccurredAt = &t
	}
	return in, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
