package authn

import (
	"context"
	"testing"

	"jwtgate.dev/jwtgate/internal/model"
)

// TestRegisteredClaimTypes: every registered claim of RFC 7519 with a
// value of each JSON type. Tokens are properly signed and the provider
// checks neither issuer nor audience, so a token whose claims have the
// right types verifies, and one with a wrong type fails with Envoy's
// reason for that claim.
func TestRegisteredClaimTypes(t *testing.T) {
	keys(t)
	p := newTestProvider(t, model.Provider{JWKS: model.KeySource{Inline: jwksOf(t, jwk(&rsaKey.PublicKey, "rsa1", ""))}},
		func(o *Options) { o.CacheSize = -1 })

	// Values of every JSON type but the one a claim must have.
	notString := []string{`1`, `1.5`, `true`, `false`, `null`, `[]`, `["a"]`, `{}`, `{"a":"b"}`}
	notNumber := []string{`"1735689600"`, `""`, `true`, `null`, `[]`, `[1735689600]`, `{}`}

	type tc struct {
		name    string
		payload string
		want    *Error
	}
	var cases []tc
	for _, c := range []struct {
		claim string
		err   *Error
	}{{"iss", ErrIssNotString}, {"sub", ErrSubNotString}, {"jti", ErrJtiNotString}} {
		cases = append(cases,
			tc{c.claim + " string", `{"` + c.claim + `":"x"}`, nil},
			tc{c.claim + " empty string", `{"` + c.claim + `":""}`, nil},
		)
		for _, v := range notString {
			cases = append(cases, tc{c.claim + " " + v, `{"` + c.claim + `":` + v + `}`, c.err})
		}
	}
	for _, v := range []string{`"api"`, `""`, `[]`, `["api"]`, `["a","b"]`} {
		cases = append(cases, tc{"aud " + v, `{"aud":` + v + `}`, nil})
	}
	for _, v := range []string{`1`, `true`, `null`, `{}`, `{"a":"b"}`, `[1]`, `["a",null]`, `["a",["b"]]`, `[{"a":"b"}]`, `["a",true]`} {
		cases = append(cases, tc{"aud " + v, `{"aud":` + v + `}`, ErrAudNotString})
	}
	// Times: exp in the future, nbf and iat in the past (testNow is
	// 1735689600).
	for _, c := range []struct {
		claim, good, goodExp string
		notInt               *Error
		notPos               *Error
	}{
		{"exp", "1735693200", "17357e5", ErrExpNotInteger, ErrExpNotPositive},
		{"nbf", "1735686000", "17356e5", ErrNbfNotInteger, ErrNbfNotPositive},
		{"iat", "1735686000", "17356e5", ErrIatNotInteger, ErrIatNotPositive},
	} {
		cases = append(cases,
			tc{c.claim + " integer", `{"` + c.claim + `":` + c.good + `}`, nil},
			tc{c.claim + " integer written with .0", `{"` + c.claim + `":` + c.good + `.0}`, nil},
			tc{c.claim + " integer written with an exponent", `{"` + c.claim + `":` + c.goodExp + `}`, nil},
			tc{c.claim + " fractional", `{"` + c.claim + `":` + c.good + `.5}`, c.notInt},
			tc{c.claim + " negative", `{"` + c.claim + `":-1}`, c.notPos},
			tc{c.claim + " beyond int64", `{"` + c.claim + `":9223372036854775808}`, c.notPos},
		)
		for _, v := range notNumber {
			cases = append(cases, tc{c.claim + " " + v, `{"` + c.claim + `":` + v + `}`, c.notInt})
		}
	}
	// Several wrong claims: the first in Envoy's order (iss, sub, iat,
	// nbf, exp, jti, aud) is reported.
	cases = append(cases,
		tc{"iss before sub", `{"sub":1,"iss":1}`, ErrIssNotString},
		tc{"sub before iat", `{"iat":"x","sub":1}`, ErrSubNotString},
		tc{"iat before nbf", `{"nbf":"x","iat":"x"}`, ErrIatNotInteger},
		tc{"nbf before exp", `{"exp":"x","nbf":"x"}`, ErrNbfNotInteger},
		tc{"exp before jti", `{"jti":1,"exp":"x"}`, ErrExpNotInteger},
		tc{"jti before aud", `{"aud":1,"jti":1}`, ErrJtiNotString},
		tc{"other claims may have any type", `{"azp":1,"scope":["a"],"x":null,"nonce":{}}`, nil},
	)

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := signRaw(t, `{"alg":"RS256","kid":"rsa1"}`, c.payload, rsaKey)
			id, err := p.Verify(context.Background(), tok)
			wantErr(t, err, c.want)
			if c.want != nil && id != nil {
				t.Fatal("identity returned with an error")
			}
		})
	}
}
