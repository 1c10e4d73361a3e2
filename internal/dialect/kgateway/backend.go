package kgateway

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"jwtgate.dev/jwtgate/internal/dialect/gatewayapi"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// appProtocols are the values a static Backend's appProtocol may take.
var appProtocols = []string{"http2", "grpc", "grpc-web", "kubernetes.io/h2c", "kubernetes.io/ws"}

// checkBackend checks a Backend on its own, as the API server does, and
// notes what jwtgate does not serve: only static Backends are.
func (d *document) checkBackend() {
	sp := d.be.Spec
	if sp.Type != nil {
		d.Warnf("spec.type", "deprecated field, no effect: the Backend's kind is the field set beside it")
	}
	var kinds []string
	for _, k := range []struct {
		name string
		set  bool
	}{{"static", sp.Static != nil}, {"aws", set(sp.AWS)}, {"gcp", set(sp.GCP)}, {"dynamicForwardProxy", set(sp.DynamicForwardProxy)}} {
		if k.set {
			kinds = append(kinds, k.name)
		}
	}
	switch {
	case len(kinds) == 0:
		if !d.Reported("spec") {
			d.Errorf("spec", "exactly one of static, aws, gcp or dynamicForwardProxy is required")
		}
		return
	case len(kinds) > 1:
		d.Errorf("spec", "exactly one of static, aws, gcp or dynamicForwardProxy is allowed, got %s", strings.Join(kinds, " and "))
		return
	case kinds[0] != "static":
		d.Noted(model.ReasonUnsupported, "spec."+kinds[0], "jwtgate forwards to static Backends only: requests sent to this one are answered 503")
		return
	}
	st := sp.Static
	if len(st.Hosts) == 0 && !d.Reported("spec.static.hosts") {
		d.Errorf("spec.static", "missing required field %q: at least one host", "hosts")
	}
	for i, h := range st.Hosts {
		hp := strictyaml.Index("spec.static.hosts", i)
		d.required(hp, "host", h.Host != "")
		if h.Port < 1 || h.Port > 65535 {
			if h.Port == 0 && !d.Has(strictyaml.Field(hp, "port")) {
				d.required(hp, "port", false)
			} else {
				d.Errorf(strictyaml.Field(hp, "port"), "invalid port %d: want 1 to 65535", h.Port)
			}
		}
	}
	if ap := st.AppProtocol; ap != nil {
		switch *ap {
		case "http2", "grpc", "kubernetes.io/h2c": // spoken to in HTTP/2: staticBackend
		case "grpc-web", "kubernetes.io/ws":
		default:
			d.Errorf("spec.static.appProtocol", "invalid value %q (want one of %s)", *ap, strings.Join(appProtocols, ", "))
		}
	}
}

// staticBackend is the model backend of the Backend document be (nil
// when not found), named ns/name: its first host's URL, every host as an
// endpoint, or the reason it cannot be reached.
func (s *session) staticBackend(be *document, ns, name string) model.Backend {
	b := model.Backend{URL: "http://" + name + "." + ns + ".invalid"}
	switch {
	case be == nil:
		b.Unavailable = fmt.Sprintf("Backend %s/%s not found", ns, name)
	case be.HasErrors:
		b.Unavailable = fmt.Sprintf("Backend %s/%s has errors (see its status)", ns, name)
	case be.be.Spec.Static == nil:
		b.Unavailable = fmt.Sprintf("Backend %s/%s is not a static Backend, which is all jwtgate forwards to", ns, name)
	case len(be.be.Spec.Static.Hosts) == 0:
		b.Unavailable = fmt.Sprintf("Backend %s/%s has no host", ns, name)
	}
	if b.Unavailable != "" {
		return b
	}
	hosts := be.be.Spec.Static.Hosts
	b.URL = "http://" + net.JoinHostPort(hosts[0].Host, strconv.Itoa(hosts[0].Port))
	if ap := be.be.Spec.Static.AppProtocol; ap != nil && (*ap == "http2" || *ap == "grpc" || *ap == "kubernetes.io/h2c") {
		b.Protocol = model.BackendHTTP2 // cleartext: h2c with prior knowledge
	}
	if len(hosts) > 1 {
		for _, h := range hosts {
			b.Endpoints = append(b.Endpoints, net.JoinHostPort(h.Host, strconv.Itoa(h.Port)))
		}
	}
	return b
}

// ResolveBackend resolves an HTTPRoute or GRPCRoute backendRef to a
// kgateway Backend (group gateway.kgateway.dev, kind Backend) for the
// Gateway API dialect. The backendRef's port is not used: a static
// Backend's hosts carry theirs. The Gateway API dialect speaks HTTP/2
// to a GRPCRoute's backends, whatever the Backend's appProtocol.
func (s *session) ResolveBackend(ref gatewayapi.BackendRef) (model.Backend, bool) {
	if ref.Group != Group || ref.Kind != KindBackend {
		return model.Backend{}, false
	}
	return s.staticBackend(s.find(KindBackend, ref.Namespace, ref.Name), ref.Namespace, ref.Name), true
}

// The session resolves the Gateway API's backendRefs to Backends.
var _ gatewayapi.BackendResolver = (*session)(nil)
