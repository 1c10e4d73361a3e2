package model

import "testing"

// TestBackendProtocol: http1, http2 and none are valid; anything else is
// an error at the backend's protocol, for a single backend and for a
// weighted one.
func TestBackendProtocol(t *testing.T) {
	tests := []struct {
		name   string
		change func(r *Route)
		want   string
	}{
		{"none", func(r *Route) {}, ``},
		{"http1 and http2", func(r *Route) {
			r.Backend = Backend{}
			r.Backends = []WeightedBackend{{Backend: Backend{URL: "https://a", Protocol: BackendHTTP2}, Weight: 1}, {Backend: Backend{URL: "http://b", Protocol: BackendHTTP1}, Weight: 1}}
		}, ``},
		{"unknown", func(r *Route) { r.Backend.Protocol = "h2c" },
			`a.yaml:10: routes[0].backend.protocol: invalid protocol "h2c" (want http1 or http2; http2 is HTTP/2 over TLS for an https URL, h2c for an http one) (route "r")`},
		{"unknown, weighted", func(r *Route) {
			r.Backend = Backend{}
			r.Backends = []WeightedBackend{{Backend: Backend{URL: "http://a"}, Weight: 1}, {Backend: Backend{URL: "http://b", Protocol: "HTTP2"}, Weight: 1}}
		}, `a.yaml:10: routes[0].backends[1].protocol: invalid protocol "HTTP2" (want http1 or http2; http2 is HTTP/2 over TLS for an https URL, h2c for an http one) (route "r")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.change(&c.Routes[0])
			if got := texts(c.Validate()); got != tt.want {
				t.Errorf("issues:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}
