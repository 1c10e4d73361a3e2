// Package authz evaluates authorization policies over a request, the
// caller's mTLS identity and the verified token's claims.
//
// The semantics are Istio's AuthorizationPolicy: every matching DENY rule
// rejects; where at least one ALLOW policy applies, a request must match at
// least one ALLOW rule; with no ALLOW policy, what is not denied is allowed.
// Policies are compiled once (Compile) into an Engine whose Evaluate does
// not allocate.
package authz

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"cel.dev/cel-go/cel"

	"jwtgate.dev/jwtgate/internal/model"
)

// Peer is the mTLS identity of the client, from its SPIFFE URI SAN. The
// zero Peer means no client certificate.
type Peer struct {
	Principal      string // TD/ns/NS/sa/SA
	Namespace      string // NS
	ServiceAccount string // NS/SA
}

// Request is everything a policy can look at.
type Request struct {
	Host   string // without port, lower case (a port, if any, is ignored)
	Method string
	Path   string // normalized
	Port   int
	Header http.Header
	// Remote is the direct peer's address (the TCP connection's client),
	// what ipBlocks and source.ip see. The zero Addr matches no block.
	Remote netip.Addr
	// Client is the original client's address, what remoteIpBlocks and
	// remote.ip see (see ClientAddr). The zero Addr means Remote.
	Client netip.Addr
	Peer   Peer
	// Authenticated is true when a token was verified; the fields below are
	// then set. When it is false they are ignored: every token-derived
	// value counts as absent.
	Authenticated bool
	Principal     string // iss/sub
	Issuer        string
	Subject       string
	Presenter     string
	Audiences     []string
	// Claims is the token payload as decoded by encoding/json with
	// UseNumber: string, json.Number, bool, []any, map[string]any.
	Claims map[string]any
	// HTTP is the request as received, when the caller has it: CEL
	// conditions read its query, scheme, protocol, source port and TLS
	// connection. Nil: those attributes are missing.
	HTTP *http.Request
}

// Reasons a Decision gives. They are constants so that Evaluate does not
// allocate.
const (
	ReasonDenyMatched    = "DENY policy matched"
	ReasonAllowMatched   = "ALLOW policy matched"
	ReasonNoAllowMatched = "no ALLOW policy matched"
	ReasonNoAllowPolicy  = "no ALLOW policy applies"
)

// Decision is the outcome of evaluating a route's policies.
type Decision struct {
	Allowed bool
	// Policy and Rule name what decided: the matching DENY rule, the
	// matching ALLOW rule, or empty with Reason "no ALLOW policy matched"
	// (denied) or "no ALLOW policy applies" (allowed). Rule is the rule's
	// name, or "rules[i]" when it has none.
	Policy string
	Rule   string
	// Action is the action of Policy; empty when no rule decided.
	Action model.Action
	// Reason is one of the Reason constants.
	Reason string
}

// String formats d for logs, e.g.
// `denied: DENY policy matched (policy "x", rule "rules[0]")`.
func (d Decision) String() string {
	s := "denied: "
	if d.Allowed {
		s = "allowed: "
	}
	s += d.Reason
	if d.Policy != "" {
		s += " (policy " + strconv.Quote(d.Policy) + ", rule " + strconv.Quote(d.Rule) + ")"
	}
	return s
}

// Engine is the compiled set of policies for one route. It is immutable
// and safe for concurrent use. A nil *Engine allows every request (a route
// that no policy reaches).
type Engine struct {
	deny  []policy // DENY policies, in configuration order
	allow []policy // ALLOW policies, in configuration order
	lines []string // Describe output
}

// Compile compiles the policies that apply to one route, in configuration
// order (model.Config.PoliciesFor). It returns an error, joining one
// *PolicyError per problem, when any policy cannot be compiled; no Engine
// is returned then, so a route never runs with part of its policies.
func Compile(policies []model.Policy) (*Engine, error) {
	return NewCompiler().Compile(policies)
}

// Compiler compiles the policies of one configuration: it remembers the
// CEL expressions it compiled, which a configuration compiles several
// times (each policy alone, each route's set of policies). It belongs to
// one build and is not safe for concurrent use.
type Compiler struct {
	cel      model.CELMemo
	programs map[string]cel.Program
}

// NewCompiler returns a compiler with nothing remembered.
func NewCompiler() *Compiler {
	return &Compiler{programs: map[string]cel.Program{}}
}

// Evaluate decides r: any matching DENY rule denies; then, when ALLOW
// policies are present, a matching ALLOW rule is needed; with none present
// the request is allowed. Evaluate does not allocate.
func (e *Engine) Evaluate(r *Request) Decision {
	if e == nil {
		return Decision{Allowed: true, Reason: ReasonNoAllowPolicy}
	}
	for i := range e.deny {
		p := &e.deny[i]
		if rl := p.match(r); rl != nil {
			return Decision{Allowed: false, Policy: p.name, Rule: rl.name, Action: model.ActionDeny, Reason: ReasonDenyMatched}
		}
	}
	if len(e.allow) == 0 {
		return Decision{Allowed: true, Reason: ReasonNoAllowPolicy}
	}
	for i := range e.allow {
		p := &e.allow[i]
		if rl := p.match(r); rl != nil {
			return Decision{Allowed: true, Policy: p.name, Rule: rl.name, Action: model.ActionAllow, Reason: ReasonAllowMatched}
		}
	}
	return Decision{Allowed: false, Reason: ReasonNoAllowMatched}
}

// client is the address remote IP rules look at.
func (r *Request) client() netip.Addr {
	if r.Client.IsValid() {
		return r.Client
	}
	return r.Remote
}

// ClientAddr returns the original client's address for a request from
// peer carrying the X-Forwarded-For header lines xff, behind trusted
// proxies that each append the address they received the request from
// (model.Listener.NumTrustedProxies): the trusted-th address from the
// right, counting across the lines in order. With trusted zero or less,
// with fewer addresses, or when that entry is not an IP address, it is
// peer, as Envoy's xff_num_trusted_hops has it. The result is unmapped
// (an IPv4-mapped IPv6 address is IPv4) and carries no zone.
func ClientAddr(peer netip.Addr, xff []string, trusted int) netip.Addr {
	if trusted <= 0 {
		return peer
	}
	n := 0
	for i := len(xff) - 1; i >= 0; i-- {
		line := xff[i]
		for done := false; !done; {
			j := strings.LastIndexByte(line, ',')
			entry := line[j+1:]
			if j < 0 {
				done = true
			} else {
				line = line[:j]
			}
			if n++; n < trusted {
				continue
			}
			a, err := netip.ParseAddr(strings.TrimSpace(entry))
			if err != nil {
				return peer
			}
			return a.Unmap().WithZone("")
		}
	}
	return peer
}
