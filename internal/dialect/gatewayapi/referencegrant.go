package gatewayapi

import (
	"fmt"

	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// checkGrant checks a ReferenceGrant on its own, as the API server does.
func (d *document) checkGrant() {
	sp := d.grant.Spec
	switch {
	case len(sp.From) == 0 && !d.Reported("spec.from"):
		d.Errorf("spec", "missing required field %q: a ReferenceGrant needs at least one entry in from", "from")
	case len(sp.From) > 16:
		d.Errorf("spec.from", "at most 16 entries, got %d", len(sp.From))
	}
	switch {
	case len(sp.To) == 0 && !d.Reported("spec.to"):
		d.Errorf("spec", "missing required field %q: a ReferenceGrant needs at least one entry in to", "to")
	case len(sp.To) > 16:
		d.Errorf("spec.to", "at most 16 entries, got %d", len(sp.To))
	}
	for i, f := range sp.From {
		p := strictyaml.Index("spec.from", i)
		d.required(p, "group", d.Has(strictyaml.Field(p, "group")))
		d.required(p, "kind", f.Kind != "")
		d.required(p, "namespace", f.Namespace != "")
	}
	for i, t := range sp.To {
		p := strictyaml.Index("spec.to", i)
		d.required(p, "group", d.Has(strictyaml.Field(p, "group")))
		d.required(p, "kind", t.Kind != "")
	}
}

// required reports the field key of the mapping at p as missing unless
// present (the field has a usable value).
func (d *document) required(p, key string, present bool) {
	if !present && !d.Reported(strictyaml.Field(p, key)) {
		d.Errorf(p, "missing required field %q", key)
	}
}

// grantIndex answers whether a ReferenceGrant permits a reference across
// namespaces.
type grantIndex struct{ docs []*document }

// grants collects the load's ReferenceGrants.
func (s *session) grants() *grantIndex {
	g := &grantIndex{}
	for _, d := range s.docs {
		if d.grant != nil {
			g.docs = append(g.docs, d)
		}
	}
	return g
}

// kindRef is an object's group, kind, namespace and name.
type kindRef struct{ group, kind, namespace, name string }

func (k kindRef) String() string {
	kind := k.kind
	if k.group != "" {
		kind += "." + k.group
	}
	return fmt.Sprintf("%s %s/%s", kind, k.namespace, k.name)
}

// permits reports whether a reference from an object of the group and
// kind in namespace fromNS to the object to is allowed: always within one
// namespace, else when a ReferenceGrant in to's namespace lets from's
// group, kind and namespace refer to to's group and kind (and name, when
// the grant names one).
func (g *grantIndex) permits(fromGroup, fromKind, fromNS string, to kindRef) bool {
	if fromNS == to.namespace {
		return true
	}
	for _, d := range g.docs {
		if d.Ref.Namespace != to.namespace {
			continue
		}
		from := false
		for _, f := range d.grant.Spec.From {
			if f.Group == fromGroup && f.Kind == fromKind && f.Namespace == fromNS {
				from = true
				break
			}
		}
		if !from {
			continue
		}
		for _, t := range d.grant.Spec.To {
			if t.Group == to.group && t.Kind == to.kind && (t.Name == nil || *t.Name == "" || *t.Name == to.name) {
				return true
			}
		}
	}
	return false
}
