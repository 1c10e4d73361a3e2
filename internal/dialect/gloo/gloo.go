// Package gloo reads Gloo Platform (Gloo Mesh, Gloo Gateway) v2
// resources as they are: the networking.gloo.solo.io/v2 RouteTable and
// VirtualGateway and the security.policy.gloo.solo.io/v2 JWTPolicy,
// with the Kubernetes Services, EndpointSlices and Secrets they name
// (see package kube).
//
// jwtgate stands in for one gateway or one workload (see choose): a
// VirtualGateway, whose listeners it binds and whose route tables it
// serves, or a workload with a sidecar, for which it serves the route
// tables whose workloadSelectors select it (mesh routes) on the native
// listener named "mesh". The dialect is a dialect.Session: Decode reads
// and checks each document on its own; Finish, once every document is
// read, makes that choice, translates the route tables that apply into
// routes, and attaches the JWT policies to them, the oldest first
// (metadata.creationTimestamp, then namespace/name): when several reach
// one route, the oldest applies and the others are reported Conflicted.
//
// Names in the model: the route named ROUTE of the RouteTable
// NAMESPACE/TABLE is the route "NAMESPACE/TABLE/ROUTE" (an unnamed
// route: its index in http), with "#I" for its I-th matcher when it has
// several and "@PORT" when the table binds to several listener ports; a
// VirtualGateway listener is the listener "NAMESPACE/GATEWAY/PORT"; the
// JWTPolicy NAMESPACE/NAME is the JWT policy "NAMESPACE/NAME", its
// provider KEY the provider "NAMESPACE/NAME/KEY", and its claims and
// requiredScopes the ALLOW policy "NAMESPACE/NAME".
//
// Every document gets a status; what cannot be translated exactly is
// reported at its field, and served narrower or not at all (failing
// closed): a route whose action jwtgate cannot perform answers 503. The
// fields of each model piece are mapped back to the document's fields
// (strictyaml.Document.Renames), so that what validation finds later is
// reported at the vendor document's own file, line and field path.
package gloo

import (
	"fmt"
	"strings"
	"time"

	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/kube"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// The apiVersions and kinds this dialect reads.
const (
	NetworkingAPIVersion = "networking.gloo.solo.io/v2"
	SecurityAPIVersion   = "security.policy.gloo.solo.io/v2"

	KindRouteTable     = "RouteTable"
	KindVirtualGateway = "VirtualGateway"
	KindJWTPolicy      = "JWTPolicy"
)

// MeshListener is the name of the native listener mesh routes (route
// tables for sidecars) are served on.
const MeshListener = "mesh"

// New makes the Session of one load, for the gateway or workload
// env.Selection names. It is a dialect.Family.
func New(env dialect.Env) dialect.Session {
	st := env.Store()
	return &session{sel: env.Selection, kube: st}
}

// session collects every Gloo document of a load.
type session struct {
	sel  dialect.Selection
	kube *kube.Store
	docs []*document
}

// document is one Gloo document, decoded.
type document struct {
	dialect.Doc
	kind string
	meta *metadata
	// created is metadata.creationTimestamp; zero when absent.
	created time.Time

	rt *object[routeTableSpec]
	vg *object[virtualGatewaySpec]
	jp *object[jwtPolicySpec]

	// dup is true for a second document of the same kind, namespace and
	// name: it is reported, and not translated.
	dup bool
}

// note is a status the dialect decides for a document.
type note = dialect.NoteDraft

// Decode reads one document and checks what can be checked without the
// others. Everything is translated by Finish.
func (s *session) Decode(in dialect.Document) dialect.Result {
	d := &document{kind: in.Kind}
	if in.Node != nil {
		d.Line = in.Node.Line
	}
	dec := strictyaml.NewDecoder()
	switch in.Kind {
	case KindRouteTable:
		d.rt = dialect.DecodeObject[routeTableSpec](dec, in.Node)
		d.meta = &d.rt.Metadata
	case KindVirtualGateway:
		d.vg = dialect.DecodeObject[virtualGatewaySpec](dec, in.Node)
		d.meta = &d.vg.Metadata
	case KindJWTPolicy:
		d.jp = dialect.DecodeObject[jwtPolicySpec](dec, in.Node)
		d.meta = &d.jp.Metadata
	default:
		// Only reachable when the loader's table lists a kind this
		// package does not know.
		is := model.Issue{Severity: model.Error, Origin: model.Origin{File: in.File, Line: d.Line},
			Msg: fmt.Sprintf("gloo: kind %q is not read by this dialect", in.Kind)}
		return dialect.Result{Issues: model.Issues{is}}
	}
	d.Begin(in, dec, d.meta.Namespace, d.meta.Name)
	d.ReportProblems(dec.Problems, dialect.UnknownNotServed)
	d.created = d.CheckMetadata(d.meta.Name, d.meta.Namespace, d.meta.CreationTimestamp)
	for _, o := range s.docs {
		if o.Ref == d.Ref && d.Ref.Name != "" {
			d.Errorf("metadata.name", "%s is defined already at %s:%d", d.Ref, o.File, o.Line)
			d.dup = true
			break
		}
	}
	s.docs = append(s.docs, d)
	return d.Result()
}

// Finish chooses what jwtgate serves, translates it, and returns the
// model pieces with every issue and status found since Decode.
func (s *session) Finish() dialect.Result {
	var res dialect.Result
	t := &translator{s: s, out: &res.Config}
	res.Issues = append(res.Issues, t.choose()...)
	if t.gw != nil {
		t.listeners()
	}
	t.claimHeaders = s.claimHeaders()
	t.routeTables()
	t.jwtPolicies()
	for _, d := range s.docs {
		res.Issues = append(res.Issues, d.Issues...)
		d.Issues = nil
		if n := d.Status(); n != nil {
			res.Notes = append(res.Notes, *n)
		}
	}
	return res
}

// translator turns the documents of one load into model pieces.
type translator struct {
	s   *session
	out *model.Config
	// gw is the VirtualGateway jwtgate serves; mesh is true when it
	// serves the mesh route tables of the selected workload instead.
	// Neither: no route table is served.
	gw   *document
	mesh bool
	// failed is true when the choice is in error (reported).
	failed bool
	// claimHeaders maps every header a JWT policy sets from tokens
	// (lower case) to the policy.
	claimHeaders map[string]string
	// ports are the chosen gateway's listeners, one per port.
	ports []*port
	// routes are every route made, in the order they are tried.
	routes []*route
}

// claimHeaders maps every header a JWT policy of the load sets from
// tokens (claimsToHeaders, outputPayloadToHeader), in lower case, to the
// policy's "namespace/name".
func (s *session) claimHeaders() map[string]string {
	out := map[string]string{}
	for _, d := range s.docs {
		if d.jp == nil || d.jp.Spec.Config == nil {
			continue
		}
		for _, p := range d.jp.Spec.Config.Providers {
			hs := []string{p.OutputPayloadToHeader}
			for _, c := range p.ClaimsToHeaders {
				hs = append(hs, c.Header)
			}
			for _, h := range hs {
				if h = strings.ToLower(h); h != "" && out[h] == "" {
					out[h] = d.Name()
				}
			}
		}
	}
	return out
}

// byAge orders documents by metadata.creationTimestamp, oldest first
// (those without one after every other, as if created last), then by
// namespace/name.
func byAge(a, b *document) int {
	switch {
	case a.created.IsZero() != b.created.IsZero():
		if a.created.IsZero() {
			return 1
		}
		return -1
	case !a.created.Equal(b.created):
		return a.created.Compare(b.created)
	}
	return strings.Compare(a.Name(), b.Name())
}
