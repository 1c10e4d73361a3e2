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
	// Weighted backends, redirects, direct responses, rewrites and
	// header changes: see routeActions.
	Backends        []weightedBackend `yaml:"backends"`
	Redirect        *redirect         `yaml:"redirect"`
	DirectResponse  *directResponse   `yaml:"directResponse"`
	Rewrite         *rewrite          `yaml:"rewrite"`
	RequestHeaders  *headerOps        `yaml:"requestHeaders"`
	ResponseHeaders *headerOps        `yaml:"responseHeaders"`
}

type routeMatch struct {
	Hosts     []string `yaml:"hosts"`
	Paths     []string `yaml:"paths"`
	PathRegex []string `yaml:"pathRegex"`
	// PathPrefix are segment prefixes (model.PathSegmentPrefix).
	PathPrefix    []string          `yaml:"pathPrefix"`
	Methods       []string          `yaml:"methods"`
	Headers       map[string]string `yaml:"headers"`
	HeaderMatches []valueMatch      `yaml:"headerMatches"`
	Query         []valueMatch      `yaml:"query"`
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
	BodyIdleTimeout     *time.Duration `yaml:"bodyIdleTimeout"`
	// Protocol is model.Backend.Protocol: http1 or http2.
	Protocol string `yaml:"protocol"`
}

// checkPool refuses an explicit zero or a negative value in the
// backend's pool settings at path ("routes[i].backend"). Absent keys stay
// zero in the model, meaning the defaults.
func (c *converter) checkPool(in backend, path string) {
	positive(c, strictyaml.Field(path, "maxIdleConnsPerHost"), in.MaxIdleConnsPerHost)
	positive(c, strictyaml.Field(path, "idleConnTimeout"), in.IdleConnTimeout)
	positive(c, strictyaml.Field(path, "dialTimeout"), in.DialTimeout)
	positive(c, strictyaml.Field(path, "tlsHandshakeTimeout"), in.TLSHandshakeTimeout)
	positive(c, strictyaml.Field(path, "bodyIdleTimeout"), in.BodyIdleTimeout)
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
		Origin: c.resource(path),
	}
	backendPath := strictyaml.Field(path, "backend")
	// A route that splits, redirects or answers directly has no backend
	// unless one is written (which validation then refuses).
	if c.has(backendPath) || (len(in.Backends) == 0 && in.Redirect == nil && in.DirectResponse == nil) {
		r.Backend = c.backend(in.Backend, backendPath)
	}
	c.routeActions(in, path, &r)
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
	for i, p := range in.Match.PathPrefix {
		doc := strictyaml.Index(strictyaml.Field(matchPath, "pathPrefix"), i)
		c.rename(strictyaml.Index(strictyaml.Field(matchPath, "paths"), len(r.Match.Paths)), doc)
		if strings.Contains(p, "*") {
			c.errorf(doc, `invalid path prefix %q: pathPrefix takes whole segments without "*" ("/v1" matches /v1 and /v1/...)`, p)
		}
		r.Match.Paths = append(r.Match.Paths, model.PathMatch{Kind: model.PathSegmentPrefix, Value: p})
	}
	for i, m := range in.Match.HeaderMatches {
		r.Match.HeaderMatches = append(r.Match.HeaderMatches, c.valueMatch(m, strictyaml.Index(strictyaml.Field(matchPath, "headerMatches"), i)))
	}
	for i, m := range in.Match.Query {
		r.Match.Query = append(r.Match.Query, c.valueMatch(m, strictyaml.Index(strictyaml.Field(matchPath, "query"), i)))
	}
	if in.JWT != nil {
		jwtPath := strictyaml.Field(path, "jwt")
		req := c.requirement(in.JWT.requirement, jwtPath)
		r.JWT = &req
		c.matchMode(in, &req, jwtPath)
	}
	return r
}

// backend converts the backend at path ("routes[0].backend",
// "routes[0].backends[1]").
func (c *converter) backend(in backend, path string) model.Backend {
	b := model.Backend{
		URL:        in.URL,
		Timeout:    or(in.Timeout, model.DefaultBackendTimeout),
		CAFile:     c.filePath(in.CAFile),
		CertFile:   c.filePath(in.CertFile),
		KeyFile:    c.filePath(in.KeyFile),
		ServerName: in.ServerName,
		Endpoints:  in.Endpoints,
		// Absent pool settings stay zero: the defaults.
		MaxIdleConnsPerHost: or(in.MaxIdleConnsPerHost, 0),
		IdleConnTimeout:     or(in.IdleConnTimeout, 0),
		DialTimeout:         or(in.DialTimeout, 0),
		TLSHandshakeTimeout: or(in.TLSHandshakeTimeout, 0),
		BodyIdleTimeout:     or(in.BodyIdleTimeout, 0),
		Protocol:            model.BackendProtocol(in.Protocol),
	}
	if zero(c, strictyaml.Field(path, "timeout"), in.Timeout) {
		c.errorf(strictyaml.Field(path, "timeout"), "must be positive")
	}
	c.checkPool(in, path)
	return b
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

// valueMatch is a header or query condition: a name and exactly one of
// exact, prefix, suffix, regex and present.
type valueMatch struct {
	Name    string  `yaml:"name"`
	Exact   *string `yaml:"exact"`
	Prefix  *string `yaml:"prefix"`
	Suffix  *string `yaml:"suffix"`
	Regex   *string `yaml:"regex"`
	Present *bool   `yaml:"present"`
	Invert  bool    `yaml:"invert"`
}

// weightedBackend is a backend with its share of the requests.
type weightedBackend struct {
	backend `yaml:",inline"`
	// Weight defaults to 1 (Gateway API's default).
	Weight *int `yaml:"weight"`
}

type pathRewrite struct {
	Full   string `yaml:"full"`
	Prefix string `yaml:"prefix"`
}

type redirect struct {
	Scheme string       `yaml:"scheme"`
	Host   string       `yaml:"host"`
	Port   int          `yaml:"port"`
	Path   *pathRewrite `yaml:"path"`
	Status int          `yaml:"status"`
}

type directResponse struct {
	Status int    `yaml:"status"`
	Body   string `yaml:"body"`
}

type rewrite struct {
	Host string       `yaml:"host"`
	Path *pathRewrite `yaml:"path"`
}

type headerOps struct {
	Set    map[string]string `yaml:"set"`
	Add    map[string]string `yaml:"add"`
	Remove []string          `yaml:"remove"`
}

// valueMatch converts the condition at path. The model's kind and value
// fields are placed at the key that gave them.
func (c *converter) valueMatch(in valueMatch, path string) model.ValueMatch {
	m := model.ValueMatch{Name: in.Name, Invert: in.Invert}
	var keys []string
	for _, k := range []struct {
		key  string
		kind model.ValueKind
		v    *string
	}{
		{"exact", model.ValueExact, in.Exact},
		{"prefix", model.ValuePrefix, in.Prefix},
		{"suffix", model.ValueSuffix, in.Suffix},
		{"regex", model.ValueRegex, in.Regex},
	} {
		if k.v != nil {
			keys = append(keys, k.key)
			if len(keys) == 1 {
				m.Kind, m.Value = k.kind, *k.v
			}
		}
	}
	if in.Present != nil {
		keys = append(keys, "present")
		if len(keys) == 1 {
			m.Kind = model.ValuePresent
		}
		if !*in.Present {
			c.errorf(strictyaml.Field(path, "present"), "only present: true; to require that it is absent, write present: true with invert: true")
		}
	}
	switch len(keys) {
	case 0:
		c.errorf(path, "give one of exact, prefix, suffix, regex and present")
		m.Kind = model.ValuePresent // reported: keep validation quiet about it
	case 1:
		c.rename(strictyaml.Field(path, "kind"), strictyaml.Field(path, keys[0]))
		c.rename(strictyaml.Field(path, "value"), strictyaml.Field(path, keys[0]))
	default:
		c.errorf(strictyaml.Field(path, keys[1]), "give one of exact, prefix, suffix, regex and present, got %s", strings.Join(keys, " and "))
	}
	return m
}

// routeActions converts the keys beyond match, backend and jwt: backends,
// redirect, directResponse, rewrite, requestHeaders and responseHeaders.
// Which of them may go together is checked by validation
// (model.Route).
func (c *converter) routeActions(in route, path string, r *model.Route) {
	if len(in.Backends) > 0 && c.has(strictyaml.Field(path, "backend")) {
		c.errorf(strictyaml.Field(path, "backends"), "give backend or backends, not both")
		r.Backend = model.Backend{} // reported: no more about it
	}
	for i, b := range in.Backends {
		bp := strictyaml.Index(strictyaml.Field(path, "backends"), i)
		r.Backends = append(r.Backends, model.WeightedBackend{Backend: c.backend(b.backend, bp), Weight: or(b.Weight, 1)})
	}
	if rd := in.Redirect; rd != nil {
		r.Redirect = &model.Redirect{Scheme: rd.Scheme, Host: rd.Host, Port: rd.Port, Path: pathRewriteOf(rd.Path), Status: rd.Status}
	}
	if d := in.DirectResponse; d != nil {
		r.DirectResponse = &model.DirectResponse{Status: d.Status, Body: d.Body}
	}
	if rw := in.Rewrite; rw != nil {
		r.Rewrite = &model.Rewrite{Host: rw.Host, Path: pathRewriteOf(rw.Path)}
	}
	if h := in.RequestHeaders; h != nil {
		r.RequestHeaders = model.HeaderOps{Set: h.Set, Add: h.Add, Remove: h.Remove}
	}
	if h := in.ResponseHeaders; h != nil {
		r.ResponseHeaders = model.HeaderOps{Set: h.Set, Add: h.Add, Remove: h.Remove}
	}
}

func pathRewriteOf(p *pathRewrite) *model.PathRewrite {
	if p == nil {
		return nil
	}
	return &model.PathRewrite{Full: p.Full, Prefix: p.Prefix}
}
