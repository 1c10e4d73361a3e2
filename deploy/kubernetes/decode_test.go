package kubernetes

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// kind is a kind of object: its apiVersion and a new object of its
// official type.
type kind struct {
	apiVersion string
	new        func() any
}

// kinds are the objects the manifests hold, one of each.
var kinds = map[string]kind{
	"ConfigMap":               {"v1", func() any { return &corev1.ConfigMap{} }},
	"Service":                 {"v1", func() any { return &corev1.Service{} }},
	"Deployment":              {"apps/v1", func() any { return &appsv1.Deployment{} }},
	"PodDisruptionBudget":     {"policy/v1", func() any { return &policyv1.PodDisruptionBudget{} }},
	"HorizontalPodAutoscaler": {"autoscaling/v2", func() any { return &autoscalingv2.HorizontalPodAutoscaler{} }},
}

// manifests are the objects of this folder, one of each kind.
type manifests struct {
	deployment *appsv1.Deployment
	service    *corev1.Service
	configMap  *corev1.ConfigMap
	pdb        *policyv1.PodDisruptionBudget
	hpa        *autoscalingv2.HorizontalPodAutoscaler
}

// docSeparator splits a file into YAML documents.
var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// decodeStrict decodes one YAML document into the official type of its
// kind as the API server would with strict field validation: an unknown
// field, a duplicate field or a field named in the wrong case is an
// error, and so is a kind this folder has no business holding.
func decodeStrict(doc []byte) (any, error) {
	return decodeStrictOf(kinds, doc)
}

// decodeStrictOf is decodeStrict for the kinds of known.
func decodeStrictOf(known map[string]kind, doc []byte) (any, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return nil, fmt.Errorf("reading apiVersion and kind: %w", err)
	}
	k, ok := known[tm.Kind]
	if !ok {
		return nil, fmt.Errorf("kind %q is not one of the manifests' kinds", tm.Kind)
	}
	if tm.APIVersion != k.apiVersion {
		return nil, fmt.Errorf("%s has apiVersion %q, want %q", tm.Kind, tm.APIVersion, k.apiVersion)
	}
	obj := k.new()
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return nil, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	// encoding/json matches field names regardless of case; the API
	// server does not.
	var generic any
	if err := yaml.Unmarshal(doc, &generic); err != nil {
		return nil, err
	}
	if bad := wrongCase(generic, reflect.TypeOf(obj), ""); len(bad) > 0 {
		return nil, fmt.Errorf("%s: unknown fields (names are case-sensitive): %s", tm.Kind, strings.Join(bad, ", "))
	}
	return obj, nil
}

// wrongCase lists the keys of v, a document decoded generically, that no
// field of t is named exactly (case-sensitively), at any depth.
func wrongCase(v any, t reflect.Type, path string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	// Types that decode themselves (Quantity, IntOrString, Time) end
	// the walk.
	if reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		return nil
	}
	var bad []string
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		fields := jsonFields(t)
		for key, val := range m {
			ft, ok := fields[key]
			if !ok {
				bad = append(bad, path+"."+key)
				continue
			}
			bad = append(bad, wrongCase(val, ft, path+"."+key)...)
		}
	case reflect.Map:
		if m, ok := v.(map[string]any); ok {
			for key, val := range m {
				bad = append(bad, wrongCase(val, t.Elem(), path+"."+key)...)
			}
		}
	case reflect.Slice:
		if s, ok := v.([]any); ok {
			for i, val := range s {
				bad = append(bad, wrongCase(val, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	slices.Sort(bad)
	return bad
}

// jsonFields maps the JSON names of t's fields, inlined ones included, to
// their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" && (f.Anonymous || strings.Contains(opts, "inline")) {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// documents are the non-empty YAML documents of the folder's *.yaml
// files, by "file#index".
func documents(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range docSeparator.Split(string(data), -1) {
			var v any
			if err := yaml.Unmarshal([]byte(doc), &v); err != nil {
				t.Fatalf("%s#%d: %v", f, i, err)
			}
			if v == nil {
				continue // only comments
			}
			out[fmt.Sprintf("%s#%d", f, i)] = []byte(doc)
		}
	}
	return out
}

// load decodes every manifest strictly and returns them, failing the
// test on any error, on a kind that is missing and on a kind that is
// there twice.
func load(t *testing.T) manifests {
	t.Helper()
	var m manifests
	seen := map[string]string{}
	for name, doc := range documents(t) {
		obj, err := decodeStrict(doc)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		kind := reflect.TypeOf(obj).Elem().Name()
		if prev, ok := seen[kind]; ok {
			t.Fatalf("%s and %s both hold a %s", prev, name, kind)
		}
		seen[kind] = name
		switch o := obj.(type) {
		case *appsv1.Deployment:
			m.deployment = o
		case *corev1.Service:
			m.service = o
		case *corev1.ConfigMap:
			m.configMap = o
		case *policyv1.PodDisruptionBudget:
			m.pdb = o
		case *autoscalingv2.HorizontalPodAutoscaler:
			m.hpa = o
		}
	}
	for kind := range kinds {
		if _, ok := seen[kind]; !ok {
			t.Errorf("no %s among the manifests", kind)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return m
}

// Every manifest decodes strictly, and the decoding is strict: the same
// documents with an unknown field, a field in the wrong case, a
// duplicate field or a wrong apiVersion are refused.
func TestManifestsDecodeStrictly(t *testing.T) {
	docs := documents(t)
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			if _, err := decodeStrict(doc); err != nil {
				t.Fatal(err)
			}
		})
	}
	deployment := string(docs["deployment.yaml#0"])
	if deployment == "" {
		t.Fatal("no deployment.yaml")
	}
	broken := []struct {
		name, old, new string
	}{
		{"unknown top-level field", "kind: Deployment\n", "kind: Deployment\nstatus2: {}\n"},
		{"unknown nested field", "      automountServiceAccountToken:", "      hostNetwork2: true\n      automountServiceAccountToken:"},
		{"field in the wrong case", "readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true"},
		{"duplicate field", "  revisionHistoryLimit: 5\n", "  revisionHistoryLimit: 5\n  revisionHistoryLimit: 6\n"},
		{"wrong apiVersion", "apiVersion: apps/v1\n", "apiVersion: apps/v1beta1\n"},
		{"unknown kind", "kind: Deployment\n", "kind: DaemonSet\n"},
	}
	for _, b := range broken {
		t.Run("refuses "+b.name, func(t *testing.T) {
			if !strings.Contains(deployment, b.old) {
				t.Fatalf("deployment.yaml lacks %q", b.old)
			}
			doc := strings.Replace(deployment, b.old, b.new, 1)
			_, err := decodeStrict([]byte(doc))
			if err == nil {
				t.Fatal("decoded without error")
			}
			t.Logf("refused: %v", err)
		})
	}
	load(t)
}
