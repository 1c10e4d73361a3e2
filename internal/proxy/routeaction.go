package proxy

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"slices"
	"strconv"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
)

// actions are a route's compiled model.RouteActions: what it does instead
// of forwarding (redirect, direct), and what it changes when it forwards
// (requestHeaders and path in the pipeline, host and responseHeaders in
// the backends' ReverseProxy). A route that only forwards as is has none
// (route.actions is nil), so its requests pay nothing for them.
type actions struct {
	redirect *redirect
	direct   *directResponse
	// host replaces the Host header the upstream receives (Rewrite.Host);
	// path the path (Rewrite.Path).
	host string
	path *pathRewrite
	// reqHeaders change the request after the outputs are added;
	// respHeaders the response: the upstream's, or the route's own
	// redirect or direct response.
	reqHeaders  *headerOps
	respHeaders *headerOps
}

// directResponse is a fixed answer, text/plain.
type directResponse struct {
	status int
	body   string
}

// apply runs in the pipeline once the request is authenticated,
// authorized and has its outputs: a redirect or a direct response ends
// the request with its outcome; otherwise the request's headers are
// changed and the path to forward is returned, rewritten or not.
func (a *actions) apply(rt *route, r *http.Request, path string) (string, outcome) {
	switch {
	case a.redirect != nil:
		return path, outcome{status: a.redirect.status, location: a.redirect.location(rt, r, path), reason: "redirect", edit: a.respHeaders}
	case a.direct != nil:
		return path, outcome{status: a.direct.status, body: a.direct.body, reason: "direct response", edit: a.respHeaders}
	}
	if a.reqHeaders != nil {
		a.reqHeaders.apply(r.Header)
	}
	if a.path != nil {
		path = a.path.apply(rt, path)
	}
	return path, outcome{}
}

// hook makes a backend's ReverseProxy apply the route's host rewrite
// (after SetXForwarded, so that X-Forwarded-Host stays the client's
// Host) and its response header changes. Each route has backends of its
// own (they only share transports), so the hooks stay with the route.
func (a *actions) hook(be *backend) {
	if be == nil {
		return
	}
	if host := a.host; host != "" {
		rewrite := be.proxy.Rewrite
		be.proxy.Rewrite = func(pr *httputil.ProxyRequest) {
			rewrite(pr)
			pr.Out.Host = host
		}
	}
	if ops := a.respHeaders; ops != nil {
		be.proxy.ModifyResponse = func(res *http.Response) error {
			ops.apply(res.Header)
			return nil
		}
	}
}

// headerOps are compiled model.HeaderOps: canonical names, in a fixed
// order.
type headerOps struct {
	remove []string
	set    []headerValue
	add    []headerValue
}

type headerValue struct{ name, value string }

// apply removes, then sets (replacing every value), then adds (one more
// value). It allocates the values it sets, never sharing them between
// requests.
func (o *headerOps) apply(h http.Header) {
	for _, name := range o.remove {
		delete(h, name)
	}
	for _, kv := range o.set {
		h[kv.name] = []string{kv.value}
	}
	for _, kv := range o.add {
		h[kv.name] = append(h[kv.name], kv.value)
	}
}

// names describes the changes for Explain, by header name only: values
// may be credentials.
func (o *headerOps) names() string {
	var parts []string
	for _, x := range []struct {
		verb string
		kvs  []headerValue
	}{{"set", o.set}, {"add", o.add}} {
		if len(x.kvs) == 0 {
			continue
		}
		ns := make([]string, len(x.kvs))
		for i, kv := range x.kvs {
			ns[i] = kv.name
		}
		parts = append(parts, x.verb+" "+strings.Join(ns, ","))
	}
	if len(o.remove) > 0 {
		parts = append(parts, "remove "+strings.Join(o.remove, ","))
	}
	return strings.Join(parts, ", ")
}

// pathRewrite is a compiled model.PathRewrite: full replaces the path,
// prefix the part of it the route's first matching prefix or segment
// prefix path matched. Both are normalized paths.
type pathRewrite struct {
	full   string
	prefix string
}

// apply returns the rewritten path. With prefix, a request the route
// took through another of its paths (an exact one, a regex) keeps its
// path.
func (p *pathRewrite) apply(rt *route, path string) string {
	if p.full != "" {
		return p.full
	}
	for i := range rt.paths {
		m := &rt.paths[i]
		if (m.kind == model.PathPrefix || m.kind == model.PathSegmentPrefix) && m.match(path) {
			return replacePrefix(m, path, p.prefix)
		}
	}
	return path
}

// replacePrefix replaces the part of path that m matched with repl.
//
// For a segment prefix it is Gateway API's ReplacePrefixMatch: whole
// segments are replaced and the rest keeps its leading slash, so "/foo"
// replaced by "/bar" turns "/foo/x" into "/bar/x", by "/" into "/x", and
// "/foo" itself into "/bar" (or "/"). For a plain prefix it is Envoy's
// prefix_rewrite: the matched characters are replaced as they are
// ("/foo" by "/bar" turns "/foobar" into "/barbar"), without doubling a
// slash where the replacement ends in one and the rest starts with one.
// The result is normalized again, so the upstream never receives a dot
// segment that the concatenation made ("/foo" by "/bar/" on "/foo.."),
// only the path it stands for.
func replacePrefix(m *pathMatcher, path, repl string) string {
	rest := path[len(m.value):]
	var out string
	if m.kind == model.PathSegmentPrefix {
		if m.value == "/" {
			rest = path
		}
		out = strings.TrimSuffix(repl, "/") + rest
	} else {
		if strings.HasSuffix(repl, "/") && strings.HasPrefix(rest, "/") {
			rest = rest[1:]
		}
		out = repl + rest
	}
	if out == "" {
		return "/"
	}
	if n, err := model.NormalizePath(out); err == nil {
		return n
	}
	return out
}

// compilePathRewrite normalizes the replacement; an error is reported at
// field.
func compilePathRewrite(p model.PathRewrite, field string, errf func(field, format string, args ...any)) *pathRewrite {
	v, sub := p.Full, ".full"
	if v == "" {
		v, sub = p.Prefix, ".prefix"
	}
	if v == "" || strings.ContainsAny(v, "?#") {
		errf(field+sub, "invalid path %q", v)
		return nil
	}
	n, err := model.NormalizePath(v)
	if err != nil {
		errf(field+sub, "invalid path %q: %v", v, err)
		return nil
	}
	if p.Full != "" {
		return &pathRewrite{full: n}
	}
	return &pathRewrite{prefix: n}
}

// split spreads a route's requests across its backends by weight.
type split struct {
	backends []*backend // nil where the backend did not compile
	weights  []int
	// cum are the running totals of the weights: backend i gets the
	// draws in [cum[i-1], cum[i]), none when its weight is 0.
	cum   []uint64
	total uint64
}

// pick chooses a backend at random, each in proportion to its weight
// (math/rand/v2's generator: per-thread, lock-free, no allocation). It
// returns nil when every weight is 0.
func (s *split) pick() *backend {
	if s.total == 0 {
		return nil
	}
	n := rand.Uint64N(s.total)
	for i, c := range s.cum {
		if n < c {
			return s.backends[i]
		}
	}
	return nil
}

// compileActions compiles what the model adds to a plain route: header
// and query conditions, weighted backends, redirects, direct responses,
// rewrites and header changes. The route's single backend, if it has
// one, is compiled already.
func (b *builder) compileActions(mr model.Route, r *route, errf func(field, format string, args ...any)) {
	for j, c := range mr.Match.HeaderMatches {
		if m, ok := compileCondition(c, true, fmt.Sprintf("match.headerMatches[%d]", j), errf); ok {
			r.headerMatches = append(r.headerMatches, m)
		}
	}
	for j, c := range mr.Match.Query {
		if m, ok := compileCondition(c, false, fmt.Sprintf("match.query[%d]", j), errf); ok {
			r.query = append(r.query, m)
		}
	}
	answers := mr.Redirect != nil || mr.DirectResponse != nil
	if len(mr.Backends) > 0 && !answers {
		s := &split{}
		for j, wb := range mr.Backends {
			s.backends = append(s.backends, b.backend(wb.Backend, fmt.Sprintf("backends[%d]", j), errf))
			w := min(max(wb.Weight, 0), model.MaxBackendWeight) // validation refuses the others
			s.weights = append(s.weights, w)
			s.total += uint64(w)
			s.cum = append(s.cum, s.total)
		}
		r.split = s
	}

	a := &actions{}
	switch {
	case mr.Redirect != nil:
		a.redirect = b.compileRedirect(mr, errf)
	case mr.DirectResponse != nil:
		d := mr.DirectResponse
		if d.Status < 200 || d.Status > 599 {
			errf("directResponse.status", "invalid status %d", d.Status)
		}
		a.direct = &directResponse{status: d.Status, body: d.Body}
	default:
		if rw := mr.Rewrite; rw != nil {
			a.host = rw.Host
			if rw.Path != nil {
				a.path = compilePathRewrite(*rw.Path, "rewrite.path", errf)
			}
		}
		if !mr.RequestHeaders.Empty() {
			a.reqHeaders = b.compileHeaderOps(mr.RequestHeaders, "requestHeaders", true, errf)
		}
	}
	if !mr.ResponseHeaders.Empty() {
		a.respHeaders = b.compileHeaderOps(mr.ResponseHeaders, "responseHeaders", false, errf)
	}
	if *a == (actions{}) {
		return
	}
	r.actions = a
	if a.host != "" || a.respHeaders != nil {
		a.hook(r.backend)
		if r.split != nil {
			for _, be := range r.split.backends {
				a.hook(be)
			}
		}
	}
}

// compileCondition compiles a header or query condition; an error is
// reported at field.
func compileCondition(c model.ValueMatch, header bool, field string, errf func(field, format string, args ...any)) (valueMatcher, bool) {
	m, err := compileValueMatch(c, header)
	if err != nil {
		sub := ".kind"
		if c.Kind == model.ValueRegex {
			sub = ".value"
		}
		errf(field+sub, "%v", err)
		return m, false
	}
	return m, true
}

// compileHeaderOps compiles header changes. Request headers that the
// gateway sets from tokens are refused here too (validation says which
// and where): a route must never override them.
func (b *builder) compileHeaderOps(o model.HeaderOps, field string, request bool, errf func(field, format string, args ...any)) *headerOps {
	ops := &headerOps{}
	for _, name := range o.Remove {
		ops.remove = append(ops.remove, http.CanonicalHeaderKey(name))
	}
	for _, name := range slices.Sorted(maps.Keys(o.Set)) {
		ops.set = append(ops.set, headerValue{http.CanonicalHeaderKey(name), o.Set[name]})
	}
	for _, name := range slices.Sorted(maps.Keys(o.Add)) {
		ops.add = append(ops.add, headerValue{http.CanonicalHeaderKey(name), o.Add[name]})
	}
	if request {
		named := slices.Clone(ops.remove)
		for _, kv := range append(slices.Clone(ops.set), ops.add...) {
			named = append(named, kv.name)
		}
		for _, h := range named {
			if slices.Contains(b.rt.strip, h) || h == "Host" {
				errf(field, "header %q cannot be changed by a route", h)
			}
		}
	}
	return ops
}

// describeTarget is where the route sends requests, for Explain: its
// backend or weighted backends, or its redirect or direct response,
// followed by its rewrite and header changes (names only).
func describeTarget(mr model.Route, r *route) string {
	var s string
	switch {
	case mr.Redirect != nil:
		s = describeRedirect(mr.Redirect)
	case mr.DirectResponse != nil:
		s = "direct response " + strconv.Itoa(mr.DirectResponse.Status)
		if n := len(mr.DirectResponse.Body); n > 0 {
			s += fmt.Sprintf(" (%d-byte body)", n)
		}
	case r.split != nil:
		parts := make([]string, len(mr.Backends))
		for i, wb := range mr.Backends {
			parts[i] = describeBackend(r.split.backends[i], wb.Backend) + " weight " + strconv.Itoa(r.split.weights[i])
		}
		s = "split: " + strings.Join(parts, ", ")
	default:
		s = describeBackend(r.backend, mr.Backend)
	}
	a := r.actions
	if a == nil {
		return s
	}
	var rw []string
	if a.host != "" {
		rw = append(rw, "host="+a.host)
	}
	if p := a.path; p != nil {
		if p.full != "" {
			rw = append(rw, "path=full:"+p.full)
		} else {
			rw = append(rw, "path=prefix:"+p.prefix)
		}
	}
	if len(rw) > 0 {
		s += "; rewrite " + strings.Join(rw, " ")
	}
	if a.reqHeaders != nil {
		s += "; request headers: " + a.reqHeaders.names()
	}
	if a.respHeaders != nil {
		s += "; response headers: " + a.respHeaders.names()
	}
	return s
}
