package e2e

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/certtest"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// tsbExamples copies examples/tsb but its glue into a folder and writes a
// glue of the test's; it returns the folder.
func (w *tsbWorld) tsbExamples(g tsbGlue) string {
	w.t.Helper()
	for _, name := range []string{"gateway.yaml", "egressgateway.yaml", "workspace.yaml"} {
		w.copyExample(w.dir, name)
	}
	w.glue(w.dir, g)
	return w.dir
}

// TestEgressTSBSeed000 serves TSB's egress JWT example
// (examples/tsb/gateway.yaml, all of examples/tsb in the folder),
// the Gateway chosen by the glue's workload key, on an mTLS listener that
// requires client certificates: JWT required on both servers, the payload
// header, the token removed, the payments-service-only rule; and the
// callers' certificates.
func TestEgressTSBSeed000(t *testing.T) {
	w := newTSBWorld(t)
	addr := gatewaytest.FreeAddr(t)
	dir := w.tsbExamples(tsbGlue{addr: addr, clientCerts: "require", connect: true,
		top: "workload:\n  namespace: egress\n  labels: {app: egress-gateway}\n"})
	g := w.serve(addr, "-c", dir)

	details := w.workload("default", "bookinfo-details")
	payments := w.token("payments-service@example.com")
	other := w.token("orders-service@example.com")
	forged := newIssuer(t).token(t, map[string]any{"iss": "https://auth.example.com", "sub": "payments-service@example.com"})
	const api, bin = "api.payment-provider.com", "httpbin.org"

	for _, tc := range []struct {
		name, method, host, path, token string
		status                          int
		body                            string
	}{
		{"httpbin without a token", "GET", bin, "/get", "", 401, "Jwt is missing"},
		{"httpbin with a forged token", "GET", bin, "/get", forged, 401, "*"},
		{"httpbin with any valid token", "GET", bin, "/get?a=1", other, 200, "*"},
		{"payments without a token", "GET", api, "/v1/payments/x", "", 401, "Jwt is missing"},
		{"payments GET", "GET", api, "/v1/payments/x", payments, 200, "*"},
		{"payments POST", "POST", api, "/v1/payments/x", payments, 200, "*"},
		{"payments DELETE", "DELETE", api, "/v1/payments/x", payments, 403, "RBAC: access denied"},
		{"payments other path", "GET", api, "/v1/refunds/x", payments, 403, "RBAC: access denied"},
		{"payments other subject", "GET", api, "/v1/payments/x", other, 403, "RBAC: access denied"},
		{"a host no server serves", "GET", "www.httpbin.org", "/get", payments, 403, "RBAC: access denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := w.received()
			r := g.do(details, tc.method, tc.host, tc.path, bearerHeader(tc.token))
			r.expect(t, tc.status, tc.body)
			if r.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
			}
			if r.status != 200 {
				if w.received() != before {
					t.Errorf("a denied request reached the external host")
				}
				return
			}
			s := r.seen
			if want := fmt.Sprintf("%s:%d", tc.host, w.port); s.Host != want || s.SNI != tc.host {
				t.Errorf("the external host saw Host %q SNI %q, want %q and %q", s.Host, s.SNI, want, tc.host)
			}
			if s.Method != tc.method || s.URI != tc.path {
				t.Errorf("the external host saw %s %s, want %s %s", s.Method, s.URI, tc.method, tc.path)
			}
			if a := s.Header.Get("Authorization"); a != "" {
				t.Errorf("the caller's Authorization reached the external host: %q", a)
			}
			if got, want := s.Header.Get("X-Jwt-Payload"), strings.Split(tc.token, ".")[1]; got != want {
				t.Errorf("x-jwt-payload = %q, want the token's payload %q", got, want)
			} else if raw, _ := base64.RawURLEncoding.DecodeString(got); !strings.Contains(string(raw), `"sub"`) {
				t.Errorf("x-jwt-payload decodes to %q", raw)
			}
		})
	}

	// A server with a jwt requirement refuses tunnels, even to a port
	// connectPorts allows.
	t.Run("CONNECT to a server with a jwt requirement", func(t *testing.T) {
		before := w.received()
		r := g.do(details, "GET", "", fmt.Sprintf("https://httpbin.org:%d/get", w.port), bearerHeader(payments))
		if r.err == nil || !strings.Contains(r.err.Error(), "Forbidden") || w.received() != before {
			t.Errorf("got %v %d, want the CONNECT refused with 403", r.err, r.status)
		}
	})

	// The callers' certificates, on a listener with clientCerts: require.
	_, _, foreign := certtest.NewCA(t).Leaf(t, "foreign", nil, "spiffe://cluster.local/ns/default/sa/bookinfo-details")
	for _, tc := range []struct {
		name   string
		cert   *tls.Certificate
		status int
	}{
		{"a SPIFFE certificate of the mesh CA", details, 200},
		{"no client certificate: handshake refused", nil, 0},
		{"a certificate of another CA: handshake refused", &foreign, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := w.received()
			g.do(tc.cert, "GET", api, "/v1/payments/x", bearerHeader(payments)).expect(t, tc.status, "*")
			if tc.status == 0 && w.received() != before {
				t.Errorf("a refused caller reached the external host")
			}
		})
	}
}

// tsbPrecedenceGateway is a TSB Gateway named name whose servers are
// among four: httpbin.org with only egressAuthorization, the payments
// host with only server-level rules, www.httpbin.org with both, and
// neither.example (sent to httpbin.org) with neither.
// egressAuthorization admits default/bookinfo-details to httpbin.org and
// www.httpbin.org; the server rules admit the subject
// payments-service@example.com.
func (w *tsbWorld) tsbPrecedenceGateway(name string, servers []string, egressAuthorization bool) string {
	rules := `
      authorization:
        local:
          rules:
            - name: payments-service-only
              from:
                - jwt: {iss: "https://auth.example.com", sub: "payments-service@example.com"}`
	hosts := map[string][3]string{ // hostname, serviceDestination, rules
		"httpbin":  {"httpbin.org", "httpbin.org", ""},
		"payments": {"api.payment-provider.com", "api.payment-provider.com", rules},
		"www":      {"www.httpbin.org", "www.httpbin.org", rules},
		"neither":  {"neither.example", "httpbin.org", ""},
	}
	s := fmt.Sprintf(`apiVersion: gateway.tsb.tetrate.io/v2
kind: Gateway
metadata:
  name: %s
  organization: tetrate
  tenant: platform
  workspace: egress-ws
  group: egress-gg
spec:
  workloadSelector:
    namespace: egress
    labels: {app: %s}
  http:`, name, name)
	for _, srv := range servers {
		s += fmt.Sprintf(`
    - name: %s
      hostname: %s
      trafficMode: EGRESS
      routing:
        rules:
          - route:
              serviceDestination:
                host: egress/%s
                tls:
                  mode: SIMPLE
                  files:
                    caCertificates: "/etc/ssl/certs/ca-certificates.crt"
      authentication:
        jwt:
          issuer: "https://auth.example.com"
          jwksUri: "https://auth.example.com/.well-known/jwks.json"%s`, srv, hosts[srv][0], hosts[srv][1], hosts[srv][2])
	}
	if egressAuthorization {
		s += `
  egressAuthorization:
    - to: [{host: httpbin.org}, {host: www.httpbin.org}]
      from:
        serviceAccounts: ["default/bookinfo-details"]`
	}
	return w.localize(s + "\n")
}

// TestEgressTSBPrecedence is the table "Interaction with
// egressAuthorization" of TSB's egress page, row by row, with three
// Gateways in one folder, each served in turn (chosen with --gateway):
// only egressAuthorization, only server-level rules, and both (for the
// same host and for different hosts); and the two "neither" rows of
// docs/dialects/tsb.md. The callers differ in what each set
// of rules looks at: details (admitted by egressAuthorization) holds a
// token of another subject, reviews (not admitted) holds the payments
// token that the server rules admit.
func TestEgressTSBPrecedence(t *testing.T) {
	w := newTSBWorld(t)
	w.write(w.dir, "gateways.yaml", strings.Join([]string{
		w.tsbPrecedenceGateway("only-ea", []string{"httpbin"}, true),
		w.tsbPrecedenceGateway("only-server", []string{"payments", "neither"}, false),
		w.tsbPrecedenceGateway("both", []string{"httpbin", "payments", "www", "neither"}, true),
	}, "---\n"))
	details, reviews := w.workload("default", "bookinfo-details"), w.workload("default", "reviews")
	other, payments := w.token("someone-else@example.com"), w.token("payments-service@example.com")
	type call struct {
		row, who, host string
		status         int
	}
	for _, gc := range []struct {
		gateway string
		calls   []call
	}{
		{"only-ea", []call{
			{"a", "details", "httpbin.org", 200},
			{"a", "reviews", "httpbin.org", 403},
		}},
		{"only-server", []call{
			{"b", "reviews", "api.payment-provider.com", 200},
			{"b", "details", "api.payment-provider.com", 403},
			{"neither, no egressAuthorization: every caller with a token", "details", "neither.example", 200},
		}},
		{"both", []call{
			{"d: egressAuthorization decides its host", "details", "httpbin.org", 200},
			{"d: server rules do not reach the other host", "reviews", "httpbin.org", 403},
			{"d: server rules decide their host", "reviews", "api.payment-provider.com", 200},
			{"d: egressAuthorization does not reach the other host", "details", "api.payment-provider.com", 403},
			{"c: admitted by egressAuthorization, not by the server rules", "details", "www.httpbin.org", 403},
			{"c: admitted by the server rules, not by egressAuthorization", "reviews", "www.httpbin.org", 200},
			{"neither, with egressAuthorization: nobody", "details", "neither.example", 403},
			{"neither, with egressAuthorization: nobody", "reviews", "neither.example", 403},
		}},
	} {
		t.Run(gc.gateway, func(t *testing.T) {
			addr := gatewaytest.FreeAddr(t)
			sub := filepath.Join(w.dir, gc.gateway)
			w.glue(sub, tsbGlue{addr: addr, clientCerts: "require"})
			args := []string{"-c", filepath.Join(w.dir, "gateways.yaml"), "-c", sub, "--gateway", "egress/" + gc.gateway}
			g := w.serve(addr, args...)
			for _, c := range gc.calls {
				t.Run(c.row+"/"+c.who+"/"+c.host, func(t *testing.T) {
					cert, tok := details, other
					if c.who == "reviews" {
						cert, tok = reviews, payments
					}
					want := "RBAC: access denied"
					if c.status == 200 {
						want = "*"
					}
					r := g.do(cert, "GET", c.host, "/v1/payments/1", bearerHeader(tok))
					r.expect(t, c.status, want)
					if dest := strings.Replace(c.host, "neither.example", "httpbin.org", 1); r.status == 200 && r.seen.SNI != dest {
						t.Errorf("the request went to %q (Host %q), want %s", r.seen.SNI, r.seen.Host, dest)
					}
				})
			}
			if gc.gateway != "both" {
				return
			}
			// The access log names the rules that allowed each host.
			wantBy := map[string]string{
				"both/httpbin": "both rules[0]", "both/payments": "both/payments payments-service-only", "both/www": "both/www payments-service-only",
			}
			allowedBy := map[string]string{}
			for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline) && !maps.Equal(allowedBy, wantBy); time.Sleep(20 * time.Millisecond) {
				for _, line := range strings.Split(g.p.stderr.String(), "\n") {
					var a struct {
						Msg, Route, Policy, Rule string
						Status                   int
					}
					if json.Unmarshal([]byte(line), &a) == nil && a.Msg == "access" && a.Status == 200 {
						allowedBy[a.Route] = a.Policy + " " + a.Rule
					}
				}
			}
			if !maps.Equal(allowedBy, wantBy) {
				t.Errorf("the access log says these rules allowed requests: %q, want %q", allowedBy, wantBy)
			}
			out, code := w.validate(args...)
			if code != 0 {
				t.Fatalf("validate exited %d:\n%s", code, out)
			}
			for _, line := range []string{
				`  httpbin.org (server "both/httpbin", listener "egress"): gateway-wide rules of "both" decide` + "\n",
				`  api.payment-provider.com (server "both/payments", listener "egress"): server-level rules of "both/payments" decide` + "\n",
				`  www.httpbin.org (server "both/www", listener "egress"): server-level rules of "both/www" decide; gateway-wide "both" do not apply to this host` + "\n",
			} {
				if !strings.Contains(out, line) {
					t.Errorf("validate does not print %q:\n%s", line, out)
				}
			}
			if !strings.Contains(out, `warning: spec.egressAuthorization[0].to[1].host: does not apply to host "www.httpbin.org"`) {
				t.Errorf("validate does not warn about the egressAuthorization entry of www.httpbin.org:\n%s", out)
			}
		})
	}
}

// TestEgressTSBSeed002 serves TSB's EgressGateway example
// (examples/tsb/egressgateway.yaml with workspace.yaml), chosen
// with --workload-namespace and --workload-labels over the glue's
// workload (which names the Gateway), on a listener that requests client
// certificates. The EgressGateway has no port field: requests name the
// stand-in's port as a proxy's would (absolute-form, CONNECT).
func TestEgressTSBSeed002(t *testing.T) {
	w := newTSBWorld(t)
	addr := gatewaytest.FreeAddr(t)
	dir := w.tsbExamples(tsbGlue{addr: addr, clientCerts: "request", caFile: true, connect: true,
		top: "workload:\n  namespace: egress\n  labels: {app: egress-gateway}\n"})
	sel := []string{"--workload-namespace", "ns1", "--workload-labels", "app=istio-egressgateway,pod-template-hash=5d8f"}
	served := regexp.MustCompile(`(?m)^  EgressGateway ns1/my-egress \([^)]*\): Accepted=True`)
	if out, code := w.validate(append([]string{"-c", dir}, sel...)...); code != 0 || !served.MatchString(out) ||
		!strings.Contains(out, `  * (server "my-egress/*", listener "egress"): gateway-wide rules of "my-egress" decide`+"\n") {
		t.Errorf("validate with the flags (exit %d) does not serve the EgressGateway:\n%s", code, out)
	}
	t.Run("--workload-namespace alone", func(t *testing.T) {
		// docs/dialects/tsb.md: "a namespace or labels alone check only that part".
		out, code := w.validate("-c", dir, "--workload-namespace", "ns1")
		if code != 0 || !served.MatchString(out) {
			t.Errorf("validate --workload-namespace ns1 (exit %d) does not serve the EgressGateway:\n%s", code, out)
		}
	})
	g := w.serve(addr, append([]string{"-c", dir}, sel...)...)

	_, _, foreign := certtest.NewCA(t).Leaf(t, "foreign", nil, "spiffe://cluster.local/ns/default/sa/bookinfo-details")
	callers := map[string]*tls.Certificate{
		"ns1/app":                  w.workload("ns1", "app"),
		"bookinfo/productpage":     w.workload("bookinfo", "productpage"),
		"default/bookinfo-details": w.workload("default", "bookinfo-details"),
		"default/reviews":          w.workload("default", "reviews"),
		"no certificate":           nil,
		"another CA":               &foreign,
	}
	const www, bin = "www.httpbin.org", "httpbin.org"
	for _, tc := range []struct {
		who, host string
		connect   bool // CONNECT (an https:// URL) rather than absolute-form
		status    int
	}{
		{"ns1/app", www, false, 200},
		{"ns1/app", www, true, 200},
		{"ns1/app", bin, false, 403},
		{"bookinfo/productpage", www, false, 200},
		{"bookinfo/productpage", bin, false, 403},
		{"default/bookinfo-details", www, false, 200},
		{"default/bookinfo-details", bin, false, 200},
		{"default/bookinfo-details", bin, true, 200},
		{"default/reviews", www, false, 403},
		{"default/reviews", bin, false, 403},
		{"default/reviews", www, true, 403},
		{"no certificate", www, false, 403},
		{"another CA", www, false, 0},
	} {
		scheme := map[bool]string{false: "http", true: "https"}[tc.connect]
		t.Run(tc.who+"/"+scheme+"/"+tc.host, func(t *testing.T) {
			before := w.received()
			r := g.do(callers[tc.who], "GET", "", fmt.Sprintf("%s://%s:%d/get", scheme, tc.host, w.port), nil)
			if tc.connect && tc.status == 403 {
				// A refused CONNECT is a transport error naming the status.
				if r.err == nil || !strings.Contains(r.err.Error(), "Forbidden") {
					t.Fatalf("CONNECT: got %v %d, want 403 Forbidden", r.err, r.status)
				}
			} else {
				r.expect(t, tc.status, map[int]string{200: "*", 403: "RBAC: access denied", 0: ""}[tc.status])
			}
			if tc.status != 200 && w.received() != before {
				t.Errorf("a denied request reached the external host")
			}
			if tc.status == 200 && (r.seen.SNI != tc.host || r.seen.URI != "/get") {
				t.Errorf("the external host saw SNI %q URI %q", r.seen.SNI, r.seen.URI)
			}
		})
	}
	// A redirected workload request (the host in Host) is decided the same way.
	t.Run("default/reviews/Host: www.httpbin.org", func(t *testing.T) {
		g.do(callers["default/reviews"], "GET", "www.httpbin.org", "/get", nil).expect(t, 403, "RBAC: access denied")
	})

	// An EgressGateway with authorization: [] denies everything.
	t.Run("authorization: []", func(t *testing.T) {
		closed := filepath.Join(w.dir, "closed")
		w.write(closed, "closed.yaml", `apiVersion: gateway.tsb.tetrate.io/v2
kind: EgressGateway
metadata:
  name: closed
  group: g1
  workspace: w1
  tenant: mycompany
  organization: myorg
spec:
  workloadSelector:
    namespace: ns1
    labels:
      app: closed-egressgateway
  authorization: []
`)
		addr := gatewaytest.FreeAddr(t)
		w.glue(closed, tsbGlue{addr: addr, clientCerts: "request", caFile: true})
		g := w.serve(addr, "-c", closed, "-c", filepath.Join(dir, "workspace.yaml"))
		for _, who := range []string{"default/bookinfo-details", "ns1/app", "no certificate"} {
			cert := callers[who]
			for _, h := range []string{www, bin} {
				before := w.received()
				r := g.do(cert, "GET", "", fmt.Sprintf("http://%s:%d/get", h, w.port), nil)
				if r.err != nil || r.status != 403 || w.received() != before {
					t.Errorf("%s %s: got %v %d %q, want 403, not reaching the host", who, h, r.err, r.status, r.body)
				}
			}
		}
	})
}

// TestEgressTSBForwardProxyCurl uses the gateway as an HTTP proxy with
// curl. TSB has no proxy token, so the listener is in jwtgate's own
// format: proxyJwt, absolute-form with TLS origination, and CONNECT.
func TestEgressTSBForwardProxyCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not on PATH: the forward proxy is tested with curl")
	}
	w := newTSBWorld(t)
	addr := gatewaytest.FreeAddr(t)
	w.write(w.dir, "proxy.yaml", fmt.Sprintf(`apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: proxy
    address: %s
    egress:
      caFile: %s
      resolve: ["httpbin.org:%d:127.0.0.1"]
      connectPorts: [%[3]d]
      proxyJwt: {providers: [auth]}
providers:
  - name: auth
    issuer: https://auth.example.com
    jwks: {uri: %s}
egress:
  servers:
    - name: httpbin
      host: httpbin.org
      tls: {mode: SIMPLE}
  authorizations:
    - name: callers
      rules:
        - to: [{hosts: [httpbin.org]}]
`, addr, w.extCA.File, w.port, w.jwksURL))
	w.serve(addr, "-c", w.dir)
	tok := w.token("payments-service@example.com")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.Contains(strings.ToLower(strings.SplitN(kv, "=", 2)[0]), "proxy") {
			env = append(env, kv)
		}
	}
	for _, tc := range []struct {
		name, url, token, want string
	}{
		{"absolute-form with the proxy token", "http://httpbin.org:%d/get", tok, "200 000"},
		{"absolute-form without a token", "http://httpbin.org:%d/get", "", "407 000"},
		{"absolute-form with a bad token", "http://httpbin.org:%d/get", "bad", "407 000"},
		{"CONNECT with the proxy token", "https://httpbin.org:%d/get", tok, "200 200"},
		{"CONNECT without a token", "https://httpbin.org:%d/get", "", "000 407"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"-sS", "-x", "http://" + addr, "--cacert", w.extCA.File, "-o", "/dev/null",
				"-w", "%{http_code} %{http_connect}", fmt.Sprintf(tc.url, w.port)}
			if tc.token != "" {
				args = append(args, "--proxy-header", "Proxy-Authorization: Bearer "+tc.token)
			}
			before := w.received()
			cmd := exec.Command("curl", args...)
			cmd.Env = env
			out, _ := cmd.Output() // curl exits non-zero on a refused CONNECT
			if got := strings.TrimSpace(string(out)); got != tc.want {
				t.Fatalf("curl %v: %%{http_code} %%{http_connect} = %q, want %q", args, got, tc.want)
			}
			reached := w.received() > before
			if want := strings.Contains(tc.want, "200"); reached != want {
				t.Errorf("reached the external host: %v, want %v", reached, want)
			}
			if reached {
				w.mu.Lock()
				s := w.seen[len(w.seen)-1]
				w.mu.Unlock()
				if s.Header.Get("Proxy-Authorization") != "" || s.SNI != "httpbin.org" {
					t.Errorf("the external host saw Proxy-Authorization %q, SNI %q", s.Header.Get("Proxy-Authorization"), s.SNI)
				}
			}
		})
	}
}
