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
// certificate and, with a client CA, mutual TLS. The listener offers
// HTTP/2 and HTTP/1.1 in ALPN ("h2", then "http/1.1"): HTTP/2 clients
// (gRPC among them) get HTTP/2, the others, and WebSocket handshakes,
// HTTP/1.1. An egress listener offers HTTP/1.1 only (http2.go).
func listenerTLS(t *model.ListenerTLS) (*tls.Config, []fieldError) {
	var errs []fieldError
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
	}
	var cert tls.Certificate
	var err error
	if t.CertPEM != nil || t.KeyPEM != nil {
		if cert, err = tls.X509KeyPair(t.CertPEM, t.KeyPEM); err != nil {
			errs = append(errs, fieldError{"tls", fmt.Errorf("loading the certificate of %s: %w", t.CertSource, err)})
		}
	} else if cert, err = tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
		errs = append(errs, fieldError{"tls.certFile", fmt.Errorf("loading certificate: %w", err)})
	}
	cfg.Certificates = []tls.Certificate{cert}
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
