package auth_test

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"rmref/internal/apperr"
	"rmref/internal/auth"
)

func TestValidatePassword(t *testing.T) {
	cases := []struct {
		name, password string
		ok             bool
	}{
		{"ten characters", "abcdefghij", true},
		{"ten CJK characters", "春眠不觉晓处处闻啼鸟", true},
		{"nine characters", "abcdefghi", false},
		{"contains employee number", "xxE1001xxxx", false},
		{"contains it in another case", "xxe1001xxxx", false},
		{"over 72 bytes", strings.Repeat("a", 73), false},
		{"72 bytes", strings.Repeat("a", 72), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := auth.ValidatePassword(tc.password, "E1001")
			if (err == nil) != tc.ok {
				t.Fatalf("ValidatePassword(%q) = %v, want ok=%v", tc.password, err, tc.ok)
			}
			if err != nil {
				if e, _ := apperr.As(err); e.Kind != apperr.Invalid || e.Fields[0].Field != "password" {
					t.Errorf("error = %#v, want Invalid naming password", e)
				}
			}
		})
	}
}

func TestCheckPassword(t *testing.T) {
	h, err := auth.HashPassword("correct horse battery", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if !auth.CheckPassword(h, "correct horse battery") {
		t.Error("right password refused")
	}
	if auth.CheckPassword(h, "correct horse batterY") {
		t.Error("wrong password accepted")
	}
	if auth.CheckPassword("", "") {
		t.Error("empty hash accepted")
	}
}

func TestClientSecretRotates(t *testing.T) {
	master := []byte("master-key-0123456789")
	a, b := auth.ClientSecret(master, "k_1", "salt-a"), auth.ClientSecret(master, "k_1", "salt-b")
	if a == b || a != auth.ClientSecret(master, "k_1", "salt-a") || a == auth.ClientSecret(master, "k_2", "salt-a") {
		t.Error("client secret must depend on key id and salt, deterministically")
	}
}
