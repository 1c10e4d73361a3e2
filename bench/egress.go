package main

import (
	"context"
	"crypto/tls"
	_ "embed"
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

// The egress scenarios: a client sends absolute-form requests for
// http://api.example.com/get, with a proxy token, to a forward proxy that
// originates TLS to a local HTTPS upstream holding a certificate for
// api.example.com from a CA made in the process:
//
//   - (e) a bare httputil.ReverseProxy used as a forward proxy: the
//     destination is the request's host (at the upstream's port), over
//     TLS checked against the CA, its pool sized for the load; it checks
//     no token;
//   - (f) jwtgate's egress listener (bench/egress.yaml.tmpl), which checks
//     the proxy token (the same valid RS256 token each time: a cache hit
//     after the first), a gateway-wide rule, and originates TLS.

//go:embed egress.yaml.tmpl
var egressTemplate string

const (
	// egressHost is the external host the clients name; both proxies
	// send it to the local upstream.
	egressHost = "api.example.com"
	// egressSubject is the token subject the gateway-wide rule allows.
	egressSubject = "bench"
)

// egressBench is what scenarios (e) and (f) run against.
type egressBench struct {
	target string // the URL clients ask the proxies for
	bare   string // (e)'s address
	gw     string // (f)'s address
	close  []func()
}

// Close stops the proxies, the gateway and the upstream, and removes the
// CA file.
func (e *egressBench) Close() {
	for i := len(e.close) - 1; i >= 0; i-- {
		e.close[i]()
	}
}

// startEgress starts the TLS upstream answering with h, the bare forward
// proxy whose pool keeps 2 x conns idle connections (as (b)'s does), and
// jwtgate's egress listener, with iss's key.
func startEgress(ctx context.Context, iss *demo.Issuer, h http.Handler, conns int) (_ *egressBench, err error) {
	e := &egressBench{}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	ca, err := newBenchCA()
	if err != nil {
		return nil, err
	}
	cert, err := ca.serverCert(egressHost)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "jwtgate-bench-")
	if err != nil {
		return nil, err
	}
	e.close = append(e.close, func() { _ = os.RemoveAll(dir) })
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o600); err != nil {
		return nil, err
	}

	// The upstream: HTTP/1.1 over TLS (both proxies speak HTTP/1.1 to
	// their upstreams; jwtgate never attempts HTTP/2 there).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	up := serveOn(tls.NewListener(ln, &tls.Config{
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"http/1.1"},
		MinVersion:   tls.VersionTLS12,
	}), h)
	e.close = append(e.close, up.Close)
	_, port, _ := net.SplitHostPort(up.addr)
	e.target = "http://" + egressHost + "/get"

	bare, err := serveHTTP(newForwardProxy(ca, up.addr, port, conns))
	if err != nil {
		return nil, err
	}
	e.close = append(e.close, bare.Close)
	e.bare = bare.addr

	gw, closeGW, err := startConfig(ctx, "egress.yaml", egressTemplate, map[string]string{
		"Issuer":  iss.URL,
		"JWKS":    string(iss.JWKS()),
		"Subject": egressSubject,
		"Host":    egressHost,
		"Port":    port,
		"Resolve": egressHost + ":" + port + ":127.0.0.1",
		"CAFile":  caFile,
	}, "egress")
	if err != nil {
		return nil, err
	}
	e.close = append(e.close, closeGW)
	e.gw = gw
	return e, nil
}

// newForwardProxy is the bare forward proxy of scenario (e): a tuned
// ReverseProxy whose destination is chosen per request, https://HOST:port
// with HOST the host the request names, dialled at upstream when HOST is
// egressHost, and checked against ca.
func newForwardProxy(ca *benchCA, upstream, port string, conns int) http.Handler {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // never an environment proxy
	tr.ForceAttemptHTTP2 = false
	tr.TLSClientConfig = &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12}
	tr.MaxIdleConns = 2 * conns
	tr.MaxIdleConnsPerHost = 2 * conns
	var d net.Dialer
	known := net.JoinHostPort(egressHost, port)
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr != known {
			return nil, fmt.Errorf("bare forward proxy: no address for %s", addr)
		}
		return d.DialContext(ctx, network, upstream)
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			host := pr.In.URL.Hostname() // absolute-form
			if host == "" {
				host = pr.In.Host
				if h, _, err := net.SplitHostPort(host); err == nil {
					host = h
				}
			}
			pr.Out.URL.Scheme = "https"
			pr.Out.URL.Host = net.JoinHostPort(host, port)
			pr.Out.Host = "" // the URL's
			// Proxy-Authorization is a hop-by-hop header: ReverseProxy
			// drops it.
		},
		Transport:    tr,
		ErrorLog:     log.New(io.Discard, "", 0),
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) },
	}
}

// check makes sure both proxies do their job before they are timed:
// jwtgate answers 407 without a proxy token or with a corrupted one, 200
// with the token, 403 for a subject the rule does not allow and for a
// host it serves no server for; the bare proxy answers 200.
func (e *egressBench) check(iss *demo.Issuer, token string) error {
	other, err := iss.MintFor(egressSubject+"-other", time.Hour, nil)
	if err != nil {
		return err
	}
	for _, c := range []struct {
		name, proxy, target, token string
		want                       int
	}{
		{"jwtgate egress, no token", e.gw, e.target, "", http.StatusProxyAuthRequired},
		{"jwtgate egress", e.gw, e.target, token, http.StatusOK},
		{"jwtgate egress, corrupted token", e.gw, e.target, token + "x", http.StatusProxyAuthRequired},
		{"jwtgate egress, subject not allowed", e.gw, e.target, other, http.StatusForbidden},
		{"jwtgate egress, host not served", e.gw, "http://other.example.com/get", token, http.StatusForbidden},
		{"bare forward proxy", e.bare, e.target, token, http.StatusOK},
	} {
		if err := expectVia(c.proxy, c.target, c.token, c.want); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
	}
	return nil
}

// expectVia sends one GET for target through the forward proxy at proxy,
// with token as a proxy token, and checks its status.
func expectVia(proxy, target, token string, want int) error {
	tr := &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: proxy})}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Proxy-Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("sanity check: GET %s via %s (token %t) = %d %q, want %d",
			target, proxy, token != "", resp.StatusCode, strings.TrimSpace(string(body)), want)
	}
	return nil
}

// scenarios are (e) and (f): the same pre-built request, the same token,
// sent to either proxy.
func (e *egressBench) scenarios(token string) []scenario {
	req := fixed(rawProxyGET(e.target, token))
	return []scenario{
		{"(e) bare forward proxy, TLS upstream", e.bare, req, req, nil},
		{"(f) jwtgate egress, same token (cached)", e.gw, req, req, nil},
	}
}
