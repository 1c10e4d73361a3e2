package proxy

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"jwtgate.dev/jwtgate/internal/authn"
	"jwtgate.dev/jwtgate/internal/authz"
	"jwtgate.dev/jwtgate/internal/model"
)

// Text renders the report for people, stage by stage, as `jwtgate
// explain` prints it: the request, the route chosen and the routes that
// did not match, authentication, authorization, the answer and the
// request the upstream would receive.
func (r *ExplainReport) Text() string {
	var b strings.Builder
	w := func(indent int, format string, args ...any) {
		b.WriteString(strings.Repeat("  ", indent))
		fmt.Fprintf(&b, format, args...)
		b.WriteByte('\n')
	}
	r.textRequest(w)
	b.WriteByte('\n')
	r.textRoute(w)
	if r.ProxyAuthn != nil {
		b.WriteByte('\n')
		w(0, "proxy authentication (forward-proxy clients):")
		textAuthn(w, r.ProxyAuthn, "")
	}
	if r.Routed && r.Route != "" {
		b.WriteByte('\n')
		r.textAuthn(w)
		b.WriteByte('\n')
		r.textAuthz(w)
	}
	b.WriteByte('\n')
	r.textAnswer(w)
	if len(r.Notes) > 0 {
		b.WriteByte('\n')
		w(0, "notes:")
		for _, n := range r.Notes {
			w(1, "- %s", n)
		}
	}
	return b.String()
}

type writef func(indent int, format string, args ...any)

func (r *ExplainReport) textRequest(w writef) {
	q := r.Request
	w(0, "request: %s %s", q.Method, q.URL)
	peer := "no client certificate"
	if q.PeerSPIFFE != "" {
		peer = "client certificate " + q.PeerSPIFFE
	}
	w(1, "from %s, %s", strings.TrimSuffix(q.RemoteAddr, ":0"), peer)
	textHeader(w, 1, q.Header)
	kind := "listener"
	if r.Egress {
		kind = "egress listener"
	}
	w(0, "%s: %q (%s)", kind, r.Listener, r.Address)
	if r.Routed {
		w(1, "routes match host %q, path %q", q.Host, q.Path)
	}
}

func (r *ExplainReport) textRoute(w writef) {
	kind := "route"
	if r.Egress {
		kind = "egress server"
	}
	switch {
	case !r.Routed:
		w(0, "%s: not reached: the request was answered before routing", kind)
		return
	case r.Route == "":
		w(0, "%s: none matched", kind)
	default:
		w(0, "%s: %q", kind, r.Route)
		w(1, "match:  %s", r.Match)
		w(1, "target: %s", r.Target)
	}
	if len(r.Misses) == 0 {
		return
	}
	if r.Route == "" {
		w(1, "tried, in order:")
	} else {
		w(1, "tried before, in order:")
	}
	for _, m := range r.Misses {
		w(2, "%q (%s): %s", m.Route, m.Match, m.Reason)
	}
}

func (r *ExplainReport) textAuthn(w writef) {
	if r.Open {
		w(0, "authentication: none: the route is open")
		return
	}
	if r.Authn == nil {
		w(0, "authentication: not run")
		return
	}
	from := ""
	if r.AuthnFrom != "" {
		from = ", from " + r.AuthnFrom
	}
	w(0, "authentication:")
	textAuthn(w, r.Authn, from)
}

// textAuthn renders one requirement's trace.
func textAuthn(w writef, t *authn.Trace, from string) {
	mode := string(t.Mode)
	which := "any"
	if t.RequireAll {
		which = "each"
	}
	w(1, "requirement: %s, a token for %s of %s%s", mode, which, quoteNames("provider", t.Providers), from)
	w(1, "looked in: %s", strings.Join(t.Sources, ", "))
	for i, tok := range t.Tokens {
		w(1, "token %d in %s: %s", i+1, tok.Source, tok.Fingerprint)
		if tok.Alg != "" {
			w(2, "header: alg %s, kid %q", tok.Alg, tok.Kid)
		}
		if c := tok.Claims; c != nil {
			w(2, "claims: %s", claimsText(c))
		}
		for _, a := range tok.Attempts {
			if a.Verified {
				w(2, "provider %q: verified", a.Provider)
				continue
			}
			w(2, "provider %q: failed %s: %s", a.Provider, a.Check, a.Error)
			if a.Detail != "" {
				w(3, "%s", a.Detail)
			}
		}
		if len(tok.Attempts) == 0 {
			w(2, "not checked")
		}
	}
	out := t.Outcome
	if t.Error != "" && t.Outcome != authn.Verified.String() {
		out += ": " + t.Error
	}
	switch {
	case t.Rejected:
		out += fmt.Sprintf(" -> rejected with %d", t.Status)
	case t.Outcome != authn.Verified.String():
		out += " -> let through by mode " + mode + " (no identity)"
	}
	w(1, "outcome: %s", out)
}

func claimsText(c *authn.TokenClaims) string {
	var parts []string
	if c.Iss != "" {
		parts = append(parts, "iss "+strconv.Quote(c.Iss))
	}
	if c.Sub != "" {
		parts = append(parts, "sub "+strconv.Quote(c.Sub))
	}
	if c.Aud != nil {
		parts = append(parts, "aud "+quoteList(c.Aud))
	}
	if c.Azp != "" {
		parts = append(parts, "azp "+strconv.Quote(c.Azp))
	}
	for _, d := range []struct {
		name string
		v    *int64
	}{{"iat", c.Iat}, {"nbf", c.Nbf}, {"exp", c.Exp}} {
		if d.v != nil {
			parts = append(parts, fmt.Sprintf("%s %d (%s)", d.name, *d.v, time.Unix(*d.v, 0).UTC().Format(time.RFC3339)))
		}
	}
	if len(parts) == 0 {
		return "none of iss, sub, aud, azp, iat, nbf, exp"
	}
	return strings.Join(parts, ", ")
}

func (r *ExplainReport) textAuthz(w writef) {
	switch {
	case r.NoPolicies:
		w(0, "authorization: none: no policy applies to the route")
		return
	case r.Authz == nil:
		w(0, "authorization: not run")
		return
	}
	a := r.Authz
	w(0, "authorization:")
	who := "no verified token"
	if a.Authenticated {
		who = fmt.Sprintf("principal %q (iss %q, sub %q, aud %s)", a.Principal, a.Issuer, a.Subject, quoteList(a.Audiences))
	}
	peer := "none"
	if a.PeerPrincipal != "" {
		peer = strconv.Quote(a.PeerPrincipal)
	}
	w(1, "sees: host %q, method %s, path %q, port %d", a.Host, a.Method, a.Path, a.Port)
	w(1, "      %s; peer %s, peer address %s, client address %s", who, peer, orNone(a.PeerAddress), orNone(a.ClientAddress))
	for _, p := range r.Policies {
		textPolicy(w, p)
	}
	w(1, "decision: %s", r.Decision)
}

func textPolicy(w writef, p authz.PolicyTrace) {
	if len(p.Rules) == 0 {
		what := "allows nothing"
		if p.Action == model.ActionDeny {
			what = "denies nothing"
		}
		w(1, "%s policy %q: no rules (%s)", p.Action, p.Policy, what)
		return
	}
	w(1, "%s policy %q:", p.Action, p.Policy)
	for _, rl := range p.Rules {
		line := fmt.Sprintf("%s: %s", rl.Rule, rl.Result)
		if rl.Why != "" {
			line += ": " + rl.Why
		}
		w(2, "%s", line)
		w(3, "(%s)", rl.Summary)
	}
}

func (r *ExplainReport) textAnswer(w writef) {
	a := r.Answer
	if a.Forwarded {
		w(0, "answer: forwarded: the upstream's status and body are passed back")
		if len(a.Header) > 0 {
			w(1, "headers the route adds to the upstream's response:")
			textHeader(w, 2, a.Header)
		}
	} else {
		w(0, "answer: %d %s", a.Status, http.StatusText(a.Status))
		textHeader(w, 1, a.Header)
		if a.Body != "" {
			w(1, "body: %q", a.Body)
		}
	}
	if a.Reason != "" {
		reason := a.Reason
		if a.Detail != "" && a.Detail != a.Reason {
			reason += " (" + a.Detail + ")"
		}
		w(1, "reason: %s", reason)
	}
	u := r.Upstream
	if u == nil {
		w(0, "upstream: nothing sent")
		return
	}
	w(0, "upstream request (recorded, not sent):")
	w(1, "backend: %s", u.Backend)
	w(1, "%s %s", u.Method, u.URL)
	w(1, "Host: %s", u.Host)
	textHeader(w, 1, u.Header)
}

// textHeader prints headers sorted by name, one value a line.
func textHeader(w writef, indent int, h http.Header) {
	names := make([]string, 0, len(h))
	for n := range h {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		for _, v := range h[n] {
			w(indent, "%s: %s", n, v)
		}
	}
}

func quoteNames(kind string, names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = kind + " " + strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

func quoteList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = strconv.Quote(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
