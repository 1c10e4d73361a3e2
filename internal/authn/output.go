package authn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
)

// claimOutput copies one claim into a request header.
type claimOutput struct {
	claim  string
	path   []string // claim split at dots; used when no top-level claim has the whole name
	header string   // canonical
	append bool
}

// compileOutputs canonicalizes the output header names once.
func (p *Provider) compileOutputs(m model.Provider) error {
	seen := map[string]bool{}
	add := func(h string) {
		if !seen[h] {
			seen[h] = true
			p.outputs = append(p.outputs, h)
		}
	}
	for i, c := range m.ClaimsToHeaders {
		if c.Claim == "" || c.Header == "" {
			return fmt.Errorf("claimsToHeaders[%d]: claim and header are required", i)
		}
		h := textproto.CanonicalMIMEHeaderKey(c.Header)
		p.claims = append(p.claims, claimOutput{claim: c.Claim, path: strings.Split(c.Claim, "."), header: h, append: c.Append})
		add(h)
	}
	if m.PayloadHeader != "" {
		p.payload = textproto.CanonicalMIMEHeaderKey(m.PayloadHeader)
		add(p.payload)
	}
	return nil
}

// applyOutputs writes id's claim headers and payload header to h. set
// records the headers written during this request: appending joins only
// with a value the gateway itself set, never with one a client sent.
func (p *Provider) applyOutputs(h http.Header, id *Identity, set map[string]bool) {
	for _, c := range p.claims {
		v, ok := lookupClaim(id.Claims, c.claim, c.path)
		if !ok {
			continue
		}
		s, ok := renderClaim(v)
		if !ok || s == "" || !safeHeaderValue(s) {
			continue
		}
		if c.append && set[c.header] {
			if old := h.Get(c.header); old != "" {
				s = old + "," + s
			}
		}
		h[c.header] = []string{s}
		set[c.header] = true
	}
	if p.payload != "" && id.Payload != "" {
		h[p.payload] = []string{id.Payload}
		set[p.payload] = true
	}
}

// lookupClaim finds a claim by its full name, then by a dotted path
// through nested objects.
func lookupClaim(claims map[string]any, name string, path []string) (any, bool) {
	if v, ok := claims[name]; ok {
		return v, v != nil
	}
	if len(path) < 2 {
		return nil, false
	}
	var cur any = claims
	for _, seg := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[seg]; !ok {
			return nil, false
		}
	}
	return cur, cur != nil
}

// renderClaim renders a claim as a header value: strings as they are,
// numbers as written, booleans as true/false, arrays as their rendered
// elements joined with commas, objects as compact JSON.
func renderClaim(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			var s string
			var ok bool
			switch e.(type) {
			case []any, map[string]any:
				s, ok = compactJSON(e)
			default:
				s, ok = renderClaim(e)
			}
			if !ok {
				continue
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), true
	case map[string]any:
		if len(x) == 0 {
			return "", true // empty, like "" and []
		}
		return compactJSON(x)
	}
	return "", false
}

// compactJSON marshals v without HTML escaping.
func compactJSON(v any) (string, bool) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", false
	}
	return strings.TrimSuffix(b.String(), "\n"), true
}

// safeHeaderValue reports whether s holds no control character (tab
// aside) and no DEL, so it cannot split or smuggle headers.
func safeHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
