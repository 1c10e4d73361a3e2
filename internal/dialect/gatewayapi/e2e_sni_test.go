package gatewayapi_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/certtest"
	"jwtgate.dev/jwtgate/internal/dialect"
)

const e2eSNI = `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: shop}
spec:
  gatewayClassName: jwtgate
  listeners:
    - {name: any, protocol: HTTPS, port: %[1]d, tls: {certificateRefs: [{name: default}]}}
    - {name: api, protocol: HTTPS, port: %[1]d, hostname: api.example.com, tls: {certificateRefs: [{name: api}]}}
    - {name: shop, protocol: HTTPS, port: %[1]d, hostname: shop.example.com, tls: {certificateRefs: [{name: shop}]}}
    - {name: wild, protocol: HTTPS, port: %[1]d, hostname: "*.example.com", tls: {certificateRefs: [{name: wild}]}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api, namespace: shop}
spec:
  parentRefs: [{name: gw, sectionName: api}]
  rules: [{backendRefs: [{name: a, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: rest, namespace: shop}
spec:
  parentRefs: [{name: gw, sectionName: any}, {name: gw, sectionName: shop}, {name: gw, sectionName: wild}]
  rules: [{backendRefs: [{name: b, port: 80}]}]
`

// tlsSecret is a kubernetes.io/tls Secret of namespace shop holding the
// certificate and key files.
func tlsSecret(t *testing.T, name, certFile, keyFile string) string {
	t.Helper()
	b64 := func(f string) string {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(data)
	}
	return fmt.Sprintf("---\napiVersion: v1\nkind: Secret\nmetadata: {name: %s, namespace: shop}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: %s\n  tls.key: %s\n",
		name, b64(certFile), b64(keyFile))
}

// TestServeSNI serves HTTPS listeners of one port with different
// certificates: a client gets the certificate of the listener whose
// hostname it asks for by SNI (exact before wildcard), the listener
// without hostname's otherwise, over HTTP/1.1 and HTTP/2, and the request
// reaches that listener's routes.
func TestServeSNI(t *testing.T) {
	ca := certtest.NewCA(t)
	var secrets strings.Builder
	for _, c := range []struct{ secret, dns string }{
		{"default", "default.test"}, {"api", "api.example.com"}, {"shop", "shop.example.com"}, {"wild", "*.example.com"},
	} {
		certFile, keyFile, _ := ca.Leaf(t, c.secret, []string{c.dns})
		secrets.WriteString(tlsSecret(t, c.secret, certFile, keyFile))
	}
	a, b := upstream(t, "a"), upstream(t, "b")
	port := freePort(t)
	start(t, fmt.Sprintf(e2eSNI, port)+secrets.String()+service("a", a)+service("b", b), dialect.Selection{})
	for _, tc := range []struct {
		sni, cert, backend string
	}{
		{"api.example.com", "api.example.com", "a"},
		{"shop.example.com", "shop.example.com", "b"},
		{"www.example.com", "*.example.com", "b"},
		{"x.y.example.com", "*.example.com", "b"},
		{"other.test", "default.test", "b"},
		{"", "default.test", "b"},
	} {
		for _, h2 := range []bool{false, true} {
			// The chain is verified; the name is not, as the default
			// and an X.509 wildcard (one label) do not cover every name
			// asked for: the test checks which certificate came.
			verify := func(cs tls.ConnectionState) error {
				_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: ca.Pool})
				return err
			}
			tr := &http.Transport{ForceAttemptHTTP2: h2, TLSClientConfig: &tls.Config{
				ServerName: tc.sni, InsecureSkipVerify: true, VerifyConnection: verify}}
			if !h2 {
				tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
			}
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d/headers", port), nil)
			req.Host = tc.sni
			res, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatalf("SNI %q: %v", tc.sni, err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			tr.CloseIdleConnections()
			var e echoed
			_ = json.Unmarshal(body, &e)
			if got := res.TLS.PeerCertificates[0].DNSNames[0]; got != tc.cert {
				t.Errorf("SNI %q: certificate for %q, want %q", tc.sni, got, tc.cert)
			}
			if res.StatusCode != 200 || e.Backend != tc.backend {
				t.Errorf("SNI %q: %d from %q, want 200 from %q", tc.sni, res.StatusCode, e.Backend, tc.backend)
			}
			if want := map[bool]int{false: 1, true: 2}[h2]; res.ProtoMajor != want {
				t.Errorf("SNI %q: HTTP/%d, want HTTP/%d", tc.sni, res.ProtoMajor, want)
			}
		}
	}
}
