package model

import (
	"errors"
	"fmt"
	"strings"
)

// Action is what a matching authorization policy does.
type Action string

// Policy actions.
const (
	ActionAllow Action = "ALLOW"
	ActionDeny  Action = "DENY"
)

// Policy is an authorization policy with Istio AuthorizationPolicy
// semantics: any matching DENY rejects; where ALLOW policies apply to a
// route, at least one of their rules must match.
type Policy struct {
	Name   string `yaml:"name"`
	Action Action `yaml:"action"`
	// Routes names routes, Selector chooses routes by label, Listeners
	// chooses every route of the named listeners. None of the three set
	// means every route.
	Routes    []string          `yaml:"routes,omitempty"`
	Selector  map[string]string `yaml:"selector,omitempty"`
	Listeners []string          `yaml:"listeners,omitempty"`
	// Rules: a policy matches a request when any rule matches. An ALLOW
	// policy with no rules allows nothing; a DENY policy with no rules
	// denies nothing.
	Rules []Rule `yaml:"rules,omitempty"`
	// SpaceDelimitedClaims says which claims hold a space-separated list
	// in a string (an OAuth "scope"), split before they are compared.
	// Nil means the default: a claim whose last path segment is scope or
	// scp, at any depth. When set, it maps an issuer to the top-level
	// claims split for that issuer's tokens ("*": for every issuer), and
	// no other claim is split (Istio's jwtRules[].spaceDelimitedClaims,
	// with scope and permission always listed by the Istio dialect).
	SpaceDelimitedClaims map[string][]string `yaml:"spaceDelimitedClaims,omitempty"`
	Origin               Origin              `yaml:"origin,omitempty"`
}

// Rule matches when all its present parts match: at least one From, at
// least one To, and every When.
type Rule struct {
	Name string      `yaml:"name,omitempty"`
	From []From      `yaml:"from,omitempty"`
	To   []To        `yaml:"to,omitempty"`
	When []Condition `yaml:"when,omitempty"`
}

// From matches the caller. Every non-empty field must match; inside a
// field any value matches; a Not field matches when no value matches.
type From struct {
	// RequestPrincipals are "iss/sub" of the verified token, with "*"
	// prefix or suffix wildcards; "*" alone is any authenticated request.
	RequestPrincipals    []string `yaml:"requestPrincipals,omitempty"`
	NotRequestPrincipals []string `yaml:"notRequestPrincipals,omitempty"`
	// JWT matches the verified token's iss, sub and claims.
	JWT    *JWTMatch `yaml:"jwt,omitempty"`
	NotJWT *JWTMatch `yaml:"notJwt,omitempty"`
	// Principals are mTLS source principals "TD/ns/NS/sa/SA".
	Principals    []string `yaml:"principals,omitempty"`
	NotPrincipals []string `yaml:"notPrincipals,omitempty"`
	// Namespaces of the mTLS peer.
	Namespaces    []string `yaml:"namespaces,omitempty"`
	NotNamespaces []string `yaml:"notNamespaces,omitempty"`
	// ServiceAccounts of the mTLS peer, "NS/SA".
	ServiceAccounts    []string `yaml:"serviceAccounts,omitempty"`
	NotServiceAccounts []string `yaml:"notServiceAccounts,omitempty"`
	// TrustDomains of the mTLS peer: the first segment of its principal.
	TrustDomains    []string `yaml:"trustDomains,omitempty"`
	NotTrustDomains []string `yaml:"notTrustDomains,omitempty"`
	// IPBlocks are addresses or CIDR blocks of the direct peer (the TCP
	// connection's client address).
	IPBlocks    []string `yaml:"ipBlocks,omitempty"`
	NotIPBlocks []string `yaml:"notIpBlocks,omitempty"`
	// RemoteIPBlocks are addresses or CIDR blocks of the original client:
	// taken from X-Forwarded-For as the listener's NumTrustedProxies
	// says, and the direct peer when it is zero.
	RemoteIPBlocks    []string `yaml:"remoteIpBlocks,omitempty"`
	NotRemoteIPBlocks []string `yaml:"notRemoteIpBlocks,omitempty"`
}

// JWTMatch matches a verified token. Empty fields are not checked; Claims
// maps a claim (a claim path, see ParseClaimPath) to accepted values, all
// claims must match.
type JWTMatch struct {
	Iss    string              `yaml:"iss,omitempty"`
	Sub    string              `yaml:"sub,omitempty"`
	Claims map[string][]string `yaml:"claims,omitempty"`
}

// To matches the operation.
type To struct {
	Hosts      []string `yaml:"hosts,omitempty"`
	NotHosts   []string `yaml:"notHosts,omitempty"`
	Methods    []string `yaml:"methods,omitempty"`
	NotMethods []string `yaml:"notMethods,omitempty"`
	// Paths are exact, "prefix*", "*suffix" or "*", or Istio path
	// templates: segments "{*}" (one segment) and "{**}" (any rest, the
	// last operator), with no other "*" (see CheckPathTemplate).
	Paths    []string `yaml:"paths,omitempty"`
	NotPaths []string `yaml:"notPaths,omitempty"`
	Ports    []int    `yaml:"ports,omitempty"`
	NotPorts []int    `yaml:"notPorts,omitempty"`
}

// ConditionKind says what a Condition looks at.
type ConditionKind string

// Condition kinds.
const (
	// CondClaim looks at a claim of the verified token (Name is a claim
	// path, see ParseClaimPath). Arrays match when any element matches;
	// space-separated claims (Policy.SpaceDelimitedClaims) are lists.
	CondClaim ConditionKind = "claim"
	// CondHeader looks at a request header (Name).
	CondHeader ConditionKind = "header"
	// CondAudience looks at the token's aud values.
	CondAudience ConditionKind = "audience"
	// CondPresenter looks at the token's azp claim.
	CondPresenter ConditionKind = "presenter"
	// CondIssuer looks at the token's iss claim.
	CondIssuer ConditionKind = "issuer"
	// CondPrincipal looks at the request principal iss/sub.
	CondPrincipal ConditionKind = "principal"
	// CondSourceIP looks at the direct peer's address; values are
	// addresses or CIDR blocks (Istio's source.ip).
	CondSourceIP ConditionKind = "sourceIP"
	// CondRemoteIP looks at the original client's address (see
	// From.RemoteIPBlocks); values are addresses or CIDR blocks (Istio's
	// remote.ip).
	CondRemoteIP ConditionKind = "remoteIP"
	// CondSourcePrincipal, CondSourceNamespace and
	// CondSourceServiceAccount look at the mTLS peer's principal
	// (TD/ns/NS/sa/SA), namespace and service account (NS/SA).
	CondSourcePrincipal      ConditionKind = "sourcePrincipal"
	CondSourceNamespace      ConditionKind = "sourceNamespace"
	CondSourceServiceAccount ConditionKind = "sourceServiceAccount"
	// CondDestinationPort looks at the port the request arrived on;
	// values are port numbers (Istio's destination.port).
	CondDestinationPort ConditionKind = "destinationPort"
	// CondCEL evaluates CEL expressions (Values, NotValues) over Envoy's
	// request attributes (see CompileCEL): an expression that is true
	// is a match; one that fails (a missing attribute or key) or whose
	// result is not a bool is not, as in Envoy's RBAC filter. Name is
	// the key under metadata.filter_metadata['envoy.filters.http.jwt_authn']
	// that holds the verified token's claims: empty is "payload"
	// (kgateway's); Envoy Gateway writes its provider's name.
	CondCEL ConditionKind = "cel"
)

// Named reports whether conditions of kind k need a Name.
func (k ConditionKind) Named() bool { return k == CondClaim || k == CondHeader }

// Known reports whether k is a condition kind.
func (k ConditionKind) Known() bool {
	switch k {
	case CondClaim, CondHeader, CondAudience, CondPresenter, CondIssuer, CondPrincipal,
		CondSourceIP, CondRemoteIP, CondSourcePrincipal, CondSourceNamespace, CondSourceServiceAccount, CondDestinationPort,
		CondCEL:
		return true
	}
	return false
}

// Condition is an extra test on the request. It matches when the looked-at
// value matches any of Values (when set) and none of NotValues; for
// CondCEL, when one of the Values expressions is true (when set) and
// none of the NotValues expressions is.
type Condition struct {
	Kind      ConditionKind `yaml:"kind"`
	Name      string        `yaml:"name,omitempty"`
	Values    []string      `yaml:"values,omitempty"`
	NotValues []string      `yaml:"notValues,omitempty"`
}

// ClaimPath is a parsed claim name (see ParseClaimPath).
type ClaimPath struct {
	// Segments name the claims from the top-level one down.
	Segments []string
	// Exact is true for a path written with brackets: only the nested
	// claims named are looked at. For a dotted name (Exact false), a
	// top-level claim whose whole name is the dotted string is tried
	// first.
	Exact bool
}

// ParseClaimPath reads a claim name, the one syntax every policy uses:
//
//   - "groups": the top-level claim groups;
//   - "realm_access.roles": the claim roles inside realm_access; a
//     top-level claim named "realm_access.roles" is tried first, so that
//     names such as "https://example.com/roles" work as written;
//   - "[kubernetes.io][namespace]", "[kubernetes.io].namespace",
//     "realm_access[roles]": a segment in brackets is taken literally,
//     dots included, and a name with brackets is only ever a path (no
//     whole-name lookup), as Istio's request.auth.claims[a][b] keys are.
//
// An empty name or segment, an unclosed bracket and a stray bracket are
// errors.
func ParseClaimPath(name string) (ClaimPath, error) {
	if name == "" {
		return ClaimPath{}, errors.New("empty claim name")
	}
	var cp ClaimPath
	bad := func(why string) (ClaimPath, error) {
		return ClaimPath{}, fmt.Errorf("claim path %q %s", name, why)
	}
	for i := 0; i < len(name); {
		if name[i] == '[' {
			j := strings.IndexByte(name[i+1:], ']')
			if j < 0 {
				return bad("has an unclosed [")
			}
			seg := name[i+1 : i+1+j]
			switch {
			case seg == "":
				return bad("has an empty segment")
			case strings.IndexByte(seg, '[') >= 0:
				return bad("has a stray [")
			}
			cp.Segments = append(cp.Segments, seg)
			cp.Exact = true
			i += j + 2
			if i < len(name) && name[i] == '.' {
				i++
				if i == len(name) || name[i] == '.' {
					return bad("has an empty segment")
				}
			} else if i < len(name) && name[i] != '[' {
				return bad(`has a segment after "]" without "." or "["`)
			}
			continue
		}
		end := strings.IndexAny(name[i:], ".[]")
		if end < 0 {
			end = len(name)
		} else {
			end += i
		}
		if end < len(name) && name[end] == ']' {
			return bad("has a stray ]")
		}
		seg := name[i:end]
		if seg == "" {
			return bad("has an empty segment")
		}
		cp.Segments = append(cp.Segments, seg)
		i = end
		if i < len(name) && name[i] == '.' {
			i++
			if i == len(name) || name[i] == '.' {
				return bad("has an empty segment")
			}
		}
	}
	return cp, nil
}
