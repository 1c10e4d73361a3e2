// Package authn finds JSON Web Tokens in requests and verifies them
// against configured providers.
//
// A Provider is one trusted issuer compiled from a model.Provider: its key
// set (inline, file, PEM, remote JWKS or OIDC discovery), its claim checks
// and its outputs. A Requirement is a route's model.JWTRequirement over
// its providers: Authenticate finds and verifies the tokens of a request,
// Reject turns the result into the client's answer under the
// requirement's mode, and Apply adds the outputs once the request is
// allowed. Failures are *Error values worded as Envoy's jwt_authn filter
// words them; see docs/authentication.md for the full contract.
package authn

import (
	"log/slog"
	"net/http"
	"time"
)

// Identity is what a verified token says about its bearer.
type Identity struct {
	// Provider is the name of the provider that verified the token.
	Provider string
	// Issuer is the iss claim, empty when absent.
	Issuer string
	// Subject is the sub claim, empty when absent.
	Subject string
	// Audiences are the aud claim's values (a string aud gives one).
	Audiences []string
	// Presenter is the azp claim, empty when absent or not a string.
	Presenter string
	// Claims is the decoded payload (numbers as json.Number).
	Claims map[string]any
	// Payload is the token's payload segment, base64url as in the token.
	Payload string

	// principal is Principal, computed once when the token verifies.
	principal string
}

// Principal is "iss/sub", Istio's request principal.
func (id *Identity) Principal() string {
	if id.principal != "" {
		return id.principal
	}
	return id.Issuer + "/" + id.Subject
}

// Options tunes provider construction.
type Options struct {
	// HTTPClient fetches remote key sets; nil means a client built from the
	// provider's KeySource (timeout, CA file).
	HTTPClient *http.Client
	// KeySets, when set, is where remote key sets are shared: a provider
	// whose key source another provider built with the same KeySets
	// already fetches (same URI or issuer, same fetch settings; see
	// KeySets) holds that key set rather than its own. Nil gives every
	// provider a key set of its own.
	KeySets *KeySets
	// Now is the clock exp and nbf are checked against; nil means
	// time.Now. Fetch scheduling always uses the real clock.
	Now func() time.Time
	// CacheSize overrides the provider's cacheSize (model.Provider
	// CacheSize, default 4096 tokens) for tests and benchmarks: zero
	// keeps the provider's, a positive value replaces it, a negative value
	// disables the cache.
	CacheSize int
	// Logger receives key set fetch failures (never tokens); nil means no
	// logging.
	Logger *slog.Logger
}

// Outcome classifies an authentication result.
type Outcome int

// Outcomes.
const (
	// Missing: no token in any place the requirement's providers look.
	Missing Outcome = iota
	// Invalid: a token failed verification (Result.Err says why).
	Invalid
	// Verified: every token found verified.
	Verified
)

// String names the outcome for logs: "missing", "invalid" or "verified".
func (o Outcome) String() string {
	switch o {
	case Missing:
		return "missing"
	case Invalid:
		return "invalid"
	case Verified:
		return "verified"
	}
	return "unknown"
}

// Result is the outcome of authenticating one request.
type Result struct {
	Outcome Outcome
	// Err is the reason for Missing or Invalid.
	Err *Error
	// Identities are the verified tokens, one per satisfied provider, in
	// the requirement's provider order. An Invalid result may carry the
	// identities of the tokens that did verify.
	Identities []*Identity

	// tokens are the tokens found, for Apply to remove.
	tokens []foundToken

	// idArr and tokArr back Identities and tokens for requests with few
	// tokens (see Requirement.AuthenticateTo).
	idArr  [2]*Identity
	tokArr [4]foundToken
}

// foundToken is a token found in a request and what became of it.
type foundToken struct {
	found
	// by is the index of the provider that verified it, -1 if none did.
	by int
	// strip: a provider that verified it does not forward tokens.
	strip bool
}
