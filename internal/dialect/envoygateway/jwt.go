package envoygateway

import (
	"net/mail"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// Envoy Gateway's defaults for a remote key set: the cache duration of
// the API, and the timeout of a fetch its Envoy is configured with.
const (
	defaultCacheDuration = 300 * time.Second
	defaultJWKSTimeout   = 10 * time.Second
)

// jwksConfigMapKey is the ConfigMap key a valueRef key set is read from.
const jwksConfigMapKey = "jwks"

// checkJWT checks spec.jwt on its own.
func (d *document) checkJWT() {
	j := d.obj.Spec.JWT
	if j == nil {
		return
	}
	const jp = "spec.jwt"
	if j.Optional != nil && *j.Optional && j.FailOpen != nil && *j.FailOpen {
		d.Errorf(jp+".failOpen", "failOpen cannot be combined with optional")
	}
	switch n := len(j.Providers); {
	case n == 0:
		if !d.Reported(jp + ".providers") {
			d.Errorf(jp, "give at least one provider")
		}
	case n > 16:
		d.Errorf(jp+".providers", "%d providers: at most 16", n)
	}
	var names []string
	for i, p := range j.Providers {
		pp := strictyaml.Index(jp+".providers", i)
		f := func(k string) string { return strictyaml.Field(pp, k) }
		switch {
		case p.Name == "":
			if !d.Reported(f("name")) {
				d.Errorf(pp, "missing required field %q", "name")
			}
		case len(p.Name) > 253:
			d.Errorf(f("name"), "name longer than 253 characters")
		case slices.Contains(names, p.Name):
			d.Errorf(f("name"), "provider %q is defined already: names are unique", p.Name)
		}
		names = append(names, p.Name)
		d.checkIssuer(p.Issuer, f("issuer"))
		switch {
		case p.RemoteJWKS != nil && p.LocalJWKS != nil:
			d.Errorf(f("localJWKS"), "give remoteJWKS or localJWKS, not both")
		case p.RemoteJWKS != nil:
			d.checkRemote(p.RemoteJWKS, f("remoteJWKS"))
		case p.LocalJWKS != nil:
			d.checkLocal(p.LocalJWKS, f("localJWKS"))
		default:
			if !d.Reported(f("remoteJWKS")) && !d.Reported(f("localJWKS")) {
				d.Errorf(pp, "give remoteJWKS or localJWKS: where the keys that verify tokens are")
			}
		}
		for k, c := range p.ClaimToHeaders {
			cp := strictyaml.Index(f("claimToHeaders"), k)
			if c.Header == "" && !d.Reported(strictyaml.Field(cp, "header")) {
				d.Errorf(cp, "missing required field %q", "header")
			}
			if c.Claim == "" && !d.Reported(strictyaml.Field(cp, "claim")) {
				d.Errorf(cp, "missing required field %q", "claim")
			}
		}
		if p.RecomputeRoute != nil && *p.RecomputeRoute && len(p.ClaimToHeaders) == 0 {
			d.Errorf(f("recomputeRoute"), "recomputeRoute needs claimToHeaders")
		}
		if e := p.ExtractFrom; e != nil {
			for k, h := range e.Headers {
				if h.Name == "" {
					d.Errorf(strictyaml.Index(f("extractFrom.headers"), k), "missing required field %q", "name")
				}
			}
		}
	}
}

// checkIssuer checks an issuer as Envoy Gateway does: a StringOrURI, so
// one with ':' is a URI and one with '@' an e-mail address.
func (d *document) checkIssuer(iss, path string) {
	switch {
	case len(iss) > 253:
		d.Errorf(path, "issuer longer than 253 characters")
	case strings.Contains(iss, ":"):
		if _, err := url.ParseRequestURI(iss); err != nil {
			d.Errorf(path, "invalid issuer %q: with ':' it must be a URI", iss)
		}
	case strings.Contains(iss, "@"):
		if _, err := mail.ParseAddress(iss); err != nil {
			d.Errorf(path, "invalid issuer %q: with '@' it must be an e-mail address", iss)
		}
	}
}

// checkRemote checks a remoteJWKS at path p.
func (d *document) checkRemote(r *remoteJWKS, p string) {
	f := func(k string) string { return strictyaml.Field(p, k) }
	if r.URI == "" {
		if !d.Reported(f("uri")) {
			d.Errorf(p, "missing required field %q", "uri")
		}
	} else if u, err := url.Parse(r.URI); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		d.Errorf(f("uri"), "invalid URI %q: want http:// or https:// with a host", r.URI)
	}
	if d.Has(f("backendRef")) {
		d.Errorf(f("backendRef"), "backendRef is not allowed here: use backendRefs")
	}
}

// checkLocal checks a localJWKS at path p.
func (d *document) checkLocal(l *localJWKS, p string) {
	f := func(k string) string { return strictyaml.Field(p, k) }
	typ := "Inline"
	if l.Type != nil {
		typ = *l.Type
	}
	switch typ {
	case "Inline":
		if l.Inline == nil && !d.Reported(f("inline")) {
			d.Errorf(p, "type Inline needs inline: the JWKS document")
		}
	case "ValueRef":
		switch r := l.ValueRef; {
		case r == nil:
			if !d.Reported(f("valueRef")) {
				d.Errorf(p, "type ValueRef needs valueRef: the ConfigMap holding the JWKS")
			}
		case r.Kind != "ConfigMap" || r.Group != "":
			d.Errorf(f("valueRef"), "valueRef names a %q of group %q: want a ConfigMap (group \"\")", r.Kind, r.Group)
		case r.Name == "":
			d.Errorf(f("valueRef"), "missing required field %q", "name")
		}
	default:
		d.Errorf(f("type"), "invalid type %q (want Inline or ValueRef)", typ)
	}
}

// keys is what the translation of a policy's JWT holds: its model
// providers, by the policy's own provider names.
type keys struct {
	providers []model.Provider
	names     map[string]string // provider name -> model provider name
	issuers   map[string]string // provider name -> issuer
	outputs   []string          // canonical headers claimToHeaders sets
	ok        bool              // every provider has its keys
}

// providers translates spec.jwt.providers into model providers
// "NAMESPACE/POLICY/PROVIDER", with Envoy Gateway's semantics: the token
// is looked for where extractFrom says (by default the Authorization
// header with "Bearer ", then the access_token query parameter), is
// forwarded to the backend (Envoy Gateway keeps it), and its claims are
// copied to headers as claimToHeaders says.
func (t *translator) providers(d *document) *keys {
	k := &keys{names: map[string]string{}, issuers: map[string]string{}, ok: true}
	for i, p := range d.obj.Spec.JWT.Providers {
		pp := strictyaml.Index("spec.jwt.providers", i)
		f := func(s string) string { return strictyaml.Field(pp, s) }
		origin, base := d.Piece("providers", pp)
		mp := model.Provider{
			Name: d.Name() + "/" + p.Name, Issuer: p.Issuer, Audiences: p.Audiences,
			ForwardToken: true, ClockSkew: model.DefaultClockSkew, MaxTokenBytes: model.DefaultMaxTokenBytes,
			Origin: origin,
		}
		d.Rename(base+".name", f("name"))
		d.Rename(base+".from", f("extractFrom"))
		d.Rename(base+".claimsToHeaders", f("claimToHeaders"))
		for _, c := range p.ClaimToHeaders {
			mp.ClaimsToHeaders = append(mp.ClaimsToHeaders, model.ClaimToHeader{Claim: c.Claim, Header: c.Header})
			k.outputs = append(k.outputs, textproto.CanonicalMIMEHeaderKey(c.Header))
		}
		if p.RecomputeRoute != nil && *p.RecomputeRoute {
			d.Warnf(f("recomputeRoute"), "accepted, but the route is not chosen again once the claims are in headers: jwtgate chooses the route before authentication")
		}
		if e := p.ExtractFrom; e != nil {
			for j, h := range e.Headers {
				hp := strictyaml.Index(f("extractFrom.headers"), j)
				mf := strictyaml.Index(base+".from", len(mp.From))
				d.Rename(mf, hp)
				d.Rename(mf+".header", strictyaml.Field(hp, "name"))
				d.Rename(mf+".prefix", strictyaml.Field(hp, "valuePrefix"))
				prefix := ""
				if h.ValuePrefix != nil {
					prefix = *h.ValuePrefix
				}
				mp.From = append(mp.From, model.TokenSource{Header: h.Name, Prefix: prefix})
			}
			for j, q := range e.Params {
				d.Rename(strictyaml.Index(base+".from", len(mp.From)), strictyaml.Index(f("extractFrom.params"), j))
				mp.From = append(mp.From, model.TokenSource{Query: q})
			}
			for j, c := range e.Cookies {
				d.Rename(strictyaml.Index(base+".from", len(mp.From)), strictyaml.Index(f("extractFrom.cookies"), j))
				mp.From = append(mp.From, model.TokenSource{Cookie: c})
			}
		}
		var found bool
		if p.RemoteJWKS != nil {
			found = t.remoteKeys(d, p.RemoteJWKS, f("remoteJWKS"), base, &mp)
		} else {
			found = t.localKeys(d, p.LocalJWKS, f("localJWKS"), base, &mp)
		}
		k.ok = k.ok && found
		k.providers = append(k.providers, mp)
		k.names[p.Name] = mp.Name
		k.issuers[p.Name] = p.Issuer
	}
	return k
}

// remoteKeys reads a remoteJWKS at path p.
func (t *translator) remoteKeys(d *document, r *remoteJWKS, p, base string, out *model.Provider) bool {
	f := func(k string) string { return strictyaml.Field(p, k) }
	out.JWKS.URI = r.URI
	out.JWKS.CacheDuration = defaultCacheDuration
	if r.CacheDuration != nil {
		out.JWKS.CacheDuration = *r.CacheDuration
	}
	out.JWKS.Timeout = defaultJWKSTimeout
	out.JWKS.RefetchInterval = model.DefaultJWKSRefetchInterval
	d.Rename(base+".jwks", p)
	d.Rename(base+".jwks.uri", f("uri"))
	d.Rename(base+".jwks.cacheDuration", f("cacheDuration"))
	if d.Has(f("backendRefs")) {
		d.NotServed(f("backendRefs"), "not used: jwtgate fetches the uri itself (its host through DNS, with the system's trust roots), not through these backends")
	}
	if d.Has(f("backendSettings")) {
		d.NotServed(f("backendSettings"), "not applied: jwtgate fetches with its own timeout and retries")
	}
	if d.Has(f("failedRefetchDuration")) {
		d.NotServed(f("failedRefetchDuration"), "not applied: jwtgate retries a failed fetch on its own schedule")
	}
	return true
}

// localKeys reads a localJWKS at path p: inline, or a ConfigMap's key
// jwks (or its only key).
func (t *translator) localKeys(d *document, l *localJWKS, p, base string, out *model.Provider) bool {
	if l.ValueRef == nil || (l.Type != nil && *l.Type == "Inline") {
		out.JWKS.Inline = strings.TrimSpace(*l.Inline)
		d.Rename(base+".jwks", p)
		d.Rename(base+".jwks.inline", strictyaml.Field(p, "inline"))
		return true
	}
	rp := strictyaml.Field(p, "valueRef")
	ns, name := d.Ref.Namespace, l.ValueRef.Name
	cm := t.s.kube.ConfigMap(ns, name)
	if cm == nil {
		d.Errorf(rp, "ConfigMap %s/%s not found: the provider has no keys (add the ConfigMap to the files)", ns, name)
		return false
	}
	v, ok := cm.Data[jwksConfigMapKey]
	if !ok {
		switch len(cm.Data) {
		case 0:
			d.Errorf(rp, "ConfigMap %s/%s holds no data: the provider has no keys", ns, name)
			return false
		case 1:
			for _, only := range cm.Data {
				v = only
			}
		default:
			d.Errorf(rp, "ConfigMap %s/%s has no key %q and several others: Envoy Gateway would read any one of them; name the key %q", ns, name, jwksConfigMapKey, jwksConfigMapKey)
			return false
		}
	}
	out.JWKS.Inline = strings.TrimSpace(v)
	d.Rename(base+".jwks", rp)
	return true
}

// requirement is the policy's JWT requirement: a token valid for any of
// its providers; optional lets requests without a token through, and
// failOpen lets requests whose token is missing or fails through too.
// CORS preflight requests meet it like any other, as Envoy Gateway's JWT
// filter does not set them apart.
func requirement(j *jwt, k *keys) model.JWTRequirement {
	r := model.JWTRequirement{Mode: model.AuthRequired, AuthenticatePreflight: true}
	for _, p := range k.providers {
		r.Providers = append(r.Providers, p.Name)
	}
	switch {
	case j.FailOpen != nil && *j.FailOpen:
		r.Mode = model.AuthAllowMissingOrFailed
	case j.Optional != nil && *j.Optional:
		r.Mode = model.AuthAllowMissing
	}
	return r
}
