package rewards

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"rmref/internal/auth"
)

// Payroll exports of a settlement batch, streamed line by line.

// csvBOM makes Excel open the UTF-8 file with Chinese names intact.
const csvBOM = "\ufeff"

var csvHeader = []string{"employee_no", "name", "unit_path", "cash_fen", "cash_yuan", "points",
	"clawback_fen", "clawback_points", "owed_fen", "owed_points", "lines"}

// WriteBatchCSV writes a batch as CSV (UTF-8 with a BOM, one row per staff
// member, clawbacks already netted).
func (s *Incentives) WriteBatchCSV(ctx context.Context, p auth.Principal, id int64, w io.Writer) error {
	if _, err := io.WriteString(w, csvBOM); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	err := s.EachLine(ctx, p, id, func(l SettlementLine) error {
		return cw.Write([]string{l.EmployeeNo, l.Name, l.UnitPath, i64(l.CashFen), Yuan(l.CashFen), i64(l.Points),
			i64(l.ClawbackFen), i64(l.ClawbackPoints), i64(l.OwedFen), i64(l.OwedPoints), strconv.Itoa(l.Lines)})
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// WriteBatchJSONL writes a batch as JSON lines, one object per staff member.
func (s *Incentives) WriteBatchJSONL(ctx context.Context, p auth.Principal, id int64, w io.Writer) error {
	enc := json.NewEncoder(w)
	return s.EachLine(ctx, p, id, func(l SettlementLine) error { return enc.Encode(l) })
}

// Yuan formats fen as yuan with two decimals, exactly ("-" for negatives).
func Yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}

func i64(n int64) string { return strconv.FormatInt(n, 10) }
