package authn

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// token is a parsed compact JWS, before any check against a provider.
type token struct {
	alg string
	kid string
	// headerSeg is the protected header as in the token (base64url).
	headerSeg string
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
	// The strict decoder refuses every other byte outside the alphabet
	// itself (padding included): only CR and LF need looking for.
	if strings.IndexByte(s, '\n') >= 0 || strings.IndexByte(s, '\r') >= 0 {
		return nil, false
	}
	b, err := b64.DecodeString(s)
	return b, err == nil
}

// parseToken splits and decodes a compact token, checking its structure in
// the order Envoy's jwt_verify_lib does, so the first problem found gives
// the same reason. A header that known (which may be nil) remembers is
// not decoded again.
func parseToken(raw string, known *headerMemo) (*token, *Error) {
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
	t := &token{headerSeg: raw[:d1], signingInput: raw[:d2], payloadSeg: raw[d1+1 : d2]}
	if h, ok := known.lookup(t.headerSeg); ok {
		t.alg, t.kid = h.alg, h.kid
	} else if e := t.parseHeader(); e != nil {
		return nil, e
	}
	if e := t.parseRest(raw[d2+1:]); e != nil {
		return nil, e
	}
	return t, nil
}

// parseHeader decodes the protected header: alg, kid, and no crit.
func (t *token) parseHeader() *Error {
	hb, ok := decodeSegment(t.headerSeg)
	if !ok {
		return ErrHeaderBase64
	}
	var hdr map[string]any
	if err := json.Unmarshal(hb, &hdr); err != nil || hdr == nil || checkUniqueNames(hb) != nil {
		return ErrHeaderJSON
	}
	alg, ok := hdr["alg"].(string)
	if !ok {
		return ErrAlgMissing
	}
	if !supportedAlgs[alg] {
		return ErrAlgUnsupported
	}
	t.alg = alg
	if v, present := hdr["kid"]; present {
		kid, ok := v.(string)
		if !ok {
			return ErrKidNotString
		}
		t.kid = kid
	}
	if _, present := hdr["crit"]; present {
		return ErrCrit
	}
	return nil
}

// parseRest decodes the payload and its registered claims, then the
// signature sigSeg.
func (t *token) parseRest(sigSeg string) *Error {
	pb, ok := decodeSegment(t.payloadSeg)
	if !ok {
		return ErrPayloadBase64
	}
	claims, err := decodeObject(pb)
	if err != nil {
		return ErrPayloadJSON
	}
	t.claims = claims
	if e := t.readClaims(); e != nil {
		return e
	}
	sig, ok := decodeSegment(sigSeg)
	if !ok {
		return ErrSignatureBase64
	}
	t.sig = sig
	return nil
}

// decodeObject decodes one JSON object, numbers as json.Number, and
// rejects anything after it but white space, and duplicate member names.
func decodeObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
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
	if err := checkUniqueNames(b); err != nil {
		return nil, err
	}
	return m, nil
}

// checkUniqueNames rejects JSON text in which an object, at any depth, has
// two members of the same name (compared after unescaping, so "sub" and
// "\u0073ub" are the same). encoding/json would keep the last one, while
// another parser (the upstream's, reading the payload header) may keep the
// first: RFC 7515 section 5.2 and RFC 7519 section 4 allow rejecting such
// tokens, and rejecting leaves no room for the two to disagree.
//
// b must be valid JSON (the caller has decoded it): the scan only tracks
// nesting and strings, and allocates nothing for small objects.
func checkUniqueNames(b []byte) error {
	type frame struct {
		obj   bool
		start int                 // this object's names start at names[start]
		set   map[string]struct{} // built once an object has many names
	}
	var fbuf [8]frame
	var nbuf [32][]byte
	stack, names := fbuf[:0], nbuf[:0]
	for i := 0; i < len(b); {
		switch b[i] {
		case '{', '[':
			stack = append(stack, frame{obj: b[i] == '{', start: len(names)})
			i++
		case '}', ']':
			if n := len(stack); n > 0 {
				names = names[:stack[n-1].start]
				stack = stack[:n-1]
			}
			i++
		case '"':
			j, esc := i+1, false
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					esc = true
					j++
				}
				j++
			}
			if j >= len(b) {
				return errors.New("unterminated string")
			}
			name, quoted := b[i+1:j], b[i:j+1]
			i = j + 1
			k := i
			for k < len(b) && (b[k] == ' ' || b[k] == '\t' || b[k] == '\n' || b[k] == '\r') {
				k++
			}
			n := len(stack)
			if n == 0 || !stack[n-1].obj || k >= len(b) || b[k] != ':' {
				continue // a value, not a member name
			}
			if esc || !utf8.Valid(name) {
				// encoding/json unescapes, and turns invalid UTF-8
				// into U+FFFD: compare the names it will see.
				var u string
				if err := json.Unmarshal(quoted, &u); err != nil {
					return err
				}
				name = []byte(u)
			}
			top := &stack[n-1]
			if top.set != nil {
				if _, dup := top.set[string(name)]; dup {
					return fmt.Errorf("duplicate member name %q", name)
				}
				top.set[string(name)] = struct{}{}
				continue
			}
			for _, seen := range names[top.start:] {
				if bytes.Equal(seen, name) {
					return fmt.Errorf("duplicate member name %q", name)
				}
			}
			names = append(names, name)
			if len(names)-top.start > 32 {
				top.set = make(map[string]struct{}, 64)
				for _, seen := range names[top.start:] {
					top.set[string(seen)] = struct{}{}
				}
			}
		default:
			i++
		}
	}
	return nil
}

// readClaims checks the types RFC 7519 gives the registered claims, in
// the order Envoy's jwt_verify_lib checks them: iss, sub and jti strings;
// iat, nbf and exp NumericDates (whole numbers here, as in Envoy); aud a
// string or a list of strings. A claim that is present with another type
// (null included) makes the token invalid.
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
	if v, ok := c["jti"]; ok {
		if _, ok := v.(string); !ok {
			return ErrJtiNotString
		}
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
	i, whole, inRange := wholeNumber(string(n))
	if !whole {
		return 0, false, notInt
	}
	if !inRange {
		return 0, false, notPos
	}
	return i, true, nil
}

// wholeNumber reads a JSON number exactly, in decimal, never through a
// float64 (which would round 9999999999.9999999 to a whole number): whole
// reports whether it has no fractional part, inRange whether it is also
// from 0 to the largest signed 64-bit integer, and then i is its value.
func wholeNumber(s string) (i int64, whole, inRange bool) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	mant, exp := s, int64(0)
	if k := strings.IndexAny(s, "eE"); k >= 0 {
		mant = s[:k]
		es := s[k+1:]
		e, err := strconv.ParseInt(es, 10, 64)
		if err != nil || e > 1<<40 || e < -(1<<40) {
			// An exponent this large only matters through its sign.
			e = 1 << 40
			if strings.HasPrefix(es, "-") {
				e = -e
			}
		}
		exp = e
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(intPart+frac, "0")
	exp -= int64(len(frac))
	for len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
		exp++
	}
	switch {
	case digits == "":
		return 0, true, true // zero, -0 included
	case exp < 0:
		return 0, false, false
	case neg, int64(len(digits))+exp > 19:
		return 0, true, false
	}
	n, err := strconv.ParseInt(digits+strings.Repeat("0", int(exp)), 10, 64)
	if err != nil {
		return 0, true, false
	}
	return n, true, true
}
