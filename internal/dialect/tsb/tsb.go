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
	"path/filepath"
	"regexp"
	"strconv"

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
	file, dir string
	kind      string
	ref       model.Ref
	line      int // of the document's first key
	meta      hierarchy
	lines     strictyaml.Lines
	layout    *strictyaml.Document

	gateway   *object[gatewaySpec]
	egress    *object[egressGatewaySpec]
	traffic   *object[trafficSettingSpec]
	workspace *object[workspaceSpec]
	group     *object[workspaceSpec]
	// namespaces are a Workspace's or a Group's namespace patterns.
	namespaces []string

	issues model.Issues
	notes  []note
	pieces int // model pieces made, for their Locator bases
}

// note is a status the dialect decides for a document.
type note = dialect.NoteDraft

// Decode reads one document and checks what can be checked without the
// others. Gateways are translated by Finish.
func (s *session) Decode(in dialect.Document) dialect.Result {
	d := &document{file: in.File, kind: in.Kind}
	if in.File != "" {
		d.dir = filepath.Dir(in.File)
	}
	if in.Node != nil {
		d.line = in.Node.Line
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
		is := model.Issue{Severity: model.Error, Origin: model.Origin{File: in.File, Line: d.line},
			Msg: fmt.Sprintf("tsb: kind %q is not read by this dialect", in.Kind)}
		return dialect.Result{Issues: model.Issues{is}}
	}
	d.lines = dec.Lines
	d.layout = &strictyaml.Document{Lines: dec.Lines, Renames: map[string]string{}, Invalid: dec.Invalid}
	d.ref = model.Ref{APIVersion: in.APIVersion, Kind: in.Kind, Namespace: meta.Namespace, Name: meta.Name}
	if d.ref.Namespace == "" && selector != nil {
		d.ref.Namespace = selector.Namespace
	}
	if d.ref.Namespace == "" {
		d.ref.Namespace = model.DefaultNamespace
	}
	for _, p := range dec.Problems {
		if key, ok := unknownField(p.Msg); ok {
			d.add(model.Warning, strictyaml.Key(p.Path, key), p.Line, "unknown field %q: ignored", key)
			continue
		}
		d.add(model.Error, p.Path, p.Line, "%s", p.Msg)
	}
	d.metadata(meta)
	if selector == nil && (d.gateway != nil || d.egress != nil) && !d.has("spec.workloadSelector") {
		d.errorf("spec", "missing required field %q", "workloadSelector")
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
		if o.ref == d.ref && o.meta == d.meta && d.ref.Name != "" {
			d.errorf("metadata.name", "%s is defined already at %s:%d", d.ref, o.file, o.line)
			break
		}
	}
	s.docs = append(s.docs, d)
	res := dialect.Result{
		Resources: []model.Origin{{Ref: d.ref, File: d.file, Line: d.line}},
		Issues:    d.issues,
	}
	d.issues = nil
	return res
}

func decode[S any](dec *strictyaml.Decoder, n *yaml.Node) *object[S] {
	var o object[S]
	dec.Decode(n, "", &o)
	return &o
}

var unknownFieldRE = regexp.MustCompile(`^unknown field (".*")$`)

// unknownField reads the key out of the decoder's unknown field message.
func unknownField(msg string) (string, bool) {
	m := unknownFieldRE.FindStringSubmatch(msg)
	if m == nil {
		return "", false
	}
	key, err := strconv.Unquote(m[1])
	return key, err == nil
}

// metadata reads the hierarchy from both styles; they must agree.
func (d *document) metadata(m *metadata) {
	if m.Name == "" && !d.reported("metadata.name") {
		d.errorf("metadata", "missing required field %q", "name")
	}
	pick := func(field, value, annotation string) string {
		a, ok := m.Annotations[annotation]
		switch {
		case !ok || a == value:
		case value == "":
			return a
		default:
			d.errorf("metadata."+field, "%s %q and annotation %s %q disagree", field, value, annotation, a)
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

// has reports whether the document sets path.
func (d *document) has(path string) bool {
	_, ok := d.lines[path]
	return ok
}

// reported reports whether the value at path (or an ancestor) could not
// be decoded, and so was reported already.
func (d *document) reported(path string) bool { return d.layout.Reported(path) }

// add records an issue at the document path, on line.
func (d *document) add(sev model.Severity, path string, line int, format string, args ...any) {
	d.issues = append(d.issues, model.Issue{
		Severity: sev,
		Origin:   model.Origin{Ref: d.ref, File: d.file, Line: line},
		Field:    path,
		Msg:      fmt.Sprintf(format, args...),
	})
}

// errorf records an error at the document path, unless the decoder
// reported its value already.
func (d *document) errorf(path, format string, args ...any) {
	if !d.reported(path) {
		d.add(model.Error, path, d.lines.Find(path), format, args...)
	}
}

// warnf records a warning at the document path, unless the decoder
// reported its value already.
func (d *document) warnf(path, format string, args ...any) {
	if !d.reported(path) {
		d.add(model.Warning, path, d.lines.Find(path), format, args...)
	}
}

// note records a status for the document.
func (d *document) note(reason, format string, args ...any) {
	d.notes = append(d.notes, note{Reason: reason, Message: fmt.Sprintf(format, args...)})
}

// notServed reports a part of the document that jwtgate does not serve:
// a warning at its field, and a note (PartiallyAccepted) on the status.
func (d *document) notServed(path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	d.warnf(path, "%s", msg)
	d.note(model.ReasonPartiallyAccepted, "%s: %s", path, msg)
}

// notFound reports a reference that names nothing: a warning at its
// field, and a note (TargetNotFound) on the status.
func (d *document) notFound(path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	d.warnf(path, "%s", msg)
	d.note(model.ReasonTargetNotFound, "%s: %s", path, msg)
}

// status joins the document's notes into one model.Note (see
// dialect.JoinNotes); nil when there are none.
func (d *document) status() *model.Note { return dialect.JoinNotes(d.ref, d.notes) }

// piece returns the origin of a model piece made from the document at
// docPath, with the Locator base its field paths are renamed from.
func (d *document) piece(kind, docPath string) (model.Origin, string) {
	base := d.layout.Piece(kind, d.pieces, docPath)
	d.pieces++
	return model.Origin{
		Ref: d.ref, File: d.file, Path: docPath, Line: d.lines.Find(docPath),
		Loc: strictyaml.Locator{Doc: d.layout, Base: base},
	}, base
}

// rename records that the model field path from came from the document
// path to.
func (d *document) rename(from, to string) { d.layout.Renames[from] = to }

// unrename forgets the renames of the model path prefix and below.
func (d *document) unrename(prefix string) {
	for k := range d.layout.Renames {
		if strictyaml.HasPrefix(k, prefix) {
			delete(d.layout.Renames, k)
		}
	}
}

// filePath resolves a file name relative to the document's directory.
func (d *document) filePath(p string) string {
	if p == "" || filepath.IsAbs(p) || d.dir == "" {
		return p
	}
	return filepath.Join(d.dir, p)
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
	return d.ref.Namespace
}

// Finish chooses the gateway jwtgate serves, translates it, and returns
// the model pieces with every issue and status found since Decode.
func (s *session) Finish() dialect.Result {
	var res dialect.Result
	chosen, issues := s.choose()
	res.Issues = append(res.Issues, issues...)
	if chosen != nil {
		t := &translator{s: s, d: chosen, out: &res.Config, name: chosen.ref.Name, namespace: chosen.workloadNamespace()}
		if chosen.gateway != nil {
			t.gateway(chosen.gateway)
		} else {
			t.egressGateway(chosen.egress)
		}
	}
	for _, d := range s.docs {
		res.Issues = append(res.Issues, d.issues...)
		d.issues = nil
		if n := d.status(); n != nil {
			res.Notes = append(res.Notes, *n)
		}
	}
	return res
}
