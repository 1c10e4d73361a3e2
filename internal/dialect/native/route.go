package native

import (
	"strings"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

type route struct {
	Name     string            `yaml:"name"`
	Listener string            `yaml:"listener"`
	Labels   map[string]string `yaml:"labels"`
	Match    routeMatch        `yaml:"match"`
	Backend  backend           `yaml:"backend"`
	JWT      *routeJWT         `yaml:"jwt"`
}

type routeMatch struct {
	Hosts     []string          `yaml:"hosts"`
	Paths     []string          `yaml:"paths"`
	PathRegex []string          `yaml:"pathRegex"`
	Methods   []string          `yaml:"methods"`
	Headers   map[string]string `yaml:"headers"`
}

type backend struct {
	URL        string         `yaml:"url"`
	Timeout    *time.Duration `yaml:"timeout"`
	CAFile     string         `yaml:"caFile"`
	CertFile   string         `yaml:"certFile"`
	KeyFile    string         `yaml:"keyFile"`
	ServerName string         `yaml:"serverName"`
}

// requirement is the JWT requirement shared by routes and jwtPolicies.
type requirement struct {
	Providers            []string `yaml:"providers"`
	RequireAll           bool     `yaml:"requireAll"`
	AllowMissing         bool     `yaml:"allowMissing"`
	AllowMissingOrFailed bool     `yaml:"allowMissingOrFailed"`
	Phase                string   `yaml:"phase"`
	Priority             int      `yaml:"priority"`
}

type routeJWT struct {
	requirement     `yaml:",inline"`
	AuthIfMatched   *matchSet `yaml:"authIfMatched"`
	BypassIfMatched *matchSet `yaml:"bypassIfMatched"`
}

// matchSet selects requests for authIfMatched and bypassIfMatched.
type matchSet struct {
	Paths   []string `yaml:"paths"`
	Methods []string `yaml:"methods"`
}

func (c *converter) route(in route, path string) model.Route {
	r := model.Route{
		Name:     in.Name,
		Listener: in.Listener,
		Labels:   in.Labels,
		Match: model.RouteMatch{
			Hosts:   in.Match.Hosts,
			Methods: upper(in.Match.Methods),
			Headers: in.Match.Headers,
		},
		Backend: model.Backend{
			URL:        in.Backend.URL,
			Timeout:    or(in.Backend.Timeout, model.DefaultBackendTimeout),
			CAFile:     c.filePath(in.Backend.CAFile),
			CertFile:   c.filePath(in.Backend.CertFile),
			KeyFile:    c.filePath(in.Backend.KeyFile),
			ServerName: in.Backend.ServerName,
		},
		Origin: c.origin(path),
	}
	if zero(c, strictyaml.Field(path, "backend.timeout"), in.Backend.Timeout) {
		c.errorf(strictyaml.Field(path, "backend.timeout"), "must be positive")
	}
	if in.JWT == nil && c.has(strictyaml.Field(path, "jwt")) {
		// jwt: null (or an empty jwt:) reads as absent: the route is open.
		// Say so, in case a template or an indentation slip emptied it.
		c.warnf(strictyaml.Field(path, "jwt"), "null: the route has no JWT requirement of its own (remove the key if that is meant)")
	}
	matchPath := strictyaml.Field(path, "match")
	for i, p := range in.Match.Paths {
		r.Match.Paths = append(r.Match.Paths, c.pathMatch(p, strictyaml.Index(strictyaml.Field(matchPath, "paths"), i)))
	}
	for i, re := range in.Match.PathRegex {
		model := strictyaml.Index(strictyaml.Field(matchPath, "paths"), len(r.Match.Paths))
		c.renames[model] = strictyaml.Index(strictyaml.Field(matchPath, "pathRegex"), i)
		r.Match.Paths = append(r.Match.Paths, pathRegex(re))
	}
	if in.JWT != nil {
		jwtPath := strictyaml.Field(path, "jwt")
		req := c.requirement(in.JWT.requirement, jwtPath)
		r.JWT = &req
		c.matchMode(in, &req, jwtPath)
	}
	return r
}

func pathRegex(re string) model.PathMatch {
	return model.PathMatch{Kind: model.PathRegex, Value: re}
}

// pathMatch reads a native path: exact, or a prefix when it ends in "*".
func (c *converter) pathMatch(p, path string) model.PathMatch {
	switch {
	case p == "*" || p == "/*":
		return model.PathMatch{Kind: model.PathPrefix, Value: "/"}
	case strings.HasSuffix(p, "*"):
		p = p[:len(p)-1]
		if strings.Contains(p, "*") {
			c.errorf(path, `invalid path %q: "*" is only allowed at the end`, p+"*")
		}
		return model.PathMatch{Kind: model.PathPrefix, Value: p}
	case strings.Contains(p, "*"):
		c.errorf(path, `invalid path %q: "*" is only allowed at the end`, p)
	}
	return model.PathMatch{Kind: model.PathExact, Value: p}
}

func upper(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToUpper(s)
	}
	return out
}

// requirement converts the JWT requirement found at path.
func (c *converter) requirement(in requirement, path string) model.JWTRequirement {
	r := model.JWTRequirement{
		Providers:  in.Providers,
		RequireAll: in.RequireAll,
		Mode:       model.AuthRequired,
		Phase:      model.PhasePreAuthz,
		Priority:   in.Priority,
	}
	switch {
	case in.AllowMissing && in.AllowMissingOrFailed:
		c.errorf(strictyaml.Field(path, "allowMissingOrFailed"), "allowMissing and allowMissingOrFailed exclude each other")
	case in.AllowMissing:
		r.Mode = model.AuthAllowMissing
	case in.AllowMissingOrFailed:
		r.Mode = model.AuthAllowMissingOrFailed
	}
	if in.Phase != "" {
		r.Phase = model.Phase(in.Phase)
	}
	return r
}

// matchMode applies authIfMatched or bypassIfMatched (Alibaba ASM's match
// modes): the route lets requests without a token through authentication
// (an invalid token is still 401) and a DENY policy attached to the route
// rejects, with 403, the requests without a token that the mode protects.
func (c *converter) matchMode(in route, req *model.JWTRequirement, jwtPath string) {
	auth, bypass := in.JWT.AuthIfMatched, in.JWT.BypassIfMatched
	if auth == nil && bypass == nil {
		return
	}
	key, set := "authIfMatched", auth
	if auth != nil && bypass != nil {
		c.errorf(strictyaml.Field(jwtPath, "bypassIfMatched"), "authIfMatched and bypassIfMatched exclude each other")
		return
	}
	if bypass != nil {
		key, set = "bypassIfMatched", bypass
	}
	setPath := strictyaml.Field(jwtPath, key)
	if in.JWT.AllowMissingOrFailed {
		c.errorf(setPath, "%s cannot be combined with allowMissingOrFailed (an invalid token must still be rejected)", key)
		return
	}
	if model.Phase(in.JWT.Phase) == model.PhasePostAuthz {
		// The generated DENY would be evaluated before the token is
		// verified, so it would deny every matched request, tokens or not.
		c.errorf(setPath, "%s cannot be combined with phase postAuthz (its policy must see the verified token)", key)
		return
	}
	if len(set.Paths) == 0 && len(set.Methods) == 0 {
		c.errorf(setPath, "one of paths, methods is required")
		return
	}
	req.Mode = model.AuthAllowMissing
	methods := upper(set.Methods)
	pol := model.Policy{
		Name:   in.Name + "/" + key,
		Action: model.ActionDeny,
		Routes: []string{in.Name},
		Origin: c.origin(setPath),
	}
	// The policy's field paths map back to the match set.
	pathsAt, methodsAt := strictyaml.Field(setPath, "paths"), strictyaml.Field(setPath, "methods")
	rule := model.Rule{From: []model.From{{NotRequestPrincipals: []string{"*"}}}}
	if key == "authIfMatched" {
		// Deny tokenless requests that match paths AND methods.
		rule.To = []model.To{{Paths: set.Paths, Methods: methods}}
		c.renames[setPath+".rules[0].to[0].paths"] = pathsAt
		c.renames[setPath+".rules[0].to[0].methods"] = methodsAt
	} else {
		// Deny tokenless requests that do not match paths AND methods:
		// outside the paths, or with another method.
		if len(set.Paths) > 0 {
			rule.To = append(rule.To, model.To{NotPaths: set.Paths})
			c.renames[strictyaml.Index(setPath+".rules[0].to", len(rule.To)-1)+".notPaths"] = pathsAt
		}
		if len(methods) > 0 {
			rule.To = append(rule.To, model.To{NotMethods: methods})
			c.renames[strictyaml.Index(setPath+".rules[0].to", len(rule.To)-1)+".notMethods"] = methodsAt
		}
	}
	c.renames[setPath+".rules"] = setPath
	pol.Rules = []model.Rule{rule}
	c.synthesized = append(c.synthesized, pol)
}
