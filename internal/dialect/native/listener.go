package native

import (
	"slices"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

type listener struct {
	Name    string          `yaml:"name"`
	Address string          `yaml:"address"`
	TLS     *listenerTLS    `yaml:"tls"`
	Paths   listenerPaths   `yaml:"paths"`
	Limits  listenerLimits  `yaml:"limits"`
	Egress  *listenerEgress `yaml:"egress"`
	// NumTrustedProxies is model.Listener.NumTrustedProxies.
	NumTrustedProxies *int `yaml:"numTrustedProxies"`
	// H2C is model.Listener.H2C: cleartext HTTP/2 with prior knowledge.
	H2C bool `yaml:"h2c"`
}

// listenerPaths allows request paths refused by default.
type listenerPaths struct {
	AllowSemicolons                bool `yaml:"allowSemicolons"`
	AllowEncodedHash               bool `yaml:"allowEncodedHash"`
	AllowDoubleEncoding            bool `yaml:"allowDoubleEncoding"`
	AllowTrailingEncodedWhitespace bool `yaml:"allowTrailingEncodedWhitespace"`
}

// listenerLimits are the server limits; absent keys are the defaults.
type listenerLimits struct {
	MaxHeaderBytes        *int           `yaml:"maxHeaderBytes"`
	ReadHeaderTimeout     *time.Duration `yaml:"readHeaderTimeout"`
	IdleTimeout           *time.Duration `yaml:"idleTimeout"`
	BodyIdleTimeout       *time.Duration `yaml:"bodyIdleTimeout"`
	MaxRequestDuration    *time.Duration `yaml:"maxRequestDuration"`
	MaxConcurrentRequests *int           `yaml:"maxConcurrentRequests"`
	MaxConnections        *int           `yaml:"maxConnections"`
}

type listenerTLS struct {
	CertFile string `yaml:"certFile"`
	KeyFile  string `yaml:"keyFile"`
	// Certificates are model.ListenerTLS.Certificates: chosen by SNI.
	Certificates []listenerCertificate `yaml:"certificates"`
	ClientCAFile string                `yaml:"clientCAFile"`
	ClientCerts  string                `yaml:"clientCerts"`
}

// listenerCertificate is a certificate served to the clients that ask
// for one of its server names.
type listenerCertificate struct {
	ServerNames []string `yaml:"serverNames"`
	CertFile    string   `yaml:"certFile"`
	KeyFile     string   `yaml:"keyFile"`
}

func (c *converter) listener(in listener, path string) model.Listener {
	l := model.Listener{Name: in.Name, Address: in.Address, Origin: c.resource(path)}
	l.Paths = model.PathOptions(in.Paths)
	l.Limits = c.listenerLimits(in.Limits, strictyaml.Field(path, "limits"))
	l.Egress = c.listenerEgress(in.Egress, strictyaml.Field(path, "egress"))
	if n := in.NumTrustedProxies; n != nil {
		if *n < 0 {
			c.errorf(strictyaml.Field(path, "numTrustedProxies"), "must not be negative, got %d", *n)
		}
		l.NumTrustedProxies = *n
	}
	if l.H2C = in.H2C; in.H2C {
		switch {
		case in.TLS != nil:
			c.errorf(strictyaml.Field(path, "h2c"), "not with tls: a TLS listener serves HTTP/2 through ALPN already; h2c is cleartext HTTP/2 for plain listeners")
		case in.Egress != nil:
			c.errorf(strictyaml.Field(path, "h2c"), "not on an egress listener: it serves HTTP/1.1 only (CONNECT tunnels take over the connection)")
		}
	}
	if t := in.TLS; t != nil {
		l.TLS = &model.ListenerTLS{
			CertFile:     c.filePath(t.CertFile),
			KeyFile:      c.filePath(t.KeyFile),
			ClientCAFile: c.filePath(t.ClientCAFile),
			ClientCerts:  model.ClientCertMode(t.ClientCerts),
		}
		if t.ClientCAFile != "" && t.ClientCerts == "" {
			l.TLS.ClientCerts = model.ClientCertsRequire // the documented default
		}
		for _, lc := range t.Certificates {
			l.TLS.Certificates = append(l.TLS.Certificates, model.ListenerCertificate{
				ServerNames: lc.ServerNames, CertFile: c.filePath(lc.CertFile), KeyFile: c.filePath(lc.KeyFile),
			})
		}
	}
	return l
}

// listenerLimits converts the limits at path ("listeners[i].limits").
// Absent keys stay zero in the model, meaning the defaults; an explicit
// zero or a negative value is refused, except a zero maxRequestDuration,
// which is its default (no bound) written out.
func (c *converter) listenerLimits(in listenerLimits, path string) model.ListenerLimits {
	positive(c, strictyaml.Field(path, "maxHeaderBytes"), in.MaxHeaderBytes)
	positive(c, strictyaml.Field(path, "readHeaderTimeout"), in.ReadHeaderTimeout)
	positive(c, strictyaml.Field(path, "idleTimeout"), in.IdleTimeout)
	positive(c, strictyaml.Field(path, "bodyIdleTimeout"), in.BodyIdleTimeout)
	positive(c, strictyaml.Field(path, "maxConcurrentRequests"), in.MaxConcurrentRequests)
	positive(c, strictyaml.Field(path, "maxConnections"), in.MaxConnections)
	if d := in.MaxRequestDuration; d != nil && *d < 0 {
		c.errorf(strictyaml.Field(path, "maxRequestDuration"), "must not be negative (0 means no bound)")
	}
	l := model.ListenerLimits{
		MaxHeaderBytes:        or(in.MaxHeaderBytes, 0),
		ReadHeaderTimeout:     or(in.ReadHeaderTimeout, 0),
		IdleTimeout:           or(in.IdleTimeout, 0),
		BodyIdleTimeout:       or(in.BodyIdleTimeout, 0),
		MaxRequestDuration:    max(or(in.MaxRequestDuration, 0), 0),
		MaxConcurrentRequests: or(in.MaxConcurrentRequests, 0),
		MaxConnections:        or(in.MaxConnections, 0),
	}
	if field, err := l.Check(); err != nil {
		c.errorf(strictyaml.Field(path, field), "%v", err)
	}
	return l
}

// positive reports "must be positive" at path when the document sets it
// to zero or less. Zero stands for the default in the model, so a written
// zero is a mistake, and a negative limit or timeout has no meaning.
func positive[T int | time.Duration](c *converter, path string, v *T) {
	if v != nil && *v <= 0 && !slices.Contains(c.doc.Invalid, path) {
		c.errorf(path, "must be positive")
	}
}
