package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"jwtgate.dev/jwtgate/internal/authn"
	"jwtgate.dev/jwtgate/internal/egress"
)

// egressPipeline is the pipeline of an egress listener. The host named by
// the request (its Host, its absolute-form target or its CONNECT
// authority) chooses the egress server; a host no server serves is denied
// (403) and never contacted. Forward-proxy requests (absolute-form and
// CONNECT) first meet the listener's proxy token requirement (407).
func (l *listener) egressPipeline(x *exchange, r *http.Request) outcome {
	raw := rawPath(r)
	x.path = raw
	x.authn = "none"
	if hasLower(r.Method) {
		r.Method = strings.ToUpper(r.Method)
	}
	connect := r.Method == http.MethodConnect
	host, port, ok := requestTarget(r, connect)
	if !ok {
		return outcome{status: http.StatusBadRequest, reason: "invalid request target"}
	}
	path := ""
	if !connect {
		var o outcome
		if path, o = l.normalize(r, raw); o.status != 0 {
			return o
		}
		x.path = path
	}
	if connect && !slices.Contains(l.egress.connectPorts, port) {
		return outcome{status: http.StatusForbidden, body: bodyDenied, reason: "CONNECT port not allowed"}
	}
	strip(r, l.rt.strip)
	res := &x.res
	if q := l.egress.proxyReq; q != nil && (connect || r.URL.IsAbs()) {
		if o := l.proxyAuthenticate(x, q, r, raw, res); o.status != 0 {
			return o
		}
	}
	// Proxy credentials are for this gateway only.
	delete(r.Header, "Proxy-Authorization")
	rt := l.match(host, path, r)
	if rt == nil || rt.egress == nil {
		return outcome{status: http.StatusForbidden, body: bodyDenied, reason: "no egress server for host"}
	}
	x.route = rt
	if connect {
		if rt.req != nil {
			return outcome{status: http.StatusForbidden, body: bodyDenied, reason: "CONNECT to a server that requires a JWT: a tunnel cannot carry it"}
		}
		if rt.engine != nil {
			if o := l.authorize(x, rt, r, host, "", port, res); o.status != 0 {
				return o
			}
		}
		if rt.egress.dest != "" {
			host = rt.egress.dest
		}
		l.tunnel(x, r, host, port)
		return outcome{}
	}
	if r.URL.Scheme == "https" && !rt.egress.tls {
		// The client asked for TLS to the external host; sending its
		// request there in plain text would be a silent downgrade.
		return outcome{status: http.StatusBadRequest, reason: "https:// target to an egress server that does not originate TLS"}
	}
	dport := rt.egress.destPort(port)
	if rt.req != nil {
		if o := l.authenticate(x, rt, r, raw, res); o.status != 0 {
			return o
		}
	}
	if rt.engine != nil {
		if o := l.authorize(x, rt, r, host, path, dport, res); o.status != 0 {
			return o
		}
	}
	if rt.req != nil {
		rt.req.Apply(r, *res)
	}
	l.forwardEgress(x, rt, r, host, dport, path)
	return outcome{}
}

// requestTarget is the external host (lower case, no trailing dot) and
// the port the request names: the CONNECT authority (port required), or
// the absolute-form target's, or the Host header's host (whose port, the
// gateway's own, is not the destination's: 0). ok is false for a
// malformed target, a port out of range, or a host that is neither an IP
// address nor a DNS name.
func requestTarget(r *http.Request, connect bool) (host string, port int, ok bool) {
	switch {
	case connect:
		h, p, err := net.SplitHostPort(r.Host)
		if err != nil || h == "" {
			return "", 0, false
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", 0, false
		}
		host = hostOnly(h)
		return host, n, validHost(host)
	case r.URL.IsAbs():
		if r.URL.Scheme != "http" && r.URL.Scheme != "https" {
			return "", 0, false
		}
		if p := r.URL.Port(); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return "", 0, false
			}
			// The scheme's own port is no choice of port.
			if !(r.URL.Scheme == "http" && n == 80 || r.URL.Scheme == "https" && n == 443) {
				port = n
			}
		}
		host = hostOnly(r.URL.Hostname())
	default:
		host = hostOnly(r.Host)
	}
	return host, port, validHost(host)
}

// validHost reports whether h (from hostOnly) is an IP address or a DNS
// name: letters, digits, '-', '_' and dots between labels. Anything else
// that a Host header may hold ("*", "a,b", "%..."), no external host
// has, and no resolver should be asked about it.
func validHost(h string) bool {
	if h == "" {
		return false
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if len(h) > 253 || h[0] == '.' || strings.Contains(h, "..") {
		return false
	}
	for i := 0; i < len(h); i++ {
		switch c := h[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// proxyAuthenticate runs the listener's proxy token requirement; a
// rejection is 407 with a Proxy-Authenticate challenge.
func (l *listener) proxyAuthenticate(x *exchange, q *authn.Requirement, r *http.Request, raw string, res *authn.Result) outcome {
	q.AuthenticateTo(r.Context(), r, res)
	l.egress.proxyAuthn.recordAuthn(res)
	x.noteAuthn(res)
	e := q.Reject(*res)
	if e == nil {
		return outcome{}
	}
	x.reason, x.detail = e.Msg, e.Reason
	return outcome{status: http.StatusProxyAuthRequired, body: e.Msg, challenge: bearerChallenge(r, raw, e != authn.ErrMissing), proxy: true, reason: e.Msg}
}

// forwardEgress sends the request to host:port, over TLS when the server
// originates it (a plain request is upgraded), with the normalized path.
// The dialer refuses internal addresses (see package egress).
func (l *listener) forwardEgress(x *exchange, rt *route, r *http.Request, host string, port int, path string) {
	e := rt.egress
	if e.dest != "" {
		host = e.dest
	}
	scheme, def := "http", 80
	if e.tls {
		scheme, def = "https", 443
	}
	hostport := host
	if strings.IndexByte(host, ':') >= 0 {
		hostport = "[" + host + "]"
	}
	if port != def {
		hostport = net.JoinHostPort(host, strconv.Itoa(port))
	}
	// r.Host stays what the client asked for (the access log shows it);
	// the outbound Host is the URL's (see egressRoute's Rewrite).
	r.URL.Scheme, r.URL.Host, r.URL.Opaque, r.URL.User = scheme, hostport, "", nil
	if e.inject != nil {
		delete(r.Header, "Authorization")
		now := time.Now()
		for _, j := range e.inject {
			j.apply(r, now)
		}
	}
	x.upstream = scheme + "://" + hostport
	l.forward(x, rt, r, path)
}

// tunnel answers a CONNECT: it dials host:port through the egress dialer
// (which refuses internal addresses), answers 200 and copies bytes both
// ways, uninspected, until either side closes.
func (l *listener) tunnel(x *exchange, r *http.Request, host string, port int) {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	x.upstream = "tcp://" + addr
	x.fwdStart = time.Now()
	ctx, cancel := context.WithTimeout(r.Context(), l.egress.dialTimeout)
	up, err := l.egress.dialer.DialContext(ctx, "tcp", addr)
	cancel()
	if err != nil {
		upstreamError(&x.rec, r, err)
		return
	}
	defer up.Close()
	x.rec.status = http.StatusOK
	conn, brw, err := http.NewResponseController(&x.rec).Hijack()
	if err != nil {
		x.rec.status = 0
		x.rec.upstreamErr = err
		answer(&x.rec, outcome{status: http.StatusServiceUnavailable, body: bodyNoUpstream, reason: "CONNECT: cannot take over the connection"})
		return
	}
	defer conn.Close()
	// A tunnel outlives http.Server's tracking of the connection: the
	// Runtime closes it when it is closed itself (after a reload's grace,
	// or at shutdown).
	if !l.egress.tunnels.add(conn, up) {
		return
	}
	defer l.egress.tunnels.remove(conn, up)
	x.upstreamDur = time.Since(x.fwdStart)
	if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection Established\r\n\r\n"); err != nil {
		return
	}
	// Bytes the client sent after the CONNECT request are in brw.
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		if _, err := up.Write(b); err != nil {
			return
		}
	}
	var wg sync.WaitGroup
	var ended atomic.Bool
	wg.Add(1)
	go func() {
		defer wg.Done()
		splice(up, conn, &ended, l.egress.linger)
	}()
	splice(conn, up, &ended, l.egress.linger)
	wg.Wait()
}

// tunnelSet holds the connections of open tunnels.
type tunnelSet struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// add records the two ends of a tunnel; false once the set is closed.
func (s *tunnelSet) add(cs ...net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.conns == nil {
		s.conns = map[net.Conn]struct{}{}
	}
	for _, c := range cs {
		s.conns[c] = struct{}{}
	}
	return true
}

func (s *tunnelSet) remove(cs ...net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range cs {
		delete(s.conns, c)
	}
}

// closeAll closes every open tunnel, and refuses new ones.
func (s *tunnelSet) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for c := range s.conns {
		_ = c.Close()
	}
	clear(s.conns)
}

// closeTunnels ends the CONNECT tunnels of rt's egress listeners.
func (rt *Runtime) closeTunnels() {
	for _, l := range rt.listeners {
		if l.egress != nil {
			l.egress.tunnels.closeAll()
		}
	}
}

// splice copies src to dst, then closes dst for writing, so that the
// other direction's reader sees the end too, and bounds the other
// direction's silence from then on (linger). On an error, or when dst
// cannot be half-closed, it closes both.
func splice(dst, src net.Conn, ended *atomic.Bool, linger time.Duration) {
	buf := copyBuffers.Get().(*[]byte)
	_, err := io.CopyBuffer(writerOnly{dst}, lingerReader{src, ended, linger}, *buf)
	copyBuffers.Put(buf)
	if cw, ok := dst.(interface{ CloseWrite() error }); ok && err == nil {
		_ = cw.CloseWrite()
		ended.Store(true)
		// The other direction reads dst.
		_ = dst.SetReadDeadline(time.Now().Add(linger))
		return
	}
	_ = dst.Close()
	_ = src.Close()
}

// lingerReader reads a tunnel's side; once the other direction has
// ended, every read must come within linger.
type lingerReader struct {
	c      net.Conn
	ended  *atomic.Bool
	linger time.Duration
}

func (r lingerReader) Read(p []byte) (int, error) {
	if r.ended.Load() {
		_ = r.c.SetReadDeadline(time.Now().Add(r.linger))
	}
	return r.c.Read(p)
}

// writerOnly hides dst's ReadFrom, so that io.CopyBuffer reads through
// lingerReader into the pooled buffer.
type writerOnly struct{ io.Writer }

// errForbidden reports whether err is the egress dialer's refusal.
func errForbidden(err error) bool { return errors.Is(err, egress.ErrForbidden) }
