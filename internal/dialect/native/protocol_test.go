package native

import (
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/model"
)

// TestProtocolKeys: a listener's h2c and a backend's protocol are read as
// written; h2c is refused on a TLS or an egress listener.
func TestProtocolKeys(t *testing.T) {
	tests := []struct {
		name, listener, backend string
		h2c                     bool
		protocol                model.BackendProtocol
		issues                  []string
	}{
		{name: "absent: HTTP/1.1 only"},
		{name: "h2c and http2", listener: "    h2c: true\n", backend: "      protocol: http2\n", h2c: true, protocol: model.BackendHTTP2},
		{name: "http1 written", backend: "      protocol: http1\n", protocol: model.BackendHTTP1},
		{name: "h2c with tls", listener: "    h2c: true\n    tls: {certFile: c.pem, keyFile: k.pem}\n", issues: []string{
			"listeners[0].h2c: not with tls",
		}},
		{name: "h2c on egress", listener: "    h2c: true\n    egress: {}\n", issues: []string{
			"listeners[0].h2c: not on an egress listener",
		}},
		{name: "not a bool", listener: "    h2c: yes please\n", issues: []string{
			"listeners[0].h2c: ",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.NewReplacer("%LISTENER%", tt.listener, "%BACKEND%", tt.backend).Replace(limitsDoc)
			r := decode(t, "gw.yaml", src)
			checkIssuePaths(t, r.Issues, tt.issues)
			if len(tt.issues) > 0 {
				return
			}
			if l, b := r.Config.Listeners[0], r.Config.Routes[0].Backend; l.H2C != tt.h2c || b.Protocol != tt.protocol {
				t.Errorf("h2c %v, protocol %q; want %v, %q", l.H2C, b.Protocol, tt.h2c, tt.protocol)
			}
		})
	}
}
