package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/certtest"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// The TSB egress tests serve TSB resources (examples/tsb as written, but
// for addresses and file names) and a glue document with the real binary,
// on loopback. One local TLS server stands in for every external host;
// the glue's egress.resolve entries send those hosts to it.

// tsbExternalHosts are the external hosts of the seeds, all served by the
// stand-in.
var tsbExternalHosts = []string{"httpbin.org", "api.payment-provider.com", "www.httpbin.org"}

// tsbSeen is what the stand-in received; it answers 200 with it as JSON.
type tsbSeen struct {
	Method string      `json:"method"`
	Host   string      `json:"host"`
	URI    string      `json:"uri"`
	SNI    string      `json:"sni"`
	Header http.Header `json:"header"`
}

// tsbWorld is what the tests of one gateway share: the external CA and
// the stand-in, the mesh CA and the gateway's certificate, the JWT issuer
// and its key set URL, and the folder the binary serves.
type tsbWorld struct {
	t       *testing.T
	dir     string
	extCA   *certtest.CA
	meshCA  *certtest.CA
	port    int // the stand-in's port
	is      *issuer
	jwksURL string
	gwCert  string
	gwKey   string

	mu   sync.Mutex
	seen []tsbSeen
}

func newTSBWorld(t *testing.T) *tsbWorld {
	t.Helper()
	jwtgateBinary(t) // skips with -short
	w := &tsbWorld{t: t, dir: t.TempDir(), extCA: certtest.NewCA(t), meshCA: certtest.NewCA(t), is: newIssuer(t)}
	w.jwksURL = serveJWKS(t, jwksDoc(w.is.jwks)).URL
	w.gwCert, w.gwKey, _ = w.meshCA.Leaf(t, "egress-gateway", []string{"egress.local"})

	_, _, extCert := w.extCA.Leaf(t, "external", tsbExternalHosts)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		s := tsbSeen{Method: r.Method, Host: r.Host, URI: r.RequestURI, Header: r.Header.Clone()}
		if r.TLS != nil {
			s.SNI = r.TLS.ServerName
		}
		w.mu.Lock()
		w.seen = append(w.seen, s)
		w.mu.Unlock()
		rw.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(rw).Encode(s)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{extCert}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	w.port = srv.Listener.Addr().(*net.TCPAddr).Port
	return w
}

// received is how many requests the stand-in has received.
func (w *tsbWorld) received() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.seen)
}

// workload mints a certificate of the mesh CA for the service account
// ns/sa: spiffe://cluster.local/ns/NS/sa/SA.
func (w *tsbWorld) workload(ns, sa string) *tls.Certificate {
	_, _, c := w.meshCA.Leaf(w.t, "wl-"+ns+"-"+sa, nil, "spiffe://cluster.local/ns/"+ns+"/sa/"+sa)
	return &c
}

// token is a token of the issuer https://auth.example.com for sub.
func (w *tsbWorld) token(sub string) string {
	return w.is.token(w.t, map[string]any{"iss": "https://auth.example.com", "sub": sub})
}

// write writes content to name in dir, made if needed.
func (w *tsbWorld) write(dir, name, content string) {
	w.t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

// tsbServiceHost is a serviceDestination host line of a TSB Gateway.
var tsbServiceHost = regexp.MustCompile(`(?m)^( +)host: (egress/\S+)\n`)

// localize makes TSB Gateway YAML reach the test's servers, and nothing
// else: the JWKS URI and CA bundle of the seed become the test's, and each
// serviceDestination gets a port, the stand-in's. Each change must apply.
func (w *tsbWorld) localize(yaml string) string {
	w.t.Helper()
	for _, r := range [][2]string{
		{`jwksUri: "https://auth.example.com/.well-known/jwks.json"`, `jwksUri: "` + w.jwksURL + `"`},
		{`caCertificates: "/etc/ssl/certs/ca-certificates.crt"`, `caCertificates: "` + w.extCA.File + `"`},
	} {
		if !strings.Contains(yaml, r[0]) {
			w.t.Fatalf("the YAML has no %s", r[0])
		}
		yaml = strings.ReplaceAll(yaml, r[0], r[1])
	}
	if !tsbServiceHost.MatchString(yaml) {
		w.t.Fatal("the YAML has no serviceDestination host")
	}
	return tsbServiceHost.ReplaceAllString(yaml, fmt.Sprintf("${1}host: $2\n${1}port: %d\n", w.port))
}

// copyExample copies examples/tsb/NAME to dir, localized when it is a
// Gateway with servers.
func (w *tsbWorld) copyExample(dir, name string) {
	w.t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", "tsb", name))
	if err != nil {
		w.t.Fatal(err)
	}
	s := string(b)
	if strings.Contains(s, "kind: Gateway\n") {
		s = w.localize(s)
	}
	w.write(dir, name, s)
}

// tsbGlue says what the glue document holds beyond the egress listener
// (mTLS with the mesh CA, resolve entries for the external hosts).
type tsbGlue struct {
	addr        string // the listener's address
	clientCerts string // require or request
	caFile      bool   // egress.caFile: the external CA
	connect     bool   // connectPorts: the stand-in's port
	top         string // top-level keys (workload:, gateway:)
}

// glue writes glue.yaml in dir, following docs/dialects/tsb.md.
func (w *tsbWorld) glue(dir string, g tsbGlue) {
	w.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: jwtgate.dev/v1alpha1\nkind: Config\n%s", g.top)
	fmt.Fprintf(&b, "listeners:\n  - name: egress\n    address: %s\n", g.addr)
	fmt.Fprintf(&b, "    tls:\n      certFile: %s\n      keyFile: %s\n      clientCAFile: %s\n      clientCerts: %s\n",
		w.gwCert, w.gwKey, w.meshCA.File, g.clientCerts)
	b.WriteString("    egress:\n      resolve:\n")
	for _, h := range tsbExternalHosts {
		fmt.Fprintf(&b, "        - %s:%d:127.0.0.1\n", h, w.port)
	}
	if g.caFile {
		fmt.Fprintf(&b, "      caFile: %s\n", w.extCA.File)
	}
	if g.connect {
		fmt.Fprintf(&b, "      connectPorts: [%d]\n", w.port)
	}
	w.write(dir, "glue.yaml", b.String())
}

// tsbGateway is the binary serving a folder.
type tsbGateway struct {
	w    *tsbWorld
	p    *process
	addr string // the egress listener
}

// serve runs `jwtgate serve -c DIR` (with args) and waits for /readyz.
func (w *tsbWorld) serve(addr string, args ...string) *tsbGateway {
	w.t.Helper()
	admin := gatewaytest.FreeAddr(w.t)
	p := startBinary(w.t, append([]string{"serve", "--admin", admin}, args...)...)
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-p.done:
			w.t.Fatalf("jwtgate serve %v exited:\n%s", args, p.output())
		default:
		}
		if res, err := http.Get("http://" + admin + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return &tsbGateway{w: w, p: p, addr: addr}
			}
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("jwtgate serve %v: not ready after 15s:\n%s", args, p.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// validate runs `jwtgate validate` with args and returns its output and
// exit code.
func (w *tsbWorld) validate(args ...string) (string, int) {
	w.t.Helper()
	out, err := exec.Command(jwtgateBinary(w.t), append([]string{"validate"}, args...)...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		w.t.Fatal(err)
	}
	return string(out), 0
}

// tsbResult is what a caller got: an error (no HTTP answer), or an answer
// with, on 200, what the stand-in received.
type tsbResult struct {
	err    error
	status int
	header http.Header
	body   string
	seen   tsbSeen
}

// do sends a request to the gateway over mTLS, presenting cert (none when
// nil). A target that is a path is sent to the gateway with host in Host
// (a workload's redirected request); a URL is sent through the gateway as
// an HTTPS proxy: absolute-form for http://, CONNECT for https://.
func (g *tsbGateway) do(cert *tls.Certificate, method, host, target string, h http.Header) tsbResult {
	t := g.w.t
	t.Helper()
	roots := x509.NewCertPool()
	for _, f := range []string{g.w.meshCA.File, g.w.extCA.File} {
		b, err := os.ReadFile(f)
		if err != nil || !roots.AppendCertsFromPEM(b) {
			t.Fatalf("reading %s: %v", f, err)
		}
	}
	cfg := &tls.Config{RootCAs: roots}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	tr := &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	u := "https://" + g.addr + target
	if !strings.HasPrefix(target, "/") {
		u = target
		tr.Proxy = http.ProxyURL(&url.URL{Scheme: "https", Host: g.addr})
	}
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	res, err := (&http.Client{Transport: tr, Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		return tsbResult{err: err}
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := tsbResult{status: res.StatusCode, header: res.Header, body: string(b)}
	if res.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &r.seen); err != nil {
			t.Fatalf("the 200 is not the stand-in's: %v\n%s", err, b)
		}
	}
	return r
}

// expect checks the status (0: a handshake refused, no HTTP answer) and,
// unless "*", the body.
func (r tsbResult) expect(t *testing.T, status int, body string) {
	t.Helper()
	switch {
	case status == 0 && r.err == nil:
		t.Fatalf("got %d %q, want the handshake refused", r.status, r.body)
	case status == 0 && !strings.Contains(r.err.Error(), "tls: "):
		t.Fatalf("request failed: %v, want a TLS handshake refusal", r.err)
	case status == 0:
		return
	case r.err != nil:
		t.Fatalf("request failed: %v, want %d", r.err, status)
	case r.status != status:
		t.Fatalf("status = %d, want %d (body %q)", r.status, status, r.body)
	case body != "*" && r.body != body:
		t.Errorf("body = %q, want %q", r.body, body)
	}
}

// bearerHeader is Authorization: Bearer tok, or nothing for "".
func bearerHeader(tok string) http.Header {
	if tok == "" {
		return nil
	}
	return http.Header{"Authorization": {"Bearer " + tok}}
}
