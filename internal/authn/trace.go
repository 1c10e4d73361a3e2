package authn

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
)

// Trace is what one requirement did with one request, for `jwtgate
// explain`: where it looked, each token it found, each provider that
// token was tried against and the check that failed, with the claim
// values that decided. It never holds a token: a token is named by its
// Fingerprint. Fill one with Requirement.AuthenticateTraced.
type Trace struct {
	// Mode is the requirement's mode; RequireAll says every provider
	// needs a token of its own.
	Mode       model.AuthMode `json:"mode"`
	RequireAll bool           `json:"requireAll,omitempty"`
	// Providers are the requirement's providers, in order.
	Providers []string `json:"providers"`
	// Sources are the places tokens are looked for, such as `header
	// Authorization (prefix "Bearer ")`.
	Sources []string `json:"sources"`
	// Tokens are the tokens found, in the order they were found.
	Tokens []TokenTrace `json:"tokens,omitempty"`
	// Outcome is "missing", "invalid" or "verified"; Error is the body a
	// failure answers with and Reason its longer explanation.
	Outcome string `json:"outcome"`
	Error   string `json:"error,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Rejected says the requirement's mode refuses the request, with
	// Status; a request that passes without a verified token (the
	// allowMissing modes) is not rejected. The caller sets both (see
	// Requirement.Reject).
	Rejected bool `json:"rejected"`
	Status   int  `json:"status,omitempty"`

	// secrets are the tokens found, for the caller to redact from what
	// it shows (Secrets); never marshaled.
	secrets []string
}

// TokenTrace is one token found in a request.
type TokenTrace struct {
	// Source is where it was found.
	Source string `json:"source"`
	// Fingerprint names the token without showing it (see Fingerprint).
	Fingerprint string `json:"fingerprint"`
	// Alg and Kid are from the token's header, when it parses.
	Alg string `json:"alg,omitempty"`
	Kid string `json:"kid,omitempty"`
	// Claims are its registered claims, when it parses.
	Claims *TokenClaims `json:"claims,omitempty"`
	// Attempts are the providers it was tried against, in order.
	Attempts []Attempt `json:"attempts"`
	// VerifiedBy is the provider that verified it, empty when none did.
	VerifiedBy string `json:"verifiedBy,omitempty"`
}

// TokenClaims are the registered claims of a token, as it carries them.
// Times are NumericDates (seconds since the epoch); nil when absent.
type TokenClaims struct {
	Iss string   `json:"iss,omitempty"`
	Sub string   `json:"sub,omitempty"`
	Aud []string `json:"aud,omitempty"`
	Azp string   `json:"azp,omitempty"`
	Exp *int64   `json:"exp,omitempty"`
	Nbf *int64   `json:"nbf,omitempty"`
	Iat *int64   `json:"iat,omitempty"`
}

// Attempt is one provider checking one token.
type Attempt struct {
	Provider string `json:"provider"`
	Verified bool   `json:"verified"`
	// Check names the check that failed: format, size, iss, nbf, exp,
	// lifetime, aud, kid/alg, signature, keyset (the remote key set is
	// not available). Empty when verified.
	Check string `json:"check,omitempty"`
	// Error is the body the failure answers with.
	Error string `json:"error,omitempty"`
	// Detail gives the values that decided, such as the token's exp and
	// the time it was checked at.
	Detail string `json:"detail,omitempty"`
}

// Secrets returns the tokens the trace saw, for the caller to redact
// from what it shows besides the trace (the upstream's headers, a URL):
// the trace itself never holds them.
func (t *Trace) Secrets() []string { return append([]string(nil), t.secrets...) }

// Fingerprint names a token or secret without revealing it: the first 8
// hex digits of its SHA-256 and its length, as "sha256:1a2b3c4d, 612
// bytes".
func Fingerprint(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:4]) + ", " + strconv.Itoa(len(s)) + " bytes"
}

// AuthenticateTraced is AuthenticateTo that also records in tr what it
// did (tr is reset first). It runs the same verification: the result is
// what AuthenticateTo gives for the same request.
func (q *Requirement) AuthenticateTraced(ctx context.Context, r *http.Request, res *Result, tr *Trace) {
	*tr = Trace{Mode: q.mode, RequireAll: q.all}
	for _, p := range q.providers {
		tr.Providers = append(tr.Providers, p.name)
	}
	for _, l := range q.locs {
		tr.Sources = append(tr.Sources, l.String())
	}
	got := q.authenticate(ctx, r, res, tr)
	res.Outcome, res.Err, res.Identities, res.tokens = got.Outcome, got.Err, got.Identities, got.tokens
	tr.Outcome = res.Outcome.String()
	if res.Err != nil {
		tr.Error, tr.Reason = res.Err.Msg, res.Err.Reason
	}
}

// found records the tokens extracted from the request.
func (t *Trace) found(q *Requirement, fs []found) {
	for _, f := range fs {
		tt := TokenTrace{Source: q.locs[f.loc].String(), Fingerprint: Fingerprint(f.token), Attempts: []Attempt{}}
		t.secrets = append(t.secrets, f.token)
		if !f.malformed {
			if tok, err := parseToken(f.token, nil); err == nil {
				tt.Alg, tt.Kid = tok.alg, tok.kid
				tt.Claims = claimsOf(tok)
			}
		}
		t.Tokens = append(t.Tokens, tt)
	}
}

func claimsOf(tok *token) *TokenClaims {
	c := &TokenClaims{Iss: tok.iss, Sub: tok.sub, Aud: tok.aud, Azp: tok.azp}
	if tok.hasExp {
		c.Exp = &tok.exp
	}
	if tok.hasNbf {
		c.Nbf = &tok.nbf
	}
	if tok.hasIat {
		c.Iat = &tok.iat
	}
	return c
}

// attempt records provider p checking token i (f) with the result err
// (nil: verified).
func (t *Trace) attempt(i int, p *Provider, f found, err *Error) {
	if i >= len(t.Tokens) {
		return
	}
	tt := &t.Tokens[i]
	a := Attempt{Provider: p.name, Verified: err == nil}
	if err != nil {
		a.Error = err.Msg
		a.Check, a.Detail = p.explainFailure(f, err)
	} else if tt.VerifiedBy == "" {
		tt.VerifiedBy = p.name
	}
	tt.Attempts = append(tt.Attempts, a)
}

// explainFailure names the check err failed and gives the values that
// decided it. The token is parsed again for its claims (parsing has no
// side effect); the verdict itself is the one verify gave.
func (p *Provider) explainFailure(f found, err *Error) (check, detail string) {
	if f.malformed {
		return "format", err.Reason
	}
	raw := f.token
	if err == ErrTooLarge {
		return "size", fmt.Sprintf("the token is %d bytes, more than the provider's maxTokenBytes %d", len(raw), p.maxBytes)
	}
	tok, perr := parseToken(raw, nil)
	if perr != nil {
		return "format", perr.Reason
	}
	now := p.now()
	skew := time.Duration(p.skew) * time.Second
	switch err {
	case ErrUnknownIssuer:
		if !tok.hasIss {
			return "iss", fmt.Sprintf("the token has no iss; the provider's issuer is %q", p.issuer)
		}
		return "iss", fmt.Sprintf("iss %q is not the provider's issuer %q", tok.iss, p.issuer)
	case ErrNotYetValid:
		return "nbf", fmt.Sprintf("nbf %s is %s after now (%s), more than the clock skew of %s",
			numericDate(tok.nbf), span(time.Unix(tok.nbf, 0).Sub(now)), now.UTC().Format(time.RFC3339), skew)
	case ErrExpired:
		return "exp", fmt.Sprintf("exp %s is %s before now (%s), more than the clock skew of %s",
			numericDate(tok.exp), span(now.Sub(time.Unix(tok.exp, 0))), now.UTC().Format(time.RFC3339), skew)
	case ErrExpRequired:
		return "exp", "the provider requires exp and the token has none"
	case ErrLifetime:
		maxLife := time.Duration(p.maxLifetime) * time.Second
		if !tok.hasExp || !tok.hasIat {
			return "lifetime", fmt.Sprintf("the provider has a maxLifetime of %s and the token lacks iat or exp", maxLife)
		}
		return "lifetime", fmt.Sprintf("exp - iat is %s, more than the provider's maxLifetime of %s", time.Duration(tok.exp-tok.iat)*time.Second, maxLife)
	case ErrAudience:
		return "aud", fmt.Sprintf("aud %s holds none of the provider's audiences %s", quoteAll(tok.aud), quoteAll(p.audiences))
	case ErrKidAlgMismatch:
		if p.allowed != nil && !p.allowed[tok.alg] {
			return "kid/alg", fmt.Sprintf("alg %q is not one of the provider's algorithms", tok.alg)
		}
		return "kid/alg", fmt.Sprintf("no key fits kid %q and alg %q; the key set has %s", tok.kid, tok.alg, p.describeKeys())
	case ErrVerificationFail:
		return "signature", fmt.Sprintf("a key fits kid %q and alg %q, but the signature does not verify with it", tok.kid, tok.alg)
	case ErrJwksFetch:
		st := p.Stats()
		return "keyset", fmt.Sprintf("the remote key set has not been fetched (%d failed fetches)", st.KeySetFailures)
	}
	return "format", err.Reason
}

// describeKeys lists the keys of the provider's key set by kid and alg
// (public information: they are in the JWKS).
func (p *Provider) describeKeys() string {
	ks := p.keys.Load()
	if ks == nil {
		return "no keys yet"
	}
	parts := make([]string, 0, len(ks.keys))
	for i := range ks.keys {
		k := &ks.keys[i]
		s := "kid " + strconv.Quote(k.kid)
		if k.alg != "" {
			s += " " + k.alg
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "no keys"
	}
	return strings.Join(parts, ", ")
}

// span words a duration for people: whole days past two days, else to
// the second.
func span(d time.Duration) string {
	if d >= 48*time.Hour {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + " days"
	}
	return d.Round(time.Second).String()
}

// numericDate shows a NumericDate with its UTC time.
func numericDate(n int64) string {
	return strconv.FormatInt(n, 10) + " (" + time.Unix(n, 0).UTC().Format(time.RFC3339) + ")"
}

func quoteAll(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = strconv.Quote(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
