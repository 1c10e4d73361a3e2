package authn

import (
	"context"
	"encoding/base64"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/model"
)

// TestHeaderMemo checks that only verified tokens' headers are
// remembered, that a remembered header decides what decoding it would,
// and that the memo stays bounded.
func TestHeaderMemo(t *testing.T) {
	keys(t)
	p := newTestProvider(t, model.Provider{Issuer: testIssuer, JWKS: model.KeySource{Inline: allKeysJWKS(t)}})
	ctx := context.Background()
	good := mint(t, "RS256", "rsa1", rsaKey, claims(), nil)
	forged := mint(t, "RS256", "forged-kid", rsaKey, claims(), nil)
	forged = forged[:strings.LastIndexByte(forged, '.')+1] + "AAAA"

	if _, err := p.Verify(ctx, forged); err == nil {
		t.Fatal("a forged token verified")
	}
	if _, ok := p.headers.lookup(forged[:strings.IndexByte(forged, '.')]); ok {
		t.Fatal("the header of a token that did not verify was remembered")
	}
	if _, err := p.Verify(ctx, good); err != nil {
		t.Fatal(err)
	}
	seg := good[:strings.IndexByte(good, '.')]
	h, ok := p.headers.lookup(seg)
	if !ok || h.alg != "RS256" || h.kid != "rsa1" {
		t.Fatalf("verified header: got %+v, %v", h, ok)
	}

	// Another token with the same header verifies through the memo, and
	// the memo does not let a bad payload or signature through.
	other := mint(t, "RS256", "rsa1", rsaKey, claims("sub", "someone-else"), nil)
	if other[:len(seg)] != seg {
		t.Fatal("the test needs two tokens with one header")
	}
	id, err := p.Verify(ctx, other)
	if err != nil || id.Subject != "someone-else" {
		t.Fatalf("second token: %v, %v", id, err)
	}
	for _, bad := range []struct {
		tok  string
		want *Error
	}{
		{seg + ".!!!." + "AAAA", ErrPayloadBase64},
		{seg + "." + b64s([]byte(`{"iss":1}`)) + ".AAAA", ErrIssNotString},
		{other[:strings.LastIndexByte(other, '.')] + ".AAAA", ErrVerificationFail},
	} {
		_, err := p.Verify(ctx, bad.tok)
		wantErr(t, err, bad.want)
	}

	var m headerMemo
	for i := range 3 * headerMemoSize {
		m.remember(&token{headerSeg: fmt.Sprintf("h%d", i), alg: "RS256", kid: fmt.Sprint(i)})
	}
	if n := len(*m.list.Load()); n != headerMemoSize {
		t.Fatalf("memo holds %d headers, want %d", n, headerMemoSize)
	}
	if _, ok := m.lookup("h0"); ok {
		t.Fatal("the oldest header was not replaced")
	}
	if h, ok := m.lookup(fmt.Sprintf("h%d", 3*headerMemoSize-1)); !ok || h.kid != fmt.Sprint(3*headerMemoSize-1) {
		t.Fatalf("newest header: %+v, %v", h, ok)
	}
}

// FuzzParseTokenMemo checks that a remembered header changes nothing: a
// token parses to the same result, or fails with the same error, whether
// its header is decoded or looked up.
func FuzzParseTokenMemo(f *testing.F) {
	keys(f)
	f.Add(mint(f, "RS256", "rsa1", rsaKey, claims(), nil))
	f.Add(b64s([]byte(`{"alg":"RS256","kid":"k"}`)) + "." + b64s([]byte(`{"exp":1e400}`)) + ".AA")
	f.Add(b64s([]byte(`{"alg":"RS256"}`)) + ".e30.A\nA")
	f.Add("eyJhbGciOiJSUzI1NiJ9..")
	f.Fuzz(func(t *testing.T, raw string) {
		plain, perr := parseToken(raw, nil)
		var m headerMemo
		if perr == nil {
			m.remember(plain)
		} else if d1 := strings.IndexByte(raw, '.'); d1 >= 0 {
			// A header that decoded, whatever failed after it.
			h := &token{headerSeg: raw[:d1]}
			if h.parseHeader() == nil {
				m.remember(h)
			}
		}
		memo, merr := parseToken(raw, &m)
		if perr != merr {
			t.Fatalf("error %v without the memo, %v with it", perr, merr)
		}
		if !reflect.DeepEqual(plain, memo) {
			t.Fatalf("token %+v without the memo, %+v with it", plain, memo)
		}
	})
}

// TestDecodeSegment checks the segment decoder against the base64url
// alphabet byte by byte: every byte outside it, CR and LF included, is
// refused.
func TestDecodeSegment(t *testing.T) {
	for c := range 256 {
		in := "QUJD" + string([]byte{byte(c)}) + "QQ"
		_, ok := decodeSegment(in)
		inAlphabet := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		if ok && !inAlphabet {
			t.Errorf("byte %#x accepted", c)
		}
		if inAlphabet {
			// Seven characters of the alphabet decode unless the last
			// carries set padding bits, which the strict decoder refuses.
			if _, err := base64.RawURLEncoding.Strict().DecodeString(in); (err == nil) != ok {
				t.Errorf("byte %#x: ok %v, strict decoder error %v", c, ok, err)
			}
		}
	}
	for _, in := range []string{"QUJD\r\n", "QU\nJD", "QUJD=", "QUJD ", "QU+D", "QU/D"} {
		if _, ok := decodeSegment(in); ok {
			t.Errorf("%q accepted", in)
		}
	}
}
