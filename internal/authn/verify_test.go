package authn

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
)

const testIssuer = "https://issuer.test"

// allKeysJWKS is a local set holding one key of every family.
func allKeysJWKS(t testing.TB) string {
	keys(t)
	return jwksOf(t,
		jwk(&rsaKey.PublicKey, "rsa1", ""),
		jwk(&ecKey.PublicKey, "ec256", ""),
		jwk(&ec384.PublicKey, "ec384", ""),
		jwk(&ec521.PublicKey, "ec521", ""),
		jwk(edKey.Public(), "ed1", ""),
		jwk(hmacKey, "hs1", ""),
	)
}

func pemPublic(t testing.TB, pub any) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func TestVerifyTable(t *testing.T) {
	keys(t)
	base := model.Provider{Issuer: testIssuer, Audiences: []string{"api"}, ClockSkew: 60 * time.Second, JWKS: model.KeySource{Inline: allKeysJWKS(t)}}
	rsaOnly := base
	rsaOnly.JWKS = model.KeySource{Inline: jwksOf(t, jwk(&rsaKey.PublicKey, "rsa1", ""))}
	rsaPEM := pemPublic(t, &rsaKey.PublicKey)
	good := func(kv ...any) string { return mint(t, "RS256", "rsa1", rsaKey, claims(kv...), nil) }
	goodTok := good()
	gh, gp, _ := strings.Cut(goodTok, ".")
	gp, _, _ = strings.Cut(gp, ".")
	hdr := func(h string) string { return b64s([]byte(h)) }
	pl := func(p string) string { return b64s([]byte(p)) }
	rsHdr := hdr(`{"alg":"RS256","kid":"rsa1"}`)

	type tc struct {
		name  string
		prov  *model.Provider
		token string
		want  *Error
	}
	cases := []tc{
		{"valid RS256", nil, goodTok, nil},
		{"expired", nil, good("exp", testNow.Add(-2*time.Hour).Unix()), ErrExpired},
		{"expired within clock skew", nil, good("exp", testNow.Add(-30*time.Second).Unix()), nil},
		{"not yet valid", nil, good("nbf", testNow.Add(2*time.Hour).Unix()), ErrNotYetValid},
		{"nbf within clock skew", nil, good("nbf", testNow.Add(30*time.Second).Unix()), nil},
		{"wrong issuer", nil, good("iss", "https://evil.test"), ErrUnknownIssuer},
		{"missing issuer", nil, good("iss", nil), ErrUnknownIssuer},
		{"wrong audience", nil, good("aud", "other"), ErrAudience},
		{"missing audience", nil, good("aud", nil), ErrAudience},
		{"audience list", nil, good("aud", []string{"x", "api"}), nil},
		{"audience with scheme and slash", nil, good("aud", "https://api/"), nil},
		{"issuer checked before time", nil, good("iss", "x", "exp", 1), ErrUnknownIssuer},
		{"time checked before audience", nil, good("aud", "x", "exp", 1), ErrExpired},
		{"bad signature", nil, mint(t, "RS256", "rsa1", rsaKey2, claims(), nil), ErrVerificationFail},
		{"tampered payload", nil, gh + "." + pl(`{"iss":"https://issuer.test","sub":"root","aud":"api"}`) + "." + strings.Split(goodTok, ".")[2], ErrVerificationFail},
		{"unknown kid", nil, mint(t, "RS256", "nope", rsaKey, claims(), nil), ErrKidAlgMismatch},
		{"no kid tries every fitting key", nil, mint(t, "RS256", "", rsaKey, claims(), nil), nil},
		{"alg none", nil, hdr(`{"alg":"none"}`) + "." + gp + ".", ErrAlgUnsupported},
		{"alg none with signature", nil, hdr(`{"alg":"none"}`) + "." + gp + "." + b64s([]byte("x")), ErrAlgUnsupported},
		{"alg missing", nil, hdr(`{"typ":"JWT"}`) + "." + gp + ".", ErrAlgMissing},
		{"alg not a string", nil, hdr(`{"alg":256}`) + "." + gp + ".", ErrAlgMissing},
		{"alg unknown", nil, hdr(`{"alg":"HS999"}`) + "." + gp + ".", ErrAlgUnsupported},
		{"HS256 signed with the RSA public key", &rsaOnly, mint(t, "HS256", "rsa1", []byte(rsaPEM), claims(), nil), ErrKidAlgMismatch},
		{"HS256 signed with the RSA public key, no kid", &rsaOnly, mint(t, "HS256", "", []byte(rsaPEM), claims(), nil), ErrKidAlgMismatch},
		{"HS256 with RSA key's kid in a mixed set", nil, mint(t, "HS256", "rsa1", []byte(rsaPEM), claims(), nil), ErrKidAlgMismatch},
		{"empty token", nil, "", ErrBadFormat},
		{"two segments", nil, gh + "." + gp, ErrBadFormat},
		{"four segments", nil, goodTok + ".x", ErrBadFormat},
		{"Bearer-less literal", nil, "invalid", ErrBadFormat},
		{"bad base64 header", nil, "!!!." + gp + ".sig", ErrHeaderBase64},
		{"padded header", nil, hdr(`{"alg":"RS256"}`) + "=." + gp + ".sig", ErrHeaderBase64},
		{"non-JSON header", nil, hdr(`not json`) + "." + gp + ".sig", ErrHeaderJSON},
		{"header is an array", nil, hdr(`["alg"]`) + "." + gp + ".sig", ErrHeaderJSON},
		{"header is null", nil, hdr(`null`) + "." + gp + ".sig", ErrHeaderJSON},
		{"kid not a string", nil, hdr(`{"alg":"RS256","kid":7}`) + "." + gp + ".sig", ErrKidNotString},
		{"crit header", nil, mint(t, "RS256", "rsa1", rsaKey, claims(), map[string]any{"crit": []string{"exp"}, "exp": 1}), ErrCrit},
		{"bad base64 payload", nil, rsHdr + ".%%%.sig", ErrPayloadBase64},
		{"non-JSON payload", nil, rsHdr + "." + pl("nope") + ".sig", ErrPayloadJSON},
		{"payload is a string", nil, rsHdr + "." + pl(`"x"`) + ".sig", ErrPayloadJSON},
		{"payload with trailing data", nil, rsHdr + "." + pl(`{}{}`) + ".sig", ErrPayloadJSON},
		{"iss not a string", nil, rsHdr + "." + pl(`{"iss":1}`) + ".sig", ErrIssNotString},
		{"sub not a string", nil, rsHdr + "." + pl(`{"sub":[]}`) + ".sig", ErrSubNotString},
		{"exp as a string", nil, good("exp", "2000000000"), ErrExpNotInteger},
		{"exp fractional", nil, rsHdr + "." + pl(`{"exp":1.5}`) + ".sig", ErrExpNotInteger},
		{"exp negative", nil, good("exp", -1), ErrExpNotPositive},
		{"exp beyond int64", nil, rsHdr + "." + pl(`{"exp":1e30}`) + ".sig", ErrExpNotPositive},
		{"nbf as a string", nil, good("nbf", "x"), ErrNbfNotInteger},
		{"nbf negative", nil, good("nbf", -5), ErrNbfNotPositive},
		{"iat as a string", nil, good("iat", "x"), ErrIatNotInteger},
		{"iat negative", nil, good("iat", -5), ErrIatNotPositive},
		{"aud a number", nil, good("aud", 5), ErrAudNotString},
		{"aud a list with a number", nil, good("aud", []any{"api", 5}), ErrAudNotString},
		{"bad base64 signature", nil, gh + "." + gp + ".!!", ErrSignatureBase64},
		{"16 KiB token", nil, good("pad", strings.Repeat("a", 16<<10)), ErrTooLarge},
	}

	lifetime := base
	lifetime.MaxLifetime = 90 * time.Minute
	cases = append(cases,
		tc{"lifetime within maxLifetime", &lifetime, good(), nil},
		tc{"too-long lifetime", &lifetime, good("iat", testNow.Add(-time.Hour).Unix(), "exp", testNow.Add(time.Hour).Unix()), ErrLifetime},
		tc{"maxLifetime without iat", &lifetime, good("iat", nil), ErrLifetime},
		tc{"maxLifetime without exp", &lifetime, good("exp", nil), ErrLifetime},
	)
	reqExp := base
	reqExp.RequireExpiration = true
	cases = append(cases,
		tc{"missing exp with requireExpiration", &reqExp, good("exp", nil), ErrExpRequired},
		tc{"missing exp without requireExpiration", nil, good("exp", nil), nil},
	)
	esOnly := base
	esOnly.Algorithms = []string{"ES256"}
	cases = append(cases,
		tc{"alg outside the allow-list", &esOnly, goodTok, ErrKidAlgMismatch},
		tc{"alg inside the allow-list", &esOnly, mint(t, "ES256", "ec256", ecKey, claims(), nil), nil},
	)
	jwkAlg := base
	jwkAlg.JWKS = model.KeySource{Inline: jwksOf(t, jwk(&rsaKey.PublicKey, "rsa1", "RS256"))}
	cases = append(cases,
		tc{"JWK alg RS256, token PS256", &jwkAlg, mint(t, "PS256", "rsa1", rsaKey, claims(), nil), ErrKidAlgMismatch},
		tc{"JWK alg RS256, token RS256", &jwkAlg, goodTok, nil},
	)
	big := base
	big.MaxTokenBytes = 32 << 10
	cases = append(cases, tc{"16 KiB token under a 32 KiB limit", &big, good("pad", strings.Repeat("a", 16<<10)), nil})

	// Every algorithm family, valid and invalid.
	fam := []struct {
		alg, kid  string
		priv, bad any
	}{
		{"RS256", "rsa1", rsaKey, rsaKey2}, {"RS384", "rsa1", rsaKey, rsaKey2}, {"RS512", "rsa1", rsaKey, rsaKey2},
		{"PS256", "rsa1", rsaKey, rsaKey2}, {"PS384", "rsa1", rsaKey, rsaKey2}, {"PS512", "rsa1", rsaKey, rsaKey2},
		{"ES256", "ec256", ecKey, ec384}, {"ES384", "ec384", ec384, ec521}, {"ES512", "ec521", ec521, ecKey},
		{"EdDSA", "ed1", edKey, nil},
		{"HS256", "hs1", hmacKey, []byte("another secret, another secret, another secret")},
		{"HS384", "hs1", hmacKey, []byte("x")}, {"HS512", "hs1", hmacKey, []byte("y")},
	}
	for _, f := range fam {
		tok := mint(t, f.alg, f.kid, f.priv, claims(), nil)
		cases = append(cases, tc{f.alg + " valid", nil, tok, nil})
		parts := strings.Split(tok, ".")
		sig := []byte(parts[2])
		if sig[3] == 'A' {
			sig[3] = 'B'
		} else {
			sig[3] = 'A'
		}
		cases = append(cases, tc{f.alg + " tampered signature", nil, parts[0] + "." + parts[1] + "." + string(sig), ErrVerificationFail})
		switch f.bad.(type) {
		case nil:
		default:
			if f.alg[:2] == "ES" {
				// A key of another curve cannot sign for this alg; use a
				// fresh key of the same curve instead.
				continue
			}
			cases = append(cases, tc{f.alg + " signed by another key", nil, mint(t, f.alg, f.kid, f.bad, claims(), nil), ErrVerificationFail})
		}
	}
	cases = append(cases,
		tc{"ES256 token, kid of a P-384 key", nil, mint(t, "ES256", "ec384", ecKey, claims(), nil), ErrKidAlgMismatch},
		tc{"EdDSA token, kid of an RSA key", nil, mint(t, "EdDSA", "rsa1", edKey, claims(), nil), ErrKidAlgMismatch},
	)

	provs := map[*model.Provider]*Provider{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mp := c.prov
			if mp == nil {
				mp = &base
			}
			p := provs[mp]
			if p == nil {
				p = newTestProvider(t, *mp, func(o *Options) { o.CacheSize = -1 })
				provs[mp] = p
			}
			id, err := p.Verify(context.Background(), c.token)
			wantErr(t, err, c.want)
			if (id == nil) == (err == nil) {
				t.Fatalf("identity %v and error %v", id, err)
			}
			if err == nil && id.Issuer != testIssuer {
				t.Fatalf("issuer %q", id.Issuer)
			}
		})
	}
}

func TestErrorBodies(t *testing.T) {
	// The bodies Envoy sends; a client or script may compare them.
	want := map[*Error]string{
		ErrMissing:          "Jwt is missing",
		ErrBadFormat:        "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections",
		ErrNotOneToken:      "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections",
		ErrJtiNotString:     "Jwt payload [jti] field is not a string",
		ErrExpired:          "Jwt is expired",
		ErrNotYetValid:      "Jwt not yet valid",
		ErrUnknownIssuer:    "Jwt issuer is not configured",
		ErrAudience:         "Audiences in Jwt are not allowed",
		ErrKidAlgMismatch:   "Jwks doesn't have key to match kid or alg from Jwt",
		ErrVerificationFail: "Jwt verification fails",
		ErrJwksFetch:        "Jwks remote fetch is failed",
		ErrTooLarge:         "Jwt verification fails",
		ErrCrit:             "Jwt verification fails",
	}
	for e, body := range want {
		if e.Msg != body || e.Error() != body {
			t.Errorf("%v: body %q, want %q", e.Reason, e.Msg, body)
		}
		status := 401
		if e == ErrAudience {
			status = 403
		}
		if e.Status != status {
			t.Errorf("%q: status %d, want %d", e.Msg, e.Status, status)
		}
	}
	if ErrTooLarge == ErrVerificationFail || ErrCrit == ErrVerificationFail || ErrNotOneToken == ErrBadFormat || ErrNotOneToken.Reason == ErrBadFormat.Reason {
		t.Fatal("our own checks must be distinct values")
	}
	// The ASM walkthrough's invalid-token answer is 79 bytes long.
	if len(ErrBadFormat.Msg) != 79 {
		t.Fatalf("bad-format body is %d bytes", len(ErrBadFormat.Msg))
	}
}

func TestKeySources(t *testing.T) {
	keys(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)}))
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "signer"}, NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ecKey.PublicKey, ecKey)
	if err != nil {
		t.Fatal(err)
	}
	cert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	privDER, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	privPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}))

	rs := mint(t, "RS256", "", rsaKey, claims(), nil)
	es := mint(t, "ES256", "", ecKey, claims(), nil)
	ed := mint(t, "EdDSA", "", edKey, claims(), nil)
	cases := []struct {
		name   string
		ks     model.KeySource
		token  string
		want   *Error
		badCfg bool
	}{
		{"PEM PKIX", model.KeySource{PEM: pemPublic(t, &rsaKey.PublicKey)}, rs, nil, false},
		{"PEM PKCS#1", model.KeySource{PEM: pkcs1}, rs, nil, false},
		{"PEM certificate", model.KeySource{PEM: cert}, es, nil, false},
		{"PEM Ed25519", model.KeySource{PEM: pemPublic(t, edKey.Public())}, ed, nil, false},
		{"PEM two keys", model.KeySource{PEM: pkcs1 + cert}, es, nil, false},
		{"PEM wrong key", model.KeySource{PEM: pkcs1}, es, ErrKidAlgMismatch, false},
		{"file PEM", model.KeySource{File: write("k.pem", pkcs1)}, rs, nil, false},
		{"file JWKS", model.KeySource{File: write("k.json", jwksOf(t, jwk(&ecKey.PublicKey, "", "ES256")))}, es, nil, false},
		{"JWKS with a bad key beside a good one", model.KeySource{Inline: `{"keys":[{"kty":"RSA","n":"!!","e":"AQAB"},{"kty":"XYZ"},` + strings.TrimPrefix(jwksOf(t, jwk(&rsaKey.PublicKey, "", "")), `{"keys":[`)}, rs, nil, false},
		{"JWKS enc key skipped", model.KeySource{Inline: `{"keys":[{"kty":"RSA","use":"enc","n":"` + b64s(rsaKey.N.Bytes()) + `","e":"AQAB"}]}`}, "", nil, true},
		{"PEM private key refused", model.KeySource{PEM: privPEM}, "", nil, true},
		{"PEM garbage", model.KeySource{PEM: "hello"}, "", nil, true},
		{"JWKS garbage", model.KeySource{Inline: "{nope"}, "", nil, true},
		{"JWKS empty", model.KeySource{Inline: `{"keys":[]}`}, "", nil, true},
		{"missing file", model.KeySource{File: filepath.Join(dir, "none")}, "", nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := NewProvider(model.Provider{Name: "k", Issuer: testIssuer, JWKS: c.ks}, Options{Now: fixedNow})
			if c.badCfg {
				if err == nil {
					t.Fatal("NewProvider accepted an unusable key source")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, verr := p.Verify(context.Background(), c.token)
			wantErr(t, verr, c.want)
		})
	}
}

func TestProviderConfigErrors(t *testing.T) {
	keys(t)
	inline := model.KeySource{Inline: jwksOf(t, jwk(&rsaKey.PublicKey, "", ""))}
	bad := []model.Provider{
		{Name: "alg", Algorithms: []string{"none"}, JWKS: inline},
		{Name: "nodiscovery"},
		{Name: "scheme", JWKS: model.KeySource{URI: "ftp://x/jwks"}},
		{Name: "from", From: []model.TokenSource{{Header: "a", Query: "b"}}, JWKS: inline},
		{Name: "claims", ClaimsToHeaders: []model.ClaimToHeader{{Claim: "x"}}, JWKS: inline},
		{Name: "ca", JWKS: model.KeySource{URI: "https://x/jwks", CAFile: "/nonexistent"}},
	}
	for _, mp := range bad {
		if _, err := NewProvider(mp, Options{}); err == nil {
			t.Errorf("%s: accepted", mp.Name)
		}
	}
}

// clock is a settable test clock.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock    { c := &clock{}; c.ns.Store(t.UnixNano()); return c }
func (c *clock) Now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) Add(d time.Duration) { c.ns.Add(int64(d)) }

func TestVerifiedTokenCache(t *testing.T) {
	keys(t)
	clk := newClock(testNow)
	mp := model.Provider{Name: "c", Issuer: testIssuer, ClockSkew: 10 * time.Second, JWKS: model.KeySource{Inline: jwksOf(t, jwk(&rsaKey.PublicKey, "", ""))}}
	p, err := NewProvider(mp, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	tok := mint(t, "RS256", "", rsaKey, claims("exp", testNow.Add(time.Minute).Unix(), "nbf", testNow.Add(-time.Minute).Unix()), nil)
	ctx := context.Background()
	id1, err := p.Verify(ctx, tok)
	wantErr(t, err, nil)
	id2, err := p.Verify(ctx, tok)
	wantErr(t, err, nil)
	if id1 != id2 {
		t.Fatal("second verification did not come from the cache")
	}
	clk.Add(65 * time.Second)
	_, err = p.Verify(ctx, tok)
	wantErr(t, err, nil) // within skew
	clk.Add(10 * time.Second)
	_, err = p.Verify(ctx, tok)
	wantErr(t, err, ErrExpired)
	clk.Add(-3 * time.Minute)
	_, err = p.Verify(ctx, tok)
	wantErr(t, err, ErrNotYetValid)

	// Disabled cache: a fresh identity each time.
	np, _ := NewProvider(mp, Options{Now: clk.Now, CacheSize: -1})
	clk.Add(2 * time.Minute)
	a, err := np.Verify(ctx, tok)
	wantErr(t, err, nil)
	b, _ := np.Verify(ctx, tok)
	if a == b {
		t.Fatal("disabled cache returned the same identity")
	}

	// Bounded.
	c := newTokenCache(2)
	for _, k := range []string{"a", "b", "a", "c"} {
		c.put(&cacheEntry{key: k})
	}
	if c.len() != 2 || c.get("b") != nil || c.get("a") == nil || c.get("c") == nil {
		t.Fatalf("LRU kept the wrong entries")
	}
	c.remove("a")
	if c.len() != 1 {
		t.Fatal("remove")
	}
}
