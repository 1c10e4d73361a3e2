package istio

import (
	"strings"

	"jwtgate.dev/jwtgate/internal/kube"
)

// http2Protocols are the Istio protocols of a Service port that Istio's
// gateways speak HTTP/2 to: by appProtocol, or by the port's name
// "PROTOCOL[-SUFFIX]" (Istio's explicit protocol selection). grpc-web is
// sent to its backend as gRPC, over HTTP/2, too.
var http2Protocols = map[string]bool{"http2": true, "grpc": true, "grpc-web": true, "kubernetes.io/h2c": true, "kubernetes.io/grpc": true}

// speaksHTTP2 reports whether the port of target (Service ns/name) is
// spoken to in HTTP/2: its appProtocol says so or, without one, its
// name's protocol prefix does. Compared case-insensitively, as Istio
// does.
func speaksHTTP2(st *kube.Store, ns, name string, target kube.Target) bool {
	if ap := target.AppProtocol; ap != "" {
		return http2Protocols[strings.ToLower(ap)]
	}
	svc := st.Service(ns, name)
	if svc == nil {
		return false
	}
	for _, p := range svc.Spec.Ports {
		if p.Port != target.Port {
			continue
		}
		proto, _, _ := strings.Cut(strings.ToLower(p.Name), "-") // "grpc-web-x" is grpc too
		return http2Protocols[proto]
	}
	return false
}
