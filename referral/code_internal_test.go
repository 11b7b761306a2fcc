package referral

import "testing"

// TestQuasigroupTotallyAntiSymmetric proves, over all 32×32(×32) cases,
// that op is a quasigroup (rows and columns are permutations) and totally
// anti-symmetric: (c∘x)∘y = (c∘y)∘x only when x = y.
func TestQuasigroupTotallyAntiSymmetric(t *testing.T) {
	for x := range 32 {
		row, col := map[int]bool{}, map[int]bool{}
		for y := range 32 {
			row[op(x, y)] = true
			col[op(y, x)] = true
		}
		if len(row) != 32 || len(col) != 32 {
			t.Fatalf("row/column %d is not a permutation", x)
		}
	}
	for c := range 32 {
		for x := range 32 {
			for y := range 32 {
				if x != y && op(op(c, x), y) == op(op(c, y), x) {
					t.Fatalf("(%d∘%d)∘%d = (%d∘%d)∘%d", c, x, y, c, y, x)
				}
			}
		}
	}
}
