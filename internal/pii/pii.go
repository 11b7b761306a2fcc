// Package pii keeps phone and ID numbers out of the database in clear: it
// normalises them, hashes them with a keyed hash for matching, and masks
// them (and names) for display.
package pii

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"unicode/utf8"
)

// ErrBadPhone reports a phone number that cannot be normalised.
var ErrBadPhone = errors.New("not a phone number")

// Hasher computes keyed hashes (HMAC-SHA256) of personal identifiers.
type Hasher struct{ key []byte }

// NewHasher returns a hasher with the given secret key.
func NewHasher(key []byte) *Hasher { return &Hasher{key: append([]byte(nil), key...)} }

// Hash returns the lowercase hex HMAC of kind and value; the kind keeps a
// phone and an ID number with the same digits apart.
func (h *Hasher) Hash(kind, value string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}

// Phone normalises a phone number and returns its keyed hash.
func (h *Hasher) Phone(raw string) (string, error) {
	e164, err := NormalizePhone(raw)
	if err != nil {
		return "", err
	}
	return h.Hash("phone", e164), nil
}

// IDNumber returns the keyed hash of an ID number (upper-cased, spaces removed).
func (h *Hasher) IDNumber(raw string) string {
	return h.Hash("id", strings.ToUpper(strings.Join(strings.Fields(raw), "")))
}

// NormalizePhone returns raw in E.164 form, assuming +86 when no country
// code is given: "138 0013 8000", "+8613800138000" and "8613800138000" all
// give "+8613800138000".
func NormalizePhone(raw string) (string, error) {
	var b strings.Builder
	plus := false
	for i, r := range strings.TrimSpace(raw) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			plus = true
		case r == ' ' || r == '-' || r == '(' || r == ')':
		default:
			return "", ErrBadPhone
		}
	}
	d := b.String()
	switch {
	case plus:
	case strings.HasPrefix(d, "00"):
		d = d[2:]
	case len(d) == 11 && d[0] == '1':
		d = "86" + d
	case len(d) == 13 && strings.HasPrefix(d, "86"):
	default:
		return "", ErrBadPhone
	}
	if len(d) < 8 || len(d) > 15 || d[0] == '0' {
		return "", ErrBadPhone
	}
	return "+" + d, nil
}

// MaskPhone shows the first three and last four digits of the national
// number: "+8613812345678" → "138****5678".
func MaskPhone(raw string) string {
	e, err := NormalizePhone(raw)
	if err != nil {
		return "****"
	}
	n := strings.TrimPrefix(e, "+86")
	if len(n) < 8 {
		return "****"
	}
	return n[:3] + strings.Repeat("*", len(n)-7) + n[len(n)-4:]
}

// MaskName hides the middle of a name: "张三明" → "张*明", "张三" → "张*",
// "Alice" → "A***e".
func MaskName(name string) string {
	rs := []rune(strings.TrimSpace(name))
	switch n := len(rs); {
	case n == 0:
		return ""
	case n == 1:
		return "*"
	case n == 2:
		return string(rs[0]) + "*"
	default:
		return string(rs[0]) + strings.Repeat("*", n-2) + string(rs[n-1])
	}
}

// MaskID shows the first 3 and last 4 characters of an ID number.
func MaskID(raw string) string {
	s := strings.ToUpper(strings.Join(strings.Fields(raw), ""))
	if utf8.RuneCountInString(s) < 8 {
		return "****"
	}
	return s[:3] + strings.Repeat("*", len(s)-7) + s[len(s)-4:]
}
