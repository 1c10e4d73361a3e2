package model

import (
	"net"
	"net/textproto"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
)

// Limits on what a route may say.
const (
	// MaxBackendWeight bounds one weighted backend's weight (Gateway API's
	// bound), so that the weights of a split always add up without
	// overflowing.
	MaxBackendWeight = 1_000_000
	// MaxDirectResponseBody bounds a direct response's body.
	MaxDirectResponseBody = 64 << 10
)

// hopByHop are the headers that describe one connection, never the
// request or the response: a route may neither match on them (the
// gateway drops them, and the ones Connection names, before matching
// means anything upstream) nor change them.
var hopByHop = []string{
	"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// forwardingHeaders are set by the gateway on every forwarded request.
var forwardingHeaders = []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"}

// routeCheck checks what a route matches, where it sends requests and
// what it changes on the way; routes calls it once per route.
func (v *validator) routeCheck(a at, r Route) {
	// The shared checks of routeMatch know exact, prefix and regex
	// paths; a segment prefix is written like a prefix.
	m := r.Match
	if slices.ContainsFunc(m.Paths, func(p PathMatch) bool { return p.Kind == PathSegmentPrefix }) {
		m.Paths = slices.Clone(m.Paths)
		for i := range m.Paths {
			if m.Paths[i].Kind == PathSegmentPrefix {
				m.Paths[i].Kind = PathPrefix
			}
		}
	}
	v.routeMatch(a, m)
	var outputs map[string]string // headers set from tokens, only when needed
	if len(r.Match.HeaderMatches) > 0 || !r.RequestHeaders.Empty() {
		outputs = v.outputHeaders()
	}
	for i, c := range r.Match.HeaderMatches {
		f := index("match.headerMatches", i)
		h := textproto.CanonicalMIMEHeaderKey(c.Name)
		switch {
		case c.Name == "":
			a.errorf(f+".name", "required")
		case !validToken(c.Name):
			a.errorf(f+".name", "invalid header name %q", c.Name)
		case h == "Host":
			a.errorf(f+".name", "the host is matched by match.hosts, not as a header")
		case contains(hopByHop, h):
			a.errorf(f+".name", "header %q is hop-by-hop: the gateway removes it, a route cannot match on it", c.Name)
		case outputs[h] != "":
			a.errorf(f+".name", "header %q is set by the gateway from tokens (provider %q): a client's value is removed, so a route cannot match on it (use a policy on the claim)", c.Name, outputs[h])
		}
		valueMatch(a, f, c)
	}
	for i, c := range r.Match.Query {
		f := index("match.query", i)
		if c.Name == "" {
			a.errorf(f+".name", "required")
		}
		valueMatch(a, f, c)
	}
	v.routeTarget(a, r)
	answers := r.Redirect != nil || r.DirectResponse != nil
	if rd := r.Redirect; rd != nil {
		switch rd.Status {
		case 0, 301, 302, 303, 307, 308:
		default:
			a.errorf("redirect.status", "invalid redirect status %d (want 301, 302, 303, 307 or 308)", rd.Status)
		}
		switch rd.Scheme {
		case "", "http", "https":
		default:
			a.errorf("redirect.scheme", "invalid scheme %q (want http or https)", rd.Scheme)
		}
		if rd.Host != "" && !validHostName(rd.Host) {
			a.errorf("redirect.host", "invalid host %q (want a host name or an IP address, without a port: see redirect.port)", rd.Host)
		}
		if rd.Port < 0 || rd.Port > 65535 {
			a.errorf("redirect.port", "invalid port %d", rd.Port)
		}
		if rd.Path != nil {
			pathRewrite(a, "redirect.path", *rd.Path, r.Match)
		}
		if rd.Scheme == "" && rd.Host == "" && rd.Port == 0 && rd.Path == nil {
			a.warnf("redirect", "changes nothing: the Location is the request's own URL, and clients that follow it loop")
		}
	}
	if d := r.DirectResponse; d != nil {
		switch {
		case d.Status == 0:
			a.errorf("directResponse.status", "required")
		case d.Status < 200 || d.Status > 599:
			a.errorf("directResponse.status", "invalid status %d (want 200 to 599)", d.Status)
		case d.Body != "" && (d.Status == 204 || d.Status == 304):
			a.errorf("directResponse.body", "a %d response has no body", d.Status)
		}
		if len(d.Body) > MaxDirectResponseBody {
			a.errorf("directResponse.body", "%d bytes: at most %d", len(d.Body), MaxDirectResponseBody)
		}
	}
	if rw := r.Rewrite; rw != nil {
		switch {
		case answers:
			a.errorf("rewrite", "only for a route that forwards: this one answers with its redirect or direct response")
		case rw.Host == "" && rw.Path == nil:
			a.errorf("rewrite", "give host, path or both")
		}
		if rw.Host != "" && !validAuthority(rw.Host) {
			a.errorf("rewrite.host", "invalid host %q (want a host name or an IP address, with an optional :port)", rw.Host)
		}
		if rw.Path != nil {
			pathRewrite(a, "rewrite.path", *rw.Path, r.Match)
		}
	}
	if !r.RequestHeaders.Empty() {
		if answers {
			a.warnf("requestHeaders", "not used: the route answers with its redirect or direct response and forwards nothing")
		}
		headerOps(a, "requestHeaders", r.RequestHeaders, true, outputs)
	}
	headerOps(a, "responseHeaders", r.ResponseHeaders, false, nil)
}

// routeTarget checks where the route sends requests: its backend, its
// weighted backends, or its own answer (a redirect or a direct
// response), exactly one of them.
func (v *validator) routeTarget(a at, r Route) {
	switch {
	case r.Redirect != nil || r.DirectResponse != nil:
		what := "redirect"
		if r.Redirect == nil {
			what = "directResponse"
		} else if r.DirectResponse != nil {
			a.errorf("directResponse", "give redirect or directResponse, not both")
		}
		if r.Backend.URL != "" {
			a.errorf("backend", "not with %s: the route answers itself", what)
		}
		if len(r.Backends) > 0 {
			a.errorf("backends", "not with %s: the route answers itself", what)
		}
	case len(r.Backends) > 0:
		if r.Backend.URL != "" {
			a.warnf("backend", "not used: backends is set")
		}
		total := 0
		for i, b := range r.Backends {
			f := index("backends", i)
			// The shared backend checks name "backend.FIELD"; place them
			// under backends[i].
			n := len(v.issues)
			v.backend(a, b.Backend)
			backendProtocol(a, b.Backend)
			for j := n; j < len(v.issues); j++ {
				v.issues[j].Field = f + strings.TrimPrefix(v.issues[j].Field, "backend")
			}
			switch {
			case b.Weight < 0:
				a.errorf(f+".weight", "must not be negative, got %d", b.Weight)
			case b.Weight > MaxBackendWeight:
				a.errorf(f+".weight", "at most %d, got %d", MaxBackendWeight, b.Weight)
			default:
				total += b.Weight
			}
		}
		if total == 0 {
			a.errorf("backends", "the weights add up to 0: no backend would get a request")
		}
	default:
		v.backend(a, r.Backend)
		backendProtocol(a, r.Backend)
	}
}

// backendProtocol checks a backend's protocol (its field path is
// "backend.protocol", renamed for weighted backends like the others).
func backendProtocol(a at, b Backend) {
	switch b.Protocol {
	case "", BackendHTTP1, BackendHTTP2:
	default:
		a.errorf("backend.protocol", "invalid protocol %q (want http1 or http2; http2 is HTTP/2 over TLS for an https URL, h2c for an http one)", b.Protocol)
	}
}

// valueMatch checks a header or query condition.
func valueMatch(a at, f string, c ValueMatch) {
	switch c.Kind {
	case ValueExact:
	case ValuePrefix, ValueSuffix:
		if c.Value == "" {
			a.errorf(f+".value", "an empty %s matches every value: use kind present", c.Kind)
		}
	case ValueRegex:
		if _, err := regexp.Compile(c.Value); err != nil {
			msg := err.Error()
			if se, ok := err.(*syntax.Error); ok {
				msg = string(se.Code)
			}
			a.errorf(f+".value", "invalid regex %q: %s", c.Value, msg)
		}
	case ValuePresent:
		if c.Value != "" {
			a.errorf(f+".value", "not used with kind present")
		}
	default:
		a.errorf(f+".kind", "invalid kind %q (want exact, prefix, suffix, regex or present)", c.Kind)
	}
}

// pathRewrite checks a path replacement: exactly one of full and prefix,
// a normalized path without a query, and a prefix only where the route
// has a prefix path whose match it replaces.
func pathRewrite(a at, f string, p PathRewrite, m RouteMatch) {
	switch {
	case p.Full != "" && p.Prefix != "":
		a.errorf(f, "give full or prefix, not both")
		return
	case p.Full == "" && p.Prefix == "":
		a.errorf(f, "give full or prefix")
		return
	}
	sub, v := f+".full", p.Full
	if p.Prefix != "" {
		sub, v = f+".prefix", p.Prefix
		if !slices.ContainsFunc(m.Paths, func(p PathMatch) bool { return p.Kind == PathPrefix || p.Kind == PathSegmentPrefix }) {
			a.errorf(sub, "replaces the part of the path a prefix matched: the route needs a prefix or segmentPrefix path")
		}
	}
	switch {
	case !strings.HasPrefix(v, "/"):
		a.errorf(sub, "invalid path %q: must start with \"/\"", v)
	case strings.ContainsAny(v, "?#"):
		a.errorf(sub, "invalid path %q: a path has no query or fragment (the request's query is kept)", v)
	default:
		if _, err := NormalizePath(v); err != nil {
			a.errorf(sub, "invalid path %q: %v", v, err)
		}
	}
}

// headerOps checks header changes. Request headers may not name what the
// gateway sets itself (from tokens, X-Forwarded-*, Host: see
// rewrite.host); neither side may name hop-by-hop headers or
// Content-Length, which belong to the connection and the framing.
func headerOps(a at, f string, o HeaderOps, request bool, outputs map[string]string) {
	if o.Empty() {
		return
	}
	check := func(fn, name string) bool {
		h := textproto.CanonicalMIMEHeaderKey(name)
		switch {
		case name == "":
			a.errorf(fn, "empty header name")
		case !validToken(name):
			a.errorf(fn, "invalid header name %q", name)
		case h == "Host" && request:
			a.errorf(fn, "the Host header is changed by rewrite.host")
		case h == "Content-Length" || contains(hopByHop, h):
			a.errorf(fn, "header %q belongs to the connection or the message framing: it cannot be changed", name)
		case request && contains(forwardingHeaders, h):
			a.errorf(fn, "header %q is set by the gateway on every forwarded request", name)
		case request && outputs[h] != "":
			a.errorf(fn, "header %q is set by the gateway from tokens (provider %q): a route cannot change it", name, outputs[h])
		default:
			return true
		}
		return false
	}
	for _, kv := range []struct {
		key string
		m   map[string]string
	}{{"set", o.Set}, {"add", o.Add}} {
		seen := map[string]string{}
		for _, name := range sortedKeys(kv.m) {
			fn := fieldKey(f+"."+kv.key, name)
			if !check(fn, name) {
				continue
			}
			h := textproto.CanonicalMIMEHeaderKey(name)
			if other, dup := seen[h]; dup {
				a.errorf(fn, "header %q is also given as %q", name, other)
			}
			seen[h] = name
			if !validHeaderValue(kv.m[name]) {
				a.errorf(fn, "invalid value for header %q: control characters (such as a line break) are not allowed", name)
			}
		}
	}
	for i, name := range o.Remove {
		check(index(f+".remove", i), name)
	}
}

// outputHeaders maps the canonical name of every header a provider sets
// from tokens (claim headers, payload headers) to the first such
// provider: the headers the gateway strips from every request.
func (v *validator) outputHeaders() map[string]string {
	m := map[string]string{}
	add := func(h, p string) {
		if h = textproto.CanonicalMIMEHeaderKey(h); h != "" && m[h] == "" {
			m[h] = p
		}
	}
	for _, p := range v.c.Providers {
		for _, ch := range p.ClaimsToHeaders {
			add(ch.Header, p.Name)
		}
		add(p.PayloadHeader, p.Name)
	}
	return m
}

// validHeaderValue reports whether s may be sent as a header value: no
// control characters but horizontal tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

var hostNameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?)*\.?$`)

// validHostName reports whether h is a DNS name or an IP address (IPv6
// without brackets).
func validHostName(h string) bool {
	if strings.Contains(h, ":") {
		return isIPv6(h)
	}
	return len(h) <= 253 && hostNameRE.MatchString(h)
}

// validAuthority reports whether h is a host name or IP address with an
// optional port ("[::1]:8080" for IPv6 with a port).
func validAuthority(h string) bool {
	if validHostName(h) {
		return true
	}
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n > 0 && n <= 65535 && validHostName(host)
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// fieldKey is the field path of a map key, written as the dialects'
// documents record it: ".key" for a plain word, `["key"]` otherwise.
func fieldKey(parent, key string) string {
	if plainKey.MatchString(key) {
		return field(parent, key)
	}
	return parent + "[" + strconv.Quote(key) + "]"
}
