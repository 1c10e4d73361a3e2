package native

import "jwtgate.dev/jwtgate/internal/model"

type listener struct {
	Name    string       `yaml:"name"`
	Address string       `yaml:"address"`
	TLS     *listenerTLS `yaml:"tls"`
}

type listenerTLS struct {
	CertFile     string `yaml:"certFile"`
	KeyFile      string `yaml:"keyFile"`
	ClientCAFile string `yaml:"clientCAFile"`
	ClientCerts  string `yaml:"clientCerts"`
}

func (c *converter) listener(in listener, path string) model.Listener {
	l := model.Listener{Name: in.Name, Address: in.Address, Origin: c.origin(path)}
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
	}
	return l
}
