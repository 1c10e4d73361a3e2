package istio_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"jwtgate.dev/jwtgate/internal/demo"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// TestRemoteIPServed: remoteIpBlocks and remote.ip see the client that
// the listener's trusted proxies name in X-Forwarded-For; ipBlocks and
// source.ip the TCP peer (127.0.0.1 here); with no trusted proxy,
// X-Forwarded-For is not read.
func TestRemoteIPServed(t *testing.T) {
	up := httptest.NewServer(demo.Echo())
	t.Cleanup(up.Close)
	for _, trusted := range []int{0, 1, 2} {
		t.Run(strconv.Itoa(trusted), func(t *testing.T) {
			h := gatewaytest.Start(t, `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - {name: gateway, address: 127.0.0.1:0, numTrustedProxies: `+strconv.Itoa(trusted)+`}
routes:
  - name: all
    backend: {url: `+up.URL+`}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: office, namespace: istio-system}
spec:
  rules:
    - from: [{source: {remoteIpBlocks: [203.0.113.0/24], ipBlocks: [127.0.0.0/8]}}]
      to: [{operation: {paths: [/office]}}]
    - to: [{operation: {paths: [/office-when]}}]
      when:
        - {key: remote.ip, values: [203.0.113.0/24]}
        - {key: source.ip, values: [127.0.0.1]}
    - to: [{operation: {paths: [/local]}}]
      when: [{key: remote.ip, values: [127.0.0.1]}]
`)
			for _, tc := range []struct {
				xff  []string
				path string
				// want is the status for 0, 1 and 2 trusted proxies.
				want [3]int
			}{
				{nil, "/office", [3]int{403, 403, 403}},
				{nil, "/local", [3]int{200, 200, 200}},
				{[]string{"203.0.113.7"}, "/office", [3]int{403, 200, 403}},
				{[]string{"203.0.113.7"}, "/office-when", [3]int{403, 200, 403}},
				{[]string{"203.0.113.7"}, "/local", [3]int{200, 403, 200}},
				{[]string{"203.0.113.7, 198.51.100.1"}, "/office", [3]int{403, 403, 200}},
				{[]string{"203.0.113.7", "198.51.100.1"}, "/office", [3]int{403, 403, 200}},
				{[]string{"198.51.100.1, 203.0.113.7"}, "/office", [3]int{403, 200, 403}},
				{[]string{"not-an-address"}, "/local", [3]int{200, 200, 200}},
			} {
				req, _ := http.NewRequest("GET", h.URL("gateway")+tc.path, nil)
				req.Header["X-Forwarded-For"] = tc.xff
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != tc.want[trusted] {
					t.Errorf("%s with X-Forwarded-For %q: %d, want %d", tc.path, tc.xff, res.StatusCode, tc.want[trusted])
				}
			}
		})
	}
}
