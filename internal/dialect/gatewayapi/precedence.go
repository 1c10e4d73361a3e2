package gatewayapi

import (
	"cmp"
	"slices"
	"strconv"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// Labels every model route of this dialect carries, for policies that
// select routes (a jwtgate JWTPolicy's selector, say). Values name
// resources "namespace/name".
const (
	LabelHTTPRoute = "gateway.networking.k8s.io/httproute"
	// LabelGRPCRoute names the GRPCRoute of a route made from one (which
	// carries no LabelHTTPRoute).
	LabelGRPCRoute = "gateway.networking.k8s.io/grpcroute"
	// LabelRule is the rule's name, on routes of named rules only.
	LabelRule     = "gateway.networking.k8s.io/rule"
	LabelGateway  = "gateway.networking.k8s.io/gateway"
	LabelListener = "gateway.networking.k8s.io/listener"
)

// candidate is one model route: one match of one rule, on one listener,
// for one tier of hostnames.
type candidate struct {
	route model.Route
	doc   *document
	rule  int
	match int
	tier  int
	// hostRank and origRank are the tier's rank among hostnames: of the
	// hostnames served, and of the route hostnames they came from.
	hostRank, origRank hostRank
	prec               precedence
}

// tier is hostnames of one precedence rank.
type tier struct {
	hosts              []string
	hostRank, origRank hostRank
}

// tiers splits a route's hostnames on a listener by precedence rank, so
// that each model route can be ordered as a whole: all exact names
// together (they never match the same request), each length of wildcard
// apart, and "any host" last; within each, by the rank of the route's
// own hostname that produced them.
func tiers(hosts []hostPair) []tier {
	var out []tier
	for _, h := range hosts {
		hr, or := rankHost(h.host), rankHost(h.original)
		i := slices.IndexFunc(out, func(t tier) bool { return t.hostRank == hr && t.origRank == or })
		if i < 0 {
			out = append(out, tier{hostRank: hr, origRank: or})
			i = len(out) - 1
		}
		if h.host != "" {
			out[i].hosts = append(out[i].hosts, h.host)
		}
	}
	slices.SortStableFunc(out, func(a, b tier) int {
		if c := a.hostRank.compare(b.hostRank); c != 0 {
			return c
		}
		return a.origRank.compare(b.origRank)
	})
	return out
}

// candidates makes the model routes of one rule on one listener the route
// attaches to.
func (t *translator) candidates(d *document, a attachment, r *ruleOut) {
	gl := a.gl
	ts := tiers(a.hosts)
	for _, m := range r.matches {
		for k, tr := range ts {
			name := nsName(d.Ref) + kindSegment(d) + "/r" + strconv.Itoa(r.index) + "/m" + strconv.Itoa(m.index) + "/" + gl.spec.Name
			if len(ts) > 1 && k > 0 {
				name += "/h" + strconv.Itoa(k)
			}
			rt := r.route
			rt.Name = name
			rt.Match = m.match
			rt.Match.Hosts = tr.hosts
			rt.Labels = t.routeLabels(d, r, gl)
			origin, base := d.Piece("routes", m.path)
			d.Rename(base+".name", "metadata.name")
			for from, to := range r.renames {
				d.Rename(base+"."+from, to)
			}
			for from, to := range m.renames {
				d.Rename(base+"."+from, to)
			}
			rt.Origin = origin
			gl.routes = append(gl.routes, &candidate{
				route: rt, doc: d, rule: r.index, match: m.index, tier: k,
				hostRank: tr.hostRank, origRank: tr.origRank, prec: m.prec,
			})
		}
	}
}

// kindSegment is what a GRPCRoute's route names have after
// "NAMESPACE/NAME" ("/grpc"), so that they never collide with those of an
// HTTPRoute of the same name; "" for an HTTPRoute.
func kindSegment(d *document) string {
	if d.grpc != nil {
		return "/grpc"
	}
	return ""
}

// routeLabels are the labels of the model routes of rule r on listener gl.
func (t *translator) routeLabels(d *document, r *ruleOut, gl *gwListener) model.Labels {
	kindLabel := LabelHTTPRoute
	if d.grpc != nil {
		kindLabel = LabelGRPCRoute
	}
	l := model.Labels{
		kindLabel:     nsName(d.Ref),
		LabelGateway:  nsName(t.gw.Ref),
		LabelListener: gl.spec.Name,
	}
	if r.name != "" {
		l[LabelRule] = r.name
	}
	return l
}

// compareCandidates orders the routes of one listener by the API's
// precedence: hostnames (the served one, then the route's own), the
// match (see compareMatches), then the oldest route (creationTimestamp;
// routes without one after those with), then "namespace/name", then rule
// and match order.
func compareCandidates(a, b *candidate) int {
	if c := a.hostRank.compare(b.hostRank); c != 0 {
		return c
	}
	if c := a.origRank.compare(b.origRank); c != 0 {
		return c
	}
	if c := compareMatches(a.prec, b.prec); c != 0 {
		return c
	}
	if a.doc != b.doc {
		ta, tb := a.doc.created, b.doc.created
		switch {
		case ta.IsZero() != tb.IsZero():
			if ta.IsZero() {
				return 1
			}
			return -1
		case !ta.Equal(tb):
			return ta.Compare(tb)
		}
		if c := cmp.Compare(nsName(a.doc.Ref), nsName(b.doc.Ref)); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(a.rule, b.rule); c != 0 {
		return c
	}
	if c := cmp.Compare(a.match, b.match); c != 0 {
		return c
	}
	return cmp.Compare(a.tier, b.tier)
}

// compareMatches orders two matches by the API's precedence. An
// HTTPRoute's: an Exact path, the longest PathPrefix, the longest
// RegularExpression, a method, the most headers, the most query
// parameters. A GRPCRoute's: the longest service, the longest method, the
// most headers. HTTPRoutes come before GRPCRoutes: on one listener they
// share no hostname (resolveKindConflicts), so this only keeps the order
// stable.
func compareMatches(pa, pb precedence) int {
	if pa.grpc != pb.grpc {
		if pb.grpc {
			return -1
		}
		return 1
	}
	if pa.grpc {
		if c := cmp.Compare(pb.serviceLen, pa.serviceLen); c != 0 {
			return c
		}
		if c := cmp.Compare(pb.methodLen, pa.methodLen); c != 0 {
			return c
		}
		return cmp.Compare(pb.headers, pa.headers)
	}
	if c := cmp.Compare(pb.pathClass, pa.pathClass); c != 0 {
		return c
	}
	if c := cmp.Compare(pb.pathLen, pa.pathLen); c != 0 {
		return c
	}
	if pa.method != pb.method {
		if pa.method {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(pb.headers, pa.headers); c != 0 {
		return c
	}
	return cmp.Compare(pb.query, pa.query)
}

// emit writes the model listeners and routes. On each port, the
// listeners are taken from the most specific hostname to the least, each
// with its routes in precedence order; a listener with a hostname that a
// less specific listener on the port also accepts ends with a route that
// answers 404 for its hostname, so that its requests never reach the
// other listener's routes (the API's listener isolation).
func (t *translator) emit() {
	for _, g := range t.ports {
		t.out.Listeners = append(t.out.Listeners, t.modelListener(g))
		ls := slices.Clone(g.listeners)
		slices.SortStableFunc(ls, func(a, b *gwListener) int { return compareListenerHosts(a.hostname, b.hostname) })
		for i, gl := range ls {
			slices.SortStableFunc(gl.routes, compareCandidates)
			for _, c := range gl.routes {
				r := c.route
				r.Listener = g.name
				t.out.Routes = append(t.out.Routes, r)
			}
			if gl.hostname != "" && slices.ContainsFunc(ls[i+1:], func(o *gwListener) bool { return covers(o.hostname, gl.hostname) }) {
				t.out.Routes = append(t.out.Routes, t.isolation(g, gl))
			}
		}
	}
}

// covers reports whether a listener of hostname l also accepts every
// request for hostname h.
func covers(l, h string) bool {
	return l == "" || (isWildcard(l) && wildcardCovers(l, h))
}

// isolation is the route that ends a listener's routes: 404 for the rest
// of its hostname's requests.
func (t *translator) isolation(g *portGroup, gl *gwListener) model.Route {
	d := t.gw
	origin, base := d.Piece("routes", gl.path)
	d.Rename(base+".match.hosts[0]", strictyaml.Field(gl.path, "hostname"))
	return model.Route{
		Name:         nsName(d.Ref) + "/" + gl.spec.Name + "/isolation",
		Listener:     g.name,
		Labels:       model.Labels{LabelGateway: nsName(d.Ref), LabelListener: gl.spec.Name},
		Match:        model.RouteMatch{Hosts: []string{gl.hostname}},
		RouteActions: model.RouteActions{DirectResponse: &model.DirectResponse{Status: 404}},
		Origin:       origin,
	}
}
