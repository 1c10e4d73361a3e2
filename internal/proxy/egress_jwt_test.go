package proxy_test

import (
	"net/http"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/certtest"
)

// seed000YAML is seed 000's two egress servers: httpbin.org with JWT
// authentication and the payload output, and api.payment-provider.com
// with JWT authentication and the server-level rule
// payments-service-only.
const seed000YAML = `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: egress
    address: 127.0.0.1:0
    egress:
      resolve: ["{{R1}}", "{{R2}}"]
      caFile: {{CA}}
providers:
{{PROVIDER}}
egress:
  servers:
    - name: httpbin
      host: httpbin.org
      port: {{P1}}
      tls: {mode: SIMPLE}
      jwt: {providers: [auth-example]}
    - name: payment-api
      host: api.payment-provider.com
      port: {{P2}}
      tls: {mode: SIMPLE, caFile: {{CA}}}
      jwt: {providers: [auth-example]}
      authorization:
        rules:
          - name: payments-service-only
            from:
              - jwt: {iss: "https://auth.example.com", sub: "payments-service@example.com"}
            to:
              - methods: [GET, POST]
                paths: ["/v1/payments/*"]
`

// TestEgressSeed000 is seed 000 on an egress listener: a server's JWT
// requirement (401 without a valid token, the payload header and no token
// toward the external host with one) and its server-level rule (subject,
// method and path).
func TestEgressSeed000(t *testing.T) {
	ca := certtest.NewCA(t)
	httpbin := startExternal(t, ca, "httpbin.org", extOptions{})
	payments := startExternal(t, ca, "api.payment-provider.com", extOptions{})
	is := newIssuer(t, "https://auth.example.com", true)
	forger := newIssuer(t, "https://auth.example.com", true) // same issuer, another key
	seam := newDialSeam(t)
	h := startEgress(t, seam, seed000YAML, map[string]string{
		"R1": httpbin.resolve(), "R2": payments.resolve(), "CA": ca.File,
		"P1": itoa(httpbin.port), "P2": itoa(payments.port),
		"PROVIDER": is.provider("auth-example", "    payloadHeader: x-jwt-payload\n"),
	})
	addr := h.Addr("egress")
	payer := is.token(t, "payments-service@example.com", nil)
	other := is.token(t, "reports-service@example.com", nil)

	t.Run("httpbin without a token", func(t *testing.T) {
		r := send(t, nil, hostReq(t, "GET", addr, "httpbin.org", "/headers?q=1", nil))
		expect(t, r, 401, "Jwt is missing")
		if got, want := r.header.Get("Www-Authenticate"), `Bearer realm="http://httpbin.org/headers"`; got != want {
			t.Errorf("WWW-Authenticate %q, want %q", got, want)
		}
	})
	t.Run("httpbin with a forged token", func(t *testing.T) {
		r := send(t, nil, hostReq(t, "GET", addr, "httpbin.org", "/headers", bearer(forger.token(t, "payments-service@example.com", nil))))
		if r.status != 401 || !strings.Contains(r.header.Get("Www-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("got %d %q %v", r.status, r.body, r.header)
		}
	})
	if n := len(httpbin.requests()); n != 0 {
		t.Fatalf("rejected requests reached httpbin.org: %d", n)
	}
	t.Run("httpbin with a token", func(t *testing.T) {
		hdr := bearer(other)
		hdr.Set("X-Jwt-Payload", "spoofed")
		r := send(t, nil, hostReq(t, "GET", addr, "httpbin.org", "/headers", hdr))
		expect(t, r, 200, "*")
		s := r.seen(t)
		if got := s.Header.Values("X-Jwt-Payload"); len(got) != 1 || got[0] != strings.Split(other, ".")[1] {
			t.Errorf("x-jwt-payload %q, want the token's payload segment", got)
		}
		if got := s.Header.Get("Authorization"); got != "" {
			t.Errorf("the caller's token reached the external host: %q", got)
		}
		if line := waitAccess(t, h, 3); str(line, "sub") != "https://auth.example.com/reports-service@example.com" || str(line, "authn") != "verified" {
			t.Errorf("access log %v", line)
		}
	})

	tests := []struct {
		name, method, path, token string
		status                    int
		body                      string
	}{
		{"payments-service GET", "GET", "/v1/payments/x", payer, 200, ""},
		{"payments-service POST", "POST", "/v1/payments/x", payer, 200, ""},
		{"payments-service lower-case post", "post", "/v1/payments/x", payer, 200, ""},
		{"another subject", "GET", "/v1/payments/x", other, 403, "RBAC: access denied"},
		{"another method", "DELETE", "/v1/payments/x", payer, 403, "RBAC: access denied"},
		{"another path", "GET", "/v1/refunds/x", payer, 403, "RBAC: access denied"},
		{"a path escaping the prefix", "GET", "/v1/payments/../refunds/x", payer, 403, "RBAC: access denied"},
		{"no token", "GET", "/v1/payments/x", "", 401, "Jwt is missing"},
		{"forged token", "GET", "/v1/payments/x", forger.token(t, "payments-service@example.com", nil), 401, "*"},
	}
	for _, tt := range tests {
		t.Run("payment-api "+tt.name, func(t *testing.T) {
			before := len(payments.requests())
			var hdr http.Header
			if tt.token != "" {
				hdr = bearer(tt.token)
			}
			req := hostReq(t, tt.method, addr, "api.payment-provider.com", "/x", hdr)
			req.URL.Opaque = tt.path // sent as written, not cleaned
			r := send(t, nil, req)
			if tt.status != 200 {
				expect(t, r, tt.status, tt.body)
				if n := len(payments.requests()); n != before {
					t.Fatalf("a denied request reached the external host")
				}
				return
			}
			expect(t, r, 200, "*")
			s := r.seen(t)
			if s.Method != strings.ToUpper(tt.method) || s.URI != tt.path || s.Header.Get("Authorization") != "" {
				t.Errorf("external host saw %s %s Authorization %q", s.Method, s.URI, s.Header.Get("Authorization"))
			}
		})
	}

	t.Run("through the gateway as a proxy", func(t *testing.T) {
		req, _ := http.NewRequest("POST", "http://api.payment-provider.com/v1/payments/x", strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+payer)
		r := send(t, proxyClient(addr, nil, nil), req)
		expect(t, r, 200, "*")
		if s := r.seen(t); s.Host != "api.payment-provider.com:"+itoa(payments.port) || !s.TLS {
			t.Errorf("external host saw %+v", s)
		}
	})
}
