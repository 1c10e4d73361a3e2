package tsb

import (
	"strings"

	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// readNamespaces reads a Workspace's or a Group's
// namespaceSelector.names, "cluster/ns" strings, into namespace patterns.
// jwtgate knows no clusters: the cluster part is ignored. "ns" is exact,
// "ns*" a prefix and "*" any namespace.
func (d *document) readNamespaces(sel *namespaceSelector) {
	if sel == nil {
		if !d.Has("spec.namespaceSelector") {
			d.Errorf("spec", "missing required field %q", "namespaceSelector")
		}
		return
	}
	for i, n := range sel.Names {
		p := strictyaml.Index("spec.namespaceSelector.names", i)
		cluster, ns, ok := strings.Cut(n, "/")
		switch {
		case !ok || cluster == "" || ns == "" || strings.Contains(ns, "/"):
			d.Errorf(p, "invalid name %q: want CLUSTER/NAMESPACE, such as */bookinfo or c1/ns*", n)
			continue
		case strings.Contains(strings.TrimSuffix(ns, "*"), "*"):
			d.Errorf(p, "invalid namespace %q: \"*\" may only end it (a prefix) or stand alone", ns)
			continue
		case cluster != "*" && strings.Contains(strings.TrimSuffix(cluster, "*"), "*"):
			d.Errorf(p, "invalid cluster %q: \"*\" may only end it (a prefix) or stand alone", cluster)
			continue
		}
		if !contains(d.namespaces, ns) {
			d.namespaces = append(d.namespaces, ns)
		}
	}
}

// trafficSetting checks a TrafficSetting. It configures the workloads'
// sidecars (where they send traffic for external hosts), not the
// gateway: nothing of it enters the model.
func (d *document) trafficSetting() {
	s := d.traffic.Spec
	check := func(e *egressHost, p string) {
		if e == nil {
			return
		}
		hp := strictyaml.Field(p, "host")
		ns, fqdn, ok := strings.Cut(e.Host, "/")
		switch {
		case e.Host == "":
			if !d.Reported(hp) {
				d.Errorf(p, "missing required field %q", "host")
			}
		case !ok || ns == "" || fqdn == "" || strings.Contains(fqdn, "/") || strings.Contains(e.Host, "*"):
			d.Errorf(hp, "invalid host %q: want <namespace>/<fqdn> of the egress gateway's service, such as istio-system/istio-egressgateway.istio-system.svc.cluster.local", e.Host)
		}
	}
	reach := func(r *reachability, p string) {
		if r == nil {
			return
		}
		switch r.Mode {
		case "", "UNSET", "CUSTOM", "NAMESPACE", "GROUP", "WORKSPACE", "CLUSTER":
		default:
			d.Warnf(strictyaml.Field(p, "mode"), "unknown mode %q", r.Mode)
		}
		for i, h := range r.Hosts {
			ns, host, ok := strings.Cut(h, "/")
			if !ok || ns == "" || host == "" || strings.Contains(host, "/") {
				d.Errorf(strictyaml.Index(strictyaml.Field(p, "hosts"), i), "invalid host %q: want NAMESPACE/HOST, such as ./* or istio-system/*", h)
			}
		}
	}
	check(s.Egress, "spec.egress")
	reach(s.Reachability, "spec.reachability")
	if o := s.Outbound; o != nil {
		check(o.Egress, "spec.outbound.egress")
		reach(o.Reachability, "spec.outbound.reachability")
		if s.Egress != nil && o.Egress != nil && s.Egress.Host != o.Egress.Host {
			d.Warnf("spec.egress.host", "differs from outbound.egress.host, which replaces this deprecated field")
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
