package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
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
// gateway's own, is not the destination's: 0).
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
		return hostOnly(h), n, true
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
	return host, port, host != ""
}

// proxyAuthenticate runs the listener's proxy token requirement; a
// rejection is 407 with a Proxy-Authenticate challenge.
func (l *listener) proxyAuthenticate(x *exchange, q *authn.Requirement, r *http.Request, raw string, res *authn.Result) outcome {
	q.AuthenticateTo(r.Context(), r, res)
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
	r.URL.Scheme, r.URL.Host, r.URL.Opaque, r.URL.User = scheme, hostport, "", nil
	r.Host = hostport
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
	wg.Add(1)
	go func() {
		defer wg.Done()
		splice(up, conn)
	}()
	splice(conn, up)
	wg.Wait()
}

// splice copies src to dst, then closes dst for writing (or entirely),
// so that the other direction ends too.
func splice(dst, src net.Conn) {
	buf := copyBuffers.Get().(*[]byte)
	_, err := io.CopyBuffer(dst, src, *buf)
	copyBuffers.Put(buf)
	if cw, ok := dst.(interface{ CloseWrite() error }); ok && err == nil {
		_ = cw.CloseWrite()
		return
	}
	_ = dst.Close()
	_ = src.Close()
}

// errForbidden reports whether err is the egress dialer's refusal.
func errForbidden(err error) bool { return errors.Is(err, egress.ErrForbidden) }
