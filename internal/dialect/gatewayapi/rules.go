package gatewayapi

import (
	"net/textproto"
	"regexp"
	"slices"
	"strings"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// ruleOut is one rule of an HTTPRoute, translated once for every
// listener the route attaches to.
type ruleOut struct {
	index   int
	path    string // document path of the rule
	name    string // the rule's own name, if any
	matches []matchOut
	// route holds the actions and backends every match of the rule
	// shares.
	route model.Route
	// renames map model field paths below a route of the rule to the
	// document paths they came from.
	renames map[string]string
}

// matchOut is one match of a rule.
type matchOut struct {
	index   int
	path    string // document path of the match (the rule's for the default match)
	match   model.RouteMatch
	prec    precedence
	renames map[string]string
}

// precedence is what the API orders matches by, after hostnames. For an
// HTTPRoute: an Exact path, then the longest PathPrefix, then (jwtgate's
// choice, as Istio) the longest RegularExpression; then a method; then
// the most header matches; then the most query parameter matches. For a
// GRPCRoute (grpc): the longest service, the longest method, the most
// header matches.
type precedence struct {
	pathClass, pathLen    int
	method                bool
	headers, query        int
	grpc                  bool
	serviceLen, methodLen int
}

// Path classes of precedence.
const (
	classRegex  = 1
	classPrefix = 2
	classExact  = 3
)

// rules translates an HTTPRoute's rules. A rule (or a match) that cannot
// be served is left out, failing closed, with the reason on the route's
// status.
func (t *translator) rules(d *document) []*ruleOut {
	in := d.route.Spec.Rules
	defaulted := len(in) == 0
	if defaulted {
		in = []rule{{}} // the API's default: one rule matching every request
	}
	var out []*ruleOut
	for i, r := range in {
		p := strictyaml.Index("spec.rules", i)
		if defaulted {
			p = "spec"
		}
		ro := &ruleOut{index: i, path: p, name: deref(r.Name, ""), renames: map[string]string{}}
		if n := r.Retry; n.Kind != 0 && !isNullNode(&n) {
			d.NotServed(strictyaml.Field(p, "retry"), "requests are not retried by jwtgate")
		}
		if n := r.SessionPersistence; n.Kind != 0 && !isNullNode(&n) {
			d.NotServed(strictyaml.Field(p, "sessionPersistence"), "session persistence is not supported: requests are spread across backends and endpoints regardless")
		}
		ro.matches = translateMatches(d, r.Matches, p, t.match)
		if len(ro.matches) == 0 {
			continue
		}
		t.ruleActions(d, r, ro)
		out = append(out, ro)
	}
	return out
}

// translateMatches translates the matches of a rule at path p with one,
// each match's index set; no match is one that matches every request, at
// the rule's path. Matches that cannot be served are left out.
func translateMatches[M any](d *document, ms []M, p string, one func(*document, M, string) (matchOut, bool)) []matchOut {
	if len(ms) == 0 {
		var every M
		if mo, ok := one(d, every, p); ok {
			return []matchOut{mo}
		}
		return nil
	}
	var out []matchOut
	for j, m := range ms {
		if mo, ok := one(d, m, strictyaml.Index(strictyaml.Field(p, "matches"), j)); ok {
			mo.index = j
			out = append(out, mo)
		}
	}
	return out
}

// match translates one HTTPRouteMatch at path p; false (noted) when it
// cannot be served.
func (t *translator) match(d *document, m match, p string) (matchOut, bool) {
	mo := matchOut{path: p, renames: map[string]string{"match.hosts": "spec.hostnames"}}
	kind, value := "PathPrefix", "/"
	pp := strictyaml.Field(p, "path")
	if m.Path != nil {
		kind, value = deref(m.Path.Type, kind), deref(m.Path.Value, value)
	}
	mo.renames["match.paths[0]"] = pp
	switch kind {
	case "Exact":
		mo.match.Paths = []model.PathMatch{{Kind: model.PathExact, Value: value}}
		mo.prec.pathClass, mo.prec.pathLen = classExact, len(value)
	case "PathPrefix":
		// A trailing "/" is ignored: "/abc/" matches "/abc" too ("/"
		// matches every path, and ReplacePrefixMatch keeps the rest of
		// the path's leading slash).
		v := strings.TrimRight(value, "/")
		if v == "" {
			v = "/"
		}
		mo.match.Paths = []model.PathMatch{{Kind: model.PathSegmentPrefix, Value: v}}
		mo.prec.pathClass, mo.prec.pathLen = classPrefix, len(v)
	case "RegularExpression":
		if _, err := regexp.Compile(value); err != nil {
			d.Noted(model.ReasonPartiallyAccepted, strictyaml.Field(pp, "value"),
				"Accepted=False UnsupportedValue: invalid regular expression (jwtgate reads RE2 syntax, matching the whole path): %v; this match is not served", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
			return mo, false
		}
		mo.match.Paths = []model.PathMatch{{Kind: model.PathRegex, Value: value}}
		mo.prec.pathClass, mo.prec.pathLen = classRegex, len(value)
	default:
		return mo, false // reported by checkRoute
	}
	if m.Method != nil {
		mo.match.Methods = []string{*m.Method}
		mo.prec.method = true
		mo.renames["match.methods[0]"] = strictyaml.Field(p, "method")
	}
	headers, ok := t.valueMatches(d, m.Headers, strictyaml.Field(p, "headers"), "match.headerMatches", true, mo.renames)
	if !ok {
		return mo, false
	}
	query, ok := t.valueMatches(d, m.QueryParams, strictyaml.Field(p, "queryParams"), "match.query", false, mo.renames)
	if !ok {
		return mo, false
	}
	mo.match.HeaderMatches, mo.match.Query = headers, query
	mo.prec.headers, mo.prec.query = len(headers), len(query)
	return mo, true
}

// valueMatches translates header (fold: names compare case-insensitively)
// or query parameter matches at path p. Of several entries for one name
// only the first counts, as the API says.
func (t *translator) valueMatches(d *document, in []valueMatch, p, field string, fold bool, renames map[string]string) ([]model.ValueMatch, bool) {
	var out []model.ValueMatch
	seen := map[string]bool{}
	for i, v := range in {
		vp := strictyaml.Index(p, i)
		key := v.Name
		if fold {
			key = strings.ToLower(key)
		}
		if seen[key] {
			d.Warnf(strictyaml.Field(vp, "name"), "ignored: an earlier entry matches %q already (only the first entry for a name counts)", v.Name)
			continue
		}
		seen[key] = true
		if h := textproto.CanonicalMIMEHeaderKey(v.Name); fold && (h == "Host" || slices.Contains(fixedHeaders, h)) {
			d.Noted(model.ReasonPartiallyAccepted, strictyaml.Field(vp, "name"),
				"Accepted=False UnsupportedValue: jwtgate does not match header %s (the host is matched by hostnames; hop-by-hop headers are removed before routing); this match is not served", h)
			return nil, false
		}
		vm := model.ValueMatch{Name: v.Name, Kind: model.ValueExact, Value: v.Value}
		switch deref(v.Type, "Exact") {
		case "Exact":
		case "RegularExpression":
			if _, err := regexp.Compile(v.Value); err != nil {
				d.Noted(model.ReasonPartiallyAccepted, strictyaml.Field(vp, "value"),
					"Accepted=False UnsupportedValue: invalid regular expression (jwtgate reads RE2 syntax, matching the whole value): %v; this match is not served", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
				return nil, false
			}
			vm.Kind = model.ValueRegex
		default:
			return nil, false // reported by checkRoute
		}
		renames[strictyaml.Index(field, len(out))] = vp
		out = append(out, vm)
	}
	return out, true
}

// ruleActions translates a rule's filters, backends and timeouts into
// the route every match of the rule shares.
func (t *translator) ruleActions(d *document, r rule, ro *ruleOut) {
	p := ro.path
	acts := &ro.route.RouteActions
	ok := t.filters(d, r.Filters, strictyaml.Field(p, "filters"), acts, ro.renames)
	// A single backend's filters apply to every request of the rule;
	// with several backends they would apply to a share only, which the
	// model cannot say.
	for i, b := range r.BackendRefs {
		if len(b.Filters) == 0 {
			continue
		}
		fp := strictyaml.Field(strictyaml.Index(strictyaml.Field(p, "backendRefs"), i), "filters")
		if len(r.BackendRefs) > 1 {
			d.NotServed(fp, "filters of one backend among several are not supported: the rule answers 500")
			ok = false
			continue
		}
		var own model.RouteActions
		if !t.filters(d, b.Filters, fp, &own, ro.renames) {
			ok = false
			continue
		}
		if !mergeActions(acts, own) {
			d.NotServed(fp, "the backend's filters repeat a filter type of the rule's: the rule answers 500")
			ok = false
		}
	}
	if !ok {
		// A filter that cannot be applied must not be skipped: the API
		// requires a 500 answer instead.
		ro.route.RouteActions = model.RouteActions{DirectResponse: &model.DirectResponse{Status: 500}}
		ro.renames["directResponse"] = strictyaml.Field(p, "filters")
		return
	}
	if acts.Redirect != nil {
		return // a redirect has no backend
	}
	timeout, hasTimeout := t.timeout(d, r.Timeouts, strictyaml.Field(p, "timeouts"))
	t.backends(d, r.BackendRefs, p, ro, timeout, hasTimeout)
}

// mergeActions adds a single backend's actions to the rule's; false when
// both set the same one.
func mergeActions(to *model.RouteActions, from model.RouteActions) bool {
	ok := true
	if from.Redirect != nil {
		ok = ok && to.Redirect == nil
		to.Redirect = from.Redirect
	}
	if from.Rewrite != nil {
		ok = ok && to.Rewrite == nil
		to.Rewrite = from.Rewrite
	}
	if !from.RequestHeaders.Empty() {
		ok = ok && to.RequestHeaders.Empty()
		to.RequestHeaders = from.RequestHeaders
	}
	if !from.ResponseHeaders.Empty() {
		ok = ok && to.ResponseHeaders.Empty()
		to.ResponseHeaders = from.ResponseHeaders
	}
	if to.Redirect != nil && to.Rewrite != nil {
		ok = false
	}
	return ok
}

// durationRE is the API's Duration (GEP-2257): up to four parts of up to
// five digits with a unit h, m, s or ms.
var durationRE = regexp.MustCompile(`^([0-9]{1,5}(h|m|s|ms)){1,4}$`)

// noTimeout is what a zero duration ("0s", no timeout) becomes: the
// longest timeout worth saying (a hundred years).
const noTimeout = 100 * 365 * 24 * time.Hour

// timeout reads a rule's timeouts (checked by checkRoute):
// backendRequest when set, else request. The model bounds the upstream
// exchange until the response headers arrive; the status says so when a
// timeout is set.
func (t *translator) timeout(d *document, to *timeouts, p string) (time.Duration, bool) {
	if to == nil || (to.Request == nil && to.BackendRequest == nil) {
		return 0, false
	}
	s, f := to.Request, "request"
	if to.BackendRequest != nil {
		s, f = to.BackendRequest, "backendRequest"
	}
	d.NotServed(strictyaml.Field(p, f), "served as a bound on the upstream exchange until the response headers arrive (504 upstream request timeout), not on the whole response")
	v, _ := time.ParseDuration(*s)
	if v == 0 {
		return noTimeout, true
	}
	return v, true
}

// checkTimeouts checks a rule's timeouts at path p, as the API server
// does.
func (d *document) checkTimeouts(to *timeouts, p string) {
	if to == nil {
		return
	}
	parse := func(s *string, f string) (time.Duration, bool) {
		if s == nil {
			return 0, false
		}
		v, err := time.ParseDuration(*s)
		if !durationRE.MatchString(*s) || err != nil {
			d.Errorf(strictyaml.Field(p, f), "invalid duration %q (want a Gateway API duration such as 10s, 1m30s or 500ms)", *s)
			return 0, false
		}
		return v, true
	}
	req, okReq := parse(to.Request, "request")
	be, okBe := parse(to.BackendRequest, "backendRequest")
	if okReq && okBe && req != 0 && be > req {
		d.Errorf(strictyaml.Field(p, "backendRequest"), "backendRequest timeout cannot be longer than request timeout")
	}
}
