package istio

import (
	"jwtgate.dev/jwtgate/internal/dialect"
	"time"
)

// The YAML of the Istio security resources jwtgate reads, key for key
// (the proto field names in camelCase, as the Kubernetes API serves
// them). Fields typed yaml.Node are known but not translated.

// object is one document of the API.
type object[S any] = dialect.Object[S]

// metadata is an object's metadata.
type metadata = dialect.Metadata

// workloadSelector is type.v1beta1.WorkloadSelector.
type workloadSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

// targetRef is type.v1beta1.PolicyTargetReference.
type targetRef struct {
	Group     string `yaml:"group"`
	Kind      string `yaml:"kind"`
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace"`
}

// attachment is what both kinds share to say where they apply.
type attachment struct {
	Selector   *workloadSelector `yaml:"selector"`
	TargetRef  *targetRef        `yaml:"targetRef"`
	TargetRefs []targetRef       `yaml:"targetRefs"`
}

// requestAuthenticationSpec is security.istio.io RequestAuthentication.
type requestAuthenticationSpec struct {
	attachment `yaml:",inline"`
	JWTRules   []jwtRule `yaml:"jwtRules"`
}

// jwtRule is security.v1beta1.JWTRule.
type jwtRule struct {
	Issuer                string          `yaml:"issuer"`
	Audiences             []string        `yaml:"audiences"`
	JWKSURI               string          `yaml:"jwksUri"`
	JWKS                  string          `yaml:"jwks"`
	FromHeaders           []jwtHeader     `yaml:"fromHeaders"`
	FromParams            []string        `yaml:"fromParams"`
	FromCookies           []string        `yaml:"fromCookies"`
	OutputPayloadToHeader string          `yaml:"outputPayloadToHeader"`
	ForwardOriginalToken  bool            `yaml:"forwardOriginalToken"`
	OutputClaimToHeaders  []claimToHeader `yaml:"outputClaimToHeaders"`
	Timeout               *time.Duration  `yaml:"timeout"`
	SpaceDelimitedClaims  []string        `yaml:"spaceDelimitedClaims"`
}

type jwtHeader struct {
	Name   string `yaml:"name"`
	Prefix string `yaml:"prefix"`
}

type claimToHeader struct {
	Header string `yaml:"header"`
	Claim  string `yaml:"claim"`
}

// authorizationPolicySpec is security.istio.io AuthorizationPolicy.
type authorizationPolicySpec struct {
	attachment `yaml:",inline"`
	Action     string    `yaml:"action"`
	Provider   *provider `yaml:"provider"`
	Rules      []rule    `yaml:"rules"`
}

type provider struct {
	Name string `yaml:"name"`
}

// rule is security.v1beta1.Rule.
type rule struct {
	From []ruleFrom  `yaml:"from"`
	To   []ruleTo    `yaml:"to"`
	When []condition `yaml:"when"`
}

type ruleFrom struct {
	Source *source `yaml:"source"`
}

type ruleTo struct {
	Operation *operation `yaml:"operation"`
}

// source is security.v1beta1.Source.
type source struct {
	Principals           []string `yaml:"principals"`
	NotPrincipals        []string `yaml:"notPrincipals"`
	RequestPrincipals    []string `yaml:"requestPrincipals"`
	NotRequestPrincipals []string `yaml:"notRequestPrincipals"`
	Namespaces           []string `yaml:"namespaces"`
	NotNamespaces        []string `yaml:"notNamespaces"`
	ServiceAccounts      []string `yaml:"serviceAccounts"`
	NotServiceAccounts   []string `yaml:"notServiceAccounts"`
	IPBlocks             []string `yaml:"ipBlocks"`
	NotIPBlocks          []string `yaml:"notIpBlocks"`
	RemoteIPBlocks       []string `yaml:"remoteIpBlocks"`
	NotRemoteIPBlocks    []string `yaml:"notRemoteIpBlocks"`
	TrustDomains         []string `yaml:"trustDomains"`
	NotTrustDomains      []string `yaml:"notTrustDomains"`
}

// operation is security.v1beta1.Operation.
type operation struct {
	Hosts      []string `yaml:"hosts"`
	NotHosts   []string `yaml:"notHosts"`
	Ports      []string `yaml:"ports"`
	NotPorts   []string `yaml:"notPorts"`
	Methods    []string `yaml:"methods"`
	NotMethods []string `yaml:"notMethods"`
	Paths      []string `yaml:"paths"`
	NotPaths   []string `yaml:"notPaths"`
}

// condition is security.v1beta1.Condition.
type condition struct {
	Key       string   `yaml:"key"`
	Values    []string `yaml:"values"`
	NotValues []string `yaml:"notValues"`
}
