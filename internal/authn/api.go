// Package authn finds JSON Web Tokens in requests and verifies them
// against configured providers.
package authn

import (
	"context"
	"net/http"

	"jwtgate.dev/jwtgate/internal/model"
)

// Error is a verification failure: the status and body a client is sent.
// Compare with errors.Is against the Err values below.
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// Verification failures, worded as Envoy's jwt_authn filter words them.
var (
	ErrMissing = &Error{http.StatusUnauthorized, "Jwt is missing"}
	// ... the authn helper adds the rest.
)

// Identity is what a verified token says about its bearer.
type Identity struct {
	Provider  string
	Issuer    string
	Subject   string
	Audiences []string
	Presenter string
	// Claims is the decoded payload (numbers as json.Number).
	Claims map[string]any
	// Payload is the token's payload segment, base64url as in the token.
	Payload string
}

// Principal is "iss/sub", Istio's request principal.
func (id *Identity) Principal() string { return id.Issuer + "/" + id.Subject }

// Options tunes provider construction.
type Options struct {
	// HTTPClient fetches remote key sets; nil means a client built from the
	// provider's KeySource (timeout, CA file).
	HTTPClient *http.Client
}

// Provider is a compiled model.Provider: its key set, checks and outputs.
type Provider struct{}

// NewProvider compiles p. Local key material is parsed now (an error is
// returned for unusable keys); remote key sets are fetched in the
// background once Start is called.
func NewProvider(p model.Provider, opts Options) (*Provider, error) { panic("authn: being written") }

// Name is the provider's name.
func (p *Provider) Name() string { panic("authn: being written") }

// Start begins background refreshes of remote key sets; they stop when ctx
// is done or Close is called.
func (p *Provider) Start(ctx context.Context) { panic("authn: being written") }

// Close stops background work.
func (p *Provider) Close() { panic("authn: being written") }

// Verify checks one token and returns the identity it carries, or an *Error.
func (p *Provider) Verify(ctx context.Context, token string) (*Identity, error) {
	panic("authn: being written")
}

// OutputHeaders are the request headers this provider sets (claim headers,
// payload header), canonicalized. The proxy strips them from every
// incoming request on routes that use the provider.
func (p *Provider) OutputHeaders() []string { panic("authn: being written") }

// Outcome classifies an authentication result.
type Outcome int

// Outcomes.
const (
	Missing Outcome = iota
	Invalid
	Verified
)

// Result is the outcome of authenticating one request.
type Result struct {
	Outcome Outcome
	// Err is the reason for Missing or Invalid.
	Err *Error
	// Identities are the verified tokens, one per satisfied provider.
	Identities []*Identity
}

// Requirement is a compiled model.JWTRequirement over its providers.
type Requirement struct{}

// NewRequirement compiles req; providers must hold every provider it names.
func NewRequirement(req model.JWTRequirement, providers map[string]*Provider) (*Requirement, error) {
	panic("authn: being written")
}

// Authenticate finds the tokens in r and verifies them.
func (q *Requirement) Authenticate(ctx context.Context, r *http.Request) Result {
	panic("authn: being written")
}

// Reject says whether res must be answered with an error under the
// requirement's mode, and with which.
func (q *Requirement) Reject(res Result) *Error { panic("authn: being written") }

// Apply adds the outputs of the verified identities to r (claim headers,
// payload header) and removes the tokens of providers that do not forward
// them. Call it only after the request is allowed.
func (q *Requirement) Apply(r *http.Request, res Result) { panic("authn: being written") }

// OutputHeaders are all headers the requirement's providers set.
func (q *Requirement) OutputHeaders() []string { panic("authn: being written") }
