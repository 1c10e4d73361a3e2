package proxy

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"jwtgate.dev/jwtgate/internal/authn"
)

// minSecret is the shortest credential replaced wherever it appears in
// the report's text; shorter ones are redacted in their own header only
// (replacing them everywhere would mangle ordinary words).
const minSecret = 8

// credentialHeaders carry credentials whatever the configuration says:
// their values are never shown.
var credentialHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie"}

// credentials notes the credentials a request carries, to redact them.
func (t *explainTrace) credentials(h http.Header) {
	for _, name := range credentialHeaders {
		for _, v := range h[name] {
			if name == "Cookie" {
				for _, c := range strings.Split(v, ";") {
					if _, val, ok := strings.Cut(c, "="); ok {
						t.secrets = append(t.secrets, strings.TrimSpace(val))
					}
				}
				continue
			}
			if _, rest, ok := strings.Cut(strings.TrimSpace(v), " "); ok {
				t.secrets = append(t.secrets, strings.TrimSpace(rest))
			} else {
				t.secrets = append(t.secrets, strings.TrimSpace(v))
			}
		}
	}
}

// redact replaces, everywhere the report shows request data, every token
// and credential seen by its fingerprint, and the values of credential
// headers and injected headers by a placeholder.
func (t *explainTrace) redact() {
	for _, tr := range []*authn.Trace{t.authn, t.report.ProxyAuthn} {
		if tr != nil {
			t.secrets = append(t.secrets, tr.Secrets()...)
		}
	}
	secrets := t.secrets[:0:0]
	for _, s := range t.secrets {
		if len(s) >= minSecret && !slices.Contains(secrets, s) {
			secrets = append(secrets, s)
		}
	}
	// Longest first, so that a token is replaced before a part of it.
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	t.secrets = secrets

	// On an egress listener, a header some server injects is a
	// credential whoever sends it.
	var injected []string
	for _, c := range t.l.routes {
		if c.egress != nil {
			for _, j := range c.egress.inject {
				injected = append(injected, j.header)
			}
		}
	}

	rep := t.report
	rep.Request.URL = t.scrub(rep.Request.URL)
	rep.Request.Header = t.scrubHeader(rep.Request.Header, injected, false)
	for i := range rep.Misses {
		rep.Misses[i].Reason = t.scrub(rep.Misses[i].Reason)
	}
	for i := range rep.Policies {
		for j := range rep.Policies[i].Rules {
			rl := &rep.Policies[i].Rules[j]
			rl.Why = t.scrub(rl.Why)
		}
	}
	rep.Answer.Header = t.scrubHeader(rep.Answer.Header, t.hidden, true)
	rep.Answer.Body = t.scrub(rep.Answer.Body)
	if u := rep.Upstream; u != nil {
		u.URL = t.scrub(u.URL)
		u.Host = t.scrub(u.Host)
		u.Header = t.scrubHeader(u.Header, t.hidden, true)
	}
}

// scrub replaces every secret in s, and anything else shaped like a
// JWT, by its fingerprint.
func (t *explainTrace) scrub(s string) string {
	for _, sec := range t.secrets {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, "["+authn.Fingerprint(sec)+"]")
		}
	}
	if strings.Contains(s, "eyJ") {
		s = jwtShape.ReplaceAllStringFunc(s, func(tok string) string { return "[" + authn.Fingerprint(tok) + "]" })
	}
	return s
}

// jwtShape finds compact JWS tokens in text: three base64url segments,
// the first a JSON object.
var jwtShape = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`)

// scrubHeader is a copy of h with secrets scrubbed and the values of
// credential headers redacted; the values of the headers named in
// secret are withheld (injected credentials), or with withhold false
// redacted as credentials.
func (t *explainTrace) scrubHeader(h http.Header, secret []string, withhold bool) http.Header {
	if h == nil {
		return nil
	}
	out := make(http.Header, len(h))
	for name, vs := range h {
		c := make([]string, len(vs))
		for i, v := range vs {
			switch {
			case slices.Contains(secret, name) && withhold:
				c[i] = "[injected credential, withheld]"
			case slices.Contains(secret, name):
				c[i] = redactCredential(v)
			case name == "Cookie":
				c[i] = redactCookie(v)
			case slices.Contains(credentialHeaders, name):
				c[i] = redactCredential(v)
			default:
				c[i] = t.scrub(v)
			}
		}
		out[name] = c
	}
	return out
}

// redactCredential keeps a credential's scheme ("Bearer") and replaces
// the rest: a JWT by its fingerprint, anything else by its length.
func redactCredential(v string) string {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !validToken(scheme) {
		return redactValue(v)
	}
	return scheme + " " + redactValue(strings.TrimSpace(rest))
}

// redactCookie keeps the cookies' names.
func redactCookie(v string) string {
	parts := strings.Split(v, ";")
	for i, p := range parts {
		name, val, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			parts[i] = redactValue(strings.TrimSpace(p))
			continue
		}
		parts[i] = name + "=" + redactValue(val)
	}
	return strings.Join(parts, "; ")
}

func redactValue(v string) string {
	if looksLikeJWT(v) {
		return "[" + authn.Fingerprint(v) + "]"
	}
	return "[redacted, " + strconv.Itoa(len(v)) + " bytes]"
}

// looksLikeJWT reports whether v has the shape of a compact JWS: three
// base64url segments, the first a JSON object ("eyJ").
func looksLikeJWT(v string) bool {
	if !strings.HasPrefix(v, "eyJ") || strings.Count(v, ".") != 2 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
