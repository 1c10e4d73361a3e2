package gatewayapi

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// Listener protocols jwtgate serves.
const (
	protoHTTP  = "HTTP"
	protoHTTPS = "HTTPS"
)

var (
	// sectionNameRE is the API's SectionName (a listener's or a rule's
	// name).
	sectionNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	// protocolRE is the API's ProtocolType: a core name or a
	// domain-prefixed one.
	protocolRE = regexp.MustCompile(`^[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?$|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9]+$`)
)

// checkGateway checks a Gateway on its own, as the API server does.
func (d *document) checkGateway() {
	sp := d.gateway.Spec
	if sp.GatewayClassName == "" && !d.Reported("spec.gatewayClassName") {
		d.Errorf("spec", "missing required field %q", "gatewayClassName")
	}
	switch n := len(sp.Listeners); {
	case n == 0 && !d.Reported("spec.listeners"):
		d.Errorf("spec", "missing required field %q: a Gateway needs at least one listener", "listeners")
	case n > 64:
		d.Errorf("spec.listeners", "at most 64 listeners, got %d", n)
	}
	names := map[string]int{}
	type distinct struct {
		port           int
		protocol, host string
	}
	seen := map[distinct]int{}
	for i, l := range sp.Listeners {
		p := strictyaml.Index("spec.listeners", i)
		proto := strings.ToUpper(l.Protocol)
		switch {
		case l.Name == "":
			d.required(p, "name", false)
		case !sectionNameRE.MatchString(l.Name) || len(l.Name) > 253:
			d.Errorf(strictyaml.Field(p, "name"), "invalid name %q: want a lower-case DNS subdomain (RFC 1123)", l.Name)
		default:
			if j, dup := names[l.Name]; dup {
				d.Errorf(strictyaml.Field(p, "name"), "listener name %q is used by listeners[%d] already: names must be unique within the Gateway", l.Name, j)
			}
			names[l.Name] = i
		}
		if l.Port < 1 || l.Port > 65535 {
			if l.Port == 0 && !d.Has(strictyaml.Field(p, "port")) {
				d.required(p, "port", false)
			} else {
				d.Errorf(strictyaml.Field(p, "port"), "invalid port %d: want 1 to 65535", l.Port)
			}
		}
		switch {
		case l.Protocol == "":
			d.required(p, "protocol", false)
		case !protocolRE.MatchString(l.Protocol):
			d.Errorf(strictyaml.Field(p, "protocol"), "invalid protocol %q", l.Protocol)
		}
		host := ""
		if l.Hostname != nil {
			host = *l.Hostname
			if msg := checkHostname(host); msg != "" {
				d.Errorf(strictyaml.Field(p, "hostname"), "invalid hostname %q: %s", host, msg)
			}
			if proto == "TCP" || proto == "UDP" {
				d.Errorf(strictyaml.Field(p, "hostname"), "hostname must not be specified for protocol %s", l.Protocol)
			}
		}
		if t := l.TLS; t != nil {
			switch {
			case proto == protoHTTP || proto == "TCP" || proto == "UDP":
				d.Errorf(strictyaml.Field(p, "tls"), "tls must not be specified for protocol %s", l.Protocol)
			case proto == protoHTTPS && t.Mode != "" && t.Mode != "Terminate":
				d.Errorf(strictyaml.Field(p, "tls.mode"), "tls mode must be Terminate for protocol HTTPS, got %q", t.Mode)
			}
			if t.Mode != "" && t.Mode != "Terminate" && t.Mode != "Passthrough" {
				d.Errorf(strictyaml.Field(p, "tls.mode"), "invalid mode %q (want Terminate or Passthrough)", t.Mode)
			}
			if len(t.CertificateRefs) > 64 {
				d.Errorf(strictyaml.Field(p, "tls.certificateRefs"), "at most 64 entries, got %d", len(t.CertificateRefs))
			}
			for j, r := range t.CertificateRefs {
				if r.Name == "" {
					d.required(strictyaml.Index(strictyaml.Field(p, "tls.certificateRefs"), j), "name", false)
				}
			}
		} else if proto == "TLS" {
			d.Errorf(p, "tls mode must be set for protocol TLS")
		}
		if ar := l.AllowedRoutes; ar != nil && ar.Namespaces != nil {
			np := strictyaml.Field(p, "allowedRoutes.namespaces")
			switch from := deref(ar.Namespaces.From, "Same"); from {
			case "Same", "All", "None":
			case "Selector":
				if ar.Namespaces.Selector == nil {
					d.Errorf(np, "from Selector needs a selector")
				}
			default:
				d.Errorf(strictyaml.Field(np, "from"), "invalid value %q (want Same, All or Selector)", from)
			}
		}
		k := distinct{l.Port, l.Protocol, host}
		if j, dup := seen[k]; dup && l.Port != 0 && l.Protocol != "" {
			d.Errorf(p, "listeners[%d] has the same port, protocol and hostname already: the combination must be unique for each listener", j)
		}
		seen[k] = i
	}
}

// gwListener is one listener of the chosen Gateway, as translated.
type gwListener struct {
	spec     *listener
	index    int
	path     string // spec.listeners[i]
	hostname string // "" for any host
	https    bool
	// served is false for a listener jwtgate does not serve (with the
	// reason on the Gateway's status); routes do not attach to it.
	served bool
	cert   *certificate
	from   string         // Same, All or Selector
	sel    *labelSelector // with Selector
	// httpRoutes and grpcRoutes are false when allowedRoutes.kinds
	// leaves HTTPRoute, or GRPCRoute, out.
	httpRoutes, grpcRoutes bool
	group                  *portGroup
	// routes are the model route candidates attached to the listener.
	routes []*candidate
	// attached are the routes attached to the listener, with the
	// hostnames each serves on it (for resolveKindConflicts).
	attached []routeOn
}

// allows reports whether the listener takes routes of kind.
func (l *gwListener) allows(kind string) bool {
	switch kind {
	case KindHTTPRoute:
		return l.httpRoutes
	case KindGRPCRoute:
		return l.grpcRoutes
	}
	return false
}

// label is how messages name the listener: listeners[i] "name".
func (l *gwListener) label() string { return fmt.Sprintf("%s %q", l.path, l.spec.Name) }

// certificate is a listener's resolved certificate.
type certificate struct {
	source           string // "Secret ns/name"
	certPEM, keyPEM  []byte
	secretNS, secret string
}

// portGroup is the listeners that share one port: one model listener.
type portGroup struct {
	port      int
	https     bool
	listeners []*gwListener // served, in spec order
	first     *gwListener
	name      string
}

// listeners translates the chosen Gateway's listeners: which ones are
// served, their certificates and which routes they allow, grouped by
// port. Gateway fields jwtgate does not follow are reported.
func (t *translator) listeners() {
	d := t.gw
	sp := d.gateway.Spec
	for _, f := range []struct{ key, what string }{
		{"spec.addresses", "not used: jwtgate binds its listeners' ports on serve --bind-address (every interface by default)"},
		{"spec.infrastructure.parametersRef", "implementation-specific infrastructure parameters are not read by jwtgate"},
		{"spec.tls.backend", "client certificates towards backends are not presented by jwtgate (it does not originate TLS to Services)"},
		{"spec.defaultScope", "default Gateways are not supported: routes attach through their parentRefs only"},
	} {
		if d.Has(f.key) {
			d.NotServed(f.key, "%s", f.what)
		}
	}
	if n := sp.AllowedListeners; n.Kind != 0 && !isNullNode(&n) && !allowsNoListenerSets(d) {
		d.NotServed("spec.allowedListeners", "ListenerSets are not read by jwtgate: only the Gateway's own listeners are served")
	}
	// Client certificate validation cannot be honoured: the HTTPS
	// listeners it covers are not served, failing closed.
	frontend := d.Has("spec.tls.frontend")
	for i := range sp.Listeners {
		l := &sp.Listeners[i]
		gl := &gwListener{spec: l, index: i, path: strictyaml.Index("spec.listeners", i)}
		if l.Hostname != nil {
			gl.hostname = *l.Hostname
		}
		t.gwListeners = append(t.gwListeners, gl)
		switch strings.ToUpper(l.Protocol) {
		case protoHTTP:
		case protoHTTPS:
			gl.https = true
		default:
			d.Noted(model.ReasonPartiallyAccepted, strictyaml.Field(gl.path, "protocol"),
				"listener %q is not served: Accepted=False UnsupportedProtocol: jwtgate serves HTTP and HTTPS listeners only, not %s", l.Name, l.Protocol)
			continue
		}
		if l.Port < 1 || l.Port > 65535 || l.Name == "" {
			continue // reported by checkGateway
		}
		if gl.https {
			if frontend {
				d.Noted(model.ReasonPartiallyAccepted, "spec.tls.frontend",
					"listener %q is not served: client certificate validation is not supported by jwtgate for Gateway API listeners", l.Name)
				continue
			}
			if l.TLS != nil && d.Has(strictyaml.Field(gl.path, "tls.frontendValidation")) {
				d.Noted(model.ReasonPartiallyAccepted, strictyaml.Field(gl.path, "tls.frontendValidation"),
					"listener %q is not served: client certificate validation is not supported by jwtgate for Gateway API listeners", l.Name)
				continue
			}
			if gl.cert = t.certificate(gl); gl.cert == nil {
				continue
			}
		}
		t.allowedRoutes(gl)
		gl.served = true
	}
	t.groupByPort()
	if len(t.ports) == 0 {
		d.Note(model.ReasonUnsupported, "nothing of this Gateway is served: none of its listeners can be")
	}
}

func allowsNoListenerSets(d *document) bool {
	n := d.gateway.Spec.AllowedListeners
	var v struct {
		Namespaces struct {
			From string `yaml:"from"`
		} `yaml:"namespaces"`
	}
	if err := n.Decode(&v); err != nil {
		return false
	}
	return v.Namespaces.From == "" || v.Namespaces.From == "None"
}

// certificate resolves an HTTPS listener's first certificateRef to a
// kubernetes.io/tls Secret; nil, with the reason on the Gateway's status,
// when it cannot be served.
func (t *translator) certificate(gl *gwListener) *certificate {
	d, l := t.gw, gl.spec
	tp := strictyaml.Field(gl.path, "tls")
	if l.TLS == nil || len(l.TLS.CertificateRefs) == 0 {
		at := tp
		if l.TLS == nil {
			at = gl.path
		}
		d.Noted(model.ReasonTargetNotFound, at, "listener %q is not served: ResolvedRefs=False InvalidCertificateRef: an HTTPS listener needs tls.certificateRefs", l.Name)
		return nil
	}
	if len(l.TLS.Options) > 0 {
		d.NotServed(strictyaml.Field(tp, "options"), "implementation-specific TLS options are not read by jwtgate")
	}
	if len(l.TLS.CertificateRefs) > 1 {
		d.NotServed(strictyaml.Field(tp, "certificateRefs"), "only the first certificate is served: jwtgate serves one certificate per listener")
	}
	r := l.TLS.CertificateRefs[0]
	rp := strictyaml.Index(strictyaml.Field(tp, "certificateRefs"), 0)
	to := kindRef{group: deref(r.Group, ""), kind: deref(r.Kind, "Secret"), namespace: deref(r.Namespace, d.Ref.Namespace), name: r.Name}
	fail := func(reason, format string, args ...any) *certificate {
		d.Noted(model.ReasonTargetNotFound, rp, "listener %q is not served: ResolvedRefs=False %s: %s", l.Name, reason, fmt.Sprintf(format, args...))
		return nil
	}
	if to.group != "" || to.kind != "Secret" {
		return fail("InvalidCertificateRef", "%s is not a Secret (group \"\", kind Secret)", to)
	}
	if !t.grants.permits(Group, KindGateway, d.Ref.Namespace, to) {
		return fail("RefNotPermitted", "no ReferenceGrant in namespace %s lets Gateways of namespace %s refer to Secret %s", to.namespace, d.Ref.Namespace, to.name)
	}
	sec := t.s.kube.Secret(to.namespace, to.name)
	switch {
	case sec == nil:
		return fail("InvalidCertificateRef", "Secret %s/%s not found", to.namespace, to.name)
	case sec.Type != "kubernetes.io/tls":
		return fail("InvalidCertificateRef", "Secret %s/%s is of type %q, not kubernetes.io/tls", to.namespace, to.name, sec.Type)
	}
	crt, key := sec.Data["tls.crt"], sec.Data["tls.key"]
	if _, err := tls.X509KeyPair(crt, key); err != nil {
		return fail("InvalidCertificateRef", "Secret %s/%s does not hold a usable certificate and key in tls.crt and tls.key: %v", to.namespace, to.name, err)
	}
	return &certificate{source: "Secret " + to.namespace + "/" + to.name, certPEM: crt, keyPEM: key, secretNS: to.namespace, secret: to.name}
}

// allowedRoutes reads a listener's allowedRoutes (checked by
// checkGateway), reporting the route kinds it cannot serve.
func (t *translator) allowedRoutes(gl *gwListener) {
	d := t.gw
	gl.from, gl.httpRoutes, gl.grpcRoutes = "Same", true, true
	ar := gl.spec.AllowedRoutes
	if ar == nil {
		return
	}
	ap := strictyaml.Field(gl.path, "allowedRoutes")
	if ns := ar.Namespaces; ns != nil {
		gl.from, gl.sel = deref(ns.From, "Same"), ns.Selector // checked by checkGateway
	}
	if len(ar.Kinds) > 0 {
		gl.httpRoutes, gl.grpcRoutes = false, false
		for i, k := range ar.Kinds {
			kp := strictyaml.Index(strictyaml.Field(ap, "kinds"), i)
			g := deref(k.Group, Group)
			switch {
			case g == Group && k.Kind == KindHTTPRoute:
				gl.httpRoutes = true
			case g == Group && k.Kind == KindGRPCRoute:
				gl.grpcRoutes = true
			default:
				d.NotServed(kp, "listener %q: ResolvedRefs=False InvalidRouteKinds: %s routes are not supported on HTTP and HTTPS listeners", gl.spec.Name, k.Kind)
			}
		}
	}
}

// groupByPort gathers the served listeners by port, each port one model
// listener. HTTP and HTTPS listeners on one port conflict, and none of
// them is served; of two listeners with the same hostname on a port, the
// later is not served. HTTPS listeners of one port may have different
// certificates: the model listener chooses by SNI (modelListener).
func (t *translator) groupByPort() {
	d := t.gw
	byPort := map[int][]*gwListener{}
	var ports []int
	for _, gl := range t.gwListeners {
		if !gl.served {
			continue
		}
		p := gl.spec.Port
		if byPort[p] == nil {
			ports = append(ports, p)
		}
		byPort[p] = append(byPort[p], gl)
	}
	for _, p := range ports {
		ls := byPort[p]
		mixed := slices.ContainsFunc(ls, func(l *gwListener) bool { return l.https != ls[0].https })
		if mixed {
			var names []string
			for _, l := range ls {
				names = append(names, fmt.Sprintf("%q (%s)", l.spec.Name, l.spec.Protocol))
			}
			for _, l := range ls {
				l.served = false
				d.Noted(model.ReasonConflicted, strictyaml.Field(l.path, "protocol"),
					"listener %q is not served: Conflicted=True ProtocolConflict: listeners %s share port %d with different protocols", l.spec.Name, strings.Join(names, ", "), p)
			}
			continue
		}
		g := &portGroup{port: p, https: ls[0].https, first: ls[0]}
		g.name = nsName(d.Ref) + "/" + ls[0].spec.Name
		hosts := map[string]*gwListener{}
		for _, l := range ls {
			// The API server refuses a repeated port, protocol and
			// hostname; jwtgate reads "https" as HTTPS too, so two
			// listeners may still take the same hostname here.
			if o := hosts[l.hostname]; o != nil {
				l.served = false
				d.Noted(model.ReasonConflicted, l.path,
					"listener %q is not served: Conflicted=True HostnameConflict: listener %q takes the same hostname on port %d", l.spec.Name, o.spec.Name, p)
				continue
			}
			hosts[l.hostname] = l
			l.group = g
			g.listeners = append(g.listeners, l)
		}
		t.ports = append(t.ports, g)
	}
}

func sameCert(a, b *certificate) bool {
	return a.source == b.source || (bytes.Equal(a.certPEM, b.certPEM) && bytes.Equal(a.keyPEM, b.keyPEM))
}

// modelListener is the model listener of a port group.
func (t *translator) modelListener(g *portGroup) model.Listener {
	d := t.gw
	origin, base := d.Piece("listeners", g.first.path)
	d.Rename(base+".name", strictyaml.Field(g.first.path, "name"))
	d.Rename(base+".address", strictyaml.Field(g.first.path, "port"))
	l := model.Listener{Name: g.name, Address: t.listenAddress(g.port), Origin: origin}
	// An HTTP listener that serves a GRPCRoute serves cleartext HTTP/2
	// with prior knowledge, as the API requires; HTTPS listeners serve
	// HTTP/2 through ALPN anyway.
	l.H2C = !g.https && servesGRPC(g)
	if g.https {
		l.TLS = t.portTLS(g, base)
	}
	return l
}

// portTLS is the TLS of an HTTPS port group. Its default certificate is
// that of the listener without hostname, else of the first listener.
// When the listeners' certificates differ, each is also served, by SNI,
// for the hostnames of the listeners that name it: a client asking for a
// listener's hostname gets that listener's certificate (an exact
// hostname before a wildcard, the longest wildcard first, as listeners
// take requests), and any other name the default.
func (t *translator) portTLS(g *portGroup, base string) *model.ListenerTLS {
	d := t.gw
	def := g.first
	for _, l := range g.listeners {
		if l.hostname == "" {
			def = l
			break
		}
	}
	c := def.cert
	d.Rename(base+".tls", strictyaml.Field(def.path, "tls.certificateRefs[0]"))
	out := &model.ListenerTLS{CertPEM: c.certPEM, KeyPEM: c.keyPEM, CertSource: c.source}
	if !slices.ContainsFunc(g.listeners, func(l *gwListener) bool { return !sameCert(l.cert, c) }) {
		return out
	}
	var byCert []*gwListener // the first listener of each certificate
	for _, l := range g.listeners {
		if l.hostname == "" {
			continue // the default: the listener checks allow one per port
		}
		i := slices.IndexFunc(byCert, func(o *gwListener) bool { return sameCert(o.cert, l.cert) })
		if i < 0 {
			i = len(byCert)
			byCert = append(byCert, l)
			d.Rename(fmt.Sprintf("%s.tls.certificates[%d]", base, i), strictyaml.Field(l.path, "tls.certificateRefs[0]"))
			out.Certificates = append(out.Certificates, model.ListenerCertificate{CertPEM: l.cert.certPEM, KeyPEM: l.cert.keyPEM, CertSource: l.cert.source})
		}
		e := &out.Certificates[i]
		e.ServerNames = append(e.ServerNames, l.hostname)
	}
	return out
}

// listenAddress is where a listener of port binds: the one place that
// decides it (serve --bind-address, every interface by default).
func (t *translator) listenAddress(port int) string { return t.s.sel.ListenAddress(port) }

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
