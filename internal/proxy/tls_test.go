package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/authz"
	"jwtgate.dev/jwtgate/internal/certtest"
	"jwtgate.dev/jwtgate/internal/model"
)

// tlsClient trusts the test CA and presents certs, if any.
func tlsClient(p *certtest.CA, certs ...tls.Certificate) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs:      p.Pool,
		Certificates: certs,
		ServerName:   "gw.test",
	}}}
}

func TestHTTPSListener(t *testing.T) {
	p := certtest.NewCA(t)
	certFile, keyFile, _ := p.Leaf(t, "gw", []string{"gw.test"})
	echo := newEcho(t)
	cfg := oneRoute(echo.URL, model.Route{})
	cfg.Listeners[0].TLS = &model.ListenerTLS{CertFile: certFile, KeyFile: keyFile}
	s := startServer(t, build(t, cfg, Options{}), nil)
	res := get(t, tlsClient(p), "https://"+s.Addr("web").String()+"/secure", map[string]string{"Host": "gw.test"})
	if res.status != 200 {
		t.Fatalf("status %d %q", res.status, res.body)
	}
	if e := res.echo(t); e.Header.Get("X-Forwarded-Proto") != "https" {
		t.Fatalf("X-Forwarded-Proto %q", e.Header.Get("X-Forwarded-Proto"))
	}
}

// TestInlineCertificate: a listener's certificate may be held in the
// model itself (from a Kubernetes Secret); a bad one is an error naming
// where it came from.
func TestInlineCertificate(t *testing.T) {
	p := certtest.NewCA(t)
	certFile, keyFile, _ := p.Leaf(t, "gw", []string{"gw.test"})
	certPEM, _ := os.ReadFile(certFile)
	keyPEM, _ := os.ReadFile(keyFile)
	echo := newEcho(t)
	cfg := oneRoute(echo.URL, model.Route{})
	cfg.Listeners[0].TLS = &model.ListenerTLS{CertPEM: certPEM, KeyPEM: keyPEM, CertSource: "Secret web/gw-tls"}
	s := startServer(t, build(t, cfg, Options{}), nil)
	if res := get(t, tlsClient(p), "https://"+s.Addr("web").String()+"/", map[string]string{"Host": "gw.test"}); res.status != 200 {
		t.Fatalf("status %d %q", res.status, res.body)
	}
	cfg.Listeners[0].TLS.KeyPEM = []byte("not a key")
	_, issues := Build(cfg, Options{})
	if err := issues.Err(); err == nil || !strings.Contains(err.Error(), "loading the certificate of Secret web/gw-tls") || strings.Contains(err.Error(), "not a key") {
		t.Errorf("issues: %v", err)
	}
}

// TestMTLSListener: with a client CA, require rejects handshakes without a
// certificate and request accepts them; the SPIFFE URI SAN of a verified
// certificate is the source principal policies see.
func TestMTLSListener(t *testing.T) {
	p := certtest.NewCA(t)
	certFile, keyFile, _ := p.Leaf(t, "gw", []string{"gw.test"})
	_, _, client := p.Leaf(t, "client", nil, "spiffe://cluster.local/ns/default/sa/sleep")
	_, _, other := p.Leaf(t, "other", nil, "spiffe://cluster.local/ns/prod/sa/web")
	stranger := certtest.NewCA(t)
	_, _, untrusted := stranger.Leaf(t, "stranger", nil, "spiffe://cluster.local/ns/default/sa/sleep")
	echo := newEcho(t)

	for _, mode := range []model.ClientCertMode{"", model.ClientCertsRequire, model.ClientCertsRequest} {
		t.Run("mode="+string(mode), func(t *testing.T) {
			cfg := oneRoute(echo.URL, model.Route{})
			cfg.Listeners[0].TLS = &model.ListenerTLS{CertFile: certFile, KeyFile: keyFile, ClientCAFile: p.File, ClientCerts: mode}
			cfg.Policies = []model.Policy{{
				Name:   "sleep-or-anonymous",
				Action: model.ActionAllow,
				Rules: []model.Rule{
					{From: []model.From{{Principals: []string{"cluster.local/ns/default/sa/sleep"}, Namespaces: []string{"default"}, ServiceAccounts: []string{"default/sleep"}}}},
					{To: []model.To{{Paths: []string{"/anonymous"}}}},
				},
			}}
			s := startServer(t, build(t, cfg, Options{}), nil)
			base := "https://" + s.Addr("web").String()

			if res := get(t, tlsClient(p, client), base+"/x", nil); res.status != 200 {
				t.Errorf("allowed SPIFFE ID: %d %q", res.status, res.body)
			}
			if res := get(t, tlsClient(p, other), base+"/x", nil); res.status != 403 || res.body != "RBAC: access denied" {
				t.Errorf("other SPIFFE ID: %d %q", res.status, res.body)
			}
			_, err := tlsClient(p, untrusted).Get(base + "/anonymous")
			if err == nil {
				t.Errorf("a certificate from another CA was accepted")
			}
			res, err := tlsClient(p).Get(base + "/anonymous")
			if mode == model.ClientCertsRequest {
				if err != nil {
					t.Fatalf("request mode without a certificate: %v", err)
				}
				res.Body.Close()
				if res.StatusCode != 200 {
					t.Errorf("request mode without a certificate: status %d", res.StatusCode)
				}
			} else if err == nil {
				res.Body.Close()
				t.Errorf("require mode accepted a client without a certificate")
			}
		})
	}
}

func TestPeerOf(t *testing.T) {
	p := certtest.NewCA(t)
	for _, tt := range []struct {
		uris []string
		want authz.Peer
	}{
		{[]string{"spiffe://td/ns/NS/sa/SA"}, authz.Peer{Principal: "td/ns/NS/sa/SA", Namespace: "NS", ServiceAccount: "NS/SA"}},
		{[]string{"https://example.com/x", "spiffe://td/ns/a/sa/b"}, authz.Peer{Principal: "td/ns/a/sa/b", Namespace: "a", ServiceAccount: "a/b"}},
		{[]string{"spiffe://td/workload/x"}, authz.Peer{Principal: "td/workload/x"}},
		{[]string{"spiffe://td/ns/a/sa/b/c"}, authz.Peer{Principal: "td/ns/a/sa/b/c"}},
		{[]string{"spiffe://td/ns//sa/b"}, authz.Peer{Principal: "td/ns//sa/b"}},
		{nil, authz.Peer{}},
	} {
		_, _, cert := p.Leaf(t, "peer", nil, tt.uris...)
		r := &http.Request{TLS: &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{cert.Leaf}}}}
		if got := peerOf(r); got != tt.want {
			t.Errorf("peerOf(%v) = %+v, want %+v", tt.uris, got, tt.want)
		}
	}
	if got := peerOf(&http.Request{}); got != (authz.Peer{}) {
		t.Errorf("plain request: %+v", got)
	}
}

// TestHTTPSListenerEdges: the realm of a challenge over TLS is https; the
// listener negotiates h2 or http/1.1 in ALPN, h2 first, and TLS 1.2 or
// later only; plain HTTP to it is answered by net/http with 400.
func TestHTTPSListenerEdges(t *testing.T) {
	p := certtest.NewCA(t)
	certFile, keyFile, _ := p.Leaf(t, "gw", []string{"gw.test"})
	echo := newEcho(t)
	cfg := seed004Config(t, echo.URL)
	cfg.Listeners[0].TLS = &model.ListenerTLS{CertFile: certFile, KeyFile: keyFile}
	s := startServer(t, build(t, cfg, Options{}), nil)
	addr := s.Addr("http").String()

	res := get(t, tlsClient(p), "https://"+addr+"/headers?q=1", map[string]string{"Host": "www.example.com"})
	if got, want := res.header.Get("Www-Authenticate"), `Bearer realm="https://www.example.com/headers"`; res.status != 401 || got != want {
		t.Errorf("got %d %q, want 401 %q", res.status, got, want)
	}
	for _, alpn := range []struct {
		offer []string
		want  string
	}{{[]string{"h2"}, "h2"}, {[]string{"http/1.1", "h2"}, "h2"}, {[]string{"http/1.1"}, "http/1.1"}, {nil, ""}} {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: p.Pool, ServerName: "gw.test", NextProtos: alpn.offer})
		if err != nil {
			t.Fatalf("offering %v: %v", alpn.offer, err)
		}
		if got := c.ConnectionState().NegotiatedProtocol; got != alpn.want {
			t.Errorf("offering %v: ALPN %q, want %q", alpn.offer, got, alpn.want)
		}
		c.Close()
	}
	if _, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: p.Pool, ServerName: "gw.test", NextProtos: []string{"h3"}}); err == nil {
		t.Error("a client offering only h3 completed the handshake")
	}
	if _, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: p.Pool, ServerName: "gw.test", MaxVersion: tls.VersionTLS11}); err == nil {
		t.Error("TLS 1.1 accepted")
	}
	plain := rawRequest(t, addr, "GET /headers HTTP/1.1")
	if plain.status != 400 || plain.body != "Client sent an HTTP request to an HTTPS server.\n" {
		t.Errorf("plain HTTP: %d %q", plain.status, plain.body)
	}
}
