package gatewayapi

import (
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// A GRPCRoute attaches to listeners as an HTTPRoute does (attach.go) and
// shares its filters, backends and statuses; what differs is its matches
// (a gRPC service and method, which are the request path
// "/SERVICE/METHOD", and headers), its precedence, and its backends,
// spoken to in HTTP/2. An HTTP listener serving a GRPCRoute also serves
// cleartext HTTP/2 with prior knowledge (model.Listener.H2C).

// grpcRouteSpec is the spec of a GRPCRoute.
type grpcRouteSpec struct {
	routeCommon `yaml:",inline"`
	Rules       []grpcRule `yaml:"rules"`
}

// grpcRule is one of a GRPCRoute's rules.
type grpcRule struct {
	Name               *string          `yaml:"name"`
	Matches            []grpcMatch      `yaml:"matches"`
	Filters            []grpcFilter     `yaml:"filters"`
	BackendRefs        []grpcBackendRef `yaml:"backendRefs"`
	SessionPersistence yaml.Node        `yaml:"sessionPersistence"`
}

// grpcMatch is a GRPCRouteMatch.
type grpcMatch struct {
	Method  *grpcMethodMatch `yaml:"method"`
	Headers []valueMatch     `yaml:"headers"`
}

// grpcMethodMatch is a GRPCMethodMatch.
type grpcMethodMatch struct {
	Type    *string `yaml:"type"`
	Service *string `yaml:"service"`
	Method  *string `yaml:"method"`
}

// grpcFilter is a GRPCRouteFilter: the filter types a GRPCRoute takes.
type grpcFilter struct {
	Type                   string          `yaml:"type"`
	RequestHeaderModifier  *headerModifier `yaml:"requestHeaderModifier"`
	ResponseHeaderModifier *headerModifier `yaml:"responseHeaderModifier"`
	RequestMirror          yaml.Node       `yaml:"requestMirror"`
	ExtensionRef           yaml.Node       `yaml:"extensionRef"`
}

// grpcBackendRef is a GRPCBackendRef.
type grpcBackendRef struct {
	objectRef `yaml:",inline"`
	Port      *int         `yaml:"port"`
	Weight    *int         `yaml:"weight"`
	Filters   []grpcFilter `yaml:"filters"`
}

// grpcFilterTypes are the filter types a GRPCRoute may name.
var grpcFilterTypes = []string{filterRequestHeaders, filterResponseHeaders, filterMirror, filterExtension}

var (
	// grpcServiceRE and grpcMethodRE are what an Exact service and
	// method may be.
	grpcServiceRE = regexp.MustCompile(`^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$`)
	grpcMethodRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z_0-9]*$`)
)

// asRule is the rule as an HTTPRoute rule without matches, so that the
// filters, backends and their checks are shared; the filters' types are
// checked by checkGRPCRoute.
func (r grpcRule) asRule() rule {
	out := rule{Name: r.Name, Filters: asFilters(r.Filters)}
	for _, b := range r.BackendRefs {
		out.BackendRefs = append(out.BackendRefs, backendRef{objectRef: b.objectRef, Port: b.Port, Weight: b.Weight, Filters: asFilters(b.Filters)})
	}
	return out
}

func asFilters(fs []grpcFilter) []filter {
	var out []filter
	for _, f := range fs {
		out = append(out, filter{Type: f.Type, RequestHeaderModifier: f.RequestHeaderModifier, ResponseHeaderModifier: f.ResponseHeaderModifier})
	}
	return out
}

// checkGRPCRoute checks a GRPCRoute on its own, as the API server does.
func (d *document) checkGRPCRoute() {
	sp := d.grpc.Spec
	d.checkCommon(&sp.routeCommon)
	shapes := make([]ruleShape, len(sp.Rules))
	for i, r := range sp.Rules {
		shapes[i] = ruleShape{r.Name, len(r.Matches)}
	}
	d.checkRules(shapes, 8, func(i int, p string) {
		r := sp.Rules[i]
		for j, m := range r.Matches {
			d.checkGRPCMatch(m, strictyaml.Index(strictyaml.Field(p, "matches"), j))
		}
		hr := r.asRule()
		if d.checkGRPCFilterTypes(r.Filters, strictyaml.Field(p, "filters")) {
			d.checkFilters(hr.Filters, hr, strictyaml.Field(p, "filters"))
		}
		for j, b := range r.BackendRefs {
			d.checkGRPCFilterTypes(b.Filters, strictyaml.Field(strictyaml.Index(strictyaml.Field(p, "backendRefs"), j), "filters"))
		}
		d.checkBackendRefs(hr, p)
	})
}

// checkGRPCFilterTypes refuses filter types a GRPCRoute does not have;
// true when there are none (the other checks of the filters apply).
func (d *document) checkGRPCFilterTypes(fs []grpcFilter, p string) bool {
	ok := true
	for i, f := range fs {
		if f.Type != "" && !slices.Contains(grpcFilterTypes, f.Type) {
			d.Errorf(strictyaml.Field(strictyaml.Index(p, i), "type"), "invalid type %q (want %s)", f.Type, strings.Join(grpcFilterTypes, ", "))
			ok = false
		}
	}
	return ok
}

// checkGRPCMatch checks one GRPCRouteMatch at path p.
func (d *document) checkGRPCMatch(m grpcMatch, p string) {
	if mm := m.Method; mm != nil {
		mp := strictyaml.Field(p, "method")
		typ := deref(mm.Type, "Exact")
		switch typ {
		case "Exact", "RegularExpression":
		default:
			d.Errorf(strictyaml.Field(mp, "type"), "invalid type %q (want Exact or RegularExpression)", typ)
		}
		if mm.Service == nil && mm.Method == nil {
			d.Errorf(mp, "One or both of 'service' or 'method' must be specified")
		}
		for _, part := range []struct {
			key string
			v   *string
			re  *regexp.Regexp
		}{{"service", mm.Service, grpcServiceRE}, {"method", mm.Method, grpcMethodRE}} {
			switch {
			case part.v == nil:
			case len(*part.v) > 1024:
				d.Errorf(strictyaml.Field(mp, part.key), "longer than 1024 characters")
			case typ == "Exact" && !part.re.MatchString(*part.v):
				d.Errorf(strictyaml.Field(mp, part.key), "%s must only contain valid characters (matching %s)", part.key, part.re)
			}
		}
	}
	hp := strictyaml.Field(p, "headers")
	if len(m.Headers) > 16 {
		d.Errorf(hp, "at most 16 entries, got %d", len(m.Headers))
	}
	for i, v := range m.Headers {
		vp := strictyaml.Index(hp, i)
		switch {
		case v.Name == "":
			d.required(vp, "name", false)
		case !headerNameRE.MatchString(v.Name) || len(v.Name) > 256:
			d.Errorf(strictyaml.Field(vp, "name"), "invalid name %q: want an HTTP token (RFC 7230)", v.Name)
		}
		switch {
		case v.Value == "":
			d.required(vp, "value", false)
		case len(v.Value) > 4096:
			d.Errorf(strictyaml.Field(vp, "value"), "longer than 4096 characters")
		}
		if t := deref(v.Type, "Exact"); t != "Exact" && t != "RegularExpression" {
			d.Errorf(strictyaml.Field(vp, "type"), "invalid type %q (want Exact or RegularExpression)", t)
		}
	}
}

// grpcRules translates a GRPCRoute's rules, as rules does an HTTPRoute's.
func (t *translator) grpcRules(d *document) []*ruleOut {
	in := d.grpc.Spec.Rules
	defaulted := len(in) == 0
	if defaulted {
		in = []grpcRule{{}} // one rule matching every request
	}
	var out []*ruleOut
	for i, r := range in {
		p := strictyaml.Index("spec.rules", i)
		if defaulted {
			p = "spec"
		}
		ro := &ruleOut{index: i, path: p, name: deref(r.Name, ""), renames: map[string]string{}}
		if n := r.SessionPersistence; n.Kind != 0 && !isNullNode(&n) {
			d.NotServed(strictyaml.Field(p, "sessionPersistence"), "session persistence is not supported: requests are spread across backends and endpoints regardless")
		}
		ro.matches = translateMatches(d, r.Matches, p, t.grpcMatch)
		if len(ro.matches) == 0 {
			continue
		}
		t.ruleActions(d, r.asRule(), ro)
		out = append(out, ro)
	}
	return out
}

// grpcMatch translates one GRPCRouteMatch at path p into a match on the
// request path, "/SERVICE/METHOD" (as Envoy Gateway does): an Exact
// service and method, that exact path; a service alone, the prefix
// "/SERVICE/"; a method alone, the regular expression "/[^/]+/METHOD".
// RegularExpression matches are RE2 expressions, each matching its whole
// part of the path. No method matches every request. false (noted) when
// it cannot be served.
func (t *translator) grpcMatch(d *document, m grpcMatch, p string) (matchOut, bool) {
	mo := matchOut{path: p, renames: map[string]string{"match.hosts": "spec.hostnames"}, prec: precedence{grpc: true}}
	mo.match.Paths = []model.PathMatch{{Kind: model.PathSegmentPrefix, Value: "/"}}
	if mm := m.Method; mm != nil {
		mp := strictyaml.Field(p, "method")
		mo.renames["match.paths[0]"] = mp
		service, method := deref(mm.Service, ""), deref(mm.Method, "")
		mo.prec.serviceLen, mo.prec.methodLen = len(service), len(method)
		switch deref(mm.Type, "Exact") {
		case "Exact":
			switch {
			case service != "" && method != "":
				mo.match.Paths[0] = model.PathMatch{Kind: model.PathExact, Value: "/" + service + "/" + method}
			case service != "":
				mo.match.Paths[0] = model.PathMatch{Kind: model.PathPrefix, Value: "/" + service + "/"}
			case method != "":
				mo.match.Paths[0] = model.PathMatch{Kind: model.PathRegex, Value: "/[^/]+/" + regexp.QuoteMeta(method)}
			}
		case "RegularExpression":
			expr := "/" + grpcPart(service) + "/" + grpcPart(method)
			for _, part := range []struct{ key, v string }{{"service", service}, {"method", method}} {
				if _, err := regexp.Compile(part.v); err != nil {
					d.Noted(model.ReasonPartiallyAccepted, strictyaml.Field(mp, part.key),
						"Accepted=False UnsupportedValue: invalid regular expression (jwtgate reads RE2 syntax, matching the whole %s): %v; this match is not served", part.key, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
					return mo, false
				}
			}
			mo.match.Paths[0] = model.PathMatch{Kind: model.PathRegex, Value: expr}
		default:
			return mo, false // reported by checkGRPCRoute
		}
	}
	headers, ok := t.valueMatches(d, m.Headers, strictyaml.Field(p, "headers"), "match.headerMatches", true, mo.renames)
	if !ok {
		return mo, false
	}
	mo.match.HeaderMatches = headers
	mo.prec.headers = len(headers)
	return mo, true
}

// grpcPart is a RegularExpression service or method as part of the path
// expression: grouped, so that an alternation stays within its part; any
// name for an empty one.
func grpcPart(v string) string {
	if v == "" {
		return "[^/]+"
	}
	return "(?:" + v + ")"
}

// routeOn is a route attached to a listener, with the hostnames it
// serves there.
type routeOn struct {
	doc   *document
	hosts []hostPair
}

// routeOn is the route d as attached by a.
func (a attachment) routeOn(d *document) routeOn { return routeOn{doc: d, hosts: a.hosts} }

// resolveKindConflicts applies the API's rule for an HTTPRoute and a
// GRPCRoute attached to one listener with hostnames in common: exactly
// one of them is served there, the older one (creationTimestamp; routes
// without one after those with), then the first by "namespace/name" (an
// HTTPRoute before a GRPCRoute of the same name). The other's routes on
// that listener are dropped, and its status says why: Conflicted when it
// is then served nowhere, PartiallyAccepted otherwise.
func (t *translator) resolveKindConflicts() {
	lost := map[*document]bool{}
	for _, gl := range t.gwListeners {
		ons := slices.Clone(gl.attached)
		slices.SortStableFunc(ons, func(a, b routeOn) int { return compareRouteAge(a.doc, b.doc) })
		var kept []routeOn
		for _, on := range ons {
			i := slices.IndexFunc(kept, func(k routeOn) bool {
				return (k.doc.grpc != nil) != (on.doc.grpc != nil) && hostsMeet(k.hosts, on.hosts)
			})
			if i < 0 {
				kept = append(kept, on)
				continue
			}
			w := kept[i].doc
			gl.routes = slices.DeleteFunc(gl.routes, func(c *candidate) bool { return c.doc == on.doc })
			lost[on.doc] = true
			on.doc.Warnf("spec.hostnames", "not served on listener %q: %s %s attaches to it with hostnames in common, and is older (or first by namespace/name); the API lets one of the two serve them", gl.spec.Name, w.kind, nsName(w.Ref))
		}
	}
	for d := range lost {
		reason := model.ReasonConflicted
		for _, gl := range t.gwListeners {
			if slices.ContainsFunc(gl.routes, func(c *candidate) bool { return c.doc == d }) {
				reason = model.ReasonPartiallyAccepted
				break
			}
		}
		d.Note(reason, "Accepted=False on one or more listeners: %s of older precedence serves hostnames in common there (see the warnings)", otherKind(d))
	}
}

// otherKind is the route kind d conflicts with, with its article.
func otherKind(d *document) string {
	if d.grpc != nil {
		return "an " + KindHTTPRoute
	}
	return "a " + KindGRPCRoute
}

// compareRouteAge orders routes by creationTimestamp (routes without one
// after those with), then "namespace/name", then kind (HTTPRoute first).
func compareRouteAge(a, b *document) int {
	ta, tb := a.created, b.created
	switch {
	case ta.IsZero() != tb.IsZero():
		if ta.IsZero() {
			return 1
		}
		return -1
	case !ta.Equal(tb):
		return ta.Compare(tb)
	}
	if c := strings.Compare(nsName(a.Ref), nsName(b.Ref)); c != 0 {
		return c
	}
	return strings.Compare(b.kind, a.kind) // "HTTPRoute" before "GRPCRoute"
}

// hostsMeet reports whether two sets of served hostnames on one listener
// share a request hostname ("" for any).
func hostsMeet(a, b []hostPair) bool {
	for _, x := range a {
		for _, y := range b {
			if _, ok := intersect(x.host, y.host); ok {
				return true
			}
		}
	}
	return false
}

// servesGRPC reports whether a GRPCRoute has routes on a listener of g.
func servesGRPC(g *portGroup) bool {
	for _, gl := range g.listeners {
		if slices.ContainsFunc(gl.routes, func(c *candidate) bool { return c.doc.grpc != nil }) {
			return true
		}
	}
	return false
}
