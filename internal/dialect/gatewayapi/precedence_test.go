package gatewayapi_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/config"
)

// route is an HTTPRoute of a precedence case: its name (also the
// Service it sends to), namespace, creationTimestamp, hostnames and one
// match, in YAML flow style.
type route struct {
	name, ns, created, hostnames, match string
}

func (r route) yaml() string {
	ns := r.ns
	if ns == "" {
		ns = "default"
	}
	meta := fmt.Sprintf("{name: %s, namespace: %s}", r.name, ns)
	if r.created != "" {
		meta = fmt.Sprintf("{name: %s, namespace: %s, creationTimestamp: %q}", r.name, ns, r.created)
	}
	hosts := ""
	if r.hostnames != "" {
		hosts = "\n  hostnames: " + r.hostnames
	}
	return fmt.Sprintf(`---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: %s
spec:
  parentRefs: [{name: gw, namespace: default}]%s
  rules: [{matches: [%s], backendRefs: [{name: app, namespace: default, port: 80}]}]
`, meta, hosts, r.match)
}

const precedenceGateway = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: jwtgate
  listeners: [{name: web, protocol: HTTP, port: 8080, %s allowedRoutes: {namespaces: {from: All}}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: ReferenceGrant
metadata: {name: all}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: other}]
  to: [{group: "", kind: Service}]
---
apiVersion: v1
kind: Service
metadata: {name: app}
spec: {ports: [{port: 80}]}
`

// TestPrecedence checks the order of the model routes of two HTTPRoutes
// on one listener (first match wins): each case lists the routes in the
// order the API gives them precedence, and they are written to the
// files in the reverse order.
func TestPrecedence(t *testing.T) {
	for _, tc := range []struct {
		name     string
		listener string // the listener's hostname, if any
		routes   []route
	}{
		{"Exact beats a longer PathPrefix", "", []route{
			{name: "exact", match: "{path: {type: Exact, value: /a}}"},
			{name: "prefix", match: "{path: {type: PathPrefix, value: /a/b/c}}"},
		}},
		{"the longest PathPrefix, whatever the age", "", []route{
			{name: "long", created: "2024-02-01T00:00:00Z", match: "{path: {value: /a/b}}"},
			{name: "short", created: "2024-01-01T00:00:00Z", match: "{path: {value: /a}}"},
		}},
		{"a trailing slash does not lengthen a PathPrefix", "", []route{
			{name: "old", created: "2024-01-01T00:00:00Z", match: "{path: {value: /abc}}"},
			{name: "slash", created: "2024-02-01T00:00:00Z", match: "{path: {value: /abc/}}"},
		}},
		{"PathPrefix beats RegularExpression", "", []route{
			{name: "prefix", match: "{path: {value: /}}"},
			{name: "regex", match: "{path: {type: RegularExpression, value: '/a/.*'}}"},
		}},
		{"a method beats headers", "", []route{
			{name: "method", match: "{path: {value: /a}, method: GET}"},
			{name: "headers", match: "{path: {value: /a}, headers: [{name: a, value: b}, {name: c, value: d}]}"},
		}},
		{"more headers win", "", []route{
			{name: "two", match: "{path: {value: /a}, headers: [{name: a, value: b}, {name: c, value: d}]}"},
			{name: "one", match: "{path: {value: /a}, headers: [{name: a, value: b}], queryParams: [{name: q, value: x}]}"},
		}},
		{"more query parameters win", "", []route{
			{name: "two", match: "{path: {value: /a}, queryParams: [{name: a, value: b}, {name: c, value: d}]}"},
			{name: "one", match: "{path: {value: /a}, queryParams: [{name: a, value: b}]}"},
		}},
		{"an exact hostname beats a wildcard with a longer path", "", []route{
			{name: "exact", hostnames: "[a.example.com]", match: "{path: {value: /}}"},
			{name: "wildcard", hostnames: "['*.example.com']", match: "{path: {type: Exact, value: /a/b/c}}"},
		}},
		{"a longer wildcard beats a shorter one", "", []route{
			{name: "long", hostnames: "['*.a.example.com']", match: "{path: {value: /}}"},
			{name: "short", hostnames: "['*.example.com']", match: "{path: {type: Exact, value: /a}}"},
		}},
		{"a hostname beats none", "", []route{
			{name: "host", hostnames: "['*.com']", match: "{path: {value: /}}"},
			{name: "any", match: "{path: {type: Exact, value: /a}}"},
		}},
		{"the route's own hostname when the listener's decides", "a.example.com", []route{
			{name: "exact", hostnames: "[a.example.com]", match: "{path: {value: /}}"},
			{name: "wildcard", hostnames: "['*.example.com']", match: "{path: {value: /a}}"},
			{name: "none", match: "{path: {type: Exact, value: /a}}"},
		}},
		{"the oldest route on a tie", "", []route{
			{name: "zz-old", created: "2023-12-31T23:59:59Z", match: "{path: {value: /a}}"},
			{name: "aa-new", created: "2024-01-01T00:00:00Z", match: "{path: {value: /a}}"},
		}},
		{"a creationTimestamp before none", "", []route{
			{name: "zz-dated", created: "2030-01-01T00:00:00Z", match: "{path: {value: /a}}"},
			{name: "aa-undated", match: "{path: {value: /a}}"},
		}},
		{"then namespace/name", "", []route{
			{name: "b", ns: "default", match: "{path: {value: /a}}"},
			{name: "a", ns: "other", match: "{path: {value: /a}}"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := ""
			if tc.listener != "" {
				host = "hostname: " + tc.listener + ","
			}
			in := fmt.Sprintf(precedenceGateway, host)
			var want []string
			for i := len(tc.routes) - 1; i >= 0; i-- {
				in += tc.routes[i].yaml()
			}
			for _, r := range tc.routes {
				ns := r.ns
				if ns == "" {
					ns = "default"
				}
				want = append(want, ns+"/"+r.name)
			}
			ld := config.ReadBytes("precedence.yaml", []byte(in))
			if errs := ld.Issues.Errors(); len(errs) > 0 {
				t.Fatal(errs.Err())
			}
			var got []string
			for _, r := range ld.Config.Routes {
				got = append(got, r.Name[:strings.Index(r.Name, "/r0/")])
			}
			if !slices.Equal(got, want) {
				t.Errorf("order %q, want %q", got, want)
			}
		})
	}
}
