package native

import (
	"jwtgate.dev/jwtgate/internal/dialect/conditionkey"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

type jwtPolicy struct {
	Name        string            `yaml:"name"`
	Routes      []string          `yaml:"routes"`
	Selector    map[string]string `yaml:"selector"`
	requirement `yaml:",inline"`
}

type policy struct {
	Name                 string              `yaml:"name"`
	Action               string              `yaml:"action"`
	Routes               []string            `yaml:"routes"`
	Selector             map[string]string   `yaml:"selector"`
	Listeners            []string            `yaml:"listeners"`
	Rules                []rule              `yaml:"rules"`
	SpaceDelimitedClaims map[string][]string `yaml:"spaceDelimitedClaims"`
}

type rule struct {
	Name string      `yaml:"name"`
	From []from      `yaml:"from"`
	To   []to        `yaml:"to"`
	When []condition `yaml:"when"`
}

// from is the native `from` entry; its keys mirror the model's.
type from struct {
	RequestPrincipals    []string  `yaml:"requestPrincipals"`
	NotRequestPrincipals []string  `yaml:"notRequestPrincipals"`
	JWT                  *jwtMatch `yaml:"jwt"`
	NotJWT               *jwtMatch `yaml:"notJwt"`
	Principals           []string  `yaml:"principals"`
	NotPrincipals        []string  `yaml:"notPrincipals"`
	Namespaces           []string  `yaml:"namespaces"`
	NotNamespaces        []string  `yaml:"notNamespaces"`
	ServiceAccounts      []string  `yaml:"serviceAccounts"`
	NotServiceAccounts   []string  `yaml:"notServiceAccounts"`
	TrustDomains         []string  `yaml:"trustDomains"`
	NotTrustDomains      []string  `yaml:"notTrustDomains"`
	IPBlocks             []string  `yaml:"ipBlocks"`
	NotIPBlocks          []string  `yaml:"notIpBlocks"`
	RemoteIPBlocks       []string  `yaml:"remoteIpBlocks"`
	NotRemoteIPBlocks    []string  `yaml:"notRemoteIpBlocks"`
}

type jwtMatch struct {
	Iss    string              `yaml:"iss"`
	Sub    string              `yaml:"sub"`
	Claims map[string][]string `yaml:"claims"`
}

// to is the native `to` entry.
type to struct {
	Hosts      []string `yaml:"hosts"`
	NotHosts   []string `yaml:"notHosts"`
	Methods    []string `yaml:"methods"`
	NotMethods []string `yaml:"notMethods"`
	Paths      []string `yaml:"paths"`
	NotPaths   []string `yaml:"notPaths"`
	Ports      []int    `yaml:"ports"`
	NotPorts   []int    `yaml:"notPorts"`
}

func (m *jwtMatch) model() *model.JWTMatch {
	if m == nil {
		return nil
	}
	return &model.JWTMatch{Iss: m.Iss, Sub: m.Sub, Claims: m.Claims}
}

func (f from) model() model.From {
	return model.From{
		RequestPrincipals: f.RequestPrincipals, NotRequestPrincipals: f.NotRequestPrincipals,
		JWT: f.JWT.model(), NotJWT: f.NotJWT.model(),
		Principals: f.Principals, NotPrincipals: f.NotPrincipals,
		Namespaces: f.Namespaces, NotNamespaces: f.NotNamespaces,
		ServiceAccounts: f.ServiceAccounts, NotServiceAccounts: f.NotServiceAccounts,
		TrustDomains: f.TrustDomains, NotTrustDomains: f.NotTrustDomains,
		IPBlocks: f.IPBlocks, NotIPBlocks: f.NotIPBlocks,
		RemoteIPBlocks: f.RemoteIPBlocks, NotRemoteIPBlocks: f.NotRemoteIPBlocks,
	}
}

// model converts the entry; methods are upper-cased, as in a route's
// match: "delete" in a DENY rule must not let DELETE through.
func (t to) model() model.To {
	return model.To{
		Hosts: t.Hosts, NotHosts: t.NotHosts,
		Methods: upper(t.Methods), NotMethods: upper(t.NotMethods),
		Paths: t.Paths, NotPaths: t.NotPaths,
		Ports: t.Ports, NotPorts: t.NotPorts,
	}
}

// condition names what it looks at with exactly one of Claim, Header and
// Key (an Istio condition key, or "cel": Values and NotValues are CEL
// expressions, PayloadKey where they find the verified token's claims).
type condition struct {
	Claim      string   `yaml:"claim"`
	Header     string   `yaml:"header"`
	Key        string   `yaml:"key"`
	PayloadKey string   `yaml:"payloadKey"`
	Values     []string `yaml:"values"`
	NotValues  []string `yaml:"notValues"`
}

// celKey is the native condition key of a CEL condition.
const celKey = "cel"

func (c *converter) jwtPolicy(in jwtPolicy, path string) model.JWTPolicy {
	c.rename(strictyaml.Field(path, "requirement"), path)
	return model.JWTPolicy{
		Name:        in.Name,
		Routes:      in.Routes,
		Selector:    in.Selector,
		Requirement: c.requirement(in.requirement, path),
		Origin:      c.resource(path),
	}
}

func (c *converter) policy(in policy, path string) model.Policy {
	p := model.Policy{
		Name:      in.Name,
		Action:    model.Action(in.Action),
		Routes:    in.Routes,
		Selector:  in.Selector,
		Listeners: in.Listeners,
		// A written empty map is kept: it splits no claim at all.
		SpaceDelimitedClaims: in.SpaceDelimitedClaims,
		Origin:               c.resource(path),
	}
	if in.SpaceDelimitedClaims == nil && c.has(strictyaml.Field(path, "spaceDelimitedClaims")) {
		p.SpaceDelimitedClaims = map[string][]string{}
	}
	p.Rules = c.rules(in.Rules, strictyaml.Field(path, "rules"))
	return p
}

// rules converts the rules at path.
func (c *converter) rules(in []rule, path string) []model.Rule {
	var out []model.Rule
	for i, r := range in {
		rp := strictyaml.Index(path, i)
		mr := model.Rule{Name: r.Name}
		// An explicit empty list stays empty, not absent: validation
		// refuses "from: []" rather than reading it as "anyone".
		if r.From != nil {
			mr.From = []model.From{}
		}
		if r.To != nil {
			mr.To = []model.To{}
		}
		for _, f := range r.From {
			mr.From = append(mr.From, f.model())
		}
		for _, t := range r.To {
			mr.To = append(mr.To, t.model())
		}
		for j, w := range r.When {
			mr.When = append(mr.When, c.condition(w, strictyaml.Index(strictyaml.Field(rp, "when"), j)))
		}
		out = append(out, mr)
	}
	return out
}

func (c *converter) condition(in condition, path string) model.Condition {
	out := model.Condition{Values: in.Values, NotValues: in.NotValues}
	n := 0
	for _, s := range []string{in.Claim, in.Header, in.Key} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		c.errorf(path, "exactly one of claim, header, key is required")
		return out
	}
	switch {
	case in.Key == celKey:
		out.Kind, out.Name = model.CondCEL, in.PayloadKey
		return out
	case in.Claim != "":
		out.Kind, out.Name = model.CondClaim, in.Claim
	case in.Header != "":
		out.Kind, out.Name = model.CondHeader, in.Header
	default:
		out.Kind, out.Name = c.conditionKey(in.Key, strictyaml.Field(path, "key"))
	}
	if in.PayloadKey != "" {
		c.errorf(strictyaml.Field(path, "payloadKey"), "payloadKey goes with key: cel only")
	}
	return out
}

// conditionKey translates an Istio AuthorizationPolicy condition key.
func (c *converter) conditionKey(key, path string) (model.ConditionKind, string) {
	kind, name, err := conditionkey.Parse(key)
	if err != nil {
		c.errorf(path, "%v", err)
	}
	return kind, name
}
