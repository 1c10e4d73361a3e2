// Package authz evaluates authorization policies over a request, the
// caller's mTLS identity and the verified token's claims.
package authz

import (
	"net/http"
	"net/netip"

	"jwtgate.dev/jwtgate/internal/model"
)

// Peer is the mTLS identity of the client, from its SPIFFE URI SAN.
type Peer struct {
	Principal      string // TD/ns/NS/sa/SA
	Namespace      string // NS
	ServiceAccount string // NS/SA
}

// Request is everything a policy can look at.
type Request struct {
	Host   string // without port, lower case
	Method string
	Path   string // normalized
	Port   int
	Header http.Header
	Remote netip.Addr
	Peer   Peer
	// Authenticated is true when a token was verified; the fields below are
	// then set.
	Authenticated bool
	Principal     string // iss/sub
	Issuer        string
	Subject       string
	Presenter     string
	Audiences     []string
	Claims        map[string]any
}

// Decision is the outcome of evaluating a route's policies.
type Decision struct {
	Allowed bool
	// Policy and Rule name what decided: the matching DENY rule, the
	// matching ALLOW rule, or empty with Reason "no ALLOW policy matched".
	Policy string
	Rule   string
	Reason string
}

// Engine is the compiled set of policies for one route.
type Engine struct{}

// Compile compiles the policies that apply to one route, in order.
func Compile(policies []model.Policy) (*Engine, error) { panic("authz: being written") }

// Evaluate decides r.
func (e *Engine) Evaluate(r *Request) Decision { panic("authz: being written") }
