package model

// Listener is an address the gateway accepts connections on.
type Listener struct {
	// Name identifies the listener; routes refer to it.
	Name string `yaml:"name"`
	// Address is host:port to bind, such as "127.0.0.1:8080".
	Address string `yaml:"address"`
	// TLS, when set, makes the listener serve HTTPS. Nil means plain HTTP.
	TLS *ListenerTLS `yaml:"tls,omitempty"`
	// Paths allows request paths that are refused by default because
	// common backends read them differently from the gateway (see
	// NormalizeRequestPath). The zero value refuses them all.
	Paths PathOptions `yaml:"paths,omitempty"`
	// Limits bound what clients may send; zero fields mean the defaults
	// (see ListenerLimits).
	Limits ListenerLimits `yaml:"limits,omitempty"`
	// NumTrustedProxies is how many proxies in front of the listener
	// append to X-Forwarded-For and are trusted to (Istio's
	// numTrustedProxies, Envoy's xff_num_trusted_hops). The original
	// client address that remote IP rules see (From.RemoteIPBlocks,
	// CondRemoteIP) is then the NumTrustedProxies-th address from the
	// right of X-Forwarded-For; zero, the default, means the direct peer,
	// and X-Forwarded-For is never read. With fewer addresses than that,
	// or one that does not parse, it is the direct peer, as in Envoy.
	NumTrustedProxies int `yaml:"numTrustedProxies,omitempty"`
	// Egress, when set, makes this an egress listener (see
	// ListenerEgress): it serves Config.Egress servers, not routes.
	Egress *ListenerEgress `yaml:"egress,omitempty"`
	// H2C makes a plain HTTP listener also serve cleartext HTTP/2 to
	// clients that start with the HTTP/2 preface (prior knowledge, as
	// gRPC clients in plaintext mode do). A TLS listener serves HTTP/2
	// through ALPN without it; an egress listener serves HTTP/1.1 only,
	// so neither may set it. An upgrade to h2c is never taken.
	H2C    bool   `yaml:"h2c,omitempty"`
	Origin Origin `yaml:"origin,omitempty"`
}

// ClientCertMode says whether an HTTPS listener asks clients for a
// certificate.
type ClientCertMode string

// Client certificate modes. The zero value means ClientCertsRequire when a
// client CA is configured and no client certificates otherwise.
const (
	// ClientCertsRequire rejects a TLS handshake without a client
	// certificate that verifies against the client CA.
	ClientCertsRequire ClientCertMode = "require"
	// ClientCertsRequest asks for a certificate and verifies it when one
	// is sent, but accepts clients that send none.
	ClientCertsRequest ClientCertMode = "request"
)

// ListenerTLS is the server side of TLS on a listener.
//
// A listener serves one certificate, its default, or several chosen by the
// server name the client sends in its ClientHello (SNI): the certificate
// of Certificates that lists the name exactly, else the one with the
// longest wildcard that matches it, else the default. The default is
// CertFile/KeyFile (or CertPEM/KeyPEM) when set, else Certificates[0].
// Client certificate settings are the listener's, whatever certificate
// the server presents.
type ListenerTLS struct {
	CertFile string `yaml:"certFile"`
	KeyFile  string `yaml:"keyFile"`
	// CertPEM and KeyPEM, when set, hold the certificate chain and key
	// themselves (from a Kubernetes Secret), in place of the files; they
	// never appear in the configuration dump. CertSource names where they
	// came from ("Secret ns/name"), for messages.
	CertPEM    []byte `yaml:"-" json:"-"`
	KeyPEM     []byte `yaml:"-" json:"-"`
	CertSource string `yaml:"certSource,omitempty"`
	// Certificates are served, in place of the default one, to clients
	// that ask for one of their server names (see ListenerCertificate).
	// No name may appear in two of them.
	Certificates []ListenerCertificate `yaml:"certificates,omitempty"`
	// ClientCAFile, when set, enables mutual TLS: client certificates are
	// verified against these CAs and their SPIFFE URI SAN becomes the
	// source principal.
	ClientCAFile string         `yaml:"clientCAFile,omitempty"`
	ClientCerts  ClientCertMode `yaml:"clientCerts,omitempty"`
}

// HasDefault reports whether the listener names its default certificate
// itself (files or PEM), rather than taking Certificates[0].
func (t *ListenerTLS) HasDefault() bool {
	return t.CertFile != "" || t.KeyFile != "" || t.CertPEM != nil || t.KeyPEM != nil
}

// ListenerCertificate is a certificate a TLS listener serves to the
// clients whose SNI is one of ServerNames. A server name is a DNS name
// ("api.example.com"), matched exactly, or a wildcard "*.SUFFIX", which
// matches every name that ends in ".SUFFIX" (one label or more before it:
// "*.example.com" matches "a.example.com" and "a.b.example.com", not
// "example.com"), the longest matching suffix winning, as Envoy's
// filter chain server names do. Names compare without regard to case.
type ListenerCertificate struct {
	ServerNames []string `yaml:"serverNames"`
	CertFile    string   `yaml:"certFile,omitempty"`
	KeyFile     string   `yaml:"keyFile,omitempty"`
	// CertPEM, KeyPEM and CertSource are as in ListenerTLS: the
	// certificate held inline (from a Kubernetes Secret), never dumped.
	CertPEM    []byte `yaml:"-" json:"-"`
	KeyPEM     []byte `yaml:"-" json:"-"`
	CertSource string `yaml:"certSource,omitempty"`
}

// Inline reports whether the certificate is held in CertPEM and KeyPEM
// rather than read from files.
func (c *ListenerCertificate) Inline() bool { return c.CertPEM != nil || c.KeyPEM != nil }
