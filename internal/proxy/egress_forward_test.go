package proxy_test

import (
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/certtest"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// startEgress starts a gateway from yaml after replacing the {{NAME}}
// placeholders, with the dial seam in place.
func startEgress(t *testing.T, seam *dialSeam, yaml string, vars map[string]string, opts ...gatewaytest.Option) *gatewaytest.Harness {
	t.Helper()
	var pairs []string
	for k, v := range vars {
		pairs = append(pairs, "{{"+k+"}}", v)
	}
	yaml = strings.NewReplacer(pairs...).Replace(yaml)
	if strings.Contains(yaml, "{{") {
		t.Fatalf("unreplaced placeholder in:\n%s", yaml)
	}
	return gatewaytest.Start(t, yaml, append([]gatewaytest.Option{gatewaytest.Build(seam.options())}, opts...)...)
}

// curl runs curl with args and returns its output (headers included with
// -i); it skips the test when curl is not on PATH.
func curl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := curlErr(t, args...)
	if err != nil {
		t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// curlErr is curl that returns its failure.
func curlErr(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not on PATH: the curl client is not exercised")
	}
	cmd := exec.CommandContext(t.Context(), bin, append([]string{"-sS", "--max-time", "20"}, args...)...)
	// No proxy from the environment, no user configuration file.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// curlStatusBody splits curl -i output into the status code and the body
// of the final response (a tunnel's "200 Connection established" comes
// first).
func curlStatusBody(out string) (status, body string) {
	rest := strings.ReplaceAll(out, "\r\n", "\n")
	for {
		head, b, ok := strings.Cut(rest, "\n\n")
		f := strings.Fields(head)
		if !ok || len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/") {
			return "", out
		}
		if first, _, _ := strings.Cut(head, "\n"); strings.Contains(strings.ToLower(first), "connection established") {
			rest = b
			continue
		}
		return f[1], b
	}
}

const httpbinYAML = `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: egress
    address: 127.0.0.1:0
    egress:
      resolve: ["{{RESOLVE}}"]
      caFile: {{CA}}
egress:
  servers:
    - name: httpbin
      host: httpbin.org
      port: {{PORT}}
      tls: {mode: SIMPLE}
`

// hopHeaders are request headers that must never reach an external host,
// with the header lines that send them.
// ReverseProxy passes on "Te: trailers" alone (gRPC needs it), as Envoy
// does; any other TE is dropped.
var hopHeaders = []string{"X-Hop", "Keep-Alive", "Proxy-Authorization", "Proxy-Connection", "Upgrade",
	"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded", "Via", "Connection"}

const hopLines = "X-Hop: secret\r\nTe: gzip, trailers\r\nKeep-Alive: timeout=5\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\n" +
	"Proxy-Connection: keep-alive\r\nUpgrade: h2c\r\nX-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Host: spoofed.example\r\n" +
	"X-Forwarded-Proto: https\r\nForwarded: for=203.0.113.9\r\nX-Kept: yes\r\nConnection: close, X-Hop, Upgrade\r\n\r\n"

// TestEgressRequestForms: the three ways to ask the gateway for an
// external host (the Host header, an absolute-form target, and curl -x),
// each upgraded from plain HTTP to TLS toward the external host (SNI and
// the certificate check on its name), with the host, path and query
// intact and nothing hop-by-hop, no Proxy-Authorization and no
// X-Forwarded-* reaching it.
func TestEgressRequestForms(t *testing.T) {
	ca := certtest.NewCA(t)
	ext := startExternal(t, ca, "httpbin.org", extOptions{})
	seam := newDialSeam(t)
	h := startEgress(t, seam, httpbinYAML, map[string]string{"RESOLVE": ext.resolve(), "CA": ca.File, "PORT": itoa(ext.port)})
	addr := h.Addr("egress")
	wantHost := "httpbin.org:" + itoa(ext.port)

	forms := []struct {
		name string
		do   func(t *testing.T) res
		// logHost is the access log's host: what the client asked for.
		logHost string
	}{
		{"Host header", func(t *testing.T) res {
			return rawExchange(t, addr, "GET /get?x=1&y=two HTTP/1.1\r\nHost: httpbin.org\r\n"+hopLines)
		}, "httpbin.org"},
		{"Host header with the gateway's port", func(t *testing.T) res {
			return rawExchange(t, addr, "GET /get?x=1&y=two HTTP/1.1\r\nHost: HTTPBIN.org.:8080\r\n"+hopLines)
		}, "HTTPBIN.org.:8080"},
		{"absolute-form", func(t *testing.T) res {
			return rawExchange(t, addr, "GET http://httpbin.org/get?x=1&y=two HTTP/1.1\r\nHost: other.example\r\n"+hopLines)
		}, "httpbin.org"},
		{"http.Transport with ProxyURL", func(t *testing.T) res {
			req, _ := http.NewRequest(http.MethodGet, "http://httpbin.org/get?x=1&y=two", nil)
			req.Header.Set("X-Forwarded-For", "203.0.113.9")
			req.Header.Set("Proxy-Authorization", "Basic Zm9vOmJhcg==")
			req.Header.Set("X-Kept", "yes")
			return send(t, proxyClient(addr, nil, nil), req)
		}, "httpbin.org"},
		{"curl -x", func(t *testing.T) res {
			out := curl(t, "-i", "-x", "http://"+addr, "-H", "X-Forwarded-For: 203.0.113.9", "-H", "X-Kept: yes",
				"-H", "Proxy-Authorization: Basic Zm9vOmJhcg==", "http://httpbin.org/get?x=1&y=two")
			status, body := curlStatusBody(out)
			if status != "200" {
				t.Fatalf("curl: %s", out)
			}
			return res{status: 200, body: body}
		}, "httpbin.org"},
	}
	for i, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			r := f.do(t)
			expect(t, r, 200, "*")
			s := r.seen(t)
			if s.Host != wantHost || s.URI != "/get?x=1&y=two" || s.Method != "GET" {
				t.Errorf("external server saw %s Host %q %q, want GET Host %q /get?x=1&y=two", s.Method, s.Host, s.URI, wantHost)
			}
			if !s.TLS || s.SNI != "httpbin.org" {
				t.Errorf("TLS %v SNI %q: the plain request was not upgraded to TLS toward httpbin.org", s.TLS, s.SNI)
			}
			if s.Header.Get("X-Kept") != "yes" {
				t.Errorf("an ordinary header was lost: %v", s.Header)
			}
			for _, name := range hopHeaders {
				if v, ok := s.Header[http.CanonicalHeaderKey(name)]; ok {
					t.Errorf("%s reached the external server: %q", name, v)
				}
			}
			if v := s.Header.Values("Te"); len(v) > 1 || len(v) == 1 && v[0] != "trailers" {
				t.Errorf("TE %q reached the external server", v)
			}
			line := waitAccess(t, h, i+1)
			if got := str(line, "host"); got != f.logHost {
				t.Errorf("access log host %q, want the host the client asked for", got)
			}
			if str(line, "route") != "httpbin" || num(line, "status") != 200 || str(line, "upstream") != "https://"+wantHost {
				t.Errorf("access log %v", line)
			}
		})
	}
	if n := ext.plain.Load(); n != 0 {
		t.Errorf("%d plain-text connections reached the external TLS server", n)
	}
	for _, d := range seam.dials() {
		if d != "127.0.0.1:"+itoa(ext.port) {
			t.Errorf("dialled %s", d)
		}
	}
}

// TestEgressSchemes: a server without TLS origination is reached in plain
// HTTP; an https:// absolute-form target is sent over TLS when the server
// originates it, and refused (400) rather than downgraded to plain text
// when it does not.
func TestEgressSchemes(t *testing.T) {
	ca := certtest.NewCA(t)
	tlsExt := startExternal(t, ca, "httpbin.org", extOptions{})
	plainExt := startExternal(t, nil, "plain.example", extOptions{plainHTTP: true})
	const yaml = `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: egress
    address: 127.0.0.1:0
    egress:
      resolve: ["{{R1}}", "{{R2}}"]
      caFile: {{CA}}
egress:
  servers:
    - name: httpbin
      host: httpbin.org
      port: {{P1}}
      tls: {mode: SIMPLE}
    - name: plain
      host: plain.example
      port: {{P2}}
`
	seam := newDialSeam(t)
	h := startEgress(t, seam, yaml, map[string]string{"R1": tlsExt.resolve(), "R2": plainExt.resolve(), "CA": ca.File,
		"P1": itoa(tlsExt.port), "P2": itoa(plainExt.port)})
	addr := h.Addr("egress")
	tests := []struct {
		target string
		status int
		tls    bool
	}{
		{"http://plain.example/a", 200, false},
		{"https://httpbin.org/a", 200, true},
		{"https://plain.example/a", 400, false},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			r := rawExchange(t, addr, "GET "+tt.target+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			expect(t, r, tt.status, "*")
			if tt.status == 200 {
				if s := r.seen(t); s.TLS != tt.tls || s.URI != "/a" {
					t.Errorf("external server saw %+v", s)
				}
			}
		})
	}
	if n := len(plainExt.requests()); n != 1 {
		t.Errorf("the plain server got %d requests, want 1", n)
	}
	if n := plainExt.conns.Load(); n != 1 {
		t.Errorf("the plain server got %d connections, want 1", n)
	}
}
