package native

import (
	"strings"
	"time"

	"jwtgate.dev/jwtgate/internal/dialect/matchmode"
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
	URL                 string         `yaml:"url"`
	Timeout             *time.Duration `yaml:"timeout"`
	CAFile              string         `yaml:"caFile"`
	CertFile            string         `yaml:"certFile"`
	KeyFile             string         `yaml:"keyFile"`
	ServerName          string         `yaml:"serverName"`
	Endpoints           []string       `yaml:"endpoints"`
	MaxIdleConnsPerHost *int           `yaml:"maxIdleConnsPerHost"`
	IdleConnTimeout     *time.Duration `yaml:"idleConnTimeout"`
	DialTimeout         *time.Duration `yaml:"dialTimeout"`
	TLSHandshakeTimeout *time.Duration `yaml:"tlsHandshakeTimeout"`
}

// checkPool refuses an explicit zero or a negative value in the
// backend's pool settings at path ("routes[i].backend"). Absent keys stay
// zero in the model, meaning the defaults.
func (c *converter) checkPool(in backend, path string) {
	positive(c, strictyaml.Field(path, "maxIdleConnsPerHost"), in.MaxIdleConnsPerHost)
	positive(c, strictyaml.Field(path, "idleConnTimeout"), in.IdleConnTimeout)
	positive(c, strictyaml.Field(path, "dialTimeout"), in.DialTimeout)
	positive(c, strictyaml.Field(path, "tlsHandshakeTimeout"), in.TLSHandshakeTimeout)
}

// requirement is the JWT requirement shared by routes and jwtPolicies.
type requirement struct {
	Providers            []string `yaml:"providers"`
	RequireAll           bool     `yaml:"requireAll"`
	AllowMissing         bool     `yaml:"allowMissing"`
	AllowMissingOrFailed bool     `yaml:"allowMissingOrFailed"`
	Phase                string   `yaml:"phase"`
	Priority             int      `yaml:"priority"`
	// AuthenticatePreflight: see model.JWTRequirement.
	AuthenticatePreflight bool `yaml:"authenticatePreflight"`
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
			Endpoints:  in.Backend.Endpoints,
			// Absent pool settings stay zero: the defaults.
			MaxIdleConnsPerHost: or(in.Backend.MaxIdleConnsPerHost, 0),
			IdleConnTimeout:     or(in.Backend.IdleConnTimeout, 0),
			DialTimeout:         or(in.Backend.DialTimeout, 0),
			TLSHandshakeTimeout: or(in.Backend.TLSHandshakeTimeout, 0),
		},
		Origin: c.resource(path),
	}
	if zero(c, strictyaml.Field(path, "backend.timeout"), in.Backend.Timeout) {
		c.errorf(strictyaml.Field(path, "backend.timeout"), "must be positive")
	}
	c.checkPool(in.Backend, strictyaml.Field(path, "backend"))
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
		c.rename(model, strictyaml.Index(strictyaml.Field(matchPath, "pathRegex"), i))
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

		AuthenticatePreflight: in.AuthenticatePreflight,
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

// matchMode applies authIfMatched or bypassIfMatched (see package
// matchmode): the route's requirement lets requests without a token
// through authentication and a generated DENY policy rejects the ones the
// mode protects.
func (c *converter) matchMode(in route, req *model.JWTRequirement, jwtPath string) {
	auth, bypass := in.JWT.AuthIfMatched, in.JWT.BypassIfMatched
	if auth == nil && bypass == nil {
		return
	}
	if auth != nil && bypass != nil {
		c.errorf(strictyaml.Field(jwtPath, "bypassIfMatched"), "authIfMatched and bypassIfMatched exclude each other")
		return
	}
	mode, set := matchmode.AuthIfMatched, auth
	if bypass != nil {
		mode, set = matchmode.BypassIfMatched, bypass
	}
	setPath := strictyaml.Field(jwtPath, string(mode))
	x, err := matchmode.Expand(in.Name, mode, matchmode.Set{Paths: set.Paths, Methods: set.Methods}, req)
	if err != nil {
		c.errorf(setPath, "%v", err)
		return
	}
	// The policy's field paths map back to the match set.
	for from, to := range x.From {
		c.rename(strictyaml.Field(setPath, from), strictyaml.Field(setPath, to))
	}
	x.Policy.Origin = c.origin(setPath)
	c.synthesized = append(c.synthesized, x.Policy)
}
