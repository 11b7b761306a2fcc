package rewards

// SetSettleChunk lets tests settle a few staff members at a time; it
// returns a function that restores the default.
func SetSettleChunk(n int) func() {
	old := settleChunk
	settleChunk = n
	return func() { settleChunk = old }
}
