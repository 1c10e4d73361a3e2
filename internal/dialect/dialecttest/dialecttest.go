// Package dialecttest is the golden-file harness every dialect's tests
// share: read an input with a selection the way serve and validate do,
// write what it became as YAML under testdata/golden (regenerated with
// the one -update flag), and check that every resource got a status.
package dialecttest

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"

	"jwtgate.dev/jwtgate/internal/config"
	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/model"
)

// update is the -update flag of every dialect's test binary.
var update = flag.Bool("update", false, "rewrite the golden files")

// Case is one input (a file or a folder) read with one selection.
type Case struct {
	// Name names the golden file: testdata/golden/NAME.golden.
	Name string
	// Path is the input, relative to the test's package directory.
	Path string
	// Sel is the selection serve would be given.
	Sel dialect.Selection
}

// Read loads a case the way serve and validate do: the loaded pieces,
// the issues of validation, and every resource's status.
func Read(t testing.TB, c Case) (*config.Loaded, model.Issues, []model.Status) {
	t.Helper()
	ld := config.ReadSelected(c.Sel, c.Path)
	cfg, issues := ld.Validated()
	notes := append(slices.Clone(ld.Notes), ld.Config.Notes()...)
	return ld, issues, model.Statuses(ld.Resources, issues, notes, cfg != nil)
}

// Head is what every golden file starts with: each diagnostic
// (file:line: field: message) and each resource's status. Dialects
// inline it in their own golden type with the model pieces they make.
type Head struct {
	Diagnostics []string `yaml:"diagnostics,omitempty"`
	Resources   []string `yaml:"resources"`
}

// NewHead formats issues and statuses.
func NewHead(issues model.Issues, statuses []model.Status) Head {
	var h Head
	for _, is := range issues {
		h.Diagnostics = append(h.Diagnostics, is.Error())
	}
	for _, st := range statuses {
		h.Resources = append(h.Resources, st.String())
	}
	return h
}

// Golden compares got, encoded as YAML, with testdata/golden/NAME.golden,
// or writes the file when the test runs with -update.
func Golden(t *testing.T, name string, got any) {
	t.Helper()
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(got); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "golden", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update)", err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("%s differs (run the test with -update and review the diff):\n%s", path, b.Bytes())
	}
}

// EveryResourceHasAStatus checks that each document of each case's input
// gets exactly one status.
func EveryResourceHasAStatus(t *testing.T, cases []Case) {
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			_, _, statuses := Read(t, c)
			want := Documents(t, c.Path)
			var got []model.Ref
			for _, st := range statuses {
				got = append(got, st.Ref)
			}
			for _, ref := range want {
				if !slices.Contains(got, ref) {
					t.Errorf("%s has no status (statuses: %v)", ref, got)
				}
			}
			if len(got) != len(want) {
				t.Errorf("%d statuses for %d resources: %v", len(got), len(want), got)
			}
			for _, st := range statuses {
				if len(st.Conditions) != 1 || st.Conditions[0].Reason == "" {
					t.Errorf("%s: conditions %+v", st.Ref, st.Conditions)
				}
			}
		})
	}
}

// clusterScoped are the kinds of the inputs whose objects have no
// namespace.
var clusterScoped = map[string]bool{"GatewayClass": true, "Namespace": true}

// Documents lists the resources of a file or a folder's YAML files as
// their documents name them: a vendor document by its apiVersion, kind,
// namespace and name; a native document by its listeners, providers,
// routes, JWT policies and policies.
// Kubernetes Lists are not unpacked: inputs that use them are checked
// by the loader's own tests.
func Documents(t testing.TB, path string) []model.Ref {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(path, "*.yaml"))
	if len(files) == 0 {
		files = []string{path}
	}
	var data []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		data = append(append(data, b...), "\n---\n"...)
	}
	var out []model.Ref
	add := func(ref model.Ref) {
		if !slices.Contains(out, ref) {
			out = append(out, ref)
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
			Metadata   struct {
				Name, Namespace string
			}
			Spec struct {
				WorkloadSelector struct{ Namespace string } `yaml:"workloadSelector"`
			}
			Listeners   []struct{ Name string }
			Providers   []struct{ Name string }
			Routes      []struct{ Name string }
			JWTPolicies []struct{ Name string } `yaml:"jwtPolicies"`
			Policies    []struct{ Name string }
		}
		if err := dec.Decode(&doc); err != nil {
			break
		}
		switch doc.Kind {
		case "":
			// A document of comments only.
		case "Config":
			for _, k := range []struct {
				kind  string
				names []struct{ Name string }
			}{{"Listener", doc.Listeners}, {"Provider", doc.Providers}, {"Route", doc.Routes}, {"JWTPolicy", doc.JWTPolicies}, {"Policy", doc.Policies}} {
				for _, n := range k.names {
					add(model.Ref{APIVersion: doc.APIVersion, Kind: k.kind, Namespace: model.DefaultNamespace, Name: n.Name})
				}
			}
		default:
			ns := doc.Metadata.Namespace
			if ns == "" {
				// A TSB gateway's namespace is its workloads'.
				ns = doc.Spec.WorkloadSelector.Namespace
			}
			switch {
			case clusterScoped[doc.Kind]:
				ns = ""
			case ns == "":
				ns = model.DefaultNamespace
			}
			add(model.Ref{APIVersion: doc.APIVersion, Kind: doc.Kind, Namespace: ns, Name: doc.Metadata.Name})
		}
	}
	return out
}

// AddSeeds adds every file the glob patterns match to the fuzz corpus.
func AddSeeds(f *testing.F, patterns ...string) {
	for _, pat := range patterns {
		files, err := filepath.Glob(pat)
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
}

// CheckLoad loads raw YAML with a selection, as the fuzz targets of every
// dialect do, and checks what must hold whatever the input: no panic, a
// configuration exactly when there is no error, a message on every issue,
// one condition on every status, egress plans that can be made.
func CheckLoad(t *testing.T, sel dialect.Selection, data []byte) {
	t.Helper()
	ld := config.ReadBytesSelected(sel, "fuzz/in.yaml", data)
	cfg, issues := ld.Validated()
	if errs := len(issues.Errors()); (cfg == nil) != (errs > 0) {
		t.Fatalf("config %v with %d errors: %v", cfg != nil, errs, issues)
	}
	for _, is := range issues {
		if is.Msg == "" {
			t.Fatalf("issue without message: %#v", is)
		}
	}
	for _, st := range model.Statuses(ld.Resources, issues, append(slices.Clone(ld.Notes), ld.Config.Notes()...), cfg != nil) {
		if len(st.Conditions) != 1 {
			t.Fatalf("status without one condition: %+v", st)
		}
	}
	ld.Config.EgressPlans()
}
