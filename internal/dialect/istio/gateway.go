package istio

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// translator turns the routing documents of one load into model pieces.
type translator struct {
	s   *session
	out *model.Config
	// outputs maps every header a RequestAuthentication of the load sets
	// from tokens (lower case) to it: routes cannot match or change them.
	outputs map[string]string
	// ports are the listeners of the chosen gateways, one per port.
	ports []*port
}

// port is one port of the chosen gateways: one model listener, serving
// every server of that port.
type port struct {
	number  int
	name    string // the model listener's
	address string
	// tls is the listener's TLS: its first server's until listeners
	// gathers the certificates of every server (portTLS).
	tls    *model.ListenerTLS
	tlsKey string // tells listener TLS settings apart ("" for plain HTTP)
	// h2c is set when a server of the (plain) port is HTTP2, GRPC or
	// GRPC-WEB: the port also serves cleartext HTTP/2.
	h2c     bool
	servers []portServer
}

// portServer is one server of a port.
type portServer struct {
	gw    *document
	index int
	path  string
	srv   server
	// For an HTTPS server: its TLS, what tells its certificate apart,
	// and the server names (SNI) its hosts give, "*" standing for any.
	tls     *model.ListenerTLS
	certKey string
	names   []string
}

// howToChoose is the advice given when the gateway to serve is unclear.
const howToChoose = "choose with serve --gateway NS/NAME, or --workload-labels k=v,... (the labels its selector names), " +
	"or the glue document's gateway or workload keys"

// choose decides which Istio Gateways jwtgate serves:
//
//   - with a selection's gateway "NS/NAME": that Gateway;
//   - else, with a selection's workload labels (or namespace): every
//     Gateway whose selector the labels hold, as Istio merges the
//     Gateways that select a gateway pod, across namespaces (a Gateway
//     without selector selects every gateway pod);
//   - with no selection: the only Gateway in the files.
//
// When the Gateway is chosen by name or as the only one and the selection
// names no workload labels, jwtgate stands for that Gateway's pods: their
// labels are its selector and, without a namespace in the selection, their
// namespace is the Gateway's (so that the security resources that select
// those pods apply). Several Gateways and no selection is an error. Every
// Gateway not chosen is NotSelected.
func (t *translator) choose() model.Issues {
	s := t.s
	var gws []*document
	for _, d := range s.docs {
		if d.gw != nil && !d.dup {
			gws = append(gws, d)
		}
	}
	slices.SortStableFunc(gws, byAge)
	sel := s.sel
	var chosen []*document
	var msg, why, by string
	switch {
	case sel.Gateway != "":
		for _, d := range gws {
			if gatewayNamed(d, sel.Gateway) {
				chosen = append(chosen, d)
			}
		}
		by = "the selected gateway " + sel.Gateway
		why = "jwtgate serves gateway " + sel.Gateway
		if len(chosen) > 1 {
			msg = fmt.Sprintf("%d Istio Gateways are named %s: give NAMESPACE/NAME", len(chosen), sel.Gateway)
			why, chosen = fmt.Sprintf("%d Istio Gateways are named %s, and jwtgate serves one", len(chosen), sel.Gateway), nil
		}
	case sel.WorkloadNamespace != "" || len(sel.WorkloadLabels) > 0:
		for _, d := range gws {
			if model.Labels(sel.WorkloadLabels).Matches(d.gw.Spec.Selector) {
				chosen = append(chosen, d)
			}
		}
		have := "none given"
		if len(sel.WorkloadLabels) > 0 {
			have = labelString(sel.WorkloadLabels)
		}
		by = "their selectors, which the workload's labels (" + have + ") hold"
		why = "its selector is not among the labels of the workload jwtgate stands for (" + have + ")"
	case len(gws) == 1:
		chosen, by = gws, "being the only Istio Gateway in the files"
	case len(gws) > 1:
		var names []string
		for _, d := range gws {
			names = append(names, d.Name())
		}
		msg = fmt.Sprintf("the files hold %d Istio Gateways (%s) and none is selected: %s", len(gws), strings.Join(names, ", "), howToChoose)
		why = fmt.Sprintf("the files hold %d Istio Gateways and none is selected", len(gws))
	}
	var issues model.Issues
	if msg != "" {
		issues = append(issues, model.Issue{Severity: model.Error, Origin: model.Origin{File: gws[0].File, Line: gws[0].Line}, Msg: msg})
	}
	s.gateways = chosen
	for _, d := range gws {
		if slices.Contains(chosen, d) {
			d.Muted = false
			continue
		}
		if len(chosen) > 0 && sel.WorkloadNamespace == "" && len(sel.WorkloadLabels) == 0 {
			d.Note(model.ReasonNotSelected, "not served: jwtgate serves Gateway %s, chosen by %s", chosen[0].Name(), by)
			continue
		}
		d.Note(model.ReasonNotSelected, "not served: %s", why)
	}
	if len(chosen) > 0 && len(sel.WorkloadLabels) == 0 {
		s.derived = chosen[0].gw.Spec.Selector
		s.derivedNS = chosen[0].Ref.Namespace
	}
	return issues
}

// gatewayNamed reports whether the Gateway d is the gateway "NS/NAME"
// or "NAME" names.
func gatewayNamed(d *document, g string) bool {
	ns, name, ok := strings.Cut(g, "/")
	if !ok {
		ns, name = "", g
	}
	return name == d.Ref.Name && (ns == "" || ns == d.Ref.Namespace)
}

// byAge orders documents by metadata.creationTimestamp, oldest first
// (those without one after every other, as if created last), then by
// name, then namespace, as Istio orders the configuration it merges.
func byAge(a, b *document) int {
	switch {
	case a.created.IsZero() != b.created.IsZero():
		if a.created.IsZero() {
			return 1
		}
		return -1
	case !a.created.Equal(b.created):
		return a.created.Compare(b.created)
	}
	if c := strings.Compare(a.Ref.Name, b.Ref.Name); c != 0 {
		return c
	}
	return strings.Compare(a.Ref.Namespace, b.Ref.Namespace)
}

// checkRouting checks what a routing document says on its own.
func (d *document) checkRouting() {
	d.created = d.CheckMetadata(d.meta.Name, d.meta.Namespace, d.meta.CreationTimestamp)
	if d.gw != nil {
		if len(d.gw.Spec.Servers) == 0 && !d.Reported("spec.servers") {
			d.Errorf("spec", "missing required field %q (at least one server)", "servers")
		}
		for i, srv := range d.gw.Spec.Servers {
			p := strictyaml.Index("spec.servers", i)
			if len(srv.Hosts) == 0 && !d.Reported(strictyaml.Field(p, "hosts")) {
				d.Errorf(p, "missing required field %q (at least one host)", "hosts")
			}
			for j, h := range srv.Hosts {
				if _, _, ok := serverHost(h); !ok {
					d.Errorf(strictyaml.Index(strictyaml.Field(p, "hosts"), j), "invalid host %q (want [NAMESPACE/]HOST, HOST a DNS name with a wildcard for the leftmost label only, or *)", h)
				}
			}
		}
		return
	}
	spec := d.vs.Spec
	if len(spec.Hosts) == 0 && !d.Reported("spec.hosts") {
		d.Errorf("spec", "missing required field %q (at least one host)", "hosts")
	}
	for i, h := range spec.Hosts {
		if !hostPattern(h) {
			d.Errorf(strictyaml.Index("spec.hosts", i), "invalid host %q (want a DNS name, with a wildcard for the leftmost label only, or *)", h)
		}
	}
}

// serverHost reads a Gateway server's host, "[NAMESPACE/]HOST": the
// namespace is "*" (any, the default), "." (the Gateway's) or a name.
func serverHost(h string) (ns, host string, ok bool) {
	ns, host, found := strings.Cut(h, "/")
	if !found {
		ns, host = "*", h
	}
	return ns, host, ns != "" && hostPattern(host)
}

// hostPattern reports whether h is "*", "*.DOMAIN" or a DNS name.
func hostPattern(h string) bool {
	if h == "*" {
		return true
	}
	return hostName(strings.TrimPrefix(h, "*."))
}

// hostName reports whether h is a DNS name: labels of letters, digits,
// "-" and "_", separated by dots, with an optional final dot.
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
			if !(c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				return false
			}
		}
	}
	return true
}

// listeners translates the servers of the chosen gateways: each HTTP or
// HTTPS server becomes (or joins) the model listener of its port, bound
// at Selection.ListenAddress(port) (or at its bind address). What jwtgate
// cannot serve (TCP, TLS passthrough, ...) is reported and not served.
func (t *translator) listeners() {
	for _, d := range t.s.docs {
		if d.gw == nil || d.dup || slices.Contains(t.s.gateways, d) {
			continue
		}
		// Checked for what Istio would refuse; nothing is served.
		scratch := &translator{s: t.s, out: &model.Config{}}
		for i, srv := range d.gw.Spec.Servers {
			scratch.server(d, i, srv)
		}
	}
	for _, d := range t.s.gateways {
		for i, srv := range d.gw.Spec.Servers {
			t.server(d, i, srv)
		}
		if !slices.ContainsFunc(t.ports, func(pt *port) bool {
			return slices.ContainsFunc(pt.servers, func(e portServer) bool { return e.gw == d })
		}) && len(d.gw.Spec.Servers) > 0 {
			d.Note(model.ReasonUnsupported, "nothing of it is served: jwtgate serves none of its servers")
		}
	}
	for _, pt := range t.ports {
		e := pt.servers[0]
		d := e.gw
		origin, base := d.Piece("listeners", e.path)
		d.Rename(base+".name", strictyaml.Field(e.path, "port"))
		d.Rename(base+".address", strictyaml.Field(e.path, "port.number"))
		if pt.tls != nil {
			pt.tls = portTLS(pt, base)
		}
		t.out.Listeners = append(t.out.Listeners, model.Listener{Name: pt.name, Address: pt.address, TLS: pt.tls, H2C: pt.h2c, Origin: origin})
	}
}

// server reads server i of the Gateway d.
func (t *translator) server(d *document, i int, srv server) {
	p := strictyaml.Index("spec.servers", i)
	f := func(k string) string { return strictyaml.Field(p, k) }
	label := "server " + strconv.Itoa(i)
	switch {
	case srv.Port == nil:
		if !d.Reported(f("port")) {
			d.Errorf(p, "missing required field %q", "port")
		}
		return
	case srv.Port.Number < 1 || srv.Port.Number > 65535:
		d.Errorf(f("port.number"), "invalid port %d (want 1 to 65535)", srv.Port.Number)
		return
	}
	number := srv.Port.Number
	label = fmt.Sprintf("server %d (port %d)", i, number)
	proto := strings.ToUpper(srv.Port.Protocol)
	tlsOnly := srv.TLS != nil && !srv.TLS.HTTPSRedirect
	switch proto {
	case "HTTP", "HTTP2", "GRPC", "GRPC-WEB":
		if tlsOnly {
			d.Errorf(f("tls"), "a plain-text %s server takes no TLS settings but httpsRedirect: use protocol HTTPS", proto)
			return
		}
	case "HTTPS":
		if srv.TLS == nil {
			d.Errorf(p, "protocol HTTPS needs tls")
			return
		}
	case "TCP", "TLS", "MONGO", "MYSQL", "REDIS", "UDP":
		d.NotServed(f("port.protocol"), "%s is not served: jwtgate serves HTTP and HTTPS servers only", label)
		return
	case "":
		if !d.Reported(f("port.protocol")) {
			d.Errorf(f("port"), "missing required field %q", "protocol")
		}
		return
	default:
		d.Errorf(f("port.protocol"), "invalid protocol %q (want HTTP, HTTPS, GRPC, HTTP2, TCP, TLS or MONGO)", srv.Port.Protocol)
		return
	}
	if srv.DefaultEndpoint != "" {
		d.NotServed(f("defaultEndpoint"), "not applied: it is for sidecars' ingress listeners; requests are routed by the VirtualServices")
	}
	addr := t.s.sel.ListenAddress(number)
	if srv.Bind != "" {
		ip, err := netip.ParseAddr(srv.Bind)
		if err != nil {
			d.NotServed(f("bind"), "%s is not served: jwtgate binds IP addresses, not %q", label, srv.Bind)
			return
		}
		addr = net.JoinHostPort(ip.String(), strconv.Itoa(number))
	}
	e := portServer{gw: d, index: i, path: p, srv: srv}
	key := ""
	if proto == "HTTPS" {
		var ok bool
		if e.tls, key, ok = t.serverTLS(d, srv.TLS, f("tls"), label); !ok {
			return
		}
		e.certKey = "files " + e.tls.CertFile + "|" + e.tls.KeyFile
		if e.tls.CertSource != "" {
			e.certKey = e.tls.CertSource
		}
		e.names = serverNames(d, srv, p)
	}
	// HTTP/2 in clear text is served with prior knowledge (h2c), as
	// gRPC clients in plaintext mode speak it; HTTP/1.1 too.
	h2c := proto == "HTTP2" || proto == "GRPC" || proto == "GRPC-WEB"
	for _, pt := range t.ports {
		if pt.number != number {
			continue
		}
		if pt.tlsKey != key || pt.address != addr {
			o := pt.servers[0]
			d.NotServed(p, "%s is not served: server %d of Gateway %s serves port %d with other TLS settings (protocol, mode or client CA) or another bind address, and jwtgate serves one per port", label, o.index, o.gw.Name(), number)
			return
		}
		if o, host, clash := sameNameOtherCert(pt, e); clash {
			d.NotServed(p, "%s is not served: server %d of Gateway %s serves host %q on port %d with another certificate, and a client's SNI chooses one", label, o.index, o.gw.Name(), host, number)
			return
		}
		pt.servers = append(pt.servers, e)
		pt.h2c = pt.h2c || h2c
		return
	}
	t.ports = append(t.ports, &port{
		number: number, name: fmt.Sprintf("%s/%d", d.Name(), number), address: addr,
		tls: e.tls, tlsKey: key, h2c: h2c, servers: []portServer{e},
	})
}

// serverTLS reads an HTTPS server's tls at path p: SIMPLE, MUTUAL or
// OPTIONAL_MUTUAL, with files or a Secret. Settings jwtgate cannot honour
// make the server not served (ok false), never served with weaker TLS.
func (t *translator) serverTLS(d *document, c *serverTLS, p, label string) (_ *model.ListenerTLS, key string, ok bool) {
	f := func(k string) string { return strictyaml.Field(p, k) }
	mode := strings.ToUpper(c.Mode)
	switch mode {
	case "SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL":
	case "", "PASSTHROUGH":
		at := f("mode")
		if !d.Has(at) {
			at = p
		}
		d.NotServed(at, "%s is not served: its TLS mode is PASSTHROUGH (the default), and jwtgate terminates TLS; write mode: SIMPLE", label)
		return nil, "", false
	case "AUTO_PASSTHROUGH", "ISTIO_MUTUAL":
		d.NotServed(f("mode"), "%s is not served: TLS mode %s needs the mesh's own certificates, and jwtgate terminates TLS with a certificate of its own (SIMPLE, MUTUAL or OPTIONAL_MUTUAL)", label, mode)
		return nil, "", false
	default:
		d.Errorf(f("mode"), "invalid mode %q (want SIMPLE, MUTUAL, OPTIONAL_MUTUAL, PASSTHROUGH, AUTO_PASSTHROUGH or ISTIO_MUTUAL)", c.Mode)
		return nil, "", false
	}
	mutual := mode != "SIMPLE"
	for _, k := range []struct {
		key string
		set bool
	}{
		{"subjectAltNames", len(c.SubjectAltNames) > 0},
		{"verifyCertificateSpki", len(c.VerifyCertificateSpki) > 0},
		{"verifyCertificateHash", len(c.VerifyCertificateHash) > 0},
		{"caCrl", c.CACrl != ""},
	} {
		switch {
		case !k.set:
		case mutual:
			d.NotServed(f(k.key), "%s is not served: jwtgate cannot restrict client certificates by %s", label, k.key)
			return nil, "", false
		default:
			d.Warnf(f(k.key), "ignored: client certificates are asked for with modes MUTUAL and OPTIONAL_MUTUAL only")
		}
	}
	if c.TLSCertificates.Kind != 0 && len(c.TLSCertificates.Content) > 0 {
		d.NotServed(f("tlsCertificates"), "%s is not served: jwtgate serves one certificate per server (several for one host, by key type, are not supported)", label)
		return nil, "", false
	}
	switch v := c.MinProtocolVersion; v {
	case "", "TLS_AUTO", "TLSV1_2":
	case "TLSV1_0", "TLSV1_1":
		d.NotServed(f("minProtocolVersion"), "jwtgate accepts TLS 1.2 and 1.3 only")
	case "TLSV1_3":
		d.NotServed(f("minProtocolVersion"), "%s is not served: jwtgate cannot refuse TLS 1.2 on a listener", label)
		return nil, "", false
	default:
		d.Errorf(f("minProtocolVersion"), "invalid version %q (want TLS_AUTO, TLSV1_0, TLSV1_1, TLSV1_2 or TLSV1_3)", v)
		return nil, "", false
	}
	if v := c.MaxProtocolVersion; v != "" && v != "TLS_AUTO" && v != "TLSV1_3" {
		d.NotServed(f("maxProtocolVersion"), "not applied: jwtgate accepts TLS 1.3 too")
	}
	if len(c.CipherSuites) > 0 {
		d.NotServed(f("cipherSuites"), "not applied: jwtgate uses Go's TLS cipher suites")
	}
	cred := c.CredentialName
	switch n := len(c.CredentialNames); {
	case n > 1:
		d.NotServed(f("credentialNames"), "%s is not served: jwtgate serves one certificate per server (several for one host, by key type, are not supported)", label)
		return nil, "", false
	case n == 1 && cred == "":
		cred = c.CredentialNames[0]
	}
	out := &model.ListenerTLS{}
	switch {
	case cred != "":
		if c.ServerCertificate != "" || c.PrivateKey != "" {
			d.Warnf(f("serverCertificate"), "ignored: credentialName is used, as in Istio")
		}
		cert, keyPEM, source, found := t.secret(d, cred)
		at := f("credentialName")
		if !d.Has(at) {
			at = f("credentialNames")
		}
		if !found {
			d.NotFound(at, "%s is not served: %s", label, source)
			return nil, "", false
		}
		out.CertPEM, out.KeyPEM, out.CertSource = cert, keyPEM, source
		if mutual {
			d.NotServed(at, "%s is not served: mode %s with a Secret needs the client CA inline, which jwtgate cannot take yet; give serverCertificate, privateKey and caCertificates files", label, mode)
			return nil, "", false
		}
	case c.ServerCertificate != "" && c.PrivateKey != "":
		out.CertFile, out.KeyFile = d.FilePath(c.ServerCertificate), d.FilePath(c.PrivateKey)
		switch {
		case mutual && c.CACertificates == "":
			d.Errorf(p, "mode %s needs caCertificates", mode)
			return nil, "", false
		case mutual:
			out.ClientCAFile, out.ClientCerts = d.FilePath(c.CACertificates), model.ClientCertsRequire
			if mode == "OPTIONAL_MUTUAL" {
				out.ClientCerts = model.ClientCertsRequest
			}
		case c.CACertificates != "":
			d.Warnf(f("caCertificates"), "ignored: client certificates are asked for with modes MUTUAL and OPTIONAL_MUTUAL only")
		}
	default:
		d.Errorf(p, "mode %s needs credentialName, or serverCertificate and privateKey", mode)
		return nil, "", false
	}
	// The certificate may differ between the servers of a port (chosen by
	// SNI); the client certificate settings may not.
	key = mode + "|" + out.ClientCAFile
	return out, key, true
}

// secret finds a credentialName's certificate and key: the Secret of that
// name in the Gateway's namespace, else in the workload's; a Secret of
// type kubernetes.io/tls (tls.crt, tls.key) or a generic one (cert, key),
// as Istio reads them. source names it, or says what is missing.
func (t *translator) secret(d *document, name string) (cert, key []byte, source string, ok bool) {
	nss := []string{d.Ref.Namespace}
	if ns := t.s.workloadNamespace(); ns != d.Ref.Namespace {
		nss = append(nss, ns)
	}
	for _, ns := range nss {
		sec := t.s.kube.Secret(ns, name)
		if sec == nil {
			continue
		}
		for _, k := range [][2]string{{"tls.crt", "tls.key"}, {"cert", "key"}} {
			if c, k := sec.Data[k[0]], sec.Data[k[1]]; len(c) > 0 && len(k) > 0 {
				return c, k, "Secret " + ns + "/" + name, true
			}
		}
		return nil, nil, fmt.Sprintf("Secret %s/%s holds no certificate and key (tls.crt and tls.key, or cert and key)", ns, name), false
	}
	return nil, nil, fmt.Sprintf("Secret %s not found in namespace %s", name, strings.Join(nss, " or ")), false
}
