package istio

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"jwtgate.dev/jwtgate/internal/kube"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// meshGateway is the reserved gateway name of sidecars.
const meshGateway = "mesh"

// vhost is one virtual host of a port, as Envoy's route configuration of
// an Istio gateway holds them: a host pattern and the VirtualServices
// whose routes it serves, in order.
type vhost struct {
	host string
	// redirect is set when a server of the host has httpsRedirect: every
	// request is answered with a redirect to https.
	redirect bool
	// server is the first server that made it (with httpsRedirect, the
	// first such server).
	server portServer
	vss    []*document
}

// group is a run of virtual hosts, in the order they are tried, that
// serve the same routes: one model route serves them all.
type group struct {
	hosts    []string
	redirect bool
	server   portServer
	vss      []*document
}

// virtualServices translates the VirtualServices bound to the chosen
// gateways into routes, port by port. Envoy chooses a virtual host by
// the request's host (an exact host before wildcards, a longer suffix
// before a shorter one, "*" last) and then the first of its routes that
// matches, the VirtualServices' routes in order, oldest VirtualService
// first; a request that none matches is 404, even where a wider host's
// routes would match. The model's routes are one ordered list: the
// virtual hosts are laid out from the most specific, and a virtual host
// whose routes do not take every request and that a later, wider one
// covers ends with a route that answers 404 ("no-route").
func (t *translator) virtualServices() {
	var vss []*document
	for _, d := range t.s.docs {
		if d.vs != nil && !d.dup {
			vss = append(vss, d)
		}
	}
	slices.SortStableFunc(vss, byAge)
	bound := map[*document]bool{}
	for _, d := range vss {
		bound[d] = t.bind(d)
	}
	type portGroups struct {
		pt     *port
		groups []group
	}
	var all []portGroups
	served := map[*document][]string{} // "port host" of each group serving it
	for _, pt := range t.ports {
		groups := t.vhosts(pt, vss, bound)
		all = append(all, portGroups{pt, groups})
		for _, g := range groups {
			for _, d := range g.vss {
				served[d] = append(served[d], strconv.Itoa(pt.number)+" "+g.hosts[0])
			}
		}
	}
	actions := map[*document][]*action{}
	for _, d := range vss {
		if bound[d] && len(served[d]) == 0 {
			d.Note(model.ReasonNotSelected, "not served: none of its hosts (%s) is a host of the servers of Gateway %s", strings.Join(d.vs.Spec.Hosts, ", "), t.gatewayNames())
			d.Muted = true
		}
		if d.Muted {
			// Checked for what Istio would refuse; nothing is served.
			for i, h := range d.vs.Spec.HTTP {
				p := strictyaml.Index("spec.http", i)
				t.httpAction(d, h, p)
				for j, m := range h.Match {
					t.match(d, m, strictyaml.Index(strictyaml.Field(p, "match"), j), nil, nil)
				}
			}
			continue
		}
		for i, h := range d.vs.Spec.HTTP {
			a, _ := t.httpAction(d, h, strictyaml.Index("spec.http", i))
			actions[d] = append(actions[d], a)
		}
		if d.Has("spec.tcp") || d.Has("spec.tls") {
			k := "spec.tcp"
			if !d.Has(k) {
				k = "spec.tls"
			}
			d.NotServed(k, "not served: jwtgate serves HTTP routes only")
		}
		if len(d.vs.Spec.HTTP) == 0 {
			d.Note(model.ReasonUnsupported, "nothing of it is served: it has no http routes, and jwtgate serves HTTP routes only")
		}
	}
	for _, pg := range all {
		for gi, g := range pg.groups {
			catchAll := t.emitGroup(pg.pt, g, actions, served)
			if catchAll {
				continue
			}
			var guard []string
			for _, h := range g.hosts {
				for _, later := range pg.groups[gi+1:] {
					if slices.ContainsFunc(later.hosts, func(x string) bool { return hostWithin(h, x) }) {
						guard = append(guard, h)
						break
					}
				}
			}
			if len(guard) > 0 {
				t.noRoute(pg.pt, g, guard)
			}
		}
	}
}

// bind reports whether the VirtualService d is bound to a gateway jwtgate
// serves, and records why when it is not.
func (t *translator) bind(d *document) bool {
	spec := d.vs.Spec
	if !t.exported(d) {
		d.Note(model.ReasonNotSelected, "not served: its exportTo (%s) does not reach the namespace %s of the workload jwtgate stands for", strings.Join(spec.ExportTo, ", "), t.s.workloadNamespace())
		return false
	}
	gws := spec.Gateways
	if len(gws) == 0 {
		gws = []string{meshGateway}
	}
	var named []string
	for i, g := range gws {
		if g == "" {
			d.Errorf(strictyaml.Index("spec.gateways", i), "empty gateway name")
			continue
		}
		if t.isServed(d, g) {
			d.Muted = false
			return true
		}
		if g != meshGateway {
			ns, name := gatewayRef(g, d.Ref.Namespace)
			named = append(named, ns+"/"+name)
		}
	}
	switch {
	case len(named) == 0:
		d.Note(model.ReasonNotSelected, "not served: it routes for sidecars (gateways: mesh), and jwtgate serves Istio Gateways")
	case len(t.s.gateways) == 0:
		d.Note(model.ReasonNotSelected, "not served: it is bound to Gateway %s, and jwtgate serves no Istio Gateway", strings.Join(named, ", "))
	case !slices.ContainsFunc(named, t.gatewayInFiles):
		msg := "not served: no Gateway " + strings.Join(named, ", ") + " in the files"
		d.Add(model.Warning, "spec.gateways", d.Lines.Find("spec.gateways"), "%s", msg)
		d.Note(model.ReasonTargetNotFound, "spec.gateways: %s", msg)
	default:
		d.Note(model.ReasonNotSelected, "not served: it is bound to Gateway %s, and jwtgate serves Gateway %s", strings.Join(named, ", "), t.gatewayNames())
	}
	return false
}

// exported reports whether the VirtualService is visible to the workload
// jwtgate stands for: exportTo empty or "*", ".", or its namespace.
func (t *translator) exported(d *document) bool {
	if len(d.vs.Spec.ExportTo) == 0 {
		return true
	}
	ns := t.s.workloadNamespace()
	for _, e := range d.vs.Spec.ExportTo {
		if e == "*" || e == ns || e == "." && d.Ref.Namespace == ns {
			return true
		}
	}
	return false
}

// gatewayRef reads a VirtualService's gateway reference: "NS/NAME",
// "NAME" (in the VirtualService's namespace) or the deprecated
// "NAME.NS.svc.cluster.local".
func gatewayRef(g, vsNamespace string) (ns, name string) {
	if ns, name, ok := strings.Cut(g, "/"); ok {
		return ns, name
	}
	if name, rest, ok := strings.Cut(g, "."); ok {
		ns, _, _ := strings.Cut(rest, ".")
		return ns, name
	}
	return vsNamespace, g
}

// isServed reports whether the gateway reference g of document d names a
// Gateway jwtgate serves.
func (t *translator) isServed(d *document, g string) bool {
	if g == meshGateway {
		return false
	}
	ns, name := gatewayRef(g, d.Ref.Namespace)
	return slices.ContainsFunc(t.s.gateways, func(gw *document) bool { return gw.Ref.Namespace == ns && gw.Ref.Name == name })
}

// gatewayInFiles reports whether the files hold the Gateway "ns/name".
func (t *translator) gatewayInFiles(nsName string) bool {
	return slices.ContainsFunc(t.s.docs, func(d *document) bool { return d.gw != nil && d.Name() == nsName })
}

// gatewayNames names the gateways jwtgate serves.
func (t *translator) gatewayNames() string {
	var out []string
	for _, d := range t.s.gateways {
		out = append(out, d.Name())
	}
	return strings.Join(out, ", ")
}

// vhosts builds the virtual hosts of port pt, as Istio does: for each
// server, in order, the hosts each bound VirtualService shares with it
// (the narrower of two patterns), and the hosts of servers with
// httpsRedirect; then orders them as Envoy tries them and groups the
// runs that serve the same routes.
func (t *translator) vhosts(pt *port, vss []*document, bound map[*document]bool) []group {
	byHost := map[string]*vhost{}
	var order []*vhost
	get := func(h string, e portServer) *vhost {
		if v := byHost[h]; v != nil {
			return v
		}
		v := &vhost{host: h, server: e}
		byHost[h] = v
		order = append(order, v)
		return v
	}
	for _, e := range pt.servers {
		redirect := e.srv.TLS != nil && e.srv.TLS.HTTPSRedirect
		for _, d := range vss {
			if !bound[d] || !slices.ContainsFunc(d.vs.Spec.Gateways, func(g string) bool { return t.isGateway(d, g, e.gw) }) {
				continue
			}
			for _, h := range intersect(e, d) {
				v := get(h, e)
				if redirect && !v.redirect {
					v.redirect, v.server = true, e
				}
				if !slices.Contains(v.vss, d) {
					v.vss = append(v.vss, d)
				}
			}
		}
		if redirect {
			for _, sh := range e.srv.Hosts {
				if _, h, ok := serverHost(sh); ok {
					if v := get(strings.ToLower(h), e); !v.redirect {
						v.redirect, v.server = true, e
					}
				}
			}
		}
	}
	slices.SortStableFunc(order, func(a, b *vhost) int { return specificity(a.host, b.host) })
	var groups []group
	for _, v := range order {
		if n := len(groups); n > 0 {
			last := &groups[n-1]
			if last.redirect == v.redirect && slices.Equal(last.vss, v.vss) && (v.redirect || len(v.vss) > 0) {
				last.hosts = append(last.hosts, v.host)
				continue
			}
		}
		groups = append(groups, group{hosts: []string{v.host}, redirect: v.redirect, server: v.server, vss: v.vss})
	}
	return groups
}

// isGateway reports whether document d's gateway reference g names gw.
func (t *translator) isGateway(d *document, g string, gw *document) bool {
	if g == meshGateway {
		return false
	}
	ns, name := gatewayRef(g, d.Ref.Namespace)
	return gw.Ref.Namespace == ns && gw.Ref.Name == name
}

// intersect returns the hosts the VirtualService d shares with server e:
// for each of the server's hosts its namespace admits d in, and each of
// d's hosts (a short name is a Service of d's namespace), the narrower.
func intersect(e portServer, d *document) []string {
	var out []string
	for _, sh := range e.srv.Hosts {
		ns, h, ok := serverHost(sh)
		if !ok || !(ns == "*" || ns == d.Ref.Namespace || ns == "." && e.gw.Ref.Namespace == d.Ref.Namespace) {
			continue
		}
		for _, vh := range d.vs.Spec.Hosts {
			if !hostPattern(vh) {
				continue
			}
			if vh != "*" && !strings.Contains(vh, ".") {
				vh = vh + "." + d.Ref.Namespace + ".svc." + kube.ClusterDomain
			}
			if x := intersectHost(strings.TrimSuffix(vh, "."), strings.TrimSuffix(h, ".")); x != "" && !slices.Contains(out, x) {
				out = append(out, x)
			}
		}
	}
	return out
}

// specificity orders host patterns as Envoy chooses virtual hosts: exact
// hosts first, then wildcards by the length of their suffix (longest
// first), "*" last; ties by name.
func specificity(a, b string) int {
	rank := func(h string) (int, int) {
		switch {
		case h == "*":
			return 2, 0
		case strings.HasPrefix(h, "*"):
			return 1, -len(h)
		}
		return 0, 0
	}
	ra, la := rank(a)
	rb, lb := rank(b)
	if c := cmp.Compare(ra, rb); c != 0 {
		return c
	}
	if c := cmp.Compare(la, lb); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// matchHosts are the route hosts of a group: nil (any) when it holds "*".
func matchHosts(hosts []string) []string {
	if slices.Contains(hosts, "*") {
		return nil
	}
	return slices.Clone(hosts)
}

// emitGroup makes the routes of one group and reports whether one of
// them takes every request of its hosts.
func (t *translator) emitGroup(pt *port, g group, actions map[*document][]*action, served map[*document][]string) bool {
	if g.redirect {
		e := g.server
		d := e.gw
		origin, base := d.Piece("routes", strictyaml.Field(e.path, "tls.httpsRedirect"))
		d.Rename(base+".listener", strictyaml.Field(e.path, "port"))
		d.Rename(base+".match.hosts", strictyaml.Field(e.path, "hosts"))
		t.out.Routes = append(t.out.Routes, model.Route{
			Name: pt.name + "/https-redirect@" + g.hosts[0], Listener: pt.name, Origin: origin,
			Match:        model.RouteMatch{Hosts: matchHosts(g.hosts)},
			RouteActions: model.RouteActions{Redirect: &model.Redirect{Scheme: "https", Status: 301}},
		})
		return true
	}
	catchAll := false
	for _, d := range g.vss {
		suffix := ""
		if s := served[d]; len(s) > 1 {
			suffix = "@" + g.hosts[0]
			ports := map[string]bool{}
			for _, x := range s {
				p, _, _ := strings.Cut(x, " ")
				ports[p] = true
			}
			if len(ports) > 1 {
				suffix += ":" + strconv.Itoa(pt.number)
			}
		}
		for i, h := range d.vs.Spec.HTTP {
			a := actions[d][i]
			if a == nil {
				continue
			}
			catchAll = t.httpRoute(d, i, h, a, pt, g, suffix) || catchAll
		}
	}
	return catchAll
}

// httpRoute makes the model routes of http[i] of the VirtualService d in
// group g, one per match, and reports whether one takes every request.
func (t *translator) httpRoute(d *document, i int, h httpRoute, a *action, pt *port, g group, suffix string) bool {
	p := strictyaml.Index("spec.http", i)
	name := d.Name() + "/" + strconv.Itoa(i)
	if h.Name != "" && !slices.ContainsFunc(d.vs.Spec.HTTP[:i], func(o httpRoute) bool { return o.Name == h.Name }) {
		name = d.Name() + "/" + h.Name
	}
	matches := h.Match
	if len(matches) == 0 {
		matches = []httpMatch{{}}
	}
	all := false
	for j, m := range matches {
		mp := strictyaml.Index(strictyaml.Field(p, "match"), j)
		if len(h.Match) == 0 {
			mp = ""
		}
		rm, kind, hmFrom, qFrom, ok := t.match(d, m, mp, pt, matchHosts(g.hosts))
		if !ok {
			continue
		}
		rn := name
		if len(matches) > 1 {
			rn += "#" + strconv.Itoa(j)
		}
		origin, base := d.Piece("routes", p)
		r := model.Route{
			Name: rn + suffix, Listener: pt.name, Match: rm, Origin: origin,
			Backend: a.backend, Backends: slices.Clone(a.backends), RouteActions: a.actions,
		}
		t.renameRoute(d, base, p, mp, a, hmFrom, qFrom)
		t.rewriteURI(d, &r, a, kind, mp)
		t.out.Routes = append(t.out.Routes, r)
		all = all || everything(r.Match)
	}
	return all
}

// everything reports whether a match takes every request of its hosts.
func everything(m model.RouteMatch) bool {
	paths := len(m.Paths) == 0 || slices.ContainsFunc(m.Paths, func(p model.PathMatch) bool { return p.Kind == model.PathPrefix && p.Value == "/" })
	return paths && len(m.Methods) == 0 && len(m.Headers) == 0 && len(m.HeaderMatches) == 0 && len(m.Query) == 0
}

// renameRoute maps the model route's fields to the document's.
func (t *translator) renameRoute(d *document, base, p, mp string, a *action, hmFrom, qFrom []string) {
	d.Rename(base+".name", strictyaml.Field(p, "name"))
	d.Rename(base+".listener", "spec.gateways")
	d.Rename(base+".match.hosts", "spec.hosts")
	if mp != "" {
		d.Rename(base+".match.paths", strictyaml.Field(mp, "uri"))
		d.Rename(base+".match.methods", strictyaml.Field(mp, "method"))
		d.Rename(base+".match.headerMatches", strictyaml.Field(mp, "headers"))
		d.Rename(base+".match.query", strictyaml.Field(mp, "queryParams"))
		for k, at := range hmFrom {
			d.Rename(strictyaml.Index(base+".match.headerMatches", k), at)
		}
		for k, at := range qFrom {
			d.Rename(strictyaml.Index(base+".match.query", k), at)
		}
	}
	d.Rename(base+".redirect", strictyaml.Field(p, "redirect"))
	d.Rename(base+".redirect.host", strictyaml.Field(p, "redirect.authority"))
	d.Rename(base+".redirect.status", strictyaml.Field(p, "redirect.redirectCode"))
	d.Rename(base+".redirect.path", strictyaml.Field(p, "redirect.uri"))
	d.Rename(base+".directResponse", strictyaml.Field(p, "directResponse"))
	d.Rename(base+".directResponse.body", strictyaml.Field(p, "directResponse.body"))
	d.Rename(base+".rewrite", strictyaml.Field(p, "rewrite"))
	d.Rename(base+".rewrite.host", strictyaml.Field(p, "rewrite.authority"))
	d.Rename(base+".rewrite.path", strictyaml.Field(p, "rewrite.uri"))
	d.Rename(base+".requestHeaders", strictyaml.Field(p, "headers.request"))
	d.Rename(base+".responseHeaders", strictyaml.Field(p, "headers.response"))
	d.Rename(base+".backend.timeout", strictyaml.Field(p, "timeout"))
	for from, to := range a.renames {
		d.Rename(base+from, to)
	}
}

// noRoute makes the route that ends a group whose hosts a later, wider
// virtual host covers: it answers 404, as Envoy does when no route of
// the chosen virtual host matches, instead of letting the request reach
// the wider host's routes.
func (t *translator) noRoute(pt *port, g group, hosts []string) {
	e := pt.servers[0]
	d := e.gw
	origin, base := d.Piece("routes", strictyaml.Field(e.path, "hosts"))
	d.Rename(base+".listener", strictyaml.Field(e.path, "port"))
	t.out.Routes = append(t.out.Routes, model.Route{
		Name: pt.name + "/no-route@" + g.hosts[0], Listener: pt.name, Origin: origin,
		Match:        model.RouteMatch{Hosts: hosts},
		RouteActions: model.RouteActions{DirectResponse: &model.DirectResponse{Status: 404}},
	})
}
