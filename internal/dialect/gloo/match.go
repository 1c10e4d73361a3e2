package gloo

import (
	"regexp"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// uriKind says how a matcher matched the path, for path rewrites.
type uriKind int

const (
	uriNone   uriKind = iota // no uri: every path
	uriExact                 // exact, case-sensitive
	uriPrefix                // prefix, case-sensitive
	uriOther                 // regex, suffix or ignoreCase
)

// matcher translates one HTTPRequestMatcher at path mp ("" for a route
// without matchers) for a listener of port listenPort (0: the mesh
// listener). ok is false when the matcher can never match there: it
// names another port, or something jwtgate cannot match (reported), so
// the route serves fewer requests, never more. hmFrom is the index in
// the matcher's headers of each of m.HeaderMatches.
func (t *translator) matcher(d *document, hm httpMatcher, mp string, listenPort int) (m model.RouteMatch, kind uriKind, hmFrom []int, ok bool) {
	f := func(name string) string { return strictyaml.Field(mp, name) }
	if hm.Port != 0 {
		if listenPort == 0 {
			d.NotServed(f("port"), "this matcher is not served: jwtgate does not know which port a sidecar's request was sent to")
			return m, 0, nil, false
		}
		if hm.Port != listenPort {
			return m, 0, nil, false // for another listener of the gateway
		}
	}
	if u := hm.URI; u != nil {
		pm, k, ok := pathMatch(d, u, f("uri"))
		if !ok {
			return m, 0, nil, false
		}
		kind = k
		if pm != nil {
			m.Paths = []model.PathMatch{*pm}
		}
	}
	if hm.Method != "" {
		m.Methods = []string{strings.ToUpper(hm.Method)}
	}
	for i, h := range hm.Headers {
		hp := strictyaml.Index(f("headers"), i)
		if h.Name == "" {
			d.Errorf(hp, "missing required field %q", "name")
			return m, 0, nil, false
		}
		if pol, ok := t.claimHeaders[strings.ToLower(h.Name)]; ok {
			// Gloo chooses the route again once the token is verified
			// (clearRouteCache AUTO), on the claim's value; jwtgate
			// chooses it once, before, on what the client sent.
			d.NotServed(strictyaml.Field(hp, "name"), "this matcher is not served: JWTPolicy %s sets header %s from the token, and jwtgate chooses the route before the token is verified (it does not route on claims)", pol, h.Name)
			return m, 0, nil, false
		}
		vm := model.ValueMatch{Name: h.Name, Kind: model.ValueExact, Value: h.Value, Invert: h.InvertMatch}
		switch {
		case h.Regex:
			if !validRegex(d, strictyaml.Field(hp, "value"), h.Value) {
				return m, 0, nil, false
			}
			vm.Kind = model.ValueRegex
		case h.Value == "":
			vm.Kind, vm.Value = model.ValuePresent, ""
		}
		// Presence and exact values are matched by Headers, inverted and
		// regex matches (and a repeated name, or the value "*") by
		// HeaderMatches.
		_, dup := lookupFold(m.Headers, h.Name)
		if !vm.Invert && !dup && vm.Kind != model.ValueRegex && vm.Value != "*" {
			if m.Headers == nil {
				m.Headers = map[string]string{}
			}
			v := vm.Value
			if vm.Kind == model.ValuePresent {
				v = "*"
			}
			m.Headers[h.Name] = v
			continue
		}
		m.HeaderMatches = append(m.HeaderMatches, vm)
		hmFrom = append(hmFrom, i)
	}
	for i, q := range hm.QueryParameters {
		qp := strictyaml.Index(f("queryParameters"), i)
		if q.Name == "" {
			d.Errorf(qp, "missing required field %q", "name")
			return m, 0, nil, false
		}
		vm := model.ValueMatch{Name: q.Name, Kind: model.ValueExact, Value: q.Value}
		switch {
		case q.Regex:
			if !validRegex(d, strictyaml.Field(qp, "value"), q.Value) {
				return m, 0, nil, false
			}
			vm.Kind = model.ValueRegex
		case q.Value == "":
			vm.Kind = model.ValuePresent
		}
		m.Query = append(m.Query, vm)
	}
	return m, kind, hmFrom, true
}

// pathMatch translates a uri StringMatch at path p. Case-insensitive
// and suffix matches become regular expressions over the whole path.
func pathMatch(d *document, u *stringMatch, p string) (*model.PathMatch, uriKind, bool) {
	n := 0
	for _, s := range []*string{u.Exact, u.Prefix, u.Regex, u.Suffix} {
		if s != nil {
			n++
		}
	}
	switch {
	case n == 0:
		return nil, uriNone, true
	case n > 1:
		d.Errorf(p, "give one of exact, prefix, regex and suffix")
		return nil, 0, false
	}
	fold := ""
	if u.IgnoreCase {
		fold = "(?i)"
	}
	switch {
	case u.Regex != nil:
		if !validRegex(d, strictyaml.Field(p, "regex"), *u.Regex) {
			return nil, 0, false
		}
		if u.IgnoreCase {
			d.Warnf(strictyaml.Field(p, "ignoreCase"), "has no effect on a regex match, as in Gloo")
		}
		return &model.PathMatch{Kind: model.PathRegex, Value: *u.Regex}, uriOther, true
	case u.Suffix != nil:
		return &model.PathMatch{Kind: model.PathRegex, Value: fold + ".*" + regexp.QuoteMeta(*u.Suffix)}, uriOther, true
	case u.IgnoreCase && u.Exact != nil:
		return &model.PathMatch{Kind: model.PathRegex, Value: fold + regexp.QuoteMeta(*u.Exact)}, uriOther, true
	case u.IgnoreCase:
		return &model.PathMatch{Kind: model.PathRegex, Value: fold + regexp.QuoteMeta(*u.Prefix) + ".*"}, uriOther, true
	case u.Exact != nil:
		return &model.PathMatch{Kind: model.PathExact, Value: *u.Exact}, uriExact, true
	}
	return &model.PathMatch{Kind: model.PathPrefix, Value: *u.Prefix}, uriPrefix, true
}

// validRegex checks an RE2 expression at path p.
func validRegex(d *document, p, re string) bool {
	if _, err := regexp.Compile(re); err != nil {
		d.Errorf(p, "invalid regex %q: %v", re, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		return false
	}
	return true
}

func lookupFold(m map[string]string, k string) (string, bool) {
	for mk, v := range m {
		if strings.EqualFold(mk, k) {
			return v, true
		}
	}
	return "", false
}
