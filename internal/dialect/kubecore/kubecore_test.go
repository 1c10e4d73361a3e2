package kubecore_test

import (
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/config"
	"jwtgate.dev/jwtgate/internal/model"
)

// TestCoreObjects reads core objects through the loader: each is a
// resource with a status, Secrets decode data and stringData, and
// malformed or duplicate objects are errors at their line.
func TestCoreObjects(t *testing.T) {
	const good = `apiVersion: v1
kind: Service
metadata: {name: httpbin, namespace: httpbin, uid: x, annotations: {a: b}}
spec:
  selector: {app: httpbin}
  ports: [{name: http, port: 8000, targetPort: 8080}]
status: {loadBalancer: {}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: httpbin-abc, namespace: httpbin, labels: {kubernetes.io/service-name: httpbin}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
---
apiVersion: v1
kind: Secret
metadata: {name: tls}
type: kubernetes.io/tls
data: {tls.crt: Y2VydA==, tls.key: a2V5}
stringData: {tls.key: plain}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: jwks, namespace: auth}
data: {jwks.json: '{"keys":[]}'}
`
	ld := config.ReadBytes("core.yaml", []byte(good))
	if errs := ld.Issues.Errors(); len(errs) > 0 {
		t.Fatalf("errors: %v", errs.Err())
	}
	var refs []string
	for _, st := range model.Statuses(ld.Resources, ld.Issues, ld.Notes, true) {
		if !st.Accepted() {
			t.Errorf("not accepted: %s", st)
		}
		refs = append(refs, st.Ref.String())
	}
	if got, want := strings.Join(refs, ", "), "Service httpbin/httpbin, EndpointSlice httpbin/httpbin-abc, Secret default/tls, ConfigMap auth/jwks"; got != want {
		t.Errorf("resources: %s\nwant %s", got, want)
	}

	const bad = `apiVersion: v1
kind: Service
metadata: {name: a}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: a}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: orphan}
---
apiVersion: v1
kind: Secret
metadata: {name: s}
data: {k: "not base64!"}
---
apiVersion: v1
kind: ConfigMap
metadata: {namespace: x}
---
apiVersion: v1
kind: Service
metadata: {name: typed}
spec: {ports: {port: 80}}
`
	var got []string
	for _, is := range config.ReadBytes("bad.yaml", []byte(bad)).Issues.Errors() {
		got = append(got, is.Error())
	}
	want := []string{
		`bad.yaml:6: Service default/a is defined twice (Service "default/a")`,
		`bad.yaml:10: metadata.labels: the label kubernetes.io/service-name must name the slice's Service (EndpointSlice "default/orphan")`,
		`bad.yaml:14: data.k: not base64 (Secret "default/s")`,
		`bad.yaml:19: metadata.name: required`,
		`bad.yaml:26: cannot unmarshal !!map into []kube.ServicePort (Service "default/typed")`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
