package authn

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strings"
)

// token is a parsed compact JWS, before any check against a provider.
type token struct {
	alg string
	kid string
	// signingInput is "header.payload" as in the token.
	signingInput string
	payloadSeg   string
	sig          []byte

	claims   map[string]any
	iss, sub string
	azp      string
	hasIss   bool
	aud      []string
	exp, nbf int64
	iat      int64
	hasExp   bool
	hasNbf   bool
	hasIat   bool
}

// supportedAlgs are the JWS algorithms a token may name.
var supportedAlgs = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true,
	"EdDSA": true,
	"HS256": true, "HS384": true, "HS512": true,
}

// b64 decodes base64url without padding, rejecting non-zero trailing bits.
var b64 = base64.RawURLEncoding.Strict()

// decodeSegment decodes one base64url segment. Only the base64url alphabet
// is accepted (the std lib decoder would skip CR and LF).
func decodeSegment(s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return nil, false
		}
	}
	b, err := b64.DecodeString(s)
	return b, err == nil
}

// parseToken splits and decodes a compact token, checking its structure in
// the order Envoy's jwt_verify_lib does, so the first problem found gives
// the same reason.
func parseToken(raw string) (*token, *Error) {
	d1 := strings.IndexByte(raw, '.')
	if d1 < 0 {
		return nil, ErrBadFormat
	}
	d2 := strings.IndexByte(raw[d1+1:], '.')
	if d2 < 0 {
		return nil, ErrBadFormat
	}
	d2 += d1 + 1
	if strings.IndexByte(raw[d2+1:], '.') >= 0 {
		return nil, ErrBadFormat
	}
	t := &token{signingInput: raw[:d2], payloadSeg: raw[d1+1 : d2]}

	hb, ok := decodeSegment(raw[:d1])
	if !ok {
		return nil, ErrHeaderBase64
	}
	var hdr map[string]any
	if err := json.Unmarshal(hb, &hdr); err != nil || hdr == nil {
		return nil, ErrHeaderJSON
	}
	alg, ok := hdr["alg"].(string)
	if !ok {
		return nil, ErrAlgMissing
	}
	if !supportedAlgs[alg] {
		return nil, ErrAlgUnsupported
	}
	t.alg = alg
	if v, present := hdr["kid"]; present {
		kid, ok := v.(string)
		if !ok {
			return nil, ErrKidNotString
		}
		t.kid = kid
	}
	if _, present := hdr["crit"]; present {
		return nil, ErrCrit
	}

	pb, ok := decodeSegment(t.payloadSeg)
	if !ok {
		return nil, ErrPayloadBase64
	}
	claims, err := decodeObject(pb)
	if err != nil {
		return nil, ErrPayloadJSON
	}
	t.claims = claims
	if e := t.readClaims(); e != nil {
		return nil, e
	}

	sig, ok := decodeSegment(raw[d2+1:])
	if !ok {
		return nil, ErrSignatureBase64
	}
	t.sig = sig
	return t, nil
}

// decodeObject decodes one JSON object, numbers as json.Number, and
// rejects anything after it but white space.
func decodeObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("not an object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the object")
	}
	return m, nil
}

// readClaims checks the types of the registered claims Envoy checks.
func (t *token) readClaims() *Error {
	c := t.claims
	if v, ok := c["iss"]; ok {
		s, ok := v.(string)
		if !ok {
			return ErrIssNotString
		}
		t.iss, t.hasIss = s, true
	}
	if v, ok := c["sub"]; ok {
		s, ok := v.(string)
		if !ok {
			return ErrSubNotString
		}
		t.sub = s
	}
	var e *Error
	if t.iat, t.hasIat, e = intClaim(c, "iat", ErrIatNotInteger, ErrIatNotPositive); e != nil {
		return e
	}
	if t.nbf, t.hasNbf, e = intClaim(c, "nbf", ErrNbfNotInteger, ErrNbfNotPositive); e != nil {
		return e
	}
	if t.exp, t.hasExp, e = intClaim(c, "exp", ErrExpNotInteger, ErrExpNotPositive); e != nil {
		return e
	}
	if v, ok := c["aud"]; ok {
		switch a := v.(type) {
		case string:
			t.aud = []string{a}
		case []any:
			t.aud = make([]string, 0, len(a))
			for _, x := range a {
				s, ok := x.(string)
				if !ok {
					return ErrAudNotString
				}
				t.aud = append(t.aud, s)
			}
		default:
			return ErrAudNotString
		}
	}
	if s, ok := c["azp"].(string); ok {
		t.azp = s
	}
	return nil
}

// intClaim reads a NumericDate claim: a JSON number with no fractional
// part, from 0 to the largest signed 64-bit integer.
func intClaim(c map[string]any, name string, notInt, notPos *Error) (int64, bool, *Error) {
	v, ok := c[name]
	if !ok {
		return 0, false, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, false, notInt
	}
	if i, err := n.Int64(); err == nil {
		if i < 0 {
			return 0, false, notPos
		}
		return i, true, nil
	}
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) {
		return 0, false, notPos
	}
	if f != math.Trunc(f) {
		return 0, false, notInt
	}
	if f < 0 || f >= math.MaxInt64 {
		return 0, false, notPos
	}
	return int64(f), true, nil
}
