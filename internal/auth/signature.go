package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// Signature headers of service clients (see API.md).
const (
	HeaderKey       = "X-Rmref-Key"
	HeaderTimestamp = "X-Rmref-Timestamp"
	HeaderSignature = "X-Rmref-Signature"
	// SignatureWindow is how far a request's timestamp may be from the server clock.
	SignatureWindow = 300 * time.Second
)

// SignRequest returns the lowercase hex HMAC-SHA256 signature of a request:
// METHOD \n PATH_WITH_QUERY \n TIMESTAMP \n hex(sha256(body)).
func SignRequest(secret, method, pathWithQuery string, ts int64, body []byte) string {
	sum := sha256.Sum256(body)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(method + "\n" + pathWithQuery + "\n" + strconv.FormatInt(ts, 10) + "\n" + hex.EncodeToString(sum[:])))
	return hex.EncodeToString(m.Sum(nil))
}

// ClientSecret derives a client's secret from the server's master key, the
// key id and the client's salt, so secrets are never stored: a database
// dump alone does not let anyone sign requests. Rotation changes the salt.
func ClientSecret(master []byte, keyID, salt string) string {
	m := hmac.New(sha256.New, master)
	m.Write([]byte("rmref-client-secret\x00" + keyID + "\x00" + salt))
	return hex.EncodeToString(m.Sum(nil))
}

// ValidSignature compares signatures in constant time.
func ValidSignature(want, got string) bool {
	return hmac.Equal([]byte(want), []byte(got))
}
