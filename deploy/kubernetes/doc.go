// Package kubernetes holds jwtgate's Kubernetes manifests: the *.yaml
// files of this folder, applied with `kubectl apply -f deploy/kubernetes/`
// (see docs/operations.md). It has no code of its own; its tests decode
// every manifest strictly into the Kubernetes API types (k8s.io/api) and
// check the manifests against the gateway they deploy: the probes reach
// admin endpoints that exist, the configuration validates, the selectors
// and targets agree, and the pod runs locked down.
package kubernetes
