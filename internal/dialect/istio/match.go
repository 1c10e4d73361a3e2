package istio

import (
	"maps"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// uriKind says how a match matched the path, for path rewrites.
type uriKind int

const (
	uriNone   uriKind = iota // no uri: every path
	uriExact                 // exact, case-sensitive
	uriPrefix                // prefix, case-sensitive
	uriOther                 // regex or ignoreUriCase
)

// standardMethods are the request methods a method prefix or regex is evaluated
// against: jwtgate matches methods by name, so such a match serves these
// methods only.
var standardMethods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}

// claimHeader starts the header names Istio matches against the verified
// token's claims on gateways.
const claimHeader = "@request.auth.claims"

// match translates one HTTPMatchRequest at path mp ("" for a route
// without match) for a virtual host of hosts (nil: any host) on port pt
// (nil: only check what Istio would refuse, for a VirtualService that is
// not served).
// ok is false when the match never applies there (another port, gateway,
// source or authority) or asks for what jwtgate cannot match (reported):
// the route then serves fewer requests, never more. hmFrom and qFrom are
// the document paths of rm.HeaderMatches and rm.Query.
func (t *translator) match(d *document, m httpMatch, mp string, pt *port, hosts []string) (rm model.RouteMatch, kind uriKind, hmFrom, qFrom []string, ok bool) {
	f := func(k string) string { return strictyaml.Field(mp, k) }
	fail := func() (model.RouteMatch, uriKind, []string, []string, bool) { return rm, 0, nil, nil, false }
	if pt != nil {
		if m.Port != 0 && m.Port != pt.number {
			return fail() // for another port of the gateway
		}
		if len(m.Gateways) > 0 && !slices.ContainsFunc(m.Gateways, func(g string) bool { return t.isServed(d, g) }) {
			return fail() // for another gateway, or the mesh
		}
		if !model.Labels(t.s.workloadLabels()).Matches(m.SourceLabels) {
			return fail() // for other source workloads: on a gateway, the gateway's own pods
		}
		if m.SourceNamespace != "" && m.SourceNamespace != t.s.workloadNamespace() {
			return fail()
		}
	}
	rm.Hosts = hosts
	if sm := m.Scheme; sm != nil {
		scheme := "http"
		if pt != nil && pt.tls != nil {
			scheme = "https"
		}
		if on, ok := d.evaluate(*sm, f("scheme"), scheme); !ok || (!on && pt != nil) {
			return fail() // the listener's scheme is fixed
		}
	}
	if u := m.URI; u != nil {
		pm, k, ok := d.pathMatch(*u, f("uri"), m.IgnoreURICase, f("ignoreUriCase"))
		if !ok {
			return fail()
		}
		kind = k
		if pm != nil {
			rm.Paths = []model.PathMatch{*pm}
		}
	}
	if sm := m.Method; sm != nil {
		ms, ok := d.methodMatch(*sm, f("method"))
		if !ok || len(ms) == 0 {
			return fail()
		}
		rm.Methods = ms
	}
	if sm := m.Authority; sm != nil {
		if rm.Hosts, ok = t.authority(d, *sm, f("authority"), pt, rm.Hosts); !ok {
			return fail()
		}
	}
	for _, without := range []bool{false, true} {
		hs, key := m.Headers, "headers"
		if without {
			hs, key = m.WithoutHeaders, "withoutHeaders"
		}
		for _, name := range slices.Sorted(maps.Keys(hs)) {
			hp := strictyaml.Key(f(key), name)
			lower := strings.ToLower(name)
			switch {
			case lower == ":authority" || lower == "host":
				if without {
					d.NotServed(hp, "this match is not served: jwtgate cannot match the absence of a host")
					return fail()
				}
				if rm.Hosts, ok = t.authority(d, hs[name], hp, pt, rm.Hosts); !ok {
					return fail()
				}
				continue
			case strings.HasPrefix(lower, ":"):
				d.NotServed(hp, "this match is not served: jwtgate matches the pseudo-header %s by uri, method or scheme only", name)
				return fail()
			case strings.HasPrefix(lower, claimHeader):
				// Istio routes on claims once the token is verified;
				// jwtgate chooses the route before.
				d.NotServed(hp, "this match is not served: jwtgate chooses the route before the token is verified, and does not route on claims (match the claim with an AuthorizationPolicy)")
				return fail()
			case t.outputs[lower] != "":
				d.NotServed(hp, "this match is not served: RequestAuthentication %s sets header %s from the token, and jwtgate chooses the route before the token is verified", t.outputs[lower], name)
				return fail()
			}
			vm, ok := d.valueMatch(name, hs[name], hp, true)
			if !ok {
				return fail()
			}
			vm.Invert = without
			rm.HeaderMatches = append(rm.HeaderMatches, vm)
			hmFrom = append(hmFrom, hp)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(m.QueryParams)) {
		qp := strictyaml.Key(f("queryParams"), name)
		vm, ok := d.valueMatch(name, m.QueryParams[name], qp, false)
		if !ok {
			return fail()
		}
		rm.Query = append(rm.Query, vm)
		qFrom = append(qFrom, qp)
	}
	return rm, kind, hmFrom, qFrom, true
}

// oneOf checks that a StringMatch at path p sets at most one of exact,
// prefix and regex, and that a regex compiles. It returns the kind set
// ("" for none) and its value.
func (d *document) oneOf(sm stringMatch, p string) (kind, value string, ok bool) {
	n := 0
	for _, c := range []struct {
		k string
		v *string
	}{{"exact", sm.Exact}, {"prefix", sm.Prefix}, {"regex", sm.Regex}} {
		if c.v != nil {
			n++
			kind, value = c.k, *c.v
		}
	}
	if n > 1 {
		d.Errorf(p, "give one of exact, prefix and regex")
		return "", "", false
	}
	if kind == "regex" {
		if _, err := regexp.Compile(value); err != nil {
			d.Errorf(strictyaml.Field(p, "regex"), "invalid regex %q: %v", value, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
			return "", "", false
		}
	}
	return kind, value, true
}

// evaluate matches a StringMatch at path p against a value known when the
// configuration is read; an empty StringMatch matches.
func (d *document) evaluate(sm stringMatch, p, v string) (on, ok bool) {
	kind, value, ok := d.oneOf(sm, p)
	if !ok {
		return false, false
	}
	switch kind {
	case "exact":
		return v == value, true
	case "prefix":
		return strings.HasPrefix(v, value), true
	case "regex":
		return regexp.MustCompile("^(?:" + value + ")$").MatchString(v), true
	}
	return true, true
}

// pathMatch translates a uri StringMatch at path p. With ignoreUriCase,
// exact and prefix matches become case-insensitive regular expressions.
func (d *document) pathMatch(u stringMatch, p string, fold bool, foldPath string) (*model.PathMatch, uriKind, bool) {
	kind, v, ok := d.oneOf(u, p)
	if !ok {
		return nil, 0, false
	}
	switch {
	case kind == "":
		return nil, uriNone, true
	case kind == "regex":
		if fold {
			d.Warnf(foldPath, "has no effect on a regex match, as in Istio")
		}
		return &model.PathMatch{Kind: model.PathRegex, Value: v}, uriOther, true
	case !strings.HasPrefix(v, "/"):
		d.Errorf(strictyaml.Field(p, kind), "invalid path %q: must start with \"/\"", v)
		return nil, 0, false
	case fold && kind == "exact":
		return &model.PathMatch{Kind: model.PathRegex, Value: "(?i)" + regexp.QuoteMeta(v)}, uriOther, true
	case fold:
		return &model.PathMatch{Kind: model.PathRegex, Value: "(?i)" + regexp.QuoteMeta(v) + ".*"}, uriOther, true
	case kind == "exact":
		return &model.PathMatch{Kind: model.PathExact, Value: v}, uriExact, true
	}
	return &model.PathMatch{Kind: model.PathPrefix, Value: v}, uriPrefix, true
}

// methodMatch translates a method StringMatch at path p: an exact method, or
// the standard methods a prefix or regex matches (jwtgate matches
// methods by name: other methods the pattern would match are not served).
func (d *document) methodMatch(sm stringMatch, p string) ([]string, bool) {
	kind, v, ok := d.oneOf(sm, p)
	switch {
	case !ok:
		return nil, false
	case kind == "":
		return nil, true
	case kind == "exact":
		return []string{strings.ToUpper(v)}, true
	}
	var out []string
	for _, m := range standardMethods {
		if on, _ := d.evaluate(sm, p, m); on {
			out = append(out, m)
		}
	}
	d.NotServed(p, "served for the standard methods it matches only (%s)", strings.Join(out, ", "))
	return out, true
}

// authority narrows the hosts of a match (nil: any) to an exact
// authority at path p; ok is false when no host of the virtual host is
// that authority, or for a prefix or regex (not served, reported).
// Hosts compare without the port: an authority with a port applies on
// that port only.
func (t *translator) authority(d *document, sm stringMatch, p string, pt *port, hosts []string) ([]string, bool) {
	kind, v, ok := d.oneOf(sm, p)
	switch {
	case !ok:
		return nil, false
	case kind == "":
		return hosts, true
	case kind != "exact":
		d.NotServed(p, "this match is not served: jwtgate matches the authority (host) exactly or by the VirtualService's hosts, not by %s", kind)
		return nil, false
	}
	h := strings.ToLower(v)
	if pt == nil {
		return hosts, true
	}
	if host, portStr, err := net.SplitHostPort(h); err == nil {
		if portStr != strconv.Itoa(pt.number) {
			return nil, false
		}
		h = host
	}
	if !hostName(h) {
		return nil, false
	}
	if hosts == nil || slices.ContainsFunc(hosts, func(x string) bool { return hostWithin(h, x) }) {
		return []string{h}, true
	}
	return nil, false // for another virtual host
}

// valueMatch translates the StringMatch of a header (header true) or a
// query parameter at path p. An empty StringMatch, and in headers an
// empty exact or prefix value, matches presence, as in Istio.
func (d *document) valueMatch(name string, sm stringMatch, p string, header bool) (model.ValueMatch, bool) {
	kind, v, ok := d.oneOf(sm, p)
	if !ok {
		return model.ValueMatch{}, false
	}
	vm := model.ValueMatch{Name: name, Value: v}
	switch {
	case kind == "" || (header && v == "" && kind != "regex") || (kind == "prefix" && v == ""):
		vm.Kind, vm.Value = model.ValuePresent, ""
	case kind == "exact":
		vm.Kind = model.ValueExact
	case kind == "prefix":
		vm.Kind = model.ValuePrefix
	default:
		vm.Kind = model.ValueRegex
	}
	return vm, true
}

// hostWithin reports whether every host of pattern a is a host of
// pattern b: "*" holds every host, "*.x" every host ending in ".x"
// (patterns "*.y.x" included).
func hostWithin(a, b string) bool {
	a, b = strings.ToLower(a), strings.ToLower(b)
	switch {
	case a == b || b == "*":
		return true
	case strings.HasPrefix(b, "*"):
		suffix := b[1:]
		rest := strings.TrimPrefix(a, "*")
		return strings.HasSuffix(rest, suffix) && len(rest) > len(suffix)
	}
	return false
}

// intersectHost is the narrower of two host patterns when one lies
// within the other ("*.example.com" and "www.example.com" give
// "www.example.com"), or "" when they share no host.
func intersectHost(a, b string) string {
	a, b = strings.ToLower(a), strings.ToLower(b)
	switch {
	case hostWithin(a, b):
		return a
	case hostWithin(b, a):
		return b
	}
	return ""
}
