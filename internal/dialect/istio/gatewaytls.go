package istio

import (
	"fmt"
	"slices"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// The certificates of an HTTPS port whose servers present different
// ones: each server's hosts are the server names (SNI) its certificate is
// chosen for.

// portTLS is the TLS of an HTTPS port, base the Locator base of its model
// listener. Its default certificate is that of the first server whose
// hosts hold "*", else of the first server. When the servers'
// certificates differ, each is also served, by SNI, for the hosts of the
// servers that present it (as Envoy's filter chains match server names:
// an exact name, else the longest wildcard, else the default).
func portTLS(pt *port, base string) *model.ListenerTLS {
	def := pt.servers[0]
	for _, e := range pt.servers {
		if slices.Contains(e.names, "*") {
			def = e
			break
		}
	}
	renameTLS := func(from string, e portServer) {
		d := e.gw
		d.Rename(from, strictyaml.Field(e.path, "tls"))
		d.Rename(from+".certFile", strictyaml.Field(e.path, "tls.serverCertificate"))
		d.Rename(from+".keyFile", strictyaml.Field(e.path, "tls.privateKey"))
		d.Rename(from+".certSource", strictyaml.Field(e.path, "tls.credentialName"))
	}
	renameTLS(base+".tls", def)
	def.gw.Rename(base+".tls.clientCAFile", strictyaml.Field(def.path, "tls.caCertificates"))
	out := *def.tls
	if !slices.ContainsFunc(pt.servers, func(e portServer) bool { return e.certKey != def.certKey }) {
		return &out
	}
	var keys []string // the certificate of each entry
	for _, e := range pt.servers {
		names := slices.DeleteFunc(slices.Clone(e.names), func(n string) bool { return n == "*" })
		if len(names) == 0 {
			continue // "*" only: the default's, as no other certificate may be for "*"
		}
		i := slices.Index(keys, e.certKey)
		if i < 0 {
			i = len(keys)
			keys = append(keys, e.certKey)
			from := fmt.Sprintf("%s.tls.certificates[%d]", base, i)
			renameTLS(from, e)
			e.gw.Rename(from+".serverNames", strictyaml.Field(e.path, "hosts"))
			out.Certificates = append(out.Certificates, model.ListenerCertificate{
				CertFile: e.tls.CertFile, KeyFile: e.tls.KeyFile, CertPEM: e.tls.CertPEM, KeyPEM: e.tls.KeyPEM, CertSource: e.tls.CertSource,
			})
		}
		c := &out.Certificates[i]
		for _, n := range names {
			if !slices.Contains(c.ServerNames, n) {
				c.ServerNames = append(c.ServerNames, n)
			}
		}
	}
	return &out
}

// serverNames are the SNI names of the hosts of an HTTPS server at path
// p: each host without its namespace, in lower case and without a
// trailing dot; "*" stands for any name. A host that no client sends as
// a server name (an IP address) is left out, with a warning.
func serverNames(d *document, srv server, p string) []string {
	var out []string
	for j, h := range srv.Hosts {
		_, host, ok := serverHost(h)
		if !ok {
			continue // reported by checkRouting
		}
		host = strings.ToLower(strings.TrimSuffix(host, "."))
		if host != "*" {
			if msg := model.BadServerName(host); msg != "" {
				d.Warnf(strictyaml.Index(strictyaml.Field(p, "hosts"), j), "no certificate is chosen for it by SNI: %s", msg)
				continue
			}
		}
		if !slices.Contains(out, host) {
			out = append(out, host)
		}
	}
	return out
}

// sameNameOtherCert finds a server of the port that presents another
// certificate than e for one of e's server names ("*" included).
func sameNameOtherCert(pt *port, e portServer) (portServer, string, bool) {
	for _, o := range pt.servers {
		if o.certKey == e.certKey {
			continue
		}
		for _, n := range e.names {
			if slices.Contains(o.names, n) {
				return o, n, true
			}
		}
	}
	return portServer{}, "", false
}
