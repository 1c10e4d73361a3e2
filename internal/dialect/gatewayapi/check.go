package gatewayapi

import (
	"maps"
	"regexp"
	"slices"
	"strings"

	"jwtgate.dev/jwtgate/internal/strictyaml"
)

var (
	// headerNameRE is the API's HTTPHeaderName (also a query parameter's
	// name): an RFC 7230 token.
	headerNameRE = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+\\-.^_`|~]+$")
	// pathValueRE is the characters an Exact or PathPrefix value may hold.
	pathValueRE = regexp.MustCompile(`^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$`)
	// methods are the API's HTTPMethod values.
	methods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)

// checkRoute checks an HTTPRoute on its own, as the API server does:
// what it would refuse is an error, and the configuration is not served.
func (d *document) checkRoute() {
	sp := d.route.Spec
	d.checkCommon(&sp.routeCommon)
	shapes := make([]ruleShape, len(sp.Rules))
	for i, r := range sp.Rules {
		shapes[i] = ruleShape{r.Name, len(r.Matches)}
	}
	d.checkRules(shapes, 64, func(i int, p string) {
		r := sp.Rules[i]
		for j, m := range r.Matches {
			d.checkMatch(m, strictyaml.Index(strictyaml.Field(p, "matches"), j))
		}
		d.checkFilters(r.Filters, r, strictyaml.Field(p, "filters"))
		d.checkTimeouts(r.Timeouts, strictyaml.Field(p, "timeouts"))
		d.checkBackendRefs(r, p)
		for _, f := range r.Filters {
			if f.Type == filterRedirect && len(r.BackendRefs) > 0 {
				d.Errorf(strictyaml.Field(p, "filters"), "RequestRedirect filter must not be used together with backendRefs")
				break
			}
		}
	})
}

// ruleShape is what the API's limits look at in a rule of an HTTPRoute
// or a GRPCRoute: its name and how many matches it has.
type ruleShape struct {
	name    *string
	matches int
}

// checkRules checks the limits HTTPRoute and GRPCRoute rules share (at
// most 16 rules, unique names, at most maxMatches matches in a rule and
// 128 in all), and runs each rule's own checks, with the rule's path.
func (d *document) checkRules(rules []ruleShape, maxMatches int, each func(i int, p string)) {
	if len(rules) > 16 {
		d.Errorf("spec.rules", "at most 16 rules, got %d", len(rules))
	}
	names := map[string]bool{}
	total := 0
	for i, r := range rules {
		p := strictyaml.Index("spec.rules", i)
		d.checkRuleName(r.name, p, names)
		total += r.matches
		if r.matches > maxMatches {
			d.Errorf(strictyaml.Field(p, "matches"), "at most %d matches, got %d", maxMatches, r.matches)
		}
		each(i, p)
	}
	if total > 128 {
		d.Errorf("spec.rules", "at most 128 matches across all rules, got %d", total)
	}
}

// checkCommon checks the parentRefs and hostnames of an HTTPRoute or a
// GRPCRoute.
func (d *document) checkCommon(sp *routeCommon) {
	if len(sp.ParentRefs) > 32 {
		d.Errorf("spec.parentRefs", "at most 32 entries, got %d", len(sp.ParentRefs))
	}
	for i, pr := range sp.ParentRefs {
		p := strictyaml.Index("spec.parentRefs", i)
		d.required(p, "name", pr.Name != "")
		if s := pr.SectionName; s != nil && !sectionNameRE.MatchString(*s) {
			d.Errorf(strictyaml.Field(p, "sectionName"), "invalid sectionName %q: want a lower-case DNS subdomain (RFC 1123)", *s)
		}
		if pt := pr.Port; pt != nil && (*pt < 1 || *pt > 65535) {
			d.Errorf(strictyaml.Field(p, "port"), "invalid port %d: want 1 to 65535", *pt)
		}
	}
	if len(sp.Hostnames) > 16 {
		d.Errorf("spec.hostnames", "at most 16 entries, got %d", len(sp.Hostnames))
	}
	for i, h := range sp.Hostnames {
		if msg := checkHostname(h); msg != "" {
			d.Errorf(strictyaml.Index("spec.hostnames", i), "invalid hostname %q: %s", h, msg)
		}
	}
}

// checkRuleName checks the name of the rule at path p, unique among the
// route's names.
func (d *document) checkRuleName(n *string, p string, names map[string]bool) {
	if n == nil {
		return
	}
	switch {
	case !sectionNameRE.MatchString(*n):
		d.Errorf(strictyaml.Field(p, "name"), "invalid rule name %q: want a lower-case DNS subdomain (RFC 1123)", *n)
	case names[*n]:
		d.Errorf(strictyaml.Field(p, "name"), "rule name %q is used already: names must be unique within the route", *n)
	}
	names[*n] = true
}

// checkBackendRefs checks the backendRefs of rule r at path p (a
// GRPCRoute's rule, converted, too).
func (d *document) checkBackendRefs(r rule, p string) {
	if len(r.BackendRefs) > 16 {
		d.Errorf(strictyaml.Field(p, "backendRefs"), "at most 16 entries, got %d", len(r.BackendRefs))
	}
	for j, b := range r.BackendRefs {
		bp := strictyaml.Index(strictyaml.Field(p, "backendRefs"), j)
		d.required(bp, "name", b.Name != "")
		if deref(b.Group, "") == "" && deref(b.Kind, "Service") == "Service" && b.Port == nil && !d.Reported(strictyaml.Field(bp, "port")) {
			d.Errorf(bp, "missing required field %q: a Service reference must have a port", "port")
		}
		if pt := b.Port; pt != nil && (*pt < 1 || *pt > 65535) {
			d.Errorf(strictyaml.Field(bp, "port"), "invalid port %d: want 1 to 65535", *pt)
		}
		if w := b.Weight; w != nil && (*w < 0 || *w > 1000000) {
			d.Errorf(strictyaml.Field(bp, "weight"), "invalid weight %d: want 0 to 1000000", *w)
		}
		d.checkFilters(b.Filters, r, strictyaml.Field(bp, "filters"))
	}
}

// checkMatch checks one HTTPRouteMatch at path p.
func (d *document) checkMatch(m match, p string) {
	if m.Path != nil {
		pp := strictyaml.Field(p, "path")
		kind, value := deref(m.Path.Type, "PathPrefix"), deref(m.Path.Value, "/")
		switch kind {
		case "Exact", "PathPrefix":
			if msg := checkPathValue(value); msg != "" {
				d.Errorf(strictyaml.Field(pp, "value"), "invalid path %q: %s", value, msg)
			}
		case "RegularExpression":
		default:
			d.Errorf(strictyaml.Field(pp, "type"), "invalid type %q (want Exact, PathPrefix or RegularExpression)", kind)
		}
		if len(value) > 1024 {
			d.Errorf(strictyaml.Field(pp, "value"), "longer than 1024 characters")
		}
	}
	for _, part := range []struct {
		key  string
		list []valueMatch
	}{{"headers", m.Headers}, {"queryParams", m.QueryParams}} {
		lp := strictyaml.Field(p, part.key)
		if len(part.list) > 16 {
			d.Errorf(lp, "at most 16 entries, got %d", len(part.list))
		}
		for i, v := range part.list {
			vp := strictyaml.Index(lp, i)
			switch {
			case v.Name == "":
				d.required(vp, "name", false)
			case !headerNameRE.MatchString(v.Name) || len(v.Name) > 256:
				d.Errorf(strictyaml.Field(vp, "name"), "invalid name %q: want an HTTP token (RFC 7230)", v.Name)
			}
			if t := deref(v.Type, "Exact"); t != "Exact" && t != "RegularExpression" {
				d.Errorf(strictyaml.Field(vp, "type"), "invalid type %q (want Exact or RegularExpression)", t)
			}
		}
	}
	if m.Method != nil && !slices.Contains(methods, *m.Method) {
		d.Errorf(strictyaml.Field(p, "method"), "invalid method %q (want one of %s)", *m.Method, strings.Join(methods, ", "))
	}
}

// checkPathValue says what is wrong with an Exact or PathPrefix value,
// or returns "".
func checkPathValue(v string) string {
	switch {
	case !strings.HasPrefix(v, "/"):
		return "must be an absolute path and start with \"/\""
	case strings.Contains(v, "//"):
		return "must not contain \"//\""
	case strings.Contains(v, "/./"), strings.HasSuffix(v, "/."):
		return "must not contain \"/./\" or end with \"/.\""
	case strings.Contains(v, "/../"), strings.HasSuffix(v, "/.."):
		return "must not contain \"/../\" or end with \"/..\""
	case strings.Contains(strings.ToLower(v), "%2f"):
		return "must not contain \"%2f\""
	case strings.Contains(v, "#"):
		return "must not contain \"#\""
	case !pathValueRE.MatchString(v):
		return "holds characters a path may not (want unreserved characters, sub-delimiters, \":\", \"@\", \"/\" or %-escapes)"
	}
	return ""
}

// checkFilters checks the filters at path p of rule r (or of one of its
// backendRefs).
func (d *document) checkFilters(fs []filter, r rule, p string) {
	if len(fs) > 16 {
		d.Errorf(p, "at most 16 filters, got %d", len(fs))
	}
	count := map[string]int{}
	for i, f := range fs {
		fp := strictyaml.Index(p, i)
		count[f.Type]++
		if count[f.Type] == 2 && f.Type != filterMirror {
			d.Errorf(strictyaml.Field(fp, "type"), "%s filter cannot be repeated", f.Type)
		}
		if f.Type == "" {
			d.required(fp, "type", false)
		}
		for _, typ := range slices.Sorted(maps.Keys(filterFields)) {
			key := filterFields[typ]
			set := d.Has(strictyaml.Field(fp, key))
			switch {
			case typ == f.Type && !set && !d.Reported(strictyaml.Field(fp, key)):
				d.Errorf(fp, "filter.%s must be specified for %s filter.type", key, typ)
			case typ != f.Type && set:
				d.Errorf(strictyaml.Field(fp, key), "filter.%s must be nil if the filter.type is not %s", key, typ)
			}
		}
		switch {
		case f.Type == filterRequestHeaders && f.RequestHeaderModifier != nil:
			d.checkHeaderModifier(f.RequestHeaderModifier, strictyaml.Field(fp, "requestHeaderModifier"))
		case f.Type == filterResponseHeaders && f.ResponseHeaderModifier != nil:
			d.checkHeaderModifier(f.ResponseHeaderModifier, strictyaml.Field(fp, "responseHeaderModifier"))
		case f.Type == filterRedirect && f.RequestRedirect != nil:
			rp := strictyaml.Field(fp, "requestRedirect")
			rd := f.RequestRedirect
			if s := rd.Scheme; s != nil && *s != "http" && *s != "https" {
				d.Errorf(strictyaml.Field(rp, "scheme"), "invalid scheme %q (want http or https)", *s)
			}
			if c := rd.StatusCode; c != nil && !slices.Contains([]int{301, 302, 303, 307, 308}, *c) {
				d.Errorf(strictyaml.Field(rp, "statusCode"), "invalid statusCode %d (want 301, 302, 303, 307 or 308)", *c)
			}
			if pt := rd.Port; pt != nil && (*pt < 1 || *pt > 65535) {
				d.Errorf(strictyaml.Field(rp, "port"), "invalid port %d: want 1 to 65535", *pt)
			}
			d.checkPreciseHost(rd.Hostname, strictyaml.Field(rp, "hostname"))
			d.checkPathModifier(rd.Path, r, strictyaml.Field(rp, "path"), "RequestRedirect")
		case f.Type == filterRewrite && f.URLRewrite != nil:
			rp := strictyaml.Field(fp, "urlRewrite")
			d.checkPreciseHost(f.URLRewrite.Hostname, strictyaml.Field(rp, "hostname"))
			d.checkPathModifier(f.URLRewrite.Path, r, strictyaml.Field(rp, "path"), "URLRewrite")
		}
	}
	if count[filterRedirect] > 0 && count[filterRewrite] > 0 {
		d.Errorf(p, "may specify either RequestRedirect or URLRewrite, but not both")
	}
}

// checkHeaderModifier checks an HTTPHeaderFilter at path p.
func (d *document) checkHeaderModifier(m *headerModifier, p string) {
	for _, part := range []struct {
		key  string
		list []header
	}{{"set", m.Set}, {"add", m.Add}} {
		lp := strictyaml.Field(p, part.key)
		if len(part.list) > 16 {
			d.Errorf(lp, "at most 16 entries, got %d", len(part.list))
		}
		for i, h := range part.list {
			if !headerNameRE.MatchString(h.Name) {
				d.Errorf(strictyaml.Field(strictyaml.Index(lp, i), "name"), "invalid header name %q: want an HTTP token (RFC 7230)", h.Name)
			}
		}
	}
	if len(m.Remove) > 16 {
		d.Errorf(strictyaml.Field(p, "remove"), "at most 16 entries, got %d", len(m.Remove))
	}
	for i, h := range m.Remove {
		if !headerNameRE.MatchString(h) {
			d.Errorf(strictyaml.Index(strictyaml.Field(p, "remove"), i), "invalid header name %q: want an HTTP token (RFC 7230)", h)
		}
	}
}

// checkPreciseHost checks a hostname that may not be a wildcard.
func (d *document) checkPreciseHost(h *string, p string) {
	if h == nil {
		return
	}
	if msg := checkHostname(*h); msg != "" || isWildcard(*h) {
		if msg == "" {
			msg = "a wildcard is not allowed here"
		}
		d.Errorf(p, "invalid hostname %q: %s", *h, msg)
	}
}

// checkPathModifier checks an HTTPPathModifier of a filter of rule r.
func (d *document) checkPathModifier(m *pathModifier, r rule, p, filter string) {
	if m == nil {
		return
	}
	switch m.Type {
	case "ReplaceFullPath":
		if m.ReplaceFullPath == nil {
			d.Errorf(p, "replaceFullPath must be specified when type is set to 'ReplaceFullPath'")
		}
		if m.ReplacePrefixMatch != nil {
			d.Errorf(strictyaml.Field(p, "replacePrefixMatch"), "replacePrefixMatch must be nil when type is set to 'ReplaceFullPath'")
		}
	case "ReplacePrefixMatch":
		if m.ReplacePrefixMatch == nil {
			d.Errorf(p, "replacePrefixMatch must be specified when type is set to 'ReplacePrefixMatch'")
		}
		if m.ReplaceFullPath != nil {
			d.Errorf(strictyaml.Field(p, "replaceFullPath"), "replaceFullPath must be nil when type is set to 'ReplacePrefixMatch'")
		}
		if len(r.Matches) != 1 || r.Matches[0].Path == nil || deref(r.Matches[0].Path.Type, "PathPrefix") != "PathPrefix" {
			d.Errorf(p, "when using %s filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified", filter)
		}
	default:
		d.Errorf(strictyaml.Field(p, "type"), "invalid type %q (want ReplaceFullPath or ReplacePrefixMatch)", m.Type)
	}
}
