package native

import (
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"

	"jwtgate.dev/jwtgate/internal/dialect/matchmode"
	"jwtgate.dev/jwtgate/internal/model"
)

// EncodeOptions tune Encode.
type EncodeOptions struct {
	// Dir is the folder the output will be read from. The model's relative
	// file names (relative to the working directory, as the loader
	// resolved them) are written relative to Dir, so that the output
	// works when saved there; absolute names stay absolute. Empty means
	// the working directory: relative names are written as they are.
	Dir string
	// Header, when set, is a comment written at the top of the stream
	// (one "# " line per line of it).
	Header string
}

// Encode writes cfg as native YAML: the inverse of Decode. See EncodeWith.
func Encode(cfg *model.Config) ([]byte, model.Issues) {
	return EncodeWith(cfg, EncodeOptions{})
}

// EncodeWith writes cfg as a stream of native documents (usually one)
// that decodes to the same model, Origins aside, and to the defaults the
// decoder fills in where cfg leaves a field zero that means the same
// thing (a backend timeout of zero is the 15s default, a phase of ""
// preAuthz, a missing clientCerts with a client CA require, ...).
//
// Every listener, provider, route, JWT policy, policy, egress server and
// egress authorization is one list entry, with a head comment naming the
// resource it came from: "from Gateway egress/gw (gw.yaml:1)". A policy
// that a native route's authIfMatched or bypassIfMatched made is written
// back as that key of its route (a policy that follows it starts a new
// document, so that it keeps its place).
//
// What the native format cannot say is refused: each refusal is an error
// Issue at the source resource's origin, naming the field and what the
// user can do, and the YAML is then nil. The refusals are a listener
// certificate held inline (from a Kubernetes Secret), a backend that is
// unavailable, a condition on the token's issuer, a method that is not
// upper case, paths that the native path syntax cannot write, and routes
// whose paths native order would change where the order decides a prefix
// rewrite.
func EncodeWith(cfg *model.Config, opts EncodeOptions) ([]byte, model.Issues) {
	e := &encoder{}
	if opts.Dir != "" {
		if abs, err := filepath.Abs(opts.Dir); err == nil {
			e.dir = abs
		}
	}
	docs := e.documents(cfg)
	if len(e.issues) > 0 {
		return nil, e.issues
	}
	out, err := render(docs, opts.Header)
	if err != nil {
		e.refuse(model.Origin{}, "", "%v", err)
		return nil, e.issues
	}
	return out, nil
}

type encoder struct {
	dir    string // absolute EncodeOptions.Dir, or ""
	issues model.Issues
}

// refuse records that the field of the resource at o has no native form.
func (e *encoder) refuse(o model.Origin, field, format string, args ...any) {
	is := model.Issue{Severity: model.Error, Origin: o, Field: field, Msg: fmt.Sprintf(format, args...)}
	if placed, ok := is.Located(); ok {
		is = placed
	} else {
		is.Origin.Loc = nil
		is.Resource = o.Ref.Describe()
	}
	for _, had := range e.issues {
		if had.Error() == is.Error() {
			return // a vendor resource made several model pieces alike
		}
	}
	e.issues = append(e.issues, is)
}

// entry is one list entry of a document and the comment naming its
// source.
type entry struct {
	value   any // a document struct: listener, provider, route...
	comment string
}

// doc is one output document.
type doc struct {
	listeners, providers, routes, jwtPolicies, policies, servers, authorizations []entry

	folded  bool   // a route of it has a match mode
	comment string // its head comment
}

// source is the head comment of a resource that came from o.
func source(o model.Origin) string {
	if o.Ref == (model.Ref{}) {
		return ""
	}
	s := "from " + o.Ref.String()
	if o.File != "" {
		s += " (" + o.File
		if o.Line > 0 {
			s += fmt.Sprintf(":%d", o.Line)
		}
		s += ")"
	}
	return s
}

// documents converts cfg. Everything goes in the first document but for
// routes and policies: the decoder appends the policies of a document's
// match modes (authIfMatched, bypassIfMatched) after the document's own,
// so a policy that comes after such a policy starts a new document.
func (e *encoder) documents(cfg *model.Config) []*doc {
	first := &doc{}
	for _, l := range cfg.Listeners {
		first.listeners = append(first.listeners, entry{e.listener(l), source(l.Origin)})
	}
	for _, p := range cfg.Providers {
		first.providers = append(first.providers, entry{e.provider(p), source(p.Origin)})
	}
	for _, p := range cfg.JWTPolicies {
		first.jwtPolicies = append(first.jwtPolicies, entry{jwtPolicy{Name: p.Name, Routes: p.Routes, Selector: p.Selector,
			requirement: e.requirement(p.Requirement, p.Origin, "requirement")}, source(p.Origin)})
	}
	for _, s := range cfg.Egress.Servers {
		first.servers = append(first.servers, entry{e.egressServer(s), source(s.Origin)})
	}
	for _, a := range cfg.Egress.Authorizations {
		first.authorizations = append(first.authorizations, entry{egressAuthorization{Name: a.Name, Listeners: a.Listeners,
			Rules: e.rules(a.Rules, a.Origin, "rules")}, source(a.Origin)})
	}
	routes := make([]route, len(cfg.Routes))
	for i, r := range cfg.Routes {
		routes[i] = e.route(r)
	}
	docs, cur, next := []*doc{first}, first, 0
	for _, p := range cfg.Policies {
		if i, set, mode, ok := matchModeOf(cfg.Routes, p); ok && i >= next && routes[i].JWT != nil {
			if mode == matchmode.AuthIfMatched {
				routes[i].JWT.AuthIfMatched = set
			} else {
				routes[i].JWT.BypassIfMatched = set
			}
			routes[i].JWT.AllowMissing = false // the mode sets it
			for ; next <= i; next++ {
				cur.routes = append(cur.routes, entry{routes[next], source(cfg.Routes[next].Origin)})
			}
			cur.folded = true
			continue
		}
		if cur.folded {
			// The decoder appends a document's match-mode policies after
			// its own: this policy comes after them, so in a new document.
			cur = &doc{comment: "A new document: the policies of the match modes above come before the policies below, as in the input."}
			docs = append(docs, cur)
		}
		cur.policies = append(cur.policies, entry{e.policy(p), source(p.Origin)})
	}
	for ; next < len(routes); next++ {
		cur.routes = append(cur.routes, entry{routes[next], source(cfg.Routes[next].Origin)})
	}
	return docs
}

// matchModeOf recognizes a policy that a native route's authIfMatched or
// bypassIfMatched made: it has the route's own identity and is exactly
// what the mode expands to.
func matchModeOf(routes []model.Route, p model.Policy) (int, *matchSet, matchmode.Mode, bool) {
	for i, r := range routes {
		if r.JWT == nil || p.Origin.Ref != r.Origin.Ref || r.Origin.Ref.APIVersion != APIVersion || len(p.Rules) != 1 {
			continue
		}
		var set matchSet
		var mode matchmode.Mode
		switch p.Name {
		case r.Name + "/" + string(matchmode.AuthIfMatched):
			mode = matchmode.AuthIfMatched
			if to := p.Rules[0].To; len(to) == 1 {
				set = matchSet{Paths: to[0].Paths, Methods: to[0].Methods}
			}
		case r.Name + "/" + string(matchmode.BypassIfMatched):
			mode = matchmode.BypassIfMatched
			for _, to := range p.Rules[0].To {
				set.Paths, set.Methods = append(set.Paths, to.NotPaths...), append(set.Methods, to.NotMethods...)
			}
		default:
			continue
		}
		req := *r.JWT
		x, err := matchmode.Expand(r.Name, mode, matchmode.Set{Paths: set.Paths, Methods: set.Methods}, &req)
		x.Policy.Origin = p.Origin
		if err == nil && req.Mode == r.JWT.Mode && reflect.DeepEqual(x.Policy, p) {
			return i, &set, mode, true
		}
	}
	return 0, nil, "", false
}

// file writes a file name of the model for the output's folder.
func (e *encoder) file(p string) string {
	if p == "" || filepath.IsAbs(p) || e.dir == "" {
		return p
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	rel, err := filepath.Rel(e.dir, abs)
	if err != nil {
		return abs
	}
	return rel
}

// ptr is &v, or nil when v is skip (the value the decoder fills in).
func ptr[T comparable](v, skip T) *T {
	if v == skip {
		return nil
	}
	return &v
}

func (e *encoder) listener(l model.Listener) listener {
	out := listener{Name: l.Name, Address: l.Address, Paths: listenerPaths(l.Paths),
		NumTrustedProxies: ptr(l.NumTrustedProxies, 0), H2C: l.H2C,
		Limits: listenerLimits{
			MaxHeaderBytes:        ptr(l.Limits.MaxHeaderBytes, 0),
			ReadHeaderTimeout:     ptr(l.Limits.ReadHeaderTimeout, 0),
			IdleTimeout:           ptr(l.Limits.IdleTimeout, 0),
			BodyIdleTimeout:       ptr(l.Limits.BodyIdleTimeout, 0),
			MaxRequestDuration:    ptr(l.Limits.MaxRequestDuration, 0),
			MaxConcurrentRequests: ptr(l.Limits.MaxConcurrentRequests, 0),
			MaxConnections:        ptr(l.Limits.MaxConnections, 0),
		},
	}
	if t := l.TLS; t != nil {
		if t.CertPEM != nil || t.KeyPEM != nil {
			e.refuse(l.Origin, "tls", "the listener's certificate and key are held inline (from %s): the native format reads them from files only; "+
				"save the Secret's tls.crt and tls.key as files and serve a native listener with tls.certFile and tls.keyFile instead", orUnknown(t.CertSource))
		}
		out.TLS = &listenerTLS{CertFile: e.file(t.CertFile), KeyFile: e.file(t.KeyFile), ClientCAFile: e.file(t.ClientCAFile), ClientCerts: string(t.ClientCerts)}
		if t.ClientCAFile != "" && t.ClientCerts == model.ClientCertsRequire {
			out.TLS.ClientCerts = "" // the default with a client CA
		}
		for i, c := range t.Certificates {
			if c.Inline() {
				e.refuse(l.Origin, fmt.Sprintf("tls.certificates[%d]", i), "the listener's certificate and key are held inline (from %s, for %s): the native format reads them from files only; "+
					"save the Secret's tls.crt and tls.key as files and list them under tls.certificates with certFile and keyFile instead",
					orUnknown(c.CertSource), strings.Join(c.ServerNames, ", "))
			}
			out.TLS.Certificates = append(out.TLS.Certificates, listenerCertificate{ServerNames: c.ServerNames, CertFile: e.file(c.CertFile), KeyFile: e.file(c.KeyFile)})
		}
	}
	if g := l.Egress; g != nil {
		out.Egress = &listenerEgress{ConnectPorts: g.ConnectPorts, Resolve: g.Resolve, AllowCIDRs: g.AllowCIDRs, CAFile: e.file(g.CAFile)}
		if g.ProxyJWT != nil {
			q := e.requirement(*g.ProxyJWT, l.Origin, "egress.proxyJwt")
			out.Egress.ProxyJWT = &q
		}
	}
	return out
}

func orUnknown(s string) string {
	if s == "" {
		return "an unnamed source"
	}
	return s
}

func (e *encoder) provider(p model.Provider) provider {
	out := provider{Name: p.Name, Issuer: p.Issuer, Audiences: p.Audiences, PayloadHeader: p.PayloadHeader,
		ForwardToken: p.ForwardToken, Algorithms: p.Algorithms, RequireExpiration: p.RequireExpiration, MaxLifetime: p.MaxLifetime,
		ClockSkew: ptr(p.ClockSkew, model.DefaultClockSkew), CacheSize: ptr(p.CacheSize, 0)}
	if p.MaxTokenBytes > 0 { // zero means the default too
		out.MaxTokenBytes = ptr(p.MaxTokenBytes, model.DefaultMaxTokenBytes)
	}
	if p.From != nil {
		out.From = []tokenSource{}
		for _, s := range p.From {
			out.From = append(out.From, tokenSource{Header: s.Header, Prefix: s.Prefix, Query: s.Query, Cookie: s.Cookie})
		}
	}
	if p.ClaimsToHeaders != nil {
		out.ClaimsToHeaders = []claimToHeader{}
		for _, c := range p.ClaimsToHeaders {
			out.ClaimsToHeaders = append(out.ClaimsToHeaders, claimToHeader{Claim: c.Claim, Header: c.Header, Append: c.Append})
		}
	}
	k := p.JWKS
	j := jwks{Inline: k.Inline, File: e.file(k.File), PEM: k.PEM, URI: k.URI}
	if k.Remote() {
		// Zero means the default to the key set too.
		j.CacheDuration = nonZero(k.CacheDuration, model.DefaultJWKSCacheDuration)
		j.Timeout = nonZero(k.Timeout, model.DefaultJWKSTimeout)
		j.RefetchInterval = nonZero(k.RefetchInterval, model.DefaultJWKSRefetchInterval)
		j.UnknownKidWait = ptr(k.UnknownKidWait, 0) // as written: zero is the default
		j.CAFile = e.file(k.CAFile)
	} // a local key set never uses the five: the decoder would ignore them
	if j != (jwks{}) {
		out.JWKS = &j
	}
	return out
}

// nonZero is &d unless d is zero or the default.
func nonZero(d, def time.Duration) *time.Duration {
	if d == 0 {
		return nil
	}
	return ptr(d, def)
}

// requirement writes a JWT requirement found at field of the resource at o.
func (e *encoder) requirement(r model.JWTRequirement, o model.Origin, field string) requirement {
	out := requirement{Providers: r.Providers, RequireAll: r.RequireAll, Priority: r.Priority, AuthenticatePreflight: r.AuthenticatePreflight}
	switch r.Mode {
	case "", model.AuthRequired:
	case model.AuthAllowMissing:
		out.AllowMissing = true
	case model.AuthAllowMissingOrFailed:
		out.AllowMissingOrFailed = true
	default:
		e.refuse(o, field+".mode", "authentication mode %q has no native form (required, allowMissing, allowMissingOrFailed)", r.Mode)
	}
	if r.Phase != model.PhasePreAuthz {
		out.Phase = string(r.Phase)
	}
	return out
}

func (e *encoder) route(r model.Route) route {
	out := route{Name: r.Name, Listener: r.Listener, Labels: r.Labels, Match: e.match(r)}
	if len(r.Backends) == 0 && r.Redirect == nil && r.DirectResponse == nil {
		out.Backend = e.backend(r.Backend, r.Origin, "backend")
	}
	for i, b := range r.Backends {
		out.Backends = append(out.Backends, weightedBackend{backend: e.backend(b.Backend, r.Origin, fmt.Sprintf("backends[%d]", i)), Weight: ptr(b.Weight, 1)})
	}
	if d := r.Redirect; d != nil {
		out.Redirect = &redirect{Scheme: d.Scheme, Host: d.Host, Port: d.Port, Path: pathRewriteTo(d.Path), Status: d.Status}
	}
	if d := r.DirectResponse; d != nil {
		out.DirectResponse = &directResponse{Status: d.Status, Body: d.Body}
	}
	if w := r.Rewrite; w != nil {
		out.Rewrite = &rewrite{Host: w.Host, Path: pathRewriteTo(w.Path)}
	}
	out.RequestHeaders, out.ResponseHeaders = headerOpsTo(r.RequestHeaders), headerOpsTo(r.ResponseHeaders)
	if r.JWT != nil {
		out.JWT = &routeJWT{requirement: e.requirement(*r.JWT, r.Origin, "jwt")}
	}
	return out
}

func pathRewriteTo(p *model.PathRewrite) *pathRewrite {
	if p == nil {
		return nil
	}
	return &pathRewrite{Full: p.Full, Prefix: p.Prefix}
}

func headerOpsTo(h model.HeaderOps) *headerOps {
	if h.Set == nil && h.Add == nil && h.Remove == nil {
		return nil
	}
	return &headerOps{Set: h.Set, Add: h.Add, Remove: h.Remove}
}

func (e *encoder) backend(b model.Backend, o model.Origin, field string) backend {
	if b.Unavailable != "" {
		e.refuse(o, field, "the backend is unavailable (%s): served, it answers 503 \"no healthy upstream\" without connecting, "+
			"which a native backend cannot say; give the Service ready endpoints, or drop or fix the route, and convert again", b.Unavailable)
	}
	out := backend{URL: b.URL, CAFile: e.file(b.CAFile), CertFile: e.file(b.CertFile), KeyFile: e.file(b.KeyFile),
		ServerName: b.ServerName, Endpoints: b.Endpoints,
		MaxIdleConnsPerHost: ptr(b.MaxIdleConnsPerHost, 0), IdleConnTimeout: ptr(b.IdleConnTimeout, 0),
		DialTimeout: ptr(b.DialTimeout, 0), TLSHandshakeTimeout: ptr(b.TLSHandshakeTimeout, 0), BodyIdleTimeout: ptr(b.BodyIdleTimeout, 0),
		Protocol: string(b.Protocol)}
	out.Timeout = nonZero(b.Timeout, model.DefaultBackendTimeout)
	return out
}

// match writes a route's match. The decoder lists paths, then
// pathRegex, then pathPrefix: paths in another order come back in that
// order (they match the same), but a prefix path after a segment prefix
// is refused where the order decides which prefix a prefix rewrite or
// redirect replaces (the first that matches).
func (e *encoder) match(r model.Route) routeMatch {
	m := r.Match
	out := routeMatch{Hosts: m.Hosts, Methods: e.methods(m.Methods, r.Origin, "match.methods"), Headers: m.Headers}
	segment, reordered := false, false // a prefix after a segment prefix changes place
	for i, p := range m.Paths {
		field := fmt.Sprintf("match.paths[%d]", i)
		segment = segment || p.Kind == model.PathSegmentPrefix
		reordered = reordered || (segment && p.Kind == model.PathPrefix)
		switch p.Kind {
		case model.PathExact:
			if strings.Contains(p.Value, "*") {
				e.refuse(r.Origin, field, "exact path %q holds a \"*\", which native paths read as a wildcard: match it with the regular expression %q in the source, and convert again", p.Value, regexp.QuoteMeta(p.Value))
			}
			out.Paths = append(out.Paths, p.Value)
		case model.PathPrefix:
			if p.Value == "" || strings.Contains(p.Value, "*") {
				e.refuse(r.Origin, field, "prefix %q cannot be written as a native path (\"PREFIX*\", no other \"*\", not empty): match it with the regular expression %q in the source, and convert again", p.Value, regexp.QuoteMeta(p.Value)+".*")
			}
			out.Paths = append(out.Paths, p.Value+"*")
		case model.PathRegex:
			out.PathRegex = append(out.PathRegex, p.Value)
		case model.PathSegmentPrefix:
			if strings.Contains(p.Value, "*") {
				e.refuse(r.Origin, field, "segment prefix %q holds a \"*\", which native pathPrefix refuses: match it with the regular expression %q in the source, and convert again", p.Value, regexp.QuoteMeta(strings.TrimSuffix(p.Value, "/"))+"(/.*)?")
			}
			out.PathPrefix = append(out.PathPrefix, p.Value)
		default:
			e.refuse(r.Origin, field, "path match kind %q has no native form", p.Kind)
		}
	}
	action := ""
	switch {
	case r.Rewrite != nil && r.Rewrite.Path != nil && r.Rewrite.Path.Prefix != "":
		action = "rewrite"
	case r.Redirect != nil && r.Redirect.Path != nil && r.Redirect.Path.Prefix != "":
		action = "redirect"
	}
	if reordered && action != "" {
		e.refuse(r.Origin, "match.paths", "the native format lists paths before pathPrefix, so the route's prefix %s would replace another prefix than it does here: "+
			"split the route so that each has one kind of prefix, and convert again", action)
	}
	for i, v := range m.HeaderMatches {
		out.HeaderMatches = append(out.HeaderMatches, e.valueMatch(v, r.Origin, fmt.Sprintf("match.headerMatches[%d]", i)))
	}
	for i, v := range m.Query {
		out.Query = append(out.Query, e.valueMatch(v, r.Origin, fmt.Sprintf("match.query[%d]", i)))
	}
	return out
}

func (e *encoder) valueMatch(v model.ValueMatch, o model.Origin, field string) valueMatch {
	out := valueMatch{Name: v.Name, Invert: v.Invert}
	val := v.Value
	switch v.Kind {
	case model.ValueExact:
		out.Exact = &val
	case model.ValuePrefix:
		out.Prefix = &val
	case model.ValueSuffix:
		out.Suffix = &val
	case model.ValueRegex:
		out.Regex = &val
	case model.ValuePresent:
		if v.Value != "" {
			e.refuse(o, field, "a present condition with a value (%q) has no native form", v.Value)
		}
		present := true
		out.Present = &present
	default:
		e.refuse(o, field, "value match kind %q has no native form", v.Kind)
	}
	return out
}

func (e *encoder) policy(p model.Policy) policy {
	return policy{Name: p.Name, Action: string(p.Action), Routes: p.Routes, Selector: p.Selector, Listeners: p.Listeners,
		Rules: e.rules(p.Rules, p.Origin, "rules"), SpaceDelimitedClaims: p.SpaceDelimitedClaims}
}

func (e *encoder) rules(in []model.Rule, o model.Origin, field string) []rule {
	if in == nil {
		return nil
	}
	out := []rule{}
	for i, r := range in {
		nr := rule{Name: r.Name}
		if r.From != nil {
			nr.From = []from{}
		}
		for _, f := range r.From {
			nr.From = append(nr.From, from{
				RequestPrincipals: f.RequestPrincipals, NotRequestPrincipals: f.NotRequestPrincipals,
				JWT: jwtMatchTo(f.JWT), NotJWT: jwtMatchTo(f.NotJWT),
				Principals: f.Principals, NotPrincipals: f.NotPrincipals,
				Namespaces: f.Namespaces, NotNamespaces: f.NotNamespaces,
				ServiceAccounts: f.ServiceAccounts, NotServiceAccounts: f.NotServiceAccounts,
				TrustDomains: f.TrustDomains, NotTrustDomains: f.NotTrustDomains,
				IPBlocks: f.IPBlocks, NotIPBlocks: f.NotIPBlocks,
				RemoteIPBlocks: f.RemoteIPBlocks, NotRemoteIPBlocks: f.NotRemoteIPBlocks,
			})
		}
		if r.To != nil {
			nr.To = []to{}
		}
		for j, t := range r.To {
			at := fmt.Sprintf("%s[%d].to[%d]", field, i, j)
			nr.To = append(nr.To, to{Hosts: t.Hosts, NotHosts: t.NotHosts,
				Methods: e.methods(t.Methods, o, at+".methods"), NotMethods: e.methods(t.NotMethods, o, at+".notMethods"),
				Paths: t.Paths, NotPaths: t.NotPaths, Ports: t.Ports, NotPorts: t.NotPorts})
		}
		for j, c := range r.When {
			nr.When = append(nr.When, e.condition(c, o, fmt.Sprintf("%s[%d].when[%d]", field, i, j)))
		}
		out = append(out, nr)
	}
	return out
}

// methods refuses a method that is not upper case: request methods are
// upper-cased before anything looks at them, so it matches no request,
// while the decoder upper-cases what it reads, which would match.
func (e *encoder) methods(ms []string, o model.Origin, field string) []string {
	for i, m := range ms {
		if u := strings.ToUpper(m); u != m {
			e.refuse(o, fmt.Sprintf("%s[%d]", field, i), "method %q is not upper case, so it matches no request (request methods are upper-cased), "+
				"but the native format upper-cases the methods it reads and would match %s: write %s in the source, or remove it, and convert again", m, u, u)
		}
	}
	return ms
}

func jwtMatchTo(m *model.JWTMatch) *jwtMatch {
	if m == nil {
		return nil
	}
	return &jwtMatch{Iss: m.Iss, Sub: m.Sub, Claims: m.Claims}
}

// conditionKeys are the Istio condition keys of the kinds that take no
// name: what the native `key:` reads back (package conditionkey).
var conditionKeys = map[model.ConditionKind]string{
	model.CondAudience:             "request.auth.audiences",
	model.CondPresenter:            "request.auth.presenter",
	model.CondPrincipal:            "request.auth.principal",
	model.CondSourceIP:             "source.ip",
	model.CondRemoteIP:             "remote.ip",
	model.CondSourceNamespace:      "source.namespace",
	model.CondSourcePrincipal:      "source.principal",
	model.CondSourceServiceAccount: "source.serviceAccount",
	model.CondDestinationPort:      "destination.port",
}

func (e *encoder) condition(c model.Condition, o model.Origin, field string) condition {
	out := condition{Values: c.Values, NotValues: c.NotValues}
	switch key, ok := conditionKeys[c.Kind]; {
	case c.Kind == model.CondClaim:
		out.Claim = c.Name
	case c.Kind == model.CondHeader:
		out.Header = c.Name
	case c.Kind == model.CondCEL:
		out.Key, out.PayloadKey = celKey, c.Name
	case ok && c.Name == "":
		out.Key = key
	case c.Kind == model.CondIssuer:
		e.refuse(o, field, "a condition on the verified token's issuer has no native key; `claim: iss` compares the same value "+
			"unless spaceDelimitedClaims splits iss: write it so in the source and convert again")
	default:
		e.refuse(o, field, "condition kind %q (name %q) has no native form", c.Kind, c.Name)
	}
	return out
}

func (e *encoder) egressServer(s model.EgressServer) egressServer {
	out := egressServer{Name: s.Name, Listener: s.Listener, Host: s.Host, Destination: s.Destination, Port: s.Port, Timeout: ptr(s.Timeout, 0)}
	if t := s.TLS; t != nil {
		out.TLS = &originationTLS{Mode: string(t.Mode), CAFile: e.file(t.CAFile), CertFile: e.file(t.CertFile), KeyFile: e.file(t.KeyFile)}
	}
	if s.JWT != nil {
		q := e.requirement(*s.JWT, s.Origin, "jwt")
		out.JWT = &q
	}
	if a := s.Authorization; a != nil {
		out.Authorization = &serverAuthorization{Rules: e.rules(a.Rules, s.Origin, "authorization.rules")}
	}
	for _, in := range s.Inject {
		out.Inject = append(out.Inject, injection{Header: in.Header, Prefix: in.Prefix, File: e.file(in.File)})
	}
	return out
}
