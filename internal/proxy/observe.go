package proxy

import (
	"jwtgate.dev/jwtgate/internal/authn"
	"jwtgate.dev/jwtgate/internal/authz"
	"jwtgate.dev/jwtgate/internal/metrics"
	"jwtgate.dev/jwtgate/internal/model"
)

// compileMetrics resolves the metric handles of a route once, at build
// time, so that recording a request allocates nothing.
func (r *route) compileMetrics(m *metrics.Metrics, listener string, providers []string, policyMetrics map[string]*metrics.PolicyMetrics) {
	r.metrics = m.Route(listener, r.name)
	if m == nil {
		return
	}
	r.authnMetrics = map[string]*metrics.ProviderMetrics{}
	for i, p := range providers {
		h := m.Provider(p)
		r.authnMetrics[p] = h
		if i == 0 {
			r.firstProvider = h
		}
	}
	r.policyMetrics = policyMetrics
}

// policyMetrics resolves the decision counters of policies, and of
// decisions no policy made (""); routes the same policies reach share the
// map, read-only. Nil without metrics.
func policyMetrics(m *metrics.Metrics, policies []model.Policy) map[string]*metrics.PolicyMetrics {
	if m == nil {
		return nil
	}
	out := map[string]*metrics.PolicyMetrics{"": m.Policy("", metrics.ActionNone)}
	for _, p := range policies {
		out[p.Name] = m.Policy(p.Name, string(p.Action))
	}
	return out
}

// recordAuthn counts an authentication outcome against the provider that
// verified the token, or the requirement's first provider when none did.
func (r *route) recordAuthn(res *authn.Result) {
	if r.authnMetrics == nil {
		return
	}
	h := r.firstProvider
	if res.Outcome == authn.Verified && len(res.Identities) > 0 {
		if p := r.authnMetrics[res.Identities[0].Provider]; p != nil {
			h = p
		}
		h.Outcome(metrics.OutcomeVerified, metrics.ReasonNone)
		return
	}
	outcome := metrics.OutcomeMissing
	if res.Outcome == authn.Invalid {
		outcome = metrics.OutcomeInvalid
	}
	h.Outcome(outcome, reasonCode(res.Err))
}

// recordAuthz counts a decision against the policy that made it.
func (r *route) recordAuthz(d authz.Decision) {
	if r.policyMetrics == nil {
		return
	}
	if p := r.policyMetrics[d.Policy]; p != nil {
		p.Decide(d.Allowed)
	}
}
