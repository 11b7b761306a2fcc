package pii_test

import (
	"testing"

	"rmref/internal/pii"
)

func TestNormalizePhone(t *testing.T) {
	for _, in := range []string{"138 0013 8000", "+8613800138000", "8613800138000", "13800138000", "0086 138-0013-8000"} {
		got, err := pii.NormalizePhone(in)
		if err != nil || got != "+8613800138000" {
			t.Errorf("NormalizePhone(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "abc", "12345", "+86 138 0013 8000 x1", "0138"} {
		if got, err := pii.NormalizePhone(in); err == nil {
			t.Errorf("NormalizePhone(%q) = %q, want error", in, got)
		}
	}
}

func TestHashMatchesAcrossForms(t *testing.T) {
	h := pii.NewHasher([]byte("k"))
	a, _ := h.Phone("138 0013 8000")
	b, _ := h.Phone("+8613800138000")
	if a != b || len(a) != 64 {
		t.Fatalf("hashes differ: %s %s", a, b)
	}
	c, _ := pii.NewHasher([]byte("other")).Phone("13800138000")
	if c == a {
		t.Fatal("hash does not depend on the key")
	}
}

func TestMasks(t *testing.T) {
	if got := pii.MaskPhone("13812345678"); got != "138****5678" {
		t.Errorf("MaskPhone = %q", got)
	}
	for in, want := range map[string]string{"张三明": "张*明", "张三": "张*", "欧阳娜娜": "欧**娜", "王": "*"} {
		if got := pii.MaskName(in); got != want {
			t.Errorf("MaskName(%q) = %q, want %q", in, got, want)
		}
	}
}
