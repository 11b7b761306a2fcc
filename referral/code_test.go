package referral_test

import (
	"errors"
	"strings"
	"testing"

	"rmref/referral"
)

const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

func newCode(t testing.TB) string {
	t.Helper()
	c, err := referral.NewCode()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCheckSymbolRejectsTyposAndSwaps: for many random codes, every
// single-symbol substitution (8 positions × 31 symbols) and every swap of
// two different adjacent symbols fails the check.
func TestCheckSymbolRejectsTyposAndSwaps(t *testing.T) {
	for range 2000 {
		code := newCode(t)
		if got, err := referral.ParseCode(code); err != nil || got != code {
			t.Fatalf("ParseCode(%s) = %q, %v", code, got, err)
		}
		for i := range len(code) {
			for _, r := range alphabet {
				if byte(r) == code[i] {
					continue
				}
				typo := code[:i] + string(r) + code[i+1:]
				if _, err := referral.ParseCode(typo); err == nil {
					t.Fatalf("substitution %s → %s accepted", code, typo)
				}
			}
		}
		for i := 0; i+1 < len(code); i++ {
			if code[i] == code[i+1] {
				continue
			}
			b := []byte(code)
			b[i], b[i+1] = b[i+1], b[i]
			if _, err := referral.ParseCode(string(b)); err == nil {
				t.Fatalf("swap %s → %s accepted", code, b)
			}
		}
	}
}

func TestCodeShapeAndUniqueness(t *testing.T) {
	seen := map[string]bool{}
	for range 10000 {
		c := newCode(t)
		if len(c) != 8 || strings.Trim(c, alphabet) != "" {
			t.Fatalf("code %q is not 8 Crockford symbols", c)
		}
		if seen[c] {
			t.Fatalf("duplicate code %s in 10000 draws", c)
		}
		seen[c] = true
	}
}

func TestParseCodeReadsLikeAPerson(t *testing.T) {
	code := newCode(t)
	// build a code with 0 and 1 in it to test O/I/L reading
	var withOnes string
	for withOnes == "" {
		c := newCode(t)
		if strings.ContainsAny(c[:7], "01") {
			withOnes = c
		}
	}
	lookalike := strings.NewReplacer("0", "o", "1", "l").Replace(withOnes)
	lookalikeI := strings.NewReplacer("0", "O", "1", "I").Replace(withOnes)
	cases := []struct{ in, want string }{
		{strings.ToLower(code), code},
		{code[:4] + "-" + code[4:], code},
		{" " + code[:2] + " " + code[2:5] + " - " + code[5:] + " ", code},
		{lookalike, withOnes},
		{lookalikeI, withOnes},
		{referral.FormatCode(code), code},
	}
	for _, tc := range cases {
		got, err := referral.ParseCode(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseCode(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestParseCodeRejectsMalformed(t *testing.T) {
	code := newCode(t)
	bad := []string{
		"", code[:7], code + "0", strings.Repeat(code, 5), code[:7] + "U",
		code[:4] + "é" + code[5:], "' OR 1=1 --", "../../etc/passwd", code[:7] + "\x00",
		"<script>", "ＡＢＣＤＥＦＧＨ", code[:4] + "_" + code[4:], code[:4] + "\t" + code[4:],
	}
	for _, in := range bad {
		if _, err := referral.ParseCode(in); !errors.Is(err, referral.ErrBadCode) {
			t.Errorf("ParseCode(%q) = %v, want ErrBadCode", in, err)
		}
	}
}

func FuzzParseCode(f *testing.F) {
	for _, s := range []string{"", "ABCD-EFGH", "abcdefgh", "0O1IL", "' OR 1=1 --", "张三明", strings.Repeat("A", 100), "\xff\xfe"} {
		f.Add(s)
	}
	f.Add(newCode(f))
	f.Fuzz(func(t *testing.T, s string) {
		got, err := referral.ParseCode(s)
		if err != nil {
			if !errors.Is(err, referral.ErrBadCode) {
				t.Fatalf("ParseCode(%q): unexpected error %v", s, err)
			}
			return
		}
		if len(s) > 32 || len(got) != 8 || strings.Trim(got, alphabet) != "" {
			t.Fatalf("ParseCode(%q) accepted %q", s, got)
		}
		if again, err := referral.ParseCode(got); err != nil || again != got {
			t.Fatalf("canonical form %q does not parse to itself", got)
		}
	})
}
