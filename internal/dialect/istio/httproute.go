package istio

import (
	"encoding/base64"
	"maps"
	"net"
	"net/textproto"
	"slices"
	"strconv"
	"strings"

	"jwtgate.dev/jwtgate/internal/kube"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// unavailableURL is the backend URL of a route jwtgate answers 503
// (model.Backend.Unavailable) because it cannot perform its action.
const unavailableURL = "http://unsupported.invalid"

// action is what an HTTPRoute does, translated once for all its matches
// and virtual hosts.
type action struct {
	backend  model.Backend
	backends []model.WeightedBackend
	actions  model.RouteActions
	// renames map model fields below the route (".backend") to the
	// document's paths.
	renames map[string]string
	// uri is rewrite.uri, resolved per match (a prefix match has its
	// prefix replaced, an exact one its whole path); uriPath is its path.
	uri     string
	uriPath string
}

// unavailable makes a the action of a route jwtgate cannot serve: it
// answers 503, so that a request it matches never falls through to a
// later route.
func (a *action) unavailable(reason string) {
	a.backend = model.Backend{URL: unavailableURL, Unavailable: reason}
	a.backends = nil
	a.actions.Redirect, a.actions.DirectResponse, a.actions.Rewrite = nil, nil, nil
	a.uri = ""
}

// httpAction translates http[i] of the VirtualService d; ok is false for
// an error in the document (reported).
func (t *translator) httpAction(d *document, h httpRoute, p string) (*action, bool) {
	a := &action{renames: map[string]string{}}
	f := func(k string) string { return strictyaml.Field(p, k) }
	var set []string
	for _, k := range []string{"route", "redirect", "directResponse", "delegate"} {
		if d.Has(f(k)) {
			set = append(set, k)
		}
	}
	switch {
	case len(set) == 0:
		if !d.Reported(p) {
			d.Errorf(p, "missing action: give one of route, redirect, directResponse and delegate")
		}
		return nil, false
	case len(set) > 1:
		d.Errorf(f(set[1]), "give one action, not %s", strings.Join(set, " and "))
		return nil, false
	case set[0] != "route" && d.Has(f("rewrite")):
		d.Errorf(f("rewrite"), "only with route: a %s does not forward", set[0])
		return nil, false
	}
	switch set[0] {
	case "delegate":
		d.NotServed(f("delegate"), "this route answers 503: delegation to other VirtualServices is not supported")
		a.unavailable("VirtualService delegation is not supported by jwtgate")
		return a, true
	case "directResponse":
		if !t.directResponse(d, h.DirectResponse, f("directResponse"), a) {
			return nil, false
		}
	case "redirect":
		if !t.redirect(d, h.Redirect, f("redirect"), a) {
			return nil, false
		}
	case "route":
		if !t.destinations(d, h, f("route"), a) {
			return nil, false
		}
		if a.backend.Unavailable != "" && a.backend.URL == unavailableURL {
			return a, true
		}
	}
	// The route's header changes apply after its destinations', and win
	// where both set a header (Envoy's order); rewrite.authority wins
	// over a Host header.
	t.headerOps(d, h.Headers, f("headers"), &a.actions)
	if rw := h.Rewrite; rw != nil && set[0] == "route" {
		if rw.URIRegexRewrite.Kind != 0 {
			d.NotServed(f("rewrite.uriRegexRewrite"), "this route answers 503: regex path rewrites are not supported")
			a.unavailable("regex path rewrites are not supported by jwtgate")
			return a, true
		}
		if rw.Authority != "" {
			a.actions.Rewrite = &model.Rewrite{Host: rw.Authority}
			a.renames[".rewrite.host"] = f("rewrite.authority")
		}
		a.uri, a.uriPath = rw.URI, f("rewrite.uri")
	}
	t.unsupported(d, h, p, a)
	return a, true
}

// unsupported reports the HTTPRoute fields jwtgate does not perform,
// translating each the way that serves less.
func (t *translator) unsupported(d *document, h httpRoute, p string, a *action) {
	f := func(k string) string { return strictyaml.Field(p, k) }
	if r := h.Retries; r != nil && r.Attempts > 0 {
		d.NotServed(f("retries"), "not applied: jwtgate does not retry a request")
	}
	for _, k := range []string{"mirror", "mirrors", "mirrorPercent", "mirrorPercentage"} {
		if d.Has(f(k)) {
			d.NotServed(f(k), "not applied: jwtgate does not mirror requests")
		}
	}
	if d.Has(f("corsPolicy")) {
		d.NotServed(f("corsPolicy"), "not applied: jwtgate does not answer CORS preflights or add CORS headers (browsers refuse cross-origin responses)")
	}
	if fl := h.Fault; fl != nil {
		if fl.Delay.Kind != 0 {
			d.NotServed(f("fault.delay"), "not applied: jwtgate does not delay requests")
		}
		if ab := fl.Abort; ab != nil && a.actions.Redirect == nil && a.actions.DirectResponse == nil {
			ap := f("fault.abort")
			pct := 100.0
			if ab.Percentage != nil {
				pct = ab.Percentage.Value
			}
			switch {
			case pct <= 0:
			case ab.HTTPStatus >= 200 && ab.HTTPStatus <= 599:
				if pct < 100 {
					d.NotServed(ap, "every request is aborted: jwtgate does not abort a percentage of them")
				}
				a.backend, a.backends = model.Backend{}, nil
				a.actions.DirectResponse, a.actions.Rewrite, a.uri = &model.DirectResponse{Status: ab.HTTPStatus, Body: "fault filter abort"}, nil, ""
				a.actions.RequestHeaders = model.HeaderOps{}
			default:
				d.NotServed(ap, "this route answers 503: jwtgate aborts with an HTTP status (200 to 599) only")
				a.unavailable("a fault abort other than an HTTP status is not supported by jwtgate")
			}
		}
	}
}

// directResponse translates a directResponse at path p into a.
func (t *translator) directResponse(d *document, r *httpDirectResponse, p string, a *action) bool {
	if r == nil || r.Status < 200 || r.Status > 599 {
		if !d.Reported(strictyaml.Field(p, "status")) {
			d.Errorf(p, "status: want 200 to 599")
		}
		return false
	}
	dr := &model.DirectResponse{Status: r.Status}
	if b := r.Body; b != nil {
		switch {
		case b.String != nil && b.Bytes != nil:
			d.Errorf(strictyaml.Field(p, "body"), "give string or bytes, not both")
			return false
		case b.String != nil:
			dr.Body = *b.String
		case b.Bytes != nil:
			raw, err := base64.StdEncoding.DecodeString(*b.Bytes)
			if err != nil {
				d.Errorf(strictyaml.Field(p, "body.bytes"), "invalid base64: %v", err)
				return false
			}
			dr.Body = string(raw)
		}
	}
	a.actions.DirectResponse = dr
	return true
}

// redirect translates a redirect at path p into a: uri replaces the whole
// path, authority the host (and port, when it has one), the default code
// is 301, as in Istio.
func (t *translator) redirect(d *document, r *httpRedirect, p string, a *action) bool {
	if r == nil {
		r = &httpRedirect{}
	}
	f := func(k string) string { return strictyaml.Field(p, k) }
	rd := &model.Redirect{Status: r.RedirectCode, Scheme: strings.ToLower(r.Scheme), Port: r.Port}
	switch rd.Status {
	case 0:
		rd.Status = 301
	case 301, 302, 303, 307, 308:
	default:
		d.Errorf(f("redirectCode"), "invalid redirectCode %d (want 301, 302, 303, 307 or 308)", r.RedirectCode)
		return false
	}
	if h := r.Authority; h != "" {
		if host, port, err := net.SplitHostPort(h); err == nil {
			n, err := strconv.Atoi(port)
			if err != nil || rd.Port != 0 {
				d.Errorf(f("authority"), "invalid authority %q (give the port in port)", h)
				return false
			}
			h, rd.Port = host, n
		}
		rd.Host = h
	}
	switch strings.ToUpper(r.DerivePort) {
	case "", "FROM_REQUEST_PORT":
	case "FROM_PROTOCOL_DEFAULT":
		if rd.Port != 0 {
			d.Errorf(f("derivePort"), "give port or derivePort, not both")
			return false
		}
		rd.Port = 80
		if rd.Scheme == "https" {
			rd.Port = 443
		}
		if rd.Scheme == "" {
			// The request's scheme: the port is the default of either,
			// which the Location leaves out.
			d.NotServed(f("derivePort"), "the Location keeps the request's port unless it is the default of its scheme")
			rd.Port = 0
		}
	default:
		d.Errorf(f("derivePort"), "invalid derivePort %q (want FROM_PROTOCOL_DEFAULT or FROM_REQUEST_PORT)", r.DerivePort)
		return false
	}
	if r.URI != "" {
		rd.Path = &model.PathRewrite{Full: r.URI}
	}
	a.actions.Redirect = rd
	return true
}

// destinations translates the route destinations at path p into a: one
// backend, or several shared by weight (relative, as Istio's: a weight of
// 0 gets nothing).
func (t *translator) destinations(d *document, h httpRoute, p string, a *action) bool {
	if len(h.Route) == 0 {
		d.Errorf(p, "at least one destination")
		return false
	}
	total := 0
	for _, rd := range h.Route {
		total += rd.Weight
	}
	if len(h.Route) > 1 && total == 0 {
		d.Errorf(p, "several destinations and no weight: give each its weight")
		return false
	}
	var shared *model.RouteActions
	for i, rd := range h.Route {
		rp := strictyaml.Index(p, i)
		if rd.Weight < 0 {
			d.Errorf(strictyaml.Field(rp, "weight"), "must not be negative")
			return false
		}
		b, ok := t.backend(d, rd.Destination, strictyaml.Field(rp, "destination"))
		if !ok {
			return false
		}
		if h.Timeout != nil && *h.Timeout > 0 && b.Unavailable == "" {
			b.Timeout = *h.Timeout
		}
		var ops model.RouteActions
		t.headerOps(d, rd.Headers, strictyaml.Field(rp, "headers"), &ops)
		if i == 0 {
			shared = &ops
		} else if !sameOps(*shared, ops) {
			d.NotServed(strictyaml.Field(rp, "headers"), "this route answers 503: jwtgate changes headers per route, and its destinations change them differently")
			a.unavailable("different header changes per destination are not supported by jwtgate")
			return true
		}
		if len(h.Route) == 1 {
			a.backend = b
			a.renames[".backend"] = rp
			continue
		}
		a.renames[".backends["+strconv.Itoa(len(a.backends))+"]"] = rp
		a.backends = append(a.backends, model.WeightedBackend{Backend: b, Weight: rd.Weight})
	}
	a.actions.RequestHeaders, a.actions.ResponseHeaders, a.actions.Rewrite = shared.RequestHeaders, shared.ResponseHeaders, shared.Rewrite
	if h.Timeout != nil && *h.Timeout == 0 {
		d.NotServed(strictyaml.Field(strictyaml.Parent(p), "timeout"), "0s (no timeout) is served with jwtgate's default upstream timeout, %s", model.DefaultBackendTimeout)
	}
	return true
}

func sameOps(a, b model.RouteActions) bool {
	eq := func(x, y model.HeaderOps) bool {
		return maps.Equal(x.Set, y.Set) && maps.Equal(x.Add, y.Add) && slices.Equal(x.Remove, y.Remove)
	}
	return eq(a.RequestHeaders, b.RequestHeaders) && eq(a.ResponseHeaders, b.ResponseHeaders) &&
		(a.Rewrite == nil) == (b.Rewrite == nil) && (a.Rewrite == nil || *a.Rewrite == *b.Rewrite)
}

// backend resolves a destination at path p through the Services and
// EndpointSlices of the load: its host is a Service, "name" (in the
// VirtualService's namespace), "name.ns", "name.ns.svc" or
// "name.ns.svc.cluster.local". A destination jwtgate cannot reach (a
// missing Service, port or endpoint, an external host, a subset) is a
// backend answered 503 with the reason, and a status on the document;
// ok is false for an error in the document.
func (t *translator) backend(d *document, ds *destination, p string) (model.Backend, bool) {
	if ds == nil || ds.Host == "" {
		if !d.Reported(strictyaml.Field(p, "host")) {
			d.Errorf(p, "missing required field %q", "host")
		}
		return model.Backend{}, false
	}
	f := func(k string) string { return strictyaml.Field(p, k) }
	label := "destination " + ds.Host
	ns, name, ok := kube.ParseHost(ds.Host, d.Ref.Namespace)
	if !ok {
		d.NotFound(f("host"), "%s answers 503: it names no Kubernetes Service (external hosts, ServiceEntries, are not supported)", label)
		return model.Backend{URL: unavailableURL, Unavailable: "destination host " + ds.Host + " is no Kubernetes Service"}, true
	}
	if ds.Subset != "" {
		d.NotServed(f("subset"), "%s answers 503: subsets (DestinationRules) are not supported", label)
		return model.Backend{URL: unavailableURL, Unavailable: "destination subsets are not supported by jwtgate"}, true
	}
	number := 0
	if ds.Port != nil {
		number = ds.Port.Number
	}
	target, err := t.s.kube.Resolve(ns, name, number, "")
	host, port := target.Host, target.Port
	if host == "" {
		host = name + "." + ns + ".svc." + kube.ClusterDomain
	}
	if port == 0 {
		port = number
	}
	u := "http://" + host
	if port != 0 {
		u = "http://" + net.JoinHostPort(host, strconv.Itoa(port))
	}
	b := model.Backend{URL: u, Endpoints: target.Endpoints}
	if err != nil {
		b.Unavailable, b.Endpoints = err.Error(), nil
		d.NotFound(p, "%s answers 503: %v", label, err)
	} else if target.HTTP2() {
		b.Protocol = model.BackendHTTP2 // the port's appProtocol or name says HTTP/2: h2c to the Service
	}
	return b, true
}

// headerOps translates headers (request and response set, add, remove)
// at path p into acts. Host (request set or add) is the rewrite of the
// authority; headers jwtgate sets itself (from tokens, X-Forwarded-*)
// and those of the connection are not changed (reported).
func (t *translator) headerOps(d *document, h *headers, p string, acts *model.RouteActions) {
	if h == nil {
		return
	}
	for _, side := range []struct {
		key     string
		ops     *headerOperations
		out     *model.HeaderOps
		request bool
	}{{"request", h.Request, &acts.RequestHeaders, true}, {"response", h.Response, &acts.ResponseHeaders, false}} {
		if side.ops == nil {
			continue
		}
		sp := strictyaml.Field(p, side.key)
		keep := func(at, name string) bool {
			c := textproto.CanonicalMIMEHeaderKey(name)
			switch {
			case side.request && (c == "X-Forwarded-For" || c == "X-Forwarded-Host" || c == "X-Forwarded-Proto"):
				d.NotServed(at, "not applied: jwtgate sets %s on every forwarded request", c)
			case c == "Content-Length" || slices.Contains(hopByHop, c):
				d.NotServed(at, "not applied: %s belongs to the connection or the message framing", c)
			case side.request && t.outputs[strings.ToLower(name)] != "":
				d.NotServed(at, "not applied: RequestAuthentication %s sets %s from the token", t.outputs[strings.ToLower(name)], name)
			default:
				return true
			}
			return false
		}
		for _, kv := range []struct {
			key string
			m   map[string]string
			out *map[string]string
		}{{"set", side.ops.Set, &side.out.Set}, {"add", side.ops.Add, &side.out.Add}} {
			for _, name := range slices.Sorted(maps.Keys(kv.m)) {
				at := strictyaml.Key(strictyaml.Field(sp, kv.key), name)
				if side.request && (strings.EqualFold(name, "host") || name == ":authority") {
					acts.Rewrite = &model.Rewrite{Host: kv.m[name]}
					continue
				}
				if !keep(at, name) {
					continue
				}
				if *kv.out == nil {
					*kv.out = map[string]string{}
				}
				(*kv.out)[name] = kv.m[name]
			}
		}
		for i, name := range side.ops.Remove {
			at := strictyaml.Index(strictyaml.Field(sp, "remove"), i)
			if side.request && strings.EqualFold(name, "host") {
				d.NotServed(at, "not applied: a request is forwarded with a Host")
				continue
			}
			if keep(at, name) {
				side.out.Remove = append(side.out.Remove, name)
			}
		}
	}
}

// hopByHop are the headers of one connection, which routes do not change.
var hopByHop = []string{
	"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// outputHeaders maps every header a RequestAuthentication that applies
// sets from tokens (outputPayloadToHeader, outputClaimToHeaders), in
// lower case, to the RequestAuthentication's "namespace/name".
func (s *session) outputHeaders() map[string]string {
	out := map[string]string{}
	for _, d := range s.docs {
		if d.ra == nil || d.Muted {
			continue
		}
		for _, r := range d.ra.Spec.JWTRules {
			hs := []string{r.OutputPayloadToHeader}
			for _, c := range r.OutputClaimToHeaders {
				hs = append(hs, c.Header)
			}
			for _, h := range hs {
				if h = strings.ToLower(h); h != "" && out[h] == "" {
					out[h] = d.Name()
				}
			}
		}
	}
	return out
}

// rewriteURI sets the route's path rewrite for the match it was made
// from: rewrite.uri replaces the prefix a prefix match matched, or the
// whole path of an exact one; without a uri match, the route matches
// every path and the rewrite replaces its leading "/", as Envoy does.
// With a regex or case-insensitive match, the route answers 503 rather
// than forward a path that was not rewritten.
func (t *translator) rewriteURI(d *document, r *model.Route, a *action, kind uriKind, mp string) {
	if a.uri == "" {
		return
	}
	var pr *model.PathRewrite
	switch kind {
	case uriNone:
		r.Match.Paths = []model.PathMatch{{Kind: model.PathPrefix, Value: "/"}}
		pr = &model.PathRewrite{Prefix: a.uri}
	case uriPrefix:
		pr = &model.PathRewrite{Prefix: a.uri}
	case uriExact:
		pr = &model.PathRewrite{Full: a.uri}
	default:
		d.NotServed(a.uriPath, "the route answers 503 for %s: jwtgate rewrites the path of exact and prefix uri matches only (case-sensitive)", mp)
		r.Backend, r.Backends = model.Backend{URL: unavailableURL, Unavailable: "a uri rewrite with a regex or case-insensitive match is not supported by jwtgate"}, nil
		r.Rewrite = nil
		return
	}
	rw := model.Rewrite{}
	if r.Rewrite != nil {
		rw = *r.Rewrite
	}
	rw.Path = pr
	r.Rewrite = &rw
}
