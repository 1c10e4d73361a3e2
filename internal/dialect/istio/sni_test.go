package istio_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"os"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/certtest"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// sniYAML: three HTTPS servers of one port with their own certificates
// (two Secrets and files), the "*" server's the default, and a plain
// GRPC server. The upper-case words are filled in by the test.
const sniYAML = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
    - port: {number: HTTPS_PORT, name: https-default, protocol: HTTPS}
      bind: 127.0.0.1
      hosts: ["*"]
      tls: {mode: SIMPLE, credentialName: default-cert}
    - port: {number: HTTPS_PORT, name: https-api, protocol: HTTPS}
      bind: 127.0.0.1
      hosts: [api.example.com, admin.example.com]
      tls: {mode: SIMPLE, credentialName: api-cert}
    - port: {number: HTTPS_PORT, name: https-wild, protocol: HTTPS}
      bind: 127.0.0.1
      hosts: ["*.example.com"]
      tls: {mode: SIMPLE, serverCertificate: WILD_CERT, privateKey: WILD_KEY}
    - port: {number: GRPC_PORT, name: grpc, protocol: GRPC}
      bind: 127.0.0.1
      hosts: ["*"]
---
apiVersion: v1
kind: Secret
metadata: {name: default-cert, namespace: istio-system}
type: kubernetes.io/tls
data: {tls.crt: DEFAULT_CRT, tls.key: DEFAULT_KEY}
---
apiVersion: v1
kind: Secret
metadata: {name: api-cert, namespace: istio-system}
type: kubernetes.io/tls
data: {tls.crt: API_CRT, tls.key: API_KEY}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: all, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [gw]
  http: [{route: [{destination: {host: app, port: {number: 80}}}]}]
---
apiVersion: v1
kind: Service
metadata: {name: app, namespace: istio-system}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: app-1, namespace: istio-system, labels: {kubernetes.io/service-name: app}}
addressType: IPv4
ports: [{name: http, port: APP_PORT}]
endpoints: [{addresses: [127.0.0.1]}]
`

// TestServeSNI serves the servers of one HTTPS port with their own
// certificates, chosen by the client's SNI (an exact host, then the
// wildcard, then the "*" server's), over HTTP/1.1 and HTTP/2, and a
// plain GRPC server's port in cleartext HTTP/2 (h2c).
func TestServeSNI(t *testing.T) {
	ca := certtest.NewCA(t)
	b64 := func(f string) string {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(data)
	}
	defCert, defKey, _ := ca.Leaf(t, "default", []string{"default.test"})
	apiCert, apiKey, _ := ca.Leaf(t, "api", []string{"api.example.com"})
	wildCert, wildKey, _ := ca.Leaf(t, "wild", []string{"*.example.com"})
	httpsPort, grpcPort := port(t), port(t)
	y := strings.NewReplacer("HTTPS_PORT", httpsPort, "GRPC_PORT", grpcPort, "APP_PORT", upstream(t, "app"),
		"DEFAULT_CRT", b64(defCert), "DEFAULT_KEY", b64(defKey), "API_CRT", b64(apiCert), "API_KEY", b64(apiKey),
		"WILD_CERT", wildCert, "WILD_KEY", wildKey).Replace(sniYAML)
	h := gatewaytest.Start(t, y)
	for _, st := range h.Snapshot.Statuses {
		if !st.Accepted() {
			t.Errorf("%s", st)
		}
	}
	for _, tc := range []struct{ sni, cert string }{
		{"api.example.com", "api.example.com"},
		{"admin.example.com", "api.example.com"},
		{"www.example.com", "*.example.com"},
		{"unknown.test", "default.test"},
		{"", "default.test"},
	} {
		for _, h2 := range []bool{false, true} {
			// The chain is verified, not the name: the test checks which
			// certificate came.
			verify := func(cs tls.ConnectionState) error {
				_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: ca.Pool})
				return err
			}
			tr := &http.Transport{ForceAttemptHTTP2: h2, TLSClientConfig: &tls.Config{ServerName: tc.sni, InsecureSkipVerify: true, VerifyConnection: verify}}
			if !h2 {
				tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
			}
			req, _ := http.NewRequest(http.MethodGet, "https://127.0.0.1:"+httpsPort+"/x", nil)
			req.Host = tc.sni
			res, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatalf("SNI %q: %v", tc.sni, err)
			}
			res.Body.Close()
			tr.CloseIdleConnections()
			if got := res.TLS.PeerCertificates[0].DNSNames[0]; got != tc.cert || res.StatusCode != 200 || res.Header.Get("X-Upstream") != "app" {
				t.Errorf("SNI %q (h2 %v): %d from %q with the certificate for %q, want 200 from app with %q", tc.sni, h2, res.StatusCode, res.Header.Get("X-Upstream"), got, tc.cert)
			}
			if want := map[bool]int{false: 1, true: 2}[h2]; res.ProtoMajor != want {
				t.Errorf("SNI %q: HTTP/%d, want HTTP/%d", tc.sni, res.ProtoMajor, want)
			}
		}
	}

	// The GRPC server's port: HTTP/2 with prior knowledge, and HTTP/1.1.
	for _, h2c := range []bool{true, false} {
		p := new(http.Protocols)
		p.SetUnencryptedHTTP2(h2c)
		p.SetHTTP1(!h2c)
		tr := &http.Transport{Protocols: p}
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+grpcPort+"/x", nil)
		res, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatalf("h2c %v: %v", h2c, err)
		}
		res.Body.Close()
		tr.CloseIdleConnections()
		if want := map[bool]int{false: 1, true: 2}[h2c]; res.StatusCode != 200 || res.ProtoMajor != want {
			t.Errorf("h2c %v: %d over HTTP/%d, want 200 over HTTP/%d", h2c, res.StatusCode, res.ProtoMajor, want)
		}
	}
}
