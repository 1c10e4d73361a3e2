package native

import (
	"reflect"
	"testing"

	"jwtgate.dev/jwtgate/internal/model"
)

// TestIstioKeys: the keys that serve Istio's fields in the native format,
// listeners' numTrustedProxies and policies' remote addresses, trust
// domains and space-delimited claims.
func TestIstioKeys(t *testing.T) {
	r := decode(t, "gw.yaml", `apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - {name: web, address: 127.0.0.1:8080, numTrustedProxies: 2}
  - {name: bad, address: 127.0.0.1:8081, numTrustedProxies: -1}
policies:
  - name: p
    action: ALLOW
    spaceDelimitedClaims: {"*": [scope], "https://issuer": [roles]}
    rules:
      - from: [{remoteIpBlocks: [10.0.0.0/8], notRemoteIpBlocks: [10.9.0.0/16], trustDomains: [td], notTrustDomains: [old]}]
        when: [{key: remote.ip, values: [192.0.2.1]}, {claim: "[kubernetes.io][namespace]", values: [prod]}]
  - name: none-split
    action: DENY
    spaceDelimitedClaims: {}
`)
	if len(r.Issues) != 1 || r.Issues[0].Path() != "listeners[1].numTrustedProxies" {
		t.Fatalf("issues: %v", r.Issues)
	}
	if n := r.Config.Listeners[0].NumTrustedProxies; n != 2 {
		t.Errorf("numTrustedProxies = %d", n)
	}
	p := r.Config.Policies[0]
	if !reflect.DeepEqual(p.SpaceDelimitedClaims, map[string][]string{"*": {"scope"}, "https://issuer": {"roles"}}) {
		t.Errorf("spaceDelimitedClaims = %v", p.SpaceDelimitedClaims)
	}
	want := model.From{RemoteIPBlocks: []string{"10.0.0.0/8"}, NotRemoteIPBlocks: []string{"10.9.0.0/16"}, TrustDomains: []string{"td"}, NotTrustDomains: []string{"old"}}
	if !reflect.DeepEqual(p.Rules[0].From[0], want) {
		t.Errorf("from = %+v", p.Rules[0].From[0])
	}
	if c := p.Rules[0].When; c[0].Kind != model.CondRemoteIP || c[1].Name != "[kubernetes.io][namespace]" {
		t.Errorf("when = %+v", c)
	}
	if got := r.Config.Policies[1].SpaceDelimitedClaims; got == nil || len(got) != 0 {
		t.Errorf("an empty spaceDelimitedClaims = %#v, want empty, not nil", got)
	}
	if r.Config.Policies[1].Rules != nil {
		t.Errorf("rules = %v", r.Config.Policies[1].Rules)
	}
}
