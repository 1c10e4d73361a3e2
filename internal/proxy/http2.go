package proxy

import (
	"net/http"

	"jwtgate.dev/jwtgate/internal/model"
)

// HTTP versions, client side: a listener with TLS offers "h2" and
// "http/1.1" in ALPN (tls.go), so HTTP/2 clients get HTTP/2 and the
// others HTTP/1.1; a plain listener speaks HTTP/1.1, and also cleartext
// HTTP/2 with prior knowledge (h2c) when its configuration says so
// (model.Listener.H2C); an egress listener speaks HTTP/1.1 only, as its
// CONNECT tunnels take over the connection. An HTTP/1.1 request to
// upgrade to h2c is never taken (dropConnectionHeaders).
//
// Upstream side: a backend is spoken to in HTTP/1.1 unless its protocol
// is model.BackendHTTP2: HTTP/2 over TLS (ALPN "h2" only) for an https
// URL, h2c with prior knowledge for an http one (upstreamProtocols).

// h2cListeners are the addresses of the plain listeners that serve h2c.
type h2cListeners map[string]bool

// alpnHTTP1 is the ALPN list of a TLS listener that speaks HTTP/1.1
// only (an egress listener).
var alpnHTTP1 = []string{"http/1.1"}

// recordProtocols checks and keeps which HTTP versions the listener ml
// (compiled as l, at path, named res in messages) serves; the builder
// calls it for every listener it compiles, after its TLS configuration.
func (b *builder) recordProtocols(ml model.Listener, l *listener, path, res string) {
	if l.tls != nil && ml.Egress != nil {
		l.tls.NextProtos = alpnHTTP1
	}
	if !ml.H2C {
		return
	}
	switch {
	case ml.TLS != nil:
		b.errorf(ml.Origin, path, res, "h2c", "not with tls: a TLS listener serves HTTP/2 through ALPN already; h2c is cleartext HTTP/2 for plain listeners")
	case ml.Egress != nil:
		b.errorf(ml.Origin, path, res, "h2c", "not on an egress listener: it serves HTTP/1.1 only")
	default:
		if b.rt.h2c == nil {
			b.rt.h2c = h2cListeners{}
		}
		b.rt.h2c[ml.Address] = true
	}
}

// serverProtocols are the protocols of the http.Server bound to address:
// HTTP/1.1 and HTTP/2 (over TLS, when the listener has it), and h2c for a
// listener that serves it. Like the server limits, they are taken when
// the address is bound: a reload that turns h2c on or off for an address
// it keeps takes effect at the next start.
func (rt *Runtime) serverProtocols(address string) *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	if rt.h2c[address] {
		p.SetUnencryptedHTTP2(true)
	}
	return p
}

// upstreamProtocols are the protocols of the upstream transport k: nil
// (HTTP/1.1, the transport's default with the settings newTransport
// gives it) unless the backend speaks HTTP/2, which then is the only
// protocol: a backend that does not negotiate it fails (503) rather than
// silently getting HTTP/1.1.
func upstreamProtocols(k transportKey) *http.Protocols {
	if k.protocol != model.BackendHTTP2 {
		return nil
	}
	p := new(http.Protocols)
	if k.https {
		p.SetHTTP2(true)
	} else {
		p.SetUnencryptedHTTP2(true)
	}
	return p
}
