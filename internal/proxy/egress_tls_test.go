package proxy_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/certtest"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// accessFor waits for the access log line of a request for host.
func accessFor(t testing.TB, h *gatewaytest.Harness, host string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, l := range accessLog(t, h) {
			if str(l, "host") == host {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access log line for host %s in:\n%s", host, h.Logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestEgressOriginationFailures: TLS origination verifies the external
// host's certificate against the CA bundle and the external host name;
// a certificate from an unknown CA, an expired one, one for another name,
// and a server that wants a client certificate the gateway does not
// have, are each answered 503 "no healthy upstream", with the TLS reason
// in the access log, and never retried in plain text. MUTUAL
// origination presents the configured certificate.
func TestEgressOriginationFailures(t *testing.T) {
	ca := certtest.NewCA(t)
	unknownCA := certtest.NewCA(t)
	clientCA := certtest.NewCA(t)
	gwClientCert, gwClientKey, _ := clientCA.Leaf(t, "egress-gateway-client", nil)

	_, _, unknownCert := unknownCA.Leaf(t, "unknown", []string{"unknown.example"})
	expiredCert := ca.ExpiredLeaf(t, "expired", []string{"expired.example"})
	_, _, otherName := ca.Leaf(t, "other", []string{"other.example"})

	tests := []struct {
		host   string
		opts   extOptions
		tls    string // the server's tls settings
		status int
		reason string // in upstream_error
	}{
		{"unknown.example", extOptions{cert: &unknownCert}, "{mode: SIMPLE}", 503, "certificate signed by unknown authority"},
		{"expired.example", extOptions{cert: &expiredCert}, "{mode: SIMPLE}", 503, "expired"},
		{"mismatch.example", extOptions{cert: &otherName}, "{mode: SIMPLE}", 503, "not mismatch.example"},
		{"wants-cert.example", extOptions{clientCAs: clientCA.Pool}, "{mode: SIMPLE}", 503, "certificate"},
		{"mutual.example", extOptions{clientCAs: clientCA.Pool}, "{mode: MUTUAL, certFile: " + gwClientCert + ", keyFile: " + gwClientKey + "}", 200, ""},
		{"simple.example", extOptions{}, "{mode: SIMPLE, caFile: " + ca.File + "}", 200, ""},
	}
	exts := map[string]*external{}
	var resolve, servers strings.Builder
	for _, tt := range tests {
		e := startExternal(t, ca, tt.host, tt.opts)
		exts[tt.host] = e
		resolve.WriteString(`"` + e.resolve() + `", `)
		servers.WriteString("    - name: " + strings.Split(tt.host, ".")[0] + "\n      host: " + tt.host +
			"\n      port: " + itoa(e.port) + "\n      tls: " + tt.tls + "\n")
	}
	yaml := `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: egress
    address: 127.0.0.1:0
    egress:
      resolve: [{{RESOLVE}}]
      caFile: {{CA}}
egress:
  servers:
{{SERVERS}}`
	seam := newDialSeam(t)
	h := startEgress(t, seam, yaml, map[string]string{"RESOLVE": strings.TrimSuffix(resolve.String(), ", "), "CA": ca.File, "SERVERS": servers.String()})
	addr := h.Addr("egress")

	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			e := exts[tt.host]
			r := send(t, nil, hostReq(t, "GET", addr, tt.host, "/anything", nil))
			line := accessFor(t, h, tt.host)
			if tt.status != 200 {
				expect(t, r, 503, "no healthy upstream")
				if got := str(line, "upstream_error"); !strings.Contains(got, tt.reason) {
					t.Errorf("upstream_error %q, want it to say %q", got, tt.reason)
				}
				if num(line, "status") != 503 || str(line, "upstream") != "https://"+tt.host+":"+itoa(e.port) {
					t.Errorf("access log %v", line)
				}
				if n := len(e.requests()); n != 0 {
					t.Errorf("the external server received %d requests", n)
				}
			} else {
				expect(t, r, 200, "*")
				s := r.seen(t)
				if !s.TLS || s.SNI != tt.host {
					t.Errorf("external server saw %+v", s)
				}
				if tt.opts.clientCAs != nil && s.ClientCert != "egress-gateway-client" {
					t.Errorf("client certificate %q, want the gateway's", s.ClientCert)
				}
			}
			if e.conns.Load() == 0 {
				t.Errorf("the external server was never contacted")
			}
			if n := e.plain.Load(); n != 0 {
				t.Errorf("%d plain-text connections reached the external server: a fallback", n)
			}
		})
	}
}

// TestEgressDestination: a server with a fixed destination sends the
// request there; TLS checks the destination's name, and the access log
// keeps the host the client asked for.
func TestEgressDestination(t *testing.T) {
	ca := certtest.NewCA(t)
	ext := startExternal(t, ca, "real.httpbin.org", extOptions{})
	const yaml = `
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
      destination: real.httpbin.org
      port: {{PORT}}
      tls: {mode: SIMPLE}
`
	seam := newDialSeam(t)
	h := startEgress(t, seam, yaml, map[string]string{"RESOLVE": ext.resolve(), "CA": ca.File, "PORT": itoa(ext.port)})
	r := send(t, nil, hostReq(t, "GET", h.Addr("egress"), "httpbin.org", "/get", nil))
	expect(t, r, 200, "*")
	if s := r.seen(t); s.SNI != "real.httpbin.org" || s.Host != "real.httpbin.org:"+itoa(ext.port) {
		t.Errorf("external server saw %+v", s)
	}
	if l := waitAccess(t, h, 1); str(l, "host") != "httpbin.org" || str(l, "upstream") != "https://real.httpbin.org:"+itoa(ext.port) {
		t.Errorf("access log %v", l)
	}
}

// TestEgressTimeout: a server's timeout bounds the wait for the external
// host's response headers: 504 "upstream request timeout".
func TestEgressTimeout(t *testing.T) {
	ca := certtest.NewCA(t)
	ext := startExternal(t, ca, "slow.example", extOptions{handler: func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}})
	const yaml = `
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
    - {name: slow, host: slow.example, port: {{PORT}}, tls: {mode: SIMPLE}, timeout: 200ms}
`
	seam := newDialSeam(t)
	h := startEgress(t, seam, yaml, map[string]string{"RESOLVE": ext.resolve(), "CA": ca.File, "PORT": itoa(ext.port)})
	start := time.Now()
	r := send(t, nil, hostReq(t, "GET", h.Addr("egress"), "slow.example", "/", nil))
	expect(t, r, 504, "upstream request timeout")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("answered after %v", d)
	}
}
