package referral

import (
	"crypto/rand"
	"fmt"
)

// CodeLen is the length of an invitation code: 7 random symbols and 1
// check symbol.
const CodeLen = 8

// maxCodeInput bounds what ParseCode even looks at: a code written with
// generous spacing and hyphens still fits, anything longer is refused
// before any work (or any database access) is done.
const maxCodeInput = 32

// alphabet is Crockford's base32: digits and letters without I, L, O, U.
const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// symbolValue maps an input byte to its value (0..31), or -1. Lower case
// is read as upper case, O as 0, I and L as 1 (Crockford's reading).
var symbolValue = func() [256]int8 {
	var t [256]int8
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(alphabet); i++ {
		c := alphabet[i]
		t[c] = int8(i)
		if c >= 'A' && c <= 'Z' {
			t[c+'a'-'A'] = int8(i)
		}
	}
	t['O'], t['o'] = 0, 0
	t['I'], t['i'], t['L'], t['l'] = 1, 1, 1, 1
	return t
}()

// gfMul2 multiplies by x in GF(2^5) modulo the primitive polynomial
// x^5 + x^2 + 1.
func gfMul2(v int) int {
	v <<= 1
	if v&0x20 != 0 {
		v ^= 0x25
	}
	return v
}

// op is the quasigroup x∘y = 2x ⊕ y over GF(2^5). Every row and column is
// a permutation (2 ≠ 0 is invertible), and it is totally anti-symmetric:
// (c∘x)∘y = (c∘y)∘x gives 2x ⊕ y = 2y ⊕ x, i.e. 3(x ⊕ y) = 0, so x = y,
// because 3 = 2 ⊕ 1 ≠ 0. Damm's algorithm over such a quasigroup detects
// every single-symbol substitution and every adjacent transposition.
func op(x, y int) int { return gfMul2(x) ^ y }

// dammInterim folds values through the quasigroup from 0.
func dammInterim(vals []int) int {
	interim := 0
	for _, v := range vals {
		interim = op(interim, v)
	}
	return interim
}

// checkValue returns the symbol d with interim(vals)∘d = 0, so that a
// whole valid code folds to 0.
func checkValue(vals []int) int {
	return gfMul2(dammInterim(vals)) // 2i ⊕ d = 0 ⇔ d = 2i
}

// NewCode returns a fresh random code: 7 symbols from crypto/rand and the
// check symbol. It carries no sequence and no staff id.
func NewCode() (string, error) {
	var buf [CodeLen - 1]byte
	if _, err := rand.Read(buf[:]); err != nil {
		return "", fmt.Errorf("referral: random code: %w", err)
	}
	vals := make([]int, CodeLen-1)
	out := make([]byte, CodeLen)
	for i, b := range buf {
		vals[i] = int(b & 31) // 256 is a multiple of 32: uniform
		out[i] = alphabet[vals[i]]
	}
	out[CodeLen-1] = alphabet[checkValue(vals)]
	return string(out), nil
}

// ParseCode reads a code as a person may type it: case-insensitive,
// spaces and hyphens ignored, O read as 0 and I/L as 1. It returns the
// canonical 8-symbol form, or ErrBadCode for anything else: wrong length,
// foreign characters (including non-ASCII), or a failed check symbol.
func ParseCode(s string) (string, error) {
	if len(s) > maxCodeInput {
		return "", ErrBadCode
	}
	out := make([]byte, 0, CodeLen)
	vals := make([]int, 0, CodeLen)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' || c == '-' {
			continue
		}
		v := symbolValue[c]
		if v < 0 || len(out) == CodeLen {
			return "", ErrBadCode
		}
		out = append(out, alphabet[v])
		vals = append(vals, int(v))
	}
	if len(out) != CodeLen || dammInterim(vals) != 0 {
		return "", ErrBadCode
	}
	return string(out), nil
}

// FormatCode groups a canonical code for people: "ABCD-EFGH".
func FormatCode(code string) string {
	if len(code) != CodeLen {
		return code
	}
	return code[:4] + "-" + code[4:]
}
