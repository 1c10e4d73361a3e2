package model

import (
	"net/netip"
	"strings"
)

// listenerTLS checks the TLS settings of a listener: a certificate and
// key for the default and for each SNI certificate, the client
// certificate mode, and server names that are well formed and choose one
// certificate each.
func (v *validator) listenerTLS(a at, t *ListenerTLS) {
	inline := t.CertPEM != nil || t.KeyPEM != nil
	switch {
	case !t.HasDefault() && len(t.Certificates) > 0:
		// Certificates[0] is the default.
	case !inline:
		if t.CertFile == "" {
			a.errorf("tls.certFile", "required")
		}
		if t.KeyFile == "" {
			a.errorf("tls.keyFile", "required")
		}
	}
	switch t.ClientCerts {
	case "", ClientCertsRequire, ClientCertsRequest:
		if t.ClientCerts != "" && t.ClientCAFile == "" {
			a.errorf("tls.clientCerts", "needs clientCAFile")
		}
	default:
		a.errorf("tls.clientCerts", "invalid value %q (want require or request)", t.ClientCerts)
	}
	first := map[string]int{} // lower-case server name -> index of its certificate
	for i, c := range t.Certificates {
		p := index("tls.certificates", i)
		if !c.Inline() {
			if c.CertFile == "" {
				a.errorf(field(p, "certFile"), "required")
			}
			if c.KeyFile == "" {
				a.errorf(field(p, "keyFile"), "required")
			}
		}
		if len(c.ServerNames) == 0 {
			a.errorf(field(p, "serverNames"), "required: at least one server name the certificate is served for")
		}
		for j, n := range c.ServerNames {
			np := index(field(p, "serverNames"), j)
			if msg := BadServerName(n); msg != "" {
				a.errorf(np, "invalid server name %q: %s", n, msg)
				continue
			}
			k := strings.ToLower(n)
			switch f, dup := first[k]; {
			case dup && f == i:
				a.errorf(np, "server name %q is listed twice", n)
			case dup:
				a.errorf(np, "server name %q is served by tls.certificates[%d] already: a server name chooses one certificate", n, f)
			default:
				first[k] = i
			}
		}
	}
}

// BadServerName says what is wrong with a server name of a
// ListenerCertificate, or returns "": a DNS name of letters, digits, "-"
// and "_" ("api.example.com"), or "*." and such a name (a wildcard for
// one label or more); no trailing dot and no IP address, which clients
// never send as SNI.
func BadServerName(n string) string {
	host, wild := strings.CutPrefix(n, "*.")
	switch {
	case n == "":
		return "empty"
	case len(n) > 253:
		return "longer than 253 characters"
	case strings.HasSuffix(n, "."):
		return "clients send server names without a trailing dot: write it without"
	case strings.Contains(host, "*"):
		return "a wildcard must be the whole leftmost label, followed by a domain, as in *.example.com"
	}
	if _, err := netip.ParseAddr(host); err == nil && !wild {
		return "an IP address: clients send no server name (SNI) for an address, so it would never be chosen"
	}
	for _, l := range strings.Split(host, ".") {
		if l == "" {
			return "empty label"
		}
		if len(l) > 63 {
			return "a label is longer than 63 characters"
		}
		for _, c := range l {
			if !(c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				return "want letters, digits, '-' and '_' in dot-separated labels (an internationalized name in its xn-- form)"
			}
		}
	}
	return ""
}
