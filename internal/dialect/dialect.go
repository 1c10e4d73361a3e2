// Package dialect defines what a configuration dialect is: a reader of
// one vendor's YAML documents (or jwtgate's own) that turns each document
// into model pieces plus diagnostics. The loader (package config) hands
// every document to the dialect its apiVersion and kind name, from one
// explicit table, and knows nothing else of any dialect.
package dialect

import (
	"net"
	"strconv"

	"go.yaml.in/yaml/v3"

	"jwtgate.dev/jwtgate/internal/kube"
	"jwtgate.dev/jwtgate/internal/model"
)

// Document is one YAML document of a configuration file.
type Document struct {
	// File is the path the document was read from; relative file names in
	// it resolve against its directory. Empty for documents built in code.
	File string
	// Node is the document's root mapping.
	Node *yaml.Node
	// APIVersion and Kind are the document's own, as the loader read them.
	APIVersion, Kind string
}

// Result is what a dialect makes of one document.
type Result struct {
	// Config holds the model pieces, each with its Origin (resource
	// identity and a Locator for its fields).
	Config model.Config
	// Resources lists every resource the document holds, in document
	// order, so that each gets a status even when it produced no model
	// piece.
	Resources []model.Origin
	// Issues are the problems the dialect found. Issues whose Origin has
	// a Locator are placed by it; the others carry their line already.
	Issues model.Issues
	// Notes are statuses the dialect decided itself, such as a resource
	// that is read but not supported; they join the statuses computed
	// from the issues.
	Notes []model.Note
	// Selection, when set, is the gateway and workloads the document
	// says jwtgate stands for (the native `gateway` and `workload` keys);
	// command-line flags win over it.
	Selection *Selection
	// SelectionOrigin places Selection, for conflicts.
	SelectionOrigin model.Origin
}

// Dialect reads documents of the apiVersion and kind pairs it is listed
// under.
type Dialect interface {
	Decode(doc Document) Result
}

// Selection says which gateway, and which workloads, jwtgate stands for,
// for dialects whose resources are aimed at gateways by name or by
// workload selectors. The zero Selection means "the only gateway in the
// files".
type Selection struct {
	// Gateway is "namespace/name" of the gateway resource to serve.
	Gateway string
	// WorkloadNamespace and WorkloadLabels describe the pod jwtgate
	// stands in for, as the selectors of the vendor resources see it.
	WorkloadNamespace string
	WorkloadLabels    map[string]string
	// BindAddress is the address vendor listeners bind their ports on
	// (serve --bind-address); empty means every interface. It does not
	// take part in choosing the gateway.
	BindAddress string
}

// ListenAddress is where a vendor listener of the given port binds:
// BindAddress:port, or :port on every interface.
func (s Selection) ListenAddress(port int) string {
	return net.JoinHostPort(s.BindAddress, strconv.Itoa(port))
}

// Set reports whether anything is selected.
func (s Selection) Set() bool {
	return s.Gateway != "" || s.WorkloadNamespace != "" || len(s.WorkloadLabels) > 0
}

// Session is a dialect that needs every document of a load before it can
// translate them (references across documents, choosing the gateway it
// serves). Once every file is read, the loader makes one Session per
// dialect family with the load's final Selection, hands it each of the
// family's documents, in reading order, with Decode, and calls Finish; the
// Results of both are merged.
type Session interface {
	Dialect
	Finish() Result
}

// Env is what a Session of one load is made with.
type Env struct {
	// Selection is the gateway and workloads jwtgate stands for.
	Selection
	// Kube holds the Kubernetes core objects of the load (Services,
	// EndpointSlices, Secrets, ConfigMaps). Every document is decoded
	// before any Session finishes, so the store is complete in Finish.
	Kube *kube.Store
}

// Store is the load's Kubernetes store; an empty one when Kube is nil
// (a load built in code, a test).
func (e Env) Store() *kube.Store {
	if e.Kube == nil {
		return &kube.Store{}
	}
	return e.Kube
}

// Family makes the Session of one load.
type Family func(Env) Session
