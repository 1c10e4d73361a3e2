package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"jwtgate.dev/jwtgate/internal/authn"
	"jwtgate.dev/jwtgate/internal/authz"
	"jwtgate.dev/jwtgate/internal/egress"
	"jwtgate.dev/jwtgate/internal/metrics"
	"jwtgate.dev/jwtgate/internal/model"
)

// Options for Build.
type Options struct {
	// Logger receives the access log (one "access" line per request, at
	// level Info) and diagnostics. Nil means nothing is logged.
	Logger *slog.Logger
	// Now is the clock tokens are checked against. Nil means time.Now.
	Now func() time.Time
	// HTTPClient, when set, fetches every remote key set (tests).
	HTTPClient *http.Client
	// Previous is the Runtime being replaced: providers whose
	// configuration (and key files) did not change are taken over from it
	// rather than built anew. Nil builds every provider.
	Previous *Runtime
	// Metrics receives the request pipeline's counters. Nil records
	// nothing.
	Metrics *metrics.Metrics
	// Resolve adds resolution overrides (curl's --resolve form) to every
	// egress listener; a listener's own entries win for the same host
	// and port.
	Resolve []string
	// EgressResolver and EgressDial replace the system resolver and
	// dialer of egress listeners (tests). Nil means the real ones.
	EgressResolver egress.Resolver
	EgressDial     egress.DialFunc
	// TunnelLinger bounds how long a CONNECT tunnel whose one side has
	// closed its end stays up with nothing coming from the other side
	// (HAProxy's client-fin and server-fin timeouts). Zero means
	// DefaultTunnelLinger.
	TunnelLinger time.Duration
	// Denied, when set, receives the requests the gateway refuses itself
	// (denied.go), for the admin console. Nil keeps none.
	Denied *DeniedLog
}

// DefaultTunnelLinger is the default of Options.TunnelLinger.
const DefaultTunnelLinger = 30 * time.Second

// Runtime is a compiled configuration: per listener a route table, and per
// route its JWT requirement, policy engine and backend. It is immutable
// once built; a new configuration builds a new Runtime. Serve it with a
// Server, or in tests through Handler.
type Runtime struct {
	listeners []*listener  // in configuration order
	limits    serverLimits // the listeners' server limits (limits.go)
	h2c       h2cListeners // plain listeners that serve h2c (http2.go)
	byName    map[string]*listener
	byAddr    map[string]*listener
	providers []*sharedProvider
	// keySets is where the providers share remote key sets (one fetch,
	// one copy of the keys per key source); a reload takes it over with
	// the providers it borrows.
	keySets *authn.KeySets
	// strip are the canonical names of every header any provider sets;
	// they are removed from every incoming request.
	strip      []string
	transports []*http.Transport
	h1         []*h1Transport
	explain    []RouteExplanation
	logger     *slog.Logger
	denied     *DeniedLog // Options.Denied

	inflight  atomic.Int64
	startOnce sync.Once
	closeOnce sync.Once
}

// RouteExplanation describes one compiled route for `jwtgate validate`
// and the admin config dump.
type RouteExplanation struct {
	Route    string `json:"route" yaml:"route"`
	Listener string `json:"listener" yaml:"listener"`
	// Match summarizes the match, such as "hosts=www.example.com
	// paths=exact:/headers"; "any" matches every request.
	Match   string `json:"match" yaml:"match"`
	Backend string `json:"backend" yaml:"backend"`
	// JWT is nil for a route with no JWT requirement (open).
	JWT *JWTExplanation `json:"jwt,omitempty" yaml:"jwt,omitempty"`
	// Policies describe the authorization policies in evaluation order
	// (authz.Engine.Describe); empty when none applies.
	Policies []string `json:"policies,omitempty" yaml:"policies,omitempty"`
}

// JWTExplanation is the JWT requirement that governs a route.
type JWTExplanation struct {
	Providers  []string       `json:"providers" yaml:"providers"`
	RequireAll bool           `json:"requireAll,omitempty" yaml:"requireAll,omitempty"`
	Mode       model.AuthMode `json:"mode" yaml:"mode"`
	Phase      model.Phase    `json:"phase" yaml:"phase"`
	Priority   int            `json:"priority,omitempty" yaml:"priority,omitempty"`
	// From is "route" or `jwtPolicy "NAME"`.
	From string `json:"from" yaml:"from"`
	// NotApplied are JWT policies that also reach the route but lose to
	// the one applied.
	NotApplied []string `json:"notApplied,omitempty" yaml:"notApplied,omitempty"`
}

// Build compiles cfg, already validated, into a Runtime. It loads the
// files the configuration names (certificates, keys, CA bundles, key
// sets) and reports every problem it finds as an Issue located by the
// resource's origin and a field path, never stopping at the first. When
// the issues hold an error the Runtime is nil. Build starts no goroutine
// and opens no socket: Server.Start does.
func Build(cfg *model.Config, opts Options) (*Runtime, model.Issues) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	b := &builder{cfg: cfg, rt: &Runtime{
		byName: map[string]*listener{},
		byAddr: map[string]*listener{},
		logger: logger,
		denied: opts.Denied,
	}, opts: opts, transports: map[transportKey]*transportEntry{}, engines: map[string]*authz.Engine{}, sets: map[string]*policySet{}, reqs: map[string]*authn.Requirement{}, authz: authz.NewCompiler()}
	b.compileListeners()
	b.compileProviders()
	b.compilePolicies()
	b.compileRoutes()
	b.compileEgress()
	if len(b.issues.Errors()) > 0 {
		b.rt.Close()
		return nil, b.issues
	}
	return b.rt, b.issues
}

type builder struct {
	cfg    *model.Config
	opts   Options
	rt     *Runtime
	issues model.Issues

	providers    map[string]*authn.Provider
	badProviders map[string]bool
	badPolicies  map[string]bool
	authz        *authz.Compiler // this build's, remembering CEL programs
	transports   map[transportKey]*transportEntry
	engines      map[string]*authz.Engine // egress: by the names of their policies
	sets         map[string]*policySet    // by the indexes of their policies
	noPolicies   *policySet
	reqs         map[string]*authn.Requirement // by AppliedJWT.From, for JWT policies
}

type transportEntry struct {
	tr   *http.Transport
	h1   *h1Transport // tr's own HTTP/1.1 path, for plain-HTTP backends
	errs []fieldError
}

func (b *builder) errorf(o model.Origin, path, resource, field string, format string, args ...any) {
	if o.Path == "" {
		o.Path = path
	}
	b.issues = append(b.issues, model.Issue{Severity: model.Error, Origin: o, Resource: resource, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (b *builder) compileListeners() {
	for i, ml := range b.cfg.Listeners {
		path, res := fmt.Sprintf("listeners[%d]", i), fmt.Sprintf("listener %q", ml.Name)
		if _, dup := b.rt.byName[ml.Name]; dup {
			b.errorf(ml.Origin, path, res, "name", "duplicate listener name")
			continue
		}
		l := &listener{name: ml.Name, address: ml.Address, rt: b.rt, paths: ml.Paths, trustedProxies: ml.NumTrustedProxies,
			metrics: b.opts.Metrics.Listener(ml.Name), noRoute: b.opts.Metrics.Route(ml.Name, metrics.NoRoute)}
		_, port, err := net.SplitHostPort(ml.Address)
		if err == nil {
			l.port, err = strconv.Atoi(port)
		}
		if err != nil {
			b.errorf(ml.Origin, path, res, "address", "invalid address %q: want host:port", ml.Address)
		}
		if _, dup := b.rt.byAddr[ml.Address]; dup {
			b.errorf(ml.Origin, path, res, "address", "address %s is used by another listener", ml.Address)
		}
		if ml.TLS != nil {
			var errs []fieldError
			l.tls, errs = listenerTLS(ml.TLS)
			for _, e := range errs {
				b.errorf(ml.Origin, path, res, e.field, "%v", e.err)
			}
		}
		b.recordLimits(ml)
		b.recordProtocols(ml, l, path, res) // http2.go
		b.rt.listeners = append(b.rt.listeners, l)
		b.rt.byName[l.name] = l
		b.rt.byAddr[l.address] = l
	}
}

func (b *builder) compileProviders() {
	b.providers = map[string]*authn.Provider{}
	b.badProviders = map[string]bool{}
	b.rt.keySets = authn.NewKeySets()
	if prev := b.opts.Previous; prev != nil && prev.keySets != nil {
		b.rt.keySets = prev.keySets
	}
	strip := map[string]bool{}
	for i, mp := range b.cfg.Providers {
		path, res := fmt.Sprintf("providers[%d]", i), fmt.Sprintf("provider %q", mp.Name)
		if _, dup := b.providers[mp.Name]; dup || b.badProviders[mp.Name] {
			b.errorf(mp.Origin, path, res, "name", "duplicate provider name")
			continue
		}
		fp := providerFingerprint(mp)
		sp := borrow(b.opts.Previous, mp.Name, fp)
		if sp == nil {
			p, err := authn.NewProvider(mp, authn.Options{Now: b.opts.Now, Logger: b.rt.logger, HTTPClient: b.opts.HTTPClient, KeySets: b.rt.keySets})
			if err != nil {
				b.badProviders[mp.Name] = true
				b.errorf(mp.Origin, path, res, keySourceField(mp.JWKS, err), "%s", strings.TrimPrefix(err.Error(), "provider "+mp.Name+": "))
				continue
			}
			sp = &sharedProvider{Provider: p, fingerprint: fp}
			sp.refs.Store(1)
		}
		p := sp.Provider
		b.providers[mp.Name] = p
		b.rt.providers = append(b.rt.providers, sp)
		for _, h := range p.OutputHeaders() {
			strip[http.CanonicalHeaderKey(h)] = true
		}
	}
	for h := range strip {
		b.rt.strip = append(b.rt.strip, h)
	}
	slices.Sort(b.rt.strip)
}

// keySourceField is the field a provider error is about: the key source
// when authn says the key material is unusable, the provider otherwise.
func keySourceField(js model.KeySource, err error) string {
	var ke *authn.KeyError
	if !errors.As(err, &ke) {
		return ""
	}
	switch {
	case js.Inline != "":
		return "jwks.inline"
	case js.File != "":
		return "jwks.file"
	case js.PEM != "":
		return "jwks.pem"
	}
	return "jwks"
}

// policies compiles each policy alone first, so that an error is reported
// once, against the policy that has it.
func (b *builder) compilePolicies() {
	b.badPolicies = map[string]bool{}
	for i, p := range b.cfg.Policies {
		if _, err := b.authz.Compile([]model.Policy{p}); err != nil {
			b.badPolicies[p.Name] = true
			path, res := fmt.Sprintf("policies[%d]", i), fmt.Sprintf("policy %q", p.Name)
			for _, e := range unjoin(err) {
				field, msg := "", e.Error()
				if pe, ok := e.(*authz.PolicyError); ok {
					field, msg = pe.Field, pe.Err.Error()
				}
				b.errorf(p.Origin, path, res, field, "%s", msg)
			}
		}
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func (b *builder) compileRoutes() {
	for i := range b.cfg.Routes {
		mr := b.cfg.Routes[i]
		path, res := fmt.Sprintf("routes[%d]", i), fmt.Sprintf("route %q", mr.Name)
		errf := func(field, format string, args ...any) { b.errorf(mr.Origin, path, res, field, format, args...) }

		ln := mr.Listener
		if ln == "" && len(b.rt.listeners) == 1 {
			ln = b.rt.listeners[0].name
			mr.Listener = ln // policies and JWT policies select by it
		}
		l := b.rt.byName[ln]
		if l == nil {
			if ln == "" {
				errf("listener", "no listener named and there is not exactly one listener")
			} else {
				errf("listener", "listener %q is not defined", ln)
			}
		}
		r := &route{name: mr.Name, listener: ln, methods: slices.Clone(mr.Match.Methods), headers: compileHeaders(mr.Match.Headers)}
		for _, h := range mr.Match.Hosts {
			r.hosts = append(r.hosts, compileHost(h))
		}
		for j, pm := range mr.Match.Paths {
			m, err := compilePath(pm)
			if err != nil {
				errf(fmt.Sprintf("match.paths[%d]", j), "%v", err)
				continue
			}
			r.paths = append(r.paths, m)
		}
		if len(mr.Backends) == 0 && mr.Redirect == nil && mr.DirectResponse == nil {
			r.backend = b.backend(mr.Backend, "backend", errf)
		}
		b.compileActions(mr, r, errf) // routeaction.go: conditions, splits, redirects, rewrites, headers

		applied := b.cfg.EffectiveJWT(mr)
		ex := RouteExplanation{Route: mr.Name, Listener: ln, Match: summarizeMatch(mr.Match), Backend: describeTarget(mr, r)}
		var provNames []string
		if q := applied.Requirement; q != nil {
			provNames = q.Providers
			r.corsPreflight = !q.AuthenticatePreflight
			r.postAuthz = q.Phase == model.PhasePostAuthz
			r.req = b.requirement(mr, applied, errf)
			phase := q.Phase
			if phase == "" {
				phase = model.PhasePreAuthz
			}
			mode := q.Mode
			if mode == "" {
				mode = model.AuthRequired
			}
			ex.JWT = &JWTExplanation{Providers: slices.Clone(q.Providers), RequireAll: q.RequireAll, Mode: mode, Phase: phase, Priority: q.Priority, From: applied.From, NotApplied: applied.NotApplied}
		}
		set := b.policySet(b.cfg.PolicyIndexesFor(mr))
		r.engine, ex.Policies = set.engine, set.describe
		r.compileMetrics(b.opts.Metrics, ln, provNames, set.metrics)
		b.rt.explain = append(b.rt.explain, ex)
		if l != nil {
			l.routes = append(l.routes, r)
		}
	}
}

// backend compiles a route's backend, or one of its weighted backends:
// field is where it is ("backend", "backends[2]").
func (b *builder) backend(mb model.Backend, field string, errf func(field, format string, args ...any)) *backend {
	u, err := url.Parse(mb.URL)
	if err != nil {
		errf(field+".url", "invalid URL: %v", err)
		return nil
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errf(field+".url", "%q is not an http:// or https:// URL with a host", mb.URL)
		return nil
	}
	if u.User != nil || u.Fragment != "" {
		errf(field+".url", "must not have user information or a fragment")
		return nil
	}
	if u.Path == "/" {
		u.Path, u.RawPath = "", ""
	}
	k := transportKey{https: u.Scheme == "https", timeout: backendTimeout(mb), pool: mb.Pool(), endpoints: strings.Join(mb.Endpoints, " "), protocol: mb.Protocol}
	if k.https {
		k.caFile, k.certFile, k.keyFile, k.serverName = mb.CAFile, mb.CertFile, mb.KeyFile, mb.ServerName
	}
	te := b.transports[k]
	if te == nil {
		te = &transportEntry{}
		te.tr, te.errs = newTransport(k)
		b.transports[k] = te
		b.rt.transports = append(b.rt.transports, te.tr)
		for _, e := range te.errs {
			errf(field+strings.TrimPrefix(e.field, "backend"), "%v", e.err)
		}
	}
	var rtp http.RoundTripper = te.tr
	if !k.https && k.protocol != model.BackendHTTP2 {
		if te.h1 == nil {
			te.h1 = newH1Transport(te.tr, te.tr.DialContext, k.pool.MaxIdleConnsPerHost, te.tr.IdleConnTimeout, te.tr.ResponseHeaderTimeout)
			b.rt.h1 = append(b.rt.h1, te.h1)
		}
		rtp = te.h1
	}
	be := newBackend(u, rtp, b.rt.logger)
	be.unavailable = mb.Unavailable
	return be
}

// describeBackend is a backend for Explain: its URL (query values
// redacted), and why it is unavailable or where its endpoints are.
func describeBackend(be *backend, mb model.Backend) string {
	if be == nil {
		return "(invalid)"
	}
	s := be.url
	switch {
	case be.unavailable != "":
		s += " (unavailable: " + be.unavailable + ")"
	case len(mb.Endpoints) > 0:
		s += " (endpoints: " + strings.Join(mb.Endpoints, ", ") + ")"
	}
	return s
}

func (b *builder) requirement(mr model.Route, applied model.AppliedJWT, errf func(field, format string, args ...any)) *authn.Requirement {
	if q, ok := b.reqs[applied.From]; ok && applied.From != "route" {
		return q
	}
	field := "jwt"
	report := errf
	if applied.From != "route" {
		// The requirement comes from a JWT policy: report against it.
		for i, p := range b.cfg.JWTPolicies {
			if `jwtPolicy "`+p.Name+`"` == applied.From {
				path, res := fmt.Sprintf("jwtPolicies[%d]", i), fmt.Sprintf("jwtPolicy %q", p.Name)
				report = func(f, format string, args ...any) { b.errorf(p.Origin, path, res, f, format, args...) }
				field = "requirement"
				break
			}
		}
	}
	for j, name := range applied.Requirement.Providers {
		if b.badProviders[name] {
			return nil // already reported against the provider
		}
		if b.providers[name] == nil {
			report(fmt.Sprintf("%s.providers[%d]", field, j), "provider %q is not defined", name)
			return nil
		}
	}
	q, err := authn.NewRequirement(*applied.Requirement, b.providers)
	if err != nil {
		report(field, "%v", err)
		return nil
	}
	if applied.From != "route" {
		b.reqs[applied.From] = q
	}
	return q
}

// policySet is the compiled form of the policies that reach a route;
// routes that the same policies reach share one.
type policySet struct {
	policies []model.Policy
	engine   *authz.Engine // nil when none applies, or one failed
	describe []string      // the engine's Describe, shared read-only
	metrics  map[string]*metrics.PolicyMetrics
}

// policySet compiles the policies at idx (into b.cfg.Policies) once per
// distinct set.
func (b *builder) policySet(idx []int) *policySet {
	if len(idx) == 0 {
		if b.noPolicies == nil {
			b.noPolicies = &policySet{metrics: policyMetrics(b.opts.Metrics, nil)}
		}
		return b.noPolicies
	}
	var kb strings.Builder
	for _, i := range idx {
		kb.WriteString(strconv.Itoa(i))
		kb.WriteByte(',')
	}
	key := kb.String()
	if s, ok := b.sets[key]; ok {
		return s
	}
	s := &policySet{policies: make([]model.Policy, len(idx))}
	b.sets[key] = s
	names := make([]string, len(idx))
	bad := false
	for j, i := range idx {
		s.policies[j] = b.cfg.Policies[i]
		names[j] = s.policies[j].Name
		bad = bad || b.badPolicies[names[j]] // already reported against the policy
	}
	s.metrics = policyMetrics(b.opts.Metrics, s.policies)
	if bad {
		return s
	}
	e, err := b.authz.Compile(s.policies)
	if err != nil {
		// Each policy compiled alone; together they should too.
		b.issues = append(b.issues, model.Issue{Severity: model.Error, Msg: fmt.Sprintf("compiling policies %s: %v", strings.Join(names, ", "), err)})
		return s
	}
	s.engine, s.describe = e, e.Describe()
	return s
}

// Explain describes every route in configuration order.
func (rt *Runtime) Explain() []RouteExplanation {
	return slices.Clone(rt.explain)
}

// Handler returns the request pipeline of the named listener, for tests
// and embedding: it serves with this Runtime only. An unknown listener
// gets a handler that answers 404.
func (rt *Runtime) Handler(listener string) http.Handler {
	if l := rt.byName[listener]; l != nil {
		return l
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { writeText(w, http.StatusNotFound, "") })
}

// Listeners returns the names of the listeners, in configuration order.
func (rt *Runtime) Listeners() []string {
	out := make([]string, len(rt.listeners))
	for i, l := range rt.listeners {
		out[i] = l.name
	}
	return out
}

// start begins the providers' background work (remote key sets). It runs
// once; ctx's values are kept, its cancellation is not: the work stops
// when the Runtime is closed.
func (rt *Runtime) start(ctx context.Context) {
	rt.startOnce.Do(func() {
		ctx = context.WithoutCancel(ctx)
		for _, p := range rt.providers {
			p.Start(ctx)
		}
	})
}

// Close stops the providers' background work and closes idle upstream
// connections. Requests still running finish; Close is idempotent.
func (rt *Runtime) Close() {
	rt.closeOnce.Do(func() {
		for _, sp := range rt.providers {
			sp.release()
		}
		rt.closeTransports()
		rt.closeTunnels()
	})
}

func (rt *Runtime) closeTransports() {
	for _, t := range rt.transports {
		t.CloseIdleConnections()
	}
	for _, t := range rt.h1 {
		t.Close()
	}
}
