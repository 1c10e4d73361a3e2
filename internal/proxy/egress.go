package proxy

import (
	"fmt"
	"log/slog"
	"net"
	"net/http/httputil"
	"slices"
	"strconv"
	"strings"
	"time"

	"jwtgate.dev/jwtgate/internal/authn"
	"jwtgate.dev/jwtgate/internal/authz"
	"jwtgate.dev/jwtgate/internal/egress"
	"jwtgate.dev/jwtgate/internal/metrics"
	"jwtgate.dev/jwtgate/internal/model"
)

// egressListener is what an egress listener adds to a listener: how it
// dials external hosts, which ports CONNECT may name, and the token it
// requires of forward-proxy clients.
type egressListener struct {
	dialer       *egress.Dialer
	caFile       string // for servers that name no CA
	dialTimeout  time.Duration
	connectPorts []int
	// proxyReq reads "Proxy-Authorization: Bearer" on absolute-form and
	// CONNECT requests; nil when the listener requires no token.
	proxyReq *authn.Requirement
	// proxyAuthn counts the proxy token's outcomes against its providers
	// (only its authentication metrics are set).
	proxyAuthn *route
	// tunnels are the CONNECT tunnels open on the listener; they are
	// closed with the Runtime (see Runtime.closeTunnels).
	tunnels tunnelSet
	// linger bounds a half-closed tunnel's silence (Options.TunnelLinger).
	linger time.Duration
}

// egressRoute is what an egress server adds to a route: the destination
// is chosen per request from its host.
type egressRoute struct {
	port   int    // fixed external port; 0: the request's, else the default
	dest   string // fixed destination host; "": the request's
	tls    bool   // originate TLS (a plain request is upgraded)
	proxy  *httputil.ReverseProxy
	inject []*injector
}

// destPort is the external port for a request that named port (0 for
// none).
func (e *egressRoute) destPort(port int) int {
	switch {
	case e.port != 0:
		return e.port
	case port != 0:
		return port
	case e.tls:
		return 443
	}
	return 80
}

// compileEgress builds, on every egress listener, its dialer and one
// route per egress server: exact hosts first, in configuration order, and
// the wildcard server last. Which rules authorize each server is
// model.Config.EgressPlans' decision.
func (b *builder) compileEgress() {
	for i, ml := range b.cfg.Listeners {
		l := b.rt.byName[ml.Name]
		if ml.Egress == nil || l == nil {
			continue
		}
		path, res := fmt.Sprintf("listeners[%d]", i), fmt.Sprintf("listener %q", ml.Name)
		errf := func(field, format string, args ...any) { b.errorf(ml.Origin, path, res, field, format, args...) }
		l.egress = b.egressListener(ml, errf)
	}
	var wildcards []*route
	plans := b.cfg.EgressPlans()
	for i, s := range b.cfg.Egress.Servers {
		path, res := fmt.Sprintf("egress.servers[%d]", i), fmt.Sprintf("egress server %q", s.Name)
		errf := func(field, format string, args ...any) { b.errorf(s.Origin, path, res, field, format, args...) }
		plan := plans[i]
		l := b.rt.byName[plan.Listener]
		if l == nil || l.egress == nil {
			continue // reported by validation
		}
		r := &route{name: s.Name, listener: l.name}
		if s.Host != model.AnyHost {
			r.hosts = []hostMatcher{compileHost(s.Host)}
		}
		r.egress = b.egressRoute(s, l.egress, errf)
		ex := RouteExplanation{Route: s.Name, Listener: l.name, Match: "hosts=" + s.Host, Backend: "(invalid)"}
		if r.egress != nil {
			ex.Backend = egressBackend(s)
		}
		var provNames []string
		if q := s.JWT; q != nil {
			provNames = q.Providers
			r.req = b.requirement(model.Route{Name: s.Name, JWT: q}, model.AppliedJWT{Requirement: q, From: "route"}, errf)
			ex.JWT = &JWTExplanation{Providers: slices.Clone(q.Providers), RequireAll: q.RequireAll, Mode: orMode(q.Mode), Phase: model.PhasePreAuthz, From: "route"}
		}
		// The explanation says first which rules decide for the host
		// (the precedence of server-level and gateway-wide rules).
		_, decision, found := strings.Cut(plan.String(), "): ")
		if !found {
			decision = plan.String()
		}
		ex.Policies = []string{"egress: " + decision}
		if plan.Policies != nil {
			r.engine = b.egressEngine(plan.Policies, plan.DecidedBy == model.DecidedByServer, errf)
			if r.engine != nil {
				ex.Policies = append(ex.Policies, r.engine.Describe()...)
			}
		}
		r.compileMetrics(b.opts.Metrics, l.name, provNames, policyMetrics(b.opts.Metrics, plan.Policies))
		b.rt.explain = append(b.rt.explain, ex)
		if s.Host == model.AnyHost {
			wildcards = append(wildcards, r)
		} else {
			l.routes = append(l.routes, r)
		}
	}
	for _, r := range wildcards {
		b.rt.byName[r.listener].routes = append(b.rt.byName[r.listener].routes, r)
	}
}

func orMode(m model.AuthMode) model.AuthMode {
	if m == "" {
		return model.AuthRequired
	}
	return m
}

// egressBackend describes a server's destination for validate and the
// config dump.
func egressBackend(s model.EgressServer) string {
	host := s.Host
	switch {
	case s.Destination != "":
		host = s.Destination
	case host == model.AnyHost:
		host = "{request host}"
	}
	scheme, port := "http", "80"
	if s.TLS != nil {
		scheme, port = "https", "443"
	}
	if s.Port != 0 {
		return "egress " + scheme + "://" + host + ":" + strconv.Itoa(s.Port)
	}
	return "egress " + scheme + "://" + host + " (port: the request's, else " + port + ")"
}

func (b *builder) egressListener(ml model.Listener, errf func(field, format string, args ...any)) *egressListener {
	e := &egressListener{connectPorts: ml.Egress.ConnectPorts, dialTimeout: model.DefaultDialTimeout, caFile: ml.Egress.CAFile, linger: b.opts.TunnelLinger}
	if e.linger <= 0 {
		e.linger = DefaultTunnelLinger
	}
	if len(e.connectPorts) == 0 {
		e.connectPorts = model.DefaultConnectPorts
	}
	d := &egress.Dialer{Resolver: b.opts.EgressResolver, Dial: b.opts.EgressDial, Overrides: egress.Overrides{}}
	if d.Dial == nil {
		d.Dial = (&net.Dialer{Timeout: e.dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	}
	// Flags first, so that the configuration's entries win for the same
	// host and port.
	resolve := append(slices.Clone(b.opts.Resolve), ml.Egress.Resolve...)
	for i, s := range resolve {
		key, addrs, err := egress.ParseOverride(s)
		if err != nil {
			if j := i - len(b.opts.Resolve); j >= 0 {
				errf(fmt.Sprintf("egress.resolve[%d]", j), "%v", err)
			}
			continue
		}
		d.Overrides[key] = addrs
	}
	for _, c := range ml.Egress.AllowCIDRs {
		if p, err := model.ParseCIDR(c); err == nil {
			d.Allow = append(d.Allow, p)
		}
	}
	e.dialer = d
	// The listener's CA bundle is checked here, once, against the
	// listener, even when no server uses it yet.
	if e.caFile != "" {
		if _, err := loadCertPool(e.caFile); err != nil {
			errf("egress.caFile", "%v", err)
		}
	}
	if q := ml.Egress.ProxyJWT; q != nil {
		for j, name := range q.Providers {
			if b.providers[name] == nil {
				if !b.badProviders[name] {
					errf(fmt.Sprintf("egress.proxyJwt.providers[%d]", j), "provider %q is not defined", name)
				}
				return e
			}
		}
		req, err := authn.NewProxyRequirement(*q, b.providers)
		if err != nil {
			errf("egress.proxyJwt", "%v", err)
			return e
		}
		e.proxyReq = req
		e.proxyAuthn = &route{name: ml.Name}
		if m := b.opts.Metrics; m != nil {
			e.proxyAuthn.authnMetrics = map[string]*metrics.ProviderMetrics{}
			for i, name := range q.Providers {
				h := m.Provider(name)
				e.proxyAuthn.authnMetrics[name] = h
				if i == 0 {
					e.proxyAuthn.firstProvider = h
				}
			}
		}
	}
	return e
}

func (b *builder) egressRoute(s model.EgressServer, el *egressListener, errf func(field, format string, args ...any)) *egressRoute {
	e := &egressRoute{port: s.Port, tls: s.TLS != nil, dest: strings.ToLower(s.Destination)}
	k := transportKey{https: e.tls, timeout: backendTimeout(model.Backend{Timeout: s.Timeout}), pool: model.Backend{}.Pool(), dialer: el.dialer}
	if t := s.TLS; t != nil {
		k.caFile, k.certFile, k.keyFile = t.CAFile, t.CertFile, t.KeyFile
		if k.caFile == "" {
			k.caFile = el.caFile
		}
	}
	te := b.transports[k]
	if te == nil {
		te = &transportEntry{}
		te.tr, te.errs = newTransport(k)
		b.transports[k] = te
		b.rt.transports = append(b.rt.transports, te.tr)
	}
	bad := false
	caFromListener := s.TLS != nil && s.TLS.CAFile == ""
	for _, fe := range te.errs {
		bad = true
		if caFromListener && fe.field == "backend.caFile" {
			continue // the listener's egress.caFile: reported against it
		}
		errf(strings.Replace(fe.field, "backend.", "tls.", 1), "%v", fe.err)
	}
	for i, in := range s.Inject {
		inj, err := newInjector(in, b.rt.logger)
		if err != nil {
			errf(fmt.Sprintf("inject[%d].file", i), "%v", err)
			bad = true
			continue
		}
		e.inject = append(e.inject, inj)
	}
	if bad {
		return nil
	}
	e.proxy = &httputil.ReverseProxy{
		// The request's URL is the destination already (see
		// forwardEgress), and the Host sent is its host. Rewrite leaves
		// out X-Forwarded-*: the caller's addresses are not sent to
		// external hosts.
		Rewrite:      func(pr *httputil.ProxyRequest) { pr.Out.Host = pr.Out.URL.Host },
		Transport:    te.tr,
		BufferPool:   bufferPool{},
		ErrorHandler: upstreamError,
		ErrorLog:     slog.NewLogLogger(b.rt.logger.Handler(), slog.LevelDebug),
	}
	return e
}

// egressEngine compiles the policies that decide for an egress server.
// Each is compiled alone first, so that an error is reported once against
// the resource that has it.
func (b *builder) egressEngine(pols []model.Policy, serverLevel bool, errf func(field, format string, args ...any)) *authz.Engine {
	// Server names and egress authorization names are unique each among
	// their own kind only: the key says which kind the names are of, so
	// that a server's rules never stand in for an authorization's.
	kind := "egress authorizations"
	if serverLevel {
		kind = "egress server"
	}
	names := make([]string, len(pols))
	for i, p := range pols {
		names[i] = p.Name
	}
	key := kind + "\x00" + strings.Join(names, "\x00")
	if e, ok := b.engines[key]; ok {
		return e
	}
	if b.badPolicies[key] {
		return nil
	}
	for _, p := range pols {
		if _, err := b.authz.Compile([]model.Policy{p}); err != nil {
			b.badPolicies[key] = true
			for _, e := range unjoin(err) {
				field, msg := "", e.Error()
				if pe, ok := e.(*authz.PolicyError); ok {
					field, msg = pe.Field, pe.Err.Error()
				}
				if serverLevel {
					errf(prefixField("authorization", field), "%s", msg)
				} else {
					b.errorf(p.Origin, "", fmt.Sprintf("egress authorization %q", p.Name), field, "%s", msg)
				}
			}
		}
	}
	if b.badPolicies[key] {
		return nil
	}
	e, err := b.authz.Compile(pols)
	if err != nil {
		errf("", "compiling egress rules: %v", err)
		return nil
	}
	b.engines[key] = e
	return e
}

func prefixField(prefix, f string) string {
	if f == "" {
		return prefix
	}
	return prefix + "." + f
}
