package config

import (
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
)

// TestDesignExample loads the example of design.md section 4, as written
// there except for real key material in jwks.inline.
func TestDesignExample(t *testing.T) {
	cfg, is := Load("testdata/design.yaml")
	if len(is) != 0 {
		t.Fatalf("issues: %v", issueTexts(is))
	}
	p := cfg.Providers[0]
	if p.ClockSkew != 60*time.Second || p.MaxTokenBytes != model.DefaultMaxTokenBytes || len(p.From) != 3 || p.From[0].Prefix != "Bearer " {
		t.Errorf("provider = %+v", p)
	}
	r := cfg.Routes[0]
	want := []model.PathMatch{{Kind: model.PathExact, Value: "/headers"}, {Kind: model.PathPrefix, Value: "/v1/payments/"}}
	if len(r.Match.Paths) != 2 || r.Match.Paths[0] != want[0] || r.Match.Paths[1] != want[1] {
		t.Errorf("paths = %+v", r.Match.Paths)
	}
	if r.JWT == nil || r.JWT.Mode != model.AuthRequired || r.Match.Headers["x-httpbin-mesh"] != "*" {
		t.Errorf("route = %+v", r)
	}
	if c := cfg.Policies[0].Rules[0].When[0]; c.Kind != model.CondClaim || c.Name != "team" {
		t.Errorf("condition = %+v", c)
	}
	if cfg.Listeners[0].TLS.ClientCerts != model.ClientCertsRequire || cfg.Listeners[0].TLS.CertFile != "testdata/certs/gw.pem" {
		t.Errorf("tls = %+v", cfg.Listeners[0].TLS)
	}
}

// TestMatchModes checks what authIfMatched and bypassIfMatched compile to.
func TestMatchModes(t *testing.T) {
	cfg, is := Load("../../examples/asm-match-modes.yaml")
	if len(is) != 0 {
		t.Fatalf("issues: %v", issueTexts(is))
	}
	for _, r := range cfg.Routes {
		if r.JWT.Mode != model.AuthAllowMissing {
			t.Errorf("route %s mode = %s", r.Name, r.JWT.Mode)
		}
	}
	byName := map[string]model.Policy{}
	for _, p := range cfg.Policies {
		byName[p.Name] = p
	}
	auth := byName["bookinfo/authIfMatched"]
	if auth.Action != model.ActionDeny || len(auth.Routes) != 1 || auth.Routes[0] != "bookinfo" ||
		len(auth.Rules) != 1 || auth.Rules[0].From[0].NotRequestPrincipals[0] != "*" ||
		len(auth.Rules[0].To) != 1 || auth.Rules[0].To[0].Paths[0] != "/productpage" {
		t.Errorf("authIfMatched policy = %+v", auth)
	}
	bypass := byName["bookinfo-admin/bypassIfMatched"]
	if to := bypass.Rules[0].To; len(to) != 2 || to[0].NotPaths[0] != "/healthz" || to[1].NotMethods[0] != "GET" {
		t.Errorf("bypassIfMatched policy = %+v", bypass)
	}
}
