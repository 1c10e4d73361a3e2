package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"jwtgate.dev/jwtgate/internal/demo"
)

// The HTTP/2 scenarios: a client speaks HTTP/2 over TLS (ALPN "h2") to
//
//   - (h) a bare httputil.ReverseProxy behind an http.Server with TLS,
//     configured as (b)'s (its upstream pool sized for the load);
//   - (i) jwtgate on a TLS listener (bench/h2.yaml.tmpl: (c)'s gateway),
//     with the same valid RS256 token on every request (a cache hit
//     after the first).
//
// Both forward to the same plain HTTP/1.1 upstream as (a) to (d). Both
// hold a certificate for h2Host from a CA made in the process, which the
// client trusts. The client is net/http's HTTP/2 transport, HTTP/2 only:
// its -conns workers each send a request, read the whole response and
// send the next, their streams multiplexed on the one TLS connection the
// transport keeps to the proxy, as HTTP/2 clients (gRPC channels among
// them) do.

//go:embed h2.yaml.tmpl
var h2Template string

// h2Host is the name in the proxies' certificates, which the client
// checks (it dials their loopback addresses).
const h2Host = "gateway.bench.test"

// h2Bench is what scenarios (h) and (i) run against.
type h2Bench struct {
	ca    *benchCA
	bare  string // (h)'s address
	gw    string // (i)'s address
	close []func()
}

// Close stops the proxies and removes the certificate files.
func (h *h2Bench) Close() {
	for i := len(h.close) - 1; i >= 0; i-- {
		h.close[i]()
	}
}

// startH2 starts the bare HTTP/2 reverse proxy (its pool keeping 2 x
// conns idle connections, as (b)'s does) and jwtgate's TLS listener, both
// in front of the plain HTTP upstream at upstream, with iss's key.
func startH2(ctx context.Context, iss *demo.Issuer, upstream string, conns int) (_ *h2Bench, err error) {
	h := &h2Bench{}
	defer func() {
		if err != nil {
			h.Close()
		}
	}()
	if h.ca, err = newBenchCA(); err != nil {
		return nil, err
	}
	cert, err := h.ca.serverCert(h2Host)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "jwtgate-bench-h2-")
	if err != nil {
		return nil, err
	}
	h.close = append(h.close, func() { _ = os.RemoveAll(dir) })
	certFile, keyFile, err := writeKeyPair(dir, cert)
	if err != nil {
		return nil, err
	}

	// (h): http.Server serves HTTP/2 on a TLS listener whose
	// configuration offers "h2" in ALPN.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	bare := serveOn(tls.NewListener(ln, &tls.Config{
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2", "http/1.1"},
		MinVersion:   tls.VersionTLS12,
	}), newBareProxy("http://"+upstream, conns))
	h.close = append(h.close, bare.Close)
	h.bare = bare.addr

	gw, closeGW, err := startConfig(ctx, "h2.yaml", h2Template, map[string]string{
		"Issuer":   iss.URL,
		"JWKS":     string(iss.JWKS()),
		"Upstream": "http://" + upstream,
		"CertFile": certFile,
		"KeyFile":  keyFile,
	}, "h2")
	if err != nil {
		return nil, err
	}
	h.close = append(h.close, closeGW)
	h.gw = gw
	return h, nil
}

// newBareProxy is the tuned bare reverse proxy of (b) and (h): Rewrite
// with SetURL and SetXForwarded, a Transport that keeps 2 x conns idle
// connections to the upstream (the default of 2 would make most requests
// open a new one).
func newBareProxy(upstream string, conns int) *httputil.ReverseProxy {
	target, _ := url.Parse(upstream)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 2 * conns
	tr.MaxIdleConnsPerHost = 2 * conns
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport: tr,
		// Connections the load generator drops at the end of a run are
		// not worth a log line each.
		ErrorLog:     log.New(io.Discard, "", 0),
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) },
	}
}

// writeKeyPair writes cert's chain and key as PEM files in dir.
func writeKeyPair(dir string, cert tls.Certificate) (certFile, keyFile string, err error) {
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return "", "", fmt.Errorf("encoding the bench key: %w", err)
	}
	var chain []byte
	for _, der := range cert.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	certFile, keyFile = filepath.Join(dir, "gateway.pem"), filepath.Join(dir, "gateway-key.pem")
	if err := os.WriteFile(certFile, chain, 0o600); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// transport is the load client's HTTP/2 transport: HTTP/2 over TLS only
// (a proxy that does not negotiate "h2" fails), trusting the bench CA and
// checking the name h2Host.
func (h *h2Bench) transport() *http.Transport {
	p := new(http.Protocols)
	p.SetHTTP2(true)
	return &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: h.ca.Pool, ServerName: h2Host, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
		Protocols:         p,
	}
}

// check makes sure both proxies answer in HTTP/2 and do their job before
// they are timed: jwtgate answers 401 without a token and with a
// corrupted one, 200 with the token; the bare proxy answers 200.
func (h *h2Bench) check(token string) error {
	tr := h.transport()
	defer tr.CloseIdleConnections()
	for _, c := range []struct {
		name, addr, token string
		want              int
	}{
		{"jwtgate over HTTP/2, no token", h.gw, "", http.StatusUnauthorized},
		{"jwtgate over HTTP/2", h.gw, token, http.StatusOK},
		{"jwtgate over HTTP/2, corrupted token", h.gw, token + "x", http.StatusUnauthorized},
		{"bare HTTP/2 proxy", h.bare, token, http.StatusOK},
	} {
		req, err := h2Request(context.Background(), c.addr, c.token)
		if err != nil {
			return err
		}
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want || resp.ProtoMajor != 2 {
			return fmt.Errorf("sanity check: %s: GET %s = %s %d %q, want HTTP/2.0 %d",
				c.name, req.URL, resp.Proto, resp.StatusCode, strings.TrimSpace(string(body)), c.want)
		}
	}
	return nil
}

// h2Request is the GET / that the HTTP/2 client sends to addr, with
// token, when set, as a bearer token.
func h2Request(ctx context.Context, addr, token string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "jwtgate-bench")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req, nil
}

// scenarios are (h) and (i): the same request, with the same token, sent
// by the HTTP/2 client to either proxy.
func (h *h2Bench) scenarios(token string) []scenario {
	return []scenario{
		{name: "(h) bare HTTP/2 ReverseProxy over TLS", addr: h.bare, h2: &h2Load{h: h, token: token}},
		{name: "(i) jwtgate HTTP/2, same token (cached)", addr: h.gw, h2: &h2Load{h: h, token: token}},
	}
}

// h2Load is how an HTTP/2 scenario loads its proxy: through a transport
// of h's, with token.
type h2Load struct {
	h     *h2Bench
	token string
}

// run is load for HTTP/2: each run (warm-up or measurement) makes a new
// transport, so it opens its own TLS connection, and closes it at the
// end. The workers share the transport and so its connection.
func (l *h2Load) run(ctx context.Context, name, addr string, conns int, d time.Duration) (result, error) {
	tr := l.h.transport()
	defer tr.CloseIdleConnections()
	return loadWith(ctx, name, conns, d, func(ctx context.Context) ([]time.Duration, int, int, error) {
		req, err := h2Request(ctx, addr, l.token)
		if err != nil {
			return nil, 0, 1, err
		}
		return h2Worker(ctx, tr, req)
	})
}

// h2Worker is one closed-loop HTTP/2 client: it sends req through tr,
// reads the whole response, and sends it again (a request may be sent
// again once its response body is closed), until ctx is done. Only 200
// answers count as requests.
func h2Worker(ctx context.Context, tr http.RoundTripper, req *http.Request) (lat []time.Duration, ok, errs int, err error) {
	deadline, _ := ctx.Deadline()
	lat = make([]time.Duration, 0, 1<<14)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		t0 := time.Now()
		resp, rerr := tr.RoundTrip(req)
		if rerr == nil {
			_, rerr = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if rerr != nil {
			// The run's end cancels the requests in flight: those are
			// not errors.
			if ctx.Err() == nil && time.Now().Before(deadline) {
				errs++
				if err == nil {
					err = rerr
				}
			}
			continue
		}
		if resp.StatusCode != http.StatusOK {
			errs++
			if err == nil {
				err = fmt.Errorf("status %s", resp.Status)
			}
			continue
		}
		lat = append(lat, time.Since(t0))
		ok++
	}
	return lat, ok, errs, err
}
