package kgateway

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// kgateway's defaults and limits for JWT providers.
const (
	defaultCacheDuration = 5 * time.Minute
	maxProviders         = 32
	maxInline            = 16384
	jwksConfigMapKey     = "jwks"
)

// Validation modes of a GatewayExtension's jwt.
var validationModes = map[string]model.AuthMode{
	"Strict":               model.AuthRequired,
	"AllowMissing":         model.AuthAllowMissing,
	"AllowMissingOrFailed": model.AuthAllowMissingOrFailed,
}

// checkExtension checks a GatewayExtension on its own, as the API server
// does. Extensions other than jwt are read and not served.
func (d *document) checkExtension() {
	sp := d.ext.Spec
	if sp.Type != nil {
		d.Warnf("spec.type", "deprecated field, no effect: the extension's kind is the field set beside it")
	}
	var kinds []string
	for _, k := range []struct {
		name string
		set  bool
	}{{"jwt", sp.JWT != nil}, {"extAuth", set(sp.ExtAuth)}, {"extProc", set(sp.ExtProc)}, {"rateLimit", set(sp.RateLimit)}, {"oauth2", set(sp.OAuth2)}} {
		if k.set {
			kinds = append(kinds, k.name)
		}
	}
	switch {
	case len(kinds) == 0:
		if !d.Reported("spec") {
			d.Errorf("spec", "exactly one of jwt, extAuth, extProc, rateLimit or oauth2 is required")
		}
		return
	case len(kinds) > 1:
		d.Errorf("spec", "exactly one of jwt, extAuth, extProc, rateLimit or oauth2 is allowed, got %s", strings.Join(kinds, " and "))
		return
	case kinds[0] != "jwt":
		d.Noted(model.ReasonUnsupported, "spec."+kinds[0], "jwtgate reads jwt GatewayExtensions only: a TrafficPolicy that uses this one fails closed")
		return
	}
	j := sp.JWT
	if m := j.ValidationMode; m != nil {
		if _, ok := validationModes[*m]; !ok {
			d.Errorf("spec.jwt.validationMode", "invalid value %q (want Strict, AllowMissing or AllowMissingOrFailed)", *m)
		}
	}
	switch n := len(j.Providers); {
	case n == 0 && !d.Reported("spec.jwt.providers"):
		d.Errorf("spec.jwt", "missing required field %q: at least one provider", "providers")
	case n > maxProviders:
		d.Errorf("spec.jwt.providers", "at most %d providers, got %d", maxProviders, n)
	}
	names := map[string]int{}
	for i, p := range j.Providers {
		pp := strictyaml.Index("spec.jwt.providers", i)
		switch {
		case p.Name == "":
			d.required(pp, "name", false)
		case len(p.Name) > 253:
			d.Errorf(strictyaml.Field(pp, "name"), "name longer than 253 characters")
		default:
			if k, dup := names[p.Name]; dup {
				d.Errorf(strictyaml.Field(pp, "name"), "provider name %q is used by providers[%d] already: names must be unique", p.Name, k)
			}
			names[p.Name] = i
		}
		d.checkProvider(p, pp)
	}
}

// checkProvider checks one provider at path pp.
func (d *document) checkProvider(p jwtProvider, pp string) {
	f := func(k string) string { return strictyaml.Field(pp, k) }
	if p.Issuer != nil && len(*p.Issuer) > 2048 {
		d.Errorf(f("issuer"), "issuer longer than 2048 characters")
	}
	if n := len(p.Audiences); d.Has(f("audiences")) && (n == 0 || n > 32) {
		d.Errorf(f("audiences"), "want 1 to 32 audiences, got %d", n)
	}
	for i, a := range p.Audiences {
		if a == "" {
			d.Errorf(strictyaml.Index(f("audiences"), i), "empty audience")
		}
	}
	if ts := p.TokenSource; ts != nil {
		switch {
		case (ts.Header != nil) == (ts.QueryParameter != nil):
			d.Errorf(f("tokenSource"), "exactly one of header and queryParameter is required")
		case ts.Header != nil && ts.Header.Header == "":
			d.required(f("tokenSource.header"), "header", false)
		case ts.QueryParameter != nil && *ts.QueryParameter == "":
			d.Errorf(f("tokenSource.queryParameter"), "empty query parameter name")
		}
	}
	if n := len(p.ClaimsToHeaders); d.Has(f("claimsToHeaders")) && (n == 0 || n > 32) {
		d.Errorf(f("claimsToHeaders"), "want 1 to 32 entries, got %d", n)
	}
	for i, c := range p.ClaimsToHeaders {
		cp := strictyaml.Index(f("claimsToHeaders"), i)
		d.required(cp, "name", c.Name != "")
		d.required(cp, "header", c.Header != "")
	}
	if set(p.KeepToken) {
		d.Warnf(f("keepToken"), "not in the API (an earlier revision's field): ignored; forwardToken keeps the token")
	}
	if set(p.RemoteJWKS) {
		d.Errorf(f("remoteJwks"), "not in the API: a remote key set is jwks.remote {url, backendRef} (kgateway's claim extraction page writes remoteJwks)")
	}
	switch {
	case p.JWKS == nil:
		if !set(p.RemoteJWKS) {
			d.required(pp, "jwks", false)
		}
	case (p.JWKS.Local != nil) == (p.JWKS.Remote != nil):
		d.Errorf(f("jwks"), "exactly one of local and remote is required")
	case p.JWKS.Local != nil:
		l := p.JWKS.Local
		switch {
		case (l.Inline != nil) == (l.ConfigMapRef != nil):
			d.Errorf(f("jwks.local"), "exactly one of inline and configMapRef is required")
		case l.Inline != nil && (*l.Inline == "" || len(*l.Inline) > maxInline):
			d.Errorf(f("jwks.local.inline"), "want 1 to %d characters, got %d", maxInline, len(*l.Inline))
		case l.ConfigMapRef != nil:
			d.required(f("jwks.local.configMapRef"), "name", l.ConfigMapRef.Name != "")
		}
	default:
		r := p.JWKS.Remote
		rp := f("jwks.remote")
		if r.URL == "" {
			d.required(rp, "url", false)
		} else if u, err := url.Parse(r.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(r.URL) > 2048 {
			d.Errorf(strictyaml.Field(rp, "url"), "invalid URL %q: want http:// or https:// with a host", r.URL)
		}
		if r.BackendRef == nil {
			d.required(rp, "backendRef", false)
		} else {
			d.required(strictyaml.Field(rp, "backendRef"), "name", r.BackendRef.Name != "")
		}
		if c := r.CacheDuration; c != nil && *c < time.Millisecond {
			d.Errorf(strictyaml.Field(rp, "cacheDuration"), "must be at least 1ms, got %s", *c)
		}
	}
}

// required reports the field key of the mapping at p as missing unless
// present.
func (d *document) required(p, key string, present bool) {
	if !present && !d.Reported(strictyaml.Field(p, key)) {
		d.Errorf(p, "missing required field %q", key)
	}
}

// extOut is what a GatewayExtension translates to: its usable providers
// and the mode of the requirement that names them; none when the
// extension cannot be enforced (why says so).
type extOut struct {
	providers []model.Provider
	mode      model.AuthMode
	why       string
}

// extension translates the jwt GatewayExtension d once. A provider
// whose keys cannot be found is left out (tokens it alone would accept
// fail, as a provider whose key set cannot be fetched does); an
// extension left with no provider cannot be enforced.
func (t *translator) extension(d *document) *extOut {
	if o, ok := t.exts[d]; ok {
		return o
	}
	o := &extOut{mode: model.AuthRequired}
	if t.exts == nil {
		t.exts = map[*document]*extOut{}
	}
	t.exts[d] = o
	switch {
	case d.HasErrors:
		o.why = fmt.Sprintf("GatewayExtension %s has errors (see its status)", d.Name())
		return o
	case d.ext.Spec.JWT == nil:
		o.why = fmt.Sprintf("GatewayExtension %s is not a jwt extension", d.Name())
		return o
	}
	if m := d.ext.Spec.JWT.ValidationMode; m != nil {
		o.mode = validationModes[*m]
	}
	for i, p := range d.ext.Spec.JWT.Providers {
		if mp, ok := t.provider(d, p, strictyaml.Index("spec.jwt.providers", i)); ok {
			o.providers = append(o.providers, mp)
		}
	}
	if len(o.providers) == 0 {
		o.why = fmt.Sprintf("no provider of GatewayExtension %s has keys (see its status)", d.Name())
	}
	return o
}

// provider translates one provider at path pp into the model provider
// "NS/EXT/NAME".
func (t *translator) provider(d *document, p jwtProvider, pp string) (model.Provider, bool) {
	f := func(k string) string { return strictyaml.Field(pp, k) }
	origin, base := d.Piece("providers", pp)
	out := model.Provider{
		Name:          d.Name() + "/" + p.Name,
		Audiences:     p.Audiences,
		ClockSkew:     model.DefaultClockSkew,
		MaxTokenBytes: model.DefaultMaxTokenBytes,
		Origin:        origin,
	}
	if p.Issuer != nil {
		out.Issuer = *p.Issuer
	}
	if p.ForwardToken != nil {
		out.ForwardToken = *p.ForwardToken
	}
	d.Rename(base+".name", f("name"))
	d.Rename(base+".from", f("tokenSource"))
	d.Rename(base+".clockSkew", pp)
	if ts := p.TokenSource; ts != nil {
		switch {
		case ts.Header != nil:
			ms := model.TokenSource{Header: ts.Header.Header}
			if ts.Header.Prefix != nil {
				ms.Prefix = *ts.Header.Prefix
			}
			out.From = []model.TokenSource{ms}
			d.Rename(base+".from[0].header", f("tokenSource.header.header"))
			d.Rename(base+".from[0].prefix", f("tokenSource.header.prefix"))
		case ts.QueryParameter != nil:
			out.From = []model.TokenSource{{Query: *ts.QueryParameter}}
			d.Rename(base+".from[0].query", f("tokenSource.queryParameter"))
		}
	}
	for i, c := range p.ClaimsToHeaders {
		out.ClaimsToHeaders = append(out.ClaimsToHeaders, model.ClaimToHeader{Claim: c.Name, Header: c.Header})
		d.Rename(strictyaml.Index(base+".claimsToHeaders", i)+".claim", strictyaml.Index(f("claimsToHeaders"), i)+".name")
	}
	d.Rename(base+".jwks", f("jwks"))
	if p.JWKS.Local != nil {
		return out, t.localKeys(d, p.JWKS.Local, f("jwks.local"), base, &out)
	}
	return out, t.remoteKeys(d, p.JWKS.Remote, f("jwks.remote"), base, &out)
}

// localKeys reads local keys at path p: inline, or the jwks key of a
// ConfigMap of the extension's namespace. Either holds a JWKS, one JWK
// or a PEM public key.
func (t *translator) localKeys(d *document, l *localJWKS, p, base string, out *model.Provider) bool {
	text, at := "", strictyaml.Field(p, "inline")
	if l.Inline != nil {
		text = *l.Inline
	} else {
		at = strictyaml.Field(p, "configMapRef")
		cm := t.s.kube.ConfigMap(d.Ref.Namespace, l.ConfigMapRef.Name)
		if cm == nil {
			d.Noted(model.ReasonTargetNotFound, at, "ConfigMap %s/%s not found: the provider has no keys and is left out (add the ConfigMap to the files)", d.Ref.Namespace, l.ConfigMapRef.Name)
			return false
		}
		v, ok := cm.Data[jwksConfigMapKey]
		if !ok || strings.TrimSpace(v) == "" {
			d.Noted(model.ReasonTargetNotFound, at, "ConfigMap %s/%s has no %q key: the provider has no keys and is left out", d.Ref.Namespace, l.ConfigMapRef.Name, jwksConfigMapKey)
			return false
		}
		text = v
	}
	s := strings.TrimSpace(text)
	switch {
	case strings.HasPrefix(s, "-----BEGIN"):
		out.JWKS.PEM = s
		d.Rename(base+".jwks.pem", at)
	case strings.HasPrefix(s, "{"):
		var probe struct {
			Keys json.RawMessage `json:"keys"`
			Kty  string          `json:"kty"`
		}
		if err := json.Unmarshal([]byte(s), &probe); err != nil {
			d.Noted(model.ReasonPartiallyAccepted, at, "invalid JSON: %v; the provider is left out", err)
			return false
		}
		if probe.Keys == nil && probe.Kty != "" {
			s = `{"keys":[` + s + `]}` // one JWK
		}
		out.JWKS.Inline = s
		d.Rename(base+".jwks.inline", at)
	default:
		d.Noted(model.ReasonPartiallyAccepted, at, "want a JWKS, a JWK or a PEM public key; the provider is left out")
		return false
	}
	return true
}

// remoteKeys reads a remote key set at path p: url, fetched through
// backendRef. jwtgate fetches it itself: over http from the backendRef's
// address (a Service's first ready endpoint, a static Backend's first
// host) with the url's path, as Envoy sends the fetch to the backendRef's
// cluster; over https from the url as written, which is the same place
// when the url's host is the backendRef's (a Service's cluster name, a
// static Backend's host), and is noted otherwise.
func (t *translator) remoteKeys(d *document, r *remoteJWKS, p, base string, out *model.Provider) bool {
	f := func(k string) string { return strictyaml.Field(p, k) }
	u, _ := url.Parse(r.URL) // checked by checkProvider
	out.JWKS.URI = r.URL
	out.JWKS.CacheDuration = defaultCacheDuration
	if r.CacheDuration != nil {
		out.JWKS.CacheDuration = *r.CacheDuration
	}
	out.JWKS.Timeout = model.DefaultJWKSTimeout
	out.JWKS.RefetchInterval = model.DefaultJWKSRefetchInterval
	d.Rename(base+".jwks.uri", f("url"))
	d.Rename(base+".jwks.cacheDuration", f("cacheDuration"))
	if a := r.AsyncFetch; a != nil && a.FastListener != nil && *a.FastListener {
		d.NotServed(f("asyncFetch.fastListener"), "not applied: jwtgate fetches every remote key set when it starts, and readiness waits for the first fetch")
	}
	if set(r.RetryPolicy) {
		d.NotServed(f("retryPolicy"), "not applied: a failed fetch is retried when a token needs the keys, at most every %s", model.DefaultJWKSRefetchInterval)
	}
	addr, hosts, ok := t.jwksBackend(d, r.BackendRef, f("backendRef"))
	if !ok {
		return false
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case u.Scheme == "http" && addr != "":
		v := *u
		v.Host = addr
		out.JWKS.URI = v.String()
	case u.Scheme == "http":
		d.Warnf(f("backendRef"), "no ready endpoint: fetches of %s fail, and tokens of this provider are rejected until one is ready", r.URL)
	case !containsFold(hosts, host):
		d.NotServed(f("url"), "fetched from the url's own host %s (over https the host is also the certificate's name), not through backendRef %s", u.Host, strings.Join(hosts, ", "))
	}
	return true
}

// jwksBackend resolves a remote key set's backendRef at path p: the
// address to dial for http ("" when unknown), and the host names that
// reach the same backend. A backendRef that cannot be resolved leaves
// the provider out.
func (t *translator) jwksBackend(d *document, br *backendObjRef, p string) (addr string, hosts []string, ok bool) {
	group, kind := deref(br.Group, ""), deref(br.Kind, "Service")
	ns := deref(br.Namespace, d.Ref.Namespace)
	missing := func(format string, args ...any) (string, []string, bool) {
		d.Noted(model.ReasonTargetNotFound, p, format+"; the provider is left out", args...)
		return "", nil, false
	}
	if ns != d.Ref.Namespace && (t.view == nil || !t.view.Permits(Group, KindGatewayExtension, d.Ref.Namespace, group, kind, ns, br.Name)) {
		return missing("RefNotPermitted: no ReferenceGrant in namespace %s lets GatewayExtensions of namespace %s refer to %s %s/%s", ns, d.Ref.Namespace, kind, ns, br.Name)
	}
	switch {
	case group == "" && kind == "Service":
		svc := t.s.kube.Service(ns, br.Name)
		if svc == nil {
			return missing("Service %s/%s not found", ns, br.Name)
		}
		if br.Port == nil {
			return missing("a Service backendRef needs a port")
		}
		hosts = []string{br.Name, br.Name + "." + ns, br.Name + "." + ns + ".svc", br.Name + "." + ns + ".svc.cluster.local"}
		target, err := t.s.kube.Resolve(ns, br.Name, *br.Port, "")
		if err != nil && target.Host == "" {
			return missing("%v", err)
		}
		if len(target.Endpoints) > 0 {
			addr = target.Endpoints[0]
		}
		return addr, hosts, true
	case group == Group && kind == KindBackend:
		be := t.s.find(KindBackend, ns, br.Name)
		b := t.s.staticBackend(be, ns, br.Name)
		if b.Unavailable != "" {
			return missing("%s", b.Unavailable)
		}
		for _, h := range be.be.Spec.Static.Hosts {
			hosts = append(hosts, strings.ToLower(h.Host))
		}
		h := be.be.Spec.Static.Hosts[0]
		return net.JoinHostPort(h.Host, strconv.Itoa(h.Port)), hosts, true
	}
	return missing("InvalidKind: %s is neither a Service nor a %s Backend", strings.TrimPrefix(kind+"."+group, "."), Group)
}

// containsFold reports whether list holds s, ignoring case.
func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// deref is *p, or def when p is nil.
func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
