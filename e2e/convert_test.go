package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/demo"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
	"jwtgate.dev/jwtgate/internal/waittest"
)

// The convert tests serve a vendor example with the real binary, send it
// requests, stop it, convert the example with `jwtgate convert`, serve
// the output on the same addresses, send the same requests, and compare
// what the clients and the upstreams got: statuses, bodies and
// WWW-Authenticate of answers, and what the upstream received (method,
// target, Host, SNI and every header).

// convertTo runs `jwtgate convert -c IN... -o OUT` and returns OUT's
// contents.
func convertTo(t *testing.T, out string, args ...string) string {
	t.Helper()
	cmd := exec.Command(jwtgateBinary(t), append([]string{"convert", "-o", out}, args...)...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stdout.Len() > 0 {
		t.Fatalf("jwtgate convert %v: %v\nstdout:\n%s\nstderr:\n%s", args, err, stdout.String(), stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// stop ends a gateway the test started with SIGTERM and waits for its
// clean exit, freeing its addresses for the next.
func stop(t *testing.T, p *process) {
	t.Helper()
	p.signal(syscall.SIGTERM)
	if code := p.exitCode(30 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM:\n%s", code, p.output())
	}
}

// sameAnswers compares what each request got from the vendor input and
// from its conversion.
func sameAnswers(t *testing.T, names, vendor, native []string) {
	t.Helper()
	for i, name := range names {
		if vendor[i] != native[i] {
			t.Errorf("%s:\nvendor input: %s\nconversion:   %s", name, vendor[i], native[i])
		} else {
			t.Logf("%s: %s", name, vendor[i])
		}
	}
}

// headerLines writes h one "Name: v1|v2" per header, sorted.
func headerLines(h http.Header) string {
	var lines []string
	for k, vs := range h {
		lines = append(lines, k+": "+strings.Join(vs, "|"))
	}
	slices.Sort(lines)
	return strings.Join(lines, "; ")
}

// TestConvertTSBSeed000 serves TSB's egress JWT example as
// TestEgressTSBSeed000 does (examples/tsb with an mTLS glue that chooses
// seed 000's Gateway), then its conversion: every request gets the same
// answer and the external host sees the same request.
func TestConvertTSBSeed000(t *testing.T) {
	w := newTSBWorld(t)
	addr := gatewaytest.FreeAddr(t)
	dir := w.tsbExamples(tsbGlue{addr: addr, clientCerts: "require", connect: true,
		top: "workload:\n  namespace: egress\n  labels: {app: egress-gateway}\n"})
	out := filepath.Join(t.TempDir(), "native.yaml")
	converted := convertTo(t, out, "-c", dir)
	for _, want := range []string{"# from Gateway egress/shared-egress-gateway (" + filepath.Join(dir, "gateway.yaml"), "\n  servers:\n"} {
		if !strings.Contains(converted, want) {
			t.Errorf("the conversion lacks %q:\n%s", want, converted)
		}
	}
	if strings.Contains(converted, "my-egress") {
		t.Errorf("the conversion holds the EgressGateway the glue did not choose:\n%s", converted)
	}

	details, orders := w.workload("default", "bookinfo-details"), w.workload("orders", "orders")
	payments, other := w.token("payments-service@example.com"), w.token("orders-service@example.com")
	forged := newIssuer(t).token(t, map[string]any{"iss": "https://auth.example.com", "sub": "payments-service@example.com"})
	const api, bin = "api.payment-provider.com", "httpbin.org"
	type request struct {
		name, method, host, target, token string
		extra                             http.Header
	}
	requests := []request{
		{name: "httpbin without a token", method: "GET", host: bin, target: "/get"},
		{name: "httpbin with a forged token", method: "GET", host: bin, target: "/get", token: forged},
		{name: "httpbin with any valid token", method: "GET", host: bin, target: "/get?a=1", token: other},
		{name: "payments without a token", method: "GET", host: api, target: "/v1/payments/x"},
		{name: "payments GET", method: "GET", host: api, target: "/v1/payments/x", token: payments},
		{name: "payments POST", method: "POST", host: api, target: "/v1/payments/x", token: payments},
		{name: "payments DELETE", method: "DELETE", host: api, target: "/v1/payments/x", token: payments},
		{name: "payments other path", method: "GET", host: api, target: "/v1/refunds/x", token: payments},
		{name: "payments other subject", method: "GET", host: api, target: "/v1/payments/x", token: other},
		{name: "a client's own payload header", method: "GET", host: api, target: "/v1/payments/x", token: payments,
			extra: http.Header{"X-Jwt-Payload": {"forged"}, "X-Custom": {"kept"}}},
		{name: "a host no server serves", method: "GET", host: "www.httpbin.org", target: "/get", token: payments},
		{name: "as a forward proxy", method: "GET", target: fmt.Sprintf("http://httpbin.org:%d/get", w.port), token: other},
		{name: "CONNECT to a server with a JWT requirement", method: "GET", target: fmt.Sprintf("https://httpbin.org:%d/get", w.port), token: payments},
		{name: "another workload", method: "GET", host: api, target: "/v1/payments/x", token: payments},
		{name: "no client certificate", method: "GET", host: api, target: "/v1/payments/x", token: payments},
	}
	run := func(args ...string) []string {
		g := w.serve(addr, args...)
		defer stop(t, g.p)
		var got []string
		for _, rq := range requests {
			cert := details
			switch rq.name {
			case "another workload":
				cert = orders
			case "no client certificate":
				cert = nil
			}
			h := http.Header{}
			for k, v := range bearerHeader(rq.token) {
				h[k] = v
			}
			for k, v := range rq.extra {
				h[k] = v
			}
			r := g.do(cert, rq.method, rq.host, rq.target, h)
			switch {
			case r.err != nil && strings.Contains(r.err.Error(), "tls: "):
				got = append(got, "TLS handshake refused")
			case r.err != nil && strings.Contains(r.err.Error(), "Forbidden"):
				got = append(got, "CONNECT refused: Forbidden")
			case r.err != nil:
				got = append(got, "error: "+r.err.Error())
			case r.status != http.StatusOK:
				got = append(got, fmt.Sprintf("%d %q www-authenticate=%q", r.status, r.body, r.header.Get("WWW-Authenticate")))
			default:
				s := r.seen
				got = append(got, fmt.Sprintf("200; the host saw %s %s Host=%s SNI=%s; %s", s.Method, s.URI, s.Host, s.SNI, headerLines(s.Header)))
			}
		}
		return got
	}
	vendor := run("-c", dir)
	native := run("-c", out)
	var names []string
	for _, rq := range requests {
		names = append(names, rq.name)
	}
	sameAnswers(t, names, vendor, native)
	if !strings.HasPrefix(vendor[4], "200;") || !strings.HasPrefix(vendor[0], "401 ") || !strings.HasPrefix(vendor[6], "403 ") {
		t.Errorf("the vendor input does not answer as TestEgressTSBSeed000 expects: %q", vendor)
	}
}

// glooExample copies examples/gloo into a folder with the mesh listener
// on addr and the EndpointSlice's port the upstream's, as
// internal/dialect/gloo's seed 001 test serves it.
func glooExample(t *testing.T, addr, upstreamPort string) string {
	t.Helper()
	dir := t.TempDir()
	files, err := filepath.Glob(filepath.Join("..", "examples", "gloo", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("examples/gloo: %v", err)
	}
	replace := func(s, old, new string) string {
		if !strings.Contains(s, old) {
			t.Fatalf("no %q in:\n%s", old, s)
		}
		return strings.ReplaceAll(s, old, new)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs := strings.Split(string(b), "\n---\n")
		for i, doc := range docs {
			switch {
			case strings.Contains(doc, "kind: Config"):
				docs[i] = replace(doc, "address: 127.0.0.1:15001", "address: "+addr)
			case strings.Contains(doc, "kind: EndpointSlice"):
				docs[i] = replace(doc, "    port: 8000", "    port: "+upstreamPort)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), []byte(strings.Join(docs, "\n---\n")), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// serveReady runs `jwtgate serve` with args and waits for /readyz.
func serveReady(t *testing.T, args ...string) *process {
	t.Helper()
	admin := gatewaytest.FreeAddr(t)
	p := startBinary(t, append([]string{"serve", "--admin", admin}, args...)...)
	waittest.Until(t, 10*time.Second, "/readyz", func() bool {
		select {
		case <-p.done:
			t.Fatalf("jwtgate serve %v exited:\n%s", args, p.output())
		default:
		}
		res, err := http.Get("http://" + admin + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	return p
}

// TestConvertGlooSeed001 serves Gloo Mesh's "JWT for mesh routes"
// (examples/gloo: RouteTable, JWTPolicy, Service and EndpointSlice, glue)
// with an echo upstream, then its conversion: the guide's requests get
// the same answers, and the upstream sees the same requests.
func TestConvertGlooSeed001(t *testing.T) {
	jwtgateBinary(t)
	up := httptest.NewServer(demo.Echo())
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	addr := gatewaytest.FreeAddr(t)
	dir := glooExample(t, addr, u.Port())
	out := filepath.Join(t.TempDir(), "native.yaml")
	converted := convertTo(t, out, "-c", dir)
	for _, want := range []string{"# from RouteTable httpbin/www-example-com (", "# from JWTPolicy httpbin/jwt-policy (", "endpoints: ['127.0.0.1:" + u.Port() + "']"} {
		if !strings.Contains(converted, want) {
			t.Errorf("the conversion lacks %q:\n%s", want, converted)
		}
	}

	b, err := os.ReadFile(filepath.Join("..", "examples", "gloo", "dev-example.jwt"))
	if err != nil {
		t.Fatal(err)
	}
	dev := strings.TrimSpace(string(b))
	mesh := "X-Httpbin-Mesh"
	requests := []struct {
		name, target string
		header       http.Header
	}{
		{"no token", "/get", http.Header{mesh: {"true"}}},
		{"token in auth_token", "/get?auth_token=" + dev, http.Header{mesh: {"true"}, "X-Org": {"spoofed"}, "X-Email": {"spoofed"}}},
		{"token in X-Auth", "/get", http.Header{mesh: {"1"}, "X-Auth": {"Bearer " + dev}}},
		{"token in Authorization, not a source here", "/get", http.Header{mesh: {"1"}, "Authorization": {"Bearer " + dev}}},
		{"both sources must be valid", "/get?auth_token=garbage", http.Header{mesh: {"1"}, "X-Auth": {"Bearer " + dev}}},
		{"a malformed token", "/get", http.Header{mesh: {"1"}, "X-Auth": {"Bearer a.b.c"}}},
		{"without the mesh header", "/get?auth_token=" + dev, nil},
		{"POST with a query kept", "/anything/x?a=1&auth_token=" + dev, http.Header{mesh: {"yes"}}},
	}
	run := func(args ...string) []string {
		p := serveReady(t, args...)
		defer stop(t, p)
		var got []string
		for _, rq := range requests {
			method := http.MethodGet
			if strings.HasPrefix(rq.name, "POST") {
				method = http.MethodPost
			}
			req, err := http.NewRequest(method, "http://"+addr+rq.target, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = "www.example.com"
			for k, v := range rq.header {
				req.Header[k] = v
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				got = append(got, fmt.Sprintf("%d %q www-authenticate=%q", res.StatusCode, body, res.Header.Get("WWW-Authenticate")))
				continue
			}
			var e demo.Echoed
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("not the echo's answer: %v\n%s", err, body)
			}
			got = append(got, fmt.Sprintf("200; the upstream saw %s %s %v; %s", e.Method, e.Path, e.Query, headerLines(e.Headers)))
		}
		return got
	}
	vendor := run("-c", dir)
	native := run("-c", out)
	var names []string
	for _, rq := range requests {
		names = append(names, rq.name)
	}
	sameAnswers(t, names, vendor, native)
	if !strings.HasPrefix(vendor[0], "401 ") || !strings.Contains(vendor[1], "X-Email: dev1@solo.io") || !strings.HasPrefix(vendor[6], "404 ") {
		t.Errorf("the vendor input does not answer as the guide says: %q", vendor)
	}
}
