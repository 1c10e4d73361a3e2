package envoygateway

import (
	"fmt"
	"slices"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
)

// accessChecks are the SecurityPolicy features that decide whether a
// request may pass and that jwtgate does not serve: a policy holding one
// denies every request on its routes, as leaving it out would let
// through what it refuses.
var accessChecks = []struct{ key, what string }{
	{"basicAuth", "HTTP Basic authentication"},
	{"apiKeyAuth", "API key authentication"},
	{"oidc", "OpenID Connect login"},
	{"extAuth", "external authorization"},
}

// emit translates every policy that applies to some route, in reading
// order, and writes its providers, JWT policies and policies.
func (t *translator) emit() {
	for _, d := range t.s.docs {
		if d.HasErrors {
			continue
		}
		d.reportLost()
		var live []*target
		var shadowed []string
		for _, tg := range d.targets {
			switch {
			case tg.lost != "":
			case len(tg.routes)+len(tg.merged) > 0:
				live = append(live, tg)
			case len(tg.over) > 0:
				shadowed = append(shadowed, fmt.Sprintf("not applied to %s: every route it reaches has a more specific policy (%s), which Envoy Gateway applies instead (Overridden)", tg.describe(), strings.Join(tg.over, ", ")))
			default:
				d.Warnf(tg.path, "%s has no route: the policy applies to nothing there", tg.describe())
			}
		}
		for _, msg := range shadowed {
			if len(live) == 0 {
				d.Note(model.ReasonConflicted, "%s", msg)
			} else {
				d.Warnf("spec", "%s", msg)
			}
		}
		if len(live) > 0 {
			t.translate(d, live)
		}
	}
}

// translate makes the providers of d and its pieces on the routes of
// each live target.
func (t *translator) translate(d *document, live []*target) {
	spec := &d.obj.Spec
	var k *keys
	if spec.JWT != nil {
		if k = t.providers(d); !k.ok {
			return // the errors say why; the configuration is refused
		}
		t.out.Providers = append(t.out.Providers, k.providers...)
	}
	var z *authz
	if spec.Authorization != nil {
		z = t.authorization(d, k)
	}
	var denied []string
	for _, c := range accessChecks {
		if d.Has("spec." + c.key) {
			denied = append(denied, c.key)
			d.Note(model.ReasonUnsupported, "spec.%s: %s is not supported by jwtgate: every request on the policy's routes is denied (403), failing closed", c.key, c.what)
			d.Warnf("spec."+c.key, "%s is not supported by jwtgate: every request on the policy's routes is denied", c.what)
		}
	}
	if d.Has("spec.cors") {
		d.NotServed("spec.cors", "not served: jwtgate adds no CORS headers and answers no preflight itself, so browsers refuse the cross-origin requests it would allow")
	}
	if mt := spec.MergeType; mt != nil {
		d.NotServed("spec.mergeType", "%s is not supported: where this policy replaces a Gateway's or listener's, that one is enforced too (a request must pass both, and its JWT requirement applies if this policy has none), failing closed", *mt)
	}
	for _, tg := range live {
		if len(tg.routes) > 0 {
			if spec.JWT != nil {
				t.out.JWTPolicies = append(t.out.JWTPolicies, t.jwtPolicy(d, tg, tg.modelName(), tg.routes, k))
			}
			if z != nil {
				t.out.Policies = append(t.out.Policies, t.policies(d, z, tg, tg.modelName(), tg.routes, z.natural())...)
			}
			for _, key := range denied {
				t.out.Policies = append(t.out.Policies, t.denyAll(d, tg, tg.modelName()+"/"+key, tg.routes, key))
			}
		}
		if len(tg.merged) == 0 {
			continue
		}
		// Enforced beside a more specific policy that asked to be merged
		// into this one: the authorization as a DENY policy, so that the
		// request must pass both; the JWT requirement comes after the
		// other policy's, which wins where it has one.
		name := tg.modelName() + "/merged"
		var bare []string // the routes whose own policy has no JWT
		for _, r := range tg.merged {
			if t.best[r].doc.obj.Spec.JWT == nil {
				bare = append(bare, r)
			}
		}
		if spec.JWT != nil && len(bare) > 0 {
			t.out.JWTPolicies = append(t.out.JWTPolicies, t.jwtPolicy(d, tg, name, bare, k))
		}
		if z != nil {
			t.out.Policies = append(t.out.Policies, t.policies(d, z, tg, name, tg.merged, formDeny)...)
		}
		for _, key := range denied {
			t.out.Policies = append(t.out.Policies, t.denyAll(d, tg, name+"/"+key, tg.merged, key))
		}
	}
}

// jwtPolicy is the JWT policy of d on routes.
func (t *translator) jwtPolicy(d *document, tg *target, name string, routes []string, k *keys) model.JWTPolicy {
	origin, base := d.Piece("jwtPolicies", "spec.jwt")
	d.Rename(base+".name", "metadata.name")
	d.Rename(base+".routes", tg.path)
	d.Rename(base+".requirement", "spec.jwt")
	return model.JWTPolicy{Name: name, Routes: slices.Clone(routes), Requirement: requirement(d.obj.Spec.JWT, k), Origin: origin}
}
