package authn

import (
	"context"
	"testing"

	"jwtgate.dev/jwtgate/internal/model"
)

// BenchmarkVerify measures one verification per algorithm, with the
// verified-token cache disabled (every iteration parses and checks the
// signature) and enabled (every iteration after the first is a hit).
func BenchmarkVerify(b *testing.B) {
	keys(b)
	algs := []struct {
		alg, kid string
		priv     any
	}{{"RS256", "rsa1", rsaKey}, {"ES256", "ec256", ecKey}, {"EdDSA", "ed1", edKey}}
	mp := model.Provider{Name: "bench", Issuer: testIssuer, Audiences: []string{"api"}, JWKS: model.KeySource{Inline: allKeysJWKS(b)}}
	ctx := context.Background()
	for _, cached := range []bool{false, true} {
		size := -1
		suffix := ""
		if cached {
			size, suffix = 0, "/cached"
		}
		p, err := NewProvider(mp, Options{Now: fixedNow, CacheSize: size})
		if err != nil {
			b.Fatal(err)
		}
		for _, a := range algs {
			tok := mint(b, a.alg, a.kid, a.priv, claims(), nil)
			b.Run(a.alg+suffix, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := p.Verify(ctx, tok); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestCachedVerifyAllocs bounds the allocations of a cache hit.
func TestCachedVerifyAllocs(t *testing.T) {
	keys(t)
	p := newTestProvider(t, model.Provider{Issuer: testIssuer, JWKS: model.KeySource{Inline: allKeysJWKS(t)}})
	tok := mint(t, "RS256", "rsa1", rsaKey, claims(), nil)
	ctx := context.Background()
	if _, err := p.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = p.Verify(ctx, tok) }); n > 0 {
		t.Fatalf("cache hit allocates %v times", n)
	}
}
