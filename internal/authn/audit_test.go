package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"jwtgate.dev/jwtgate/internal/model"
)

// signRaw builds a token from literal header and payload JSON, signed
// RS256 with priv, so that the signature is valid and only the JSON is
// under test.
func signRaw(t testing.TB, header, payload string, priv any) string {
	t.Helper()
	input := b64s([]byte(header)) + "." + b64s([]byte(payload))
	sig, err := jwt.SigningMethodRS256.Sign(input, priv)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64s(sig)
}

// hsRaw signs header.payload with HS256 and the given secret.
func hsRaw(t testing.TB, header, payload string, secret []byte) string {
	t.Helper()
	input := b64s([]byte(header)) + "." + b64s([]byte(payload))
	sig, err := jwt.SigningMethodHS256.Sign(input, secret)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64s(sig)
}

// TestParseAttacks signs hostile headers and payloads with the provider's
// own key, so that each case tests the parser and the checks, never a
// signature that happens to be wrong.
func TestParseAttacks(t *testing.T) {
	keys(t)
	exp := testNow.Add(time.Hour).Unix()
	pl := func(extra string) string {
		s := fmt.Sprintf(`{"iss":"https://issuer.test","sub":"alice","aud":"api","exp":%d`, exp)
		if extra != "" {
			s += "," + extra
		}
		return s + "}"
	}
	hs := func(h string) string { return signRaw(t, h, pl(""), rsaKey) }
	ps := func(p string) string { return signRaw(t, `{"alg":"RS256","kid":"rsa1"}`, p, rsaKey) }
	good := ps(pl(""))
	seg := strings.Split(good, ".")

	rsaDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	rsaJWK, _ := json.Marshal(jwk(&rsaKey.PublicKey, "rsa1", ""))
	rsaPEM := []byte(pemPublic(t, &rsaKey.PublicKey))
	pkcs1 := x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)
	attackerJWK, _ := json.Marshal(jwk(&rsaKey2.PublicKey, "", ""))

	cases := []struct {
		name  string
		token string
		want  *Error
	}{
		{"control: valid", good, nil},

		// alg spellings.
		{"alg None", hs(`{"alg":"None"}`), ErrAlgUnsupported},
		{"alg NONE", hs(`{"alg":"NONE"}`), ErrAlgUnsupported},
		{"alg nOnE", hs(`{"alg":"nOnE"}`), ErrAlgUnsupported},
		{"alg none, no signature", b64s([]byte(`{"alg":"none"}`)) + "." + seg[1] + ".", ErrAlgUnsupported},
		{"alg with trailing space", hs(`{"alg":"RS256 "}`), ErrAlgUnsupported},
		{"alg with leading space", hs(`{"alg":" RS256"}`), ErrAlgUnsupported},
		{"alg with a tab", hs(`{"alg":"RS256\t"}`), ErrAlgUnsupported},
		{"alg with a NUL", hs(`{"alg":"RS256\u0000"}`), ErrAlgUnsupported},
		{"alg lower case", hs(`{"alg":"rs256"}`), ErrAlgUnsupported},
		{"alg empty", hs(`{"alg":""}`), ErrAlgUnsupported},
		{"alg null", hs(`{"alg":null}`), ErrAlgMissing},
		{"alg list", hs(`{"alg":["RS256"]}`), ErrAlgMissing},
		{"alg escaped is the same alg", hs(`{"\u0061lg":"RS\u00325\u0036","kid":"rsa1"}`), nil},

		// HS256 signed with the RSA public key in every form.
		{"HS256 with the PEM, kid", hsRaw(t, `{"alg":"HS256","kid":"rsa1"}`, pl(""), rsaPEM), ErrKidAlgMismatch},
		{"HS256 with the PEM, no kid", hsRaw(t, `{"alg":"HS256"}`, pl(""), rsaPEM), ErrKidAlgMismatch},
		{"HS256 with the PKIX DER", hsRaw(t, `{"alg":"HS256"}`, pl(""), rsaDER), ErrKidAlgMismatch},
		{"HS256 with the PKCS#1 DER", hsRaw(t, `{"alg":"HS256"}`, pl(""), pkcs1), ErrKidAlgMismatch},
		{"HS256 with the JWK JSON", hsRaw(t, `{"alg":"HS256","kid":"rsa1"}`, pl(""), rsaJWK), ErrKidAlgMismatch},
		{"HS256 with the modulus", hsRaw(t, `{"alg":"HS256"}`, pl(""), rsaKey.N.Bytes()), ErrKidAlgMismatch},
		{"HS512 with the PEM", mint(t, "HS512", "", rsaPEM, claims(), nil), ErrKidAlgMismatch},

		// kid tricks: the kid only ever selects among configured keys.
		{"kid path traversal", hs(`{"alg":"RS256","kid":"../../../../etc/passwd"}`), ErrKidAlgMismatch},
		{"kid path to own kid", hs(`{"alg":"RS256","kid":"x/../rsa1"}`), ErrKidAlgMismatch},
		{"kid with a NUL", hs(`{"alg":"RS256","kid":"rsa1\u0000"}`), ErrKidAlgMismatch},
		{"kid other case", hs(`{"alg":"RS256","kid":"RSA1"}`), ErrKidAlgMismatch},
		{"kid SQL", hs(`{"alg":"RS256","kid":"' OR 1=1 --"}`), ErrKidAlgMismatch},
		{"kid URL", hs(`{"alg":"RS256","kid":"https://evil.test/key"}`), ErrKidAlgMismatch},
		{"empty kid counts as none", hs(`{"alg":"RS256","kid":""}`), nil},
		{"kid null", hs(`{"alg":"RS256","kid":null}`), ErrKidNotString},

		// Key-carrying headers are ignored: an attacker key never verifies.
		{"embedded jwk, signed by the attacker", signRaw(t, `{"alg":"RS256","jwk":`+string(attackerJWK)+`}`, pl(""), rsaKey2), ErrVerificationFail},
		{"embedded jwk with our kid", signRaw(t, `{"alg":"RS256","kid":"rsa1","jwk":`+string(attackerJWK)+`}`, pl(""), rsaKey2), ErrVerificationFail},
		{"x5c, signed by the attacker", signRaw(t, `{"alg":"RS256","x5c":["MIIB"]}`, pl(""), rsaKey2), ErrVerificationFail},
		{"x5u, signed by the attacker", signRaw(t, `{"alg":"RS256","x5u":"https://127.0.0.1:1/x"}`, pl(""), rsaKey2), ErrVerificationFail},
		{"jku with our own key is just ignored", hs(`{"alg":"RS256","jku":"https://127.0.0.1:1/jwks"}`), nil},

		// crit in any form.
		{"crit empty list", hs(`{"alg":"RS256","crit":[]}`), ErrCrit},
		{"crit null", hs(`{"alg":"RS256","crit":null}`), ErrCrit},
		{"crit b64", hs(`{"alg":"RS256","crit":["b64"],"b64":false}`), ErrCrit},
		{"crit string", hs(`{"alg":"RS256","crit":"exp"}`), ErrCrit},

		// Duplicate member names are invalid JSON (RFC 7515 section 5.2,
		// RFC 7519 section 4): no parser differential with the upstream.
		{"two alg keys, none last", hs(`{"alg":"RS256","alg":"none"}`), ErrHeaderJSON},
		{"two alg keys, none first", hs(`{"alg":"none","alg":"RS256"}`), ErrHeaderJSON},
		{"two equal alg keys", hs(`{"alg":"RS256","alg":"RS256"}`), ErrHeaderJSON},
		{"two kid keys", hs(`{"alg":"RS256","kid":"x","kid":"rsa1"}`), ErrHeaderJSON},
		{"escaped duplicate alg", hs(`{"alg":"RS256","\u0061lg":"RS256"}`), ErrHeaderJSON},
		{"two exp keys", ps(pl(`"exp":1`)), ErrPayloadJSON},
		{"two sub keys", ps(pl(`"sub":"admin"`)), ErrPayloadJSON},
		{"escaped duplicate sub", ps(pl(`"\u0073ub":"admin"`)), ErrPayloadJSON},
		{"nested duplicate", ps(pl(`"o":{"a":1,"a":2}`)), ErrPayloadJSON},
		{"duplicate inside a list", ps(pl(`"l":[{"a":1},{"b":1,"b":2}]`)), ErrPayloadJSON},
		{"same name in two objects is fine", ps(pl(`"o":{"a":1},"p":{"a":1},"l":[{"a":1},{"a":2}]`)), nil},
		{"names differing in case are distinct", ps(pl(`"Sub":"admin"`)), nil},

		// Numbers.
		{"exp largest int64", ps(`{"iss":"https://issuer.test","aud":"api","exp":9223372036854775807}`), nil},
		{"exp 2^63", ps(`{"exp":9223372036854775808}`), ErrExpNotPositive},
		{"exp 1e30", ps(`{"exp":1e30}`), ErrExpNotPositive},
		{"exp 1e400", ps(`{"exp":1e400}`), ErrExpNotPositive},
		{"exp 20 digits", ps(`{"exp":12345678901234567890}`), ErrExpNotPositive},
		{"exp with exponent, whole", ps(`{"iss":"https://issuer.test","aud":"api","exp":4.1e9}`), nil},
		{"exp with zero fraction", ps(fmt.Sprintf(`{"iss":"https://issuer.test","aud":"api","exp":%d.000}`, exp)), nil},
		{"exp fractional", ps(fmt.Sprintf(`{"exp":%d.5}`, exp)), ErrExpNotInteger},
		{"exp fraction below float precision", ps(`{"exp":9999999999.9999999}`), ErrExpNotInteger},
		{"exp fraction far below float precision", ps(`{"exp":4102444800.000000000000000001}`), ErrExpNotInteger},
		{"exp tiny", ps(`{"exp":1e-400}`), ErrExpNotInteger},
		{"exp 1.5e0", ps(`{"exp":1.5e0}`), ErrExpNotInteger},
		{"exp 15e-1", ps(`{"exp":15e-1}`), ErrExpNotInteger},
		{"exp negative zero", ps(`{"iss":"https://issuer.test","aud":"api","exp":-0}`), ErrExpired},
		{"exp negative", ps(`{"exp":-1}`), ErrExpNotPositive},
		{"exp -1e400", ps(`{"exp":-1e400}`), ErrExpNotPositive},
		{"exp string", ps(`{"exp":"4102444800"}`), ErrExpNotInteger},
		{"exp bool", ps(`{"exp":true}`), ErrExpNotInteger},
		{"exp null", ps(`{"exp":null}`), ErrExpNotInteger},
		{"exp list", ps(`{"exp":[4102444800]}`), ErrExpNotInteger},
		{"nbf negative", ps(pl(`"nbf":-1`)), ErrNbfNotPositive},
		{"nbf negative fraction", ps(pl(`"nbf":-0.5`)), ErrNbfNotInteger},
		{"nbf zero", ps(pl(`"nbf":0`)), nil},
		{"iat 1e19", ps(pl(`"iat":1e19`)), ErrIatNotPositive},
		{"iat fractional", ps(pl(`"iat":1.25`)), ErrIatNotInteger},

		// aud shapes (the provider has audiences).
		{"aud empty list", ps(fmt.Sprintf(`{"iss":"https://issuer.test","aud":[],"exp":%d}`, exp)), ErrAudience},
		{"aud number", ps(`{"aud":5}`), ErrAudNotString},
		{"aud null", ps(`{"aud":null}`), ErrAudNotString},
		{"aud object", ps(`{"aud":{}}`), ErrAudNotString},
		{"aud list with null", ps(`{"aud":["api",null]}`), ErrAudNotString},
		{"aud nested list", ps(`{"aud":[["api"]]}`), ErrAudNotString},
		{"aud other case", ps(fmt.Sprintf(`{"iss":"https://issuer.test","aud":"API","exp":%d}`, exp)), ErrAudience},
		{"iss null", ps(`{"iss":null}`), ErrIssNotString},
		{"sub null", ps(`{"sub":null}`), ErrSubNotString},

		// Unicode.
		{"iss escaped is the same issuer", ps(fmt.Sprintf(`{"iss":"\u0068ttps://issuer.test","aud":"api","exp":%d}`, exp)), nil},
		{"iss with a look-alike", ps(fmt.Sprintf(`{"iss":"https://іssuer.test","aud":"api","exp":%d}`, exp)), ErrUnknownIssuer},
		{"iss with a trailing slash", ps(fmt.Sprintf(`{"iss":"https://issuer.test/","aud":"api","exp":%d}`, exp)), ErrUnknownIssuer},
		{"unicode sub and claims", ps(pl(`"name":"Ærøskøbing 😀","x":"\ud83d\ude00"`)), nil},

		// Encoding: padding and white space.
		{"padded header", seg[0] + "=." + seg[1] + "." + seg[2], ErrHeaderBase64},
		{"padded payload", seg[0] + "." + seg[1] + "==." + seg[2], ErrPayloadBase64},
		{"padded signature", seg[0] + "." + seg[1] + "." + seg[2] + "=", ErrSignatureBase64},
		{"standard base64 alphabet", seg[0] + "." + seg[1] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(seg[2]) + "+", ErrSignatureBase64},
		{"newline in the header", seg[0][:4] + "\n" + seg[0][4:] + "." + seg[1] + "." + seg[2], ErrHeaderBase64},
		{"CRLF in the payload", seg[0] + "." + seg[1][:4] + "\r\n" + seg[1][4:] + "." + seg[2], ErrPayloadBase64},
		{"space in the signature", seg[0] + "." + seg[1] + "." + seg[2][:4] + " " + seg[2][4:], ErrSignatureBase64},
		{"trailing newline", good + "\n", ErrSignatureBase64},
		{"leading space", " " + good, ErrHeaderBase64},
		{"empty signature", seg[0] + "." + seg[1] + ".", ErrVerificationFail},
		{"signature of another token", seg[0] + "." + b64s([]byte(pl(`"admin":true`))) + "." + seg[2], ErrVerificationFail},

		// Order: issuer, time, audience, then the key.
		{"foreign issuer with a bad signature", signRaw(t, `{"alg":"RS256"}`, `{"iss":"x"}`, rsaKey2), ErrUnknownIssuer},
		{"expired with a bad signature", signRaw(t, `{"alg":"RS256"}`, `{"iss":"https://issuer.test","exp":1}`, rsaKey2), ErrExpired},
		{"wrong audience with a bad signature", signRaw(t, `{"alg":"RS256"}`, fmt.Sprintf(`{"iss":"https://issuer.test","aud":"x","exp":%d}`, exp), rsaKey2), ErrAudience},
	}

	p := newTestProvider(t, model.Provider{Issuer: testIssuer, Audiences: []string{"api"}, ClockSkew: 60 * time.Second,
		JWKS: model.KeySource{Inline: jwksOf(t, jwk(&rsaKey.PublicKey, "rsa1", ""))}}, func(o *Options) { o.CacheSize = -1 })
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, err := p.Verify(context.Background(), c.token)
			wantErr(t, err, c.want)
			if (id == nil) == (err == nil) {
				t.Fatalf("identity %v and error %v", id, err)
			}
		})
	}
}

// TestKeyTypeNeverCrosses: an HS token with no kid meets an RSA key without a
// kid, and an RSA token meets an oct key: neither key fits.
func TestKeyTypeNeverCrosses(t *testing.T) {
	keys(t)
	rsaPEM := []byte(pemPublic(t, &rsaKey.PublicKey))
	for _, c := range []struct {
		name  string
		jwks  string
		token string
		want  *Error
	}{
		{"HS256 with the PEM, RSA key without kid", jwksOf(t, jwk(&rsaKey.PublicKey, "", "")), mint(t, "HS256", "", rsaPEM, claims(), nil), ErrKidAlgMismatch},
		{"HS256 with the PEM, RSA key with JWK alg RS256", jwksOf(t, jwk(&rsaKey.PublicKey, "", "RS256")), mint(t, "HS256", "", rsaPEM, claims(), nil), ErrKidAlgMismatch},
		{"HS256 with the PEM, beside a real oct key", jwksOf(t, jwk(&rsaKey.PublicKey, "", ""), jwk(hmacKey, "", "")), mint(t, "HS256", "", rsaPEM, claims(), nil), ErrVerificationFail},
		{"RS256 against an oct key only", jwksOf(t, jwk(hmacKey, "", "")), mint(t, "RS256", "", rsaKey, claims(), nil), ErrKidAlgMismatch},
		{"EdDSA against an RSA key only", jwksOf(t, jwk(&rsaKey.PublicKey, "", "")), mint(t, "EdDSA", "", edKey, claims(), nil), ErrKidAlgMismatch},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newTestProvider(t, model.Provider{JWKS: model.KeySource{Inline: c.jwks}})
			_, err := p.Verify(context.Background(), c.token)
			wantErr(t, err, c.want)
		})
	}
}

// TestTimeBoundaries pins the skew arithmetic to the second.
func TestTimeBoundaries(t *testing.T) {
	keys(t)
	now := testNow.Unix()
	for _, c := range []struct {
		name string
		skew time.Duration
		kv   []any
		want *Error
	}{
		{"exp = now - skew", 60 * time.Second, []any{"exp", now - 60}, nil},
		{"exp = now - skew - 1", 60 * time.Second, []any{"exp", now - 61}, ErrExpired},
		{"nbf = now + skew", 60 * time.Second, []any{"nbf", now + 60}, nil},
		{"nbf = now + skew + 1", 60 * time.Second, []any{"nbf", now + 61}, ErrNotYetValid},
		{"no skew, exp = now", 0, []any{"exp", now}, nil},
		{"no skew, exp = now - 1", 0, []any{"exp", now - 1}, ErrExpired},
		{"no skew, nbf = now + 1", 0, []any{"nbf", now + 1}, ErrNotYetValid},
		{"skew truncated to whole seconds", 1900 * time.Millisecond, []any{"exp", now - 2}, ErrExpired},
		{"nbf and exp both bad: nbf first", 0, []any{"nbf", now + 10, "exp", now - 10}, ErrNotYetValid},
		{"maxLifetime exactly", 0, []any{"iat", now - 60, "exp", now + 3540}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			mp := model.Provider{ClockSkew: c.skew, JWKS: model.KeySource{Inline: jwksOf(t, jwk(&rsaKey.PublicKey, "", ""))}}
			if strings.HasPrefix(c.name, "maxLifetime") {
				mp.MaxLifetime = time.Hour
			}
			p := newTestProvider(t, mp)
			_, err := p.Verify(context.Background(), mint(t, "RS256", "", rsaKey, claims(c.kv...), nil))
			wantErr(t, err, c.want)
		})
	}
}

// TestTokenSize: maxTokenBytes is inclusive, and the check comes before
// parsing.
func TestTokenSize(t *testing.T) {
	keys(t)
	tok := mint(t, "RS256", "", rsaKey, claims(), nil)
	p := newTestProvider(t, model.Provider{MaxTokenBytes: len(tok), JWKS: model.KeySource{Inline: jwksOf(t, jwk(&rsaKey.PublicKey, "", ""))}})
	_, err := p.Verify(context.Background(), tok)
	wantErr(t, err, nil)
	_, err = p.Verify(context.Background(), tok+"A")
	wantErr(t, err, ErrTooLarge)
	_, err = p.Verify(context.Background(), strings.Repeat("x", len(tok)+1))
	wantErr(t, err, ErrTooLarge)
	d := newTestProvider(t, model.Provider{JWKS: model.KeySource{Inline: jwksOf(t, jwk(&rsaKey.PublicKey, "", ""))}})
	_, err = d.Verify(context.Background(), strings.Repeat("x", 8192))
	wantErr(t, err, ErrBadFormat)
	_, err = d.Verify(context.Background(), strings.Repeat("x", 8193))
	wantErr(t, err, ErrTooLarge)
}

// TestSourceEdgeCases: token sources and what Apply removes.
func TestSourceEdgeCases(t *testing.T) {
	provs := twoProviders(t, func(a, b *model.Provider) {
		a.From = []model.TokenSource{{Header: "Authorization", Prefix: "Bearer "}, {Query: "access_token"}, {Cookie: "session"}}
	})
	ctx := context.Background()
	a, a2 := tokA(t), tokA(t, "sub", "bob")
	bad := tokA(t, "exp", 1)
	q := mustReq(t, model.JWTRequirement{Providers: []string{"a"}}, provs)
	dotEsc := strings.ReplaceAll(a, ".", "%2E")

	cases := []struct {
		name    string
		r       *http.Request
		outcome Outcome
		err     *Error
		// after Apply
		query, cookie, authz string
	}{
		{"query URL-encoded", req("/?x=1&access_token=" + dotEsc + "&y=2"), Verified, nil, "x=1&y=2", "", ""},
		{"query name URL-encoded", req("/?access%5Ftoken=" + a + "&y=2"), Verified, nil, "y=2", "", ""},
		{"query repeated, both good", req("/?access_token=" + a + "&access_token=" + a2), Verified, nil, "", "", ""},
		{"query repeated, one bad", req("/?access_token=" + a + "&access_token=" + bad), Invalid, ErrExpired, "", "", ""},
		{"query repeated, same token twice", req("/?access_token=" + a + "&z=1&access_token=" + a), Verified, nil, "z=1", "", ""},
		{"query empty value, header token", req("/?access_token=&k", "Authorization", "Bearer "+a), Verified, nil, "access_token=&k", "", ""},
		{"header value with a comma", req("/", "Authorization", "Bearer "+a+", Bearer garbage"), Invalid, ErrNotOneToken, "", "", ""},
		{"header value with a comma, bad first", req("/", "Authorization", "Bearer garbage,Bearer "+a), Invalid, ErrNotOneToken, "", "", ""},
		{"header value with two good tokens", req("/", "Authorization", "Bearer "+a+" "+a2), Invalid, ErrNotOneToken, "", "", ""},
		{"header with spaces after the token", req("/", "Authorization", "Bearer "+a+" \t "), Verified, nil, "", "", ""},
		{"header with several spaces", req("/", "Authorization", "Bearer    "+a), Verified, nil, "", "", ""},
		{"header, tab instead of the prefix space", req("/", "Authorization", "Bearer\t"+a), Missing, ErrMissing, "", "", "Bearer\t" + a},
		{"header BEARER", req("/", "Authorization", "BEARER "+a), Verified, nil, "", "", ""},
		{"header prefix only", req("/", "Authorization", "Bearer "), Missing, ErrMissing, "", "", "Bearer "},
		{"header other scheme kept", req("/", "Authorization", "Basic dTpw", "Authorization", "Bearer "+a), Verified, nil, "", "", "Basic dTpw"},
		{"cookie among others", req("/", "Cookie", "a=1; session="+a+"; b=2"), Verified, nil, "", "a=1; b=2", ""},
		{"cookie quoted", req("/", "Cookie", `session="`+a+`"; b=2`), Verified, nil, "", "b=2", ""},
		{"cookie twice, both good", req("/", "Cookie", "session="+a+"; session="+a2), Verified, nil, "", "", ""},
		{"cookie twice, one bad", req("/", "Cookie", "session="+a+"; session="+bad), Invalid, ErrExpired, "", "", ""},
		{"cookie empty", req("/", "Cookie", "session=; b=2"), Missing, ErrMissing, "", "session=; b=2", ""},
		{"cookie name is case-sensitive", req("/", "Cookie", "Session="+a), Missing, ErrMissing, "", "Session=" + a, ""},
		{"cookie no spaces", req("/", "Cookie", "b=2;session="+a+";c=3"), Verified, nil, "", "b=2; c=3", ""},
		{"token in all three places", req("/?access_token="+a, "Authorization", "Bearer "+a, "Cookie", "session="+a), Verified, nil, "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := q.Authenticate(ctx, c.r)
			if res.Outcome != c.outcome || res.Err != c.err {
				t.Fatalf("got %v %v, want %v %v", res.Outcome, res.Err, c.outcome, c.err)
			}
			if res.Outcome != Verified {
				return
			}
			q.Apply(c.r, res)
			if c.r.URL.RawQuery != c.query {
				t.Errorf("query after Apply %q, want %q", c.r.URL.RawQuery, c.query)
			}
			if got := strings.Join(c.r.Header.Values("Cookie"), "|"); got != c.cookie {
				t.Errorf("cookie after Apply %q, want %q", got, c.cookie)
			}
			if got := strings.Join(c.r.Header.Values("Authorization"), "|"); got != c.authz {
				t.Errorf("authorization after Apply %q, want %q", got, c.authz)
			}
			// Nothing the gateway verified reaches the upstream.
			if again := q.Authenticate(ctx, c.r); again.Outcome != Missing {
				t.Errorf("a token is still in the request: %v", again.Outcome)
			}
		})
	}
}

// TestMaxTokensAcrossPlaces: the bound counts every place.
func TestMaxTokensAcrossPlaces(t *testing.T) {
	provs := twoProviders(t, nil)
	a := tokA(t)
	q := mustReq(t, model.JWTRequirement{Providers: []string{"a"}}, provs)
	query := strings.Repeat("access_token="+a+"&", 4)
	ok := req("/?"+query, repeat("Authorization", "Bearer "+a, 4)...)
	if res := q.Authenticate(context.Background(), ok); res.Outcome != Verified {
		t.Fatalf("8 tokens: %v %v", res.Outcome, res.Err)
	}
	tooMany := req("/?"+query+"access_token="+a, repeat("Authorization", "Bearer "+a, 4)...)
	if res := q.Authenticate(context.Background(), tooMany); res.Err != ErrTooManyTokens {
		t.Fatalf("9 tokens: %v %v", res.Outcome, res.Err)
	}
}

// TestClaimRenderingUnicode: claims outside ASCII are emitted as UTF-8,
// and escaped control characters are still refused.
func TestClaimRenderingUnicode(t *testing.T) {
	c, err := decodeObject([]byte(`{"u":"Ærø 😀","esc":"\u00c6","cr":"a\u000db","ls":"a\u2028b","arr":["é",2.50,null,"x"],"o":{"é":"\u0000"},
		"eo":{},"ea":[],"es":"","ae":["a",{},[]],"n":{"eo":{}}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ claim, want string }{
		{"u", "Ærø 😀"}, {"esc", "Æ"}, {"cr", ""}, {"ls", "a\u2028b"}, {"arr", "é,2.50,x"}, {"o", `{"é":"\u0000"}`},
		{"eo", ""}, {"ea", ""}, {"es", ""}, {"ae", "a,{},[]"}, {"n.eo", ""}, {"n", `{"eo":{}}`},
	} {
		p := &Provider{}
		if err := p.compileOutputs(model.Provider{ClaimsToHeaders: []model.ClaimToHeader{{Claim: tc.claim, Header: "x-out"}}}); err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		p.applyOutputs(h, &Identity{Claims: c}, map[string]bool{})
		if got := h.Get("X-Out"); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.claim, got, tc.want)
		}
	}
}

// TestRequireAllStrip: under requireAll one token may verify for two
// providers; it is removed when either of them does not forward tokens.
func TestRequireAllStrip(t *testing.T) {
	keys(t)
	ks := model.KeySource{Inline: jwksOf(t, jwk(&rsaKey.PublicKey, "", ""))}
	mk := func(fwdA, fwdB bool) *Requirement {
		provs := map[string]*Provider{
			"a": newTestProvider(t, model.Provider{Name: "a", JWKS: ks, ForwardToken: fwdA}),
			"b": newTestProvider(t, model.Provider{Name: "b", JWKS: ks, ForwardToken: fwdB}),
		}
		return mustReq(t, model.JWTRequirement{Providers: []string{"a", "b"}, RequireAll: true}, provs)
	}
	tok := mint(t, "RS256", "", rsaKey, claims(), nil)
	for _, c := range []struct {
		fwdA, fwdB, kept bool
	}{{true, true, true}, {true, false, false}, {false, true, false}, {false, false, false}} {
		q := mk(c.fwdA, c.fwdB)
		r := req("/", "Authorization", "Bearer "+tok)
		res := q.Authenticate(context.Background(), r)
		if res.Outcome != Verified || len(res.Identities) != 2 {
			t.Fatalf("%v %v %d", res.Outcome, res.Err, len(res.Identities))
		}
		q.Apply(r, res)
		if kept := r.Header.Get("Authorization") != ""; kept != c.kept {
			t.Errorf("forward a=%v b=%v: token kept %v, want %v", c.fwdA, c.fwdB, kept, c.kept)
		}
	}
}

// TestReasonAcrossProviders: the reason reported when a token fails
// several providers.
func TestReasonAcrossProviders(t *testing.T) {
	keys(t)
	rsa := model.KeySource{Inline: jwksOf(t, jwk(&rsaKey.PublicKey, "ka", ""))}
	ec := model.KeySource{Inline: jwksOf(t, jwk(&ecKey.PublicKey, "kb", ""))}
	provs := map[string]*Provider{
		"a": newTestProvider(t, model.Provider{Name: "a", Issuer: "https://a.test", JWKS: rsa}),
		"b": newTestProvider(t, model.Provider{Name: "b", Issuer: "https://b.test", JWKS: ec}),
		"c": newTestProvider(t, model.Provider{Name: "c", JWKS: rsa}), // no issuer
		"d": newTestProvider(t, model.Provider{Name: "d", Issuer: "https://b.test", Audiences: []string{"d"}, JWKS: ec}),
	}
	tokB := func(priv any, kv ...any) string {
		return mint(t, "ES256", "kb", priv, claims(append([]any{"iss", "https://b.test"}, kv...)...), nil)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		provs []string
		token string
		want  *Error
	}{
		{"every provider: foreign issuer", []string{"a", "b"}, mint(t, "RS256", "ka", rsaKey, claims("iss", "https://x.test"), nil), ErrUnknownIssuer},
		{"issuer-less provider has no key: its reason wins over issuer", []string{"a", "b", "c"}, mint(t, "ES256", "", ecKey, claims("iss", "https://x.test"), nil), ErrKidAlgMismatch},
		{"b's signature reason beats a's issuer", []string{"a", "b"}, tokB(other), ErrVerificationFail},
		{"b's signature reason beats c's missing key", []string{"c", "b"}, tokB(other), ErrVerificationFail},
		{"b's signature reason beats c's missing key, other order", []string{"b", "c"}, tokB(other), ErrVerificationFail},
		{"first specific reason stands: d's audience before b's signature", []string{"a", "d", "b"}, tokB(other), ErrAudience},
		{"first specific reason stands: b's signature before d's audience", []string{"a", "b", "d"}, tokB(other), ErrVerificationFail},
		{"expired beats foreign issuer", []string{"a", "b"}, tokB(ecKey, "exp", 1), ErrExpired},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := mustReq(t, model.JWTRequirement{Providers: c.provs}, provs)
			res := q.Authenticate(context.Background(), req("/", "Authorization", "Bearer "+c.token))
			if res.Outcome != Invalid || res.Err != c.want {
				t.Fatalf("got %v %v, want %v", res.Outcome, res.Err, c.want)
			}
		})
	}
}

// TestOddJWKs: every key the doc says is skipped is skipped: beside a good
// key the set loads, alone it is a configuration error.
func TestOddJWKs(t *testing.T) {
	keys(t)
	n, e := b64s(rsaKey.N.Bytes()), "AQAB"
	good := strings.TrimSuffix(strings.TrimPrefix(jwksOf(t, jwk(&rsaKey.PublicKey, "good", "")), `{"keys":[`), "]}")
	x, y := b64s(ecKey.X.FillBytes(make([]byte, 32))), b64s(ecKey.Y.FillBytes(make([]byte, 32)))
	for _, c := range []struct{ name, key string }{
		{"use enc", `{"kty":"RSA","use":"enc","n":"` + n + `","e":"` + e + `"}`},
		{"unknown kty", `{"kty":"XYZ","n":"` + n + `","e":"` + e + `"}`},
		{"EC P-192", `{"kty":"EC","crv":"P-192","x":"` + x + `","y":"` + y + `"}`},
		{"EC secp256k1", `{"kty":"EC","crv":"secp256k1","x":"` + x + `","y":"` + y + `"}`},
		{"EC point not on the curve", `{"kty":"EC","crv":"P-256","x":"` + x + `","y":"` + x + `"}`},
		{"OKP X25519", `{"kty":"OKP","crv":"X25519","x":"` + b64s(make([]byte, 32)) + `"}`},
		{"RSA broken n", `{"kty":"RSA","n":"!!","e":"` + e + `"}`},
		{"RSA without e", `{"kty":"RSA","n":"` + n + `"}`},
		{"alg RSA-OAEP", `{"kty":"RSA","alg":"RSA-OAEP","n":"` + n + `","e":"` + e + `"}`},
		{"alg none", `{"kty":"RSA","alg":"none","n":"` + n + `","e":"` + e + `"}`},
		{"alg ES256 on an RSA key", `{"kty":"RSA","alg":"ES256","n":"` + n + `","e":"` + e + `"}`},
		{"alg HS256 on an RSA key", `{"kty":"RSA","alg":"HS256","n":"` + n + `","e":"` + e + `"}`},
		{"alg ES384 on a P-256 key", `{"kty":"EC","crv":"P-256","alg":"ES384","x":"` + x + `","y":"` + y + `"}`},
		{"alg RS256 on an oct key", `{"kty":"oct","alg":"RS256","k":"` + b64s(hmacKey) + `"}`},
		{"oct without k", `{"kty":"oct"}`},
		{"oct with empty k", `{"kty":"oct","k":""}`},
		{"not an object", `"key"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := NewProvider(model.Provider{Name: "x", JWKS: model.KeySource{Inline: `{"keys":[` + c.key + `]}`}}, Options{}); err == nil {
				t.Fatal("a set of only this key loaded")
			}
			p := newTestProvider(t, model.Provider{JWKS: model.KeySource{Inline: `{"keys":[` + c.key + `,` + good + `]}`}})
			if n := len(p.keys.Load().keys); n != 1 {
				t.Fatalf("%d keys loaded, want the good one only", n)
			}
			_, err := p.Verify(context.Background(), mint(t, "RS256", "good", rsaKey, claims(), nil))
			wantErr(t, err, nil)
		})
	}
}

// TestCookieRemovalMatchesParsing: whatever cookie syntax Go's parser
// reads a token from, Apply removes that token.
func TestCookieRemovalMatchesParsing(t *testing.T) {
	provs := twoProviders(t, func(a, _ *model.Provider) { a.From = []model.TokenSource{{Cookie: "session"}} })
	q := mustReq(t, model.JWTRequirement{Providers: []string{"a"}}, provs)
	a := tokA(t)
	for i, line := range []string{
		"session=" + a, "session =" + a, "session= " + a, " session=" + a + " ", "session=" + a + ";",
		";session=" + a, "x=1;;session=" + a + ";;y=2", `session="` + a + `"`, "session=" + a + "; session=" + a,
		"session=" + a + ";x", "x;session=" + a, "session=" + a + "\t; y=1",
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			r := req("/", "Cookie", line)
			res := q.Authenticate(context.Background(), r)
			if res.Outcome != Verified {
				return // Go's parser found no token: nothing to remove
			}
			q.Apply(r, res)
			if again := q.Authenticate(context.Background(), r); again.Outcome != Missing {
				t.Fatalf("token still present after Apply: Cookie %q (sent %q)", r.Header.Values("Cookie"), line)
			}
		})
	}
}
