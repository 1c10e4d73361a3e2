package model

import "slices"

// ReferencedFiles lists every file the configuration names (certificates,
// keys, CA bundles, key sets), without duplicates, in a stable order: a
// change to any of them changes what a rebuild produces.
func (c *Config) ReferencedFiles() []string {
	var out []string
	add := func(fs ...string) {
		for _, f := range fs {
			if f != "" {
				out = append(out, f)
			}
		}
	}
	for _, l := range c.Listeners {
		if l.TLS != nil {
			add(l.TLS.CertFile, l.TLS.KeyFile, l.TLS.ClientCAFile)
			for _, c := range l.TLS.Certificates {
				add(c.CertFile, c.KeyFile)
			}
		}
	}
	for _, p := range c.Providers {
		add(p.JWKS.File, p.JWKS.CAFile)
	}
	for _, r := range c.Routes {
		add(r.Backend.CAFile, r.Backend.CertFile, r.Backend.KeyFile)
		for _, b := range r.Backends {
			add(b.CAFile, b.CertFile, b.KeyFile)
		}
	}
	for _, l := range c.Listeners {
		if l.Egress != nil {
			add(l.Egress.CAFile)
		}
	}
	for _, s := range c.Egress.Servers {
		if s.TLS != nil {
			add(s.TLS.CAFile, s.TLS.CertFile, s.TLS.KeyFile)
		}
		for _, in := range s.Inject {
			add(in.File)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
