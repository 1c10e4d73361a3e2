package model

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
	Rules  []Rule `yaml:"rules,omitempty"`
	Origin Origin `yaml:"origin,omitempty"`
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
	// IPBlocks are client addresses or CIDR blocks.
	IPBlocks    []string `yaml:"ipBlocks,omitempty"`
	NotIPBlocks []string `yaml:"notIpBlocks,omitempty"`
}

// JWTMatch matches a verified token. Empty fields are not checked; Claims
// maps a claim (dotted path) to accepted values, all claims must match.
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
	// Paths are exact, "prefix*", "*suffix" or "*".
	Paths    []string `yaml:"paths,omitempty"`
	NotPaths []string `yaml:"notPaths,omitempty"`
	Ports    []int    `yaml:"ports,omitempty"`
	NotPorts []int    `yaml:"notPorts,omitempty"`
}

// ConditionKind says what a Condition looks at.
type ConditionKind string

// Condition kinds.
const (
	// CondClaim looks at a claim of the verified token (Name is a dotted
	// path). Arrays match when any element matches; scope and scp claims
	// given as a space-separated string are treated as lists.
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
)

// Condition is an extra test on the request. It matches when the looked-at
// value matches any of Values (when set) and none of NotValues.
type Condition struct {
	Kind      ConditionKind `yaml:"kind"`
	Name      string        `yaml:"name,omitempty"`
	Values    []string      `yaml:"values,omitempty"`
	NotValues []string      `yaml:"notValues,omitempty"`
}
