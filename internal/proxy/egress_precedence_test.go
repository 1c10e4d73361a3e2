package proxy_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/certtest"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// precedenceYAML has one server per row of seed 000's precedence table,
// on an mTLS egress listener whose callers are identified by their SPIFFE
// certificates:
//
//   - www.httpbin.org: only gateway-wide rules name it;
//   - api.payment-provider.com: only server-level rules (the gateway-wide
//     "*" rule of bookinfo-details does not reach it);
//   - api.both.example: both, for the same host: the server-level rules
//     decide;
//   - any other host: the wildcard server, decided by the gateway-wide
//     rules ("*" for bookinfo-details, and public.example for anyone).
const precedenceYAML = `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: egress
    address: 127.0.0.1:0
    tls:
      certFile: {{GWCERT}}
      keyFile: {{GWKEY}}
      clientCAFile: {{MESHCA}}
      clientCerts: {{MODE}}
    egress:
      resolve: [{{RESOLVE}}]
      caFile: {{CA}}
egress:
  servers:
    - name: httpbin
      host: www.httpbin.org
      port: {{PORT}}
      tls: {mode: SIMPLE}
    - name: payment-api
      host: api.payment-provider.com
      port: {{PORT}}
      tls: {mode: SIMPLE}
      authorization:
        rules:
          - from: [{serviceAccounts: [payments/api]}]
    - name: both
      host: api.both.example
      port: {{PORT}}
      tls: {mode: SIMPLE}
      authorization:
        rules:
          - from: [{serviceAccounts: [shop/checkout]}]
    - name: any
      host: "*"
      port: {{PORT}}
      tls: {mode: SIMPLE}
  authorizations:
    - name: mesh
      rules:
        - from: [{namespaces: [bookinfo]}]
          to: [{hosts: [www.httpbin.org]}]
        - from: [{serviceAccounts: [default/bookinfo-details]}]
          to: [{hosts: ["*"]}]
        - from: [{serviceAccounts: ["ops/*"]}]
          to: [{hosts: [api.both.example, www.httpbin.org]}]
        - to: [{hosts: [public.example]}]
`

// precedenceHosts are the external hosts of precedenceYAML, all served by
// one local server.
var precedenceHosts = []string{"www.httpbin.org", "api.payment-provider.com", "api.both.example", "www.other.example", "public.example"}

func TestEgressPrecedenceAndMTLS(t *testing.T) {
	extCA := certtest.NewCA(t)
	_, _, extCert := extCA.Leaf(t, "external", precedenceHosts)
	ext := startExternal(t, extCA, "www.httpbin.org", extOptions{cert: &extCert})
	mesh := certtest.NewCA(t)
	gwCert, gwKey, _ := mesh.Leaf(t, "egress-gateway", []string{"egress.mesh"})
	ident := func(ns, sa string) tls.Certificate {
		_, _, c := mesh.Leaf(t, ns+"-"+sa, nil, "spiffe://cluster.local/ns/"+ns+"/sa/"+sa)
		return c
	}
	callers := map[string]tls.Certificate{
		"bookinfo/productpage":     ident("bookinfo", "productpage"),
		"default/bookinfo-details": ident("default", "bookinfo-details"),
		"payments/api":             ident("payments", "api"),
		"shop/checkout":            ident("shop", "checkout"),
		"ops/deploy":               ident("ops", "deploy"),
	}
	stranger := certtest.NewCA(t)
	_, _, strangerCert := stranger.Leaf(t, "stranger", nil, "spiffe://cluster.local/ns/default/sa/bookinfo-details")

	var resolve []string
	for _, h := range precedenceHosts {
		resolve = append(resolve, `"`+h+":"+itoa(ext.port)+`:127.0.0.1"`)
	}
	// allowed[host] are the callers allowed to reach it.
	allowed := map[string][]string{
		// Row 1: only gateway-wide rules (namespace, service account
		// "*" and "ops/*").
		"www.httpbin.org": {"bookinfo/productpage", "default/bookinfo-details", "ops/deploy"},
		// Row 2: only server-level rules; bookinfo-details' "*" does
		// not apply to this host.
		"api.payment-provider.com": {"payments/api"},
		// Row 3: both name the host; the server's rules decide: ops/*
		// (gateway-wide) is denied, shop/checkout (server) allowed.
		"api.both.example": {"shop/checkout"},
		// Row 4 is the table as a whole: the hosts above are decided
		// independently. The wildcard server follows the gateway-wide
		// rules.
		"www.other.example": {"default/bookinfo-details"},
		"public.example":    {"bookinfo/productpage", "default/bookinfo-details", "payments/api", "shop/checkout", "ops/deploy"},
	}

	for _, mode := range []string{"require", "request"} {
		t.Run(mode, func(t *testing.T) {
			seam := newDialSeam(t)
			h := startEgress(t, seam, precedenceYAML, map[string]string{
				"GWCERT": gwCert, "GWKEY": gwKey, "MESHCA": mesh.File, "MODE": mode,
				"RESOLVE": strings.Join(resolve, ", "), "CA": extCA.File, "PORT": itoa(ext.port),
			})
			base := "https://" + h.Addr("egress")
			client := func(certs ...tls.Certificate) *http.Client {
				return &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{
					RootCAs: mesh.Pool, ServerName: "egress.mesh", Certificates: certs,
				}}}
			}
			get := func(c *http.Client, host string) (res, error) {
				req, _ := http.NewRequest("GET", base+"/status/200", nil)
				req.Host = host
				r, err := c.Do(req)
				if err != nil {
					return res{}, err
				}
				defer r.Body.Close()
				var b strings.Builder
				_, _ = io.Copy(&b, r.Body)
				return res{status: r.StatusCode, header: r.Header, body: b.String()}, nil
			}

			for host, ok := range allowed {
				for name, cert := range callers {
					t.Run(host+" from "+name, func(t *testing.T) {
						before := len(ext.requests())
						r, err := get(client(cert), host)
						if err != nil {
							t.Fatal(err)
						}
						if contains(ok, name) {
							expect(t, r, 200, "*")
							if s := r.seen(t); s.Host != host+":"+itoa(ext.port) || !s.TLS || s.SNI != host {
								t.Errorf("external server saw %+v", s)
							}
							return
						}
						expect(t, r, 403, "RBAC: access denied")
						if len(ext.requests()) != before {
							t.Errorf("a denied request reached the external server")
						}
					})
				}
			}

			t.Run("certificate from another CA", func(t *testing.T) {
				if _, err := get(client(strangerCert), "public.example"); err == nil {
					t.Fatal("a handshake with a certificate from another CA was accepted")
				}
			})
			t.Run("no certificate", func(t *testing.T) {
				r, err := get(client(), "www.httpbin.org")
				if mode == "require" {
					if err == nil {
						t.Fatalf("a handshake without a certificate was accepted: %d", r.status)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				// Rules that need an identity deny; a rule without
				// from lets the anonymous caller through.
				expect(t, r, 403, "RBAC: access denied")
				r, err = get(client(), "public.example")
				if err != nil {
					t.Fatal(err)
				}
				expect(t, r, 200, "*")
			})

			// The precedence is visible: validation warns that the
			// gateway-wide rules do not apply to api.both.example, and
			// the explanation of each server names its deciding policy.
			var warned bool
			for _, w := range h.Warnings() {
				if strings.Contains(w.Error(), `does not apply to host "api.both.example"`) {
					warned = true
				}
			}
			if !warned {
				t.Errorf("no precedence warning in %v", h.Warnings())
			}
			want := map[string]string{
				"httpbin":     `egress: gateway-wide rules of "mesh" decide`,
				"payment-api": `egress: server-level rules of "payment-api" decide`,
				"both":        `egress: server-level rules of "both" decide; gateway-wide "mesh" do not apply to this host`,
				"any":         `egress: gateway-wide rules of "mesh" decide`,
			}
			for _, ex := range h.Snapshot.Runtime.Explain() {
				if len(ex.Policies) == 0 || ex.Policies[0] != want[ex.Route] {
					t.Errorf("%s is explained as %q, want first %q", ex.Route, ex.Policies, want[ex.Route])
				}
			}
		})
	}
}

// TestEgressDenyByDefault: an empty gateway-wide rule list denies
// everything, and so does a wildcard server no rule speaks for.
func TestEgressDenyByDefault(t *testing.T) {
	ca := certtest.NewCA(t)
	ext := startExternal(t, ca, "httpbin.org", extOptions{})
	const yaml = `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: closed
    address: 127.0.0.1:0
    egress:
      resolve: ["{{RESOLVE}}"]
      caFile: {{CA}}
  - name: wildcard
    address: {{ADDR}}
    egress:
      resolve: ["{{RESOLVE}}"]
      caFile: {{CA}}
egress:
  servers:
    - name: httpbin
      listener: closed
      host: httpbin.org
      port: {{PORT}}
      tls: {mode: SIMPLE}
    - name: anything
      listener: wildcard
      host: "*"
      port: {{PORT}}
      tls: {mode: SIMPLE}
  authorizations:
    - name: nothing
      listeners: [closed]
      rules: []
`
	seam := newDialSeam(t)
	h := startEgress(t, seam, yaml, map[string]string{"RESOLVE": ext.resolve(), "CA": ca.File, "PORT": itoa(ext.port), "ADDR": gatewaytest.FreeAddr(t)})
	for _, ln := range []string{"closed", "wildcard"} {
		r := send(t, nil, hostReq(t, "GET", h.Addr(ln), "httpbin.org", "/get", nil))
		expect(t, r, 403, "RBAC: access denied")
		req, _ := http.NewRequest("GET", "http://httpbin.org/get", nil)
		expect(t, send(t, proxyClient(h.Addr(ln), nil, nil), req), 403, "RBAC: access denied")
	}
	if len(ext.requests()) != 0 || len(seam.dials()) != 0 {
		t.Fatalf("denied requests were sent: %v", seam.dials())
	}
	// A host no server serves: denied, never resolved.
	r := send(t, nil, hostReq(t, "GET", h.Addr("closed"), "www.example.com", "/", nil))
	expect(t, r, 403, "RBAC: access denied")
	if l := seam.resolved(); len(l) != 0 {
		t.Fatalf("looked up %v", l)
	}
	for _, ex := range h.Snapshot.Runtime.Explain() {
		want := map[string]string{"httpbin": `egress: gateway-wide rules of "nothing" decide`, "anything": "egress: no rules: every request is denied"}[ex.Route]
		if len(ex.Policies) == 0 || ex.Policies[0] != want || !strings.Contains(strings.Join(ex.Policies, "\n"), "otherwise: deny") {
			t.Errorf("%s is explained as %q", ex.Route, ex.Policies)
		}
	}
	var warned bool
	for _, w := range h.Warnings() {
		warned = warned || strings.Contains(w.Error(), "no rule allows anything through this wildcard server")
	}
	if !warned {
		t.Errorf("no warning about the wildcard server: %v", h.Warnings())
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
