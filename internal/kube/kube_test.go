package kube

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func mustDecode[T any](t *testing.T, src string) *T {
	t.Helper()
	var v T
	if err := yaml.Unmarshal([]byte(src), &v); err != nil {
		t.Fatal(err)
	}
	return &v
}

func testStore(t *testing.T) *Store {
	var st Store
	st.AddService(mustDecode[Service](t, `
metadata: {name: httpbin, namespace: httpbin}
spec:
  ports:
    - {name: http, port: 8000, targetPort: 8080}
    - {name: admin, port: 9000, targetPort: admin}
`))
	st.AddService(mustDecode[Service](t, `
metadata: {name: solo, namespace: web}
spec:
  ports: [{port: 80, targetPort: 8080}]
`))
	st.AddService(mustDecode[Service](t, `
metadata: {name: empty, namespace: web}
spec:
  ports: [{port: 80}]
`))
	st.AddService(mustDecode[Service](t, `
metadata: {name: ext, namespace: web}
spec:
  type: ExternalName
  externalName: api.example.com
  ports: [{port: 443, appProtocol: https}]
`))
	for _, src := range []string{`
metadata: {name: httpbin-a, namespace: httpbin, labels: {kubernetes.io/service-name: httpbin}}
addressType: IPv4
ports: [{name: http, port: 8080, appProtocol: http}, {name: admin, port: 9901}]
endpoints:
  - addresses: [127.0.0.10]
    conditions: {ready: true}
  - addresses: [127.0.0.11]
    conditions: {ready: false}
  - addresses: [127.0.0.12]
`, `
metadata: {name: httpbin-b, namespace: httpbin, labels: {kubernetes.io/service-name: httpbin}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints:
  - addresses: [127.0.0.13, 127.0.0.10]
`, `
metadata: {name: solo-a, namespace: web, labels: {kubernetes.io/service-name: solo}}
ports: [{port: 8080}]
endpoints: [{addresses: ["::1"]}]
`} {
		if !st.AddEndpointSlice(mustDecode[EndpointSlice](t, src)) {
			t.Fatal("slice not added")
		}
	}
	return &st
}

func TestResolve(t *testing.T) {
	st := testStore(t)
	tests := []struct {
		name, ns, svc string
		port          int
		portName      string
		want          string // endpoints, or the error
		host          string
	}{
		{"by number, ready endpoints of every slice", "httpbin", "httpbin", 8000, "", "127.0.0.10:8080 127.0.0.12:8080 127.0.0.13:8080", "httpbin.httpbin.svc.cluster.local"},
		{"by name, named target port", "httpbin", "httpbin", 0, "admin", "127.0.0.10:9901 127.0.0.12:9901", "httpbin.httpbin.svc.cluster.local"},
		{"the only port, unnamed", "web", "solo", 0, "", "[::1]:8080", "solo.web.svc.cluster.local"},
		{"external name", "web", "ext", 443, "", "", "api.example.com"},
		{"no such service", "web", "nope", 80, "", "error: Service web/nope not found", ""},
		{"no such port", "httpbin", "httpbin", 8080, "", "error: Service httpbin/httpbin has no port 8080", ""},
		{"no such port name", "httpbin", "httpbin", 0, "grpc", `error: Service httpbin/httpbin has no port "grpc"`, ""},
		{"no endpoints", "web", "empty", 80, "", "error: Service web/empty port 80 has no ready endpoint", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := st.Resolve(tt.ns, tt.svc, tt.port, tt.portName)
			s := strings.Join(got.Endpoints, " ")
			if err != nil {
				s = "error: " + err.Error()
			}
			if s != tt.want || (err == nil && got.Host != tt.host) {
				t.Errorf("got %q (host %q), want %q (host %q)", s, got.Host, tt.want, tt.host)
			}
		})
	}
	if got, _ := st.Resolve("httpbin", "httpbin", 8000, ""); got.AppProtocol != "http" {
		t.Errorf("appProtocol %q, want the slice port's http", got.AppProtocol)
	}
}

func TestParseHost(t *testing.T) {
	tests := []struct {
		host, ns, name string
		ok             bool
	}{
		{"httpbin", "def", "httpbin", true},
		{"httpbin.httpbin", "httpbin", "httpbin", true},
		{"httpbin.httpbin.svc", "httpbin", "httpbin", true},
		{"httpbin.httpbin.svc.cluster.local", "httpbin", "httpbin", true},
		{"HTTPBIN.httpbin.svc.cluster.local.", "httpbin", "httpbin", true},
		{"a.b.c", "", "", false},
		{"httpbin.httpbin.svc.other.local", "", "", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		ns, name, ok := ParseHost(tt.host, "def")
		if ns != tt.ns || name != tt.name || ok != tt.ok {
			t.Errorf("ParseHost(%q) = %q, %q, %v; want %q, %q, %v", tt.host, ns, name, ok, tt.ns, tt.name, tt.ok)
		}
	}
}

func TestStoreDuplicates(t *testing.T) {
	var st Store
	s := &Service{Metadata: Meta{Name: "a", Namespace: "n"}}
	if !st.AddService(s) || st.AddService(&Service{Metadata: Meta{Name: "a", Namespace: "n"}}) {
		t.Error("a second Service of the same name was accepted")
	}
	if st.Service("n", "a") != s || st.Service("m", "a") != nil {
		t.Error("lookup by namespace and name")
	}
	if st.AddEndpointSlice(&EndpointSlice{Metadata: Meta{Name: "x"}}) {
		t.Error("a slice without its service label was accepted")
	}
}

// TestTargetHTTP2: a Service port resolved is spoken to in HTTP/2 by its
// appProtocol first (the Service port's, else its EndpointSlice port's),
// else by its name's protocol prefix, compared without regard to case.
func TestTargetHTTP2(t *testing.T) {
	var st Store
	svc := &Service{Metadata: Meta{Name: "s", Namespace: "ns"}}
	svc.Spec.Ports = []ServicePort{
		{Name: "grpc-api", Port: 1}, {Name: "http2", Port: 2}, {Name: "GRPC-Web-x", Port: 3},
		{Name: "http", Port: 4}, {Name: "grpcx", Port: 5}, {Name: "tcp", Port: 6},
		{Name: "http-a", Port: 7, AppProtocol: "grpc"}, {Name: "grpc-b", Port: 8, AppProtocol: "http"},
		{Name: "web", Port: 9, AppProtocol: "kubernetes.io/h2c"}, {Name: "h2c-x", Port: 10},
		{Name: "web-b", Port: 11, AppProtocol: "H2C"}, {Name: "web-c", Port: 12, AppProtocol: "kubernetes.io/grpc"},
		{Name: "web-d", Port: 13}, {Port: 14},
	}
	st.AddService(svc)
	slice := mustDecode[EndpointSlice](t, `
metadata: {name: s-1, namespace: ns, labels: {kubernetes.io/service-name: s}}
endpoints: [{addresses: [10.0.0.1]}]
ports: [{name: web-d, port: 8013, appProtocol: http2}]
`)
	st.AddEndpointSlice(slice)
	for port, want := range map[int]bool{
		1: true, 2: true, 3: true, 4: false, 5: false, 6: false, 7: true, 8: false,
		9: true, 10: true, 11: true, 12: true, 13: true, 14: false,
	} {
		target, _ := st.Resolve("ns", "s", port, "")
		if got := target.HTTP2(); got != want {
			t.Errorf("port %d (%+v): %v, want %v", port, target, got, want)
		}
	}
}
