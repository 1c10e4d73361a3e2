package tsb

import (
	"strconv"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// authentication translates an EGRESS server's authentication at path p
// into providers and the server's requirement (the model field base.jwt):
//
//   - jwt: one provider, and a valid token is required (requests without
//     one are rejected);
//   - rules.jwt: one provider per rule, any one may validate a token; a
//     request without a token passes authentication unless requireJwt is
//     true;
//   - oidc: an error, OIDC is not allowed on egress servers.
func (t *translator) authentication(a *authentication, p, server, base string) *model.JWTRequirement {
	d := t.d
	if d.Has(strictyaml.Field(p, "oidc")) {
		d.Errorf(strictyaml.Field(p, "oidc"), "OIDC authentication is not supported on egress gateway servers: use authentication.jwt")
	}
	if a.JWT != nil && a.Rules != nil {
		d.Errorf(strictyaml.Field(p, "rules"), "give jwt or rules, not both")
		return nil
	}
	prefix := t.name + "/" + server
	req := &model.JWTRequirement{Mode: model.AuthRequired}
	d.Rename(base+".jwt", p)
	d.Rename(base+".jwt.mode", strictyaml.Field(p, "requireJwt"))
	switch {
	case a.JWT != nil:
		jp := strictyaml.Field(p, "jwt")
		d.Rename(base+".jwt.providers", jp)
		if prov, ok := t.provider(*a.JWT, jp, prefix); ok {
			req.Providers = append(req.Providers, prov.Name)
			d.Rename(base+".jwt.providers[0]", jp)
			t.out.Providers = append(t.out.Providers, prov)
		}
	case a.Rules != nil && len(a.Rules.JWT) > 0:
		rp := strictyaml.Field(p, "rules.jwt")
		d.Rename(base+".jwt.providers", rp)
		for i, r := range a.Rules.JWT {
			jp := strictyaml.Index(rp, i)
			if prov, ok := t.provider(r, jp, prefix+"/"+strconv.Itoa(i)); ok {
				d.Rename(base+".jwt.providers["+strconv.Itoa(len(req.Providers))+"]", jp)
				req.Providers = append(req.Providers, prov.Name)
				t.out.Providers = append(t.out.Providers, prov)
			}
		}
		if a.RequireJWT == nil || !*a.RequireJWT {
			req.Mode = model.AuthAllowMissing
		}
	default:
		if a.RequireJWT != nil && *a.RequireJWT {
			d.Errorf(strictyaml.Field(p, "requireJwt"), "needs jwt or rules.jwt: there is no provider to validate tokens with")
		} else if !d.Has(strictyaml.Field(p, "oidc")) {
			d.Warnf(p, "no jwt or rules.jwt: the server does not authenticate")
		}
		return nil
	}
	if len(req.Providers) == 0 {
		return nil // each rule's error is reported
	}
	return req
}

// provider translates a JWT rule at path jp into the provider name, with
// Istio JWTRule semantics: no jwksUri and no jwks means OIDC discovery
// from the issuer; no fromHeaders and no fromCookies means the
// Authorization header ("Bearer ") and the access_token query parameter;
// the token is removed before the request is sent on.
func (t *translator) provider(r jwtRule, jp, name string) (model.Provider, bool) {
	d := t.d
	if r.Issuer == "" {
		if !d.Reported(strictyaml.Field(jp, "issuer")) {
			d.Errorf(jp, "missing required field %q", "issuer")
		}
		return model.Provider{}, false
	}
	if r.JWKS != "" && r.JWKSURI != "" {
		d.Errorf(strictyaml.Field(jp, "jwks"), "give jwksUri or jwks, not both")
		return model.Provider{}, false
	}
	origin, base := d.Piece("providers", jp)
	p := model.Provider{
		Name:          name,
		Issuer:        r.Issuer,
		Audiences:     r.Audiences,
		PayloadHeader: r.OutputPayloadToHeader,
		ClockSkew:     model.DefaultClockSkew,
		MaxTokenBytes: model.DefaultMaxTokenBytes,
		JWKS:          model.KeySource{URI: r.JWKSURI, Inline: r.JWKS},
		Origin:        origin,
	}
	if p.JWKS.Remote() {
		p.JWKS.CacheDuration = model.DefaultJWKSCacheDuration
		p.JWKS.Timeout = model.DefaultJWKSTimeout
		p.JWKS.RefetchInterval = model.DefaultJWKSRefetchInterval
	}
	d.Rename(base+".name", strictyaml.Parent(jp))
	d.Rename(base+".jwks", jp)
	d.Rename(base+".jwks.uri", strictyaml.Field(jp, "jwksUri"))
	d.Rename(base+".jwks.inline", strictyaml.Field(jp, "jwks"))
	d.Rename(base+".payloadHeader", strictyaml.Field(jp, "outputPayloadToHeader"))
	d.Rename(base+".claimsToHeaders", strictyaml.Field(jp, "outputClaimToHeaders"))
	d.Rename(base+".from", jp)
	for i, h := range r.FromHeaders {
		f := strictyaml.Index(base+".from", len(p.From))
		hp := strictyaml.Index(strictyaml.Field(jp, "fromHeaders"), i)
		d.Rename(f, hp)
		d.Rename(f+".header", strictyaml.Field(hp, "name"))
		p.From = append(p.From, model.TokenSource{Header: h.Name, Prefix: h.Prefix})
	}
	for i, c := range r.FromCookies {
		d.Rename(strictyaml.Index(base+".from", len(p.From)), strictyaml.Index(strictyaml.Field(jp, "fromCookies"), i))
		p.From = append(p.From, model.TokenSource{Cookie: c})
	}
	for _, c := range r.OutputClaimToHeaders {
		p.ClaimsToHeaders = append(p.ClaimsToHeaders, model.ClaimToHeader{Claim: c.Claim, Header: c.Header})
	}
	return p, true
}

// serverAuthorization translates an EGRESS server's authorization at
// path p (the model field base.authorization). Local rules become the
// server's rules; an external authorization service cannot be called,
// so a server that names one allows nothing (failing closed).
func (t *translator) serverAuthorization(a *authorization, p, base string) *model.ServerAuthorization {
	d := t.d
	out := &model.ServerAuthorization{}
	d.Rename(base+".authorization", p)
	if d.Has(strictyaml.Field(p, "external")) {
		d.NotServed(strictyaml.Field(p, "external"), "external authorization is not supported: the server allows nothing (fails closed)")
		return out
	}
	if a.Local == nil {
		d.Warnf(p, "no local rules: the server allows nothing")
		return out
	}
	lp := strictyaml.Field(p, "local.rules")
	d.Rename(base+".authorization.rules", lp)
	for i, r := range a.Local.Rules {
		rp := strictyaml.Index(lp, i)
		mr := model.Rule{Name: r.Name}
		if r.From != nil {
			mr.From = []model.From{}
		}
		if r.To != nil {
			mr.To = []model.To{}
		}
		for j, f := range r.From {
			var mf model.From
			if m := f.JWT; m != nil {
				mp := strictyaml.Index(base+".authorization.rules", i) + "." + strictyaml.Index("from", j) + ".jwt"
				dp := strictyaml.Field(strictyaml.Index(strictyaml.Field(rp, "from"), j), "jwt")
				mf.JWT = jwtMatch(m)
				d.Rename(mp+".claims", strictyaml.Field(dp, "other"))
				for _, k := range []string{"iss", "sub"} {
					if _, moved := m.Other[k]; !moved && mf.JWT.Claims[k] != nil {
						d.Rename(mp+".claims."+k, strictyaml.Field(dp, k))
					}
				}
			}
			mr.From = append(mr.From, mf)
		}
		for _, to := range r.To {
			mr.To = append(mr.To, model.To{Methods: upper(to.Methods), Paths: to.Paths})
		}
		out.Rules = append(out.Rules, mr)
	}
	return out
}

// jwtMatch translates a rule's from.jwt. iss and sub are compared
// exactly; one holding "*" (such as "*@example.com") is a pattern, as in
// Istio's request principals, and becomes a claim match on iss or sub
// (unless other names that claim too).
func jwtMatch(m *jwtPrincipal) *model.JWTMatch {
	out := &model.JWTMatch{}
	for k, v := range m.Other {
		if out.Claims == nil {
			out.Claims = map[string][]string{}
		}
		out.Claims[k] = []string{v}
	}
	for _, f := range []struct {
		claim, value string
		exact        *string
	}{{"iss", m.Iss, &out.Iss}, {"sub", m.Sub, &out.Sub}} {
		if _, taken := out.Claims[f.claim]; strings.Contains(f.value, "*") && !taken {
			if out.Claims == nil {
				out.Claims = map[string][]string{}
			}
			out.Claims[f.claim] = []string{f.value}
			continue
		}
		*f.exact = f.value
	}
	return out
}

// upper upper-cases methods: "delete" must match DELETE.
func upper(in []string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.ToUpper(s)
	}
	return out
}
