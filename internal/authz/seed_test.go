package authz

import (
	"testing"

	"jwtgate.dev/jwtgate/internal/model"
)

// TestSeedPaymentsServiceOnly is TSB's egress server authorization rule
// (seed 000) translated to a native ALLOW policy.
func TestSeedPaymentsServiceOnly(t *testing.T) {
	e, err := Compile([]model.Policy{{
		Name:   "payment-api",
		Action: model.ActionAllow,
		Rules: []model.Rule{{
			Name: "payments-service-only",
			From: []model.From{{JWT: &model.JWTMatch{Iss: "https://auth.example.com", Sub: "payments-service@example.com"}}},
			To:   []model.To{{Methods: []string{"GET", "POST"}, Paths: []string{"/v1/payments/*"}}},
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	payments := func(method, path string) *Request {
		r := authed()
		r.Host = "api.payment-provider.com"
		r.Subject = "payments-service@example.com"
		r.Principal = iss + "/" + r.Subject
		r.Method, r.Path = method, path
		return r
	}
	tests := []struct {
		name string
		req  *Request
		want want
	}{
		{"GET payment", payments("GET", "/v1/payments/123"), allowedBy("payment-api", "payments-service-only")},
		{"POST payment", payments("POST", "/v1/payments/"), allowedBy("payment-api", "payments-service-only")},
		{"other sub", with(payments("GET", "/v1/payments/123"), func(r *Request) { r.Subject, r.Principal = "orders@example.com", iss+"/orders@example.com" }), noneMatch},
		{"other issuer", with(payments("GET", "/v1/payments/123"), func(r *Request) { r.Issuer = "https://evil.example.com" }), noneMatch},
		{"other method", payments("DELETE", "/v1/payments/123"), noneMatch},
		{"other path", payments("GET", "/v1/refunds/123"), noneMatch},
		{"prefix without slash", payments("GET", "/v1/payments"), noneMatch},
		{"no token", with(anon(), func(r *Request) { r.Path = "/v1/payments/123" }), noneMatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkDecision(t, e.Evaluate(tc.req), tc.want) })
	}
}

// TestSeedMatchModes is ASM's "Auth If Matched" / "Bypass Auth If Matched"
// (seed 003): the route's JWT mode is allowMissing and a DENY policy
// rejects unauthenticated requests on (resp. off) the matched paths. An
// invalid token never gets here: authentication answers 401 first.
func TestSeedMatchModes(t *testing.T) {
	authIfMatched, err := Compile([]model.Policy{{
		Name:   "productpage/authIfMatched",
		Action: model.ActionDeny,
		Rules: []model.Rule{{
			From: []model.From{{NotRequestPrincipals: []string{"*"}}},
			To:   []model.To{{Paths: []string{"/productpage"}}},
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	bypassIfMatched, err := Compile([]model.Policy{{
		Name:   "productpage/bypassIfMatched",
		Action: model.ActionDeny,
		Rules: []model.Rule{{
			From: []model.From{{NotRequestPrincipals: []string{"*"}}},
			To:   []model.To{{NotPaths: []string{"/productpage"}}},
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	at := func(r *Request, path string) *Request { r.Path = path; return r }
	tests := []struct {
		name   string
		engine *Engine
		req    *Request
		want   want
	}{
		{"auth: no token on matched path", authIfMatched, at(anon(), "/productpage"), deniedBy("productpage/authIfMatched", "rules[0]")},
		{"auth: no token elsewhere", authIfMatched, at(anon(), "/api/v1/products/1"), allowed},
		{"auth: token on matched path", authIfMatched, at(authed(), "/productpage"), allowed},
		{"auth: token elsewhere", authIfMatched, at(authed(), "/api/v1/products/1"), allowed},
		{"bypass: no token on matched path", bypassIfMatched, at(anon(), "/productpage"), allowed},
		{"bypass: no token elsewhere", bypassIfMatched, at(anon(), "/api/v1/products/1"), deniedBy("productpage/bypassIfMatched", "rules[0]")},
		{"bypass: token on matched path", bypassIfMatched, at(authed(), "/productpage"), allowed},
		{"bypass: token elsewhere", bypassIfMatched, at(authed(), "/api/v1/products/1"), allowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkDecision(t, tc.engine.Evaluate(tc.req), tc.want) })
	}
}
