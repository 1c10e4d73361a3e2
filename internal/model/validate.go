package model

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// KnownAlgorithms are the JWS algorithms a provider may list.
var KnownAlgorithms = []string{
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA",
	"HS256", "HS384", "HS512",
}

// Validate checks the whole configuration: each resource on its own, the
// references between resources, and names that must be unique. It returns
// every problem found, errors and warnings, each located by the resource's
// Origin and a field path below it. A configuration with any error must not
// be served.
func (c *Config) Validate() Issues {
	v := &validator{c: c, cel: &CELMemo{}}
	v.listeners()
	v.providers()
	v.routes()
	v.jwtPolicies()
	v.policies()
	v.egress()
	return v.issues
}

type validator struct {
	c      *Config
	issues Issues
	cel    *CELMemo // CEL conditions compiled so far
}

// at collects issues about one resource.
type at struct {
	v        *validator
	origin   Origin
	resource string
}

func (v *validator) at(kind, name string, o Origin) at {
	r := ""
	if name != "" {
		r = kind + " " + strconv.Quote(name)
	}
	return at{v: v, origin: o, resource: r}
}

func (a at) add(sev Severity, field, format string, args ...any) {
	a.v.issues = append(a.v.issues, Issue{
		Severity: sev,
		Origin:   a.origin,
		Resource: a.resource,
		Field:    field,
		Msg:      fmt.Sprintf(format, args...),
	})
}

func (a at) errorf(field, format string, args ...any) { a.add(Error, field, format, args...) }
func (a at) warnf(field, format string, args ...any)  { a.add(Warning, field, format, args...) }

// where describes an origin for "first defined at" messages.
func where(o Origin) string {
	switch {
	case o.File != "" && o.Line > 0:
		return fmt.Sprintf("%s:%d", o.File, o.Line)
	case o.File != "":
		return o.File
	}
	return o.Path
}

func field(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

func index(parent string, i int) string { return parent + "[" + strconv.Itoa(i) + "]" }

// names checks that a resource's name is set and unique within its kind.
type names struct {
	kind  string
	first map[string]Origin
}

func (n *names) check(a at, name string, o Origin) {
	if name == "" {
		a.errorf("name", "required")
		return
	}
	if msg := badName(name); msg != "" {
		a.errorf("name", "invalid name %q: %s", name, msg)
	}
	if n.first == nil {
		n.first = map[string]Origin{}
	}
	if f, dup := n.first[name]; dup {
		a.errorf("name", "duplicate %s name %q, first defined at %s", n.kind, name, where(f))
		return
	}
	n.first[name] = o
}

// badName says what is wrong with a resource name, or returns "". Names
// appear in messages, logs and metrics: they may hold any printable
// characters, but no control characters and no leading or trailing spaces.
func badName(name string) string {
	if strings.TrimSpace(name) != name {
		return "leading or trailing white space"
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return "control character or invalid UTF-8"
		}
	}
	return ""
}

func (v *validator) listeners() {
	var seen names
	seen.kind = "listener"
	for _, l := range v.c.Listeners {
		a := v.at("listener", l.Name, l.Origin)
		seen.check(a, l.Name, l.Origin)
		if l.Address == "" {
			a.errorf("address", "required")
		} else if err := checkHostPort(l.Address); err != nil {
			a.errorf("address", "invalid address %q: %v", l.Address, err)
		}
		if t := l.TLS; t != nil {
			v.listenerTLS(a, t) // listenercheck.go
		}
		if l.Egress != nil {
			v.egressListener(a, l.Egress)
		}
	}
}

func checkHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return strip(err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("invalid port %q", port)
	}
	if host != "" && strings.ContainsAny(host, " /\\@?#") {
		return fmt.Errorf("invalid host %q", host)
	}
	return nil
}

// strip removes the "address X: " prefix net errors repeat.
func strip(err error) error {
	if ae, ok := err.(*net.AddrError); ok {
		return fmt.Errorf("%s", ae.Err)
	}
	return err
}

var tokenRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// validToken reports whether s is an HTTP token (RFC 9110), the syntax of
// header names and methods.
func validToken(s string) bool { return tokenRE.MatchString(s) }

// reservedOutputs are headers a claim or the payload may not be copied
// into: the gateway strips output headers from every incoming request, and
// these carry the request's framing, routing or forwarding data.
var reservedOutputs = []string{
	"Connection", "Content-Length", "Content-Type", "Cookie", "Forwarded", "Host", "Keep-Alive",
	"Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "Te", "Trailer",
	"Transfer-Encoding", "Upgrade", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
}

func (v *validator) routes() {
	var seen names
	seen.kind = "route"
	listeners := map[string]bool{}
	for _, l := range v.c.Listeners {
		listeners[l.Name] = true
	}
	var shadows shadowIndex
	for i, r := range v.c.Routes {
		a := v.at("route", r.Name, r.Origin)
		seen.check(a, r.Name, r.Origin)
		switch {
		case r.Listener == "" && len(v.c.Listeners) == 1:
			// Filled in by the loader; accept it here too.
		case r.Listener == "":
			a.errorf("listener", "required when there is not exactly one listener")
		case !listeners[r.Listener]:
			a.errorf("listener", "unknown listener %q", r.Listener)
		case v.isEgress(r.Listener):
			a.errorf("listener", "listener %q is an egress listener: it serves egress servers, not routes", r.Listener)
		}
		v.routeCheck(a, r) // routecheck.go: match, backends, actions
		if r.JWT != nil {
			v.requirement(a, "jwt", *r.JWT)
		}
		if j := shadows.first(r, v.c.Routes); j >= 0 {
			e := v.c.Routes[j]
			a.warnf("", "never matches: route %q (%s) comes first and matches every request this route matches", e.Name, where(e.Origin))
			// Only true if the earlier route's match is as written.
			v.issues[len(v.issues)-1].Because = e.Origin.Ref
		}
		shadows.add(i, r)
	}
}

func (v *validator) routeMatch(a at, m RouteMatch) {
	for i, h := range m.Hosts {
		switch {
		case h == "" || strings.ContainsAny(h, " /\t[]@") || (strings.Contains(h, "*") && h != "*" && (!strings.HasPrefix(h, "*.") || strings.Count(h, "*") > 1)):
			a.errorf(index("match.hosts", i), "invalid host %q (want a host name, *.suffix or *)", h)
		case strings.Contains(h, ":") && !isIPv6(h):
			// Hosts are compared without the port: this would never match.
			a.errorf(index("match.hosts", i), "invalid host %q: hosts match without the port, leave it out", h)
		}
	}
	for i, p := range m.Paths {
		f := index("match.paths", i)
		switch p.Kind {
		case PathExact, PathPrefix:
			if !strings.HasPrefix(p.Value, "/") {
				a.errorf(f, "invalid path %q: must start with \"/\"", p.Value)
			}
		case PathRegex:
			if _, err := regexp.Compile(p.Value); err != nil {
				msg := err.Error()
				if se, ok := err.(*syntax.Error); ok {
					msg = string(se.Code)
				}
				a.errorf(f, "invalid regex %q: %s", p.Value, msg)
			}
		default:
			a.errorf(f, "invalid path match kind %q", p.Kind)
		}
	}
	for i, m := range m.Methods {
		if !validToken(m) {
			a.errorf(index("match.methods", i), "invalid method %q", m)
		}
	}
	for _, k := range sortedKeys(m.Headers) {
		if !validToken(k) {
			a.errorf("match.headers", "invalid header name %q", k)
		}
	}
}

func isIPv6(h string) bool {
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.Is6()
}

func (v *validator) backend(a at, b Backend) {
	if b.URL == "" {
		a.errorf("backend.url", "required")
	} else if u, err := url.Parse(b.URL); err != nil {
		a.errorf("backend.url", "invalid URL %q", b.URL)
	} else if u.Scheme != "http" && u.Scheme != "https" {
		a.errorf("backend.url", "invalid URL %q: scheme must be http or https", b.URL)
	} else if u.Host == "" {
		a.errorf("backend.url", "invalid URL %q: missing host", b.URL)
	}
	nonNegative(a, "backend.timeout", b.Timeout)
	for i, e := range b.Endpoints {
		if host, port, err := net.SplitHostPort(e); err != nil || host == "" || checkHostPort(e) != nil || port == "0" {
			a.errorf(index("backend.endpoints", i), "invalid endpoint %q: want host:port", e)
		}
	}
	if (b.CertFile == "") != (b.KeyFile == "") {
		if b.CertFile == "" {
			a.errorf("backend.certFile", "required with keyFile")
		} else {
			a.errorf("backend.keyFile", "required with certFile")
		}
	}
}

func (v *validator) requirement(a at, f string, r JWTRequirement) {
	if len(r.Providers) == 0 {
		a.errorf(field(f, "providers"), "required")
	}
	for i, p := range r.Providers {
		if !v.hasProvider(p) {
			a.errorf(index(field(f, "providers"), i), "unknown provider %q", p)
		}
	}
	switch r.Mode {
	case "", AuthRequired, AuthAllowMissing, AuthAllowMissingOrFailed:
	default:
		a.errorf(field(f, "mode"), "invalid mode %q (want required, allowMissing or allowMissingOrFailed)", r.Mode)
	}
	switch r.Phase {
	case "", PhasePreAuthz, PhasePostAuthz:
	default:
		a.errorf(field(f, "phase"), "invalid phase %q (want preAuthz or postAuthz)", r.Phase)
	}
}

func (v *validator) hasProvider(name string) bool {
	for _, p := range v.c.Providers {
		if p.Name == name {
			return true
		}
	}
	return false
}

func (v *validator) hasRoute(name string) bool {
	for _, r := range v.c.Routes {
		if r.Name == name {
			return true
		}
	}
	return false
}

func (v *validator) isEgress(listener string) bool {
	for _, l := range v.c.Listeners {
		if l.Name == listener {
			return l.IsEgress()
		}
	}
	return false
}

func (v *validator) hasListener(name string) bool {
	for _, l := range v.c.Listeners {
		if l.Name == name {
			return true
		}
	}
	return false
}

// selects reports whether a selector matches at least one route.
func (v *validator) selects(sel map[string]string) bool {
	for _, r := range v.c.Routes {
		if r.Labels.Matches(sel) {
			return true
		}
	}
	return false
}

func (v *validator) jwtPolicies() {
	var seen names
	seen.kind = "jwtPolicy"
	for _, p := range v.c.JWTPolicies {
		a := v.at("jwtPolicy", p.Name, p.Origin)
		seen.check(a, p.Name, p.Origin)
		for i, r := range p.Routes {
			if !v.hasRoute(r) {
				a.errorf(index("routes", i), "unknown route %q", r)
			}
		}
		if p.Selector != nil && !v.selects(p.Selector) {
			a.warnf("selector", "matches no route")
		}
		v.requirement(a, "requirement", p.Requirement)
	}
	// First created wins: report the policies that lose on each route.
	for _, r := range v.c.Routes {
		eff := v.c.EffectiveJWT(r)
		if len(eff.NotApplied) == 0 {
			continue
		}
		from := "from " + eff.From
		if eff.From == "route" {
			from = "of its own"
		}
		// NotApplied lists, in order, the attaching policies after the
		// winner; walk them by index so that equal names stay apart.
		skip := r.JWT == nil
		for _, p := range v.c.JWTPolicies {
			if !p.AppliesTo(r) {
				continue
			}
			if skip {
				skip = false
				continue
			}
			a := v.at("jwtPolicy", p.Name, p.Origin)
			a.warnf("", "jwtPolicy %q not applied to route %q: route already has a JWT requirement %s", p.Name, r.Name, from)
		}
	}
}

func (v *validator) policies() {
	var seen names
	seen.kind = "policy"
	for _, p := range v.c.Policies {
		a := v.at("policy", p.Name, p.Origin)
		seen.check(a, p.Name, p.Origin)
		v.issues = append(v.issues, CheckPolicy(p, v.cel)...)
		for i, r := range p.Routes {
			if !v.hasRoute(r) {
				a.errorf(index("routes", i), "unknown route %q", r)
			}
		}
		for i, l := range p.Listeners {
			if !v.hasListener(l) {
				a.errorf(index("listeners", i), "unknown listener %q", l)
			}
		}
		if p.Selector != nil && !v.selects(p.Selector) {
			a.warnf("selector", "matches no route")
		}
	}
}

func lookupFold(m map[string]string, k string) (string, bool) {
	for mk, v := range m {
		if strings.EqualFold(mk, k) {
			return v, true
		}
	}
	return "", false
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
