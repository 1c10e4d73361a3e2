package kgateway_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/config"
	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/dialect/dialecttest"
	"jwtgate.dev/jwtgate/internal/model"
)

// examples is the folder of the runnable example: the resources of
// kgateway's Basic JWT policy guide, with a Gateway, an HTTPRoute and a
// Service.
const examples = "../../../examples/kgateway"

// goldenCase is an input read with one selection; more are inputs read
// after its Path, in order (files of the example beside a testdata file).
type goldenCase struct {
	dialecttest.Case
	more []string
}

// goldenCases are every input under testdata.
var goldenCases = []goldenCase{
	{Case: dialecttest.Case{Name: "basic-jwt", Path: examples}},
	{Case: dialecttest.Case{Name: "crossns", Path: examples + "/gateway.yaml"},
		more: []string{examples + "/httpbin.yaml", examples + "/gatewayextension.yaml", "testdata/crossns.yaml"}},
	{Case: dialecttest.Case{Name: "precedence", Path: "testdata/precedence.yaml"}},
	{Case: dialecttest.Case{Name: "extensions", Path: "testdata/extensions.yaml"}},
	{Case: dialecttest.Case{Name: "rbac", Path: "testdata/rbac.yaml"}},
	{Case: dialecttest.Case{Name: "backends", Path: "testdata/backends.yaml"}},
	{Case: dialecttest.Case{Name: "grpcroute", Path: "testdata/grpcroute.yaml"}},
	{Case: dialecttest.Case{Name: "unsupported", Path: "testdata/unsupported.yaml"}},
	{Case: dialecttest.Case{Name: "errors", Path: "testdata/errors.yaml"}},
	{Case: dialecttest.Case{Name: "select-other", Path: "testdata/precedence.yaml", Sel: dialect.Selection{Gateway: "infra/other"}},
		more: []string{"testdata/select.yaml"}},
}

// golden is what a golden file holds: every diagnostic (file:line: field:
// message), the status of every resource, the model pieces this dialect
// makes, and, for each route, where its JWT requirement comes from and
// which policies reach it.
type golden struct {
	dialecttest.Head `yaml:",inline"`
	Providers        []model.Provider    `yaml:"providers,omitempty"`
	JWTPolicies      []model.JWTPolicy   `yaml:"jwtPolicies,omitempty"`
	Policies         []model.Policy      `yaml:"policies,omitempty"`
	Routes           map[string][]string `yaml:"routes,omitempty"`
}

// read loads a case the way serve and validate do (dialecttest.Read,
// with the case's further inputs).
func read(t testing.TB, c goldenCase) (*config.Loaded, model.Issues, []model.Status) {
	t.Helper()
	if len(c.more) == 0 {
		return dialecttest.Read(t, c.Case)
	}
	ld := config.ReadSelected(c.Sel, append([]string{c.Path}, c.more...)...)
	cfg, issues := ld.Validated()
	notes := append(slices.Clone(ld.Notes), ld.Config.Notes()...)
	return ld, issues, model.Statuses(ld.Resources, issues, notes, cfg != nil)
}

// TestGolden reads each input and compares the result with
// testdata/golden/NAME.golden. Regenerate with -update.
func TestGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.Name, func(t *testing.T) {
			ld, issues, statuses := read(t, c)
			g := golden{Head: dialecttest.NewHead(issues, statuses)}
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
					if r.Backend.Protocol != "" {
						line = append(line, "protocol: "+string(r.Backend.Protocol))
					}
				}
				for _, p := range cfg.PoliciesFor(r) {
					line = append(line, string(p.Action)+" "+p.Name)
				}
				g.Routes[r.Name] = line
			}
			dialecttest.Golden(t, c.Name, g)
		})
	}
}

// TestEveryResourceHasAStatus checks that every document of every input
// gets exactly one status.
func TestEveryResourceHasAStatus(t *testing.T) {
	var single []dialecttest.Case
	for _, c := range goldenCases {
		if len(c.more) == 0 {
			single = append(single, c.Case)
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			_, _, statuses := read(t, c)
			var want []model.Ref
			for _, p := range append([]string{c.Path}, c.more...) {
				want = append(want, dialecttest.Documents(t, p)...)
			}
			var got []model.Ref
			for _, st := range statuses {
				got = append(got, st.Ref)
				if len(st.Conditions) != 1 || st.Conditions[0].Reason == "" {
					t.Errorf("%s: conditions %+v", st.Ref, st.Conditions)
				}
			}
			for _, ref := range want {
				if !slices.Contains(got, ref) {
					t.Errorf("%s has no status (statuses: %v)", ref, got)
				}
			}
			if len(got) != len(want) {
				t.Errorf("%d statuses for %d resources: %v", len(got), len(want), got)
			}
		})
	}
	dialecttest.EveryResourceHasAStatus(t, single)
}
