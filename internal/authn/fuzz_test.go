package authn

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"jwtgate.dev/jwtgate/internal/model"
)

// FuzzVerify feeds raw token bytes to a provider: it must never panic,
// and must return an identity or an *Error, never both or neither.
func FuzzVerify(f *testing.F) {
	keys(f)
	good := mint(f, "RS256", "rsa1", rsaKey, claims(), nil)
	seeds := []string{
		good, "", ".", "..", "...", "a.b.c", "invalid", good + ".x",
		mint(f, "ES256", "ec256", ecKey, claims(), nil),
		mint(f, "EdDSA", "ed1", edKey, claims(), nil),
		mint(f, "HS256", "hs1", hmacKey, claims(), nil),
		mint(f, "RS256", "rsa1", rsaKey, claims("exp", "x"), nil),
		mint(f, "RS256", "rsa1", rsaKey, claims(), map[string]any{"crit": []string{"b64"}}),
		b64s([]byte(`{"alg":"none"}`)) + "." + b64s([]byte(`{}`)) + ".",
		b64s([]byte(`{"alg":"RS256"}`)) + "." + b64s([]byte(`{"exp":1e400,"aud":[1]}`)) + ".AA",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	p, err := NewProvider(model.Provider{Name: "fuzz", Issuer: testIssuer, Audiences: []string{"api"}, MaxLifetime: 1 << 40,
		JWKS: model.KeySource{Inline: allKeysJWKS(f)}}, Options{Now: fixedNow})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := p.Verify(context.Background(), tok)
		if (id == nil) == (err == nil) {
			t.Fatalf("identity %v, error %v", id, err)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Msg == "" || (e.Status != 401 && e.Status != 403) {
				t.Fatalf("error %#v", err)
			}
		}
	})
}

// FuzzExtract feeds raw header, query and cookie strings to a requirement:
// authentication and Apply must never panic, and the result must be
// consistent.
func FuzzExtract(f *testing.F) {
	keys(f)
	good := mint(f, "RS256", "rsa1", rsaKey, claims(), nil)
	f.Add("Bearer "+good, "access_token="+good, "tok="+good)
	f.Add("Bearer invalid token", "access_token=&x=%zz", "a=1; tok=\"q\"; tok=")
	f.Add("bearer\t, ,", "access_token=a&access_token=b;c", ";;=;tok")
	f.Add("", "", "")
	p, err := NewProvider(model.Provider{Name: "fuzz", Issuer: testIssuer, ClaimsToHeaders: []model.ClaimToHeader{{Claim: "sub", Header: "x-sub"}},
		From: []model.TokenSource{{Header: "Authorization", Prefix: "Bearer "}, {Query: "access_token"}, {Cookie: "tok"}, {Header: "x-raw"}},
		JWKS: model.KeySource{Inline: allKeysJWKS(f)}}, Options{Now: fixedNow})
	if err != nil {
		f.Fatal(err)
	}
	q, err := NewRequirement(model.JWTRequirement{Providers: []string{"fuzz"}, Mode: model.AuthAllowMissingOrFailed}, map[string]*Provider{"fuzz": p})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, header, query, cookie string) {
		r := &http.Request{Method: "GET", URL: &url.URL{Path: "/", RawQuery: query}, Header: http.Header{
			"Authorization": {header}, "X-Raw": {header}, "Cookie": {cookie},
		}}
		res := q.Authenticate(context.Background(), r)
		switch res.Outcome {
		case Missing, Invalid:
			if res.Err == nil {
				t.Fatal("no error for a missing or invalid result")
			}
		case Verified:
			if res.Err != nil || len(res.Identities) == 0 {
				t.Fatal("verified without identity")
			}
		}
		if q.Reject(res) != nil {
			t.Fatal("allowMissingOrFailed rejected")
		}
		q.Apply(r, res)
	})
}
