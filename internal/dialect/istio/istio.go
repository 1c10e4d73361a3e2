// Package istio reads Istio's resources as they are: the security
// resources RequestAuthentication and AuthorizationPolicy of
// security.istio.io/v1 and v1beta1, enforced with Istio's semantics, and
// the routing resources Gateway and VirtualService of
// networking.istio.io/v1, v1beta1 and v1alpha3, served as listeners and
// routes.
//
// jwtgate stands in for one workload (dialect.Selection: its namespace
// and pod labels, and the gateway it is, if any). The dialect is a
// dialect.Session: Decode reads and checks each document on its own;
// Finish, once every document is read, chooses the Istio Gateways it
// serves (see choose: by name, by the workload's labels, or the only
// one; a Gateway chosen by name or as the only one makes jwtgate stand
// for its pods), decides which security resources apply to that
// workload (see attach) and translates them:
//
//   - the RequestAuthentications that apply combine into one JWT policy
//     (model.JWTPolicy, named after the first, "NAMESPACE/NAME") whose
//     providers are all their jwtRules (provider "NAMESPACE/NAME/I" for
//     rule I), in mode allowMissing: a request without a token passes
//     authentication, an invalid token is 401, and a token no rule's
//     issuer names is 401 "Jwt issuer is not configured";
//   - each AuthorizationPolicy that applies becomes a model.Policy
//     ("NAMESPACE/NAME"): ALLOW and DENY as written, CUSTOM as a DENY of
//     what its rules select (the external authorizer cannot be asked),
//     AUDIT and dry-run policies not at all (they never change a
//     decision in Istio either);
//   - the servers of the chosen Gateways become listeners, one per port
//     ("NAMESPACE/GATEWAY/PORT", after the first Gateway serving it), and
//     the VirtualServices bound to them routes (see virtualServices):
//     "NAMESPACE/VS/ROUTE" for http route ROUTE (its name, or its index),
//     with "#J" for its J-th match when it has several, and "@HOST" (and
//     ":PORT") when the VirtualService is served on several virtual hosts.
//
// The security resources apply to every route of every non-egress
// listener, those the VirtualServices make included. Every document gets
// a status: NotSelected when it is aimed at another workload or gateway,
// Unsupported when nothing of it is enforced, TargetNotFound when it
// names what is not in the files, PartiallyAccepted when a part was
// dropped or served narrower, failing closed. The fields of each model
// piece are mapped back to the document's fields
// (strictyaml.Document.Renames), so that what validation finds later is
// reported at the vendor document's own file, line and field path.
package istio

import (
	"fmt"
	"time"

	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/kube"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// The apiVersions and kinds this dialect reads. v1 is the same API as
// v1beta1.
const (
	SecurityV1      = "security.istio.io/v1"
	SecurityV1beta1 = "security.istio.io/v1beta1"

	KindRequestAuthentication = "RequestAuthentication"
	KindAuthorizationPolicy   = "AuthorizationPolicy"
)

// The apiVersions and kinds of the routing resources: the three served
// versions are the same API.
const (
	NetworkingV1       = "networking.istio.io/v1"
	NetworkingV1beta1  = "networking.istio.io/v1beta1"
	NetworkingV1alpha3 = "networking.istio.io/v1alpha3"

	KindGateway        = "Gateway"
	KindVirtualService = "VirtualService"
)

// RootNamespace is Istio's default root namespace: resources there apply
// mesh-wide.
const RootNamespace = "istio-system"

// New makes the Session of one load, for the workload env.Selection
// describes. It is a dialect.Family.
func New(env dialect.Env) dialect.Session {
	st := env.Store()
	return &session{sel: env.Selection, kube: st}
}

// session collects every Istio document of a load.
type session struct {
	sel  dialect.Selection
	kube *kube.Store
	docs []*document
	// gateways are the Istio Gateways jwtgate serves (see choose), the
	// oldest first.
	gateways []*document
	// derived is set when the selection names no workload labels and
	// jwtgate serves Istio Gateways chosen by name or as the only one:
	// it then stands for their pods, whose labels are their selectors.
	derived map[string]string
	// derivedNS is the chosen gateway's namespace, the workload's when
	// the selection names none.
	derivedNS string
}

// document is one Istio document, decoded.
type document struct {
	dialect.Doc
	meta *metadata

	ra *object[requestAuthenticationSpec]
	ap *object[authorizationPolicySpec]
	gw *object[gatewaySpec]
	vs *object[virtualServiceSpec]

	// created is metadata.creationTimestamp (routing kinds); zero when
	// absent.
	created time.Time
	// dup is set on a second document of the same kind, namespace and
	// name (reported): routing documents that are dups are not served.
	dup bool
}

// note is a status the dialect decides for a document.
type note = dialect.NoteDraft

// Decode reads one document and checks what can be checked without the
// others. Finish translates what applies.
func (s *session) Decode(in dialect.Document) dialect.Result {
	// A document is muted until Finish finds that it applies to the
	// workload. One that does not is still translated, for the errors
	// Istio itself would refuse it with, but its warnings and the notes
	// of its translation are not reported.
	d := &document{}
	d.Muted = true
	if in.Node != nil {
		d.Line = in.Node.Line
	}
	dec := strictyaml.NewDecoder()
	var at *attachment
	switch in.Kind {
	case KindRequestAuthentication:
		d.ra = &object[requestAuthenticationSpec]{}
		dec.Decode(in.Node, "", d.ra)
		d.meta, at = &d.ra.Metadata, &d.ra.Spec.attachment
	case KindAuthorizationPolicy:
		d.ap = &object[authorizationPolicySpec]{}
		dec.Decode(in.Node, "", d.ap)
		d.meta, at = &d.ap.Metadata, &d.ap.Spec.attachment
	case KindGateway:
		d.gw = &object[gatewaySpec]{}
		dec.Decode(in.Node, "", d.gw)
		d.meta = &d.gw.Metadata
	case KindVirtualService:
		d.vs = &object[virtualServiceSpec]{}
		dec.Decode(in.Node, "", d.vs)
		d.meta = &d.vs.Metadata
	default:
		// Only reachable when the loader's table lists a kind this
		// package does not know.
		is := model.Issue{Severity: model.Error, Origin: model.Origin{File: in.File, Line: d.Line},
			Msg: fmt.Sprintf("istio: kind %q is not read by this dialect", in.Kind)}
		return dialect.Result{Issues: model.Issues{is}}
	}
	d.Begin(in, dec, d.meta.Namespace, d.meta.Name)
	d.ReportProblems(dec.Problems, dialect.UnknownRefused)
	if d.meta.Name == "" && !d.Reported("metadata.name") {
		d.Errorf("metadata", "missing required field %q", "name")
	}
	if at != nil {
		d.checkAttachment(at)
	} else {
		d.checkRouting()
	}
	for _, o := range s.docs {
		if o.Ref.Kind == d.Ref.Kind && o.Ref.Namespace == d.Ref.Namespace && o.Ref.Name == d.Ref.Name && d.Ref.Name != "" {
			d.Errorf("metadata.name", "%s is defined already at %s:%d", d.Ref, o.File, o.Line)
			d.dup = true
			break
		}
	}
	s.docs = append(s.docs, d)
	return d.Result()
}

// Finish decides what applies to the workload, translates it, and returns
// the model pieces with every issue and status found since Decode: first
// the Istio Gateways jwtgate serves (which may say which workload it
// stands for, see choose), then the security resources that apply to
// that workload, then the listeners and the VirtualServices' routes.
func (s *session) Finish() dialect.Result {
	var res dialect.Result
	t := &translator{s: s, out: &res.Config}
	res.Issues = append(res.Issues, t.choose()...)
	var ras, aps []*document
	for _, d := range s.docs {
		switch {
		case d.ra != nil:
			d.Muted = !s.attach(d)
			ras = append(ras, d)
		case d.ap != nil:
			d.Muted = !s.attach(d)
			aps = append(aps, d)
		}
	}
	split := requestAuthentications(ras, &res.Config)
	for _, d := range aps {
		if p, ok := d.authorizationPolicy(split); ok && !d.Muted {
			res.Config.Policies = append(res.Config.Policies, p)
		}
	}
	t.outputs = s.outputHeaders()
	t.listeners()
	t.virtualServices()
	for _, d := range s.docs {
		res.Issues = append(res.Issues, d.Issues...)
		d.Issues = nil
		if n := d.Status(); n != nil {
			res.Notes = append(res.Notes, *n)
		}
	}
	return res
}
