// Package conditionkey reads Istio AuthorizationPolicy condition keys
// ("request.auth.claims[groups]") into model conditions, for every dialect
// that accepts them: the native format's `key:` and the Istio-family
// resources.
package conditionkey

import (
	"fmt"
	"regexp"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
)

var (
	claimKey  = regexp.MustCompile(`^request\.auth\.claims((?:\[[^\[\]]+\])+)$`)
	headerKey = regexp.MustCompile(`^request\.headers\[([^\[\]]+)\]$`)
)

// Supported lists the keys Parse reads, for error messages.
const Supported = "request.auth.claims[NAME], request.headers[NAME], request.auth.audiences, request.auth.presenter, request.auth.principal"

// Parse returns what key looks at: its kind, and the claim path (nested
// claims joined with dots) or header name. It returns an error for a key
// that is not supported.
func Parse(key string) (model.ConditionKind, string, error) {
	switch key {
	case "request.auth.audiences":
		return model.CondAudience, "", nil
	case "request.auth.presenter":
		return model.CondPresenter, "", nil
	case "request.auth.principal":
		return model.CondPrincipal, "", nil
	}
	if m := claimKey.FindStringSubmatch(key); m != nil {
		parts := strings.Split(strings.Trim(m[1], "[]"), "][")
		return model.CondClaim, strings.Join(parts, "."), nil
	}
	if m := headerKey.FindStringSubmatch(key); m != nil {
		return model.CondHeader, m[1], nil
	}
	return "", "", fmt.Errorf("unsupported condition key %q (supported: %s)", key, Supported)
}
