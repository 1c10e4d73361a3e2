package gatewayapi

import (
	"slices"
	"testing"
)

// TestIntersect is the HTTPRoute hostnames rules: a listener and a route
// hostname accept the requests of the narrower one, when one covers the
// other.
func TestIntersect(t *testing.T) {
	for _, tc := range []struct {
		listener, route, want string
		ok                    bool
	}{
		// No hostname on either side: the other side's.
		{"", "", "", true},
		{"", "www.example.com", "www.example.com", true},
		{"*.example.com", "", "*.example.com", true},
		// An exact listener: routes with no hostname, the same name, or
		// a wildcard that covers it.
		{"test.example.com", "test.example.com", "test.example.com", true},
		{"test.example.com", "*.example.com", "test.example.com", true},
		{"test.example.com", "*.com", "test.example.com", true},
		{"test.example.com", "other.example.com", "", false},
		{"test.example.com", "*.test.example.com", "", false},
		// A wildcard listener: names at least one label below it.
		{"*.example.com", "test.example.com", "test.example.com", true},
		{"*.example.com", "foo.test.example.com", "foo.test.example.com", true},
		{"*.example.com", "*.example.com", "*.example.com", true},
		{"*.example.com", "*.test.example.com", "*.test.example.com", true},
		{"*.example.com", "example.com", "", false},
		{"*.example.com", "test.example.net", "", false},
		{"*.example.com", "testexample.com", "", false},
		{"*.example.com", "*.xexample.com", "", false},
		// Both wildcards: the longer, when it lies under the other.
		{"*.test.example.com", "*.example.com", "*.test.example.com", true},
		{"*.a.example.com", "*.b.example.com", "", false},
	} {
		got, ok := intersect(tc.listener, tc.route)
		if got != tc.want || ok != tc.ok {
			t.Errorf("intersect(%q, %q) = %q, %v; want %q, %v", tc.listener, tc.route, got, ok, tc.want, tc.ok)
		}
	}
}

func TestCheckHostname(t *testing.T) {
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"example.com", true},
		{"*.example.com", true},
		{"a-b.example.com", true},
		{"localhost", true},
		{"*.*.example.com", false},
		{"foo.*.com", false},
		{"*", false},
		{"Example.com", false},
		{"example.com.", false},
		{"-a.example.com", false},
		{"10.0.0.1", false},
		{"example.com:80", false},
		{"", false},
	} {
		if msg := checkHostname(tc.host); (msg == "") != tc.ok {
			t.Errorf("checkHostname(%q) = %q, want ok %v", tc.host, msg, tc.ok)
		}
	}
}

// TestListenerOrder is the order requests meet the listeners of one port:
// exact names, then wildcards with more labels, then no hostname.
func TestListenerOrder(t *testing.T) {
	in := []string{"", "*.example.com", "foo.example.com", "*.foo.example.com", "a.b.c.example.com", "*.com"}
	want := []string{"foo.example.com", "a.b.c.example.com", "*.foo.example.com", "*.example.com", "*.com", ""}
	got := slices.Clone(in)
	slices.SortStableFunc(got, compareListenerHosts)
	// Exact names keep their order among themselves.
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestTiers splits a route's hostnames into tiers of precedence.
func TestTiers(t *testing.T) {
	got := tiers([]hostPair{
		{host: "*.example.com", original: "*.example.com"},
		{host: "a.example.com", original: "a.example.com"},
		{host: "*.b.example.com", original: "*.b.example.com"},
		{host: "c.example.com", original: "c.example.com"},
		{host: "d.example.com", original: "*.example.com"},
	})
	var hosts [][]string
	for _, tr := range got {
		hosts = append(hosts, tr.hosts)
	}
	want := [][]string{{"a.example.com", "c.example.com"}, {"d.example.com"}, {"*.b.example.com"}, {"*.example.com"}}
	if len(hosts) != len(want) {
		t.Fatalf("tiers %q, want %q", hosts, want)
	}
	for i := range want {
		if !slices.Equal(hosts[i], want[i]) {
			t.Errorf("tier %d: %q, want %q", i, hosts[i], want[i])
		}
	}
}

func TestSelects(t *testing.T) {
	ns := map[string]string{metadataName: "shop"}
	sel := func(labels map[string]string, exprs ...[3]string) *labelSelector {
		s := &labelSelector{MatchLabels: labels}
		for _, e := range exprs {
			s.MatchExpressions = append(s.MatchExpressions, struct {
				Key      string   `yaml:"key"`
				Operator string   `yaml:"operator"`
				Values   []string `yaml:"values"`
			}{e[0], e[1], []string{e[2]}})
		}
		return s
	}
	for _, tc := range []struct {
		name      string
		sel       *labelSelector
		ok, known bool
	}{
		{"empty selects all", sel(nil), true, true},
		{"by name", sel(map[string]string{metadataName: "shop"}), true, true},
		{"other name", sel(map[string]string{metadataName: "other"}), false, true},
		{"unknown label", sel(map[string]string{"team": "a"}), false, false},
		{"known mismatch decides", sel(map[string]string{"team": "a", metadataName: "other"}), false, true},
		{"In", sel(nil, [3]string{metadataName, "In", "shop"}), true, true},
		{"NotIn", sel(nil, [3]string{metadataName, "NotIn", "shop"}), false, true},
		{"Exists unknown", sel(nil, [3]string{"team", "Exists", ""}), false, false},
	} {
		ok, known := selects(tc.sel, ns)
		if ok != tc.ok || known != tc.known {
			t.Errorf("%s: %v %v, want %v %v", tc.name, ok, known, tc.ok, tc.known)
		}
	}
}
