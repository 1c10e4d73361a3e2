package proxy_test

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"jwtgate.dev/jwtgate/internal/certtest"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
	"jwtgate.dev/jwtgate/internal/proxy"
)

// The egress tests run gateways from native YAML through gatewaytest and
// stand in for external hosts (httpbin.org, api.payment-provider.com...)
// with local TLS servers, reached through egress.resolve overrides to
// 127.0.0.1. Nothing leaves loopback: every egress dial goes through a
// recording seam that connects to loopback only.

// seen is what an external server received.
type seen struct {
	Method     string      `json:"method"`
	Host       string      `json:"host"`
	URI        string      `json:"uri"`
	Header     http.Header `json:"header"`
	TLS        bool        `json:"tls"`
	SNI        string      `json:"sni,omitempty"`
	ClientCert string      `json:"clientCert,omitempty"`
}

// external is a local server standing in for an external host.
type external struct {
	srv  *httptest.Server
	host string // the external name: httpbin.org
	port int

	mu   sync.Mutex
	reqs []seen
	// conns counts accepted connections; plain those whose first byte is
	// not a TLS handshake record (a plain-text request to a TLS server).
	conns, plain atomic.Int32
}

// extOptions shape an external server.
type extOptions struct {
	cert      *tls.Certificate // default: a leaf of the CA for host
	clientCAs *x509.CertPool   // require a client certificate from these
	plainHTTP bool             // serve plain HTTP
	handler   http.HandlerFunc // default: echo what was seen as JSON
}

// startExternal starts an external server for host with a certificate
// from ca (unless o says otherwise).
func startExternal(t *testing.T, ca *certtest.CA, host string, o extOptions) *external {
	t.Helper()
	e := &external{host: host}
	h := o.handler
	if h == nil {
		h = e.echo
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.record(r)
		h(w, r)
	}))
	srv.Listener = &sniffListener{Listener: srv.Listener, e: e}
	srv.Config.ErrorLog = discardLog()
	if o.plainHTTP {
		srv.Start()
	} else {
		cert := o.cert
		if cert == nil {
			_, _, c := ca.Leaf(t, "ext-"+host, []string{host})
			cert = &c
		}
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}
		if o.clientCAs != nil {
			srv.TLS.ClientCAs = o.clientCAs
			srv.TLS.ClientAuth = tls.RequireAndVerifyClientCert
		}
		srv.StartTLS()
	}
	t.Cleanup(srv.Close)
	e.srv = srv
	e.port = srv.Listener.Addr().(*net.TCPAddr).Port
	return e
}

// seenOf describes r as the server received it.
func seenOf(r *http.Request) seen {
	s := seen{Method: r.Method, Host: r.Host, URI: r.RequestURI, Header: r.Header.Clone(), TLS: r.TLS != nil}
	if r.TLS != nil {
		s.SNI = r.TLS.ServerName
		if len(r.TLS.PeerCertificates) > 0 {
			s.ClientCert = r.TLS.PeerCertificates[0].Subject.CommonName
		}
	}
	return s
}

func (e *external) record(r *http.Request) {
	e.mu.Lock()
	e.reqs = append(e.reqs, seenOf(r))
	e.mu.Unlock()
}

func (e *external) echo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(seenOf(r))
}

// requests returns what the server received so far.
func (e *external) requests() []seen {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]seen(nil), e.reqs...)
}

// resolve is the egress.resolve entry sending host:port here.
func (e *external) resolve() string {
	return fmt.Sprintf("%s:%d:127.0.0.1", e.host, e.port)
}

// sniffListener counts connections and notes those that do not open with
// a TLS handshake.
type sniffListener struct {
	net.Listener
	e *external
}

func (l *sniffListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.e.conns.Add(1)
	return &sniffConn{Conn: c, e: l.e}, nil
}

type sniffConn struct {
	net.Conn
	e    *external
	once sync.Once
}

func (c *sniffConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.once.Do(func() {
			if p[0] != 0x16 { // TLS handshake record
				c.e.plain.Add(1)
			}
		})
	}
	return n, err
}

// issuer signs tokens with a key of its own and publishes it inline.
type issuer struct {
	iss    string
	kid    string
	method jwt.SigningMethod
	key    crypto.Signer
	jwks   string
}

// newIssuer makes an issuer with an RSA key (rsaKey) or a P-256 key.
func newIssuer(t testing.TB, iss string, rsaKey bool) *issuer {
	t.Helper()
	is := &issuer{iss: iss, kid: fmt.Sprintf("k%d", time.Now().UnixNano())}
	var err error
	if rsaKey {
		is.method = jwt.SigningMethodRS256
		is.key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		is.method = jwt.SigningMethodES256
		is.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: is.key.Public(), KeyID: is.kid, Algorithm: is.method.Alg(), Use: "sig"}}}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	is.jwks = string(b)
	return is
}

// token signs a token for sub, valid for an hour unless claims say
// otherwise.
func (is *issuer) token(t testing.TB, sub string, claims jwt.MapClaims) string {
	t.Helper()
	c := jwt.MapClaims{"iss": is.iss, "sub": sub, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range claims {
		c[k] = v
	}
	tok := jwt.NewWithClaims(is.method, c)
	tok.Header["kid"] = is.kid
	s, err := tok.SignedString(is.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// provider is the YAML of a provider named name for is, inline JWKS.
func (is *issuer) provider(name, extra string) string {
	return "  - name: " + name + "\n    issuer: " + is.iss + "\n    jwks:\n      inline: '" + is.jwks + "'\n" + extra
}

// dialSeam is the EgressDial (and EgressResolver) of the gateways under
// test: it records every address the egress dialer asks for, connects to
// loopback only, refuses the addresses in nowhere (recorded, never
// contacted: they stand for the public internet) and fails the test for
// anything else.
type dialSeam struct {
	t       testing.TB
	linger  time.Duration // Options.TunnelLinger; zero for the default
	mu      sync.Mutex
	dialed  []string
	lookups []string
	counts  map[string]int // lookups per host, never reset
	// answers are the resolver's answers per host, one per lookup in
	// turn (the last repeats); a host without answers does not resolve.
	answers map[string][][]netip.Addr
	nowhere map[netip.Addr]bool
}

func newDialSeam(t testing.TB) *dialSeam {
	return &dialSeam{t: t, answers: map[string][][]netip.Addr{}, nowhere: map[netip.Addr]bool{}, counts: map[string]int{}}
}

// options are the proxy options that put the seam in place.
func (d *dialSeam) options() proxy.Options {
	return proxy.Options{EgressResolver: d, EgressDial: d.dial, TunnelLinger: d.linger}
}

func (d *dialSeam) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := d.counts[host]
	d.counts[host]++
	d.lookups = append(d.lookups, host)
	as := d.answers[host]
	if len(as) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return as[min(n, len(as)-1)], nil
}

var errNowhere = errors.New("dial seam: this address stands for the internet; nothing is sent")

func (d *dialSeam) dial(ctx context.Context, network, address string) (net.Conn, error) {
	d.mu.Lock()
	d.dialed = append(d.dialed, address)
	d.mu.Unlock()
	ap, err := netip.ParseAddrPort(address)
	switch {
	case err != nil:
		d.t.Errorf("egress dial of %q: not an IP address and port", address)
		return nil, err
	case d.nowhere[ap.Addr()]:
		return nil, errNowhere
	case !ap.Addr().IsLoopback():
		d.t.Errorf("egress dial of %s: the gateway tried to leave loopback", address)
		return nil, errNowhere
	}
	return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, address)
}

// dials returns the addresses dialled so far.
func (d *dialSeam) dials() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.dialed...)
}

// resolved returns the host names looked up so far.
func (d *dialSeam) resolved() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.lookups...)
}

// reset forgets the dials and lookups recorded (a rebinding resolver
// goes on with its next answer).
func (d *dialSeam) reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dialed, d.lookups = nil, nil
}

// res is a finished exchange with the gateway.
type res struct {
	status int
	header http.Header
	body   string
}

// seen decodes the external server's echo.
func (r res) seen(t testing.TB) seen {
	t.Helper()
	var s seen
	if err := json.Unmarshal([]byte(r.body), &s); err != nil {
		t.Fatalf("the external server did not answer (status %d, body %q): %v", r.status, r.body, err)
	}
	return s
}

func expect(t testing.TB, r res, status int, body string) {
	t.Helper()
	if r.status != status || (body != "*" && r.body != body) {
		t.Fatalf("got %d %q, want %d %q", r.status, r.body, status, body)
	}
}

// send does req with c (nil: a plain client without proxy).
func send(t testing.TB, c *http.Client, req *http.Request) res {
	t.Helper()
	if c == nil {
		c = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	}
	r, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return res{status: r.StatusCode, header: r.Header, body: string(b)}
}

// hostReq is a Host-header style request to the gateway at addr.
func hostReq(t testing.TB, method, addr, host, path string, hdr http.Header) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, vs := range hdr {
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}
	return req
}

// proxyClient sends every request through the gateway as a forward proxy
// (absolute-form for http://, CONNECT for https://), with proxyHdr on
// the proxy requests (Proxy-Authorization).
func proxyClient(addr string, roots *x509.CertPool, proxyHdr http.Header) *http.Client {
	u := mustURL("http://" + addr)
	return &http.Client{Transport: &http.Transport{
		Proxy:              http.ProxyURL(u),
		ProxyConnectHeader: proxyHdr,
		TLSClientConfig:    &tls.Config{RootCAs: roots},
		DisableKeepAlives:  true,
	}}
}

// bearer is a header set with Authorization: Bearer tok.
func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// rawExchange writes msg on a new connection to addr and reads one
// response.
func rawExchange(t testing.TB, addr, msg string) res {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	r, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return res{status: r.StatusCode, header: r.Header, body: string(b)}
}

// accessLog returns the access log lines of h, decoded.
func accessLog(t testing.TB, h *gatewaytest.Harness) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(h.Logs.String(), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == "access" {
			out = append(out, m)
		}
	}
	return out
}

// waitAccess waits for the n-th access log line (1-based) and returns it:
// a line is written once the response is, and a tunnel's only when it
// ends.
func waitAccess(t testing.TB, h *gatewaytest.Harness, n int) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if lines := accessLog(t, h); len(lines) >= n {
			return lines[n-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access log line %d in:\n%s", n, h.Logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// str is a log field as a string ("" when absent).
func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func num(m map[string]any, k string) int {
	f, _ := m[k].(float64)
	return int(f)
}

func itoa(n int) string { return strconv.Itoa(n) }

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }
