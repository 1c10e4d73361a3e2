// Package tsb reads Tetrate Service Bridge (TSB) configuration: the
// gateway.tsb.tetrate.io/v2 Gateway and EgressGateway, the
// traffic.tsb.tetrate.io/v2 TrafficSetting and the tsb.tetrate.io/v2
// Workspace, in tctl style (organization, tenant, workspace and group in
// metadata) or Kubernetes style (tsb.tetrate.io/* annotations).
//
// jwtgate stands in for one egress gateway. The dialect is a
// dialect.Session: Decode reads and checks each document on its own, and
// Finish, once every document is read, chooses the gateway jwtgate serves
// (see choose), translates it into egress servers, JWT providers and
// gateway-wide egress authorizations, resolves the Workspaces its rules
// name, and gives every other gateway the status NotSelected.
//
// Names in the model: an EGRESS http server becomes the egress server
// "GATEWAY/SERVER" and its JWT rule the provider "GATEWAY/SERVER" (the
// rules of authentication.rules.jwt become "GATEWAY/SERVER/0", "/1", ...);
// a Gateway's egressAuthorization list becomes the egress authorization
// "GATEWAY". An EgressGateway becomes the wildcard egress server
// "GATEWAY/*" and the egress authorization "GATEWAY". GATEWAY is the
// resource's metadata.name. A server's name always holds a "/" after
// GATEWAY, so no server shares its name with the authorization.
//
// Every document is a resource: its Ref is the document's apiVersion and
// kind, metadata.name, and as namespace metadata.namespace, else (for
// gateways) workloadSelector.namespace, else model.DefaultNamespace. The
// fields of each model piece are mapped back to the document's fields
// (strictyaml.Document.Renames), so that what validation finds later is
// reported at the vendor document's own file, line and field path.
package tsb

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// The apiVersions and kinds this dialect reads.
const (
	GatewayAPIVersion   = "gateway.tsb.tetrate.io/v2"
	TrafficAPIVersion   = "traffic.tsb.tetrate.io/v2"
	WorkspaceAPIVersion = "tsb.tetrate.io/v2"
	SecurityAPIVersion  = "security.tsb.tetrate.io/v2"

	KindGateway        = "Gateway"
	KindEgressGateway  = "EgressGateway"
	KindTrafficSetting = "TrafficSetting"
	KindWorkspace      = "Workspace"
	// KindGroup is read in the gateway, traffic and security apiVersions.
	KindGroup = "Group"
)

// groupSegments name a group's kind in TSB resource names
// (organizations/O/tenants/T/workspaces/W/SEGMENT/NAME), by apiVersion.
var groupSegments = map[string]string{
	GatewayAPIVersion:  "gatewaygroups",
	TrafficAPIVersion:  "trafficgroups",
	SecurityAPIVersion: "securitygroups",
}

// Annotations of the Kubernetes style.
const (
	annotationPrefix = "tsb.tetrate.io/"
	annOrganization  = annotationPrefix + "organization"
	annTenant        = annotationPrefix + "tenant"
	annWorkspace     = annotationPrefix + "workspace"
)

// groupAnnotations name a resource's group, one per group kind.
var groupAnnotations = []string{
	annotationPrefix + "gatewayGroup", annotationPrefix + "trafficGroup",
	annotationPrefix + "securityGroup", annotationPrefix + "istioInternalGroup",
}

// New makes the Session of one load, for the gateway and workloads
// env.Selection names. It is a dialect.Family.
func New(env dialect.Env) dialect.Session { return &session{sel: env.Selection} }

// session collects every TSB document of a load.
type session struct {
	sel  dialect.Selection
	docs []*document
}

// hierarchy is where a resource sits in TSB's tree.
type hierarchy struct {
	organization, tenant, workspace, group string
}

// document is one TSB document, decoded.
type document struct {
	dialect.Doc
	kind string
	meta hierarchy

	gateway   *object[gatewaySpec]
	egress    *object[egressGatewaySpec]
	traffic   *object[trafficSettingSpec]
	workspace *object[workspaceSpec]
	group     *object[workspaceSpec]
	// namespaces are a Workspace's or a Group's namespace patterns.
	namespaces []string
}

// note is a status the dialect decides for a document.
type note = dialect.NoteDraft

// Decode reads one document and checks what can be checked without the
// others. Gateways are translated by Finish.
func (s *session) Decode(in dialect.Document) dialect.Result {
	d := &document{kind: in.Kind}
	if in.Node != nil {
		d.Line = in.Node.Line
	}
	dec := strictyaml.NewDecoder()
	var meta *metadata
	var selector *workloadSelector
	switch in.Kind {
	case KindGateway:
		d.gateway = decode[gatewaySpec](dec, in.Node)
		meta, selector = &d.gateway.Metadata, d.gateway.Spec.WorkloadSelector
	case KindEgressGateway:
		d.egress = decode[egressGatewaySpec](dec, in.Node)
		meta, selector = &d.egress.Metadata, d.egress.Spec.WorkloadSelector
	case KindTrafficSetting:
		d.traffic = decode[trafficSettingSpec](dec, in.Node)
		meta = &d.traffic.Metadata
	case KindWorkspace:
		d.workspace = decode[workspaceSpec](dec, in.Node)
		meta = &d.workspace.Metadata
	case KindGroup:
		d.group = decode[workspaceSpec](dec, in.Node)
		meta = &d.group.Metadata
	default:
		// Only reachable when the loader's table lists a kind this
		// package does not know.
		is := model.Issue{Severity: model.Error, Origin: model.Origin{File: in.File, Line: d.Line},
			Msg: fmt.Sprintf("tsb: kind %q is not read by this dialect", in.Kind)}
		return dialect.Result{Issues: model.Issues{is}}
	}
	ns := meta.Namespace
	if ns == "" && selector != nil {
		ns = selector.Namespace
	}
	d.Begin(in, dec, ns, meta.Name)
	d.ReportProblems(dec.Problems, dialect.UnknownIgnored)
	d.metadata(meta)
	if selector == nil && (d.gateway != nil || d.egress != nil) && !d.Has("spec.workloadSelector") {
		d.Errorf("spec", "missing required field %q", "workloadSelector")
	}
	switch {
	case d.traffic != nil:
		d.trafficSetting()
	case d.workspace != nil:
		d.readNamespaces(d.workspace.Spec.NamespaceSelector)
	case d.group != nil:
		d.readNamespaces(d.group.Spec.NamespaceSelector)
	}
	for _, o := range s.docs {
		if o.Ref == d.Ref && o.meta == d.meta && d.Ref.Name != "" {
			d.Errorf("metadata.name", "%s is defined already at %s:%d", d.Ref, o.File, o.Line)
			break
		}
	}
	s.docs = append(s.docs, d)
	return d.Result()
}

func decode[S any](dec *strictyaml.Decoder, n *yaml.Node) *object[S] {
	var o object[S]
	dec.Decode(n, "", &o)
	return &o
}

// metadata reads the hierarchy from both styles; they must agree.
func (d *document) metadata(m *metadata) {
	if m.Name == "" && !d.Reported("metadata.name") {
		d.Errorf("metadata", "missing required field %q", "name")
	}
	pick := func(field, value, annotation string) string {
		a, ok := m.Annotations[annotation]
		switch {
		case !ok || a == value:
		case value == "":
			return a
		default:
			d.Errorf("metadata."+field, "%s %q and annotation %s %q disagree", field, value, annotation, a)
		}
		return value
	}
	d.meta.organization = pick("organization", m.Organization, annOrganization)
	d.meta.tenant = pick("tenant", m.Tenant, annTenant)
	d.meta.workspace = pick("workspace", m.Workspace, annWorkspace)
	group := m.Group
	for _, a := range groupAnnotations {
		if _, ok := m.Annotations[a]; ok {
			group = pick("group", group, a)
		}
	}
	d.meta.group = group
}

// unrename forgets the renames of the model path prefix and below.
func (d *document) unrename(prefix string) {
	for k := range d.Layout.Renames {
		if strictyaml.HasPrefix(k, prefix) {
			delete(d.Layout.Renames, k)
		}
	}
}

// isGateway reports whether the document is a gateway jwtgate may serve.
func (d *document) isGateway() bool { return d.gateway != nil || d.egress != nil }

// selector is a gateway's workload selector; nil when it has none.
func (d *document) selector() *workloadSelector {
	switch {
	case d.gateway != nil:
		return d.gateway.Spec.WorkloadSelector
	case d.egress != nil:
		return d.egress.Spec.WorkloadSelector
	}
	return nil
}

// workloadNamespace is the namespace a gateway's workloads run in: its
// selector's, else its own.
func (d *document) workloadNamespace() string {
	if ws := d.selector(); ws != nil && ws.Namespace != "" {
		return ws.Namespace
	}
	return d.Ref.Namespace
}

// Finish chooses the gateway jwtgate serves, translates it, and returns
// the model pieces with every issue and status found since Decode.
func (s *session) Finish() dialect.Result {
	var res dialect.Result
	chosen, issues := s.choose()
	res.Issues = append(res.Issues, issues...)
	if chosen != nil {
		t := &translator{s: s, d: chosen, out: &res.Config, name: chosen.Ref.Name, namespace: chosen.workloadNamespace()}
		if chosen.gateway != nil {
			t.gateway(chosen.gateway)
		} else {
			t.egressGateway(chosen.egress)
		}
	}
	for _, d := range s.docs {
		res.Issues = append(res.Issues, d.Issues...)
		d.Issues = nil
		if n := d.Status(); n != nil {
			res.Notes = append(res.Notes, *n)
		}
	}
	return res
}
