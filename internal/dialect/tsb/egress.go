package tsb

import (
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// Modes of AuthorizationSettings.
const (
	fromUnset     = "UNSET"
	fromCustom    = "CUSTOM"
	fromWorkspace = "WORKSPACE"
	fromNamespace = "NAMESPACE"
	fromGroup     = "GROUP"
)

// identityMatches are the values of identityMatch; jwtgate always matches
// the caller's peer certificate, whatever the value.
var identityMatches = []string{"", "SOURCE_IDENTITY", "PEER_CERTIFICATE", "PERMISSIVE"}

// gatewayEgressAuthorization translates a Gateway's egressAuthorization
// list into one egress authorization, named after the gateway, whose
// rules are its entries, in order. An entry that cannot be translated is dropped (it grants
// nothing); an empty list denies everything.
func (t *translator) gatewayEgressAuthorization(list []egressAuthorization) {
	d := t.d
	const lp = "spec.egressAuthorization"
	origin, base := d.Piece("authorizations", lp)
	d.Rename(base+".name", "metadata.name")
	d.Rename(base+".rules", lp)
	ea := model.EgressAuthorization{Name: t.name, Rules: []model.Rule{}, Origin: origin}
	for i, e := range list {
		p := strictyaml.Index(lp, i)
		mb := strictyaml.Index(base+".rules", len(ea.Rules))
		d.unrename(mb) // of a rule dropped before
		d.Rename(mb, p)
		r, ok := model.Rule{}, true
		for j, to := range e.To {
			tp := strictyaml.Index(strictyaml.Field(p, "to"), j)
			host, ok2 := t.egressHost(to.Host, strictyaml.Field(tp, "host"), strictyaml.Index(strictyaml.Field(mb, "to"), j)+".hosts")
			ok = ok && ok2
			mt := model.To{Methods: upper(to.Methods), Paths: to.Paths}
			if host != "" {
				mt.Hosts = []string{host}
			}
			r.To = append(r.To, mt)
		}
		if len(e.To) == 0 {
			d.Rename(strictyaml.Field(mb, "to"), strictyaml.Field(p, "to"))
		}
		if !slices.Contains(identityMatches, e.IdentityMatch) {
			d.Warnf(strictyaml.Field(p, "identityMatch"), "unknown identityMatch %q: ignored (jwtgate matches the caller's peer certificate)", e.IdentityMatch)
		}
		if e.From != nil || d.Has(strictyaml.Field(p, "from")) {
			from, keep := t.callers(e.From, strictyaml.Field(p, "from"), strictyaml.Field(mb, "from"))
			ok = ok && keep
			r.From = from
		}
		if ok {
			ea.Rules = append(ea.Rules, r)
		}
	}
	t.out.Egress.Authorizations = append(t.out.Egress.Authorizations, ea)
}

// egressHost reads the host of a Gateway egressAuthorization "to" entry
// at path: a string, or a mapping with exact. prefix and regex are not
// supported: the rule is dropped (ok false). The model field mf (the
// entry's hosts) is renamed to it.
func (t *translator) egressHost(n yaml.Node, path, mf string) (host string, ok bool) {
	d := t.d
	d.Rename(mf, path)
	switch n.Kind {
	case 0:
		return "", true // reported by validation: a host is required
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "", true
		}
		d.Rename(mf+"[0]", path)
		return n.Value, true
	case yaml.MappingNode:
	default:
		d.Errorf(path, "expected a string or a mapping with exact, got %s", nodeKind(n))
		return "", false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		kp := strictyaml.Key(path, k.Value)
		d.Lines[kp] = k.Line
		switch k.Value {
		case "exact":
			if v.Kind != yaml.ScalarNode {
				d.Errorf(kp, "expected a string, got %s", nodeKind(*v))
				return "", false
			}
			host = v.Value
			d.Rename(mf+"[0]", kp)
		case "prefix", "regex":
			d.NotServed(kp, "%s host matches are not supported: this rule is dropped (it grants nothing)", k.Value)
			return "", false
		default:
			d.Warnf(kp, "unknown field %q: ignored", k.Value)
		}
	}
	return host, true
}

func nodeKind(n yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return "a scalar"
}

// egressGateway translates an EgressGateway: a wildcard egress server
// originating one-way TLS to every external host (verified against the
// listener's egress.caFile, else the system roots), and one egress
// authorization from its authorization list. An empty or absent list
// denies all traffic.
func (t *translator) egressGateway(g *object[egressGatewaySpec]) {
	d := t.d
	so, sb := d.Piece("servers", "spec")
	d.Rename(sb+".name", "metadata.name")
	t.out.Egress.Servers = append(t.out.Egress.Servers, model.EgressServer{
		Name: t.name + "/" + model.AnyHost, Host: model.AnyHost, TLS: &model.OriginationTLS{Mode: model.OriginateSimple}, Origin: so,
	})
	const lp = "spec.authorization"
	origin, base := d.Piece("authorizations", lp)
	d.Rename(base+".name", "metadata.name")
	d.Rename(base+".rules", lp)
	ea := model.EgressAuthorization{Name: t.name, Rules: []model.Rule{}, Origin: origin}
	for i, e := range g.Spec.Authorization {
		p := strictyaml.Index(lp, i)
		mb := strictyaml.Index(base+".rules", len(ea.Rules))
		tp := strictyaml.Field(p, "to")
		d.unrename(mb) // of a rule dropped before
		d.Rename(mb, p)
		d.Rename(mb+".to", tp)
		d.Rename(mb+".to[0]", tp)
		d.Rename(mb+".to[0].hosts", tp)
		var r model.Rule
		if len(e.To) > 0 {
			r.To = []model.To{{Hosts: e.To}}
		}
		keep := true
		if e.From != nil || d.Has(strictyaml.Field(p, "from")) {
			r.From, keep = t.callers(e.From, strictyaml.Field(p, "from"), mb+".from")
		}
		if keep {
			ea.Rules = append(ea.Rules, r)
		}
	}
	t.out.Egress.Authorizations = append(t.out.Egress.Authorizations, ea)
}

// callers translates a rule's from at path p (the model field mf, the
// rule's from list). keep is false when the rule must be dropped because
// it would grant nothing, or something jwtgate cannot check:
//
//   - mode WORKSPACE: the namespaces of the gateway's own Workspace;
//   - mode GROUP: the namespaces of the gateway's own Group (the group
//     named in its metadata, in its workspace);
//   - mode NAMESPACE: the gateway's namespace;
//   - mode CUSTOM, UNSET or none: serviceAccounts ("ns/sa", "ns/*",
//     "./sa" and "./*" for the gateway's namespace) and resources (TSB
//     names of Workspaces, "organizations/O/tenants/T/workspaces/W", and
//     of Groups, ".../workspaces/W/securitygroups/G" (or gatewaygroups,
//     trafficgroups): their namespaces);
//   - CLUSTER, DISABLED, RULES and any other mode: not supported.
func (t *translator) callers(f *authzFrom, p, mf string) (_ []model.From, keep bool) {
	d := t.d
	d.Rename(mf, p)
	if f == nil {
		d.NotServed(p, "from names no caller: this rule is dropped (leave from out for every caller)")
		return nil, false
	}
	if d.Has(strictyaml.Field(p, "http")) {
		d.NotServed(strictyaml.Field(p, "http"), "ignored: it configures sidecars' HTTP authorization, not the gateway")
	}
	if !slices.Contains(identityMatches, f.IdentityMatch) {
		d.Warnf(strictyaml.Field(p, "identityMatch"), "unknown identityMatch %q: ignored (jwtgate matches the caller's peer certificate)", f.IdentityMatch)
	}
	var sas, nss []string
	mode := f.Mode
	modePath := strictyaml.Field(p, "mode")
	switch mode {
	case fromWorkspace, fromNamespace, fromGroup:
		for _, k := range []string{"serviceAccounts", "resources"} {
			if d.Has(strictyaml.Field(p, k)) {
				d.NotServed(strictyaml.Field(p, k), "ignored with mode %s (only used with mode CUSTOM)", mode)
			}
		}
		if mode == fromNamespace {
			nss = []string{t.namespace}
			break
		}
		own := t.ownWorkspace
		if mode == fromGroup {
			own = t.ownGroup
		}
		ns, ok := own(modePath)
		if !ok {
			return nil, false
		}
		nss = ns
	case "", fromUnset, fromCustom:
		for i, s := range f.ServiceAccounts {
			sp := strictyaml.Index(strictyaml.Field(p, "serviceAccounts"), i)
			sa, err := serviceAccount(s, t.namespace)
			if err != "" {
				d.Errorf(sp, "invalid service account %q: %s", s, err)
				continue
			}
			d.Rename(mf+"[0].serviceAccounts["+strconv.Itoa(len(sas))+"]", sp)
			sas = append(sas, sa)
		}
		for i, res := range f.Resources {
			rp := strictyaml.Index(strictyaml.Field(p, "resources"), i)
			ns, ok := t.resource(res, rp)
			if !ok {
				return nil, false
			}
			nss = append(nss, ns...)
		}
		if d.Has(strictyaml.Field(p, "rules")) {
			d.NotServed(strictyaml.Field(p, "rules"), "ignored: only used with mode RULES, which is not supported")
		}
	default:
		d.NotServed(modePath, "mode %s is not supported: this rule is dropped (it grants nothing)", mode)
		return nil, false
	}
	var out []model.From
	if len(sas) > 0 {
		d.Rename(mf+"[0]", p)
		d.Rename(mf+"[0].serviceAccounts", strictyaml.Field(p, "serviceAccounts"))
		out = append(out, model.From{ServiceAccounts: sas})
	}
	if nss = compact(nss); len(nss) > 0 {
		at := modePath
		if mode != fromWorkspace && mode != fromNamespace && mode != fromGroup {
			at = strictyaml.Field(p, "resources")
		}
		d.Rename(mf+"["+strconv.Itoa(len(out))+"]", p)
		d.Rename(mf+"["+strconv.Itoa(len(out))+"].namespaces", at)
		out = append(out, model.From{Namespaces: nss})
	}
	if len(out) == 0 {
		d.NotServed(p, "from admits no caller: this rule is dropped (it grants nothing)")
		return nil, false
	}
	return out, true
}

// serviceAccount reads "ns/sa" into the model's "NS/SA" pattern; it
// returns what is wrong, or "".
func serviceAccount(s, gatewayNamespace string) (string, string) {
	ns, sa, ok := strings.Cut(s, "/")
	switch {
	case !ok || ns == "" || sa == "" || strings.Contains(sa, "/"):
		return "", "want NAMESPACE/SERVICE_ACCOUNT (ns/sa, ns/*, ./sa or ./*)"
	case ns != "*" && strings.Contains(ns, "*"), sa != "*" && strings.Contains(sa, "*"):
		return "", `"*" stands only for a whole namespace or service account`
	case ns == "*" && sa == "*":
		return "*", ""
	case ns == ".":
		ns = gatewayNamespace
	}
	return ns + "/" + sa, ""
}

// ownWorkspace returns the namespaces of the gateway's own Workspace;
// false (with a note) when it names none or none is found.
func (t *translator) ownWorkspace(path string) ([]string, bool) {
	m := t.d.meta
	if m.workspace == "" {
		t.d.NotFound(path, "mode WORKSPACE, but the gateway names no workspace (metadata.workspace or annotation %s): this rule is dropped (it grants nothing)", annWorkspace)
		return nil, false
	}
	return t.workspaceNamespaces(m.organization, m.tenant, m.workspace, path)
}

// ownGroup returns the namespaces of the gateway's own Group; false (with
// a note) when it names none or none is found.
func (t *translator) ownGroup(path string) ([]string, bool) {
	m := t.d.meta
	if m.group == "" {
		t.d.NotFound(path, "mode GROUP, but the gateway names no group (metadata.group or a tsb.tetrate.io/*Group annotation): this rule is dropped (it grants nothing)")
		return nil, false
	}
	return t.namespacesOf(KindGroup, "", m.organization, m.tenant, m.workspace, m.group, path)
}

// resource reads a TSB resource name in a rule's from.resources:
// Workspaces and Groups are supported; a tenant or an organization makes
// the rule dropped.
func (t *translator) resource(fqn, path string) ([]string, bool) {
	parts := strings.Split(strings.Trim(fqn, "/"), "/")
	valid := len(parts)%2 == 0 && len(parts) >= 2 && parts[0] == "organizations"
	for i := 0; valid && i < len(parts); i++ {
		valid = parts[i] != ""
	}
	if valid && len(parts) >= 4 {
		valid = parts[2] == "tenants"
	}
	if valid && len(parts) >= 6 {
		valid = parts[4] == "workspaces"
	}
	switch {
	case !valid:
		t.d.Errorf(path, "invalid resource %q: want organizations/ORG/tenants/TENANT/workspaces/WORKSPACE", fqn)
		return nil, false
	case len(parts) == 6:
		return t.workspaceNamespaces(parts[1], parts[3], parts[5], path)
	case len(parts) == 8 && groupAPIVersion(parts[6]) != "":
		return t.namespacesOf(KindGroup, groupAPIVersion(parts[6]), parts[1], parts[3], parts[5], parts[7], path)
	case len(parts) > 6:
		t.d.NotServed(path, "%s: not supported, only workspaces and groups (securitygroups, gatewaygroups, trafficgroups): this rule is dropped (it grants nothing)", parts[6])
	default:
		t.d.NotServed(path, "organizations and tenants are not supported, only workspaces: this rule is dropped (it grants nothing)")
	}
	return nil, false
}

// workspaceNamespaces returns the namespaces of the Workspace named name
// (of the tenant and organization, where both sides name them); false,
// with a note, when there is not exactly one or it selects none.
func (t *translator) workspaceNamespaces(org, tenant, name, path string) ([]string, bool) {
	return t.namespacesOf(KindWorkspace, "", org, tenant, "", name, path)
}

// groupAPIVersion is the apiVersion of the group kind a resource name's
// segment names ("securitygroups"), or "".
func groupAPIVersion(segment string) string {
	for v, s := range groupSegments {
		if s == segment {
			return v
		}
	}
	return ""
}

// namespacesOf returns the namespaces of the Workspace, or of the Group
// (of apiVersion, any group kind when empty, in the workspace), named
// name (of the tenant and organization, where both sides name them);
// false, with a note, when there is not exactly one or it selects none.
func (t *translator) namespacesOf(kind, apiVersion, org, tenant, workspace, name, path string) ([]string, bool) {
	var found []*document
	for _, w := range t.s.docs {
		if w.Ref.Name != name || (kind == KindWorkspace) != (w.workspace != nil) || (kind == KindGroup) != (w.group != nil) {
			continue
		}
		if (apiVersion != "" && w.Ref.APIVersion != apiVersion) ||
			(org != "" && w.meta.organization != "" && org != w.meta.organization) ||
			(tenant != "" && w.meta.tenant != "" && tenant != w.meta.tenant) ||
			(workspace != "" && w.meta.workspace != "" && workspace != w.meta.workspace) {
			continue
		}
		found = append(found, w)
	}
	id := name
	if workspace != "" {
		id = workspace + "/" + id
	}
	if tenant != "" {
		id = tenant + "/" + id
	}
	if org != "" {
		id = org + "/" + id
	}
	id = quote(id)
	switch {
	case len(found) == 0:
		t.d.NotFound(path, "%s %s not found in the files: this rule is dropped (it grants nothing)", kind, id)
		return nil, false
	case len(found) > 1:
		t.d.NotServed(path, "%d %s resources match %s (give tenant and organization): this rule is dropped (it grants nothing)", len(found), kind, id)
		return nil, false
	case len(found[0].namespaces) == 0:
		t.d.NotServed(path, "%s %s selects no namespace: this rule is dropped (it grants nothing)", kind, id)
		return nil, false
	}
	return found[0].namespaces, true
}

// compact removes repeated namespaces, keeping the first; "*" stands
// alone.
func compact(in []string) []string {
	if slices.Contains(in, "*") {
		return []string{"*"}
	}
	var out []string
	for _, s := range in {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
