// Package conditionkey reads Istio AuthorizationPolicy condition keys
// ("request.auth.claims[groups]") into model conditions, for every dialect
// that accepts them: the native format's `key:` and the Istio-family
// resources.
package conditionkey

import (
	"errors"
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
const Supported = "request.auth.claims[NAME], request.headers[NAME], request.auth.audiences, request.auth.presenter, request.auth.principal, " +
	"source.ip, remote.ip, source.namespace, source.principal, source.serviceAccount, destination.port"

// ErrNotEvaluated is wrapped by the error for a key Istio knows but
// jwtgate cannot evaluate (destination.ip, connection.sni,
// experimental.envoy.filters.*, request.experimental.inline.headers[...]):
// a dialect that must read such a policy anyway translates it failing
// closed. Any other error means a key Istio itself rejects.
var ErrNotEvaluated = errors.New("not evaluated by jwtgate")

// plain are the keys that name one value and take no argument.
var plain = map[string]model.ConditionKind{
	"request.auth.audiences": model.CondAudience,
	"request.auth.presenter": model.CondPresenter,
	"request.auth.principal": model.CondPrincipal,
	"source.ip":              model.CondSourceIP,
	"remote.ip":              model.CondRemoteIP,
	"source.namespace":       model.CondSourceNamespace,
	"source.principal":       model.CondSourcePrincipal,
	"source.serviceAccount":  model.CondSourceServiceAccount,
	"destination.port":       model.CondDestinationPort,
}

var (
	inlineHeaderKey = regexp.MustCompile(`^request\.experimental\.inline\.headers\[[^\[\]]+\]$`)
	envoyFilterKey  = regexp.MustCompile(`^experimental\.envoy\.filters\.[^\[\]]+\[[^\[\]]+\]$`)
)

// Parse returns what key looks at: its kind, and the claim path (see
// model.ParseClaimPath) or header name. A claim key's segments are joined
// with dots ("request.auth.claims[a][b]" is the claim "a.b", which also
// finds a top-level claim named "a.b", as the native format documents),
// or kept in brackets when one of them holds a dot
// ("request.auth.claims[kubernetes.io]" is "[kubernetes.io]"). It returns
// an error for a key that is not supported, wrapping ErrNotEvaluated for
// a key Istio knows but jwtgate cannot evaluate.
func Parse(key string) (model.ConditionKind, string, error) {
	return parse(key, false)
}

// ParseExact is Parse with claim paths that name exactly what Istio's key
// does: a nested claim is written in brackets ("request.auth.claims[a][b]"
// is "[a][b]"), so that a top-level claim named "a.b" is not looked at.
// The Istio dialect reads keys with it.
func ParseExact(key string) (model.ConditionKind, string, error) {
	return parse(key, true)
}

func parse(key string, exact bool) (model.ConditionKind, string, error) {
	if k, ok := plain[key]; ok {
		return k, "", nil
	}
	if m := claimKey.FindStringSubmatch(key); m != nil {
		segs := strings.Split(strings.Trim(m[1], "[]"), "][")
		if exact && len(segs) > 1 {
			return model.CondClaim, "[" + strings.Join(segs, "][") + "]", nil
		}
		return model.CondClaim, ClaimName(segs), nil
	}
	if m := headerKey.FindStringSubmatch(key); m != nil {
		return model.CondHeader, m[1], nil
	}
	switch {
	case key == "destination.ip", key == "connection.sni", inlineHeaderKey.MatchString(key), envoyFilterKey.MatchString(key):
		return "", "", fmt.Errorf("condition key %q is %w (supported: %s)", key, ErrNotEvaluated, Supported)
	}
	return "", "", fmt.Errorf("unsupported condition key %q (supported: %s)", key, Supported)
}

// ClaimName writes the claim path of segments: joined with dots, or each
// in brackets when one of them holds a dot.
func ClaimName(segments []string) string {
	for _, s := range segments {
		if strings.Contains(s, ".") {
			return "[" + strings.Join(segments, "][") + "]"
		}
	}
	return strings.Join(segments, ".")
}
