package model

import (
	"fmt"
	"time"
)

// Default listener limits and backend connection pool settings: what a
// zero field of ListenerLimits, or of Backend's pool settings, stands for.
const (
	// DefaultMaxHeaderBytes bounds a request's line and headers (64 KiB).
	DefaultMaxHeaderBytes = 64 << 10
	// DefaultReadHeaderTimeout is how long a client has to send them.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultIdleTimeout closes a keep-alive client connection left idle.
	DefaultIdleTimeout = 120 * time.Second
	// DefaultBodyIdleTimeout is the longest pause between two reads of
	// a client's request body (nginx's client_body_timeout).
	DefaultBodyIdleTimeout = 60 * time.Second
	// DefaultMaxConcurrentRequests bounds the requests a listener serves
	// at once.
	DefaultMaxConcurrentRequests = 5000
	// DefaultMaxConnections bounds the client connections a listener
	// holds open at once.
	DefaultMaxConnections = 10000
	// DefaultMaxIdleConnsPerHost is how many idle connections to an
	// upstream host are kept for reuse.
	DefaultMaxIdleConnsPerHost = 256
	// DefaultIdleConnTimeout closes an idle upstream connection.
	DefaultIdleConnTimeout = 90 * time.Second
	// DefaultDialTimeout bounds connecting to an upstream.
	DefaultDialTimeout = 5 * time.Second
	// DefaultTLSHandshakeTimeout bounds the TLS handshake with an upstream.
	DefaultTLSHandshakeTimeout = 5 * time.Second
	// DefaultUpstreamBodyIdleTimeout is the longest an upstream may stay
	// silent while the gateway waits for its response (Envoy's stream
	// idle timeout).
	DefaultUpstreamBodyIdleTimeout = 5 * time.Minute
)

// MinMaxHeaderBytes is the smallest MaxHeaderBytes a listener can
// enforce exactly: Go's HTTP server reads 4096 bytes beyond the limit it
// is given, so a limit of L is given to it as L-4096, which must be
// positive.
const MinMaxHeaderBytes = HeaderSlack + 1

// HeaderSlack is what Go's net/http server accepts beyond its
// MaxHeaderBytes (its "bufio slop"): the gateway subtracts it, so that
// the limit configured is the limit enforced.
const HeaderSlack = 4096

// ListenerLimits bound what a listener's HTTP server accepts from
// clients. A zero field means its default.
type ListenerLimits struct {
	// MaxHeaderBytes bounds the request line and headers together
	// (the bytes up to and including the empty line that ends them); a
	// request beyond it is answered 431. Zero means
	// DefaultMaxHeaderBytes (64 KiB); a set value is at least
	// MinMaxHeaderBytes.
	MaxHeaderBytes int `yaml:"maxHeaderBytes,omitempty"`
	// ReadHeaderTimeout is how long a client has to send the request
	// line and headers once it starts a request. Zero means
	// DefaultReadHeaderTimeout (10s).
	ReadHeaderTimeout time.Duration `yaml:"readHeaderTimeout,omitempty"`
	// IdleTimeout closes a keep-alive connection that waits this long for
	// its next request. Zero means DefaultIdleTimeout (120s).
	IdleTimeout time.Duration `yaml:"idleTimeout,omitempty"`
	// BodyIdleTimeout is the longest the gateway waits for the next
	// bytes of a request body it is reading; past it the request is
	// answered 408 (or its connection closed, when the response has
	// started). Zero means DefaultBodyIdleTimeout (60s).
	BodyIdleTimeout time.Duration `yaml:"bodyIdleTimeout,omitempty"`
	// MaxRequestDuration bounds a whole exchange, from the request's
	// headers to the response's last byte (Envoy's max_stream_duration):
	// 408 when no response has started, the connection closed otherwise.
	// Zero means no bound, the default: streams and WebSockets may last.
	MaxRequestDuration time.Duration `yaml:"maxRequestDuration,omitempty"`
	// MaxConcurrentRequests bounds the requests the listener serves at
	// once; one more is answered 503 with Retry-After. Zero means
	// DefaultMaxConcurrentRequests (5000).
	MaxConcurrentRequests int `yaml:"maxConcurrentRequests,omitempty"`
	// MaxConnections bounds the client connections the listener holds
	// open; one more is accepted and closed at once, as Envoy's
	// connection limit does. Zero means DefaultMaxConnections (10000).
	MaxConnections int `yaml:"maxConnections,omitempty"`
}

// WithDefaults returns l with every field that is not positive replaced
// by its default: the limits a listener is served with.
// MaxRequestDuration has no default: it stays zero (no bound).
func (l ListenerLimits) WithDefaults() ListenerLimits {
	return ListenerLimits{
		MaxHeaderBytes:        positive(l.MaxHeaderBytes, DefaultMaxHeaderBytes),
		ReadHeaderTimeout:     positive(l.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		IdleTimeout:           positive(l.IdleTimeout, DefaultIdleTimeout),
		BodyIdleTimeout:       positive(l.BodyIdleTimeout, DefaultBodyIdleTimeout),
		MaxRequestDuration:    max(l.MaxRequestDuration, 0),
		MaxConcurrentRequests: positive(l.MaxConcurrentRequests, DefaultMaxConcurrentRequests),
		MaxConnections:        positive(l.MaxConnections, DefaultMaxConnections),
	}
}

// Check reports a limit that cannot be enforced as written: a
// MaxHeaderBytes set below MinMaxHeaderBytes. It names the field by its
// YAML key.
func (l ListenerLimits) Check() (field string, err error) {
	if l.MaxHeaderBytes > 0 && l.MaxHeaderBytes < MinMaxHeaderBytes {
		return "maxHeaderBytes", fmt.Errorf("must be at least %d: a smaller limit on the request line and headers cannot be enforced exactly, got %d", MinMaxHeaderBytes, l.MaxHeaderBytes)
	}
	return "", nil
}

// BackendPool is a backend's connection pool settings with the defaults
// applied: what its upstream transport is built from. It is comparable,
// so that backends with equal settings can share a pool.
type BackendPool struct {
	MaxIdleConnsPerHost int
	IdleConnTimeout     time.Duration
	DialTimeout         time.Duration
	TLSHandshakeTimeout time.Duration
	BodyIdleTimeout     time.Duration
}

// Pool returns b's connection pool settings, with every field that is not
// positive replaced by its default.
func (b Backend) Pool() BackendPool {
	return BackendPool{
		MaxIdleConnsPerHost: positive(b.MaxIdleConnsPerHost, DefaultMaxIdleConnsPerHost),
		IdleConnTimeout:     positive(b.IdleConnTimeout, DefaultIdleConnTimeout),
		DialTimeout:         positive(b.DialTimeout, DefaultDialTimeout),
		TLSHandshakeTimeout: positive(b.TLSHandshakeTimeout, DefaultTLSHandshakeTimeout),
		BodyIdleTimeout:     positive(b.BodyIdleTimeout, DefaultUpstreamBodyIdleTimeout),
	}
}

// positive is v when it is positive, def otherwise.
func positive[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
