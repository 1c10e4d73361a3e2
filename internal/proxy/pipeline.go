package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"jwtgate.dev/jwtgate/internal/authn"
	"jwtgate.dev/jwtgate/internal/authz"
	"jwtgate.dev/jwtgate/internal/metrics"
	"jwtgate.dev/jwtgate/internal/model"
)

// listener is a compiled model.Listener: its TLS configuration and its
// route table. It is the http.Handler of the request pipeline.
type listener struct {
	name    string
	address string
	port    int         // from the address; 0 means "ask the connection"
	tls     *tls.Config // nil for plain HTTP
	routes  []*route
	rt      *Runtime
	// paths says which ambiguous path forms the listener lets through.
	paths model.PathOptions
	// trustedProxies is model.Listener.NumTrustedProxies: how many
	// proxies in front append to X-Forwarded-For (remote IP rules).
	trustedProxies int
	// egress is set on an egress listener (egress.go).
	egress *egressListener
	// metrics: requests in flight, and the requests no route matched.
	metrics *metrics.ListenerMetrics
	noRoute *metrics.RouteMetrics
}

// ServeHTTP runs the request pipeline. Each stage either lets the
// request go on or returns the outcome that ends it; one writer (answer)
// turns an outcome into the response, and finish writes the access log
// line and the metrics of every request, answered or forwarded.
func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := exchanges.Get().(*exchange)
	x.begin(w, r)
	defer l.metrics.InFlight()()
	defer l.finish(x, r)
	if o := l.pipeline(x, r); o.status != 0 {
		answer(&x.rec, o)
	}
}

// exchange is the per-request state, pooled.
type exchange struct {
	rec         recorder
	start       time.Time
	route       *route
	path        string
	authn       string
	reason      string
	detail      string // authn's log-only reason: tells apart failures that share a body
	sub         string
	policy      string
	rule        string
	upstream    string
	upstreamDur time.Duration // time to the upstream's response headers; -1 when none
	fwdStart    time.Time     // when the request was handed to the upstream
	// res is the authentication result; it lives here, in pooled memory,
	// so that its storage is reused from request to request.
	res authn.Result
	// trace records what the stages do when the request is explained
	// (explain.go); nil when serving, and then nothing is recorded.
	trace *explainTrace
}

var exchanges = sync.Pool{New: func() any { return new(exchange) }}

// begin readies x for request r answered on w.
func (x *exchange) begin(w http.ResponseWriter, r *http.Request) {
	x.start = time.Now()
	x.rec.ResponseWriter = w
	x.rec.x = x
	x.rec.grpc = isGRPC(r)
	x.upstreamDur = -1
}

// outcome is how a stage ends a request; the zero value (status 0) lets
// the request go on.
type outcome struct {
	status int
	body   string
	// challenge, when set, is the value of the challenge header
	// (WWW-Authenticate).
	challenge string
	// proxy sends the challenge as Proxy-Authenticate (a 407).
	proxy bool
	// location is the Location header of a redirect.
	location string
	// edit changes the answer's headers last: a route's ResponseHeaders
	// on its redirect or direct response.
	edit *headerOps
	// reason is what the access log says about the outcome.
	reason string
}

// pipeline runs the stages in order: accept, normalize, route, strip,
// authenticate and authorize (in the route's phase order), outputs,
// forward.
func (l *listener) pipeline(x *exchange, r *http.Request) outcome {
	if l.egress != nil {
		return l.egressPipeline(x, r)
	}
	raw := rawPath(r)
	x.path = raw
	x.authn = "none"
	if o := accept(r); o.status != 0 {
		return o
	}
	path, o := l.normalize(r, raw)
	if o.status != 0 {
		return o
	}
	x.path = path
	host := hostOnly(r.Host)
	rt := l.match(host, path, r)
	if x.trace != nil {
		x.trace.routed(l, host, path, r, rt)
	}
	if rt == nil {
		return outcome{status: http.StatusNotFound, reason: "no route"}
	}
	x.route = rt
	strip(r, l.rt.strip)

	res := &x.res
	preflight := rt.corsPreflight && isPreflight(r)
	if rt.req != nil && !rt.postAuthz && !preflight {
		if o := l.authenticate(x, rt, r, raw, res); o.status != 0 {
			return o
		}
	}
	if rt.engine != nil {
		if o := l.authorize(x, rt, r, host, path, 0, res); o.status != 0 {
			return o
		}
	}
	if rt.req != nil && rt.postAuthz && !preflight {
		if o := l.authenticate(x, rt, r, raw, res); o.status != 0 {
			return o
		}
	}
	if rt.req != nil {
		rt.req.Apply(r, *res)
	}
	if rt.actions != nil {
		// A redirect or a direct response ends here; otherwise the
		// request's headers and path are changed (routeaction.go).
		if path, o = rt.actions.apply(rt, r, path); o.status != 0 {
			return o
		}
	}
	l.forward(x, rt, r, path)
	return outcome{}
}

// accept upper-cases the method, so that a "delete" request cannot slip
// past a rule on DELETE while the upstream treats it as one, and refuses
// CONNECT: a reverse proxy gives no tunnels.
func accept(r *http.Request) outcome {
	if hasLower(r.Method) {
		r.Method = strings.ToUpper(r.Method)
	}
	if r.Method == http.MethodConnect {
		return outcome{status: http.StatusBadRequest, reason: "CONNECT"}
	}
	return outcome{}
}

// normalize returns the canonical path routes and policies match, or 400
// for a path that cannot be normalized safely or that backends read
// differently from the gateway.
func (l *listener) normalize(r *http.Request, raw string) (string, outcome) {
	path, err := model.NormalizeRequestPath(raw, l.paths)
	if err != nil {
		var pe *model.PathError
		if errors.As(err, &pe) {
			return "", outcome{status: http.StatusBadRequest, reason: "path refused: " + string(pe.Class)}
		}
		return "", outcome{status: http.StatusBadRequest, reason: "path refused"}
	}
	return path, outcome{}
}

// match returns the first route that matches, or nil.
func (l *listener) match(host, path string, r *http.Request) *route {
	var q url.Values // parsed by the first route with query conditions
	for _, c := range l.routes {
		if c.matches(host, path, r, &q) {
			return c
		}
	}
	return nil
}

// strip removes the headers this gateway sets from the client's request,
// and the client's hop-by-hop headers, before anything looks at it.
func strip(r *http.Request, names []string) {
	// Headers this gateway sets are never taken from the client, and
	// the client's Connection header may not remove them later.
	dropConnectionHeaders(r.Header)
	for _, h := range names {
		delete(r.Header, h)
	}
}

// isPreflight reports whether r is a CORS preflight request: OPTIONS with
// Origin and Access-Control-Request-Method.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && len(r.Header["Origin"]) > 0 && len(r.Header["Access-Control-Request-Method"]) > 0
}

// dropConnectionHeaders removes the hop-by-hop headers the client's
// Connection header names, and Connection itself, before the pipeline
// looks at the request. ReverseProxy would remove them only when
// forwarding, after the outputs are added: "Connection: X-Team" would
// then delete the X-Team the gateway set. A WebSocket upgrade is kept
// (Connection: Upgrade, Upgrade: websocket); any other upgrade (h2c, for
// one, which would hand the client an HTTP/2 connection to the upstream
// past the gateway's checks) is removed and the request forwarded as an
// ordinary one.
func dropConnectionHeaders(h http.Header) {
	conn, ok := h["Connection"]
	if !ok {
		delete(h, "Upgrade")
		return
	}
	upgrade := false
	for _, v := range conn {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			tok = strings.Trim(tok, " \t")
			switch {
			case tok == "":
			case strings.EqualFold(tok, "upgrade"):
				upgrade = true
			default:
				delete(h, http.CanonicalHeaderKey(tok))
			}
		}
	}
	delete(h, "Connection")
	if up := h["Upgrade"]; upgrade && len(up) == 1 && strings.EqualFold(strings.Trim(up[0], " \t"), "websocket") {
		h["Connection"] = []string{"Upgrade"}
		return
	}
	delete(h, "Upgrade")
}

// authenticate runs the route's requirement; the outcome rejects the
// request when the requirement does.
func (l *listener) authenticate(x *exchange, rt *route, r *http.Request, raw string, res *authn.Result) outcome {
	if t := x.trace; t != nil {
		rt.req.AuthenticateTraced(r.Context(), r, res, t.authnTrace())
	} else {
		rt.req.AuthenticateTo(r.Context(), r, res)
	}
	x.noteAuthn(res)
	if res.Err != nil && res.Outcome != authn.Verified {
		x.reason, x.detail = res.Err.Msg, res.Err.Reason
	}
	if x.trace == nil {
		rt.recordAuthn(res) // an explained request is not traffic
	}
	e := rt.req.Reject(*res)
	if x.trace != nil {
		x.trace.rejected(e)
	}
	if e == nil {
		return outcome{}
	}
	x.reason, x.detail = e.Msg, e.Reason
	return outcome{status: e.Status, body: e.Msg, challenge: bearerChallenge(r, raw, e != authn.ErrMissing), reason: e.Msg}
}

// noteAuthn records, for the access log, the outcome of authentication
// and the principal it verified.
func (x *exchange) noteAuthn(res *authn.Result) {
	switch res.Outcome {
	case authn.Verified:
		x.authn = "verified"
		if len(res.Identities) > 0 {
			x.sub = res.Identities[0].Principal()
		}
	case authn.Invalid:
		x.authn = "invalid"
	default:
		x.authn = "missing"
	}
}

// bearerChallenge is the WWW-Authenticate value: realm is the request's
// original URI without the query, the Host as the client sent it.
func bearerChallenge(r *http.Request, raw string, invalid bool) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	var b strings.Builder
	b.Grow(len(`Bearer realm="", error="invalid_token"`) + len(scheme) + 3 + len(r.Host) + len(raw))
	b.WriteString(`Bearer realm="`)
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(r.Host)
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '"' || c == '\\' || c < 0x20 || c == 0x7f:
			b.WriteByte('%')
			b.WriteByte("0123456789ABCDEF"[c>>4])
			b.WriteByte("0123456789ABCDEF"[c&15])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	if invalid {
		b.WriteString(`, error="invalid_token"`)
	}
	return b.String()
}

// authorize evaluates the route's policies; a denial is 403. port is
// the port rules see: the destination's on egress, 0 for the listener's.
func (l *listener) authorize(x *exchange, rt *route, r *http.Request, host, path string, port int, res *authn.Result) outcome {
	if port == 0 {
		port = l.port
	}
	ar := authz.Request{
		Host:   host,
		Method: r.Method,
		Path:   path,
		Port:   port,
		Header: r.Header,
		Peer:   peerOf(r),
		HTTP:   r,
	}
	if ar.Port == 0 {
		ar.Port = localPort(r.Context())
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		ar.Remote = ap.Addr().Unmap()
	}
	// remoteIpBlocks and remote.ip see the original client: from
	// X-Forwarded-For behind trusted proxies, else the peer.
	ar.Client = authz.ClientAddr(ar.Remote, r.Header["X-Forwarded-For"], l.trustedProxies)
	if res.Outcome == authn.Verified && len(res.Identities) > 0 {
		id := res.Identities[0]
		ar.Authenticated = true
		ar.Principal = x.sub
		ar.Issuer = id.Issuer
		ar.Subject = id.Subject
		ar.Presenter = id.Presenter
		ar.Audiences = id.Audiences
		ar.Claims = id.Claims
	}
	d := rt.engine.Evaluate(&ar)
	x.policy, x.rule = d.Policy, d.Rule
	if x.trace != nil {
		seen := ar // the trace gets a copy: ar itself must stay on the stack
		x.trace.authorized(rt.engine, &seen, d)
	} else {
		rt.recordAuthz(d)
	}
	if d.Allowed {
		return outcome{}
	}
	if x.policy == "" {
		x.policy = d.Reason // "no ALLOW policy matched"
	}
	return outcome{status: http.StatusForbidden, body: bodyDenied}
}

// forward sends the request, with the normalized path, to the route's
// backend; the backend writes the response (or, on failure, hands an
// outcome to answer through upstreamError).
func (l *listener) forward(x *exchange, rt *route, r *http.Request, path string) {
	if r.URL.RawPath != path {
		if strings.IndexByte(path, '%') >= 0 {
			r.URL.RawPath = path
			r.URL.Path = unescapePath(path)
		} else {
			r.URL.RawPath = ""
			r.URL.Path = path
		}
	}
	x.fwdStart = time.Now()
	if rt.egress != nil {
		x.proxyTo(rt.egress.proxy, r)
		return
	}
	be := rt.backend
	if rt.split != nil {
		if be = rt.split.pick(); be == nil {
			answer(&x.rec, outcome{status: http.StatusServiceUnavailable, body: bodyNoUpstream, reason: "no backend has a weight"})
			return
		}
	}
	x.upstream = be.url
	if why := be.unavailable; why != "" {
		x.rec.upstreamErr = errors.New(why)
		answer(&x.rec, outcome{status: http.StatusServiceUnavailable, body: bodyNoUpstream, reason: "upstream unavailable"})
		return
	}
	x.proxyTo(be.proxy, r)
}

// proxyTo hands r to the upstream through p. An explained request is
// recorded instead, at the transport: nothing is sent (explain.go).
func (x *exchange) proxyTo(p *httputil.ReverseProxy, r *http.Request) {
	if x.trace != nil {
		x.trace.capture(x, p, r)
		return
	}
	p.ServeHTTP(&x.rec, r)
}

func localPort(ctx context.Context) int {
	if a, ok := ctx.Value(http.LocalAddrContextKey).(net.Addr); ok {
		if ta, ok := a.(*net.TCPAddr); ok {
			return ta.Port
		}
	}
	return 0
}

// rawPath is the request target's path as sent, without the query: from
// the request line for origin-form targets, from the parsed URL for
// absolute-form ones; "" for "*" and anything else, which normalization
// rejects.
func rawPath(r *http.Request) string {
	u := r.RequestURI
	if u == "" { // a request built in a test, not read from the wire
		u = r.URL.RequestURI()
	}
	if strings.HasPrefix(u, "/") {
		if i := strings.IndexByte(u, '?'); i >= 0 {
			return u[:i]
		}
		return u
	}
	if r.URL != nil && r.URL.IsAbs() {
		if p := r.URL.EscapedPath(); p != "" {
			return p
		}
		return "/"
	}
	return ""
}

// unescapePath decodes the escapes a normalized path keeps; it never
// fails on model.NormalizePath's output, which has only valid escapes and
// no encoded slash.
func unescapePath(p string) string {
	u, err := url.PathUnescape(p)
	if err != nil {
		return p
	}
	return u
}

// hasLower reports whether s has an ASCII lower-case letter.
func hasLower(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'a' <= s[i] && s[i] <= 'z' {
			return true
		}
	}
	return false
}
