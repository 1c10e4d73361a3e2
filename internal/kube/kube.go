// Package kube holds the Kubernetes core objects a configuration may
// carry beside vendor resources (Services, EndpointSlices, Secrets,
// ConfigMaps) and answers what a cluster would: which addresses a Service
// port reaches, as kube-proxy spreads traffic (ready endpoints only), and
// what a Secret or ConfigMap holds. It does no I/O; dialects fill a Store
// while reading documents and query it when they translate.
package kube

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
)

// ClusterDomain is the DNS suffix of Services: NAME.NS.svc.cluster.local.
const ClusterDomain = "cluster.local"

// Meta is the part of an object's metadata the store uses.
type Meta struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Labels    map[string]string `yaml:"labels"`
}

// Service is a v1 Service.
type Service struct {
	Metadata Meta `yaml:"metadata"`
	Spec     struct {
		Type         string            `yaml:"type"`
		ExternalName string            `yaml:"externalName"`
		Selector     map[string]string `yaml:"selector"`
		Ports        []ServicePort     `yaml:"ports"`
	} `yaml:"spec"`
	Origin model.Origin `yaml:"-"`
}

// ServicePort is one port of a Service. TargetPort is a number or a
// port name, as written.
type ServicePort struct {
	Name        string `yaml:"name"`
	Protocol    string `yaml:"protocol"`
	AppProtocol string `yaml:"appProtocol"`
	Port        int    `yaml:"port"`
	TargetPort  string `yaml:"targetPort"`
}

// EndpointSlice is a discovery.k8s.io/v1 EndpointSlice.
type EndpointSlice struct {
	Metadata    Meta   `yaml:"metadata"`
	AddressType string `yaml:"addressType"`
	Endpoints   []struct {
		Addresses  []string `yaml:"addresses"`
		Conditions struct {
			Ready *bool `yaml:"ready"`
		} `yaml:"conditions"`
	} `yaml:"endpoints"`
	Ports []struct {
		Name        *string `yaml:"name"`
		Port        *int    `yaml:"port"`
		Protocol    string  `yaml:"protocol"`
		AppProtocol string  `yaml:"appProtocol"`
	} `yaml:"ports"`
	Origin model.Origin `yaml:"-"`
}

// serviceLabel names, on an EndpointSlice, the Service it belongs to.
const serviceLabel = "kubernetes.io/service-name"

// Secret is a v1 Secret; Data holds the decoded values of data and
// stringData (which wins, as the API server merges it).
type Secret struct {
	Metadata Meta              `yaml:"metadata"`
	Type     string            `yaml:"type"`
	Data     map[string][]byte `yaml:"-"`
	Origin   model.Origin      `yaml:"-"`
}

// ConfigMap is a v1 ConfigMap.
type ConfigMap struct {
	Metadata Meta              `yaml:"metadata"`
	Data     map[string]string `yaml:"data"`
	Origin   model.Origin      `yaml:"-"`
}

// key identifies a namespaced object.
type key struct{ namespace, name string }

// Store holds the core objects of one load. The zero Store is empty and
// usable.
type Store struct {
	services   map[key]*Service
	slices     map[key][]*EndpointSlice // by the Service they belong to
	secrets    map[key]*Secret
	configMaps map[key]*ConfigMap
}

// AddService records s; false when one of that name exists already.
func (st *Store) AddService(s *Service) bool {
	return add(&st.services, key{s.Metadata.Namespace, s.Metadata.Name}, s)
}

// AddEndpointSlice records e under the Service its
// kubernetes.io/service-name label names; false when it names none.
func (st *Store) AddEndpointSlice(e *EndpointSlice) bool {
	svc := e.Metadata.Labels[serviceLabel]
	if svc == "" {
		return false
	}
	if st.slices == nil {
		st.slices = map[key][]*EndpointSlice{}
	}
	k := key{e.Metadata.Namespace, svc}
	st.slices[k] = append(st.slices[k], e)
	return true
}

// AddSecret records s; false when one of that name exists already.
func (st *Store) AddSecret(s *Secret) bool {
	return add(&st.secrets, key{s.Metadata.Namespace, s.Metadata.Name}, s)
}

// AddConfigMap records c; false when one of that name exists already.
func (st *Store) AddConfigMap(c *ConfigMap) bool {
	return add(&st.configMaps, key{c.Metadata.Namespace, c.Metadata.Name}, c)
}

func add[T any](m *map[key]*T, k key, v *T) bool {
	if *m == nil {
		*m = map[key]*T{}
	}
	if _, dup := (*m)[k]; dup {
		return false
	}
	(*m)[k] = v
	return true
}

// Service returns the Service ns/name, or nil.
func (st *Store) Service(ns, name string) *Service { return st.services[key{ns, name}] }

// Secret returns the Secret ns/name, or nil.
func (st *Store) Secret(ns, name string) *Secret { return st.secrets[key{ns, name}] }

// ConfigMap returns the ConfigMap ns/name, or nil.
func (st *Store) ConfigMap(ns, name string) *ConfigMap { return st.configMaps[key{ns, name}] }

// Target is where a Service port leads.
type Target struct {
	// Host is the Service's cluster name, NAME.NS.svc.cluster.local, or
	// an ExternalName Service's external name.
	Host string
	// Port is the Service port (what a client of the Service dials).
	Port int
	// Endpoints are the ready endpoints' "address:port", in the order
	// the slices list them, for traffic to be spread across; empty for
	// an ExternalName Service (dial Host:Port).
	Endpoints []string
	// AppProtocol is the port's appProtocol (for choosing HTTP/2), if any:
	// the Service port's, else its EndpointSlice port's.
	AppProtocol string
	// PortName is the Service port's name, if any.
	PortName string
}

// http2Protocols are the protocols, named by a port's appProtocol or by
// its name's prefix, that a Service port is spoken to in cleartext HTTP/2
// (h2c with prior knowledge) for: the Kubernetes-defined
// kubernetes.io/h2c and kubernetes.io/grpc; Istio's http2, grpc and
// grpc-web (Istio's proxies send grpc-web upstream as gRPC); and h2c.
var http2Protocols = map[string]bool{
	"http2": true, "grpc": true, "grpc-web": true, "h2c": true,
	"kubernetes.io/h2c": true, "kubernetes.io/grpc": true,
}

// HTTP2 reports whether the port is spoken to in cleartext HTTP/2, by
// Istio's explicit protocol selection, which Istio and Gloo's
// destinations follow: its appProtocol names an HTTP/2 protocol or,
// without an appProtocol, its name does, as "PROTOCOL" or
// "PROTOCOL-SUFFIX" ("grpc", "grpc-api", "http2-web", "h2c-x"). Compared
// without regard to case, as Istio does.
func (t Target) HTTP2() bool {
	if t.AppProtocol != "" {
		return http2Protocols[strings.ToLower(t.AppProtocol)]
	}
	proto, _, _ := strings.Cut(strings.ToLower(t.PortName), "-") // "grpc-web-x": grpc, HTTP/2 too
	return http2Protocols[proto]
}

// Resolve finds where port of the Service ns/name leads. port is a port
// number, or, when name is set, matched by the port's name. The error
// says what is missing: the Service, the port, or a ready endpoint (which
// a cluster would answer with 503).
func (st *Store) Resolve(ns, name string, port int, portName string) (Target, error) {
	s := st.Service(ns, name)
	if s == nil {
		return Target{}, fmt.Errorf("Service %s/%s not found", ns, name)
	}
	var sp *ServicePort
	for i := range s.Spec.Ports {
		p := &s.Spec.Ports[i]
		if (portName != "" && p.Name == portName) || (portName == "" && p.Port == port) {
			sp = p
			break
		}
	}
	if sp == nil && portName == "" && port == 0 && len(s.Spec.Ports) == 1 {
		sp = &s.Spec.Ports[0] // the only port, when none is named
	}
	if sp == nil {
		want := strconv.Itoa(port)
		if portName != "" {
			want = strconv.Quote(portName)
		}
		return Target{}, fmt.Errorf("Service %s/%s has no port %s", ns, name, want)
	}
	if strings.EqualFold(s.Spec.Type, "ExternalName") {
		if s.Spec.ExternalName == "" {
			return Target{}, fmt.Errorf("ExternalName Service %s/%s has no externalName", ns, name)
		}
		return Target{Host: s.Spec.ExternalName, Port: sp.Port, AppProtocol: sp.AppProtocol, PortName: sp.Name}, nil
	}
	t := Target{Host: name + "." + ns + ".svc." + ClusterDomain, Port: sp.Port, AppProtocol: sp.AppProtocol, PortName: sp.Name}
	for _, es := range st.slices[key{ns, name}] {
		ep, ok := slicePort(es, sp)
		if !ok {
			continue
		}
		if t.AppProtocol == "" {
			t.AppProtocol = ep.appProtocol
		}
		for _, e := range es.Endpoints {
			if e.Conditions.Ready != nil && !*e.Conditions.Ready {
				continue // kube-proxy sends nothing to endpoints not ready
			}
			for _, a := range e.Addresses {
				if hp := net.JoinHostPort(a, strconv.Itoa(ep.port)); !slices.Contains(t.Endpoints, hp) {
					t.Endpoints = append(t.Endpoints, hp)
				}
			}
		}
	}
	if len(t.Endpoints) == 0 {
		return t, fmt.Errorf("Service %s/%s port %d has no ready endpoint", ns, name, sp.Port)
	}
	return t, nil
}

type endpointPort struct {
	port        int
	appProtocol string
}

// slicePort finds the slice's port for the Service port sp: by name, as
// the EndpointSlice controller names them after the Service's ports (an
// unnamed Service port matches an unnamed slice port).
func slicePort(es *EndpointSlice, sp *ServicePort) (endpointPort, bool) {
	for _, p := range es.Ports {
		name := ""
		if p.Name != nil {
			name = *p.Name
		}
		if name != sp.Name || p.Port == nil {
			continue
		}
		return endpointPort{port: *p.Port, appProtocol: p.AppProtocol}, true
	}
	return endpointPort{}, false
}

// ParseHost reads a Service host as Istio and Gloo write it: "name"
// (in namespace def), "name.ns", "name.ns.svc" or
// "name.ns.svc.cluster.local". ok is false for any other host (an
// external name). "name.ns" is also the form of names such as
// "example.com": a caller tells them apart by whether the Service
// exists.
func ParseHost(host, def string) (ns, name string, ok bool) {
	parts := strings.Split(strings.TrimSuffix(strings.ToLower(host), "."), ".")
	switch {
	case len(parts) == 1 && parts[0] != "":
		return def, parts[0], true
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		return parts[1], parts[0], true
	case len(parts) == 3 && parts[2] == "svc":
		return parts[1], parts[0], true
	case len(parts) == 5 && parts[2] == "svc" && parts[3]+"."+parts[4] == ClusterDomain:
		return parts[1], parts[0], true
	}
	return "", "", false
}
