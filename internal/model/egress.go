package model

import "time"

// Egress is the egress half of a configuration: the external hosts the
// gateway forwards to (servers), who may reach them (gateway-wide
// authorizations), and how destinations are dialled.
type Egress struct {
	// Servers are the external hosts served, each on an egress listener.
	Servers []EgressServer `yaml:"servers,omitempty"`
	// Authorizations are gateway-wide egress rules. When at least one
	// applies to a listener, egress through it is an allow-list: a host
	// that no server-level rule and no gateway-wide rule allows is denied.
	Authorizations []EgressAuthorization `yaml:"authorizations,omitempty"`
}

// ListenerEgress makes a listener an egress listener: it serves egress
// servers only, and denies what they do not allow.
type ListenerEgress struct {
	// ConnectPorts are the ports a CONNECT request may name. Empty means
	// DefaultConnectPorts.
	ConnectPorts []int `yaml:"connectPorts,omitempty"`
	// ProxyJWT, when set, is required of requests sent to the gateway as
	// a forward proxy (absolute-form targets and CONNECT): the token is
	// read from "Proxy-Authorization: Bearer ...", and a missing or
	// invalid one is answered 407.
	ProxyJWT *JWTRequirement `yaml:"proxyJwt,omitempty"`
	// Resolve sends a host and port to fixed addresses, in the form of
	// curl's --resolve (HOST:PORT:ADDR[,ADDR...]): SNI, Host and the
	// certificate check still use the host name. An overridden address is
	// allowed by being overridden, even when internal.
	Resolve []string `yaml:"resolve,omitempty"`
	// AllowCIDRs are internal ranges (private, loopback, link-local...)
	// that destinations may resolve to. By default every internal address
	// is refused, checked on the address actually dialled.
	AllowCIDRs []string `yaml:"allowCIDRs,omitempty"`
	// CAFile is the CA bundle TLS origination verifies external hosts
	// against for servers that name none; empty means the system roots.
	CAFile string `yaml:"caFile,omitempty"`
}

// DefaultConnectPorts are the ports CONNECT may name when a listener does
// not list its own.
var DefaultConnectPorts = []int{443}

// AnyHost is the host of a wildcard egress server and, in a gateway-wide
// rule, any external host.
const AnyHost = "*"

// EgressServer is one external host (or, with Host "*", any external host
// no other server names) reachable through an egress listener.
type EgressServer struct {
	Name string `yaml:"name"`
	// Listener names the egress listener; empty means the only one.
	Listener string `yaml:"listener,omitempty"`
	// Host is the external host name, or "*".
	Host string `yaml:"host"`
	// Destination, when set, is the host requests are sent to (and whose
	// name TLS checks) instead of the host the request named.
	Destination string `yaml:"destination,omitempty"`
	// Port is the external port. Zero means the port the request target
	// names, else 443 with TLS origination and 80 without.
	Port int `yaml:"port,omitempty"`
	// TLS originates TLS to the external host; nil means plain HTTP.
	TLS *OriginationTLS `yaml:"tls,omitempty"`
	// JWT is the server's authentication requirement; nil means none.
	JWT *JWTRequirement `yaml:"jwt,omitempty"`
	// Authorization holds server-level rules. When set, they alone decide
	// for the server's host: gateway-wide rules do not apply to it.
	Authorization *ServerAuthorization `yaml:"authorization,omitempty"`
	// Inject sets headers from secret files once a request is allowed.
	Inject []CredentialInjection `yaml:"inject,omitempty"`
	// Timeout bounds the exchange until response headers arrive; zero
	// means DefaultBackendTimeout.
	Timeout time.Duration `yaml:"timeout,omitempty"`
	Origin  Origin        `yaml:"origin,omitempty"`
}

// ServerAuthorization is an egress server's own authorization: a request
// must match one of the rules (with none, nothing is allowed).
type ServerAuthorization struct {
	Rules []Rule `yaml:"rules"`
}

// OriginationMode says how TLS to an external host is set up.
type OriginationMode string

// Origination modes.
const (
	// OriginateSimple verifies the server against CAFile (or the system
	// roots) and the external host name.
	OriginateSimple OriginationMode = "SIMPLE"
	// OriginateMutual is OriginateSimple and presents CertFile/KeyFile.
	OriginateMutual OriginationMode = "MUTUAL"
)

// OriginationTLS is TLS from the gateway to an external host. SNI and the
// certificate's name check always use the external host name.
type OriginationTLS struct {
	Mode OriginationMode `yaml:"mode"`
	// CAFile is the CA bundle; empty means the system roots.
	CAFile   string `yaml:"caFile,omitempty"`
	CertFile string `yaml:"certFile,omitempty"`
	KeyFile  string `yaml:"keyFile,omitempty"`
}

// CredentialInjection sets Header to Prefix followed by the contents of
// File (trailing white space removed) on every allowed request, replacing
// what the caller sent; the caller's Authorization header is removed too.
// The file is read again when it changes.
type CredentialInjection struct {
	Header string `yaml:"header"`
	Prefix string `yaml:"prefix,omitempty"`
	File   string `yaml:"file"`
}

// EgressAuthorization is a set of gateway-wide egress rules. Each rule is
// an ALLOW rule whose To entries must each name at least one host ("*"
// for any external host); a rule without From applies to every caller.
type EgressAuthorization struct {
	Name string `yaml:"name"`
	// Listeners names the egress listeners the rules apply to; empty
	// means every egress listener.
	Listeners []string `yaml:"listeners,omitempty"`
	// Rules: a request is allowed when one matches. An empty list denies
	// everything.
	Rules  []Rule `yaml:"rules"`
	Origin Origin `yaml:"origin,omitempty"`
}

// AppliesTo reports whether a's rules apply to the named listener.
func (a EgressAuthorization) AppliesTo(listener string) bool {
	if len(a.Listeners) == 0 {
		return true
	}
	for _, l := range a.Listeners {
		if l == listener {
			return true
		}
	}
	return false
}

// IsEgress reports whether the listener is an egress listener.
func (l Listener) IsEgress() bool { return l.Egress != nil }
