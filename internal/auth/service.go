package auth

import (
	"time"

	"rmref/internal/clock"
	"rmref/internal/db"
)

// Lockout and activation rules (API.md).
const (
	MaxLoginFailures  = 5
	LockoutWindow     = 15 * time.Minute
	LockoutDuration   = 15 * time.Minute
	ActivationCodeTTL = 72 * time.Hour
)

// Service signs staff in (login, refresh, logout, activation) and manages
// service clients. Every change it makes is audited in the same transaction.
type Service struct {
	DB         *db.DB
	Tokens     *Tokens
	Clock      clock.Clock
	RefreshTTL time.Duration // lifetime of each refresh token (default 30 days)
	MasterKey  []byte        // derives service-client secrets (config HashKey)
	BcryptCost int           // 0: bcrypt.DefaultCost
}

func (s *Service) refreshTTL() time.Duration {
	if s.RefreshTTL <= 0 {
		return 30 * 24 * time.Hour
	}
	return s.RefreshTTL
}

// Session is what a successful login or refresh returns.
type Session struct {
	AccessToken      string    `json:"access_token"`
	TokenType        string    `json:"token_type"`
	ExpiresAt        time.Time `json:"expires_at"`
	ExpiresIn        int64     `json:"expires_in"`
	RefreshToken     string    `json:"refresh_token"`
	RefreshExpiresAt time.Time `json:"refresh_expires_at"`
	StaffID          int64     `json:"staff_id,string"`
	EmployeeNo       string    `json:"employee_no"`
}
