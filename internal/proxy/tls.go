package proxy

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"

	"jwtgate.dev/jwtgate/internal/authz"
	"jwtgate.dev/jwtgate/internal/model"
)

// listenerTLS builds the server TLS configuration of a listener: its
// certificates and, with a client CA, mutual TLS. The listener offers
// HTTP/2 and HTTP/1.1 in ALPN ("h2", then "http/1.1"): HTTP/2 clients
// (gRPC among them) get HTTP/2, the others, and WebSocket handshakes,
// HTTP/1.1. An egress listener offers HTTP/1.1 only (http2.go). Every
// certificate is loaded here, when the Runtime is built; a listener with
// SNI certificates chooses among them per handshake (certChooser).
func listenerTLS(t *model.ListenerTLS) (*tls.Config, []fieldError) {
	var errs []fieldError
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
	}
	// The default first; the capacity keeps the chooser's pointers valid.
	certs := make([]tls.Certificate, 0, 1+len(t.Certificates))
	if t.HasDefault() || len(t.Certificates) == 0 {
		cert, err := loadKeyPair(t.CertFile, t.KeyFile, t.CertPEM, t.KeyPEM, t.CertSource)
		if err != nil {
			errs = append(errs, fieldError{keyPairField("tls", t.CertPEM != nil || t.KeyPEM != nil), err})
		}
		certs = append(certs, cert)
	}
	if len(t.Certificates) == 0 {
		cfg.Certificates = certs
	} else {
		ch := &certChooser{exact: map[string]*tls.Certificate{}, suffix: map[string]*tls.Certificate{}}
		for i, c := range t.Certificates {
			cert, err := loadKeyPair(c.CertFile, c.KeyFile, c.CertPEM, c.KeyPEM, c.CertSource)
			if err != nil {
				errs = append(errs, fieldError{keyPairField(fmt.Sprintf("tls.certificates[%d]", i), c.Inline()), err})
			}
			certs = append(certs, cert)
			ch.add(c.ServerNames, &certs[len(certs)-1])
		}
		ch.def = &certs[0]
		cfg.GetCertificate = ch.get
	}
	if t.ClientCAFile != "" {
		pool, err := loadCertPool(t.ClientCAFile)
		if err != nil {
			errs = append(errs, fieldError{"tls.clientCAFile", err})
		}
		cfg.ClientCAs = pool
		switch t.ClientCerts {
		case "", model.ClientCertsRequire:
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		case model.ClientCertsRequest:
			cfg.ClientAuth = tls.VerifyClientCertIfGiven
		default:
			errs = append(errs, fieldError{"tls.clientCerts", fmt.Errorf("unknown mode %q (want require or request)", t.ClientCerts)})
		}
	} else if t.ClientCerts != "" {
		errs = append(errs, fieldError{"tls.clientCerts", fmt.Errorf("needs clientCAFile")})
	}
	return cfg, errs
}

// loadKeyPair loads a certificate chain and its key, from the PEM held
// inline (named source in messages) when there is any, else from files.
// The PEM itself never appears in an error.
func loadKeyPair(certFile, keyFile string, certPEM, keyPEM []byte, source string) (tls.Certificate, error) {
	if certPEM != nil || keyPEM != nil {
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return cert, fmt.Errorf("loading the certificate of %s: %w", source, err)
		}
		return cert, nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return cert, fmt.Errorf("loading certificate: %w", err)
	}
	return cert, nil
}

// keyPairField is the field an error loading the certificate at path is
// reported on: the certificate file, or path itself for one held inline.
func keyPairField(path string, inline bool) string {
	if inline {
		return path
	}
	return path + ".certFile"
}

// certChooser picks a listener's certificate by the server name of the
// ClientHello (SNI): the certificate that lists the name exactly, else
// the one with the longest wildcard suffix that matches it, else the
// default (also for a client that sends no name). Names compare without
// regard to ASCII case or a trailing dot. It is read-only once built, so
// concurrent handshakes share it.
type certChooser struct {
	def    *tls.Certificate
	exact  map[string]*tls.Certificate
	suffix map[string]*tls.Certificate // "*.example.com" under "example.com"
}

// add makes cert the certificate of names (exact or "*.SUFFIX"). The
// model's validation refuses a name listed twice; should one be, the
// first keeps it.
func (c *certChooser) add(names []string, cert *tls.Certificate) {
	for _, n := range names {
		n = lowerASCII(n)
		m, key := c.exact, n
		if s, ok := strings.CutPrefix(n, "*."); ok {
			m, key = c.suffix, s
		}
		if m[key] == nil {
			m[key] = cert
		}
	}
}

// choose returns the certificate for the server name sni.
func (c *certChooser) choose(sni string) *tls.Certificate {
	name := lowerASCII(strings.TrimSuffix(sni, "."))
	if cert := c.exact[name]; cert != nil {
		return cert
	}
	// The longest suffix first: a.b.example.com tries b.example.com,
	// then example.com, then com; a wildcard needs a label before its
	// suffix, so a leading dot starts none.
	for i := 1; i < len(name); i++ {
		if name[i] != '.' {
			continue
		}
		if cert := c.suffix[name[i+1:]]; cert != nil {
			return cert
		}
	}
	return c.def
}

// lowerASCII lower-cases the ASCII letters of s only: a server name is
// ASCII (an internationalized one in its xn-- form), and Unicode case
// folding must not make another name of one (the Kelvin sign is no "k").
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// get is the listener's tls.Config.GetCertificate.
func (c *certChooser) get(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.choose(hello.ServerName), nil
}

// peerOf returns the mTLS identity of the client: the first spiffe:// URI
// SAN of its verified certificate, spiffe://TD/ns/NS/sa/SA giving the
// principal "TD/ns/NS/sa/SA", namespace NS and service account "NS/SA".
// A SPIFFE ID of another shape gives the principal only. No verified
// certificate, no peer.
func peerOf(r *http.Request) authz.Peer {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return authz.Peer{}
	}
	for _, u := range r.TLS.VerifiedChains[0][0].URIs {
		if u.Scheme != "spiffe" || u.Host == "" {
			continue
		}
		p := authz.Peer{Principal: u.Host + u.Path}
		// /ns/NS/sa/SA
		if rest, ok := strings.CutPrefix(u.Path, "/ns/"); ok {
			ns, rest, _ := strings.Cut(rest, "/")
			if sa, ok := strings.CutPrefix(rest, "sa/"); ok && ns != "" && sa != "" && !strings.Contains(sa, "/") {
				p.Namespace = ns
				p.ServiceAccount = ns + "/" + sa
			}
		}
		return p
	}
	return authz.Peer{}
}
