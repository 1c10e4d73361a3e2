package authn

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
)

// TestAuthenticateTraced: the traced run gives the result the plain run
// gives, and the trace names each provider tried, the check that failed
// and the values that decided, never the token itself.
func TestAuthenticateTraced(t *testing.T) {
	provs := twoProviders(t, func(a, b *model.Provider) {
		a.Audiences = []string{"api"}
		a.MaxTokenBytes = 2048
	})
	anyOf := mustReq(t, model.JWTRequirement{Providers: []string{"a", "b"}}, provs)
	onlyA := mustReq(t, model.JWTRequirement{Providers: []string{"a"}}, provs)
	expired := testNow.Add(-2 * time.Hour).Unix()
	type attempt struct{ provider, check string }
	tests := []struct {
		name     string
		q        *Requirement
		hdr      []string
		outcome  Outcome
		attempts []attempt
		details  []string // in the last attempt's detail
	}{
		{"missing", onlyA, nil, Missing, nil, nil},
		{"verified", onlyA, []string{"Authorization", "Bearer " + tokA(t)}, Verified, []attempt{{"a", ""}}, nil},
		{"expired", onlyA, []string{"Authorization", "Bearer " + tokA(t, "exp", expired)}, Invalid, []attempt{{"a", "exp"}},
			[]string{"exp 1735682400 (2024-12-31T22:00:00Z)", "2h0m0s before now (2025-01-01T00:00:00Z)", "clock skew of 0s"}},
		{"not yet valid", onlyA, []string{"Authorization", "Bearer " + tokA(t, "nbf", testNow.Add(time.Hour).Unix())}, Invalid, []attempt{{"a", "nbf"}},
			[]string{"nbf 1735693200", "1h0m0s after now"}},
		{"audience", onlyA, []string{"Authorization", "Bearer " + tokA(t, "aud", []string{"web", "cli"})}, Invalid, []attempt{{"a", "aud"}},
			[]string{`aud ["web", "cli"] holds none of the provider's audiences ["api"]`}},
		{"issuer", onlyA, []string{"Authorization", "Bearer " + tokA(t, "iss", "https://evil.test")}, Invalid, []attempt{{"a", "iss"}},
			[]string{`iss "https://evil.test" is not the provider's issuer "https://a.test"`}},
		{"no iss", onlyA, []string{"Authorization", "Bearer " + tokA(t, "iss", nil)}, Invalid, []attempt{{"a", "iss"}},
			[]string{"the token has no iss"}},
		{"kid", onlyA, []string{"Authorization", "Bearer " + mint(t, "RS256", "k9", rsaKey, claims("iss", "https://a.test"), nil)}, Invalid, []attempt{{"a", "kid/alg"}},
			[]string{`no key fits kid "k9" and alg "RS256"; the key set has kid "ka"`}},
		{"signature", onlyA, []string{"Authorization", "Bearer " + mint(t, "RS256", "ka", rsaKey2, claims("iss", "https://a.test"), nil)}, Invalid, []attempt{{"a", "signature"}},
			[]string{`a key fits kid "ka" and alg "RS256"`}},
		{"format", onlyA, []string{"Authorization", "Bearer a.b"}, Invalid, []attempt{{"a", "format"}}, []string{"3 segments"}},
		{"two words", onlyA, []string{"Authorization", "Bearer a b"}, Invalid, []attempt{{"a", "format"}}, []string{"more than one token"}},
		{"too large", onlyA, []string{"Authorization", "Bearer " + strings.Repeat("x", 3000)}, Invalid, []attempt{{"a", "size"}}, []string{"3000 bytes", "maxTokenBytes 2048"}},
		{"second provider", anyOf, []string{"Authorization", "Bearer " + tokB(t)}, Verified, []attempt{{"a", "iss"}, {"b", ""}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := req("/", tt.hdr...)
			plain := tt.q.Authenticate(context.Background(), r)
			var res Result
			var tr Trace
			tt.q.AuthenticateTraced(context.Background(), r, &res, &tr)
			if res.Outcome != plain.Outcome || res.Err != plain.Err || res.Outcome != tt.outcome {
				t.Fatalf("traced %v %v, plain %v %v, want %v", res.Outcome, res.Err, plain.Outcome, plain.Err, tt.outcome)
			}
			if tr.Outcome != tt.outcome.String() || (res.Err != nil && tr.Error != res.Err.Msg) {
				t.Errorf("trace outcome %q %q", tr.Outcome, tr.Error)
			}
			if len(tr.Sources) == 0 || len(tr.Providers) == 0 {
				t.Errorf("trace has no sources or providers: %+v", tr)
			}
			var got []attempt
			var last Attempt
			for _, tok := range tr.Tokens {
				for _, a := range tok.Attempts {
					got = append(got, attempt{a.Provider, a.Check})
					last = a
				}
			}
			if len(got) != len(tt.attempts) {
				t.Fatalf("attempts %v, want %v", got, tt.attempts)
			}
			for i := range got {
				if got[i] != tt.attempts[i] {
					t.Errorf("attempt %d: %v, want %v", i, got[i], tt.attempts[i])
				}
			}
			for _, d := range tt.details {
				if !strings.Contains(last.Detail, d) {
					t.Errorf("detail %q lacks %q", last.Detail, d)
				}
			}
			b, err := json.Marshal(tr)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tr.Secrets() {
				if len(s) > 8 && strings.Contains(string(b), s) {
					t.Errorf("the trace shows a token: %s", b)
				}
			}
			if len(tt.hdr) > 0 && len(tr.Tokens) != 1 {
				t.Errorf("tokens %d, want 1", len(tr.Tokens))
			}
		})
	}
}

// TestTracedClaims: a token's registered claims are shown as it carries
// them.
func TestTracedClaims(t *testing.T) {
	provs := twoProviders(t, nil)
	q := mustReq(t, model.JWTRequirement{Providers: []string{"a"}}, provs)
	var res Result
	var tr Trace
	q.AuthenticateTraced(context.Background(), req("/", "Authorization", "Bearer "+tokA(t, "azp", "cli")), &res, &tr)
	if len(tr.Tokens) != 1 || tr.Tokens[0].Claims == nil {
		t.Fatalf("trace %+v", tr)
	}
	tok := tr.Tokens[0]
	c := tok.Claims
	if tok.Alg != "RS256" || tok.Kid != "ka" || c.Iss != "https://a.test" || c.Sub != "alice" || c.Azp != "cli" ||
		len(c.Aud) != 1 || c.Aud[0] != "api" || c.Exp == nil || *c.Exp != testNow.Add(time.Hour).Unix() || c.Nbf != nil {
		t.Errorf("token %+v claims %+v", tok, c)
	}
	if tok.VerifiedBy != "a" || !strings.HasPrefix(tok.Fingerprint, "sha256:") {
		t.Errorf("token %+v", tok)
	}
}

func TestFingerprint(t *testing.T) {
	a, b := Fingerprint("token-one"), Fingerprint("token-two")
	if a == b || a != Fingerprint("token-one") || !strings.HasSuffix(a, ", 9 bytes") || strings.Contains(a, "token") {
		t.Errorf("fingerprints %q %q", a, b)
	}
}
