package tsb

import (
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// translator turns the chosen gateway into model pieces.
type translator struct {
	s   *session
	d   *document
	out *model.Config
	// name is the gateway's metadata.name, the prefix of every model
	// name; namespace is where its workloads run ("./" in service
	// accounts, mode NAMESPACE).
	name, namespace string
}

// Traffic modes of an http server.
const (
	modeEgress  = "EGRESS"
	modeIngress = "INGRESS"
	modeAuto    = "AUTO"
	modeTransit = "TRANSIT"
)

// gateway translates a Gateway: its EGRESS http servers and its
// egressAuthorization list. Everything else is reported as not served.
func (t *translator) gateway(g *object[gatewaySpec]) {
	d := t.d
	served := 0
	for i, h := range g.Spec.HTTP {
		if t.httpServer(h, strictyaml.Index("spec.http", i)) {
			served++
		}
	}
	for _, f := range []struct {
		key, what string
	}{
		{"tcp", "TCP servers are not served: jwtgate serves EGRESS http servers only"},
		{"tls", "TLS passthrough servers are not served: jwtgate serves EGRESS http servers only"},
		{"waf", "the web application firewall is not enforced by jwtgate"},
		{"wasmPlugins", "WASM plugins are not run by jwtgate"},
		{"extension", "extensions are not run by jwtgate"},
	} {
		if d.Has("spec." + f.key) {
			d.NotServed("spec."+f.key, "%s", f.what)
		}
	}
	if g.Spec.EgressAuthorization != nil || d.Has("spec.egressAuthorization") {
		t.gatewayEgressAuthorization(g.Spec.EgressAuthorization)
		served++
	}
	if served == 0 {
		d.Note(model.ReasonUnsupported, "nothing in this gateway is served: jwtgate serves http servers with trafficMode EGRESS and egressAuthorization")
	}
}

// httpServer translates one http server at path p, and reports whether
// it became an egress server.
func (t *translator) httpServer(h httpServer, p string) bool {
	d := t.d
	label := "this server"
	if h.Name != "" {
		label = "server " + quote(h.Name)
	}
	switch strings.ToUpper(h.TrafficMode) {
	case modeEgress:
	case "", modeAuto, modeIngress, modeTransit:
		mode := h.TrafficMode
		if mode == "" {
			mode = modeAuto + " (the default)"
		}
		at := strictyaml.Field(p, "trafficMode")
		if !d.Has(at) {
			at = p
		}
		d.NotServed(at, "%s is not served: its trafficMode is %s, and jwtgate serves EGRESS servers only", label, mode)
		return false
	default:
		d.Errorf(strictyaml.Field(p, "trafficMode"), "invalid trafficMode %q (want EGRESS, INGRESS, TRANSIT or AUTO)", h.TrafficMode)
		return false
	}
	if h.TrafficMode != modeEgress {
		d.Errorf(strictyaml.Field(p, "trafficMode"), "invalid trafficMode %q: TSB spells it %s", h.TrafficMode, modeEgress)
		return false
	}
	ok := true
	if h.Name == "" && !d.Reported(strictyaml.Field(p, "name")) {
		d.Errorf(p, "missing required field %q", "name")
		ok = false
	}
	if h.Hostname == "" && !d.Reported(strictyaml.Field(p, "hostname")) {
		d.Errorf(p, "missing required field %q", "hostname")
		ok = false
	}
	if h.Port != nil {
		d.Errorf(strictyaml.Field(p, "port"), "not allowed with trafficMode EGRESS: callers reach EGRESS servers on the egress listener (port 15443)")
	}
	if d.Has(strictyaml.Field(p, "transit")) {
		d.Warnf(strictyaml.Field(p, "transit"), "ignored: deprecated, and trafficMode EGRESS decides")
	}
	for _, f := range []struct{ key, what string }{
		{"extensions", "extensions are not run by jwtgate"},
		{"rateLimiting", "rate limits are not enforced by jwtgate"},
		{"failoverSettings", "failover settings do not apply to jwtgate"},
		{"openapi", "OpenAPI-based routing is not served by jwtgate"},
	} {
		if d.Has(strictyaml.Field(p, f.key)) {
			d.NotServed(strictyaml.Field(p, f.key), "%s", f.what)
		}
	}
	if !ok {
		return false
	}
	name := t.name + "/" + h.Name
	origin, base := d.Piece("servers", p)
	s := model.EgressServer{Name: name, Host: h.Hostname, Origin: origin}
	d.Rename(base+".name", strictyaml.Field(p, "name"))
	d.Rename(base+".host", strictyaml.Field(p, "hostname"))

	rt, routed := t.route(h, p, label)
	if !routed {
		return false
	}
	dest, destPath := rt.dest, rt.destPath
	var tls *tlsSettings
	tlsPath := ""
	if dest != nil {
		tls, tlsPath = dest.TLS, strictyaml.Field(destPath, "tls")
		s.Port = derefInt(dest.Port)
		d.Rename(base+".port", strictyaml.Field(destPath, "port"))
		hostPath := strictyaml.Field(destPath, "host")
		d.Rename(base+".destination", hostPath)
		if fqdn, ok := t.destinationHost(dest.Host, hostPath); !ok {
			return false
		} else if !strings.EqualFold(strings.TrimSuffix(fqdn, "."), h.Hostname) {
			s.Destination = fqdn
		}
	}
	if h.TLS != nil {
		sp := strictyaml.Field(p, "tls")
		switch {
		case tls != nil:
			d.Warnf(sp, "ignored: the serviceDestination's tls originates TLS to the external host, and callers reach the gateway over the egress listener's TLS")
		case h.TLS.Files != nil && h.TLS.Files.ServerCertificate != "":
			d.Warnf(sp, "ignored: callers reach EGRESS servers over the egress listener's TLS (the glue document's certificate)")
		default:
			// Read as TLS origination (see the package documentation of
			// the dialect in docs/dialects/tsb.md).
			tls, tlsPath = h.TLS, sp
		}
	}
	if tls != nil {
		o, ok := t.origination(tls, tlsPath, base, label)
		if !ok {
			return false
		}
		s.TLS = o
	}
	if rt.rule != nil {
		tp := strictyaml.Field(rt.rulePath, "timeout")
		d.Rename(base+".timeout", tp)
		if s.Timeout, ok = t.timeout(rt.rule.Timeout, tp); !ok {
			return false
		}
	}
	if a := h.Authentication; a != nil {
		s.JWT = t.authentication(a, strictyaml.Field(p, "authentication"), h.Name, base)
	}
	if a := h.Authorization; a != nil {
		s.Authorization = t.serverAuthorization(a, strictyaml.Field(p, "authorization"), base)
	}
	t.out.Egress.Servers = append(t.out.Egress.Servers, s)
	return true
}

// routed is what a server's routing says: its one rule and where it
// sends requests. Without routing, both are nil: the hostname is the
// destination.
type routed struct {
	rule     *routeRule
	rulePath string
	dest     *serviceDestination
	destPath string
}

// route reads the server's routing: at most one rule, matching every
// request, that routes to a serviceDestination. It returns false when
// the routing cannot be served (the server is then not served at all,
// failing closed).
func (t *translator) route(h httpServer, p, label string) (routed, bool) {
	d := t.d
	rp := strictyaml.Field(p, "routing")
	if h.Routing == nil {
		return routed{}, true
	}
	if d.Has(strictyaml.Field(rp, "corsPolicy")) {
		d.NotServed(strictyaml.Field(rp, "corsPolicy"), "CORS policies are not applied by jwtgate")
	}
	rules := h.Routing.Rules
	switch {
	case len(rules) == 0:
		return routed{}, true
	case len(rules) > 1:
		d.NotServed(strictyaml.Field(rp, "rules"), "%s is not served: jwtgate sends an egress server's requests to one destination, and this server has %d routing rules", label, len(rules))
		return routed{}, false
	}
	r, rulePath := rules[0], strictyaml.Index(strictyaml.Field(rp, "rules"), 0)
	if !catchAll(r.Match) {
		d.NotServed(strictyaml.Field(rulePath, "match"), "%s is not served: jwtgate routes every request of an egress server to its destination, and this rule matches only some (only no match, or uri prefix \"/\", is served)", label)
		return routed{}, false
	}
	for _, f := range []struct{ key, what string }{
		{"redirect", "redirects"}, {"directResponse", "direct responses"}, {"modify", "request and response modifications"},
	} {
		if d.Has(strictyaml.Field(rulePath, f.key)) {
			d.NotServed(strictyaml.Field(rulePath, f.key), "%s is not served: %s are not supported on egress servers", label, f.what)
			return routed{}, false
		}
	}
	for _, f := range []struct{ key, what string }{
		{"corsPolicy", "CORS policies are not applied by jwtgate"}, {"extensions", "extensions are not run by jwtgate"},
	} {
		if d.Has(strictyaml.Field(rulePath, f.key)) {
			d.NotServed(strictyaml.Field(rulePath, f.key), "%s", f.what)
		}
	}
	routePath := strictyaml.Field(rulePath, "route")
	switch {
	case r.Route == nil:
		if !d.Reported(routePath) {
			d.Errorf(rulePath, "missing required field %q (with a serviceDestination)", "route")
		}
		return routed{}, false
	case d.Has(strictyaml.Field(routePath, "clusterDestination")):
		d.NotServed(strictyaml.Field(routePath, "clusterDestination"), "%s is not served: cluster destinations are not supported on egress servers", label)
		return routed{}, false
	case r.Route.ServiceDestination == nil:
		if !d.Reported(strictyaml.Field(routePath, "serviceDestination")) {
			d.Errorf(routePath, "missing required field %q", "serviceDestination")
		}
		return routed{}, false
	}
	return routed{rule: &r, rulePath: rulePath, dest: r.Route.ServiceDestination, destPath: strictyaml.Field(routePath, "serviceDestination")}, true
}

// catchAll reports whether a rule's match list matches every request:
// no entries, or an entry without headers whose uri is absent or the
// prefix "/".
func catchAll(ms []routeMatch) bool {
	if len(ms) == 0 {
		return true
	}
	for _, m := range ms {
		if m.Headers.Kind != 0 && len(m.Headers.Content) > 0 {
			continue // headers to match (a null or {} has no content)
		}
		if u := m.URI; u == nil || (u.Exact == "" && u.Regex == "" && (u.Prefix == "/" || u.Prefix == "")) {
			return true
		}
	}
	return false
}

// destinationHost reads serviceDestination.host, "<namespace>/<fqdn>",
// and returns the fqdn.
func (t *translator) destinationHost(host, path string) (string, bool) {
	ns, fqdn, ok := strings.Cut(host, "/")
	if host == "" {
		if !t.d.Reported(path) {
			t.d.Errorf(strictyaml.Parent(path), "missing required field %q", "host")
		}
		return "", false
	}
	if !ok || ns == "" || fqdn == "" || strings.Contains(fqdn, "/") {
		t.d.Errorf(path, "invalid host %q: want <namespace>/<fqdn>, such as egress/httpbin.org", host)
		return "", false
	}
	return fqdn, true
}

// origination reads TLS to the external host at path: mode SIMPLE or
// MUTUAL with files; DISABLED is none. Settings jwtgate cannot honour
// make the server not served (ok false), as the trust they ask for
// cannot be checked.
func (t *translator) origination(ts *tlsSettings, path, base, label string) (_ *model.OriginationTLS, ok bool) {
	d := t.d
	d.Rename(base+".tls", path)
	d.Rename(base+".tls.mode", strictyaml.Field(path, "mode"))
	d.Rename(base+".tls.caFile", strictyaml.Field(path, "files.caCertificates"))
	d.Rename(base+".tls.certFile", strictyaml.Field(path, "files.clientCertificate"))
	d.Rename(base+".tls.keyFile", strictyaml.Field(path, "files.privateKey"))
	var mode model.OriginationMode
	switch m := strings.ToUpper(ts.Mode); m {
	case "DISABLED", "DISABLE":
		return nil, true
	case string(model.OriginateSimple), string(model.OriginateMutual):
		mode = model.OriginationMode(m)
	case "":
		if !d.Reported(strictyaml.Field(path, "mode")) {
			d.Errorf(path, "missing required field %q (SIMPLE, MUTUAL or DISABLED)", "mode")
		}
		return nil, false
	default:
		d.Errorf(strictyaml.Field(path, "mode"), "invalid mode %q (want SIMPLE, MUTUAL or DISABLED)", ts.Mode)
		return nil, false
	}
	if ts.SecretName != "" {
		d.NotServed(strictyaml.Field(path, "secretName"), "%s is not served: Kubernetes secrets are not read by jwtgate; give files", label)
		return nil, false
	}
	if len(ts.SubjectAltNames) > 0 {
		d.NotServed(strictyaml.Field(path, "subjectAltNames"), "%s is not served: jwtgate checks the external host's certificate against its host name, not a list of names", label)
		return nil, false
	}
	for _, k := range []string{"minProtocolVersion", "maxProtocolVersion", "cipherSuites"} {
		if d.Has(strictyaml.Field(path, k)) {
			d.NotServed(strictyaml.Field(path, k), "ignored: jwtgate speaks TLS 1.2 or 1.3 with Go's cipher suites")
		}
	}
	o := &model.OriginationTLS{Mode: mode}
	if f := ts.Files; f != nil {
		o.CAFile = d.FilePath(f.CACertificates)
		o.CertFile = d.FilePath(f.ClientCertificate)
		o.KeyFile = d.FilePath(f.PrivateKey)
		if f.ServerCertificate != "" {
			d.Errorf(strictyaml.Field(path, "files.serverCertificate"), "not used to originate TLS: give the client certificate as clientCertificate")
		}
	}
	return o, true
}

// timeout reads a routing rule's timeout n at path, a duration such as
// "10s"; absent is zero (the default).
func (t *translator) timeout(n yaml.Node, path string) (time.Duration, bool) {
	if n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null") {
		return 0, true
	}
	v, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || v <= 0 {
		t.d.Errorf(path, "invalid timeout %q (want a positive duration such as \"10s\")", n.Value)
		return 0, false
	}
	return v, true
}

func derefInt(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

func quote(s string) string { return `"` + s + `"` }
