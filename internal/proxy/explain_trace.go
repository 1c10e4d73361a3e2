package proxy

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"jwtgate.dev/jwtgate/internal/authn"
	"jwtgate.dev/jwtgate/internal/authz"
	"jwtgate.dev/jwtgate/internal/model"
)

// explainTrace is what the pipeline's stages record about an explained
// request (the hooks are the x.trace != nil branches in pipeline.go).
type explainTrace struct {
	rt     *Runtime
	l      *listener
	report *ExplainReport

	authn *authn.Trace
	// secrets are the tokens and credentials seen, replaced by their
	// fingerprint wherever the report would show them; hidden are the
	// names of headers whose values are never shown (injected
	// credentials).
	secrets []string
	hidden  []string

	upstream *UpstreamRequest
	// What the exchange ended with (finish).
	reason, detail string
	route          *route
	backend        string

	// preflight: the request is a CORS preflight.
	preflight bool

	// egress: the routing the pipeline does (egressRoutes).
	egressOK     bool
	egressHost   string
	egressPath   string
	egressMisses []RouteMiss
}

func (t *explainTrace) note(format string, args ...any) {
	t.report.Notes = append(t.report.Notes, fmt.Sprintf(format, args...))
}

// serveExplain is ServeHTTP for an explained request: the same pipeline
// on an exchange of its own, ended by the trace rather than by finish
// (no access log line, no metrics, no denied-request entry).
func (l *listener) serveExplain(w http.ResponseWriter, r *http.Request, t *explainTrace) {
	x := &exchange{trace: t}
	x.begin(w, r)
	defer t.finish(x)
	if o := l.pipeline(x, r); o.status != 0 {
		answer(&x.rec, o)
	}
}

// finish records how the exchange ended; a panic is answered 500, as
// finish answers it when serving.
func (t *explainTrace) finish(x *exchange) {
	if v := recover(); v != nil {
		if v == http.ErrAbortHandler {
			t.note("the response was aborted")
		} else {
			t.note("the pipeline panicked (%v): a real request is answered 500", v)
		}
		if !x.rec.wrote {
			writeText(&x.rec, http.StatusInternalServerError, "")
		}
	}
	t.reason, t.detail = x.reason, x.detail
	t.route, t.backend = x.route, x.upstream
}

// routed records the route match: the routes tried before the chosen
// one (nil: none matched), and why each did not match.
func (t *explainTrace) routed(l *listener, host, path string, r *http.Request, chosen *route) {
	rep := t.report
	rep.Routed = true
	rep.Request.Host, rep.Request.Path = host, path
	var q url.Values
	for _, c := range l.routes {
		if c == chosen {
			break
		}
		m, i := c.mismatch(host, path, r, &q)
		rep.Misses = append(rep.Misses, t.miss(c, describeMiss(c, m, i, host, path, r, q)))
	}
}

func (t *explainTrace) miss(c *route, reason string) RouteMiss {
	m := RouteMiss{Route: c.name, Reason: reason}
	if ex := t.rt.explanation(c.listener, c.name); ex != nil {
		m.Match = ex.Match
	}
	return m
}

// egressRoutes does the routing of an egress listener's pipeline on a
// copy of the request, with the same functions (requestTarget,
// normalize, mismatch), for the report.
func (t *explainTrace) egressRoutes(r *http.Request) {
	host, _, ok := requestTarget(r, false)
	if !ok {
		return
	}
	path, o := t.l.normalize(r, rawPath(r))
	if o.status != 0 {
		return
	}
	t.egressOK, t.egressHost, t.egressPath = true, host, path
	var q url.Values
	for _, c := range t.l.routes {
		m, i := c.mismatch(host, path, r, &q)
		if m == matchOK {
			return
		}
		t.egressMisses = append(t.egressMisses, t.miss(c, describeMiss(c, m, i, host, path, r, q)))
	}
}

// proxyAuthn reports the egress listener's forward-proxy token
// requirement. The pipeline ran it already (its answer is in the
// report); it runs again here, on a copy of the request, for the
// per-token detail: the same requirement, the same verification (a
// token that verified is now in the verified-token cache).
func (t *explainTrace) proxyAuthn(orig *http.Request) {
	q := t.l.egress.proxyReq
	if q == nil || !t.egressOK || !orig.URL.IsAbs() {
		return
	}
	r := orig.Clone(orig.Context())
	strip(r, t.rt.strip)
	var res authn.Result
	tr := &authn.Trace{}
	q.AuthenticateTraced(r.Context(), r, &res, tr)
	if e := q.Reject(res); e != nil {
		tr.Rejected, tr.Status = true, http.StatusProxyAuthRequired
	}
	t.report.ProxyAuthn = tr
}

// authnTrace is a fresh authentication trace for the route's
// requirement.
func (t *explainTrace) authnTrace() *authn.Trace {
	t.authn = &authn.Trace{}
	return t.authn
}

// rejected records the requirement's verdict under its mode.
func (t *explainTrace) rejected(e *authn.Error) {
	if t.authn == nil {
		return
	}
	t.authn.Rejected = e != nil
	if e != nil {
		t.authn.Status = e.Status
	}
}

// authorized records what the policies saw, each policy's and rule's
// result (authz.Engine.Trace, the same matchers as Evaluate) and the
// decision.
func (t *explainTrace) authorized(e *authz.Engine, ar *authz.Request, d authz.Decision) {
	in := &AuthzInput{
		Host: ar.Host, Method: ar.Method, Path: ar.Path, Port: ar.Port,
		Authenticated: ar.Authenticated, Principal: ar.Principal, Issuer: ar.Issuer, Subject: ar.Subject,
		Audiences: slices.Clone(ar.Audiences), PeerPrincipal: ar.Peer.Principal,
		PeerAddress: addrString(ar.Remote), ClientAddress: addrString(ar.Client),
	}
	if !ar.Client.IsValid() {
		in.ClientAddress = in.PeerAddress
	}
	t.report.Authz = in
	t.report.Policies = e.Trace(ar)
	t.report.Decision = d.String()
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// capture is the forward stage of an explained request: the route's
// reverse proxy runs as it would (Rewrite, X-Forwarded-*, hop-by-hop
// headers, the route's response header changes) with a transport that
// records the outgoing request and sends nothing.
func (t *explainTrace) capture(x *exchange, p *httputil.ReverseProxy, r *http.Request) {
	if rt := x.route; rt != nil && rt.egress != nil {
		for _, j := range rt.egress.inject {
			t.hidden = append(t.hidden, j.header)
		}
	}
	cp := *p
	cp.Transport = &captureTransport{t: t, backend: x.upstream}
	cp.ServeHTTP(&x.rec, r)
}

// captureTransport records the request and answers an empty 200 in the
// upstream's place.
type captureTransport struct {
	t       *explainTrace
	backend string
}

func (c *captureTransport) RoundTrip(out *http.Request) (*http.Response, error) {
	if out.Body != nil {
		_ = out.Body.Close()
	}
	h := out.Header.Clone()
	if ua := h["User-Agent"]; len(ua) == 1 && ua[0] == "" {
		delete(h, "User-Agent") // ReverseProxy's way of sending none
	}
	c.t.upstream = &UpstreamRequest{Backend: c.backend, Method: out.Method, URL: redactBackendQuery(out.URL, c.backend), Host: out.Host, Header: h}
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: http.NoBody, Request: out,
	}, nil
}

// redactBackendQuery is u with the values of the query parameters the
// backend's own URL sets (which may hold an API key; backend is already
// redacted) replaced by REDACTED.
func redactBackendQuery(u *url.URL, backend string) string {
	bu, err := url.Parse(backend)
	if err != nil || bu.RawQuery == "" || u.RawQuery == "" {
		return u.String()
	}
	q := u.Query()
	for name := range bu.Query() {
		if vs, ok := q[name]; ok {
			for i := range vs {
				vs[i] = "REDACTED"
			}
		}
	}
	c := *u
	c.RawQuery = q.Encode()
	return c.String()
}

// complete fills the report from the answer written (w) and what the
// stages recorded, then redacts it.
func (t *explainTrace) complete(w *memWriter) {
	rep := t.report
	if t.upstream != nil {
		rep.Answer = ExplainAnswer{Forwarded: true, Header: w.sent}
		rep.Upstream = t.upstream
	} else {
		rep.Answer = ExplainAnswer{Status: w.status, Header: w.sent, Body: w.body.String()}
		if w.truncated {
			t.note("the answer's body is cut at %d bytes", maxExplainBody)
		}
	}
	rep.Answer.Reason, rep.Answer.Detail = t.reason, t.detail
	if t.l.egress != nil && t.egressOK && (t.route != nil || t.reason == "no egress server for host") {
		rep.Routed = true
		rep.Request.Host, rep.Request.Path = t.egressHost, t.egressPath
		rep.Misses = t.egressMisses
	}
	if c := t.route; c != nil {
		rep.Route = c.name
		rep.Open, rep.NoPolicies = c.req == nil, c.engine == nil
		if ex := t.rt.explanation(c.listener, c.name); ex != nil {
			rep.Match, rep.Target = ex.Match, ex.Backend
			if ex.JWT != nil {
				rep.AuthnFrom = ex.JWT.From
			}
		}
		switch {
		case c.req != nil && c.postAuthz && t.authn != nil:
			t.note("the route's token requirement has phase postAuthz: authorization ran first, before the token was checked")
		case c.req != nil && t.authn == nil && c.corsPreflight && t.preflight:
			t.note("a CORS preflight: the route lets it through without a token (authenticatePreflight is off)")
		}
		if c.split != nil && rep.Upstream != nil {
			t.note("the route splits its requests by weight: this one went to %s; another may go elsewhere", t.backend)
		}
	}
	rep.Authn = t.authn
	if rep.Authn == nil {
		rep.AuthnFrom = ""
	}
	t.redact()
}

// describeMiss words the part of c's match that the request fails.
func describeMiss(c *route, m miss, i int, host, path string, r *http.Request, q url.Values) string {
	switch m {
	case missHost:
		hs := make([]string, len(c.hosts))
		for j, h := range c.hosts {
			switch {
			case h.any:
				hs[j] = "*"
			case h.wildcard:
				hs[j] = "*" + h.name
			default:
				hs[j] = h.name
			}
		}
		return fmt.Sprintf("host %q is not %s", host, oneOf(hs))
	case missPath:
		ps := make([]string, len(c.paths))
		for j, p := range c.paths {
			ps[j] = string(p.kind) + ":" + p.value
		}
		return fmt.Sprintf("path %q matches none of %s", path, "["+strings.Join(ps, ", ")+"]")
	case missMethod:
		return fmt.Sprintf("method %s is not %s", r.Method, oneOf(c.methods))
	case missHeader:
		hm := c.headers[i]
		vs, ok := r.Header[hm.name]
		if hm.present {
			return fmt.Sprintf("header %s is absent (the route requires it)", hm.name)
		}
		return fmt.Sprintf("header %s must be %q; the request has %s", hm.name, hm.value, valuesText(vs, ok))
	case missHeaderMatch:
		vm := &c.headerMatches[i]
		vs, ok := r.Header[vm.name]
		return fmt.Sprintf("header condition %s does not hold; the request has %s", vm.describe(), valuesText(vs, ok))
	case missQuery:
		vm := &c.query[i]
		vs, ok := q[vm.name]
		return fmt.Sprintf("query condition %s does not hold; the request has %s", vm.describe(), valuesText(vs, ok))
	}
	return "does not match"
}

// describe words a header or query condition: "name:kind:value", "!"
// first when inverted (as validate shows it).
func (m *valueMatcher) describe() string {
	s := m.name + ":" + string(m.kind)
	if m.kind != model.ValuePresent {
		s += ":" + m.value
	}
	if m.invert {
		s = "!" + s
	}
	return s
}

func valuesText(vs []string, ok bool) string {
	if !ok {
		return "none"
	}
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = strconv.Quote(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func oneOf(vs []string) string {
	if len(vs) == 1 {
		return strconv.Quote(vs[0])
	}
	return "one of [" + strings.Join(vs, ", ") + "]"
}

// maxExplainBody bounds the answer body an explanation keeps.
const maxExplainBody = 64 << 10

// memWriter is the in-memory ResponseWriter of an explained request: it
// keeps the status, the headers as sent (a copy taken when the status is
// written) and the body, up to maxExplainBody.
type memWriter struct {
	h         http.Header
	sent      http.Header
	status    int
	body      strings.Builder
	truncated bool
}

func newMemWriter() *memWriter { return &memWriter{h: http.Header{}} }

func (w *memWriter) Header() http.Header { return w.h }

func (w *memWriter) WriteHeader(code int) {
	if w.status != 0 || code < 200 {
		return
	}
	w.status = code
	w.sent = w.h.Clone()
}

func (w *memWriter) Write(b []byte) (int, error) {
	return w.WriteString(string(b))
}

func (w *memWriter) WriteString(s string) (int, error) {
	w.WriteHeader(http.StatusOK)
	if room := maxExplainBody - w.body.Len(); len(s) > room {
		w.body.WriteString(s[:max(room, 0)])
		w.truncated = true
	} else {
		w.body.WriteString(s)
	}
	return len(s), nil
}

// Flush does nothing: there is no connection.
func (w *memWriter) Flush() {}
