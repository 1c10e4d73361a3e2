package config

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"jwtgate.dev/jwtgate/internal/model"
)

// addList reads the items of a Kubernetes List (apiVersion v1, kind
// List), each as a document of its own.
func (l *loader) addList(file string, root *yaml.Node) {
	items := mapValue(root, "items")
	switch {
	case items == nil:
		return // an empty List
	case items.Kind != yaml.SequenceNode:
		l.errorf(file, items.Line, "items: expected a list, got %s", kindName(items))
		return
	}
	for _, it := range items.Content {
		l.addDocument(file, it)
	}
}

// mapValue is the value of key in the mapping m, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// builtin are the API groups of Kubernetes' own objects that carry no
// gateway meaning (workloads, accounts, storage, scheduling...): a
// Deployment or a ServiceAccount beside the gateway's resources is
// reported once as ignored. v1 kinds with a meaning (Service, Secret,
// ConfigMap) are in the dialect table instead.
var builtin = []string{
	"v1", "apps/v1", "batch/v1", "autoscaling/v1", "autoscaling/v2", "policy/v1",
	"rbac.authorization.k8s.io/v1", "networking.k8s.io/v1", "storage.k8s.io/v1",
	"scheduling.k8s.io/v1", "coordination.k8s.io/v1", "node.k8s.io/v1",
	"apiextensions.k8s.io/v1", "admissionregistration.k8s.io/v1",
	"apiregistration.k8s.io/v1", "certificates.k8s.io/v1", "events.k8s.io/v1",
	"flowcontrol.apiserver.k8s.io/v1", "resource.k8s.io/v1",
}

// unknown handles a document no dialect reads. Without apiVersion and
// kind it is not a resource at all: an error. jwtgate's own group with an
// unknown version or kind is a mistake: an error. A Kubernetes object
// with no gateway meaning is ignored, and reported once for all of them.
// Anything else is a resource jwtgate does not support: it gets the
// status Unsupported and a warning, and the rest of the configuration is
// served.
func (l *loader) unknown(file string, root *yaml.Node, apiVersion, kind string) {
	known := supported()
	switch {
	case apiVersion == "" && kind == "":
		l.errorf(file, root.Line, "missing apiVersion and kind (supported: %s)", known)
		return
	case apiVersion == "" || kind == "" || strings.HasPrefix(apiVersion, "jwtgate.dev/"):
		l.errorf(file, root.Line, "unsupported apiVersion %q and kind %q (supported: %s)", apiVersion, kind, known)
		return
	}
	o := model.Origin{Ref: objectRef(root, apiVersion, kind), File: file, Line: root.Line}
	for _, g := range builtin {
		if apiVersion == g {
			l.ignored = append(l.ignored, o)
			l.resources = append(l.resources, o)
			l.notes = append(l.notes, model.Note{Ref: o.Ref, Reason: model.ReasonIgnored,
				Message: "a Kubernetes object with no meaning for the gateway"})
			return
		}
	}
	l.resources = append(l.resources, o)
	l.notes = append(l.notes, model.Note{Ref: o.Ref, Reason: model.ReasonUnsupported,
		Message: fmt.Sprintf("jwtgate does not read %s %s: nothing of it is served", apiVersion, kind)})
	l.issues = append(l.issues, model.Issue{Severity: model.Warning, Origin: o, Resource: o.Ref.Describe(),
		Msg: fmt.Sprintf("unsupported apiVersion %q and kind %q: not served (supported: %s)", apiVersion, kind, known)})
}

// objectRef is a Kubernetes object's identity from its metadata.
func objectRef(root *yaml.Node, apiVersion, kind string) model.Ref {
	r := model.Ref{APIVersion: apiVersion, Kind: kind, Namespace: model.DefaultNamespace}
	meta := mapValue(root, "metadata")
	if n := mapValue(meta, "name"); n != nil && n.Kind == yaml.ScalarNode {
		r.Name = n.Value
	}
	if n := mapValue(meta, "namespace"); n != nil && n.Kind == yaml.ScalarNode && n.Value != "" {
		r.Namespace = n.Value
	}
	return r
}

// reportIgnored adds the one warning that lists every ignored object.
func (l *loader) reportIgnored() {
	if len(l.ignored) == 0 {
		return
	}
	names := make([]string, len(l.ignored))
	for i, o := range l.ignored {
		names[i] = o.Ref.String()
	}
	first := l.ignored[0]
	l.issues = append(l.issues, model.Issue{Severity: model.Warning, Origin: model.Origin{File: first.File, Line: first.Line},
		Msg: fmt.Sprintf("ignored %d Kubernetes object(s) with no meaning for the gateway: %s", len(names), strings.Join(names, ", "))})
}
