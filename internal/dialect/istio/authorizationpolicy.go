package istio

import (
	"errors"
	"reflect"
	"strconv"
	"strings"

	"jwtgate.dev/jwtgate/internal/dialect/conditionkey"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// AuthorizationPolicy actions.
const (
	actionAllow  = "ALLOW"
	actionDeny   = "DENY"
	actionAudit  = "AUDIT"
	actionCustom = "CUSTOM"
)

// annDryRun, when "true", makes a policy a dry run: Istio evaluates it
// for its logs and metrics only.
const annDryRun = "istio.io/dry-run"

// authorizationPolicy translates the document into a model.Policy named
// "NAMESPACE/NAME" whose SpaceDelimitedClaims are split; ok is false when
// nothing is enforced (AUDIT, dry run, an invalid action).
//
// Rule I is named "rules[I]" as in the document, also when an earlier
// rule was dropped. What jwtgate cannot evaluate is translated failing
// closed, as Istio itself does with what a proxy cannot evaluate: an
// ALLOW rule holding it is dropped (the policy allows less), in a DENY
// rule it is ignored (the rule denies more).
func (d *document) authorizationPolicy(split map[string][]string) (model.Policy, bool) {
	spec := &d.ap.Spec
	if v, ok := d.meta.Annotations[annDryRun]; ok {
		dry, err := strconv.ParseBool(v)
		switch {
		case err != nil:
			d.Errorf(strictyaml.Key("metadata.annotations", annDryRun), "invalid value %q (want true or false)", v)
			return model.Policy{}, false
		case dry:
			if !d.Muted {
				d.Note(model.ReasonUnsupported, "not enforced: %s is true (Istio only logs what a dry-run policy would decide, and jwtgate does not evaluate it)", annDryRun)
			}
			return model.Policy{}, false
		}
	}
	action := spec.Action
	if action == "" {
		action = actionAllow
	}
	if spec.Provider != nil && action != actionCustom {
		d.Errorf("spec.provider", "only allowed with action CUSTOM")
	}
	deny := false
	switch action {
	case actionAllow:
	case actionDeny:
		deny = true
	case actionAudit:
		if !d.Muted {
			d.Note(model.ReasonUnsupported, "not enforced: action AUDIT only marks requests for audit logging, which jwtgate does not do (it never changes a decision)")
		}
		return model.Policy{}, false
	case actionCustom:
		if spec.Provider == nil || spec.Provider.Name == "" {
			if !d.Reported("spec.provider.name") {
				d.Errorf("spec", "action CUSTOM needs provider.name")
			}
			return model.Policy{}, false
		}
		deny = true
		if !d.Muted {
			d.Note(model.ReasonUnsupported, "the external authorizer %q cannot be consulted: the requests its rules select are denied (403), failing closed", spec.Provider.Name)
		}
	default:
		d.Errorf("spec.action", "invalid action %q (want ALLOW, DENY, AUDIT or CUSTOM)", spec.Action)
		return model.Policy{}, false
	}
	origin, base := d.Piece("policies", "spec")
	d.Rename(base+".name", "metadata.name")
	d.Rename(base+".action", "spec.action")
	d.Rename(base+".rules", "spec.rules")
	p := model.Policy{Name: d.Name(), Action: model.ActionAllow, SpaceDelimitedClaims: split, Origin: origin}
	if deny {
		p.Action = model.ActionDeny
	}
	for i, r := range spec.Rules {
		mr, ok := d.rule(r, i, deny, strictyaml.Index(base+".rules", len(p.Rules)))
		if ok {
			p.Rules = append(p.Rules, mr)
		}
	}
	return p, true
}

// rule translates rule i into the model rule at model path mb; ok is
// false when an ALLOW rule is dropped.
func (d *document) rule(r rule, i int, deny bool, mb string) (model.Rule, bool) {
	rp := strictyaml.Index("spec.rules", i)
	d.Rename(mb, rp)
	mr := model.Rule{Name: "rules[" + strconv.Itoa(i) + "]"}
	keep := true
	for _, part := range []struct {
		key string
		n   int
	}{{"from", len(r.From)}, {"to", len(r.To)}} {
		if p := strictyaml.Field(rp, part.key); part.n == 0 && d.Has(p) && !d.Reported(p) {
			d.Warnf(p, "an empty list is the same as leaving %s out: it matches every request", part.key)
		}
	}
	for j, f := range r.From {
		fp := strictyaml.Index(strictyaml.Field(rp, "from"), j)
		sp := strictyaml.Field(fp, "source")
		d.Rename(strictyaml.Index(mb+".from", j), sp)
		if f.Source == nil || reflect.DeepEqual(*f.Source, source{}) {
			if !d.Reported(sp) {
				d.Errorf(fp, "source must not be empty: set at least one field")
			}
			continue
		}
		mr.From = append(mr.From, d.source(*f.Source, sp))
	}
	for j, t := range r.To {
		tp := strictyaml.Index(strictyaml.Field(rp, "to"), j)
		op := strictyaml.Field(tp, "operation")
		d.Rename(strictyaml.Index(mb+".to", j), op)
		if t.Operation == nil || reflect.DeepEqual(*t.Operation, operation{}) {
			if !d.Reported(op) {
				d.Errorf(tp, "operation must not be empty: set at least one field")
			}
			continue
		}
		mr.To = append(mr.To, d.operation(*t.Operation, op, deny))
	}
	for j, c := range r.When {
		cp := strictyaml.Index(strictyaml.Field(rp, "when"), j)
		kp := strictyaml.Field(cp, "key")
		if c.Key == "" {
			if !d.Reported(kp) {
				d.Errorf(cp, "missing required field %q", "key")
			}
			continue
		}
		kind, name, err := conditionkey.ParseExact(c.Key)
		switch {
		case errors.Is(err, conditionkey.ErrNotEvaluated) && deny:
			d.NotServed(kp, "%q cannot be evaluated by jwtgate: the condition is ignored, so this DENY rule denies more", c.Key)
			continue
		case errors.Is(err, conditionkey.ErrNotEvaluated):
			d.NotServed(kp, "%q cannot be evaluated by jwtgate: this ALLOW rule is dropped, so the policy allows less", c.Key)
			keep = false
			continue
		case err != nil:
			d.Errorf(kp, "%v", err)
			continue
		}
		mp := strictyaml.Index(mb+".when", len(mr.When))
		d.Rename(mp, cp)
		d.Rename(mp+".name", kp)
		d.Rename(mp+".kind", kp)
		mr.When = append(mr.When, model.Condition{Kind: kind, Name: name, Values: c.Values, NotValues: c.NotValues})
	}
	return mr, keep
}

// source translates a rule's from[].source at path sp.
func (d *document) source(s source, sp string) model.From {
	if len(s.ServiceAccounts)+len(s.NotServiceAccounts) > 0 && len(s.Principals)+len(s.NotPrincipals)+len(s.Namespaces)+len(s.NotNamespaces) > 0 {
		d.Errorf(sp, "serviceAccounts and notServiceAccounts cannot be set with principals or namespaces")
	}
	return model.From{
		Principals: s.Principals, NotPrincipals: s.NotPrincipals,
		RequestPrincipals: s.RequestPrincipals, NotRequestPrincipals: s.NotRequestPrincipals,
		Namespaces: s.Namespaces, NotNamespaces: s.NotNamespaces,
		ServiceAccounts:    d.serviceAccounts(s.ServiceAccounts, strictyaml.Field(sp, "serviceAccounts")),
		NotServiceAccounts: d.serviceAccounts(s.NotServiceAccounts, strictyaml.Field(sp, "notServiceAccounts")),
		IPBlocks:           s.IPBlocks, NotIPBlocks: s.NotIPBlocks,
		RemoteIPBlocks: s.RemoteIPBlocks, NotRemoteIPBlocks: s.NotRemoteIPBlocks,
		TrustDomains: s.TrustDomains, NotTrustDomains: s.NotTrustDomains,
	}
}

// serviceAccounts writes each service account as NS/SA: "SA" alone is in
// the policy's namespace. Istio takes no wildcard here.
func (d *document) serviceAccounts(list []string, path string) []string {
	if list == nil {
		return nil
	}
	out := make([]string, len(list))
	for i, sa := range list {
		ns, name, qualified := strings.Cut(sa, "/")
		switch {
		case strings.Contains(sa, "*"):
			d.Errorf(strictyaml.Index(path, i), "invalid service account %q: no wildcard is allowed", sa)
		case !qualified:
			ns, name = d.Ref.Namespace, sa
		case ns == "" || name == "" || strings.Contains(name, "/"):
			d.Errorf(strictyaml.Index(path, i), "invalid service account %q (want NAMESPACE/NAME or NAME)", sa)
		}
		out[i] = ns + "/" + name
	}
	return out
}

// operation translates a rule's to[].operation at path op.
func (d *document) operation(o operation, op string, deny bool) model.To {
	return model.To{
		Hosts: o.Hosts, NotHosts: o.NotHosts,
		Ports:      d.ports(o.Ports, strictyaml.Field(op, "ports")),
		NotPorts:   d.ports(o.NotPorts, strictyaml.Field(op, "notPorts")),
		Methods:    d.methods(o.Methods, strictyaml.Field(op, "methods"), deny),
		NotMethods: d.methods(o.NotMethods, strictyaml.Field(op, "notMethods"), !deny),
		Paths:      o.Paths, NotPaths: o.NotPaths,
	}
}

// ports reads port numbers written as strings.
func (d *document) ports(list []string, path string) []int {
	if list == nil {
		return nil
	}
	out := make([]int, len(list))
	for i, s := range list {
		n, err := strconv.Atoi(s)
		if err != nil {
			d.Errorf(strictyaml.Index(path, i), "invalid port %q", s)
			n = 1 // reported here, not again by validation
		}
		out[i] = n
	}
	return out
}

// methods reads methods. jwtgate upper-cases every request's method
// before anything looks at it, while Istio compares methods as written:
// a method that is not upper case is upper-cased where matching more
// fails closed (methods of a DENY rule, notMethods of an ALLOW rule) and
// kept, matching nothing, where matching less does.
func (d *document) methods(list []string, path string, widen bool) []string {
	if list == nil {
		return nil
	}
	out := make([]string, len(list))
	for i, m := range list {
		out[i] = m
		if u := strings.ToUpper(m); u != m {
			at := strictyaml.Index(path, i)
			if widen {
				out[i] = u
				d.NotServed(at, "method %q is compared as %s (jwtgate upper-cases request methods), failing closed", m, u)
			} else {
				d.Warnf(at, "method %q matches no request: jwtgate upper-cases request methods (write %s)", m, u)
			}
		}
	}
	return out
}
