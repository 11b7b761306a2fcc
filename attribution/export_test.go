package attribution

// Incrementals is how many staff boards were updated rather than rebuilt.
func Incrementals() int64 { return incrementals.Load() }
