package main

import (
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"jwtgate.dev/jwtgate/internal/authn"
	"jwtgate.dev/jwtgate/internal/certtest"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
	"jwtgate.dev/jwtgate/internal/logtest"
	"jwtgate.dev/jwtgate/internal/proxy"
)

// The vendor walkthroughs, explained and served. Each request of a
// walkthrough is explained (jwtgate explain, text, compared with
// testdata/explain/seeds/WALK/NAME.golden; -update rewrites them) and
// sent to the same configuration served for real (serve, in process):
// the answer explain reports is the one serve gives (status, headers and
// body of the gateway's own answers), and a request explained as
// forwarded reaches the upstream with the method, URL, Host and headers
// explain shows.
//
// The ingress examples (asm, gloo, kgateway) are run as their README
// runs them: its serve flags, its curl commands (read from the README,
// each one listed in explain_seeds_readme_test.go), its token. The golden is explain on the
// example folder itself; the served copy differs only in its ports, and
// explain on the copy reads as the golden once its ports are put back.
// examples/tsb has no README: its requests are those of the TSB
// walkthrough (docs/dialects/tsb.md: workloads calling the external
// hosts over mTLS, Host-routed) for the Gateway, and forward-proxy calls
// for the EgressGateway; the served copy reaches a local TLS stand-in
// through resolve entries, on an mTLS listener as glue.yaml describes,
// and its goldens show the stand-in on port 8443 and the listener on
// 15443.

// seedRequest is one request of a walkthrough.
type seedRequest struct {
	name   string
	method string
	// target is explain's --request URL: absolute (the host from it), or
	// a path with the host in the Host header.
	target string
	header [][2]string
	// via is the gateway address the request is sent to; proxy sends it
	// there as a forward proxy (absolute-form, curl -x).
	via   string
	proxy bool
	// peer is the caller's SPIFFE ID: its client certificate when served.
	peer string
}

func (r seedRequest) explainArgs() []string {
	args := []string{"--at", explainAt, "--request", r.method + " " + r.target}
	for _, h := range r.header {
		args = append(args, "-H", h[0]+": "+h[1])
	}
	if r.peer != "" {
		args = append(args, "--peer-spiffe", r.peer)
	}
	return args
}

// rewrite is r with the README's gateway address replaced by the served
// copy's.
func (r seedRequest) rewrite(rp *strings.Replacer) seedRequest {
	r.target, r.via = rp.Replace(r.target), rp.Replace(r.via)
	r.header = slices.Clone(r.header)
	for i := range r.header {
		r.header[i][1] = rp.Replace(r.header[i][1])
	}
	return r
}

// seedWalk is one configuration of a walkthrough, served, and its
// requests.
type seedWalk struct {
	golden   string   // folder under testdata/explain/seeds
	pristine []string // explain's flags on the example folder; nil: the served copy's flags are the golden's
	served   []string // serve's (and explain's) flags on the served copy
	requests []seedRequest
	addr     *strings.Replacer          // README gateway address -> the served one
	ports    func(string) string        // the served copy's output -> the README's
	tls      *tls.Config                // to the listener; nil for plain HTTP
	certs    map[string]tls.Certificate // the callers' certificates, by SPIFFE ID
	up       *seedUpstream
}

// seedUpstream records what the upstream (or the external hosts'
// stand-in) received, and answers 200.
type seedUpstream struct {
	mu   sync.Mutex
	hits int
	last *http.Request
}

func (u *seedUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.hits++
	u.last = r.Clone(context.Background())
	u.mu.Unlock()
	w.Header().Set("X-Upstream", "yes")
	_, _ = io.WriteString(w, "upstream")
}

func (u *seedUpstream) seen() (int, *http.Request) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hits, u.last
}

// TestExplainSeeds explains and serves each walkthrough request.
func TestExplainSeeds(t *testing.T) {
	walks := append(readmeWalks(t), tsbWalks(t)...)
	for _, w := range walks {
		t.Run(w.golden, func(t *testing.T) {
			serveSeed(t, w.served)
			for _, r := range w.requests {
				t.Run(r.name, func(t *testing.T) { w.check(t, r) })
			}
		})
	}
}

// serveSeed runs serve with flags until the test ends.
func serveSeed(t *testing.T, flags []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started, done := make(chan struct{}), make(chan int, 1)
	logs := &logtest.Buffer{}
	go func() {
		done <- serve(ctx, append([]string{"--admin", "off", "--watch=false"}, flags...), logs,
			serveHooks{signals: make(chan os.Signal), started: func(*proxy.Server, net.Addr) { close(started) }})
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-started:
	case code := <-done:
		done <- code
		t.Fatalf("serve %q exited %d:\n%s", flags, code, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("serve %q did not start", flags)
	}
}

// check explains r (the golden) and sends it.
func (w *seedWalk) check(t *testing.T, r seedRequest) {
	local := r.rewrite(w.addr)
	explain := func(flags []string, req seedRequest, format string) string {
		t.Helper()
		code, out, errOut := runCmd(t, append(append([]string{"explain", "-o", format}, flags...), req.explainArgs()...)...)
		if code != exitOK || errOut != "" {
			t.Fatalf("explain %v: exit %d, stderr %q", req.explainArgs(), code, errOut)
		}
		return out
	}
	text := w.ports(explain(w.served, local, "text"))
	golden := text
	if w.pristine != nil {
		golden = explain(w.pristine, r, "text")
		if text != golden {
			t.Errorf("explain on the served copy differs from explain on the example (but for its ports):\n%s", text)
		}
	}
	file := filepath.Join("testdata", "explain", "seeds", w.golden, r.name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(golden), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want, err := os.ReadFile(file); err != nil || string(want) != golden {
		t.Errorf("explain output differs from %s (rerun with -update; %v):\n%s", file, err, golden)
	}
	var rep proxy.ExplainReport
	if err := json.Unmarshal([]byte(explain(w.served, local, "json")), &rep); err != nil {
		t.Fatal(err)
	}
	before, _ := w.up.seen()
	res, body := w.send(t, local)
	hits, got := w.up.seen()
	compareServed(t, &rep, res, body, hits-before, got)
}

// send sends r to the served gateway as the README's curl (or the
// walkthrough's workload) sends it: only r's headers, no redirects.
func (w *seedWalk) send(t *testing.T, r seedRequest) (*http.Response, string) {
	t.Helper()
	scheme := "http"
	tr := &http.Transport{DisableCompression: true, DisableKeepAlives: true}
	if w.tls != nil {
		scheme, tr.TLSClientConfig = "https", w.tls.Clone()
		if c, ok := w.certs[r.peer]; ok {
			tr.TLSClientConfig.Certificates = []tls.Certificate{c}
		}
	}
	defer tr.CloseIdleConnections()
	u := scheme + "://" + r.via + r.target
	host := ""
	if r.proxy {
		u, tr.Proxy = r.target, http.ProxyURL(&url.URL{Scheme: scheme, Host: r.via})
	} else if t2, err := url.Parse(r.target); err == nil && t2.IsAbs() {
		u, host = scheme+"://"+r.via+t2.RequestURI(), t2.Host
	}
	req, err := http.NewRequest(r.method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", "") // none, as explain is given none
	for _, h := range r.header {
		if strings.EqualFold(h[0], "Host") {
			host = h[1]
			continue
		}
		req.Header.Add(h[0], h[1])
	}
	if host != "" {
		req.Host = host
	}
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// compareServed checks that the served answer is the explained one.
func compareServed(t *testing.T, rep *proxy.ExplainReport, res *http.Response, body string, hits int, got *http.Request) {
	t.Helper()
	a := rep.Answer
	if !a.Forwarded {
		if hits != 0 {
			t.Errorf("explained as answered by the gateway (%d), but the upstream got the request", a.Status)
		}
		if res.StatusCode != a.Status || body != a.Body {
			t.Errorf("explained %d %q, served %d %q", a.Status, a.Body, res.StatusCode, body)
		}
		for name := range headerNames(a.Header, res.Header) {
			if name != "Date" && !slices.Equal(res.Header[name], a.Header[name]) {
				t.Errorf("answer header %s: explained %q, served %q", name, a.Header[name], res.Header[name])
			}
		}
		return
	}
	if hits != 1 || res.Header.Get("X-Upstream") != "yes" || rep.Upstream == nil {
		t.Fatalf("explained as forwarded, served %d %q (%d requests upstream)", res.StatusCode, body, hits)
	}
	for name, vs := range a.Header {
		if !slices.Equal(res.Header[name], vs) {
			t.Errorf("answer header %s: explained %q, served %q", name, vs, res.Header[name])
		}
	}
	want := rep.Upstream
	wu, err := url.Parse(want.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got.Method != want.Method || got.Host != want.Host || scrubSeen(got.RequestURI) != wu.RequestURI() {
		t.Errorf("explained upstream %s %s Host %s, served %s %s Host %s", want.Method, wu.RequestURI(), want.Host, got.Method, got.RequestURI, got.Host)
	}
	for name := range headerNames(want.Header, got.Header) {
		var seen []string
		for _, v := range got.Header[name] {
			seen = append(seen, redactSeen(name, v))
		}
		if !slices.Equal(seen, want.Header[name]) {
			t.Errorf("upstream header %s: explained %q, the upstream got %q", name, want.Header[name], seen)
		}
	}
}

func headerNames(hs ...http.Header) map[string]bool {
	names := map[string]bool{}
	for _, h := range hs {
		for name := range h {
			names[name] = true
		}
	}
	return names
}

// jwtLike finds tokens in what the upstream got, to compare it with
// explain's redacted view (tokens named by their fingerprint).
var jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`)

func scrubSeen(s string) string {
	return jwtLike.ReplaceAllStringFunc(s, func(tok string) string { return "[" + authn.Fingerprint(tok) + "]" })
}

// redactSeen is a value the upstream got as explain shows it: the
// credential of an Authorization header by its fingerprint (a token) or
// its length, tokens elsewhere by their fingerprint.
func redactSeen(name, v string) string {
	if name != "Authorization" && name != "Proxy-Authorization" && name != "Cookie" {
		return scrubSeen(v)
	}
	scheme, cred, _ := strings.Cut(v, " ")
	if jwtLike.FindString(cred) == cred {
		return scheme + " [" + authn.Fingerprint(cred) + "]"
	}
	return fmt.Sprintf("%s [redacted, %d bytes]", scheme, len(cred))
}

// localCopy copies examples/NAME (its YAML, folders included) to a
// temporary examples/NAME, each document passed through edit, and
// returns the temporary folder that holds examples/.
func localCopy(t *testing.T, name string, edit func(file, doc string) string) string {
	t.Helper()
	root := t.TempDir()
	src := filepath.Join("..", "..", "examples", name)
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".yaml" {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		docs := strings.Split(string(b), "\n---")
		for i := range docs {
			docs[i] = edit(rel, docs[i])
		}
		dst := filepath.Join(root, "examples", name, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, []byte(strings.Join(docs, "\n---")), 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// portsBack replaces the served copy's ports (whole numbers only) by the
// README's.
func portsBack(pairs ...string) func(string) string {
	return func(s string) string {
		for i := 0; i+1 < len(pairs); i += 2 {
			s = regexp.MustCompile(`\b`+pairs[i]+`\b`).ReplaceAllString(s, pairs[i+1])
		}
		return s
	}
}

func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// tsbWalks are examples/tsb's Gateway (chosen by glue.yaml) and
// EgressGateway (chosen with --workload-*), served on an mTLS listener
// whose resolve entries send the external hosts to a TLS stand-in.
func tsbWalks(t *testing.T) []*seedWalk {
	extCA, meshCA := certtest.NewCA(t), certtest.NewCA(t)
	up := &seedUpstream{}
	_, _, extCert := extCA.Leaf(t, "external", []string{"httpbin.org", "api.payment-provider.com", "www.httpbin.org"})
	ext := httptest.NewUnstartedServer(up)
	ext.TLS = &tls.Config{Certificates: []tls.Certificate{extCert}}
	ext.StartTLS()
	t.Cleanup(ext.Close)
	extPort := portOf(t, ext.Listener.Addr().String())

	key := readRSAKey(t, filepath.Join("..", "..", "examples", "envoygateway", "demo-key.pem"))
	set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "demo-key", Algorithm: "RS256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	keys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(set) }))
	t.Cleanup(keys.Close)
	mint := func(sub string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": "https://auth.example.com", "sub": sub, "iat": goldenIat, "exp": 4102444800})
		tok.Header["kid"] = "demo-key"
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	token, other := mint("payments-service@example.com"), mint("someone-else@example.com")

	gwCert, gwKey, _ := meshCA.Leaf(t, "egress-gateway", []string{"egress.local"})
	certs := map[string]tls.Certificate{}
	for _, sa := range []string{"default/bookinfo-details", "default/reviews", "ns1/app", "bookinfo/productpage"} {
		ns, name, _ := strings.Cut(sa, "/")
		id := "spiffe://cluster.local/ns/" + ns + "/sa/" + name
		_, _, certs[id] = meshCA.Leaf(t, "wl-"+ns+"-"+name, nil, id)
	}
	addr := gatewaytest.FreeAddr(t)
	must := func(s, old, new string) string {
		if !strings.Contains(s, old) {
			t.Fatalf("examples/tsb: no %q in:\n%s", old, s)
		}
		return strings.ReplaceAll(s, old, new)
	}
	const jwksURI = "https://auth.example.com/.well-known/jwks.json"
	root := localCopy(t, "tsb", func(file, doc string) string {
		switch {
		case file == "glue.yaml":
			doc = must(doc, "address: 127.0.0.1:15443\n", fmt.Sprintf("address: %s\n    tls:\n      certFile: %s\n      keyFile: %s\n      clientCAFile: %s\n", addr, gwCert, gwKey, meshCA.File))
			doc = must(doc, "    egress:\n", "    egress:\n      caFile: "+extCA.File+"\n")
			return must(doc, ":443:127.0.0.1", ":"+extPort+":127.0.0.1")
		case strings.Contains(doc, "kind: Gateway\n"):
			doc = must(doc, jwksURI, keys.URL+"/jwks.json")
			doc = must(doc, `"/etc/ssl/certs/ca-certificates.crt"`, extCA.File)
			return regexp.MustCompile(`(?m)^( +)host: (egress/\S+)\n`).ReplaceAllString(doc, "${1}host: $2\n${1}port: "+extPort+"\n")
		}
		return doc
	})
	dir := filepath.Join(root, "examples", "tsb")
	client := &tls.Config{RootCAs: meshCA.Pool}
	back := func(s string) string {
		s = strings.ReplaceAll(s, keys.URL+"/jwks.json", jwksURI)
		return portsBack(portOf(t, addr), "15443", extPort, "8443")(s)
	}
	id := func(sa string) string {
		ns, name, _ := strings.Cut(sa, "/")
		return "spiffe://cluster.local/ns/" + ns + "/sa/" + name
	}
	// as is a workload's request to an external host, Host-routed, as
	// the TSB walkthrough sends it.
	as := func(name, sa, method, host, path, tok string) seedRequest {
		r := seedRequest{name: name, method: method, target: path, header: [][2]string{{"Host", host}}, via: addr, peer: id(sa)}
		if tok != "" {
			r.header = append(r.header, [2]string{"Authorization", "Bearer " + tok})
		}
		return r
	}
	// fwd is a workload's forward-proxy request to the stand-in.
	fwd := func(name, sa, host string) seedRequest {
		return seedRequest{name: name, method: "GET", target: "http://" + host + ":" + extPort + "/get", via: addr, proxy: true, peer: id(sa)}
	}
	same := strings.NewReplacer()
	return []*seedWalk{
		{golden: "tsb-gateway", served: []string{"-c", dir}, addr: same, ports: back, tls: client, certs: certs, up: up,
			requests: []seedRequest{
				as("httpbin-no-token", "default/bookinfo-details", "GET", "httpbin.org", "/get", ""),
				as("httpbin-token", "default/bookinfo-details", "GET", "httpbin.org", "/get", other),
				as("httpbin-other-workload", "default/reviews", "GET", "httpbin.org", "/get", other),
				as("payments-service", "default/reviews", "GET", "api.payment-provider.com", "/v1/payments/42", token),
				as("payments-wrong-subject", "default/bookinfo-details", "GET", "api.payment-provider.com", "/v1/payments/42", other),
				as("payments-delete", "default/bookinfo-details", "DELETE", "api.payment-provider.com", "/v1/payments/42", token),
				as("payments-no-token", "default/bookinfo-details", "POST", "api.payment-provider.com", "/v1/payments/42", ""),
				as("no-server", "default/bookinfo-details", "GET", "example.org", "/", token),
			}},
		{golden: "tsb-egressgateway", served: []string{"-c", dir, "--workload-namespace", "ns1", "--workload-labels", "app=istio-egressgateway"},
			addr: same, ports: back, tls: client, certs: certs, up: up,
			requests: []seedRequest{
				fwd("workspace-www", "ns1/app", "www.httpbin.org"),
				fwd("workspace-httpbin", "ns1/app", "httpbin.org"),
				fwd("workspace-bookinfo-www", "bookinfo/productpage", "www.httpbin.org"),
				fwd("details-httpbin", "default/bookinfo-details", "httpbin.org"),
				fwd("details-www", "default/bookinfo-details", "www.httpbin.org"),
				fwd("reviews-www", "default/reviews", "www.httpbin.org"),
				fwd("reviews-httpbin", "default/reviews", "httpbin.org"),
				as("reviews-host-routed", "default/reviews", "GET", "www.httpbin.org", "/get", ""),
			}},
	}
}

// readRSAKey reads a PKCS#8 RSA private key.
func readRSAKey(t *testing.T, file string) *rsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s: no PEM block", file)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	rk, ok := key.(*rsa.PrivateKey)
	if err != nil || !ok {
		t.Fatalf("%s: not an RSA key (%v)", file, err)
	}
	return rk
}
