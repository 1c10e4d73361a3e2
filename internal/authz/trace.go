package authz

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
)

// Results of a rule in a trace.
const (
	RuleMatched      = "matched"
	RuleNotMatched   = "not matched"
	RuleNotEvaluated = "not evaluated"
)

// PolicyTrace is how one policy fared with one request (Engine.Trace).
type PolicyTrace struct {
	Policy string       `json:"policy"`
	Action model.Action `json:"action"`
	// Rules are the policy's rules in order; a policy without rules has
	// none (it matches nothing).
	Rules []RuleTrace `json:"rules"`
}

// RuleTrace is one rule's result.
type RuleTrace struct {
	// Rule is the rule's name, or "rules[i]".
	Rule string `json:"rule"`
	// Summary is the rule as written, on one line (as validate shows it).
	Summary string `json:"summary"`
	// Result is RuleMatched, RuleNotMatched or RuleNotEvaluated (a rule
	// before it decided the request).
	Result string `json:"result"`
	// Why says, for a rule that did not match, the first part of it that
	// failed and the request's value it looked at.
	Why string `json:"why,omitempty"`
}

// Trace evaluates r as Evaluate does, in the same order and with the
// same matchers, and reports every policy and rule: matched, not matched
// and why, or not evaluated because an earlier rule decided. It is meant
// for `jwtgate explain` and allocates; Evaluate stays the decision.
func (e *Engine) Trace(r *Request) []PolicyTrace {
	if e == nil {
		return nil
	}
	decided := false
	var out []PolicyTrace
	for _, group := range [][]policy{e.deny, e.allow} {
		for i := range group {
			p := &group[i]
			pt := PolicyTrace{Policy: p.name, Action: p.action, Rules: []RuleTrace{}}
			for j := range p.rules {
				rl := &p.rules[j]
				var src *model.Rule
				if j < len(p.src) {
					src = &p.src[j]
				}
				t := RuleTrace{Rule: rl.name}
				if src != nil {
					t.Summary = summarizeRule(src)
				}
				switch {
				case decided:
					t.Result = RuleNotEvaluated
				case rl.match(r):
					t.Result = RuleMatched
					decided = true
				default:
					t.Result = RuleNotMatched
					t.Why = rl.why(r, src)
				}
				pt.Rules = append(pt.Rules, t)
			}
			out = append(out, pt)
		}
	}
	return out
}

// why names the first part of a rule that r fails. Each part is decided
// by the rule's own matchers; src (the rule as written) only words it.
func (rl *rule) why(r *Request, src *model.Rule) string {
	if src == nil {
		return ""
	}
	if len(rl.from) > 0 {
		var whys []string
		for i := range rl.from {
			if rl.from[i].match(r) {
				whys = nil
				break
			}
			if i < len(src.From) {
				whys = append(whys, fmt.Sprintf("from[%d]: %s", i, rl.from[i].why(r, &src.From[i])))
			}
		}
		if whys != nil {
			return strings.Join(whys, "; ")
		}
	}
	if len(rl.to) > 0 {
		var whys []string
		for i := range rl.to {
			if rl.to[i].match(r) {
				whys = nil
				break
			}
			if i < len(src.To) {
				whys = append(whys, fmt.Sprintf("to[%d]: %s", i, rl.to[i].why(r, &src.To[i])))
			}
		}
		if whys != nil {
			return strings.Join(whys, "; ")
		}
	}
	for i := range rl.when {
		if !rl.when[i].match(r) && i < len(src.When) {
			c := &src.When[i]
			return fmt.Sprintf("when[%d]{%s} does not hold; the request has %s", i, summarizeCondition(c), conditionValue(r, c))
		}
	}
	return ""
}

// part is one field of a from or to entry, checked alone by a copy of
// the entry that has only that field.
type part struct {
	name  string
	vals  []string
	ok    bool   // the field alone matches
	value string // what the field looked at, worded
}

// verdict words the first failing part.
func verdict(parts []part) string {
	for _, p := range parts {
		if len(p.vals) == 0 || p.ok {
			continue
		}
		list := "[" + strings.Join(p.vals, ", ") + "]"
		if strings.HasPrefix(p.name, "not") {
			return fmt.Sprintf("%s %s matches %s", p.name, list, p.value)
		}
		return fmt.Sprintf("%s %s does not match %s", p.name, list, p.value)
	}
	return "does not match"
}

func (f *from) why(r *Request, mf *model.From) string {
	if f.jwt != nil && !f.jwt.match(r) && mf.JWT != nil {
		return "jwt " + summarizeJWT(mf.JWT) + " does not match: " + f.jwt.why(r)
	}
	if f.notJWT != nil && f.notJWT.match(r) && mf.NotJWT != nil {
		return "notJwt " + summarizeJWT(mf.NotJWT) + " matches the token"
	}
	rp := "request principal \"\" (no verified token)"
	if r.Authenticated {
		rp = "request principal " + strconv.Quote(r.Principal)
	}
	peer := func(what, v string) string {
		if r.Peer.Principal == "" {
			return what + ` "" (no client certificate)`
		}
		return what + " " + strconv.Quote(v)
	}
	td := r.Peer.trustDomain()
	return verdict([]part{
		{"requestPrincipals", mf.RequestPrincipals, (&from{requestPrincipals: f.requestPrincipals}).match(r), rp},
		{"notRequestPrincipals", mf.NotRequestPrincipals, (&from{notRequestPrincipals: f.notRequestPrincipals}).match(r), rp},
		{"principals", mf.Principals, (&from{principals: f.principals}).match(r), peer("peer principal", r.Peer.Principal)},
		{"notPrincipals", mf.NotPrincipals, (&from{notPrincipals: f.notPrincipals}).match(r), peer("peer principal", r.Peer.Principal)},
		{"namespaces", mf.Namespaces, (&from{namespaces: f.namespaces}).match(r), peer("peer namespace", r.Peer.Namespace)},
		{"notNamespaces", mf.NotNamespaces, (&from{notNamespaces: f.notNamespaces}).match(r), peer("peer namespace", r.Peer.Namespace)},
		{"serviceAccounts", mf.ServiceAccounts, (&from{serviceAccounts: f.serviceAccounts}).match(r), peer("peer service account", r.Peer.ServiceAccount)},
		{"notServiceAccounts", mf.NotServiceAccounts, (&from{notServiceAccounts: f.notServiceAccounts}).match(r), peer("peer service account", r.Peer.ServiceAccount)},
		{"trustDomains", mf.TrustDomains, (&from{trustDomains: f.trustDomains}).match(r), peer("peer trust domain", td)},
		{"notTrustDomains", mf.NotTrustDomains, (&from{notTrustDomains: f.notTrustDomains}).match(r), peer("peer trust domain", td)},
		{"ipBlocks", mf.IPBlocks, matchBlocks(f.ipBlocks, nil, r.Remote), "peer address " + addrText(r.Remote.String())},
		{"notIpBlocks", mf.NotIPBlocks, matchBlocks(nil, f.notIPBlocks, r.Remote), "peer address " + addrText(r.Remote.String())},
		{"remoteIpBlocks", mf.RemoteIPBlocks, matchBlocks(f.remoteIPBlocks, nil, r.client()), "client address " + addrText(r.client().String())},
		{"notRemoteIpBlocks", mf.NotRemoteIPBlocks, matchBlocks(nil, f.notRemoteIPBlocks, r.client()), "client address " + addrText(r.client().String())},
	})
}

func addrText(s string) string {
	if s == "invalid IP" {
		return "(none)"
	}
	return s
}

// why says which part of a jwt match the request fails.
func (j *jwtMatch) why(r *Request) string {
	if !r.Authenticated {
		return "no verified token"
	}
	if j.iss != "" && r.Issuer != j.iss {
		return fmt.Sprintf("iss %q is not %q", r.Issuer, j.iss)
	}
	if j.sub != "" && r.Subject != j.sub {
		return fmt.Sprintf("sub %q is not %q", r.Subject, j.sub)
	}
	for i := range j.claims {
		cm := &j.claims[i]
		v, ok := cm.path.lookup(r.Claims)
		if !ok {
			return fmt.Sprintf("claim %s is absent", claimName(cm.path))
		}
		if !claimValueMatch(v, cm.values, cm.path.split(r.Issuer)) {
			return fmt.Sprintf("claim %s is %s", claimName(cm.path), jsonText(v))
		}
	}
	return "does not match"
}

func claimName(cp claimPath) string {
	if cp.full != "" {
		return cp.full
	}
	return "[" + strings.Join(cp.segs, "][") + "]"
}

func (t *to) why(r *Request, mt *model.To) string {
	host := requestHost(r.Host)
	hv := fmt.Sprintf("host %q (port %d)", host, r.Port)
	return verdict([]part{
		{"hosts", mt.Hosts, (&to{hosts: t.hosts}).match(r), hv},
		{"notHosts", mt.NotHosts, (&to{notHosts: t.notHosts}).match(r), hv},
		{"methods", mt.Methods, (&to{methods: t.methods}).match(r), "method " + strconv.Quote(r.Method)},
		{"notMethods", mt.NotMethods, (&to{notMethods: t.notMethods}).match(r), "method " + strconv.Quote(r.Method)},
		{"paths", mt.Paths, (&to{paths: t.paths}).match(r), "path " + strconv.Quote(r.Path)},
		{"notPaths", mt.NotPaths, (&to{notPaths: t.notPaths}).match(r), "path " + strconv.Quote(r.Path)},
		{"ports", intStrings(mt.Ports), (&to{ports: t.ports}).match(r), "port " + strconv.Itoa(r.Port)},
		{"notPorts", intStrings(mt.NotPorts), (&to{notPorts: t.notPorts}).match(r), "port " + strconv.Itoa(r.Port)},
	})
}

func intStrings(vs []int) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = strconv.Itoa(v)
	}
	return out
}

// conditionValue words the value a condition looks at. It is for the
// reader only: whether the condition holds is the compiled condition's
// answer.
func conditionValue(r *Request, c *model.Condition) string {
	needsToken := func(s string) string {
		if !r.Authenticated {
			return "no verified token"
		}
		return s
	}
	switch c.Kind {
	case model.CondHeader:
		vs := r.Header.Values(c.Name)
		if len(vs) == 0 {
			return "header " + c.Name + " (absent)"
		}
		return "header " + c.Name + " " + jsonText(vs)
	case model.CondSourceIP:
		return "peer address " + addrText(r.Remote.String())
	case model.CondRemoteIP:
		return "client address " + addrText(r.client().String())
	case model.CondDestinationPort:
		return "port " + strconv.Itoa(r.Port)
	case model.CondSourcePrincipal:
		return "peer principal " + strconv.Quote(r.Peer.Principal)
	case model.CondSourceNamespace:
		return "peer namespace " + strconv.Quote(r.Peer.Namespace)
	case model.CondSourceServiceAccount:
		return "peer service account " + strconv.Quote(r.Peer.ServiceAccount)
	case model.CondClaim:
		cp, err := compileClaimPath(c.Name, nil)
		if err != nil || !r.Authenticated {
			return needsToken("claim " + c.Name)
		}
		v, ok := cp.lookup(r.Claims)
		if !ok {
			return "claim " + c.Name + " (absent)"
		}
		return "claim " + c.Name + " " + jsonText(v)
	case model.CondAudience:
		return needsToken("aud " + jsonText(r.Audiences))
	case model.CondPresenter:
		return needsToken("azp " + strconv.Quote(r.Presenter))
	case model.CondIssuer:
		return needsToken("iss " + strconv.Quote(r.Issuer))
	case model.CondPrincipal:
		return needsToken("request principal " + strconv.Quote(r.Principal))
	}
	return "this request"
}

// jsonText shows a claim or header value as JSON.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
