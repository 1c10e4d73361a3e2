package authn

import (
	"bufio"
	"context"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/model"
)

// tokensFile reads a "name token" per line file.
func tokensFile(t *testing.T, rel string) map[string]string {
	t.Helper()
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(readTestdata(t, rel)))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 {
			m[f[0]] = f[1]
		}
	}
	return m
}

var envoyAudiences = []string{"example_service", "http://example_service1", "https://example_service2/"}

// TestVectors checks every public vector: tokens that verify with their
// published key set verify here, and the others fail with Envoy's reason.
func TestVectors(t *testing.T) {
	istioCommon := tokensFile(t, "vectors/istio/tests-common-jwt/tokens.txt")
	envoy := tokensFile(t, "vectors/envoy/tokens.txt")

	inline := func(rel string) model.KeySource { return model.KeySource{Inline: readTestdata(t, rel)} }
	pemKS := func(rel string) model.KeySource { return model.KeySource{PEM: readTestdata(t, rel)} }
	file := func(rel string) model.KeySource { return model.KeySource{File: "testdata/" + rel} }
	envoyProvider := model.Provider{Issuer: "https://example.com", Audiences: envoyAudiences, JWKS: inline("vectors/envoy/jwks.json")}

	cases := []struct {
		name  string
		prov  model.Provider
		token string
		want  *Error
		sub   string
	}{
		{"istio demo", model.Provider{Issuer: "testing@secure.istio.io", JWKS: inline("vectors/istio/jwks.json")}, readTestdata(t, "vectors/istio/demo.jwt"), nil, "testing@secure.istio.io"},
		{"istio groups-scope", model.Provider{JWKS: file("vectors/istio/jwks.json")}, readTestdata(t, "vectors/istio/groups-scope.jwt"), nil, "testing@secure.istio.io"},
		{"seed 003 (ASM)", model.Provider{Issuer: "testing@secure.istio.io", JWKS: inline("seeds/003_jwks.json")}, readTestdata(t, "seeds/003_token.jwt"), nil, "testing@secure.istio.io"},
		{"seed 004 (kgateway, modulus with leading zero)", model.Provider{Issuer: "solo.io", JWKS: inline("seeds/004_jwks.json")}, readTestdata(t, "seeds/004_token.jwt"), nil, "alice"},

		{"istio TokenIssuer1", model.Provider{Issuer: "test-issuer-1@istio.io", JWKS: inline("vectors/istio/tests-common-jwt/jwks.json")}, istioCommon["TokenIssuer1"], nil, "sub-1"},
		{"istio TokenIssuer1WithAud", model.Provider{Issuer: "test-issuer-1@istio.io", Audiences: []string{"foo"}, JWKS: inline("vectors/istio/tests-common-jwt/jwks.json")}, istioCommon["TokenIssuer1WithAud"], nil, "sub-1"},
		{"istio TokenIssuer1WithAzp", model.Provider{JWKS: inline("vectors/istio/tests-common-jwt/jwks.json")}, istioCommon["TokenIssuer1WithAzp"], nil, "sub-1"},
		{"istio TokenIssuer1WithNestedClaims1", model.Provider{JWKS: inline("vectors/istio/tests-common-jwt/jwks.json")}, istioCommon["TokenIssuer1WithNestedClaims1"], nil, "sub-1"},
		{"istio TokenIssuer1WithNestedClaims2", model.Provider{JWKS: inline("vectors/istio/tests-common-jwt/jwks.json")}, istioCommon["TokenIssuer1WithNestedClaims2"], nil, "sub-1"},
		{"istio TokenIssuer1WithCollisionResistantName", model.Provider{JWKS: inline("vectors/istio/tests-common-jwt/jwks.json")}, istioCommon["TokenIssuer1WithCollisionResistantName"], nil, "sub-1"},
		{"istio TokenIssuer2", model.Provider{Issuer: "test-issuer-2@istio.io", JWKS: inline("vectors/istio/tests-common-jwt/jwks.json")}, istioCommon["TokenIssuer2"], nil, "sub-2"},
		{"istio TokenIssuer2 against issuer 1", model.Provider{Issuer: "test-issuer-1@istio.io", JWKS: inline("vectors/istio/tests-common-jwt/jwks.json")}, istioCommon["TokenIssuer2"], ErrUnknownIssuer, ""},
		{"istio TokenIssuer2WithSpaceDelimitedScope", model.Provider{JWKS: inline("vectors/istio/tests-common-jwt/jwks.json")}, istioCommon["TokenIssuer2WithSpaceDelimitedScope"], nil, "sub-2"},
		{"istio TokenExpired", model.Provider{JWKS: inline("vectors/istio/tests-common-jwt/jwks.json")}, istioCommon["TokenExpired"], ErrExpired, ""},
		{"istio TokenInvalid", model.Provider{JWKS: inline("vectors/istio/tests-common-jwt/jwks.json")}, istioCommon["TokenInvalid"], ErrBadFormat, ""},

		{"gloo dev-example (PEM)", model.Provider{Issuer: "https://dev.example.com", JWKS: pemKS("vectors/gloo-mesh-use-cases/public.pem")}, readTestdata(t, "vectors/gloo-mesh-use-cases/dev-example.jwt"), nil, ""},
		{"gloo dev-example (derived JWKS)", model.Provider{JWKS: inline("vectors/gloo-mesh-use-cases/jwks.derived-from-public.pem.json")}, readTestdata(t, "vectors/gloo-mesh-use-cases/dev-example.jwt"), nil, ""},
		{"gloo login-example (PEM file)", model.Provider{Issuer: "https://login.example.com", JWKS: file("vectors/gloo-mesh-use-cases/public.pem")}, readTestdata(t, "vectors/gloo-mesh-use-cases/login-example.jwt"), nil, ""},
		{"gloo login-example wrong issuer", model.Provider{Issuer: "https://dev.example.com", JWKS: pemKS("vectors/gloo-mesh-use-cases/public.pem")}, readTestdata(t, "vectors/gloo-mesh-use-cases/login-example.jwt"), ErrUnknownIssuer, ""},
		{"gloo nested", model.Provider{JWKS: pemKS("vectors/gloo-mesh-use-cases/nested.pubkey-from-url.pem")}, readTestdata(t, "vectors/gloo-mesh-use-cases/nested.jwt"), nil, ""},

		{"kgateway e2e dev1", model.Provider{Issuer: "https://dev.example.com", JWKS: pemKS("vectors/kgateway/e2e-test/public.pem")}, readTestdata(t, "vectors/kgateway/e2e-test/dev1JwtToken.jwt"), nil, ""},
		{"kgateway e2e dev2", model.Provider{JWKS: inline("vectors/kgateway/e2e-test/jwks.derived-from-public.pem.json")}, readTestdata(t, "vectors/kgateway/e2e-test/dev2JwtToken.jwt"), nil, ""},
		{"kgateway e2e badJwtToken", model.Provider{Issuer: "https://dev.example.com", JWKS: pemKS("vectors/kgateway/e2e-test/public.pem")}, readTestdata(t, "vectors/kgateway/e2e-test/badJwtToken.jwt"), ErrVerificationFail, ""},

		{"kgateway v1 alice", model.Provider{Issuer: "solo.io", JWKS: inline("vectors/kgateway/docs-solo-key-v1/jwks.json")}, readTestdata(t, "vectors/kgateway/docs-solo-key-v1/alice.jwt"), nil, "alice"},
		{"kgateway v1 alice rbac", model.Provider{Issuer: "solo.io", JWKS: inline("vectors/kgateway/docs-solo-key-v1/jwks.json")}, readTestdata(t, "vectors/kgateway/docs-solo-key-v1/alice-from-claim-based-rbac.jwt"), nil, "alice"},
		{"kgateway v1 bob rbac", model.Provider{Issuer: "solo.io", JWKS: inline("vectors/kgateway/docs-solo-key-v1/jwks.json")}, readTestdata(t, "vectors/kgateway/docs-solo-key-v1/bob-from-claim-based-rbac.jwt"), nil, "bob"},
		{"kgateway v2 kid kgateway", model.Provider{Issuer: "kgateway.dev", JWKS: inline("vectors/kgateway/docs-key-v2/jwks.json")}, readTestdata(t, "vectors/kgateway/docs-key-v2/alice-kid-kgateway-iss-kgateway.jwt"), nil, "alice"},
		{"kgateway v2 kid solo", model.Provider{Issuer: "solo.io", JWKS: inline("vectors/kgateway/docs-key-v2/jwks-kid-solo.json")}, readTestdata(t, "vectors/kgateway/docs-key-v2/alice-kid-solo-iss-solo.jwt"), nil, "alice"},
		{"agentgateway DEV_TOKEN_1", model.Provider{Issuer: "solo.io", JWKS: inline("vectors/solo-agentgateway-workshops/jwks.json")}, readTestdata(t, "vectors/solo-agentgateway-workshops/DEV_TOKEN_1.jwt"), nil, "user-id"},

		// Three different keys share kid solo-public-key-001: each token
		// verifies with its own provider's key only.
		{"kid solo-public-key-001: v1 token, v2 key", model.Provider{JWKS: inline("vectors/kgateway/docs-key-v2/jwks-kid-solo.json")}, readTestdata(t, "vectors/kgateway/docs-solo-key-v1/alice.jwt"), ErrVerificationFail, ""},
		{"kid solo-public-key-001: v1 token, workshop key", model.Provider{JWKS: inline("vectors/solo-agentgateway-workshops/jwks.json")}, readTestdata(t, "vectors/kgateway/docs-solo-key-v1/alice.jwt"), ErrVerificationFail, ""},
		{"kid solo-public-key-001: workshop token, v1 key", model.Provider{JWKS: inline("vectors/kgateway/docs-solo-key-v1/jwks.json")}, readTestdata(t, "vectors/solo-agentgateway-workshops/DEV_TOKEN_1.jwt"), ErrVerificationFail, ""},
		{"kid solo-public-key-001: v2 token, v1 key", model.Provider{JWKS: inline("vectors/kgateway/docs-solo-key-v1/jwks.json")}, readTestdata(t, "vectors/kgateway/docs-key-v2/alice-kid-solo-iss-solo.jwt"), ErrVerificationFail, ""},

		{"envoy GoodToken", envoyProvider, envoy["GoodToken"], nil, "test@example.com"},
		{"envoy GoodTokenWithSpaces", envoyProvider, envoy["GoodTokenWithSpaces"], nil, "test@example.com"},
		{"envoy NestedGoodToken", envoyProvider, envoy["NestedGoodToken"], nil, "test@example.com"},
		{"envoy ExpiredToken", envoyProvider, envoy["ExpiredToken"], ErrExpired, ""},
		{"envoy NotYetValidToken (time before signature)", envoyProvider, envoy["NotYetValidToken"], ErrNotYetValid, ""},
		{"envoy InvalidAudToken", envoyProvider, envoy["InvalidAudToken"], ErrAudience, ""},
		{"envoy NonExistKidToken", envoyProvider, envoy["NonExistKidToken"], ErrVerificationFail, ""},
		{"envoy OtherGoodToken against example.com", envoyProvider, envoy["OtherGoodToken"], ErrUnknownIssuer, ""},
		{"envoy OtherGoodToken against other.com", model.Provider{Issuer: "https://other.com", JWKS: inline("vectors/envoy/jwks.json")}, envoy["OtherGoodToken"], nil, "test@other.com"},
		{"envoy NonExpiringToken with requireExpiration", model.Provider{Issuer: "https://example.com", RequireExpiration: true, JWKS: inline("vectors/envoy/jwks.json")}, envoy["NonExpiringToken"], ErrExpRequired, ""},
		{"envoy NonExpiringToken without requireExpiration", model.Provider{Issuer: "https://example.com", JWKS: inline("vectors/envoy/jwks.json")}, envoy["NonExpiringToken"], ErrVerificationFail, ""},
		{"envoy ES256WithoutIssToken", model.Provider{Audiences: envoyAudiences, JWKS: inline("vectors/envoy/es256_jwks.json")}, envoy["ES256WithoutIssToken"], nil, "628645741881-noabiu23f5a8m8ovd8ucv698lj78vv0l@developer.gserviceaccount.com"},
		{"envoy ES256WithoutIssToken with an issuer", model.Provider{Issuer: "https://example.com", JWKS: inline("vectors/envoy/es256_jwks.json")}, envoy["ES256WithoutIssToken"], ErrUnknownIssuer, ""},
		{"envoy GoodToken against the ES256 set", model.Provider{JWKS: inline("vectors/envoy/es256_jwks.json")}, envoy["GoodToken"], ErrKidAlgMismatch, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.token == "" {
				t.Fatal("token not found in testdata")
			}
			p := newTestProvider(t, c.prov)
			id, err := p.Verify(context.Background(), c.token)
			wantErr(t, err, c.want)
			if c.want == nil {
				if id == nil {
					t.Fatal("nil identity")
				}
				if id.Subject != c.sub {
					t.Errorf("subject %q, want %q", id.Subject, c.sub)
				}
				if !strings.Contains(c.token, "."+id.Payload+".") {
					t.Errorf("payload %q is not the token's payload segment", id.Payload)
				}
			} else if id != nil {
				t.Fatal("identity returned with an error")
			}
		})
	}
}
