package native

import (
	"time"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// egress is the native `egress` section.
type egress struct {
	Servers        []egressServer        `yaml:"servers"`
	Authorizations []egressAuthorization `yaml:"authorizations"`
}

// listenerEgress is a listener's `egress` settings.
type listenerEgress struct {
	ConnectPorts []int        `yaml:"connectPorts"`
	ProxyJWT     *requirement `yaml:"proxyJwt"`
	Resolve      []string     `yaml:"resolve"`
	AllowCIDRs   []string     `yaml:"allowCIDRs"`
	CAFile       string       `yaml:"caFile"`
}

type egressServer struct {
	Name          string               `yaml:"name"`
	Listener      string               `yaml:"listener"`
	Host          string               `yaml:"host"`
	Destination   string               `yaml:"destination"`
	Port          int                  `yaml:"port"`
	TLS           *originationTLS      `yaml:"tls"`
	JWT           *requirement         `yaml:"jwt"`
	Authorization *serverAuthorization `yaml:"authorization"`
	Inject        []injection          `yaml:"inject"`
	Timeout       *time.Duration       `yaml:"timeout"`
}

type originationTLS struct {
	Mode     string `yaml:"mode"`
	CAFile   string `yaml:"caFile"`
	CertFile string `yaml:"certFile"`
	KeyFile  string `yaml:"keyFile"`
}

type serverAuthorization struct {
	Rules []rule `yaml:"rules"`
}

type injection struct {
	Header string `yaml:"header"`
	Prefix string `yaml:"prefix"`
	File   string `yaml:"file"`
}

type egressAuthorization struct {
	Name      string   `yaml:"name"`
	Listeners []string `yaml:"listeners"`
	Rules     []rule   `yaml:"rules"`
}

// listenerEgress converts a listener's egress settings at path.
func (c *converter) listenerEgress(in *listenerEgress, path string) *model.ListenerEgress {
	if in == nil {
		return nil
	}
	out := &model.ListenerEgress{ConnectPorts: in.ConnectPorts, Resolve: in.Resolve, AllowCIDRs: in.AllowCIDRs, CAFile: c.filePath(in.CAFile)}
	if in.ProxyJWT != nil {
		q := c.requirement(*in.ProxyJWT, strictyaml.Field(path, "proxyJwt"))
		out.ProxyJWT = &q
	}
	return out
}

func (c *converter) egressServer(in egressServer, path string) model.EgressServer {
	s := model.EgressServer{
		Name: in.Name, Listener: in.Listener, Host: in.Host, Destination: in.Destination, Port: in.Port,
		Timeout: or(in.Timeout, 0), Origin: c.resource(path),
	}
	positive(c, strictyaml.Field(path, "timeout"), in.Timeout)
	if t := in.TLS; t != nil {
		s.TLS = &model.OriginationTLS{
			Mode:     model.OriginationMode(t.Mode),
			CAFile:   c.filePath(t.CAFile),
			CertFile: c.filePath(t.CertFile),
			KeyFile:  c.filePath(t.KeyFile),
		}
	}
	if in.JWT != nil {
		q := c.requirement(*in.JWT, strictyaml.Field(path, "jwt"))
		s.JWT = &q
	}
	if in.Authorization != nil {
		s.Authorization = &model.ServerAuthorization{Rules: c.rules(in.Authorization.Rules, strictyaml.Field(path, "authorization.rules"))}
	}
	for _, i := range in.Inject {
		s.Inject = append(s.Inject, model.CredentialInjection{Header: i.Header, Prefix: i.Prefix, File: c.filePath(i.File)})
	}
	return s
}

func (c *converter) egressAuthorization(in egressAuthorization, path string) model.EgressAuthorization {
	return model.EgressAuthorization{
		Name: in.Name, Listeners: in.Listeners,
		Rules:  c.rules(in.Rules, strictyaml.Field(path, "rules")),
		Origin: c.resource(path),
	}
}
