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
	"net/http/httptest"
	"strings"
	"sync/atomic"
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

// TestRemoteAttacks: what a hostile or broken JWKS endpoint can do.
func TestRemoteAttacks(t *testing.T) {
	keys(t)
	good := jwksOf(t, jwk(&rsaKey.PublicKey, "k1", ""))
	var otherHits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		_, _ = w.Write([]byte(good))
	}))
	t.Cleanup(other.Close)
	// big is a valid JWKS padded to exactly n bytes.
	big := func(n int) string {
		s := `{"keys":[` + strings.TrimPrefix(good, `{"keys":[`)
		pad := n - len(s) - len(`,"pad":""`)
		return strings.TrimSuffix(s, "}") + `,"pad":"` + strings.Repeat("x", pad) + `"}`
	}
	if len(big(maxRemoteBody)) != maxRemoteBody {
		t.Fatal("padding")
	}

	for _, c := range []struct {
		name    string
		handler http.HandlerFunc
		want    *Error
		other   bool // the redirect target must not be asked
	}{
		{"status 500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500); _, _ = w.Write([]byte(good)) }, ErrJwksFetch, false},
		{"status 204", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }, ErrJwksFetch, false},
		{"301 to another host", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, other.URL+"/jwks", 301) }, ErrJwksFetch, true},
		{"302 to another host", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, other.URL+"/jwks", 302) }, ErrJwksFetch, true},
		{"307 on the same host", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/moved" {
				_, _ = w.Write([]byte(good))
				return
			}
			http.Redirect(w, r, "/moved", 307)
		}, ErrJwksFetch, false},
		{"body of exactly 1 MiB", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(big(maxRemoteBody))) }, nil, false},
		{"body of 1 MiB + 1", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(big(maxRemoteBody + 1))) }, ErrJwksFetch, false},
		{"body of 5 MiB", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(big(5 << 20))) }, ErrJwksFetch, false},
		{"only an oct key", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"keys":[{"kty":"oct","kid":"k1","alg":"HS256","k":"` + b64s(hmacKey) + `"}]}`))
		}, ErrJwksFetch, false},
		{"HTML", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html></html>")) }, ErrJwksFetch, false},
		{"keys not a list", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{"keys":{}}`)) }, ErrJwksFetch, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			otherHits.Store(0)
			srv := httptest.NewServer(c.handler)
			t.Cleanup(srv.Close)
			p := remoteProvider(t, model.KeySource{URI: srv.URL + "/jwks", Timeout: 2 * time.Second})
			_, err := p.Verify(context.Background(), mint(t, "RS256", "k1", rsaKey, claims(), nil))
			wantErr(t, err, c.want)
			if c.other && otherHits.Load() != 0 {
				t.Fatalf("the redirect was followed to another host (%d requests)", otherHits.Load())
			}
		})
	}
}

// TestRemoteOctNeverVerifies: an HS token signed with a secret published
// in a remote set, beside an RSA key, fails as having no fitting key.
func TestRemoteOctNeverVerifies(t *testing.T) {
	keys(t)
	doc := `{"keys":[{"kty":"oct","kid":"k1","k":"` + b64s(hmacKey) + `"},{"kty":"oct","k":"` + b64s(hmacKey) + `"},` + strings.TrimPrefix(jwksOf(t, jwk(&rsaKey.PublicKey, "k1", "")), `{"keys":[`)
	srv := newJWKSServer(t, doc)
	p := remoteProvider(t, model.KeySource{URI: srv.URL})
	for _, kid := range []string{"k1", ""} {
		_, err := p.Verify(context.Background(), mint(t, "HS256", kid, hmacKey, claims(), nil))
		wantErr(t, err, ErrKidAlgMismatch)
	}
}

// TestRemoteSlow: the fetch timeout bounds both the wait of a token and
// the fetch itself.
func TestRemoteSlow(t *testing.T) {
	keys(t)
	release := make(chan struct{})
	var cancelled atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			cancelled.Store(true)
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	p := remoteProvider(t, model.KeySource{URI: srv.URL, Timeout: 200 * time.Millisecond})
	start := time.Now()
	_, err := p.Verify(context.Background(), mint(t, "RS256", "k1", rsaKey, claims(), nil))
	wantErr(t, err, ErrJwksFetch)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("token waited %v for a 200ms timeout", d)
	}
	deadline := time.Now().Add(3 * time.Second)
	for !cancelled.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !cancelled.Load() {
		t.Fatal("the slow fetch was not abandoned at the timeout")
	}
}

// TestRemoteSlowBody: a server that sends headers at once and then trickles
// the body is cut off at the timeout too.
func TestRemoteSlowBody(t *testing.T) {
	keys(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"keys":[`))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(srv.Close)
	p := remoteProvider(t, model.KeySource{URI: srv.URL, Timeout: 200 * time.Millisecond})
	start := time.Now()
	_, err := p.Verify(context.Background(), mint(t, "RS256", "k1", rsaKey, claims(), nil))
	wantErr(t, err, ErrJwksFetch)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("token waited %v", d)
	}
}

// TestRemoteRefreshAndCache: an unchanged document keeps the cache; a
// changed one empties it, so a removed key stops verifying.
func TestRemoteRefreshAndCache(t *testing.T) {
	keys(t)
	doc := jwksOf(t, jwk(&rsaKey.PublicKey, "k1", ""), jwk(&rsaKey2.PublicKey, "k2", ""))
	srv := newJWKSServer(t, doc)
	p := remoteProvider(t, model.KeySource{URI: srv.URL, CacheDuration: 30 * time.Millisecond})
	startProvider(t, p)
	ctx := context.Background()
	tok := mint(t, "RS256", "k1", rsaKey, claims(), nil)
	id1, err := p.Verify(ctx, tok)
	wantErr(t, err, nil)
	waitHits := func(n int32) {
		deadline := time.Now().Add(5 * time.Second)
		for srv.hits.Load() < n && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if srv.hits.Load() < n {
			t.Fatalf("only %d fetches", srv.hits.Load())
		}
	}
	waitHits(srv.hits.Load() + 3)
	id2, err := p.Verify(ctx, tok)
	wantErr(t, err, nil)
	if id1 != id2 {
		t.Fatal("an unchanged refresh emptied the verified-token cache")
	}
	// k1 removed: the cached token stops verifying after the next refresh.
	srv.set(200, jwksOf(t, jwk(&rsaKey2.PublicKey, "k2", "")))
	waitHits(srv.hits.Load() + 2)
	_, err = p.Verify(ctx, tok)
	wantErr(t, err, ErrKidAlgMismatch)
}

// TestRemoteInitialBackoff: a failing first fetch is retried after 250ms,
// 500ms, 1s, ...
func TestRemoteInitialBackoff(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, "")
	srv.set(503, "down")
	p := remoteProvider(t, model.KeySource{URI: srv.URL, RefetchInterval: time.Hour})
	startProvider(t, p)
	time.Sleep(1200 * time.Millisecond)
	// Fetches at 0, 0.25, 0.75 s; the next is due at 1.75 s.
	if n := srv.hits.Load(); n < 2 || n > 4 {
		t.Fatalf("%d fetches in 1.2s, want about 3", n)
	}
}

// TestDiscoveryAttacks: the discovery document cannot downgrade the key
// fetch to plain http, and is not followed through redirects.
func TestDiscoveryAttacks(t *testing.T) {
	keys(t)
	plain := newJWKSServer(t, jwksOf(t, jwk(&ecKey.PublicKey, "e1", "")))
	var jwksURI atomic.Value
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"jwks_uri": jwksURI.Load().(string)})
	}))
	t.Cleanup(tlsSrv.Close)
	client := tlsSrv.Client()
	issuer := tlsSrv.URL
	tok := mint(t, "ES256", "e1", ecKey, claims("iss", issuer), nil)

	jwksURI.Store(plain.URL)
	p := newTestProvider(t, model.Provider{Name: "d", Issuer: issuer, JWKS: model.KeySource{Timeout: time.Second}}, func(o *Options) { o.HTTPClient = client })
	_, err := p.Verify(context.Background(), tok)
	wantErr(t, err, ErrJwksFetch)
	if plain.hits.Load() != 0 {
		t.Fatal("an https issuer's discovery sent the key fetch to plain http")
	}

	// An http issuer may name an http jwks_uri (loopback tests, for one).
	httpIssuer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"jwks_uri": plain.URL})
	}))
	t.Cleanup(httpIssuer.Close)
	p2 := newTestProvider(t, model.Provider{Name: "d2", Issuer: httpIssuer.URL, JWKS: model.KeySource{Timeout: time.Second}})
	_, err = p2.Verify(context.Background(), mint(t, "ES256", "e1", ecKey, claims("iss", httpIssuer.URL), nil))
	wantErr(t, err, nil)

	// A discovery document behind a redirect is not followed.
	moved := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, httpIssuer.URL+r.URL.Path, http.StatusMovedPermanently)
	}))
	t.Cleanup(moved.Close)
	p3 := newTestProvider(t, model.Provider{Name: "d3", Issuer: moved.URL, JWKS: model.KeySource{Timeout: time.Second}})
	_, err = p3.Verify(context.Background(), mint(t, "ES256", "e1", ecKey, claims("iss", moved.URL), nil))
	wantErr(t, err, ErrJwksFetch)
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

// TestDemandAfterFetch: a token that found no keys while the first fetch
// was ending joins that fetch's result rather than fetching again.
func TestDemandAfterFetch(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, jwksOf(t, jwk(&rsaKey.PublicKey, "k1", "")))
	p := remoteProvider(t, model.KeySource{URI: srv.URL})
	startProvider(t, p)
	deadline := time.Now().Add(5 * time.Second)
	for !p.Ready() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	n := p.remote.fetchCount()
	// The caller saw no keys (nil); they have arrived since.
	if ks := p.remote.demand(context.Background(), nil); ks == nil {
		t.Fatal("no keys")
	}
	if p.remote.fetchCount() != n || srv.hits.Load() != 1 {
		t.Fatalf("a second fetch started: %d fetches, %d hits", p.remote.fetchCount(), srv.hits.Load())
	}
}

// TestWholeNumber checks the exact reading of NumericDate claims.
func TestWholeNumber(t *testing.T) {
	for _, c := range []struct {
		in             string
		v              int64
		whole, inRange bool
	}{
		{"0", 0, true, true}, {"-0", 0, true, true}, {"0.0", 0, true, true}, {"0e-999999999999999999999", 0, true, true},
		{"1", 1, true, true}, {"1.0", 1, true, true}, {"10e-1", 1, true, true}, {"0.1e1", 1, true, true}, {"1E+3", 1000, true, true},
		{"9223372036854775807", 9223372036854775807, true, true}, {"9.223372036854775807e18", 9223372036854775807, true, true},
		{"9223372036854775808", 0, true, false}, {"1e19", 0, true, false}, {"1e999999999999999999999", 0, true, false},
		{"-1", 0, true, false}, {"-1e3", 0, true, false},
		{"1.5", 0, false, false}, {"-1.5", 0, false, false}, {"1e-1", 0, false, false}, {"1e-999999999999999999999", 0, false, false},
		{"9999999999.9999999", 0, false, false}, {"1700000000.000000000000000001", 0, false, false},
	} {
		v, whole, inRange := wholeNumber(c.in)
		if v != c.v || whole != c.whole || inRange != c.inRange {
			t.Errorf("wholeNumber(%s) = %d %v %v, want %d %v %v", c.in, v, whole, inRange, c.v, c.whole, c.inRange)
		}
	}
}

// TestUniqueNames checks the duplicate-name scan on its own.
func TestUniqueNames(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{`{}`, true}, {`{"a":1,"b":{"a":1},"c":[{"a":1},{"a":1}]}`, true}, {`[{"a":1},{"a":2}]`, true},
		{`{"a":"a","b":"a"}`, true}, {`{"a":{"b":{}},"b":[]}`, true}, {`{"a":[1,"a",{"a":"a"}],"x":"a"}`, true},
		{`{"a":1,"a":1}`, false}, {`{"a":{"b":1,"b":2}}`, false}, {`{"a":[{"b":1,"b":2}]}`, false},
		{`{"a":{},"a":[]}`, false}, {`{"a\u0062":1,"ab":2}`, false}, {`{"a":[],"b":{},"a":null}`, false},
		{`{"a\"b":1,"a\"c":2, "x" : "y:" , "y:":1}`, true}, {`{"a\"b":1, "a\u0022b" :2}`, false},
		{`{"a\\":"\\","b":"\\\""}`, true}, {"{\"\xff\":1,\"\xfe\":2}", false}, {"{\"\xff\":1,\"\ufffd\":2}", false},
		{many(40, "") + `}`, true}, {many(40, `,"k3"`) + `}`, false}, {many(40, `,"k39"`) + `}`, false},
		{strings.Repeat(`{"a":`, 20) + `{"a":1,"a":2}` + strings.Repeat(`}`, 20), false},
		{strings.Repeat(`[{"a":1},`, 20) + `{"a":1}` + strings.Repeat(`]`, 20), true},
	} {
		if err := checkUniqueNames([]byte(c.in)); (err == nil) != c.ok {
			t.Errorf("%s: %v", c.in, err)
		}
	}
}

// many is an object with n members k0..k(n-1) and extra appended, open.
func many(n int, extra string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"k%d":%d`, i, i)
	}
	b.WriteString(extra)
	if extra != "" {
		b.WriteString(":0")
	}
	return b.String()
}

// FuzzUniqueNames compares the scan with a reference built on
// encoding/json's tokenizer, for every valid JSON text.
func FuzzUniqueNames(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `{"a":{"b":[{"c":"\u0063","c ":1}]}}`, `[{"a\"":1},{"a\"":1}]`, `{"x":"\\","\\":1}`, "{\"\xff\":1,\"\xfe\":2}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !json.Valid([]byte(s)) {
			return
		}
		if got, want := checkUniqueNames([]byte(s)) == nil, refUnique(s); got != want {
			t.Fatalf("%q: scan says unique=%v, reference %v", s, got, want)
		}
	})
}

func refUnique(s string) bool {
	type frame struct {
		names map[string]bool
		key   bool
	}
	dec := json.NewDecoder(strings.NewReader(s))
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return true
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top != nil && top.names != nil {
					top.key = true
				}
				fr := &frame{}
				if v == '{' {
					fr = &frame{names: map[string]bool{}, key: true}
				}
				stack = append(stack, fr)
			default:
				stack = stack[:len(stack)-1]
			}
		default:
			if top == nil || top.names == nil {
				continue
			}
			if !top.key {
				top.key = true
				continue
			}
			name := v.(string)
			if top.names[name] {
				return false
			}
			top.names[name] = true
			top.key = false
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
