package gloo

import (
	"cmp"
	"net"
	"strconv"
	"strings"

	"jwtgate.dev/jwtgate/internal/kube"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// unsupportedURL is the backend URL of a route jwtgate answers 503
// (model.Backend.Unavailable) because it cannot perform its action.
const unsupportedURL = "http://unsupported.invalid"

// dest is a Service a route forwards to, as JWT policies select it.
type dest struct {
	ns, name string
	port     int
	portName string
	labels   map[string]string
}

// action is what a route does, translated once for all its matchers.
type action struct {
	backend  model.Backend
	backends []model.WeightedBackend
	actions  model.RouteActions
	dests    []dest
	// renames map model fields below the route (".backend") to the
	// document's paths.
	renames map[string]string
	// fwd is the forwardTo action, for the rewrites resolved per
	// matcher; fwdPath is its path.
	fwd     *forwardTo
	fwdPath string
	// hostOf is the Service host of the only destination, for
	// autoHostRewrite.
	hostOf string
}

// unavailable makes a the action of a route jwtgate cannot serve: it
// answers 503, so that a request it matches never falls through to a
// later route.
func (a *action) unavailable(reason string) {
	a.backend = model.Backend{URL: unsupportedURL, Unavailable: reason}
	a.backends, a.actions, a.fwd = nil, model.RouteActions{}, nil
}

// action translates an http route's action at path p. ok is false when
// the route is in error (reported).
func (t *translator) action(d *document, h httpRoute, p string) (*action, bool) {
	a := &action{renames: map[string]string{}}
	f := func(k string) string { return strictyaml.Field(p, k) }
	var set []string
	for _, k := range []string{"forwardTo", "delegate", "redirect", "directResponse", "graphql"} {
		if d.Has(f(k)) {
			set = append(set, k)
		}
	}
	switch {
	case len(set) == 0:
		if !d.Reported(p) {
			d.Errorf(p, "missing action: give one of forwardTo, delegate, redirect, directResponse and graphql")
		}
		return nil, false
	case len(set) > 1:
		d.Errorf(f(set[1]), "give one action, not %s", strings.Join(set, " and "))
		return nil, false
	}
	switch set[0] {
	case "delegate":
		d.NotServed(f("delegate"), "this route answers 503: delegation to other route tables is not supported")
		a.unavailable("delegation to other route tables is not supported by jwtgate")
	case "graphql":
		d.NotServed(f("graphql"), "this route answers 503: GraphQL routes are not supported")
		a.unavailable("GraphQL routes are not supported by jwtgate")
	case "directResponse":
		r := h.DirectResponse
		if r == nil || r.Status < 200 || r.Status > 599 {
			if !d.Reported(f("directResponse.status")) {
				d.Errorf(f("directResponse"), "status: want 200 to 599")
			}
			return nil, false
		}
		a.actions.DirectResponse = &model.DirectResponse{Status: r.Status, Body: r.Body}
	case "redirect":
		r := h.Redirect
		if r == nil {
			r = &redirect{}
		}
		code, ok := redirectCodes[strings.ToUpper(r.ResponseCode)]
		if !ok {
			d.Errorf(f("redirect.responseCode"), "invalid responseCode %q (want MOVED_PERMANENTLY, FOUND, SEE_OTHER, TEMPORARY_REDIRECT or PERMANENT_REDIRECT)", r.ResponseCode)
			return nil, false
		}
		rd := &model.Redirect{Host: r.HostRedirect, Status: code}
		if r.PathRedirect != "" {
			rd.Path = &model.PathRewrite{Full: r.PathRedirect}
		}
		a.actions.Redirect = rd
	case "forwardTo":
		if !t.forwardTo(d, h.ForwardTo, f("forwardTo"), a) {
			return nil, false
		}
	}
	return a, true
}

// redirectCodes are RedirectAction response codes.
var redirectCodes = map[string]int{
	"": 301, "MOVED_PERMANENTLY": 301, "FOUND": 302, "SEE_OTHER": 303, "TEMPORARY_REDIRECT": 307, "PERMANENT_REDIRECT": 308,
}

// forwardTo translates a forwardTo action at path p into a.
func (t *translator) forwardTo(d *document, fw *forwardTo, p string, a *action) bool {
	if fw == nil {
		fw = &forwardTo{}
	}
	a.fwd, a.fwdPath = fw, p
	dests, dp := fw.Destinations, strictyaml.Field(p, "destinations")
	if len(dests) == 0 {
		if d.rt.Spec.DefaultDestination == nil {
			d.Errorf(p, "no destinations, and the route table has no defaultDestination")
			return false
		}
		dests, dp = []destinationReference{*d.rt.Spec.DefaultDestination}, "spec.defaultDestination"
	}
	weights, ok := t.weights(d, dests, dp)
	if !ok {
		return false
	}
	for i, dr := range dests {
		path := dp
		if dp != "spec.defaultDestination" {
			path = strictyaml.Index(dp, i)
		}
		b, ds, ok := t.backend(d, dr, path)
		if !ok {
			return false
		}
		if ds != nil {
			a.dests = append(a.dests, *ds)
		}
		if len(dests) == 1 {
			a.backend = b
			a.renames[".backend"] = path
			if ds != nil && b.Unavailable == "" {
				a.hostOf = hostOnly(b.URL)
			}
			continue
		}
		a.renames[".backends["+strconv.Itoa(i)+"]"] = path
		a.backends = append(a.backends, model.WeightedBackend{Backend: b, Weight: weights[i]})
	}
	if d.Has(strictyaml.Field(p, "regexRewrite")) {
		d.NotServed(strictyaml.Field(p, "regexRewrite"), "this route answers 503: regex path rewrites are not supported")
		a.unavailable("regex path rewrites are not supported by jwtgate")
	}
	return true
}

// weights are the destinations' shares, as Gloo computes them: the
// weights given must not exceed 100 in all, and what they leave of 100
// is shared among the destinations without one (at least 1 each).
func (t *translator) weights(d *document, dests []destinationReference, p string) ([]int, bool) {
	out := make([]int, len(dests))
	if len(dests) < 2 {
		return out, true
	}
	sum, unset := 0, 0
	for i, dr := range dests {
		if dr.Weight == nil {
			unset++
			continue
		}
		out[i] = *dr.Weight
		sum += *dr.Weight
	}
	switch {
	case unset == len(dests):
		for i := range out {
			out[i] = 1
		}
		return out, true
	case sum > 100:
		d.Errorf(p, "the weights add up to %d: they must not exceed 100", sum)
		return nil, false
	case unset > 0 && 100-sum < unset:
		d.Errorf(p, "the weights add up to %d, which leaves less than 1 for each of the %d destinations without a weight", sum, unset)
		return nil, false
	case unset == 0 && sum == 0:
		d.Errorf(p, "every weight is 0: no destination would get traffic")
		return nil, false
	}
	if unset > 0 {
		share, rest := (100-sum)/unset, (100-sum)%unset
		for i, dr := range dests {
			if dr.Weight != nil {
				continue
			}
			out[i] = share
			if rest > 0 {
				out[i]++
				rest--
			}
		}
	}
	return out, true
}

// backend resolves one destination at path p through the Services and
// EndpointSlices of the load, spoken to in HTTP/2 when the Service port
// asks for it (kube.Target.HTTP2). A destination jwtgate cannot reach (a
// missing Service or endpoint, a kind or subset it does not support)
// is a backend answered 503 with the reason, and a status on the table;
// ok is false for an error in the document.
func (t *translator) backend(d *document, dr destinationReference, p string) (model.Backend, *dest, bool) {
	f := func(k string) string { return strictyaml.Field(p, k) }
	if d.Has(f("awsLambda")) || d.Has(f("function")) {
		k := "awsLambda"
		if !d.Has(f(k)) {
			k = "function"
		}
		d.NotServed(f(k), "this destination answers 503: cloud functions are not supported")
		return model.Backend{URL: unsupportedURL, Unavailable: "cloud function destinations are not supported by jwtgate"}, nil, true
	}
	if dr.Ref == nil || dr.Ref.Name == "" {
		if !d.Reported(f("ref")) {
			d.Errorf(p, "missing required field %q", "ref.name")
		}
		return model.Backend{}, nil, false
	}
	ns, name := cmp.Or(dr.Ref.Namespace, d.Ref.Namespace), dr.Ref.Name
	label := "destination " + ns + "/" + name
	switch k := strings.ToUpper(dr.Kind); k {
	case "", "SERVICE":
	case "VIRTUAL_DESTINATION", "EXTERNAL_SERVICE":
		d.NotServed(f("kind"), "%s answers 503: kind %s is not supported (Kubernetes Services only)", label, k)
		return model.Backend{URL: unsupportedURL, Unavailable: "destination kind " + k + " is not supported by jwtgate"}, nil, true
	default:
		d.Errorf(f("kind"), "invalid kind %q (want SERVICE, VIRTUAL_DESTINATION or EXTERNAL_SERVICE)", dr.Kind)
		return model.Backend{}, nil, false
	}
	if len(dr.Subset) > 0 {
		d.NotServed(f("subset"), "%s answers 503: subsets are not supported (EndpointSlices do not carry pod labels)", label)
		return model.Backend{URL: unsupportedURL, Unavailable: "destination subsets are not supported by jwtgate"}, nil, true
	}
	number, portName := 0, ""
	if dr.Port != nil {
		number, portName = dr.Port.Number, dr.Port.Name
	}
	ds := &dest{ns: ns, name: name, port: number, portName: portName}
	if svc := t.s.kube.Service(ns, name); svc != nil {
		ds.labels = svc.Metadata.Labels
	}
	target, err := t.s.kube.Resolve(ns, name, number, portName)
	host, port := target.Host, target.Port
	if host == "" {
		host = name + "." + ns + ".svc." + kube.ClusterDomain
	}
	if port == 0 {
		port = number
	}
	if ds.port == 0 {
		ds.port = port
	}
	u := "http://" + host
	if port != 0 {
		u = "http://" + net.JoinHostPort(host, strconv.Itoa(port))
	}
	b := model.Backend{URL: u, Endpoints: target.Endpoints}
	switch {
	case err != nil:
		b.Unavailable, b.Endpoints = err.Error(), nil
		d.NotFound(p, "%s answers 503: %v", label, err)
	case target.HTTP2():
		// The port's appProtocol or name asks for HTTP/2, as Istio's
		// protocol selection, which Gloo's destinations follow, reads
		// them: h2c to the Service.
		b.Protocol = model.BackendHTTP2
	}
	return b, ds, true
}

// hostOnly is the host of an http://host:port URL.
func hostOnly(u string) string {
	hp := strings.TrimPrefix(u, "http://")
	if h, _, err := net.SplitHostPort(hp); err == nil {
		return h
	}
	return hp
}

// rewrite sets the route's host and path rewrites for the matcher it
// was made from: a pathRewrite replaces the prefix a prefix matcher
// matched, or the whole path of an exact one; with another match (regex,
// suffix, case-insensitive), which Gloo does not rewrite either, the
// route answers 503 rather than forward a path that was not rewritten.
func (t *translator) rewrite(d *document, r *route, a *action, uri uriKind, mp string) {
	fw := a.fwd
	if fw == nil {
		return
	}
	rw := &model.Rewrite{Host: fw.HostRewrite}
	if fw.AutoHostRewrite {
		if a.hostOf == "" {
			d.NotServed(strictyaml.Field(a.fwdPath, "autoHostRewrite"), "not applied: the upstream sees the request's own host (jwtgate rewrites the host to a destination's only with one reachable Service destination)")
		}
		rw.Host = a.hostOf
	}
	if pr := fw.PathRewrite; pr != nil {
		switch uri {
		case uriNone:
			r.m.Match.Paths = []model.PathMatch{{Kind: model.PathPrefix, Value: "/"}}
			rw.Path = &model.PathRewrite{Prefix: *pr}
		case uriPrefix:
			rw.Path = &model.PathRewrite{Prefix: *pr}
		case uriExact:
			rw.Path = &model.PathRewrite{Full: *pr}
		default:
			at := strictyaml.Field(a.fwdPath, "pathRewrite")
			d.NotServed(at, "the route answers 503 for %s: Gloo rewrites the path of exact and prefix uri matches only (case-sensitive)", mp)
			r.m.Backend, r.m.Backends = model.Backend{URL: unsupportedURL, Unavailable: "a path rewrite with a regex, suffix or case-insensitive match is not supported by jwtgate"}, nil
			return
		}
	}
	if rw.Host != "" || rw.Path != nil {
		r.m.Rewrite = rw
	}
}
