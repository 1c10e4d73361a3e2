package authn

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"jwtgate.dev/jwtgate/internal/model"
)

// testNow is the pinned clock of the tests: 2025-01-01T00:00:00Z.
var testNow = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return testNow }

var (
	keyOnce sync.Once
	rsaKey  *rsa.PrivateKey
	rsaKey2 *rsa.PrivateKey
	ecKey   *ecdsa.PrivateKey
	ec384   *ecdsa.PrivateKey
	ec521   *ecdsa.PrivateKey
	edKey   ed25519.PrivateKey
	hmacKey = []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
)

// keys generates the test keys once per test binary.
func keys(t testing.TB) {
	t.Helper()
	keyOnce.Do(func() {
		var err error
		must := func(e error) {
			if e != nil && err == nil {
				err = e
			}
		}
		var e error
		rsaKey, e = rsa.GenerateKey(rand.Reader, 2048)
		must(e)
		rsaKey2, e = rsa.GenerateKey(rand.Reader, 2048)
		must(e)
		ecKey, e = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(e)
		ec384, e = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		must(e)
		ec521, e = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
		must(e)
		_, edKey, e = ed25519.GenerateKey(rand.Reader)
		must(e)
		if err != nil {
			panic(err)
		}
	})
}

// b64s encodes base64url without padding.
func b64s(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// mint builds a compact token: header gets alg (and kid when not empty),
// extra header fields are merged in; the signature is made with
// golang-jwt's signing method for alg.
func mint(t testing.TB, alg, kid string, priv any, claims map[string]any, extraHeader map[string]any) string {
	t.Helper()
	h := map[string]any{"alg": alg, "typ": "JWT"}
	if kid != "" {
		h["kid"] = kid
	}
	for k, v := range extraHeader {
		if v == nil {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	hb, _ := json.Marshal(h)
	pb, _ := json.Marshal(claims)
	input := b64s(hb) + "." + b64s(pb)
	m := jwt.GetSigningMethod(alg)
	if m == nil {
		return input + "." + b64s([]byte("sig"))
	}
	sig, err := m.Sign(input, priv)
	if err != nil {
		t.Fatalf("signing %s: %v", alg, err)
	}
	return input + "." + b64s(sig)
}

// jwksOf builds a JWKS document from public keys; kids and algs pair up
// with keys ("" leaves them out).
func jwksOf(t testing.TB, ks ...jose.JSONWebKey) string {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: ks})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func jwk(pub any, kid, alg string) jose.JSONWebKey {
	return jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: alg, Use: "sig"}
}

// claims returns standard valid claims relative to testNow, overridden
// by kv pairs (a nil value deletes the claim).
func claims(kv ...any) map[string]any {
	c := map[string]any{
		"iss": "https://issuer.test",
		"sub": "alice",
		"aud": "api",
		"iat": testNow.Add(-time.Minute).Unix(),
		"exp": testNow.Add(time.Hour).Unix(),
	}
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(c, k)
		} else {
			c[k] = kv[i+1]
		}
	}
	return c
}

// newTestProvider compiles mp with the pinned clock.
func newTestProvider(t testing.TB, mp model.Provider, opts ...func(*Options)) *Provider {
	t.Helper()
	o := Options{Now: fixedNow}
	for _, f := range opts {
		f(&o)
	}
	if mp.Name == "" {
		mp.Name = "test"
	}
	p, err := NewProvider(mp, o)
	if err != nil {
		t.Fatalf("NewProvider: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// readTestdata reads a file under testdata.
func readTestdata(t testing.TB, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// wantErr checks that err is the *Error want, by identity, with its body
// and status.
func wantErr(t testing.TB, err error, want *Error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("got error %v (%s), want success", err, reason(err))
		}
		return
	}
	if err == nil {
		t.Fatalf("got success, want %q", want.Msg)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T is not *Error", err)
	}
	if !errors.Is(err, want) {
		t.Fatalf("got %q (%s), want %q (%s)", e.Msg, e.Reason, want.Msg, want.Reason)
	}
	if e.Status != want.Status || e.Msg != want.Msg {
		t.Fatalf("got %d %q, want %d %q", e.Status, e.Msg, want.Status, want.Msg)
	}
}

func reason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

var _ crypto.PublicKey = (*rsa.PublicKey)(nil)
