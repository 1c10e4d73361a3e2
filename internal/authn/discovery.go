package authn

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// discoveryURL is where an issuer publishes its OpenID Provider metadata
// (OpenID Connect Discovery 1.0, section 4).
func discoveryURL(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
}

// discover fetches the issuer's discovery document and returns its
// jwks_uri.
func (r *remote) discover() (string, error) {
	u := discoveryURL(r.issuer)
	body, err := r.get(u)
	if err != nil {
		return "", fmt.Errorf("fetching discovery document %s: %w", u, err)
	}
	var doc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("parsing discovery document %s: %w", u, err)
	}
	if doc.JWKSURI == "" {
		return "", fmt.Errorf("parsing discovery document %s: %w", u, errors.New("no jwks_uri"))
	}
	if !strings.HasPrefix(doc.JWKSURI, "https://") && !strings.HasPrefix(doc.JWKSURI, "http://") {
		return "", fmt.Errorf("parsing discovery document %s: jwks_uri %q is not an http(s) URL", u, doc.JWKSURI)
	}
	// An issuer reached over https cannot send the key fetch to plain
	// http, where the keys could be replaced in transit.
	if strings.HasPrefix(u, "https://") && !strings.HasPrefix(doc.JWKSURI, "https://") {
		return "", fmt.Errorf("parsing discovery document %s: jwks_uri %q is not https, as the issuer is", u, doc.JWKSURI)
	}
	return doc.JWKSURI, nil
}
