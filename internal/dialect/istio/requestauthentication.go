package istio

import (
	"slices"
	"strconv"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// Istio's fixed settings of a JWT rule.
const (
	// clockSkew is the leeway Istio allows on exp and nbf; not
	// configurable in Istio.
	clockSkew = 60 * time.Second
	// jwksRefresh is how often istiod fetches a jwksUri again
	// (PILOT_JWT_PUB_KEY_REFRESH_INTERVAL's default).
	jwksRefresh = 20 * time.Minute
	// jwksTimeout is JWTRule.timeout's default.
	jwksTimeout = 5 * time.Second
)

// alwaysSplit are the claims Istio always reads as space-separated lists
// (Envoy's normalize_payload_in_metadata); a rule's
// spaceDelimitedClaims add to them for its issuer's tokens.
var alwaysSplit = []string{"scope", "permission"}

// requestAuthentications translates the RequestAuthentications that
// apply, in reading order, into providers and one JWT policy in out (see
// the package documentation), and returns the space-delimited claims the
// AuthorizationPolicies compare with (model.Policy.SpaceDelimitedClaims).
func requestAuthentications(docs []*document, out *model.Config) map[string][]string {
	split := map[string][]string{"*": slices.Clone(alwaysSplit)}
	var jp *model.JWTPolicy
	for _, d := range docs {
		rules := d.ra.Spec.JWTRules
		if len(rules) == 0 && !d.Reported("spec.jwtRules") {
			d.Warnf("spec", "no jwtRules: this RequestAuthentication accepts no token")
		}
		for i, r := range rules {
			p, ok := d.provider(r, i)
			if !ok || d.Muted {
				continue
			}
			out.Providers = append(out.Providers, p)
			if jp == nil {
				origin, base := d.Piece("jwtPolicies", "spec.jwtRules")
				d.Rename(base+".name", "metadata.name")
				d.Rename(base+".requirement.providers[0]", strictyaml.Index("spec.jwtRules", i))
				jp = &model.JWTPolicy{Name: d.Name(), Requirement: model.JWTRequirement{Mode: model.AuthAllowMissing}, Origin: origin}
			}
			jp.Requirement.Providers = append(jp.Requirement.Providers, p.Name)
			for _, c := range r.SpaceDelimitedClaims {
				if !slices.Contains(split[r.Issuer], c) && !slices.Contains(alwaysSplit, c) {
					split[r.Issuer] = append(split[r.Issuer], c)
				}
			}
		}
	}
	if jp != nil {
		out.JWTPolicies = append(out.JWTPolicies, *jp)
	}
	return split
}

// provider translates JWT rule i into a provider named
// "NAMESPACE/NAME/I", with Istio's semantics: no jwksUri and no jwks
// means OIDC discovery from the issuer; no fromHeaders, fromParams or
// fromCookies means header Authorization ("Bearer ") then the
// access_token query parameter; the token is removed before the request
// is sent on unless forwardOriginalToken is true; exp and nbf get 60
// seconds of leeway.
func (d *document) provider(r jwtRule, i int) (model.Provider, bool) {
	jp := strictyaml.Index("spec.jwtRules", i)
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
	for j, c := range r.SpaceDelimitedClaims {
		if c == "" {
			d.Errorf(strictyaml.Index(strictyaml.Field(jp, "spaceDelimitedClaims"), j), "empty claim name")
		}
	}
	origin, base := d.Piece("providers", jp)
	p := model.Provider{
		Name:          d.Name() + "/" + strconv.Itoa(i),
		Issuer:        r.Issuer,
		Audiences:     r.Audiences,
		PayloadHeader: r.OutputPayloadToHeader,
		ForwardToken:  r.ForwardOriginalToken,
		ClockSkew:     clockSkew,
		MaxTokenBytes: model.DefaultMaxTokenBytes,
		JWKS:          model.KeySource{URI: r.JWKSURI, Inline: r.JWKS},
		Origin:        origin,
	}
	if p.JWKS.Remote() {
		p.JWKS.CacheDuration = jwksRefresh
		p.JWKS.Timeout = jwksTimeout
		if r.Timeout != nil {
			p.JWKS.Timeout = *r.Timeout
		}
		p.JWKS.RefetchInterval = model.DefaultJWKSRefetchInterval
	}
	d.Rename(base+".name", "metadata.name")
	d.Rename(base+".jwks", jp)
	d.Rename(base+".jwks.uri", strictyaml.Field(jp, "jwksUri"))
	d.Rename(base+".jwks.inline", strictyaml.Field(jp, "jwks"))
	d.Rename(base+".jwks.timeout", strictyaml.Field(jp, "timeout"))
	d.Rename(base+".payloadHeader", strictyaml.Field(jp, "outputPayloadToHeader"))
	d.Rename(base+".forwardToken", strictyaml.Field(jp, "forwardOriginalToken"))
	d.Rename(base+".claimsToHeaders", strictyaml.Field(jp, "outputClaimToHeaders"))
	d.Rename(base+".from", jp)
	from := func(list string, j int) string {
		f := strictyaml.Index(base+".from", len(p.From))
		d.Rename(f, strictyaml.Index(strictyaml.Field(jp, list), j))
		return f
	}
	for j, h := range r.FromHeaders {
		f := from("fromHeaders", j)
		d.Rename(f+".header", strictyaml.Field(strictyaml.Index(strictyaml.Field(jp, "fromHeaders"), j), "name"))
		p.From = append(p.From, model.TokenSource{Header: h.Name, Prefix: h.Prefix})
	}
	for j, q := range r.FromParams {
		from("fromParams", j)
		p.From = append(p.From, model.TokenSource{Query: q})
	}
	for j, c := range r.FromCookies {
		from("fromCookies", j)
		p.From = append(p.From, model.TokenSource{Cookie: c})
	}
	for _, c := range r.OutputClaimToHeaders {
		p.ClaimsToHeaders = append(p.ClaimsToHeaders, model.ClaimToHeader{Claim: c.Claim, Header: c.Header})
	}
	return p, true
}
