package envoygateway

import (
	"errors"
	"slices"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
)

// maxCEL is the API's limit on an authorization rule's cel.
const maxCEL = 4096

// checkCEL checks a rule's cel: the API's size limit, and an expression
// that does not compile (an error). One that reads an Envoy attribute
// jwtgate does not provide is left to ruleFactors, which fails closed.
func (d *document) checkCEL(src, path string) {
	if src == "" || len(src) > maxCEL {
		d.Errorf(path, "want 1 to %d characters, got %d", maxCEL, len(src))
		return
	}
	if _, err := model.CompileCEL(src); err != nil && !errors.Is(err, model.ErrCELAttribute) {
		d.Errorf(path, "invalid CEL expression: %v", err)
	}
}

// celFactor is the factor of a rule's cel: a CEL condition
// (model.CondCEL) jwtgate evaluates per request. Envoy Gateway writes a
// verified token's claims under the name of the provider that verified
// it, in metadata.filter_metadata['envoy.filters.http.jwt_authn'], with
// scope split into a list (the policies' SpaceDelimitedClaims say so).
// With one provider the condition shows the claims under its name. With
// several, and an expression that reads the metadata, the provider is
// told by the token's issuer: the factor is, for each provider, "the
// issuer is its issuer and the expression holds with the claims under
// its name", or "no token of theirs and the expression holds without
// claims". why says why there is no factor: an attribute jwtgate does
// not provide, or providers that cannot be told apart.
func celFactor(src string, k *keys) (f formula, why string) {
	if _, err := model.CompileCEL(src); err != nil {
		return nil, err.Error()
	}
	cel := func(key string) lit { return lit{kind: litCEL, name: key, values: []string{src}} }
	var names []string
	if k != nil {
		for n := range k.issuers {
			names = append(names, n)
		}
		slices.Sort(names)
	}
	switch {
	case len(names) == 0 || !strings.Contains(src, "metadata"):
		// No provider (no token is verified), or an expression that
		// does not read the claims: where they would be is no matter.
		// (A "metadata" in a string literal only costs the expansion
		// below.)
		return one(cel("")), ""
	case len(names) == 1:
		return one(cel(names[0])), ""
	}
	var all []string
	for _, n := range names {
		iss := k.issuers[n]
		if iss == "" || slices.Contains(all, iss) {
			return nil, "the expression reads the metadata where Envoy Gateway puts the claims under the name of the provider that verified the token, " +
				"and which of the policy's providers verified a token cannot be told by its issuer (each provider needs an issuer of its own)"
		}
		all = append(all, iss)
		f = append(f, term{{kind: litIssuer, values: []string{iss}}, cel(n)})
	}
	return append(f, term{{kind: litIssuer, neg: true, values: all}, cel(names[0])}), ""
}
