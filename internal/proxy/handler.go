package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"jwtgate.dev/jwtgate/internal/authn"
	"jwtgate.dev/jwtgate/internal/authz"
	"jwtgate.dev/jwtgate/internal/model"
)

// Bodies and headers of the responses the gateway writes itself.
const (
	bodyDenied = "RBAC: access denied"
	textPlain  = "text/plain"
)

// listener is a compiled model.Listener: its TLS configuration and its
// route table. It is the http.Handler of the pipeline (design.md section 2).
type listener struct {
	name    string
	address string
	port    int         // from the address; 0 means "ask the connection"
	tls     *tls.Config // nil for plain HTTP
	routes  []*route
	rt      *Runtime
}

// ServeHTTP runs the request pipeline: normalize, route, strip, then
// authenticate and authorize in the route's phase order, add outputs and
// forward.
func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := exchanges.Get().(*exchange)
	x.start = time.Now()
	x.rec.ResponseWriter = w
	defer l.finish(x, r)
	l.serve(x, r)
}

// exchange is the per-request state, pooled.
type exchange struct {
	rec      recorder
	start    time.Time
	route    string
	path     string
	authn    string
	reason   string
	detail   string // authn's log-only reason: tells apart failures that share a body
	sub      string
	policy   string
	rule     string
	upstream string
}

var exchanges = sync.Pool{New: func() any { return new(exchange) }}

func (l *listener) finish(x *exchange, r *http.Request) {
	if v := recover(); v != nil {
		if v == http.ErrAbortHandler {
			l.log(x, r)
			x.reset()
			panic(v)
		}
		l.rt.logger.Error("handler panic", "listener", l.name, "route", x.route, "panic", v, "stack", string(debug.Stack()))
		if !x.rec.wrote {
			writeText(&x.rec, http.StatusInternalServerError, "")
		} else if x.rec.status == 0 {
			x.rec.status = http.StatusInternalServerError
		}
	}
	l.log(x, r)
	x.reset()
	exchanges.Put(x)
}

func (x *exchange) reset() {
	*x = exchange{}
}

func (l *listener) serve(x *exchange, r *http.Request) {
	w := &x.rec
	raw := rawPath(r)
	x.path = raw
	x.authn = "none"
	// Methods are matched, authorized and forwarded in upper case, so a
	// "delete" request cannot slip past a rule on DELETE while the upstream
	// treats it as one.
	if hasLower(r.Method) {
		r.Method = strings.ToUpper(r.Method)
	}
	path, err := model.NormalizePath(raw)
	if err != nil || r.Method == http.MethodConnect {
		// CONNECT asks for a tunnel, which a reverse proxy does not
		// give, whatever its target.
		writeText(w, http.StatusBadRequest, "")
		return
	}
	x.path = path

	host := hostOnly(r.Host)
	var rt *route
	for _, c := range l.routes {
		if c.matches(host, path, r.Method, r.Header) {
			rt = c
			break
		}
	}
	if rt == nil {
		writeText(w, http.StatusNotFound, "")
		return
	}
	x.route = rt.name

	// Headers this gateway sets are never taken from the client, and
	// the client's Connection header may not remove them later.
	dropConnectionHeaders(r.Header)
	for _, h := range l.rt.strip {
		delete(r.Header, h)
	}

	var res authn.Result
	if rt.req != nil && !rt.postAuthz {
		if !l.authenticate(x, rt, r, raw, &res) {
			return
		}
	}
	if rt.engine != nil {
		if !l.authorize(x, rt, r, host, path, &res) {
			return
		}
	}
	if rt.req != nil && rt.postAuthz {
		if !l.authenticate(x, rt, r, raw, &res) {
			return
		}
	}
	if rt.req != nil {
		rt.req.Apply(r, res)
	}

	// The upstream receives the normalized path.
	if r.URL.RawPath != path {
		if strings.IndexByte(path, '%') >= 0 {
			r.URL.RawPath = path
			r.URL.Path = unescapePath(path)
		} else {
			r.URL.RawPath = ""
			r.URL.Path = path
		}
	}
	x.upstream = rt.backend.url
	rt.backend.proxy.ServeHTTP(w, r)
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

// authenticate runs the route's requirement and answers the request when
// the requirement rejects it. It reports whether the pipeline goes on.
func (l *listener) authenticate(x *exchange, rt *route, r *http.Request, raw string, res *authn.Result) bool {
	*res = rt.req.Authenticate(r.Context(), r)
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
	if res.Err != nil && res.Outcome != authn.Verified {
		x.reason, x.detail = res.Err.Msg, res.Err.Reason
	}
	e := rt.req.Reject(*res)
	if e == nil {
		return true
	}
	x.reason, x.detail = e.Msg, e.Reason
	h := x.rec.Header()
	h["Www-Authenticate"] = []string{bearerChallenge(r, raw, e != authn.ErrMissing)}
	writeText(&x.rec, e.Status, e.Msg)
	return false
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

// authorize evaluates the route's policies; a denial is answered with 403.
func (l *listener) authorize(x *exchange, rt *route, r *http.Request, host, path string, res *authn.Result) bool {
	ar := authz.Request{
		Host:   host,
		Method: r.Method,
		Path:   path,
		Port:   l.port,
		Header: r.Header,
		Peer:   peerOf(r),
	}
	if ar.Port == 0 {
		ar.Port = localPort(r.Context())
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		ar.Remote = ap.Addr().Unmap()
	}
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
	if d.Allowed {
		return true
	}
	if x.policy == "" {
		x.policy = d.Reason // "no ALLOW policy matched"
	}
	writeText(&x.rec, http.StatusForbidden, bodyDenied)
	return false
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

// Header values shared by every response the gateway writes itself. They
// are never modified, only replaced.
var (
	hdrTextPlain = []string{textPlain}
	hdrNoSniff   = []string{"nosniff"}
)

// contentLengths are shared Content-Length values for the short bodies the
// gateway writes, so that answering allocates nothing.
var contentLengths = func() [][]string {
	out := make([][]string, 128)
	for i := range out {
		out[i] = []string{strconv.Itoa(i)}
	}
	return out
}()

func contentLength(n int) []string {
	if n < len(contentLengths) {
		return contentLengths[n]
	}
	return []string{strconv.Itoa(n)}
}

// writeText writes one of the gateway's own responses: a text/plain body
// (none for an empty one) with its Content-Length.
func writeText(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	if body != "" {
		h["Content-Type"] = hdrTextPlain
		h["X-Content-Type-Options"] = hdrNoSniff
	} else {
		delete(h, "Content-Type")
	}
	h["Content-Length"] = contentLength(len(body))
	w.WriteHeader(status)
	if body != "" {
		_, _ = io.WriteString(w, body)
	}
}

// log writes the access log line. It never includes the query string, a
// token or a header value.
func (l *listener) log(x *exchange, r *http.Request) {
	lg := l.rt.logger
	ctx := r.Context()
	if !lg.Enabled(ctx, slog.LevelInfo) {
		return
	}
	status := x.rec.status
	if status == 0 {
		status = http.StatusOK
	}
	attrs := [...]slog.Attr{
		slog.String("listener", l.name),
		slog.String("route", x.route),
		slog.String("method", r.Method),
		slog.String("host", r.Host),
		slog.String("path", x.path),
		slog.Int("status", status),
		slog.String("authn", x.authn),
		slog.String("reason", x.reason),
		slog.String("detail", x.detail),
		slog.String("sub", x.sub),
		slog.String("policy", x.policy),
		slog.String("rule", x.rule),
		slog.String("upstream", x.upstream),
		slog.Float64("duration_ms", float64(time.Since(x.start).Microseconds())/1000),
		{},
	}
	n := len(attrs) - 1
	if err := x.rec.upstreamErr; err != nil {
		attrs[n] = slog.String("upstream_error", upstreamErrorText(err))
		n++
	}
	lg.LogAttrs(ctx, slog.LevelInfo, "access", attrs[:n]...)
}

// upstreamErrorText is the transport error for the log, without the
// request URL (and so without its query) that *url.Error would add.
func upstreamErrorText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// recorder remembers the status written, for the access log, and passes
// everything else (Flush, Hijack through Unwrap) to the real writer.
type recorder struct {
	http.ResponseWriter
	status      int
	wrote       bool
	upstreamErr error
}

func (w *recorder) WriteHeader(code int) {
	if !w.wrote && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.wrote = true
		if w.status == 0 {
			w.status = code
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if !w.wrote {
		w.wrote = true
		if w.status == 0 {
			w.status = http.StatusOK
		}
	}
	return w.ResponseWriter.Write(b)
}

// WriteString avoids copying the gateway's own bodies into a []byte.
func (w *recorder) WriteString(s string) (int, error) {
	if !w.wrote {
		w.wrote = true
		if w.status == 0 {
			w.status = http.StatusOK
		}
	}
	return io.WriteString(w.ResponseWriter, s)
}

// Hijack hands the connection over (an upgrade the upstream accepted);
// the exchange is logged as 101.
func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.status == 0 {
		w.wrote = true
		w.status = http.StatusSwitchingProtocols
	}
	return c, brw, err
}

// Unwrap lets http.ResponseController reach Flush and the rest.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// hasLower reports whether s has an ASCII lower-case letter.
func hasLower(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'a' <= s[i] && s[i] <= 'z' {
			return true
		}
	}
	return false
}
