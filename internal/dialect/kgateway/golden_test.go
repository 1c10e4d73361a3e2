package kgateway_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"jwtgate.dev/jwtgate/internal/config"
	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/model"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// examples is the folder of the runnable example: the resources of
// kgateway's Basic JWT policy guide, with a Gateway, an HTTPRoute and a
// Service.
const examples = "../../../examples/kgateway"

// goldenCase is one input (a file or a folder) read with one selection.
type goldenCase struct {
	name  string
	paths []string
	sel   dialect.Selection
}

// goldenCases are every input under testdata.
var goldenCases = []goldenCase{
	{name: "basic-jwt", paths: []string{examples}},
	{name: "crossns", paths: []string{examples + "/gateway.yaml", examples + "/httpbin.yaml", examples + "/gatewayextension.yaml", "testdata/crossns.yaml"}},
	{name: "precedence", paths: []string{"testdata/precedence.yaml"}},
	{name: "extensions", paths: []string{"testdata/extensions.yaml"}},
	{name: "rbac", paths: []string{"testdata/rbac.yaml"}},
	{name: "backends", paths: []string{"testdata/backends.yaml"}},
	{name: "unsupported", paths: []string{"testdata/unsupported.yaml"}},
	{name: "errors", paths: []string{"testdata/errors.yaml"}},
	{name: "select-other", paths: []string{"testdata/precedence.yaml", "testdata/select.yaml"}, sel: dialect.Selection{Gateway: "infra/other"}},
}

// golden is what a golden file holds: every diagnostic (file:line: field:
// message), the status of every resource, the model pieces this dialect
// makes, and, for each route, where its JWT requirement comes from and
// which policies reach it.
type golden struct {
	Diagnostics []string            `yaml:"diagnostics,omitempty"`
	Resources   []string            `yaml:"resources"`
	Providers   []model.Provider    `yaml:"providers,omitempty"`
	JWTPolicies []model.JWTPolicy   `yaml:"jwtPolicies,omitempty"`
	Policies    []model.Policy      `yaml:"policies,omitempty"`
	Routes      map[string][]string `yaml:"routes,omitempty"`
}

// read loads a case the way serve and validate do.
func read(t testing.TB, c goldenCase) (*config.Loaded, model.Issues, []model.Status) {
	t.Helper()
	ld := config.ReadSelected(c.sel, c.paths...)
	cfg, issues := ld.Validated()
	notes := append(slices.Clone(ld.Notes), ld.Config.Notes()...)
	return ld, issues, model.Statuses(ld.Resources, issues, notes, cfg != nil)
}

// TestGolden reads each input and compares the result with
// testdata/golden/NAME.golden. Regenerate with -update.
func TestGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			ld, issues, statuses := read(t, c)
			var g golden
			for _, is := range issues {
				g.Diagnostics = append(g.Diagnostics, is.Error())
			}
			for _, st := range statuses {
				g.Resources = append(g.Resources, st.String())
			}
			cfg := ld.Config
			g.Providers, g.JWTPolicies, g.Policies = cfg.Providers, cfg.JWTPolicies, cfg.Policies
			for _, r := range cfg.Routes {
				if g.Routes == nil {
					g.Routes = map[string][]string{}
				}
				var line []string
				if eff := cfg.EffectiveJWT(r); eff.Requirement != nil {
					line = append(line, "jwt from "+eff.From+" ("+string(eff.Requirement.Mode)+")")
					for _, n := range eff.NotApplied {
						line = append(line, "jwt not applied: "+n)
					}
				} else {
					line = append(line, "no jwt")
				}
				switch {
				case r.DirectResponse != nil:
					line = append(line, "answers "+strconv.Itoa(r.DirectResponse.Status))
				case len(r.Backends) > 0:
					line = append(line, "backends: "+strconv.Itoa(len(r.Backends)))
				case r.Backend.Unavailable != "":
					line = append(line, "backend unavailable: "+r.Backend.Unavailable)
				default:
					line = append(line, strings.TrimSpace("backend: "+r.Backend.URL+" "+strings.Join(r.Backend.Endpoints, ",")))
				}
				for _, p := range cfg.PoliciesFor(r) {
					line = append(line, string(p.Action)+" "+p.Name)
				}
				g.Routes[r.Name] = line
			}
			var b bytes.Buffer
			enc := yaml.NewEncoder(&b)
			enc.SetIndent(2)
			if err := enc.Encode(g); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "golden", c.name+".golden")
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/dialect/kgateway -update)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("%v differs from %s (run go test ./internal/dialect/kgateway -update and review the diff):\n%s", c.paths, path, b.Bytes())
			}
		})
	}
}

// TestEveryResourceHasAStatus checks that every document of every input
// gets exactly one status.
func TestEveryResourceHasAStatus(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			ld, _, statuses := read(t, c)
			refs := map[model.Ref]bool{}
			for _, o := range ld.Resources {
				refs[o.Ref] = true
			}
			if len(statuses) != len(refs) {
				t.Errorf("%d statuses for %d resources", len(statuses), len(refs))
			}
			for _, st := range statuses {
				if len(st.Conditions) != 1 || st.Conditions[0].Reason == "" {
					t.Errorf("%s: conditions %+v", st.Ref, st.Conditions)
				}
			}
		})
	}
}
