package proxy_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/certtest"
	"jwtgate.dev/jwtgate/internal/proxy"
)

// TestExplainEgress explains requests to an egress listener that injects
// credentials: Host-routed and forward-proxy requests are followed to
// the request the external host would receive, with the injected
// credential withheld; nothing is dialed, no external host receives
// anything, and neither the injected secrets nor the caller's token
// appear in the report.
func TestExplainEgress(t *testing.T) {
	ca := certtest.NewCA(t)
	payments := startExternal(t, ca, "api.payment-provider.com", extOptions{})
	httpbin := startExternal(t, ca, "httpbin.org", extOptions{})
	is := newIssuer(t, "https://auth.example.com", true)
	dir := t.TempDir()
	tokenFile, keyFile := filepath.Join(dir, "payments-token"), filepath.Join(dir, "httpbin-key")
	secrets := []string{randomSecret(t, "pay-"), randomSecret(t, "key-")}
	writeAtomic(t, tokenFile, secrets[0]+"\n")
	writeAtomic(t, keyFile, secrets[1]+"\n")
	seam := newDialSeam(t)
	h := startEgress(t, seam, injectYAML, map[string]string{
		"R1": payments.resolve(), "R2": httpbin.resolve(), "CA": ca.File,
		"P1": itoa(payments.port), "P2": itoa(httpbin.port),
		"PROVIDER":  is.provider("auth-example", ""),
		"TOKENFILE": tokenFile, "KEYFILE": keyFile,
	})
	rt := h.Gateway.Snapshot().Runtime
	caller := is.token(t, "payments-service@example.com", nil)

	tests := []struct {
		name     string
		req      proxy.ExplainRequest
		status   int // 0: forwarded
		route    string
		url      string // the upstream's URL, when forwarded
		withheld string // the header whose injected value is withheld
		check    func(t *testing.T, rep *proxy.ExplainReport)
	}{
		{name: "host-routed with a token", route: "payment-api",
			req: proxy.ExplainRequest{Method: "POST", URL: "/v1/payments/x", Header: http.Header{"Host": {"api.payment-provider.com"}, "Authorization": {"Bearer " + caller}}},
			url: "https://api.payment-provider.com:" + itoa(payments.port) + "/v1/payments/x", withheld: "Authorization",
			check: func(t *testing.T, rep *proxy.ExplainReport) {
				if rep.Authn == nil || rep.Authn.Outcome != "verified" {
					t.Errorf("authn %+v", rep.Authn)
				}
			}},
		{name: "forward proxy", route: "httpbin",
			req: proxy.ExplainRequest{URL: "http://httpbin.org:" + itoa(httpbin.port) + "/get", Header: http.Header{"X-Api-Key": {"caller-key"}}},
			url: "https://httpbin.org:" + itoa(httpbin.port) + "/get", withheld: "X-Api-Key"},
		{name: "missing token", route: "payment-api", status: 401,
			req: proxy.ExplainRequest{Method: "POST", URL: "/v1/payments/x", Header: http.Header{"Host": {"api.payment-provider.com"}}}},
		{name: "no server for the host", status: 403,
			req: proxy.ExplainRequest{URL: "http://example.org/"},
			check: func(t *testing.T, rep *proxy.ExplainReport) {
				if !rep.Routed || len(rep.Misses) != 2 || !strings.Contains(rep.Misses[0].Reason, `host "example.org" is not`) {
					t.Errorf("routed %v, misses %+v", rep.Routed, rep.Misses)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(payments.requests()) + len(httpbin.requests())
			tt.req.Listener = "egress"
			rep, err := rt.ExplainRequest(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(payments.requests()) + len(httpbin.requests()); n != before {
				t.Fatalf("explaining sent %d requests to external hosts", n-before)
			}
			if d := seam.dials(); len(d) != 0 {
				t.Fatalf("explaining dialed %v", d)
			}
			if !rep.Egress || rep.Route != tt.route {
				t.Errorf("egress %v, route %q, want %q", rep.Egress, rep.Route, tt.route)
			}
			switch {
			case tt.status == 0 && (!rep.Answer.Forwarded || rep.Upstream == nil):
				t.Fatalf("answer %+v, want forwarded; notes %v", rep.Answer, rep.Notes)
			case tt.status == 0:
				if rep.Upstream.URL != tt.url {
					t.Errorf("upstream URL %q, want %q", rep.Upstream.URL, tt.url)
				}
				if got := rep.Upstream.Header.Get(tt.withheld); got != "[injected credential, withheld]" {
					t.Errorf("upstream %s: %q", tt.withheld, got)
				}
			case rep.Answer.Status != tt.status || rep.Upstream != nil:
				t.Errorf("answer %+v, upstream %+v, want %d", rep.Answer, rep.Upstream, tt.status)
			}
			if tt.check != nil {
				tt.check(t, rep)
			}
			b, err := json.Marshal(rep)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range append(secrets, caller, "caller-key") {
				if strings.Contains(string(b), s) || strings.Contains(rep.Text(), s) {
					t.Errorf("the report shows %q", s[:8])
				}
			}
		})
	}
}

// TestExplainEgressProxyToken explains forward-proxy requests to a
// listener that requires a proxy token: each token's verdict is shown,
// a refused one ends before routing with 407, an allowed one is
// authorized by the gateway-wide rules and recorded, without its
// Proxy-Authorization, in place of sending it.
func TestExplainEgressProxyToken(t *testing.T) {
	f := startProxy(t)
	rt := f.h.Gateway.Snapshot().Runtime
	tests := []struct {
		name, token, check string
		status             int
		routed             bool
	}{
		{"no token", "", "", 407, false},
		{"forged", f.forged, "kid/alg", 407, false},
		{"not allowed by the rules", f.denied, "", 403, true},
		{"allowed", f.allowed, "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(f.ext.requests())
			req := proxy.ExplainRequest{Listener: "egress", URL: "http://api.example.com/get?a=1", Header: http.Header{}}
			if tt.token != "" {
				req.Header.Set("Proxy-Authorization", "Bearer "+tt.token)
			}
			rep, err := rt.ExplainRequest(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.ext.requests()) != before {
				t.Fatal("explaining reached the external host")
			}
			pa := rep.ProxyAuthn
			if pa == nil {
				t.Fatalf("no proxy authentication in %s", rep.Text())
			}
			if rejected := tt.status == 407; pa.Rejected != rejected || rep.Routed != tt.routed {
				t.Errorf("proxy token rejected %v, routed %v; want %v, %v", pa.Rejected, rep.Routed, rejected, tt.routed)
			}
			if tt.check != "" && (len(pa.Tokens) != 1 || len(pa.Tokens[0].Attempts) == 0 || pa.Tokens[0].Attempts[0].Check != tt.check) {
				t.Errorf("tokens %+v, want a failed %s", pa.Tokens, tt.check)
			}
			switch {
			case tt.status == 0:
				if !rep.Answer.Forwarded || rep.Upstream == nil || rep.Upstream.Header.Get("Proxy-Authorization") != "" || rep.Decision == "" {
					t.Errorf("answer %+v, upstream %+v, decision %q", rep.Answer, rep.Upstream, rep.Decision)
				}
			case rep.Answer.Status != tt.status:
				t.Errorf("status %d, want %d", rep.Answer.Status, tt.status)
			}
			if tt.token != "" && (strings.Contains(rep.Text(), tt.token) || strings.Contains(mustJSON(t, rep), tt.token)) {
				t.Error("the report shows the proxy token")
			}
		})
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
