package model

import "time"

// Default listener limits and backend connection pool settings: what a
// zero field of ListenerLimits, or of Backend's pool settings, stands for.
const (
	// DefaultMaxHeaderBytes bounds a request's line and headers (64 KiB).
	DefaultMaxHeaderBytes = 64 << 10
	// DefaultReadHeaderTimeout is how long a client has to send them.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultIdleTimeout closes a keep-alive client connection left idle.
	DefaultIdleTimeout = 120 * time.Second
	// DefaultMaxIdleConnsPerHost is how many idle connections to an
	// upstream host are kept for reuse.
	DefaultMaxIdleConnsPerHost = 256
	// DefaultIdleConnTimeout closes an idle upstream connection.
	DefaultIdleConnTimeout = 90 * time.Second
	// DefaultDialTimeout bounds connecting to an upstream.
	DefaultDialTimeout = 5 * time.Second
	// DefaultTLSHandshakeTimeout bounds the TLS handshake with an upstream.
	DefaultTLSHandshakeTimeout = 5 * time.Second
)

// ListenerLimits bound what a listener's HTTP server accepts from
// clients. A zero field means its default.
type ListenerLimits struct {
	// MaxHeaderBytes bounds the request line and headers together; a
	// request beyond it is answered 431. Zero means
	// DefaultMaxHeaderBytes (64 KiB).
	MaxHeaderBytes int `yaml:"maxHeaderBytes,omitempty"`
	// ReadHeaderTimeout is how long a client has to send the request
	// line and headers once it starts a request. Zero means
	// DefaultReadHeaderTimeout (10s).
	ReadHeaderTimeout time.Duration `yaml:"readHeaderTimeout,omitempty"`
	// IdleTimeout closes a keep-alive connection that waits this long for
	// its next request. Zero means DefaultIdleTimeout (120s).
	IdleTimeout time.Duration `yaml:"idleTimeout,omitempty"`
}

// WithDefaults returns l with every field that is not positive replaced
// by its default: the limits a listener is served with.
func (l ListenerLimits) WithDefaults() ListenerLimits {
	return ListenerLimits{
		MaxHeaderBytes:    positive(l.MaxHeaderBytes, DefaultMaxHeaderBytes),
		ReadHeaderTimeout: positive(l.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		IdleTimeout:       positive(l.IdleTimeout, DefaultIdleTimeout),
	}
}

// BackendPool is a backend's connection pool settings with the defaults
// applied: what its upstream transport is built from. It is comparable,
// so that backends with equal settings can share a pool.
type BackendPool struct {
	MaxIdleConnsPerHost int
	IdleConnTimeout     time.Duration
	DialTimeout         time.Duration
	TLSHandshakeTimeout time.Duration
}

// Pool returns b's connection pool settings, with every field that is not
// positive replaced by its default.
func (b Backend) Pool() BackendPool {
	return BackendPool{
		MaxIdleConnsPerHost: positive(b.MaxIdleConnsPerHost, DefaultMaxIdleConnsPerHost),
		IdleConnTimeout:     positive(b.IdleConnTimeout, DefaultIdleConnTimeout),
		DialTimeout:         positive(b.DialTimeout, DefaultDialTimeout),
		TLSHandshakeTimeout: positive(b.TLSHandshakeTimeout, DefaultTLSHandshakeTimeout),
	}
}

// positive is v when it is positive, def otherwise.
func positive[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
