package proxy_test

import (
	"net/netip"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/certtest"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// ssrfYAML lets every caller reach any host through a wildcard server
// (plain HTTP, on the local server's port): only the dialer's address
// check stands between a caller and an internal address. The second
// listener allows loopback destinations.
const ssrfYAML = `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: egress
    address: 127.0.0.1:0
    egress:
      connectPorts: [{{PORT}}, 80]
  - name: internal
    address: {{ADDR}}
    egress:
      allowCIDRs: [127.0.0.0/8]
egress:
  servers:
    - name: anything
      listener: egress
      host: "*"
      port: {{PORT}}
    - name: internal-anything
      listener: internal
      host: "*"
      port: {{PORT}}
  authorizations:
    - name: open
      rules:
        - to: [{hosts: ["*"]}]
`

func TestEgressSSRF(t *testing.T) {
	ext := startExternal(t, nil, "loopback.example", extOptions{plainHTTP: true})
	seam := newDialSeam(t)
	a := func(ss ...string) []netip.Addr {
		var out []netip.Addr
		for _, s := range ss {
			out = append(out, netip.MustParseAddr(s))
		}
		return out
	}
	seam.answers["loopback.example"] = [][]netip.Addr{a("127.0.0.1")}
	seam.answers["metadata.example"] = [][]netip.Addr{a("169.254.169.254")}
	seam.answers["private.example"] = [][]netip.Addr{a("10.0.0.1")}
	seam.answers["mapped.example"] = [][]netip.Addr{a("::ffff:127.0.0.1")}
	seam.answers["v6.example"] = [][]netip.Addr{a("::1", "fd00::1")}
	// A rebinding name: a public address first, loopback after.
	seam.answers["rebind.example"] = [][]netip.Addr{a("93.184.216.34"), a("127.0.0.1")}
	seam.answers["mixed.example"] = [][]netip.Addr{a("127.0.0.1", "93.184.216.34")}
	seam.nowhere[netip.MustParseAddr("93.184.216.34")] = true
	h := startEgress(t, seam, ssrfYAML, map[string]string{"PORT": itoa(ext.port), "ADDR": gatewaytest.FreeAddr(t)})
	addr := h.Addr("egress")
	port := itoa(ext.port)

	tests := []struct {
		name    string
		msg     string // the request, without the final CRLF
		host    string // the access log's host
		status  int
		dialled []string // what the seam must have been asked for
		reason  string   // in upstream_error
	}{
		{"name resolving to loopback", "GET /x HTTP/1.1\r\nHost: loopback.example\r\n", "loopback.example", 403, nil, "127.0.0.1 (loopback)"},
		{"name resolving to the metadata service", "GET /latest/meta-data/ HTTP/1.1\r\nHost: metadata.example\r\n", "metadata.example", 403, nil, "169.254.169.254 (link-local)"},
		{"name resolving to a private address", "GET /x HTTP/1.1\r\nHost: private.example\r\n", "private.example", 403, nil, "10.0.0.1 (private)"},
		{"name resolving to IPv4-mapped loopback", "GET /x HTTP/1.1\r\nHost: mapped.example\r\n", "mapped.example", 403, nil, "loopback"},
		{"name resolving to IPv6 internal addresses", "GET /x HTTP/1.1\r\nHost: v6.example\r\n", "v6.example", 403, nil, "fd00::1 (private)"},
		{"rebinding, first answer public", "GET /x HTTP/1.1\r\nHost: rebind.example\r\n", "rebind.example", 503, []string{"93.184.216.34:" + port}, "internet"},
		{"rebinding, second answer loopback", "GET /x HTTP/1.1\r\nHost: rebind.example\r\n", "rebind.example", 403, nil, "127.0.0.1 (loopback)"},
		{"loopback and public in one answer", "GET /x HTTP/1.1\r\nHost: mixed.example\r\n", "mixed.example", 503, []string{"93.184.216.34:" + port}, "127.0.0.1 (loopback)"},
		{"absolute-form IP literal", "GET http://10.0.0.1/ HTTP/1.1\r\nHost: 10.0.0.1\r\n", "10.0.0.1", 403, nil, "10.0.0.1 (private)"},
		{"absolute-form metadata literal", "GET http://169.254.169.254/latest/meta-data/ HTTP/1.1\r\nHost: x\r\n", "169.254.169.254", 403, nil, "link-local"},
		{"Host header loopback literal", "GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n", "127.0.0.1", 403, nil, "loopback"},
		{"Host header IPv6 loopback literal", "GET /x HTTP/1.1\r\nHost: [::1]:8080\r\n", "[::1]:8080", 403, nil, "loopback"},
		{"Host header localhost", "GET /x HTTP/1.1\r\nHost: localhost\r\n", "localhost", 503, nil, "no such host"},
		{"CONNECT to a name resolving to loopback", "CONNECT loopback.example:" + port + " HTTP/1.1\r\nHost: loopback.example:" + port + "\r\n", "loopback.example:" + port, 403, nil, "loopback"},
		{"CONNECT to a private literal", "CONNECT 10.0.0.1:80 HTTP/1.1\r\nHost: 10.0.0.1:80\r\n", "10.0.0.1:80", 403, nil, "private"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seam.reset()
			r := rawExchange(t, addr, tt.msg+"Connection: close\r\n\r\n")
			if tt.status == 403 {
				expect(t, r, 403, "RBAC: access denied")
			} else {
				expect(t, r, tt.status, "no healthy upstream")
			}
			if got := seam.dials(); strings.Join(got, ",") != strings.Join(tt.dialled, ",") {
				t.Errorf("dialled %v, want %v", got, tt.dialled)
			}
			l := waitAccess(t, h, i+1)
			if str(l, "host") != tt.host || num(l, "status") != tt.status {
				t.Errorf("access log %v", l)
			}
			if tt.status == 403 && str(l, "reason") != "destination address refused" {
				t.Errorf("access log reason %q", str(l, "reason"))
			}
			if got := str(l, "upstream_error"); !strings.Contains(got, tt.reason) {
				t.Errorf("upstream_error %q, want it to say %q", got, tt.reason)
			}
		})
	}
	if n := len(ext.requests()); n != 0 {
		t.Fatalf("%d requests reached the loopback server", n)
	}

	t.Run("allowCIDRs lets loopback through", func(t *testing.T) {
		seam.reset()
		r := send(t, nil, hostReq(t, "GET", h.Addr("internal"), "loopback.example", "/in", nil))
		expect(t, r, 200, "*")
		if s := r.seen(t); s.URI != "/in" || s.Host != "loopback.example:"+port {
			t.Errorf("the server saw %+v", s)
		}
		if got := seam.dials(); len(got) != 1 || got[0] != "127.0.0.1:"+port {
			t.Errorf("dialled %v", got)
		}
		// Only the listed ranges: a private address is still refused.
		r = send(t, nil, hostReq(t, "GET", h.Addr("internal"), "private.example", "/in", nil))
		expect(t, r, 403, "RBAC: access denied")
	})
}

// TestEgressResolveOverrideIsAllowed: an address given by egress.resolve
// is allowed by being written there, loopback included, and TLS still
// checks the host name.
func TestEgressResolveOverrideIsAllowed(t *testing.T) {
	ca := certtest.NewCA(t)
	ext := startExternal(t, ca, "httpbin.org", extOptions{})
	seam := newDialSeam(t)
	h := startEgress(t, seam, httpbinYAML, map[string]string{"RESOLVE": ext.resolve(), "CA": ca.File, "PORT": itoa(ext.port)})
	expect(t, send(t, nil, hostReq(t, "GET", h.Addr("egress"), "httpbin.org", "/", nil)), 200, "*")
	if l := seam.resolved(); len(l) != 0 {
		t.Errorf("an overridden name was resolved: %v", l)
	}
}

// TestEgressResolveFlags: Options.Resolve (the --resolve flag) adds
// overrides to every egress listener; the listener's own entry wins for
// the same host and port.
func TestEgressResolveFlags(t *testing.T) {
	ca := certtest.NewCA(t)
	ext := startExternal(t, ca, "httpbin.org", extOptions{})
	other := startExternal(t, ca, "flag-only.example", extOptions{})
	const yaml = `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: egress
    address: 127.0.0.1:0
    egress:
      resolve: ["{{RESOLVE}}"]
      caFile: {{CA}}
egress:
  servers:
    - {name: httpbin, host: httpbin.org, port: {{P1}}, tls: {mode: SIMPLE}}
    - {name: flagged, host: flag-only.example, port: {{P2}}, tls: {mode: SIMPLE}}
`
	seam := newDialSeam(t)
	opts := seam.options()
	// 127.0.0.2: nothing listens there on that port.
	opts.Resolve = []string{"httpbin.org:" + itoa(ext.port) + ":127.0.0.2", other.resolve()}
	var pairs []string
	for k, v := range map[string]string{"RESOLVE": ext.resolve(), "CA": ca.File, "P1": itoa(ext.port), "P2": itoa(other.port)} {
		pairs = append(pairs, "{{"+k+"}}", v)
	}
	h := gatewaytest.Start(t, strings.NewReplacer(pairs...).Replace(yaml), gatewaytest.Build(opts))
	for _, host := range []string{"httpbin.org", "flag-only.example"} {
		expect(t, send(t, nil, hostReq(t, "GET", h.Addr("egress"), host, "/", nil)), 200, "*")
	}
	want := []string{"127.0.0.1:" + itoa(ext.port), "127.0.0.1:" + itoa(other.port)}
	if got := seam.dials(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("dialled %v, want %v", got, want)
	}
}
