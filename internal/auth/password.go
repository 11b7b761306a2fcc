package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"rmref/internal/apperr"
)

// MinPasswordLen is the shortest password a staff member may set (API.md).
const MinPasswordLen = 10

// maxPasswordBytes is bcrypt's input limit; longer passwords are refused
// rather than silently truncated.
const maxPasswordBytes = 72

// HashPassword returns the bcrypt hash of password.
func HashPassword(password string, cost int) (string, error) {
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", fmt.Errorf("auth: hash password: %w", err)
	}
	return string(h), nil
}

// dummyHash is compared against when the employee number is unknown, so
// that a wrong employee number costs as long as a wrong password.
// It is made on first use, not at start-up of every binary importing auth.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("rmref-no-such-staff-member"), bcrypt.DefaultCost)
	return h
})

// CheckPassword reports whether password matches the bcrypt hash; an empty
// hash (no password set yet) never matches but costs the same time.
func CheckPassword(hash, password string) bool {
	if hash == "" {
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// ValidatePassword checks the password rules (API.md): at least 10
// characters, at most 72 bytes, and not containing the employee number.
func ValidatePassword(password, employeeNo string) error {
	switch {
	case utf8.RuneCountInString(password) < MinPasswordLen:
		return apperr.Field("password", fmt.Sprintf("must be at least %d characters", MinPasswordLen))
	case len(password) > maxPasswordBytes:
		return apperr.Field("password", fmt.Sprintf("must be at most %d bytes", maxPasswordBytes))
	case employeeNo != "" && strings.Contains(strings.ToLower(password), strings.ToLower(employeeNo)):
		return apperr.Field("password", "must not contain the employee number")
	}
	return nil
}

// randomToken returns n random bytes, base64url-encoded without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("auth: crypto/rand failed: " + err.Error()))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// randomHex returns n random bytes as lowercase hex.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("auth: crypto/rand failed: " + err.Error()))
	}
	return hex.EncodeToString(b)
}

// codeEncoding is Crockford's base32 alphabet: no I, L, O or U to misread.
var codeEncoding = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// newActivationCode returns a 16-character code (80 random bits), grouped
// as XXXX-XXXX-XXXX-XXXX for reading aloud.
func newActivationCode() string {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("auth: crypto/rand failed: " + err.Error()))
	}
	s := codeEncoding.EncodeToString(b)
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
}

// normalizeCode makes code entry forgiving: case, spaces and dashes are ignored.
func normalizeCode(code string) string {
	r := strings.NewReplacer("-", "", " ", "")
	return strings.ToUpper(r.Replace(strings.TrimSpace(code)))
}

// hashSecret returns hex(sha256(s)): opaque tokens and codes carry enough
// entropy that a fast hash suffices, and only the hash is stored.
func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
