package conditionkey

import (
	"errors"
	"testing"

	"jwtgate.dev/jwtgate/internal/model"
)

func TestParse(t *testing.T) {
	tests := []struct {
		key  string
		kind model.ConditionKind
		name string
		err  bool
	}{
		{"request.auth.claims[groups]", model.CondClaim, "groups", false},
		{"request.auth.claims[llms][openai]", model.CondClaim, "llms.openai", false},
		{"request.headers[x-tenant]", model.CondHeader, "x-tenant", false},
		{"request.auth.audiences", model.CondAudience, "", false},
		{"request.auth.presenter", model.CondPresenter, "", false},
		{"request.auth.principal", model.CondPrincipal, "", false},
		{"request.auth.claims[kubernetes.io]", model.CondClaim, "[kubernetes.io]", false},
		{"request.auth.claims[kubernetes.io][namespace]", model.CondClaim, "[kubernetes.io][namespace]", false},
		{"source.ip", model.CondSourceIP, "", false},
		{"remote.ip", model.CondRemoteIP, "", false},
		{"source.namespace", model.CondSourceNamespace, "", false},
		{"source.principal", model.CondSourcePrincipal, "", false},
		{"source.serviceAccount", model.CondSourceServiceAccount, "", false},
		{"destination.port", model.CondDestinationPort, "", false},
		{"destination.ip", "", "", true},
		{"connection.sni", "", "", true},
		{"destination.labels[app]", "", "", true},
		{"request.auth.claims[a[b]", "", "", true},
		{"request.auth.claims[]", "", "", true},
		{"request.headers[a][b]", "", "", true},
	}
	for _, tt := range tests {
		kind, name, err := Parse(tt.key)
		if kind != tt.kind || name != tt.name || (err != nil) != tt.err {
			t.Errorf("%s -> %q %q %v", tt.key, kind, name, err)
		}
	}
	for key, want := range map[string]string{
		"request.auth.claims[groups]":        "groups",
		"request.auth.claims[a][b]":          "[a][b]",
		"request.auth.claims[kubernetes.io]": "[kubernetes.io]",
	} {
		if _, name, err := ParseExact(key); name != want || err != nil {
			t.Errorf("ParseExact(%s) = %q %v, want %q", key, name, err, want)
		}
	}
	for _, key := range []string{"destination.ip", "connection.sni", "experimental.envoy.filters.http.jwt_authn[x]", "request.experimental.inline.headers[x-a]"} {
		if _, _, err := Parse(key); !errors.Is(err, ErrNotEvaluated) {
			t.Errorf("%s: %v, want ErrNotEvaluated", key, err)
		}
	}
	for _, key := range []string{"destination.labels[app]", "source.user", "request.auth.claims"} {
		if _, _, err := Parse(key); err == nil || errors.Is(err, ErrNotEvaluated) {
			t.Errorf("%s: %v, want a plain error", key, err)
		}
	}
}
