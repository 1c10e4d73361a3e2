package kgateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/demo"
	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/gateway"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
	"jwtgate.dev/jwtgate/internal/model"
)

// seedToken is the token of kgateway's Basic JWT policy guide: iss
// solo.io, sub alice, team dev, org solo.io; signed by the key of the
// guide's inline JWKS (whose modulus starts with a zero byte).
const seedToken = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6InNvbG8tcHVibGljLWtleS0wMDEifQ.eyJpc3MiOiJzb2xvLmlvIiwib3JnIjoic29sby5pbyIsInN1YiI6ImFsaWNlIiwidGVhbSI6ImRldiIsImV4cCI6MjA3NDI3NDg4NCwibGxtcyI6eyJvcGVuYWkiOlsiZ3B0LTMuNS10dXJibyJdfX0.il5Rjsad65jpQR_pyRzBdEKFSj-ERmBf4K2VksvGvswWVv4n79lYERslr4KCECuiz9y_T-xUiQ9IkhW3YHzl5zo1kajhhIg7Nhnl1AvAqODbnF6wYpLRk0Npna_2T6lK3Yj54qQGi6vXG3IMRpo1_o2DrbdlKx2k_WFegCoQyyYazb4z3ZXfWvTiWqQDJA5wWcM3-jKzAWfNM8zgZWa-1BeAHDvpLcfWtuXEGSjkdCW0FQJOTjgIEqACnnXb2Jio0tWgelh9hDPILI-tvanj3iKCjpf3uF6g8QWSBNoVFfu7F1jJgj5Aj1sX8AV-CQVu2aQx3EHRZ1mL_3w3qSRWPw"

// upstream starts the echo upstream on loopback and returns its port.
func upstream(t *testing.T) int {
	t.Helper()
	srv := httptest.NewServer(demo.Echo())
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().(*net.TCPAddr).Port
}

// freePort is a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	_, p, err := net.SplitHostPort(gatewaytest.FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// start serves yaml the way `jwtgate serve --bind-address 127.0.0.1`
// does, and returns the snapshot it serves.
func start(t *testing.T, yaml string) *gateway.Snapshot {
	t.Helper()
	gw, snap, err := gateway.Start(context.Background(), gateway.Options{
		Data: []byte(yaml), DataName: "kgateway.yaml", Select: dialect.Selection{BindAddress: "127.0.0.1"},
	})
	if errors.Is(err, gateway.ErrInvalid) {
		t.Fatalf("the configuration has errors:\n%v", snap.Issues.Err())
	}
	if err != nil {
		t.Fatalf("starting the gateway: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
	})
	return snap
}

// example reads a file of examples/kgateway, with its ports replaced
// (old=new pairs): the only edits the tests make.
func example(t *testing.T, name string, ports ...int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(examples, name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(ports); i += 2 {
		s = strings.ReplaceAll(s, "port: "+strconv.Itoa(ports[i]), "port: "+strconv.Itoa(ports[i+1]))
		s = strings.ReplaceAll(s, "targetPort: "+strconv.Itoa(ports[i]), "targetPort: "+strconv.Itoa(ports[i+1]))
	}
	return s
}

// get sends GET url with the Host of the guide and a token (none when
// empty), and returns the response and its body.
func get(t *testing.T, url, token string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "www.example.com:8080"
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// TestBasicJWTPolicy walks through kgateway's Basic JWT policy guide
// with examples/kgateway, edited only for its ports: no token is 401
// "Jwt is missing"; the guide's token is 200, and the echo upstream
// sees its team and org claims as X-Team and X-Org, and no token.
func TestBasicJWTPolicy(t *testing.T) {
	up, port := upstream(t), freePort(t)
	yaml := strings.Join([]string{
		example(t, "gateway.yaml", 8080, port),
		example(t, "httpbin.yaml", 8000, up),
		example(t, "gatewayextension.yaml"),
		example(t, "trafficpolicy.yaml"),
	}, "\n---\n")
	snap := start(t, yaml)
	for _, st := range snap.Statuses {
		if !st.Accepted() {
			t.Errorf("%s", st)
		}
	}
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/headers"

	res, body := get(t, url, "")
	if res.StatusCode != http.StatusUnauthorized || body != "Jwt is missing" {
		t.Errorf("no token: %d %q, want 401 Jwt is missing", res.StatusCode, body)
	}
	res, body = get(t, url, seedToken)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("with the guide's token: %d %q, want 200", res.StatusCode, body)
	}
	var e demo.Echoed
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatal(err)
	}
	for h, want := range map[string]string{"X-Team": "dev", "X-Org": "solo.io"} {
		if got := e.Headers[h]; len(got) != 1 || got[0] != want {
			t.Errorf("%s at the upstream: %q, want %q", h, got, want)
		}
	}
	if a := e.Headers["Authorization"]; a != nil {
		t.Errorf("the token reached the upstream (forwardToken is false): %q", a)
	}
	// A client cannot set the claim headers itself.
	_, body = get(t, url, seedToken, "X-Team", "admins")
	e = demo.Echoed{}
	if err := json.Unmarshal([]byte(body), &e); err != nil || len(e.Headers["X-Team"]) != 1 || e.Headers["X-Team"][0] != "dev" {
		t.Errorf("X-Team sent by the client: the upstream saw %q", e.Headers["X-Team"])
	}
}

// TestRBACMatchExpression serves examples/kgateway with an rbac added to
// its TrafficPolicy, as the dialect's page shows: each matchExpression is
// evaluated against the guide's token (team dev, org solo.io, llms.openai
// [gpt-3.5-turbo]) and the request; no match is 403 "RBAC: access
// denied".
func TestRBACMatchExpression(t *testing.T) {
	const p = "metadata.filter_metadata['envoy.filters.http.jwt_authn']['payload']"
	tests := []struct {
		action, expr string
		method       string
		header       []string
		want         int
	}{
		{"Allow", p + "['team'] == 'dev'", http.MethodGet, nil, http.StatusOK},
		{"Allow", p + "['team'] == 'ops'", http.MethodGet, nil, http.StatusForbidden},
		{"Allow", "'gpt-3.5-turbo' in " + p + "['llms']['openai'] && request.method == 'GET'", http.MethodGet, nil, http.StatusOK},
		{"Allow", "'gpt-3.5-turbo' in " + p + "['llms']['openai'] && request.method == 'GET'", http.MethodPost, nil, http.StatusForbidden},
		{"Allow", p + "['org'].endsWith('.io') && request.headers['x-tenant'] == 'a'", http.MethodGet, []string{"X-Tenant", "a"}, http.StatusOK},
		{"Allow", p + "['org'].endsWith('.io') && request.headers['x-tenant'] == 'a'", http.MethodGet, []string{"X-Tenant", "b"}, http.StatusForbidden},
		{"Allow", p + "['missing'] == 'x'", http.MethodGet, nil, http.StatusForbidden},
		{"Deny", p + "['team'] != 'dev'", http.MethodGet, nil, http.StatusOK},
		{"Deny", p + "['sub'] == 'alice' && request.url_path.startsWith('/head')", http.MethodGet, nil, http.StatusForbidden},
		{"Deny", p + "['missing'] == 'x'", http.MethodGet, nil, http.StatusOK},
	}
	up := upstream(t)
	for i, tc := range tests {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			port := freePort(t)
			policy := example(t, "trafficpolicy.yaml") + fmt.Sprintf("  rbac:\n    action: %s\n    policy:\n      matchExpressions:\n        - %q\n", tc.action, tc.expr)
			snap := start(t, strings.Join([]string{
				example(t, "gateway.yaml", 8080, port),
				example(t, "httpbin.yaml", 8000, up),
				example(t, "gatewayextension.yaml"),
				policy,
			}, "\n---\n"))
			for _, st := range snap.Statuses {
				if !st.Accepted() {
					t.Errorf("%s", st)
				}
			}
			req, err := http.NewRequest(tc.method, "http://127.0.0.1:"+strconv.Itoa(port)+"/headers", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = "www.example.com:8080"
			req.Header.Set("Authorization", "Bearer "+seedToken)
			for j := 0; j+1 < len(tc.header); j += 2 {
				req.Header.Set(tc.header[j], tc.header[j+1])
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.want {
				t.Fatalf("%s %s: %d %q, want %d", tc.action, tc.expr, res.StatusCode, b, tc.want)
			}
			if tc.want == http.StatusForbidden && string(b) != "RBAC: access denied" {
				t.Errorf("403 body %q, want RBAC: access denied", b)
			}
			// Without a token, authentication answers first.
			res, body := get(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/headers", "")
			if res.StatusCode != http.StatusUnauthorized || body != "Jwt is missing" {
				t.Errorf("no token: %d %q", res.StatusCode, body)
			}
		})
	}
}

// TestPolicyInAnotherNamespace is the guide's warning: the TrafficPolicy
// created in another namespace than the Gateway's. kgateway ignores it
// without a word, and the routes answer 200 without a token; jwtgate
// does not apply it either, and its status says why.
func TestPolicyInAnotherNamespace(t *testing.T) {
	up, port := upstream(t), freePort(t)
	policy := strings.Replace(example(t, "trafficpolicy.yaml"), "namespace: kgateway-system", "namespace: default", 1)
	yaml := strings.Join([]string{
		example(t, "gateway.yaml", 8080, port),
		example(t, "httpbin.yaml", 8000, up),
		example(t, "gatewayextension.yaml"),
		policy,
	}, "\n---\n")
	snap := start(t, yaml)
	var found bool
	for _, st := range snap.Statuses {
		if st.Kind != "TrafficPolicy" {
			continue
		}
		found = true
		c := st.Conditions[0]
		if st.Accepted() || c.Reason != model.ReasonTargetNotFound ||
			!strings.Contains(c.Message, "kgateway-system/http") || !strings.Contains(c.Message, "namespace default") {
			t.Errorf("status %s, want Accepted=False TargetNotFound naming the Gateway's namespace", st)
		}
	}
	if !found {
		t.Fatal("no status for the TrafficPolicy")
	}
	if len(snap.Config.JWTPolicies) != 0 {
		t.Errorf("JWT policies %v: the policy must not be applied", snap.Config.JWTPolicies)
	}
	res, body := get(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/headers", "")
	if res.StatusCode != http.StatusOK {
		t.Errorf("no token: %d %q, want 200 (the route has no JWT requirement)", res.StatusCode, body)
	}
}

// TestRemoteJWKS fetches a provider's keys from a JWKS server reached
// through the remote key set's backendRef: a Service (its EndpointSlice
// leads to the server) or a static Backend.
func TestRemoteJWKS(t *testing.T) {
	iss, err := demo.NewIssuer("https://issuer.example.com")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(iss.Handler())
	t.Cleanup(srv.Close)
	keys := srv.Listener.Addr().(*net.TCPAddr).Port
	tok, err := iss.MintFor("alice", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	refs := map[string]string{
		"Service": "{name: keys, port: 8080}",
		"Backend": "{group: gateway.kgateway.dev, kind: Backend, name: keys}",
	}
	for kind, ref := range refs {
		t.Run(kind, func(t *testing.T) {
			up, port := upstream(t), freePort(t)
			yaml := fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: kgateway
  listeners: [{name: web, protocol: HTTP, port: %[1]d}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app, namespace: infra}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{group: gateway.kgateway.dev, kind: Backend, name: app}]}]
---
apiVersion: gateway.kgateway.dev/v1alpha1
kind: Backend
metadata: {name: app, namespace: infra}
spec: {static: {hosts: [{host: 127.0.0.1, port: %[2]d}]}}
---
apiVersion: v1
kind: Service
metadata: {name: keys, namespace: infra}
spec: {ports: [{name: http, port: 8080}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: keys-1, namespace: infra, labels: {kubernetes.io/service-name: keys}}
addressType: IPv4
ports: [{name: http, port: %[3]d}]
endpoints: [{addresses: [127.0.0.1]}]
---
apiVersion: gateway.kgateway.dev/v1alpha1
kind: Backend
metadata: {name: keys, namespace: infra}
spec: {static: {hosts: [{host: 127.0.0.1, port: %[3]d}]}}
---
apiVersion: gateway.kgateway.dev/v1alpha1
kind: GatewayExtension
metadata: {name: users, namespace: infra}
spec:
  jwt:
    providers:
      - name: users
        issuer: https://issuer.example.com
        jwks:
          remote:
            url: http://keys.infra.svc.cluster.local:8080%[4]s
            backendRef: %[5]s
---
apiVersion: gateway.kgateway.dev/v1alpha1
kind: TrafficPolicy
metadata: {name: gw, namespace: infra}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  jwtAuth: {extensionRef: {name: users}}
`, port, up, keys, demo.JWKSPath, ref)
			start(t, yaml)
			url := "http://127.0.0.1:" + strconv.Itoa(port) + "/headers"
			if res, body := get(t, url, ""); res.StatusCode != http.StatusUnauthorized {
				t.Errorf("no token: %d %q, want 401", res.StatusCode, body)
			}
			if res, body := get(t, url, tok); res.StatusCode != http.StatusOK {
				t.Errorf("with a token: %d %q, want 200", res.StatusCode, body)
			}
		})
	}
}
