package gatewayapi

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// backends translates a rule's backendRefs into the route's backend (one
// with traffic) or weighted backends (several). A backend that cannot be
// reached (a missing Service or port, no ready endpoint, a reference not
// permitted, a kind that is not a Service) keeps its share of the
// requests, which are answered 503 "no healthy upstream" without a
// connection; the route's status says why. A rule with no backendRefs,
// or whose weights are all zero, answers 500, as the API says.
func (t *translator) backends(d *document, refs []backendRef, p string, ro *ruleOut, timeout time.Duration, hasTimeout bool) {
	type weighted struct {
		b      model.Backend
		weight int
		path   string
	}
	var live []weighted
	for i, br := range refs {
		bp := strictyaml.Index(strictyaml.Field(p, "backendRefs"), i)
		w := deref(br.Weight, 1)
		if w <= 0 {
			continue // no traffic, by the API
		}
		b := t.backend(d, br, bp)
		if hasTimeout {
			b.Timeout = timeout
		}
		live = append(live, weighted{b, w, bp})
	}
	switch {
	case len(live) == 0:
		why := "it has no backendRefs"
		if len(refs) > 0 {
			why = "every backendRef has weight 0"
		}
		d.Warnf(p, "%s: the rule answers 500, as the API says", why)
		ro.route.DirectResponse = &model.DirectResponse{Status: 500}
		ro.renames["directResponse"] = p
	case len(live) == 1:
		ro.route.Backend = live[0].b
		ro.renames["backend"] = live[0].path
		ro.renames["backend.url"] = strictyaml.Field(live[0].path, "name")
		ro.renames["backend.timeout"] = strictyaml.Field(p, "timeouts")
	default:
		for i, w := range live {
			ro.route.Backends = append(ro.route.Backends, model.WeightedBackend{Backend: w.b, Weight: w.weight})
			f := strictyaml.Index("backends", i)
			ro.renames[f] = w.path
			ro.renames[f+".url"] = strictyaml.Field(w.path, "name")
			ro.renames[f+".weight"] = strictyaml.Field(w.path, "weight")
			ro.renames[f+".timeout"] = strictyaml.Field(p, "timeouts")
		}
	}
}

// backend resolves one backendRef at path p (see resolve). A GRPCRoute's
// backends are spoken to in HTTP/2 (h2c for a Service), whatever their
// appProtocol says; an HTTPRoute's when the Service port's appProtocol
// asks for it (h2cAppProtocols).
func (t *translator) backend(d *document, br backendRef, p string) model.Backend {
	b := t.resolve(d, br, p)
	if d.grpc != nil {
		b.Protocol = model.BackendHTTP2
	}
	return b
}

// h2cAppProtocols are the Service port appProtocol values that ask for
// HTTP/2 without TLS: the Kubernetes-defined kubernetes.io/h2c and
// kubernetes.io/grpc, and the names Istio and Envoy Gateway read the same
// way.
var h2cAppProtocols = []string{"kubernetes.io/h2c", "kubernetes.io/grpc", "h2c", "http2", "grpc"}

// resolve resolves one backendRef at path p. A Service backend resolves,
// as kube-proxy would, to the ready endpoints of its EndpointSlices; what
// cannot be resolved becomes an unavailable backend with the reason.
func (t *translator) resolve(d *document, br backendRef, p string) model.Backend {
	to := kindRef{group: deref(br.Group, ""), kind: deref(br.Kind, "Service"), namespace: deref(br.Namespace, d.Ref.Namespace), name: br.Name}
	port := deref(br.Port, 0)
	host := br.Name + "." + to.namespace + ".svc.cluster.local"
	b := model.Backend{URL: "http://" + net.JoinHostPort(host, strconv.Itoa(port))}
	unavailable := func(reason, format string, args ...any) model.Backend {
		msg := fmt.Sprintf(format, args...)
		d.Noted(model.ReasonTargetNotFound, p, "%s: %s; its share of the requests is answered 503", reason, msg)
		b.Unavailable = msg
		return b
	}
	if to.group != "" || to.kind != "Service" {
		return t.peerBackend(d, to, port, unavailable)
	}
	if !t.grants.permits(Group, d.kind, d.Ref.Namespace, to) {
		return unavailable("ResolvedRefs=False RefNotPermitted",
			"no ReferenceGrant in namespace %s lets %ss of namespace %s refer to Service %s", to.namespace, d.kind, d.Ref.Namespace, to.name)
	}
	if port == 0 {
		return unavailable("ResolvedRefs=False UnsupportedValue", "a Service backend needs a port")
	}
	svc := t.s.kube.Service(to.namespace, to.name)
	if svc == nil {
		return unavailable("ResolvedRefs=False BackendNotFound", "Service %s/%s not found", to.namespace, to.name)
	}
	if strings.EqualFold(svc.Spec.Type, "ExternalName") {
		return unavailable("ResolvedRefs=False UnsupportedValue",
			"Service %s/%s is an ExternalName Service, which jwtgate does not follow (it could send requests anywhere the name points)", to.namespace, to.name)
	}
	target, err := t.s.kube.Resolve(to.namespace, to.name, port, "")
	switch {
	case err != nil && len(target.Endpoints) == 0 && target.Host != "":
		// The Service and its port exist: nothing is ready behind it.
		return unavailable("ResolvedRefs=True, but", "%v", err)
	case err != nil:
		return unavailable("ResolvedRefs=False BackendNotFound", "%v", err)
	}
	b.Endpoints = target.Endpoints
	if slices.Contains(h2cAppProtocols, strings.ToLower(target.AppProtocol)) {
		b.Protocol = model.BackendHTTP2
	}
	return b
}

// peerBackend resolves a backendRef to a kind other than Service through
// the load's peer dialects (kgateway's Backend, see peer.go): a kind no
// peer reads is not forwarded to.
func (t *translator) peerBackend(d *document, to kindRef, port int, unavailable func(reason, format string, args ...any) model.Backend) model.Backend {
	if !t.grants.permits(Group, d.kind, d.Ref.Namespace, to) {
		return unavailable("ResolvedRefs=False RefNotPermitted",
			"no ReferenceGrant in namespace %s lets %ss of namespace %s refer to %s", to.namespace, d.kind, d.Ref.Namespace, to)
	}
	b, ok := t.s.peerBackend(BackendRef{Group: to.group, Kind: to.kind, Namespace: to.namespace, Name: to.name, Port: port, From: d.Ref})
	switch {
	case !ok:
		return unavailable("ResolvedRefs=False InvalidKind", "%s is not a Service: jwtgate forwards to Services only", to)
	case b.Unavailable != "":
		return unavailable("ResolvedRefs=False BackendNotFound", "%s", b.Unavailable)
	}
	return b
}
