package native

import (
	"regexp"
	"strings"

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
	Name      string            `yaml:"name"`
	Action    string            `yaml:"action"`
	Routes    []string          `yaml:"routes"`
	Selector  map[string]string `yaml:"selector"`
	Listeners []string          `yaml:"listeners"`
	Rules     []rule            `yaml:"rules"`
}

type rule struct {
	Name string       `yaml:"name"`
	From []model.From `yaml:"from"`
	To   []model.To   `yaml:"to"`
	When []condition  `yaml:"when"`
}

// condition names what it looks at with exactly one of Claim, Header and
// Key (an Istio condition key).
type condition struct {
	Claim     string   `yaml:"claim"`
	Header    string   `yaml:"header"`
	Key       string   `yaml:"key"`
	Values    []string `yaml:"values"`
	NotValues []string `yaml:"notValues"`
}

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
		Origin:    c.resource(path),
	}
	for i, r := range in.Rules {
		rp := strictyaml.Index(strictyaml.Field(path, "rules"), i)
		mr := model.Rule{Name: r.Name, From: r.From, To: r.To}
		for j := range mr.To {
			// Methods are upper-cased, as in a route's match: "delete" in
			// a DENY rule must not let DELETE through.
			mr.To[j].Methods = upper(mr.To[j].Methods)
			mr.To[j].NotMethods = upper(mr.To[j].NotMethods)
		}
		for j, w := range r.When {
			mr.When = append(mr.When, c.condition(w, strictyaml.Index(strictyaml.Field(rp, "when"), j)))
		}
		p.Rules = append(p.Rules, mr)
	}
	return p
}

var claimKey = regexp.MustCompile(`^request\.auth\.claims((?:\[[^\[\]]+\])+)$`)
var headerKey = regexp.MustCompile(`^request\.headers\[([^\[\]]+)\]$`)

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
	case in.Claim != "":
		out.Kind, out.Name = model.CondClaim, in.Claim
	case in.Header != "":
		out.Kind, out.Name = model.CondHeader, in.Header
	default:
		out.Kind, out.Name = c.conditionKey(in.Key, strictyaml.Field(path, "key"))
	}
	return out
}

// conditionKey translates an Istio AuthorizationPolicy condition key.
func (c *converter) conditionKey(key, path string) (model.ConditionKind, string) {
	switch key {
	case "request.auth.audiences":
		return model.CondAudience, ""
	case "request.auth.presenter":
		return model.CondPresenter, ""
	case "request.auth.principal":
		return model.CondPrincipal, ""
	}
	if m := claimKey.FindStringSubmatch(key); m != nil {
		parts := strings.Split(strings.Trim(m[1], "[]"), "][")
		return model.CondClaim, strings.Join(parts, ".")
	}
	if m := headerKey.FindStringSubmatch(key); m != nil {
		return model.CondHeader, m[1]
	}
	c.errorf(path, "unsupported condition key %q (supported: request.auth.claims[NAME], request.headers[NAME], request.auth.audiences, request.auth.presenter, request.auth.principal)", key)
	return "", ""
}
