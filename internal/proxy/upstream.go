package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"jwtgate.dev/jwtgate/internal/egress"
	"jwtgate.dev/jwtgate/internal/model"
)

// Bodies of the upstream failure responses (Envoy's wording).
const (
	bodyNoUpstream = "no healthy upstream"
	bodyTimeout    = "upstream request timeout"
)

// statusClientClosed is logged, never sent, when the client goes away
// before the upstream answered (nginx's and Caddy's 499).
const statusClientClosed = 499

// backend is a compiled model.Backend: where requests go and the
// ReverseProxy that takes them there.
type backend struct {
	url   string // for logs and Explain
	proxy *httputil.ReverseProxy
	// unavailable says why the backend cannot be reached; requests get
	// 503 without a connection (model.Backend.Unavailable).
	unavailable string
}

// transportKey identifies the settings an upstream transport depends on;
// backends sharing them share one connection pool.
type transportKey struct {
	https      bool
	caFile     string
	certFile   string
	keyFile    string
	serverName string
	timeout    time.Duration
	// pool sizes the connection pool (model.Backend.Pool, defaults
	// applied): backends that size it differently get their own.
	pool model.BackendPool
	// dialer, for egress, dials through the listener's egress dialer.
	dialer *egress.Dialer
	// endpoints, joined by spaces, are the addresses connections go to
	// in turn (model.Backend.Endpoints); empty: the URL's host.
	endpoints string
	// protocol is model.Backend.Protocol; "" is HTTP/1.1 (http2.go).
	protocol model.BackendProtocol
}

// newTransport builds the pooled transport for k. Errors name the
// backend field at fault.
//
// The default http.Transport keeps 2 idle connections per host, so
// behind many client connections most requests would dial; the pool
// settings default to enough for a busy upstream (256 per host, see
// model.DefaultMaxIdleConnsPerHost).
func newTransport(k transportKey) (*http.Transport, []fieldError) {
	d := &net.Dialer{Timeout: k.pool.DialTimeout, KeepAlive: 30 * time.Second}
	dial := d.DialContext
	switch {
	case k.dialer != nil:
		dial = k.dialer.DialContext
	case k.endpoints != "":
		dial = (&spread{addrs: strings.Fields(k.endpoints), dial: d.DialContext}).DialContext
	}
	dial = idleDial(dial, k.pool.BodyIdleTimeout) // limits_upstream.go
	tr := &http.Transport{
		Proxy:                 nil, // never an environment proxy: the backend is the destination
		DialContext:           dial,
		MaxIdleConns:          0, // no global limit; per host below
		MaxIdleConnsPerHost:   k.pool.MaxIdleConnsPerHost,
		IdleConnTimeout:       poolIdleTimeout(k.pool),
		TLSHandshakeTimeout:   k.pool.TLSHandshakeTimeout,
		ResponseHeaderTimeout: k.timeout,
		ExpectContinueTimeout: time.Second,
		// Accept-Encoding passes as the client sent it, and a compressed
		// answer passes as it came, as in Envoy: net/http would ask for
		// gzip when the client names no encoding and decompress.
		DisableCompression: true,
		ForceAttemptHTTP2:  false,
		Protocols:          upstreamProtocols(k), // http2.go
	}
	if !k.https {
		return tr, nil
	}
	var errs []fieldError
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: k.serverName}
	if k.caFile != "" {
		pool, err := loadCertPool(k.caFile)
		if err != nil {
			errs = append(errs, fieldError{"backend.caFile", err})
		}
		tc.RootCAs = pool
	}
	if k.certFile != "" || k.keyFile != "" {
		cert, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
		if err != nil {
			errs = append(errs, fieldError{"backend.certFile", fmt.Errorf("loading client certificate: %w", err)})
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	tr.TLSClientConfig = tc
	return tr, errs
}

// spread dials a backend's endpoints in turn, whatever address the
// transport asks for (the URL's host names the upstream; the endpoints
// are where it is). A connection that fails moves on to the next
// endpoint, each tried once.
type spread struct {
	addrs []string
	next  atomic.Uint32
	dial  func(ctx context.Context, network, addr string) (net.Conn, error)
}

func (s *spread) DialContext(ctx context.Context, network, _ string) (net.Conn, error) {
	start := int(s.next.Add(1) - 1)
	var errs []error
	for i := range s.addrs {
		c, err := s.dial(ctx, network, s.addrs[(start+i)%len(s.addrs)])
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// fieldError is an error about one field of a resource.
type fieldError struct {
	field string
	err   error
}

func loadCertPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", file)
	}
	return pool, nil
}

// newBackend builds the ReverseProxy for one backend. The outbound request:
//
//   - goes to the backend's scheme and host; the backend's path, when not
//     "/", prefixes the (normalized) request path; the backend URL's query,
//     if any, is added to the request's;
//   - keeps the client's Host header (Envoy keeps :authority); TLS
//     origination still verifies and sends SNI for the backend's host name
//     (or ServerName);
//   - carries X-Forwarded-For (the client's address only: values a client
//     sends are not trusted and are replaced), X-Forwarded-Host and
//     X-Forwarded-Proto, set by SetXForwarded;
//   - has no hop-by-hop headers (ReverseProxy removes them) except the
//     Upgrade handshake, which ReverseProxy passes through;
//   - keeps Authorization unless the route's JWT requirement removed the
//     token (see authn.Requirement.Apply): an open route passes it on.
func newBackend(target *url.URL, tr http.RoundTripper, logger *slog.Logger) *backend {
	b := &backend{url: redactedURL(target)}
	b.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		Transport:    tr,
		BufferPool:   bufferPool{},
		ErrorHandler: upstreamError,
		ErrorLog:     slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	return b
}

// upstreamError answers a failed upstream exchange, the one place that maps
// transport errors to statuses: timeouts 504, a client that went away 499
// (logged only, nothing is written), anything else 503.
//
// Two failures are not the upstream's: a request body that broke (short,
// malformed, or idle past the listener's bodyIdleTimeout: 400 or 408,
// body.go), and a request past the listener's maxRequestDuration (408).
func upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	if o, ok := clientFault(r); ok {
		answerClientFault(w, r, o)
		return
	}
	if durationExceeded(r.Context()) {
		answerClientFault(w, r, outcome{status: http.StatusRequestTimeout, body: bodyDurationTimeout, reason: "request duration limit"})
		return
	}
	status := classifyUpstreamError(r.Context(), err)
	if rec, ok := w.(*recorder); ok {
		rec.upstreamErr = err
		if status == statusClientClosed {
			rec.status = statusClientClosed
		}
	}
	switch status {
	case http.StatusForbidden:
		answer(w, outcome{status: status, body: bodyDenied, reason: "destination address refused"})
	case statusClientClosed:
	case http.StatusGatewayTimeout:
		answer(w, outcome{status: status, body: bodyTimeout, reason: "upstream timeout"})
	default:
		answer(w, outcome{status: status, body: bodyNoUpstream, reason: "upstream unreachable"})
	}
}

func classifyUpstreamError(ctx context.Context, err error) int {
	if errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.Canceled) {
		return statusClientClosed
	}
	if errForbidden(err) {
		return http.StatusForbidden
	}
	// Failures to connect are "no healthy upstream", timeouts included.
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return http.StatusServiceUnavailable
	}
	if strings.Contains(err.Error(), "TLS handshake") {
		return http.StatusServiceUnavailable
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return http.StatusGatewayTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return http.StatusGatewayTimeout
	}
	return http.StatusServiceUnavailable
}

// bufferPool recycles the 32 KiB copy buffers of ReverseProxy.
type bufferPool struct{}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *copyBuffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(&b) }

// redactedURL is u for logs, validate and the config dump: the values of
// its query parameters (which may hold an API key) are replaced by
// "REDACTED"; the names stay, so the operator sees which were set.
func redactedURL(u *url.URL) string {
	if u.RawQuery == "" {
		return u.String()
	}
	c := *u
	q := c.Query()
	for k, vs := range q {
		for i := range vs {
			vs[i] = "REDACTED"
		}
		q[k] = vs
	}
	c.RawQuery = q.Encode()
	return c.String()
}

// backendTimeout is the configured timeout or the default.
func backendTimeout(b model.Backend) time.Duration {
	if b.Timeout > 0 {
		return b.Timeout
	}
	return model.DefaultBackendTimeout
}
