// Package matchmode expands Alibaba ASM's JWT match modes into model
// pieces, for every dialect that offers them (the native format's
// authIfMatched and bypassIfMatched, and Istio-family resources).
//
// A match mode makes a route's authentication lenient for requests
// without a token (an invalid token is still rejected) and adds a DENY
// policy that rejects, with 403, the tokenless requests the mode
// protects: with authIfMatched those that match the set's paths and
// methods, with bypassIfMatched those that do not.
package matchmode

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
)

// Mode is a match mode.
type Mode string

// The match modes.
const (
	// AuthIfMatched requires a token for the requests the set matches.
	AuthIfMatched Mode = "authIfMatched"
	// BypassIfMatched requires a token for every request except those the
	// set matches.
	BypassIfMatched Mode = "bypassIfMatched"
)

// Set selects requests: by path pattern (exact, "prefix*", "*suffix",
// "*") and by method; both lists given means both must match.
type Set struct {
	Paths   []string
	Methods []string
}

// Expansion is what a match mode adds to a route.
type Expansion struct {
	// Policy is the DENY policy, attached to the route by name; the
	// caller gives it an Origin.
	Policy model.Policy
	// From maps field paths below the policy ("rules[0].to[0].paths") to
	// the set's field they came from ("paths" or "methods"), so that an
	// issue about the policy can be placed at the set's own field.
	From map[string]string
}

// Expand applies mode to route's requirement req (which becomes
// AuthAllowMissing) and returns the DENY policy. It refuses a mode that
// cannot work with the requirement: with allowMissingOrFailed an invalid
// token would pass, and in phase postAuthz the policy would run before
// the token is verified and deny every matched request.
func Expand(route string, mode Mode, set Set, req *model.JWTRequirement) (Expansion, error) {
	switch {
	case req.Mode == model.AuthAllowMissingOrFailed:
		return Expansion{}, fmt.Errorf("%s cannot be combined with allowMissingOrFailed (an invalid token must still be rejected)", mode)
	case req.Phase == model.PhasePostAuthz:
		return Expansion{}, fmt.Errorf("%s cannot be combined with phase postAuthz (its policy must see the verified token)", mode)
	case len(set.Paths) == 0 && len(set.Methods) == 0:
		return Expansion{}, errors.New("one of paths, methods is required")
	case mode != AuthIfMatched && mode != BypassIfMatched:
		return Expansion{}, fmt.Errorf("unknown match mode %q", mode)
	}
	req.Mode = model.AuthAllowMissing
	methods := make([]string, len(set.Methods))
	for i, m := range set.Methods {
		methods[i] = strings.ToUpper(m)
	}
	if len(methods) == 0 {
		methods = nil
	}
	x := Expansion{
		Policy: model.Policy{Name: route + "/" + string(mode), Action: model.ActionDeny, Routes: []string{route}},
		From:   map[string]string{"rules": ""},
	}
	rule := model.Rule{From: []model.From{{NotRequestPrincipals: []string{"*"}}}}
	if mode == AuthIfMatched {
		// Deny tokenless requests that match paths AND methods.
		rule.To = []model.To{{Paths: set.Paths, Methods: methods}}
		x.From["rules[0].to[0].paths"] = "paths"
		x.From["rules[0].to[0].methods"] = "methods"
	} else {
		// Deny tokenless requests outside the paths, or with another
		// method.
		if len(set.Paths) > 0 {
			rule.To = append(rule.To, model.To{NotPaths: set.Paths})
			x.From["rules[0].to["+strconv.Itoa(len(rule.To)-1)+"].notPaths"] = "paths"
		}
		if len(methods) > 0 {
			rule.To = append(rule.To, model.To{NotMethods: methods})
			x.From["rules[0].to["+strconv.Itoa(len(rule.To)-1)+"].notMethods"] = "methods"
		}
	}
	x.Policy.Rules = []model.Rule{rule}
	return x, nil
}
