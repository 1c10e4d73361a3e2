package gloo

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// route is one model route made from a RouteTable's http route, with
// what JWT policies select it by.
type route struct {
	doc *document
	m   model.Route
	// own and table are the route's labels and its table's; a policy's
	// route selector matches when its labels are all in either.
	own, table map[string]string
	// dests are the Services the route forwards to.
	dests []dest
}

// routeTables translates the route tables jwtgate serves, in the order
// Gloo tries them: by weight (highest first), then oldest first.
func (t *translator) routeTables() {
	var tables []*document
	for _, d := range t.s.docs {
		if d.rt != nil {
			tables = append(tables, d)
		}
	}
	slices.SortStableFunc(tables, func(a, b *document) int {
		if c := cmp.Compare(b.rt.Spec.Weight, a.rt.Spec.Weight); c != 0 {
			return c
		}
		return byAge(a, b)
	})
	for _, d := range tables {
		if !d.dup {
			t.routeTable(d)
		}
	}
}

// binding is where a route table is served: a listener and the hosts it
// serves there (with the index in spec.hosts each came from).
type binding struct {
	listener string
	port     int // 0 for the mesh listener
	hosts    []string
	from     []int
}

// routeTable checks one route table and translates it where it is
// served.
func (t *translator) routeTable(d *document) {
	spec := d.rt.Spec
	for _, f := range []struct{ key, what string }{
		{"tcp", "TCP routes are not served: jwtgate serves HTTP routes"},
		{"tls", "TLS (SNI passthrough) routes are not served: jwtgate serves HTTP routes"},
		{"applyToDestinations", "producer-side routing (waypoints) is not served: jwtgate serves the table where its virtualGateways or workloadSelectors say"},
	} {
		if d.Has("spec." + f.key) {
			d.NotServed("spec."+f.key, "%s", f.what)
		}
	}
	if len(spec.HTTP) == 0 && !d.Has("spec.tcp") && !d.Has("spec.tls") && !d.Reported("spec.http") {
		d.Errorf("spec", "missing required field %q (at least one of http, tcp or tls)", "http")
	}
	if len(spec.Hosts) == 0 {
		if !d.Reported("spec.hosts") {
			d.Note(model.ReasonUnsupported, "not served: a route table without hosts is a delegated table, served only through a parent's delegate action, which jwtgate does not support")
		}
		return
	}
	hosts, from := t.hosts(d)
	if len(hosts) == 0 {
		d.Note(model.ReasonUnsupported, "not served: jwtgate can match none of its hosts")
		return
	}
	var binds []binding
	switch {
	case t.gw != nil:
		binds = t.gatewayBindings(d, hosts, from)
	case t.mesh:
		if len(spec.VirtualGateways) > 0 && len(spec.WorkloadSelectors) == 0 {
			d.Note(model.ReasonNotSelected, "not served: it is for its virtualGateways only (no workloadSelectors), and jwtgate stands for a workload's sidecar (%s)", describeSelection(t.s.sel))
			return
		}
		ok, why := t.meshSelected(d)
		if !ok {
			d.Note(model.ReasonNotSelected, "not served: %s", why)
			return
		}
		binds = []binding{{listener: MeshListener, hosts: hosts, from: from}}
	case t.s.sel.Gateway != "" && !t.failed:
		d.Note(model.ReasonNotSelected, "not served: jwtgate serves gateway %s, which is no VirtualGateway in the files", t.s.sel.Gateway)
		return
	case len(spec.VirtualGateways) > 0:
		d.Note(model.ReasonNotSelected, "not served: jwtgate serves no VirtualGateway (see the error about choosing one)")
		return
	default:
		d.Note(model.ReasonNotSelected, "not served: it routes for sidecars (no virtualGateways), and jwtgate stands for no workload; "+
			"to serve it, give --workload-namespace NS --workload-labels k=v,... (or the glue document's workload key) and a native listener named %q", MeshListener)
		return
	}
	if len(binds) == 0 {
		return
	}
	served := 0
	for i, b := range binds {
		suffix := ""
		if len(binds) > 1 {
			suffix = "@" + strconv.Itoa(b.port)
		}
		served += t.httpRoutes(d, b, suffix, i == 0)
	}
	if served == 0 && len(spec.HTTP) > 0 {
		d.Note(model.ReasonUnsupported, "nothing of it is served: none of its http routes can be matched by jwtgate")
	}
}

// gatewayBindings finds the listeners of the chosen VirtualGateway the
// route table binds to, and the hosts it serves on each.
func (t *translator) gatewayBindings(d *document, hosts []string, from []int) []binding {
	spec := d.rt.Spec
	if len(spec.VirtualGateways) == 0 {
		d.Note(model.ReasonNotSelected, "not served: it routes for sidecars (no virtualGateways), and jwtgate serves VirtualGateway %q", t.gw.Name())
		return nil
	}
	named := false
	var others []string
	for i, r := range spec.VirtualGateways {
		ns := cmp.Or(r.Namespace, d.Ref.Namespace)
		if r.Name == "" && !d.Reported(strictyaml.Field(strictyaml.Index("spec.virtualGateways", i), "name")) {
			d.Errorf(strictyaml.Index("spec.virtualGateways", i), "missing required field %q", "name")
			continue
		}
		if ns == t.gw.Ref.Namespace && r.Name == t.gw.Ref.Name {
			named = true
			continue
		}
		others = append(others, ns+"/"+r.Name)
	}
	if !named {
		for _, o := range others {
			if t.vgExists(o) {
				d.Note(model.ReasonNotSelected, "not served: it is for VirtualGateway %s, and jwtgate serves VirtualGateway %q", strings.Join(others, ", "), t.gw.Name())
				return nil
			}
		}
		if len(others) > 0 {
			d.NotFound("spec.virtualGateways", "not served: no VirtualGateway %s in the files", strings.Join(others, ", "))
		}
		return nil
	}
	var out []binding
	for _, pt := range t.ports {
		if pt.redirect {
			continue
		}
		b := binding{listener: pt.name, port: pt.number}
		for _, e := range pt.entries {
			t.allowedHosts(d, e, hosts, from, &b)
		}
		if len(b.hosts) > 0 {
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		d.Note(model.ReasonNotSelected, "not served: no HTTP listener of VirtualGateway %q serves its hosts (allowedRouteTables)", t.gw.Name())
	}
	return out
}

// hosts are the route table's hosts jwtgate can match, with the index
// in spec.hosts of each. Gloo allows a wildcard in the leftmost label
// only: "*.example.com" is served, "*bar.example.com" is not (jwtgate
// matches whole labels), and is reported. A bare "*", which newer Gloo
// releases reject, is served as any host.
func (t *translator) hosts(d *document) ([]string, []int) {
	var out []string
	var from []int
	for i, h := range d.rt.Spec.Hosts {
		p := strictyaml.Index("spec.hosts", i)
		name := strings.TrimPrefix(h, "*.")
		switch {
		case h == "*":
			d.Warnf(p, "Gloo rejects a bare \"*\" host; jwtgate serves it as any host")
		case strings.HasPrefix(h, "*") && !strings.HasPrefix(h, "*.") && !strings.Contains(h[1:], "*") && hostName(h[1:]):
			d.NotServed(p, "host %q is not served: jwtgate matches a wildcard for a whole label only (*.DOMAIN)", h)
			continue
		case !hostName(name):
			d.Errorf(p, "invalid host %q (want a host name, with a wildcard for the leftmost label only)", h)
			continue
		}
		out, from = append(out, h), append(from, i)
	}
	return out, from
}

// hostName reports whether h is a DNS name: labels of letters, digits and
// "-", separated by dots, with an optional final dot.
func hostName(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' {
			return false
		}
		for _, c := range l {
			if !(c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				return false
			}
		}
	}
	return true
}

// vgExists reports whether the files hold the VirtualGateway "ns/name".
func (t *translator) vgExists(name string) bool {
	for _, d := range t.s.docs {
		if d.vg != nil && d.Name() == name {
			return true
		}
	}
	return false
}

// allowedHosts adds to b the hosts of route table d that the gateway
// listener e admits: all of them without allowedRouteTables, else those
// within an entry's host whose namespace and selector admit the table
// (a table host wider than the entry's is narrowed to it).
func (t *translator) allowedHosts(d *document, e portEntry, hosts []string, from []int, b *binding) {
	add := func(h string, from int) {
		for _, x := range b.hosts {
			if x == h {
				return
			}
		}
		b.hosts, b.from = append(b.hosts, h), append(b.from, from)
	}
	if len(e.l.AllowedRouteTables) == 0 {
		for i, h := range hosts {
			add(h, from[i])
		}
		return
	}
	for _, f := range e.l.AllowedRouteTables {
		ns, host, ok := strings.Cut(f.Host, "/")
		if !ok {
			ns, host = "*", f.Host
		}
		if ns == "." {
			ns = t.gw.Ref.Namespace
		}
		if host == "" || (ns != "*" && ns != d.Ref.Namespace) {
			continue
		}
		if !objectMatches(f.Selector, d.Ref.Namespace, d.Ref.Name, d.meta.Labels) {
			continue
		}
		for i, h := range hosts {
			if x := intersectHost(h, host); x != "" {
				add(x, from[i])
			}
		}
	}
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

// hostWithin reports whether every host of pattern a is a host of
// pattern b: "*" holds every host, "*.x" every host ending in ".x"
// (patterns "*.y.x" included).
func hostWithin(a, b string) bool {
	switch {
	case a == b || b == "*":
		return true
	case strings.HasPrefix(b, "*"):
		suffix := b[1:]
		return strings.HasSuffix(strings.TrimPrefix(a, "*"), suffix) && len(strings.TrimPrefix(a, "*")) > len(suffix)
	}
	return false
}

// httpRoutes translates the table's http routes for one binding and
// returns how many model routes it made.
func (t *translator) httpRoutes(d *document, b binding, suffix string, first bool) int {
	made := 0
	seen := map[string]int{}
	for i, h := range d.rt.Spec.HTTP {
		p := strictyaml.Index("spec.http", i)
		name := strings.TrimPrefix(h.Name, "insecure-")
		switch {
		case name == "":
			name = strconv.Itoa(i)
		case seen[name] > 0:
			n := seen[name]
			seen[name]++
			if first {
				d.Warnf(strictyaml.Field(p, "name"), "route name %q is used by an earlier route: named %q, as Gloo renames it", h.Name, fmt.Sprintf("duplicate-%s-%d", name, n))
			}
			name = fmt.Sprintf("duplicate-%s-%d", name, n)
		}
		seen[name]++
		made += t.httpRoute(d, b, h, p, d.Name()+"/"+name, suffix)
	}
	return made
}

// httpRoute translates one http route at path p, one model route per
// matcher, and returns how many it made.
func (t *translator) httpRoute(d *document, b binding, h httpRoute, p, gloo, suffix string) int {
	act, ok := t.action(d, h, p)
	if !ok {
		return 0
	}
	matchers := h.Matchers
	if len(matchers) == 0 {
		matchers = []httpMatcher{{}}
	}
	made := 0
	for j, hm := range matchers {
		mp := strictyaml.Index(strictyaml.Field(p, "matchers"), j)
		if len(h.Matchers) == 0 {
			mp = ""
		}
		m, uri, hmFrom, ok := t.matcher(d, hm, mp, b.port)
		if !ok {
			continue
		}
		m.Hosts = slices.Clone(b.hosts)
		name := gloo
		if len(matchers) > 1 {
			name += "#" + strconv.Itoa(j)
		}
		name += suffix
		r := &route{doc: d, own: h.Labels, table: d.meta.Labels, dests: act.dests}
		origin, base := d.Piece("routes", p)
		r.m = model.Route{
			Name: name, Listener: b.listener, Labels: mergeLabels(d.meta.Labels, h.Labels),
			Match: m, Backend: act.backend, Backends: act.backends, RouteActions: act.actions, Origin: origin,
		}
		t.renameRoute(d, base, b, p, mp, act)
		for k, i := range hmFrom {
			d.Rename(strictyaml.Index(base+".match.headerMatches", k), strictyaml.Index(strictyaml.Field(mp, "headers"), i))
		}
		t.rewrite(d, r, act, uri, mp)
		t.routes = append(t.routes, r)
		t.out.Routes = append(t.out.Routes, r.m)
		made++
	}
	return made
}

// renameRoute maps the model route's fields to the document's.
func (t *translator) renameRoute(d *document, base string, b binding, p, mp string, act *action) {
	d.Rename(base+".name", strictyaml.Field(p, "name"))
	d.Rename(base+".labels", strictyaml.Field(p, "labels"))
	lp := "spec.virtualGateways"
	if b.listener == MeshListener {
		lp = "spec.workloadSelectors"
		if !d.Has(lp) {
			lp = "spec.hosts"
		}
	}
	d.Rename(base+".listener", lp)
	d.Rename(base+".match.hosts", "spec.hosts")
	for k, i := range b.from {
		d.Rename(strictyaml.Index(base+".match.hosts", k), strictyaml.Index("spec.hosts", i))
	}
	if mp != "" {
		d.Rename(base+".match.paths", strictyaml.Field(mp, "uri"))
		d.Rename(base+".match.methods", strictyaml.Field(mp, "method"))
		d.Rename(base+".match.headers", strictyaml.Field(mp, "headers"))
		d.Rename(base+".match.headerMatches", strictyaml.Field(mp, "headers"))
		d.Rename(base+".match.query", strictyaml.Field(mp, "queryParameters"))
	}
	d.Rename(base+".redirect", strictyaml.Field(p, "redirect"))
	d.Rename(base+".redirect.host", strictyaml.Field(p, "redirect.hostRedirect"))
	d.Rename(base+".redirect.status", strictyaml.Field(p, "redirect.responseCode"))
	d.Rename(base+".directResponse", strictyaml.Field(p, "directResponse"))
	d.Rename(base+".rewrite", strictyaml.Field(p, "forwardTo"))
	d.Rename(base+".rewrite.host", strictyaml.Field(p, "forwardTo.hostRewrite"))
	for _, k := range []string{"", ".prefix", ".full"} {
		d.Rename(base+".rewrite.path"+k, strictyaml.Field(p, "forwardTo.pathRewrite"))
		d.Rename(base+".redirect.path"+k, strictyaml.Field(p, "redirect.pathRedirect"))
	}
	for from, to := range act.renames {
		d.Rename(base+from, to)
	}
}

// mergeLabels is the table's labels with the route's over them.
func mergeLabels(table, own map[string]string) model.Labels {
	if len(table) == 0 && len(own) == 0 {
		return nil
	}
	out := model.Labels{}
	for k, v := range table {
		out[k] = v
	}
	for k, v := range own {
		out[k] = v
	}
	return out
}
