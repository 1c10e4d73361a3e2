package dialect

import (
	"go.yaml.in/yaml/v3"

	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// Object is a Kubernetes object of a vendor's API, with the spec type S:
// what the Istio, Gateway API, kgateway, Envoy Gateway and Gloo dialects
// decode each document into.
type Object[S any] struct {
	APIVersion string    `yaml:"apiVersion"`
	Kind       string    `yaml:"kind"`
	Metadata   Metadata  `yaml:"metadata"`
	Spec       S         `yaml:"spec"`
	Status     yaml.Node `yaml:"status"` // written by a controller; ignored
}

// Metadata is an object's metadata as exported from a cluster: what the
// dialects read, and the bookkeeping they accept and ignore.
type Metadata struct {
	Name              string            `yaml:"name"`
	Namespace         string            `yaml:"namespace"`
	Labels            map[string]string `yaml:"labels"`
	Annotations       map[string]string `yaml:"annotations"`
	CreationTimestamp string            `yaml:"creationTimestamp"`
	// Bookkeeping, ignored.
	GenerateName      yaml.Node `yaml:"generateName"`
	UID               yaml.Node `yaml:"uid"`
	ResourceVersion   yaml.Node `yaml:"resourceVersion"`
	Generation        yaml.Node `yaml:"generation"`
	ManagedFields     yaml.Node `yaml:"managedFields"`
	Finalizers        yaml.Node `yaml:"finalizers"`
	OwnerReferences   yaml.Node `yaml:"ownerReferences"`
	DeletionTimestamp yaml.Node `yaml:"deletionTimestamp"`
	SelfLink          yaml.Node `yaml:"selfLink"`
}

// DecodeObject decodes the document n with dec, which collects the
// problems and the field lines.
func DecodeObject[S any](dec *strictyaml.Decoder, n *yaml.Node) *Object[S] {
	var o Object[S]
	dec.Decode(n, "", &o)
	return &o
}
