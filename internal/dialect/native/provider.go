package native

import (
	"time"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

type provider struct {
	Name              string          `yaml:"name"`
	Issuer            string          `yaml:"issuer"`
	Audiences         []string        `yaml:"audiences"`
	JWKS              *jwks           `yaml:"jwks"`
	From              []tokenSource   `yaml:"from"`
	ClaimsToHeaders   []claimToHeader `yaml:"claimsToHeaders"`
	PayloadHeader     string          `yaml:"payloadHeader"`
	ForwardToken      bool            `yaml:"forwardToken"`
	ClockSkew         *time.Duration  `yaml:"clockSkew"`
	Algorithms        []string        `yaml:"algorithms"`
	RequireExpiration bool            `yaml:"requireExpiration"`
	MaxLifetime       time.Duration   `yaml:"maxLifetime"`
	MaxTokenBytes     *int            `yaml:"maxTokenBytes"`
	CacheSize         *int            `yaml:"cacheSize"`
}

type jwks struct {
	Inline          string         `yaml:"inline"`
	File            string         `yaml:"file"`
	PEM             string         `yaml:"pem"`
	URI             string         `yaml:"uri"`
	CacheDuration   *time.Duration `yaml:"cacheDuration"`
	Timeout         *time.Duration `yaml:"timeout"`
	RefetchInterval *time.Duration `yaml:"refetchInterval"`
	UnknownKidWait  *time.Duration `yaml:"unknownKidWait"`
	CAFile          string         `yaml:"caFile"`
}

func (c *converter) provider(in provider, path string) model.Provider {
	p := model.Provider{
		Name:              in.Name,
		Issuer:            in.Issuer,
		Audiences:         in.Audiences,
		From:              tokenSources(in.From),
		ClaimsToHeaders:   claimsToHeaders(in.ClaimsToHeaders),
		PayloadHeader:     in.PayloadHeader,
		ForwardToken:      in.ForwardToken,
		ClockSkew:         or(in.ClockSkew, model.DefaultClockSkew),
		Algorithms:        in.Algorithms,
		RequireExpiration: in.RequireExpiration,
		MaxLifetime:       in.MaxLifetime,
		MaxTokenBytes:     or(in.MaxTokenBytes, model.DefaultMaxTokenBytes),
		CacheSize:         or(in.CacheSize, 0),
		Origin:            c.resource(path),
	}
	// Zero would be taken for "use the default" further on; an explicit
	// zero is a mistake (no limit, no cache, no timeout are not offered).
	if zero(c, strictyaml.Field(path, "maxTokenBytes"), in.MaxTokenBytes) {
		c.errorf(strictyaml.Field(path, "maxTokenBytes"), "must be positive")
	}
	// No model check covers cacheSize: a negative one is refused here too.
	if zero(c, strictyaml.Field(path, "cacheSize"), in.CacheSize) || in.CacheSize != nil && *in.CacheSize < 0 {
		c.errorf(strictyaml.Field(path, "cacheSize"), "must be positive")
	}
	if k := in.JWKS; k != nil {
		for _, d := range []struct {
			name string
			val  *time.Duration
		}{{"cacheDuration", k.CacheDuration}, {"timeout", k.Timeout}, {"refetchInterval", k.RefetchInterval}, {"unknownKidWait", k.UnknownKidWait}} {
			if zero(c, strictyaml.Field(path, "jwks."+d.name), d.val) {
				c.errorf(strictyaml.Field(path, "jwks."+d.name), "must be positive")
			}
		}
	}
	if k := in.JWKS; k != nil {
		p.JWKS = model.KeySource{
			Inline: k.Inline,
			File:   c.filePath(k.File),
			PEM:    k.PEM,
			URI:    k.URI,
			CAFile: c.filePath(k.CAFile),
		}
		if p.JWKS.Remote() {
			p.JWKS.CacheDuration = or(k.CacheDuration, model.DefaultJWKSCacheDuration)
			p.JWKS.Timeout = or(k.Timeout, model.DefaultJWKSTimeout)
			p.JWKS.RefetchInterval = or(k.RefetchInterval, model.DefaultJWKSRefetchInterval)
			// Zero (unset) is the default to the key set: left out of the
			// model, as the vendor dialects leave it.
			p.JWKS.UnknownKidWait = or(k.UnknownKidWait, 0)
		} else {
			for _, f := range []string{"cacheDuration", "timeout", "refetchInterval", "unknownKidWait", "caFile"} {
				if c.has(strictyaml.Field(path, "jwks."+f)) {
					c.warnf(strictyaml.Field(path, "jwks."+f), "ignored: only used with a remote key set (uri, or OIDC discovery)")
				}
			}
		}
	} else {
		p.JWKS = model.KeySource{
			CacheDuration:   model.DefaultJWKSCacheDuration,
			Timeout:         model.DefaultJWKSTimeout,
			RefetchInterval: model.DefaultJWKSRefetchInterval,
		}
	}
	return p
}

// or returns *p, or def when p is nil.
func or[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// tokenSource is one native `from` entry of a provider.
type tokenSource struct {
	Header string `yaml:"header"`
	Prefix string `yaml:"prefix"`
	Query  string `yaml:"query"`
	Cookie string `yaml:"cookie"`
}

// claimToHeader is one native claimsToHeaders entry.
type claimToHeader struct {
	Claim  string `yaml:"claim"`
	Header string `yaml:"header"`
	Append bool   `yaml:"append"`
}

// tokenSources converts the list; an explicit empty list stays empty.
func tokenSources(in []tokenSource) []model.TokenSource {
	if in == nil {
		return nil
	}
	out := []model.TokenSource{}
	for _, s := range in {
		out = append(out, model.TokenSource{Header: s.Header, Prefix: s.Prefix, Query: s.Query, Cookie: s.Cookie})
	}
	return out
}

func claimsToHeaders(in []claimToHeader) []model.ClaimToHeader {
	if in == nil {
		return nil
	}
	out := []model.ClaimToHeader{}
	for _, c := range in {
		out = append(out, model.ClaimToHeader{Claim: c.Claim, Header: c.Header, Append: c.Append})
	}
	return out
}
