package gloo

import (
	"cmp"
	"net/url"
	"strings"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// Gloo's defaults for a remote key set.
const (
	defaultCacheDuration = 5 * time.Minute
	defaultTimeout       = 5 * time.Second
)

// provider translates the provider key of a JWT policy into the model
// provider "NAMESPACE/POLICY/KEY", with Gloo's semantics: keys from
// local (an inline PEM public key or JWKS, or a Secret's) or remote (a
// JWKS URL); no tokenSource means the Authorization header ("Bearer ")
// and the access_token query parameter; the token is removed before the
// request is sent on unless keepToken. A provider whose keys cannot be
// found is an error: jwtgate never serves a route under a policy it
// cannot enforce.
func (t *translator) provider(d *document, key string, p jwtProvider) (model.Provider, bool) {
	pp := strictyaml.Key("spec.config.providers", key)
	f := func(k string) string { return strictyaml.Field(pp, k) }
	if key == "" {
		d.Errorf(pp, "a provider needs a name")
		return model.Provider{}, false
	}
	origin, base := d.Piece("providers", pp)
	out := model.Provider{
		Name:            d.Name() + "/" + key,
		Issuer:          p.Issuer,
		Audiences:       p.Audiences,
		PayloadHeader:   p.OutputPayloadToHeader,
		ForwardToken:    p.KeepToken,
		ClockSkew:       model.DefaultClockSkew,
		MaxTokenBytes:   model.DefaultMaxTokenBytes,
		Origin:          origin,
		ClaimsToHeaders: nil,
	}
	if s := p.ClockSkewSeconds; s != nil {
		out.ClockSkew = time.Duration(*s) * time.Second
	}
	d.Rename(base+".name", pp)
	d.Rename(base+".payloadHeader", f("outputPayloadToHeader"))
	d.Rename(base+".forwardToken", f("keepToken"))
	d.Rename(base+".clockSkew", f("clockSkewSeconds"))
	d.Rename(base+".from", f("tokenSource"))
	for _, c := range p.ClaimsToHeaders {
		out.ClaimsToHeaders = append(out.ClaimsToHeaders, model.ClaimToHeader{Claim: c.Claim, Header: c.Header, Append: c.Append})
	}
	if ts := p.TokenSource; ts != nil {
		for i, h := range ts.Headers {
			hp := strictyaml.Index(f("tokenSource.headers"), i)
			mf := strictyaml.Index(base+".from", len(out.From))
			d.Rename(mf, hp)
			d.Rename(mf+".header", strictyaml.Field(hp, "name"))
			out.From = append(out.From, model.TokenSource{Header: h.Name, Prefix: h.Prefix})
		}
		for i, q := range ts.QueryParams {
			d.Rename(strictyaml.Index(base+".from", len(out.From)), strictyaml.Index(f("tokenSource.queryParams"), i))
			out.From = append(out.From, model.TokenSource{Query: q})
		}
	}
	switch {
	case p.Local != nil && p.Remote != nil:
		d.Errorf(f("remote"), "give local or remote, not both")
		return out, false
	case p.Local != nil:
		d.Rename(base+".jwks", f("local"))
		return out, t.localKeys(d, p.Local, f("local"), base, &out)
	case p.Remote != nil:
		d.Rename(base+".jwks", f("remote"))
		return out, t.remoteKeys(d, p.Remote, f("remote"), base, &out)
	}
	if !d.Reported(f("local")) && !d.Reported(f("remote")) {
		d.Errorf(pp, "give local or remote: where the keys that verify tokens are")
	}
	return out, false
}

// localKeys reads local keys at path p: inline, or a Secret's key.
func (t *translator) localKeys(d *document, l *localJWKS, p, base string, out *model.Provider) bool {
	var doc, at string
	switch {
	case l.Inline != "" && l.SecretRef != nil:
		d.Errorf(strictyaml.Field(p, "secretRef"), "give inline or secretRef, not both")
		return false
	case l.Inline != "":
		doc, at = l.Inline, strictyaml.Field(p, "inline")
	case l.SecretRef != nil:
		sp := strictyaml.Field(p, "secretRef")
		r := l.SecretRef
		if r.ObjectRef == nil || r.ObjectRef.Name == "" {
			d.Errorf(sp, "missing required field %q", "objectRef.name")
			return false
		}
		if r.Key == "" {
			d.Errorf(sp, "missing required field %q (the Secret's key that holds the public key)", "key")
			return false
		}
		ns := cmp.Or(r.ObjectRef.Namespace, d.Ref.Namespace)
		sec := t.s.kube.Secret(ns, r.ObjectRef.Name)
		if sec == nil {
			d.Errorf(strictyaml.Field(sp, "objectRef"), "Secret %s/%s not found: the provider has no keys (add the Secret to the files)", ns, r.ObjectRef.Name)
			return false
		}
		v, ok := sec.Data[r.Key]
		if !ok || len(v) == 0 {
			d.Errorf(strictyaml.Field(sp, "key"), "Secret %s/%s has no key %q", ns, r.ObjectRef.Name, r.Key)
			return false
		}
		doc, at = string(v), sp
	default:
		d.Errorf(p, "give inline or secretRef")
		return false
	}
	s := strings.TrimSpace(doc)
	switch {
	case strings.HasPrefix(s, "-----BEGIN"):
		out.JWKS.PEM = s
		d.Rename(base+".jwks.pem", at)
	case strings.HasPrefix(s, "{"):
		out.JWKS.Inline = s
		d.Rename(base+".jwks.inline", at)
	default:
		d.Errorf(at, "want a PEM public key (-----BEGIN PUBLIC KEY-----) or a JWKS")
		return false
	}
	return true
}

// remoteKeys reads a remote JWKS at path p.
func (t *translator) remoteKeys(d *document, r *remoteJWKS, p, base string, out *model.Provider) bool {
	f := func(k string) string { return strictyaml.Field(p, k) }
	if r.URL == "" {
		if !d.Reported(f("url")) {
			d.Errorf(p, "missing required field %q", "url")
		}
		return false
	}
	if u, err := url.Parse(r.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		d.Errorf(f("url"), "invalid URL %q: want http:// or https:// with a host", r.URL)
		return false
	}
	out.JWKS.URI = r.URL
	out.JWKS.CacheDuration = cmp.Or(r.CacheDuration, defaultCacheDuration)
	out.JWKS.Timeout = cmp.Or(r.Timeout, defaultTimeout)
	out.JWKS.RefetchInterval = model.DefaultJWKSRefetchInterval
	d.Rename(base+".jwks.uri", f("url"))
	d.Rename(base+".jwks.cacheDuration", f("cacheDuration"))
	d.Rename(base+".jwks.timeout", f("timeout"))
	if r.DestinationRef != nil {
		d.NotServed(f("destinationRef"), "not used: jwtgate fetches the url itself (its host through DNS), not through the destination")
	}
	if r.EnableAsyncFetch {
		d.NotServed(f("enableAsyncFetch"), "not applied: jwtgate fetches every remote key set when it starts, and readiness waits for it")
	}
	return true
}
