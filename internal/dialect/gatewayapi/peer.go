package gatewayapi

import (
	"slices"
	"sync"

	"jwtgate.dev/jwtgate/internal/kube"
	"jwtgate.dev/jwtgate/internal/model"
)

// Peers are the dialects whose resources attach to the Gateway API's
// (kgateway's TrafficPolicy and Envoy Gateway's SecurityPolicy target
// Gateways, HTTPRoutes and GRPCRoutes) or that the Gateway API's refer
// to (kgateway's Backend as a route's backendRef).
// Each runs as a dialect family of its own, so a peer and this dialect
// meet through the one thing every family of a load shares: the load's
// kube.Store. A peer Joins in its dialect.Family constructor and Leaves
// at the end of its Finish; the meeting place is forgotten when the last
// member of the load leaves.
//
// Every document of a load is decoded before any family finishes, so
// what a peer asks in its Finish, and what this dialect asks of a peer's
// BackendResolver while it translates, is complete whichever family
// finishes first: the Gateway API translation is made once, when first
// asked for (by this dialect's Finish or a peer's View), and kept.
var peers = struct {
	sync.Mutex
	loads map[*kube.Store]*load
}{}

// load is the meeting place of one load's Gateway API session and peers.
type load struct {
	gw        *session          // nil when the load has no Gateway API document
	resolvers []BackendResolver // of the peers, in joining order
	members   int
}

// join adds a member to the meeting place of st, made on first use.
func join(st *kube.Store, f func(*load)) *load {
	peers.Lock()
	defer peers.Unlock()
	if peers.loads == nil {
		peers.loads = map[*kube.Store]*load{}
	}
	l := peers.loads[st]
	if l == nil {
		l = &load{}
		peers.loads[st] = l
	}
	l.members++
	f(l)
	return l
}

// leave removes a member; the last one forgets the meeting place.
func leave(st *kube.Store) {
	peers.Lock()
	defer peers.Unlock()
	l := peers.loads[st]
	if l == nil {
		return
	}
	if l.members--; l.members <= 0 {
		delete(peers.loads, st)
	}
}

// BackendRef is a backendRef of a route to a kind other than a
// Service, for a peer to resolve. Cross-namespace references have been
// allowed by a ReferenceGrant already.
type BackendRef struct {
	Group, Kind, Namespace, Name string
	// Port is the backendRef's port; 0 when it sets none.
	Port int
	// From is the HTTPRoute or GRPCRoute.
	From model.Ref
}

// BackendResolver resolves backendRefs to kinds of a peer's API group.
type BackendResolver interface {
	// ResolveBackend returns where ref leads. ok is false when the
	// resolver does not read ref's group and kind. A backend that cannot
	// be reached has its Unavailable reason set, which the HTTPRoute's
	// status repeats; its share of the requests is answered 503.
	ResolveBackend(ref BackendRef) (b model.Backend, ok bool)
}

// Peer is a peer dialect's membership in one load.
type Peer struct {
	st *kube.Store
	l  *load
}

// Join makes a peer of the load whose Kubernetes store is st, with the
// resolver of its backend kinds (nil for none). A nil st (a session made
// without a store) joins nothing: View is then nil.
func Join(st *kube.Store, r BackendResolver) *Peer {
	if st == nil {
		return &Peer{}
	}
	l := join(st, func(l *load) {
		if r != nil {
			l.resolvers = append(l.resolvers, r)
		}
	})
	return &Peer{st: st, l: l}
}

// Leave ends the membership; the peer must not use View afterwards.
func (p *Peer) Leave() {
	if p.st != nil {
		leave(p.st)
		p.st, p.l = nil, nil
	}
}

// View returns what the Gateway API dialect makes of the load, or nil
// when the load holds no Gateway API document.
func (p *Peer) View() *View {
	if p.l == nil || p.l.gw == nil {
		return nil
	}
	return p.l.gw.view()
}

// Object is a Gateway, an HTTPRoute or a GRPCRoute as peers see it.
type Object struct {
	Ref    model.Ref
	Labels map[string]string
	// Sections are a Gateway's listener names, or the names of a
	// route's named rules (what a policy's sectionName names).
	Sections []string
	// Valid is false for a document with errors (it is not served).
	Valid bool
	// Served is true for the Gateway jwtgate serves, and for a route
	// that has at least one model route.
	Served bool
}

// View is the Gateway API side of a load, once translated.
type View struct {
	// Gateways and HTTPRoutes are every one read, in reading order.
	Gateways, HTTPRoutes []Object
	// GRPCRoutes are every GRPCRoute read, in reading order; their
	// routes carry LabelGRPCRoute in place of LabelHTTPRoute.
	GRPCRoutes []Object
	// Gateway is the served Gateway's "namespace/name"; empty when none
	// is served.
	Gateway string
	// Routes are the model routes made, in the order they are tried;
	// each carries the labels LabelHTTPRoute (a GRPCRoute's,
	// LabelGRPCRoute), LabelRule (named rules), LabelGateway and
	// LabelListener. The routes that end a listener with 404 for its
	// hostname (listener isolation) carry neither LabelHTTPRoute nor
	// LabelGRPCRoute.
	Routes []model.Route
	grants *grantIndex
}

// Permits reports whether a reference from an object of fromGroup and
// fromKind in namespace fromNS to the object toGroup, toKind
// toNS/toName is allowed: within one namespace always, across
// namespaces when a ReferenceGrant in toNS allows it.
func (v *View) Permits(fromGroup, fromKind, fromNS, toGroup, toKind, toNS, toName string) bool {
	return v.grants.permits(fromGroup, fromKind, fromNS, kindRef{group: toGroup, kind: toKind, namespace: toNS, name: toName})
}

// view makes the View of the session's translation.
func (s *session) view() *View {
	res := s.result()
	v := &View{Routes: slices.Clone(res.Config.Routes), grants: s.grants()}
	if s.chosen != nil && !s.chosen.HasErrors {
		v.Gateway = nsName(s.chosen.Ref)
	}
	served := map[string]bool{}
	servedGRPC := map[string]bool{}
	for _, r := range v.Routes {
		if h := r.Labels[LabelHTTPRoute]; h != "" {
			served[h] = true
		}
		if g := r.Labels[LabelGRPCRoute]; g != "" {
			servedGRPC[g] = true
		}
	}
	for _, d := range s.docs {
		o := Object{Ref: d.Ref, Valid: !d.HasErrors}
		switch {
		case d.gateway != nil:
			o.Labels = d.gateway.Metadata.Labels
			for _, l := range d.gateway.Spec.Listeners {
				o.Sections = append(o.Sections, l.Name)
			}
			o.Served = d == s.chosen && v.Gateway != ""
			v.Gateways = append(v.Gateways, o)
		case d.route != nil:
			o.Labels = d.route.Metadata.Labels
			for _, r := range d.route.Spec.Rules {
				if r.Name != nil {
					o.Sections = append(o.Sections, *r.Name)
				}
			}
			o.Served = served[nsName(d.Ref)]
			v.HTTPRoutes = append(v.HTTPRoutes, o)
		case d.grpc != nil:
			o.Labels = d.grpc.Metadata.Labels
			for _, r := range d.grpc.Spec.Rules {
				if r.Name != nil {
					o.Sections = append(o.Sections, *r.Name)
				}
			}
			o.Served = servedGRPC[nsName(d.Ref)]
			v.GRPCRoutes = append(v.GRPCRoutes, o)
		}
	}
	return v
}

// peerBackend asks the load's peers to resolve a backendRef of a kind
// other than Service; ok is false when none reads its kind.
func (s *session) peerBackend(ref BackendRef) (model.Backend, bool) {
	if s.peers == nil {
		return model.Backend{}, false
	}
	peers.Lock()
	rs := slices.Clone(s.peers.resolvers)
	peers.Unlock()
	for _, r := range rs {
		if b, ok := r.ResolveBackend(ref); ok {
			return b, true
		}
	}
	return model.Backend{}, false
}
