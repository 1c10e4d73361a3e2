package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"jwtgate.dev/jwtgate/internal/demo"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
	"jwtgate.dev/jwtgate/internal/logtest"
)

// docBlock returns the first ```yaml block of docs/authorization.md after
// the heading line that starts with heading ("### to: paths").
func docBlock(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile("../docs/authorization.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	i := 0
	for ; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "#") && strings.HasPrefix(strings.TrimLeft(lines[i], "# "), heading) {
			break
		}
	}
	if i == len(lines) {
		t.Fatalf("docs/authorization.md has no heading %q", heading)
	}
	for ; i < len(lines) && strings.TrimSpace(lines[i]) != "```yaml"; i++ {
	}
	start := i + 1
	for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
	}
	if start >= len(lines) || i == len(lines) {
		t.Fatalf("no yaml block after %q", heading)
	}
	return strings.Join(lines[start:i], "\n") + "\n"
}

// azGateway is a gateway built from a documentation example, with a JWKS
// server for its provider, an echo upstream and a captured access log.
type azGateway struct {
	t    *testing.T
	h    *gatewaytest.Harness
	is   *issuer
	logs *logtest.Buffer
	// client is used for every request; for TLS listeners it is replaced.
	client *http.Client
	scheme string
}

// startDocGateway starts yaml (a documentation example) after applying
// repl (old, new pairs), then the standard substitutions: the JWKS URI and
// backends of the examples point at test servers, listener addresses at
// 127.0.0.1:0.
func startDocGateway(t *testing.T, yaml string, repl ...string) *azGateway {
	t.Helper()
	is := newIssuer(t)
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, is.jwks)
	}))
	t.Cleanup(jwks.Close)
	up := httptest.NewServer(demo.Echo())
	t.Cleanup(up.Close)

	yaml = strings.NewReplacer(repl...).Replace(yaml)
	yaml = strings.NewReplacer(
		"http://127.0.0.1:9000/jwks.json", jwks.URL+"/jwks.json",
		"http://127.0.0.1:8000", up.URL,
		"http://127.0.0.1:9080", up.URL,
		"{url: https://api.payment-provider.com}", "{url: "+up.URL+"}",
		"127.0.0.1:8080", "127.0.0.1:0",
		"127.0.0.1:8443", "127.0.0.1:0",
		"127.0.0.1:9090", "127.0.0.1:0",
	).Replace(yaml)

	h := gatewaytest.Start(t, yaml)
	return &azGateway{t: t, h: h, is: is, logs: h.Logs, client: &http.Client{}, scheme: "http"}
}

// bearer is the header set carrying tok.
func bearer(tok string) http.Header {
	return http.Header{"Authorization": {"Bearer " + tok}}
}

// tok mints a token for the example provider's issuer.
func (g *azGateway) tok(claims jwt.MapClaims) string {
	return g.is.token(g.t, claims)
}

// do sends method host path on listener, with headers h (several values
// per name are sent as several header lines).
func (g *azGateway) do(listener, method, host, path string, h http.Header) response {
	g.t.Helper()
	req, err := http.NewRequest(method, g.scheme+"://"+g.h.Addr(listener)+path, nil)
	if err != nil {
		g.t.Fatal(err)
	}
	req.Host = host
	for k, vs := range h {
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}
	return send(g.t, g.client, req)
}

// raw sends a request line exactly as given (the target is not cleaned
// or re-encoded by a client library) on a plain-HTTP listener.
func (g *azGateway) raw(listener, method, target, host string, h http.Header) response {
	g.t.Helper()
	c, err := net.Dial("tcp", g.h.Addr(listener))
	if err != nil {
		g.t.Fatal(err)
	}
	defer c.Close()
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n")
	for k, vs := range h {
		for _, v := range vs {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(c, b.String()); err != nil {
		g.t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		g.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	out := response{status: res.StatusCode, header: res.Header, body: string(body)}
	if res.StatusCode == http.StatusOK && method != http.MethodHead {
		if err := json.Unmarshal(body, &out.echo); err != nil {
			g.t.Fatalf("upstream answer is not the echo JSON: %v\n%s", err, body)
		}
	}
	return out
}

// denied checks the 403 of authorization: Envoy's body, text/plain, no
// challenge.
func (r response) denied(t *testing.T) {
	t.Helper()
	r.expect(t, http.StatusForbidden, "RBAC: access denied", "")
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want text/plain", ct)
	}
}

// allowed checks that the request reached the upstream.
func (r response) allowed(t *testing.T) {
	t.Helper()
	r.expect(t, http.StatusOK, "*", "")
}

// lastAccess waits for the access log line of the n-th request (1-based)
// and returns it decoded.
func (g *azGateway) access(n int) map[string]any {
	g.t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		var lines []map[string]any
		for _, line := range strings.Split(strings.TrimSpace(g.logs.String()), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "access" {
				lines = append(lines, m)
			}
		}
		if len(lines) >= n {
			return lines[n-1]
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("access log has %d lines, want %d:\n%s", len(lines), n, g.logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	_, port, _ := net.SplitHostPort(gatewaytest.FreeAddr(t))
	return port
}
