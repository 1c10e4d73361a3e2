package metrics

import (
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Status codes with a series of their own; any other code is counted
// under the code label "other".
const (
	minCode = 100
	maxCode = 599
	// codeOther is the slot of codes outside minCode..maxCode.
	codeOther = maxCode - minCode + 1
)

// CodeOther is the code label of status codes outside 100-599.
const CodeOther = "other"

// RouteMetrics records the requests of one route of one listener (or of
// the requests of a listener that matched no route). Get it from
// Metrics.Route when the route is compiled; it is safe for concurrent use.
type RouteMetrics struct {
	m        *Metrics
	listener string
	route    string
	// upstream is nil for NoRoute: such requests never reach an upstream.
	upstream prometheus.Observer
	// codes holds one counter per status code, created on first use.
	codes [codeOther + 1]atomic.Pointer[counterRef]
}

// Route returns the handle of the requests that listener routes to route;
// NoRoute for the requests that matched none of its routes. Call it when
// a configuration is built, not per request: asking again for the same
// pair returns the same handle, so the counters of a route that a reload
// keeps carry on.
func (m *Metrics) Route(listener, route string) *RouteMetrics {
	if m == nil {
		return nil
	}
	listener, route = labelValue(listener), labelValue(route)
	k := routeKey{listener, route}
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.routes[k]; r != nil {
		return r
	}
	r := &RouteMetrics{m: m, listener: listener, route: route}
	if route != NoRoute {
		// Created now so that the route's histogram is exported, empty,
		// from the start.
		r.upstream = m.upstream.WithLabelValues(route)
	}
	m.routes[k] = r
	return r
}

// Observe records one request answered with status code. upstream is the
// time the upstream took to answer (to its response headers), or
// NoUpstream (any negative duration) when the gateway answered without
// one; it is ignored for NoRoute. Observe does not allocate once code has
// been seen on this route.
func (r *RouteMetrics) Observe(code int, upstream time.Duration) {
	if r == nil {
		return
	}
	i := codeOther
	if code >= minCode && code <= maxCode {
		i = code - minCode
	}
	ref := r.codes[i].Load()
	if ref == nil {
		ref = r.newCode(i)
	}
	ref.c.Inc()
	if upstream >= 0 && r.upstream != nil {
		r.upstream.Observe(upstream.Seconds())
	}
}

// newCode creates the counter of slot i, the slow path of Observe.
func (r *RouteMetrics) newCode(i int) *counterRef {
	label := CodeOther
	if i != codeOther {
		label = strconv.Itoa(i + minCode)
	}
	ref := &counterRef{c: r.m.requests.WithLabelValues(r.listener, r.route, label)}
	if r.codes[i].CompareAndSwap(nil, ref) {
		return ref
	}
	return r.codes[i].Load()
}

// ListenerMetrics records the requests in flight on one listener. Get it
// from Metrics.Listener when the listener is built.
type ListenerMetrics struct {
	g    prometheus.Gauge
	done func()
}

// Listener returns the handle of the named listener. Asking again for the
// same name returns the same handle.
func (m *Metrics) Listener(name string) *ListenerMetrics {
	if m == nil {
		return nil
	}
	name = labelValue(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if l := m.listeners[name]; l != nil {
		return l
	}
	g := m.inFlight.WithLabelValues(name)
	l := &ListenerMetrics{g: g, done: g.Dec}
	m.listeners[name] = l
	return l
}

// InFlight counts one more request in flight and returns the function
// that counts it done; call that exactly once:
//
//	defer lm.InFlight()()
//
// Neither call allocates.
func (l *ListenerMetrics) InFlight() (done func()) {
	if l == nil {
		return noop
	}
	l.g.Inc()
	return l.done
}

func noop() {}

// Authentication outcomes, the outcome label of jwtgate_authn_total. They
// are the strings of authn.Outcome.
const (
	// OutcomeVerified: every token found verified.
	OutcomeVerified = "verified"
	// OutcomeMissing: no token was found.
	OutcomeMissing = "missing"
	// OutcomeInvalid: a token failed verification.
	OutcomeInvalid = "invalid"
	// OutcomeOther is recorded for any outcome not listed above.
	OutcomeOther = "other"
)

var outcomes = [...]string{OutcomeVerified, OutcomeMissing, OutcomeInvalid, OutcomeOther}

// outcomeIndex returns the index of o in outcomes, OutcomeOther's when it
// is not listed.
func outcomeIndex(o string) int {
	switch o {
	case OutcomeVerified:
		return 0
	case OutcomeMissing:
		return 1
	case OutcomeInvalid:
		return 2
	}
	return 3
}

// ProviderMetrics records the authentication outcomes of one JWT provider.
// Get it from Metrics.Provider when the provider is built.
type ProviderMetrics struct {
	m    *Metrics
	name string
	// counts holds one counter per outcome and reason, created on first
	// use.
	counts [len(outcomes)][len(reasons)]atomic.Pointer[counterRef]
}

// Provider returns the handle of the named provider. Asking again for the
// same name returns the same handle.
func (m *Metrics) Provider(name string) *ProviderMetrics {
	if m == nil {
		return nil
	}
	name = labelValue(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if p := m.provs[name]; p != nil {
		return p
	}
	p := &ProviderMetrics{m: m, name: name}
	m.provs[name] = p
	return p
}

// Outcome records one authentication outcome (OutcomeVerified,
// OutcomeMissing, OutcomeInvalid) and its reason code (ReasonNone for a
// verified token, otherwise one of the Reason constants). An outcome or a
// reason outside those sets is recorded as OutcomeOther or ReasonOther,
// so no value passed here can add a series beyond the fixed sets. Outcome
// does not allocate once the pair has been seen for this provider.
func (p *ProviderMetrics) Outcome(outcome, reason string) {
	if p == nil {
		return
	}
	o, r := outcomeIndex(outcome), reasonIndex(reason)
	ref := p.counts[o][r].Load()
	if ref == nil {
		ref = p.newCount(o, r)
	}
	ref.c.Inc()
}

// newCount creates the counter of outcome o and reason r, the slow path
// of Outcome.
func (p *ProviderMetrics) newCount(o, r int) *counterRef {
	ref := &counterRef{c: p.m.authn.WithLabelValues(p.name, outcomes[o], reasons[r])}
	if p.counts[o][r].CompareAndSwap(nil, ref) {
		return ref
	}
	return p.counts[o][r].Load()
}

// Policy actions, the action label of jwtgate_authz_decisions_total.
const (
	// ActionAllow is an ALLOW policy.
	ActionAllow = "ALLOW"
	// ActionDeny is a DENY policy.
	ActionDeny = "DENY"
	// ActionNone is the action of decisions no policy made (no ALLOW
	// policy matched, or none applies); their policy label is empty too.
	ActionNone = ""
	// ActionOther is recorded for any other action.
	ActionOther = "other"
)

// PolicyMetrics records the authorization decisions made by one policy.
// Get it from Metrics.Policy when the policies are compiled.
type PolicyMetrics struct {
	m              *Metrics
	policy, action string
	// decisions holds the allow (0) and deny (1) counters, created on
	// first use, or at once for the decision the action makes.
	decisions [2]atomic.Pointer[counterRef]
}

var decisions = [2]string{"allow", "deny"}

// Policy returns the handle of the decisions made by the named policy,
// whose action is ActionAllow or ActionDeny (model.Action's strings, in
// any case); Policy("", ActionNone) is the handle of the decisions no
// policy made. An unknown action is recorded as ActionOther. Asking again
// for the same pair returns the same handle.
func (m *Metrics) Policy(name, action string) *PolicyMetrics {
	if m == nil {
		return nil
	}
	name = labelValue(name)
	switch a := strings.ToUpper(action); a {
	case ActionAllow, ActionDeny, ActionNone:
		action = a
	default:
		action = ActionOther
	}
	k := policyKey{name, action}
	m.mu.Lock()
	defer m.mu.Unlock()
	if p := m.policies[k]; p != nil {
		return p
	}
	p := &PolicyMetrics{m: m, policy: name, action: action}
	// Export the decisions the policy makes from the start: an ALLOW
	// policy only ever allows, a DENY policy only ever denies.
	if action != ActionDeny {
		p.counter(0)
	}
	if action != ActionAllow {
		p.counter(1)
	}
	m.policies[k] = p
	return p
}

// Allow records one request the policy allowed. It does not allocate.
func (p *PolicyMetrics) Allow() {
	if p != nil {
		p.counter(0).Inc()
	}
}

// Deny records one request the policy denied. It does not allocate.
func (p *PolicyMetrics) Deny() {
	if p != nil {
		p.counter(1).Inc()
	}
}

// Decide records an allowed (true) or denied (false) request. It does
// not allocate.
func (p *PolicyMetrics) Decide(allowed bool) {
	if allowed {
		p.Allow()
	} else {
		p.Deny()
	}
}

// counter returns the counter of decision d, creating it the first time.
func (p *PolicyMetrics) counter(d int) prometheus.Counter {
	if ref := p.decisions[d].Load(); ref != nil {
		return ref.c
	}
	ref := &counterRef{c: p.m.authz.WithLabelValues(p.policy, p.action, decisions[d])}
	if !p.decisions[d].CompareAndSwap(nil, ref) {
		ref = p.decisions[d].Load()
	}
	return ref.c
}
