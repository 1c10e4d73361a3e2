package model

import (
	"encoding/json"
	"encoding/pem"
	"net/netip"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"time"
)

// tokenHeaders maps the canonical name of every header any provider reads
// tokens from to the first such provider.
func (v *validator) tokenHeaders() map[string]string {
	m := map[string]string{}
	for _, p := range v.c.Providers {
		from := p.From
		if len(from) == 0 {
			from = DefaultTokenSources()
		}
		for _, s := range from {
			if h := textproto.CanonicalMIMEHeaderKey(s.Header); s.Header != "" && m[h] == "" {
				m[h] = p.Name
			}
		}
	}
	return m
}

// outputHeader checks a header a provider sets: a reserved header, or one
// that tokens are read from, would be stripped from every request before
// authentication and break the gateway silently.
func outputHeader(a at, f, name string, tokenHeaders map[string]string) {
	h := textproto.CanonicalMIMEHeaderKey(name)
	if contains(reservedOutputs, h) {
		a.errorf(f, "header %q cannot carry a claim or the payload", name)
	} else if p, ok := tokenHeaders[h]; ok {
		a.errorf(f, "header %q is where provider %q reads tokens; the gateway strips the headers it sets from every request, so those tokens would never be seen", name, p)
	}
}

func (v *validator) providers() {
	var seen names
	seen.kind = "provider"
	tokenHeaders := v.tokenHeaders()
	for _, p := range v.c.Providers {
		a := v.at("provider", p.Name, p.Origin)
		seen.check(a, p.Name, p.Origin)
		v.keySource(a, p)
		for i, s := range p.From {
			f := index("from", i)
			n := 0
			for _, x := range []string{s.Header, s.Query, s.Cookie} {
				if x != "" {
					n++
				}
			}
			switch {
			case n != 1:
				a.errorf(f, "exactly one of header, query, cookie is required")
			case s.Header != "" && !validToken(s.Header):
				a.errorf(f+".header", "invalid header name %q", s.Header)
			}
			if s.Prefix != "" && s.Header == "" {
				a.errorf(f+".prefix", "only allowed with header")
			}
		}
		for i, ch := range p.ClaimsToHeaders {
			f := index("claimsToHeaders", i)
			if ch.Claim == "" {
				a.errorf(f+".claim", "required")
			}
			switch {
			case ch.Header == "":
				a.errorf(f+".header", "required")
			case !validToken(ch.Header):
				a.errorf(f+".header", "invalid header name %q", ch.Header)
			default:
				outputHeader(a, f+".header", ch.Header, tokenHeaders)
			}
		}
		switch {
		case p.PayloadHeader == "":
		case !validToken(p.PayloadHeader):
			a.errorf("payloadHeader", "invalid header name %q", p.PayloadHeader)
		default:
			outputHeader(a, "payloadHeader", p.PayloadHeader, tokenHeaders)
		}
		for i, alg := range p.Algorithms {
			if !contains(KnownAlgorithms, alg) {
				a.errorf(index("algorithms", i), "unknown algorithm %q (known: %s)", alg, strings.Join(KnownAlgorithms, ", "))
			}
		}
		for i, aud := range p.Audiences {
			if aud == "" {
				a.errorf(index("audiences", i), "empty audience")
			}
		}
		nonNegative(a, "clockSkew", p.ClockSkew)
		if p.ClockSkew%time.Second != 0 {
			a.warnf("clockSkew", "token times are whole seconds: %s is applied as %s", p.ClockSkew, p.ClockSkew.Truncate(time.Second))
		}
		nonNegative(a, "maxLifetime", p.MaxLifetime)
		nonNegative(a, "jwks.cacheDuration", p.JWKS.CacheDuration)
		nonNegative(a, "jwks.timeout", p.JWKS.Timeout)
		nonNegative(a, "jwks.refetchInterval", p.JWKS.RefetchInterval)
		if d := p.JWKS.RefetchInterval; d > 0 && d < MinJWKSRefetchInterval {
			a.errorf("jwks.refetchInterval", "must be at least %s (unknown kids are refetched at most once a second), got %s", MinJWKSRefetchInterval, d)
		}
		nonNegative(a, "jwks.unknownKidWait", p.JWKS.UnknownKidWait)
		if d := p.JWKS.UnknownKidWait; d > MaxJWKSUnknownKidWait {
			a.errorf("jwks.unknownKidWait", "must be at most %s (the wait holds a request, for a kid that may be an attacker's), got %s", MaxJWKSUnknownKidWait, d)
		}
		if p.MaxTokenBytes < 0 {
			a.errorf("maxTokenBytes", "must not be negative, got %d", p.MaxTokenBytes)
		}
	}
}

func nonNegative(a at, f string, d time.Duration) {
	if d < 0 {
		a.errorf(f, "must not be negative, got %s", d)
	}
}

func contains(list []string, s string) bool {
	return slices.Contains(list, s)
}

func (v *validator) keySource(a at, p Provider) {
	k := p.JWKS
	var set []string
	for _, x := range []struct{ name, val string }{{"inline", k.Inline}, {"file", k.File}, {"pem", k.PEM}, {"uri", k.URI}} {
		if x.val != "" {
			set = append(set, x.name)
		}
	}
	switch {
	case len(set) > 1:
		a.errorf("jwks", "only one of inline, file, pem, uri may be set, got %s", strings.Join(set, " and "))
		return
	case len(set) == 0 && p.Issuer == "":
		a.errorf("jwks", "one of inline, file, pem, uri is required when issuer is empty")
		return
	case len(set) == 0:
		// OIDC discovery from the issuer.
		u, err := url.Parse(p.Issuer)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			a.errorf("issuer", "OIDC discovery needs issuer to be an http(s) URL, got %q (or set one of jwks.inline, file, pem, uri)", p.Issuer)
			return
		}
		if u.Scheme == "http" && !loopback(u.Hostname()) {
			a.warnf("issuer", "OIDC discovery over plain http from %q: keys can be tampered with in transit; use https", u.Host)
		}
	case k.Inline != "":
		var doc struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if err := json.Unmarshal([]byte(k.Inline), &doc); err != nil {
			a.errorf("jwks.inline", "invalid JWKS: %v", err)
		} else if doc.Keys == nil {
			a.errorf("jwks.inline", `invalid JWKS: no "keys" list`)
		}
	case k.PEM != "":
		if b, _ := pem.Decode([]byte(strings.TrimSpace(k.PEM))); b == nil {
			a.errorf("jwks.pem", "no PEM block found")
		}
	case k.URI != "":
		u, err := url.Parse(k.URI)
		switch {
		case err != nil:
			a.errorf("jwks.uri", "invalid URL %q", k.URI)
		case u.Scheme != "http" && u.Scheme != "https":
			a.errorf("jwks.uri", "invalid URL %q: scheme must be http or https", k.URI)
		case u.Host == "":
			a.errorf("jwks.uri", "invalid URL %q: missing host", k.URI)
		case u.Scheme == "http" && !loopback(u.Hostname()):
			a.warnf("jwks.uri", "keys fetched over plain http from %q can be tampered with in transit; use https", u.Host)
		}
	}
}

// loopback reports whether host is localhost or a loopback address.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
