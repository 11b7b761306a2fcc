package referral

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"sync"
	"time"
)

// TokenParam is the query parameter that carries the referral token to the
// landing page.
const TokenParam = "rmref_t"

const (
	tokenVersion = 1
	clickIDLen   = 12 // random bytes of a click id
	macLen       = 16 // truncated HMAC-SHA256
)

// Token is the content of a signed referral token: which click, code,
// campaign and channel sent the visitor, and when. Counted is false when
// the click was recorded but does not count (a bot, a self-click, a burst).
type Token struct {
	ClickID    string
	Code       string
	CampaignID int64
	Channel    Channel
	At         time.Time // whole seconds
	Counted    bool
}

// tokenKey derives the token-signing key from the configured hash key, so
// that the two secrets never coincide.
func tokenKey(hashKey []byte) []byte {
	m := hmac.New(sha256.New, hashKey)
	m.Write([]byte("rmref referral token v1"))
	return m.Sum(nil)
}

// SignToken encodes and signs t: version, flags, click id, code (5 bytes),
// campaign and time as varints, channel, then a 128-bit HMAC; base64url,
// about 60 characters.
func SignToken(hashKey []byte, t Token) (string, error) {
	b, err := encodeToken(t)
	if err != nil {
		return "", err
	}
	b = append(b, mac(hashKey, b)...)
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func encodeToken(t Token) ([]byte, error) {
	cid, err := base64.RawURLEncoding.DecodeString(t.ClickID)
	if err != nil || len(cid) != clickIDLen {
		return nil, ErrBadToken
	}
	code, ok := packCode(t.Code)
	if !ok || channelIndex(t.Channel) < 0 || t.CampaignID < 0 {
		return nil, ErrBadToken
	}
	b := make([]byte, 0, 64)
	flags := byte(0)
	if t.Counted {
		flags = 1
	}
	b = append(b, tokenVersion, flags)
	b = append(b, cid...)
	b = append(b, code[:]...)
	b = binary.AppendUvarint(b, uint64(t.CampaignID))
	b = binary.AppendVarint(b, t.At.Unix())
	b = append(b, byte(channelIndex(t.Channel)))
	return b, nil
}

func mac(hashKey, msg []byte) []byte {
	m := hmac.New(sha256.New, tokenKey(hashKey))
	m.Write(msg)
	return m.Sum(nil)[:macLen]
}

// tokenSigner signs tokens as SignToken does, with the signing key derived
// once and HMAC states reused (the redirect signs one token per click).
type tokenSigner struct{ macs sync.Pool }

func newTokenSigner(hashKey []byte) *tokenSigner {
	key := tokenKey(hashKey)
	return &tokenSigner{macs: sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

func (s *tokenSigner) sign(t Token) (string, error) {
	b, err := encodeToken(t)
	if err != nil {
		return "", err
	}
	m := s.macs.Get().(hash.Hash)
	m.Reset()
	m.Write(b)
	var sum [sha256.Size]byte
	m.Sum(sum[:0])
	s.macs.Put(m)
	b = append(b, sum[:macLen]...)
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// keyedHasher computes what pii.Hasher's Hash does (lower-case hex
// HMAC-SHA256 of kind, a zero byte and value) with reused HMAC states.
type keyedHasher struct{ macs sync.Pool }

func newKeyedHasher(key []byte) *keyedHasher {
	key = append([]byte(nil), key...)
	return &keyedHasher{macs: sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

func (h *keyedHasher) Hash(kind, value string) string {
	m := h.macs.Get().(hash.Hash)
	m.Reset()
	buf := make([]byte, 0, 64)
	buf = append(append(append(buf, kind...), 0), value...)
	m.Write(buf)
	var sum [sha256.Size]byte
	m.Sum(sum[:0])
	h.macs.Put(m)
	return hex.EncodeToString(sum[:])
}

// VerifyToken checks a token's signature and decodes it, without any
// database read. Any malformed or forged token is ErrBadToken.
func VerifyToken(hashKey []byte, s string) (Token, error) {
	if len(s) > 128 {
		return Token{}, ErrBadToken
	}
	// Strict: the last character's unused bits must be zero, so that no two
	// strings carry one token (a changed character is always a bad token).
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) < 2+clickIDLen+5+3+macLen {
		return Token{}, ErrBadToken
	}
	body, sig := b[:len(b)-macLen], b[len(b)-macLen:]
	if !hmac.Equal(sig, mac(hashKey, body)) || body[0] != tokenVersion {
		return Token{}, ErrBadToken
	}
	return decodeToken(body)
}

func decodeToken(body []byte) (Token, error) {
	t := Token{Counted: body[1]&1 == 1}
	t.ClickID = base64.RawURLEncoding.EncodeToString(body[2 : 2+clickIDLen])
	rest := body[2+clickIDLen:]
	var code [5]byte
	copy(code[:], rest[:5])
	t.Code = unpackCode(code)
	rest = rest[5:]
	camp, n := binary.Uvarint(rest)
	if n <= 0 {
		return Token{}, ErrBadToken
	}
	rest = rest[n:]
	at, n := binary.Varint(rest)
	if n <= 0 || len(rest[n:]) != 1 || int(rest[n]) >= len(Channels) {
		return Token{}, ErrBadToken
	}
	t.CampaignID, t.At, t.Channel = int64(camp), time.Unix(at, 0).UTC(), Channels[rest[n]]
	return t, nil
}

// packCode packs 8 canonical symbols (5 bits each) into 5 bytes.
func packCode(code string) ([5]byte, bool) {
	var out [5]byte
	if len(code) != CodeLen {
		return out, false
	}
	var v uint64
	for i := 0; i < CodeLen; i++ {
		s := symbolValue[code[i]]
		if s < 0 || alphabet[s] != code[i] {
			return out, false
		}
		v = v<<5 | uint64(s)
	}
	for i := 4; i >= 0; i-- {
		out[i] = byte(v)
		v >>= 8
	}
	return out, true
}

func unpackCode(b [5]byte) string {
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	out := make([]byte, CodeLen)
	for i := CodeLen - 1; i >= 0; i-- {
		out[i] = alphabet[v&31]
		v >>= 5
	}
	return string(out)
}
