package gloo

import (
	"fmt"
	"strconv"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// port is one listener port of the chosen VirtualGateway: one model
// listener, serving every VirtualGateway listener of that port.
type port struct {
	number int
	name   string // the model listener's
	tls    *model.ListenerTLS
	// tlsKey tells TLS settings apart ("" for plain HTTP).
	tlsKey string
	// redirect is true when the port answers every request with a
	// redirect to https (httpsRedirect).
	redirect bool
	entries  []portEntry
}

// portEntry is one VirtualGateway listener of a port.
type portEntry struct {
	index int
	path  string
	l     vgListener
}

// listeners translates the chosen VirtualGateway's listeners: each HTTP
// listener with a port number becomes (or joins) the model listener of
// its port, bound at Selection.ListenAddress(port). TCP listeners, TLS
// passthrough and what else jwtgate cannot terminate are not served.
func (t *translator) listeners() {
	d := t.gw
	vg := d.vg.Spec
	if len(vg.Listeners) == 0 && !d.Reported("spec.listeners") {
		d.Errorf("spec", "missing required field %q (at least one listener)", "listeners")
	}
	for i, w := range vg.Workloads {
		if o := w.Selector; o != nil {
			d.checkScope(strictyaml.Field(strictyaml.Index("spec.workloads", i), "selector"), o.Cluster, o.Workspace)
		}
	}
	for i, l := range vg.Listeners {
		p := strictyaml.Index("spec.listeners", i)
		t.listener(i, p, l)
	}
	for _, pt := range t.ports {
		e := pt.entries[0]
		origin, base := d.Piece("listeners", e.path)
		d.Rename(base+".name", strictyaml.Field(e.path, "port"))
		d.Rename(base+".address", strictyaml.Field(e.path, "port.number"))
		d.Rename(base+".tls", strictyaml.Field(e.path, "tls"))
		d.Rename(base+".tls.certFile", strictyaml.Field(e.path, "tls.files.serverCert"))
		d.Rename(base+".tls.keyFile", strictyaml.Field(e.path, "tls.files.privateKey"))
		d.Rename(base+".tls.clientCAFile", strictyaml.Field(e.path, "tls.files.caCerts"))
		d.Rename(base+".tls.certSource", strictyaml.Field(e.path, "tls.secretName"))
		t.out.Listeners = append(t.out.Listeners, model.Listener{
			Name: pt.name, Address: t.s.sel.ListenAddress(pt.number), TLS: pt.tls, Origin: origin,
		})
		if pt.redirect {
			t.httpsRedirect(pt)
		}
	}
}

// listener reads one VirtualGateway listener at path p.
func (t *translator) listener(i int, p string, l vgListener) {
	d := t.gw
	label := "listener " + strconv.Itoa(i)
	pp := strictyaml.Field(p, "port")
	switch {
	case l.Port == nil:
		if !d.Reported(pp) {
			d.Errorf(p, "missing required field %q", "port")
		}
		return
	case l.Port.Number == 0 && l.Port.Name != "":
		d.NotServed(pp, "%s is not served: jwtgate binds port numbers, and a port by name needs the gateway's Service; give port.number", label)
		return
	case l.Port.Number < 1 || l.Port.Number > 65535:
		d.Errorf(pp, "invalid port %d (want 1 to 65535)", l.Port.Number)
		return
	}
	label = fmt.Sprintf("listener %d (port %d)", i, l.Port.Number)
	switch {
	case d.Has(strictyaml.Field(p, "tcp")):
		d.NotServed(strictyaml.Field(p, "tcp"), "%s is not served: jwtgate serves HTTP listeners only", label)
		return
	case !d.Has(strictyaml.Field(p, "http")):
		d.NotServed(p, "%s is not served: it has no http: {} (Gloo treats it as a TCP listener), and jwtgate serves HTTP listeners only", label)
		return
	}
	switch ap := strings.ToUpper(l.AppProtocol); ap {
	case "", "HTTP", "HTTPS":
	case "HTTP2", "GRPC", "GRPC-WEB", "HTTP_PROXY":
		d.NotServed(strictyaml.Field(p, "appProtocol"), "served as HTTP/1.1 (and HTTP/2 over TLS): jwtgate does not speak %s in clear text", ap)
	default:
		d.NotServed(strictyaml.Field(p, "appProtocol"), "%s is not served: appProtocol %s is not HTTP", label, l.AppProtocol)
		return
	}
	if d.Has(strictyaml.Field(p, "exposedExternalServices")) {
		d.NotServed(strictyaml.Field(p, "exposedExternalServices"), "not served: jwtgate does not expose ExternalServices (egress) through a VirtualGateway")
	}
	for j, f := range l.AllowedRouteTables {
		fp := strictyaml.Index(strictyaml.Field(p, "allowedRouteTables"), j)
		if f.Host == "" && !d.Reported(strictyaml.Field(fp, "host")) {
			d.Errorf(fp, "missing required field %q", "host")
		}
		if f.Selector != nil {
			d.checkScope(strictyaml.Field(fp, "selector"), f.Selector.Cluster, f.Selector.Workspace)
		}
		if d.Has(strictyaml.Field(fp, "allowedRoutes")) {
			d.NotServed(strictyaml.Field(fp, "allowedRoutes"), "not checked: route filters (cloud provider functions) do not apply to the routes jwtgate serves")
		}
	}
	var ltls *model.ListenerTLS
	key := ""
	if l.TLS != nil {
		if l.HTTPSRedirect {
			d.Errorf(strictyaml.Field(p, "httpsRedirect"), "give tls or httpsRedirect, not both")
			return
		}
		var ok bool
		if ltls, key, ok = t.listenerTLS(l.TLS, strictyaml.Field(p, "tls"), label); !ok {
			return
		}
	}
	for _, pt := range t.ports {
		if pt.number != l.Port.Number {
			continue
		}
		if pt.tlsKey != key || pt.redirect != l.HTTPSRedirect {
			d.NotServed(p, "%s is not served: listener %d serves port %d with other TLS or redirect settings, and jwtgate serves one per port", label, pt.entries[0].index, pt.number)
			return
		}
		pt.entries = append(pt.entries, portEntry{index: i, path: p, l: l})
		return
	}
	t.ports = append(t.ports, &port{
		number: l.Port.Number, name: fmt.Sprintf("%s/%d", d.Name(), l.Port.Number),
		tls: ltls, tlsKey: key, redirect: l.HTTPSRedirect,
		entries: []portEntry{{index: i, path: p, l: l}},
	})
}

// listenerTLS reads a listener's tls at path p: SIMPLE or MUTUAL, with
// files or a Secret. Settings jwtgate cannot honour make the listener not
// served (ok false), never served with weaker TLS.
func (t *translator) listenerTLS(c *tlsConfig, p, label string) (_ *model.ListenerTLS, key string, ok bool) {
	d := t.gw
	mode := strings.ToUpper(c.Mode)
	switch mode {
	case "SIMPLE", "MUTUAL":
	case "", "PASSTHROUGH":
		at := strictyaml.Field(p, "mode")
		if !d.Has(at) {
			at = p
		}
		d.NotServed(at, "%s is not served: its TLS mode is PASSTHROUGH (the default), and jwtgate terminates TLS; write mode: SIMPLE", label)
		return nil, "", false
	case "AUTO_PASSTHROUGH", "ISTIO_MUTUAL":
		d.NotServed(strictyaml.Field(p, "mode"), "%s is not served: TLS mode %s needs the mesh's own certificates, and jwtgate terminates TLS with a certificate of its own (SIMPLE or MUTUAL)", label, mode)
		return nil, "", false
	default:
		d.Errorf(strictyaml.Field(p, "mode"), "invalid mode %q (want SIMPLE, MUTUAL, PASSTHROUGH, AUTO_PASSTHROUGH or ISTIO_MUTUAL)", c.Mode)
		return nil, "", false
	}
	if len(c.VerifySubjectAltName) > 0 {
		d.NotServed(strictyaml.Field(p, "verifySubjectAltName"), "%s is not served: jwtgate cannot restrict client certificates to a list of names", label)
		return nil, "", false
	}
	if pr := c.Parameters; pr != nil {
		pp := strictyaml.Field(p, "parameters")
		switch v := pr.MinimumProtocolVersion; v {
		case "", "TLS_AUTO", "TLSv1_2":
		case "TLSv1_0", "TLSv1_1":
			d.NotServed(strictyaml.Field(pp, "minimumProtocolVersion"), "jwtgate accepts TLS 1.2 and 1.3 only")
		case "TLSv1_3":
			d.NotServed(strictyaml.Field(pp, "minimumProtocolVersion"), "%s is not served: jwtgate cannot refuse TLS 1.2 on a listener", label)
			return nil, "", false
		default:
			d.Errorf(strictyaml.Field(pp, "minimumProtocolVersion"), "invalid version %q (want TLS_AUTO, TLSv1_0, TLSv1_1, TLSv1_2 or TLSv1_3)", v)
			return nil, "", false
		}
		if v := pr.MaximumProtocolVersion; v != "" && v != "TLS_AUTO" && v != "TLSv1_3" {
			d.NotServed(strictyaml.Field(pp, "maximumProtocolVersion"), "not applied: jwtgate accepts TLS 1.3 too")
		}
		if len(pr.CipherSuites) > 0 {
			d.NotServed(strictyaml.Field(pp, "cipherSuites"), "not applied: jwtgate uses Go's TLS cipher suites")
		}
	}
	out := &model.ListenerTLS{}
	switch {
	case c.SecretName != "" && c.Files != nil:
		d.Errorf(strictyaml.Field(p, "files"), "give secretName or files, not both")
		return nil, "", false
	case c.SecretName != "":
		ns := t.gatewayNamespace()
		sec := t.s.kube.Secret(ns, c.SecretName)
		at := strictyaml.Field(p, "secretName")
		if sec == nil {
			d.NotFound(at, "%s is not served: Secret %s/%s not found (jwtgate looks in the gateway workload's namespace)", label, ns, c.SecretName)
			return nil, "", false
		}
		cert, key := secretPair(sec.Data)
		if cert == nil || key == nil {
			d.NotFound(at, "%s is not served: Secret %s/%s holds no certificate and key (tls.crt and tls.key, or cert and key)", label, ns, c.SecretName)
			return nil, "", false
		}
		out.CertPEM, out.KeyPEM, out.CertSource = cert, key, "Secret "+ns+"/"+c.SecretName
		if mode == "MUTUAL" {
			d.NotServed(strictyaml.Field(p, "mode"), "%s is not served: MUTUAL with a Secret needs the client CA inline, which jwtgate cannot take yet; give files.caCerts", label)
			return nil, "", false
		}
	case c.Files != nil:
		f := c.Files
		fp := strictyaml.Field(p, "files")
		if f.ServerCert == "" || f.PrivateKey == "" {
			d.Errorf(fp, "mode %s needs serverCert and privateKey", mode)
			return nil, "", false
		}
		out.CertFile, out.KeyFile = d.FilePath(f.ServerCert), d.FilePath(f.PrivateKey)
		switch {
		case mode == "MUTUAL" && f.CACerts == "":
			d.Errorf(fp, "mode MUTUAL needs caCerts")
			return nil, "", false
		case mode == "MUTUAL":
			out.ClientCAFile, out.ClientCerts = d.FilePath(f.CACerts), model.ClientCertsRequire
		case f.CACerts != "":
			d.Warnf(strictyaml.Field(fp, "caCerts"), "ignored: client certificates are asked for with mode MUTUAL only")
		}
	default:
		d.Errorf(p, "mode %s needs secretName or files", mode)
		return nil, "", false
	}
	key = mode + "|" + c.SecretName + "|" + out.CertFile + "|" + out.KeyFile + "|" + out.ClientCAFile
	return out, key, true
}

// gatewayNamespace is where the chosen gateway's Secrets are: the
// namespace of its workloads (the selection's, else the first its
// workloads selectors name), else its own.
func (t *translator) gatewayNamespace() string {
	if ns := t.s.sel.WorkloadNamespace; ns != "" {
		return ns
	}
	for _, w := range t.gw.vg.Spec.Workloads {
		if w.Selector != nil && w.Selector.Namespace != "" {
			return w.Selector.Namespace
		}
	}
	return t.gw.Ref.Namespace
}

// secretPair is a TLS Secret's certificate chain and key: tls.crt and
// tls.key, or cert and key (an Opaque secret's names).
func secretPair(data map[string][]byte) (cert, key []byte) {
	for _, k := range [][2]string{{"tls.crt", "tls.key"}, {"cert", "key"}} {
		if c, ok := data[k[0]]; ok && len(c) > 0 {
			if kk, ok := data[k[1]]; ok && len(kk) > 0 {
				return c, kk
			}
		}
	}
	return nil, nil
}

// httpsRedirect makes the one route of a port with httpsRedirect: every
// request is answered 301 with the same host and path over https.
func (t *translator) httpsRedirect(pt *port) {
	d := t.gw
	e := pt.entries[0]
	origin, base := d.Piece("routes", strictyaml.Field(e.path, "httpsRedirect"))
	d.Rename(base+".listener", strictyaml.Field(e.path, "port"))
	r := &route{doc: d, m: model.Route{
		Name: pt.name + "/https-redirect", Listener: pt.name, Origin: origin,
		RouteActions: model.RouteActions{Redirect: &model.Redirect{Scheme: "https", Port: 443, Status: 301}},
	}}
	t.routes = append(t.routes, r)
	t.out.Routes = append(t.out.Routes, r.m)
}
