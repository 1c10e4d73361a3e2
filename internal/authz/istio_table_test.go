package authz_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"jwtgate.dev/jwtgate/internal/authz"
	"jwtgate.dev/jwtgate/internal/config"
	"jwtgate.dev/jwtgate/internal/model"
)

// The evaluation table again, each row's policies written as Istio
// AuthorizationPolicy resources (security.istio.io/v1), read by the
// loader through the Istio dialect, compiled and evaluated on the same
// request: the decision must be the same.

// istioDiffers are rows whose decision differs on purpose, and why.
var istioDiffers = map[string]string{
	"when nested scope space-separated": "Istio splits the top-level scope and permission claims only",
}

// TestEvaluateAsIstio runs the table with Istio resources.
func TestEvaluateAsIstio(t *testing.T) {
	ran := 0
	for _, tc := range authz.EvaluateCases() {
		t.Run(tc.Name, func(t *testing.T) {
			doc, why := istioDocs(tc.Policies)
			if why != "" {
				t.Skipf("not expressible as an Istio resource: %s", why)
			}
			ran++
			cfg, issues := config.LoadBytes("istio.yaml", []byte(doc))
			if cfg == nil {
				t.Fatalf("%v\n%s", issues.Err(), doc)
			}
			e, err := authz.Compile(cfg.Policies)
			if err != nil {
				t.Fatalf("Compile: %v\n%s", err, doc)
			}
			d := e.Evaluate(tc.Request)
			wantPolicy, wantRule := "", ""
			if tc.Policy != "" {
				wantPolicy = model.DefaultNamespace + "/" + tc.Policy
				wantRule = ruleIndex(tc.Policies, tc.Policy, tc.Rule)
			}
			if diff, ok := istioDiffers[tc.Name]; ok {
				if d.Allowed == tc.Allowed {
					t.Errorf("listed as differing (%s), but decided the same: %s", diff, d)
				}
				return
			}
			if d.Allowed != tc.Allowed || d.Policy != wantPolicy || d.Rule != wantRule {
				t.Errorf("got %s, want allowed=%v policy=%q rule=%q\n%s", d, tc.Allowed, wantPolicy, wantRule, doc)
			}
		})
	}
	if ran < 100 {
		t.Errorf("only %d rows ran as Istio resources", ran)
	}
}

// ruleIndex is the name the Istio dialect gives the rule named rule of
// policy name: "rules[i]", i being its index.
func ruleIndex(policies []model.Policy, name, rule string) string {
	for _, p := range policies {
		if p.Name != name {
			continue
		}
		for i, r := range p.Rules {
			if r.Name == rule || (r.Name == "" && rule == fmt.Sprintf("rules[%d]", i)) {
				return fmt.Sprintf("rules[%d]", i)
			}
		}
	}
	return rule
}

// Istio's YAML, key for key, for writing.
type (
	istioDoc struct {
		APIVersion string            `yaml:"apiVersion"`
		Kind       string            `yaml:"kind"`
		Metadata   map[string]string `yaml:"metadata"`
		Spec       istioSpec         `yaml:"spec"`
	}
	istioSpec struct {
		Action string      `yaml:"action"`
		Rules  []istioRule `yaml:"rules,omitempty"`
	}
	istioRule struct {
		From []map[string]map[string][]string `yaml:"from,omitempty"`
		To   []map[string]map[string][]string `yaml:"to,omitempty"`
		When []istioCondition                 `yaml:"when,omitempty"`
	}
	istioCondition struct {
		Key       string   `yaml:"key"`
		Values    []string `yaml:"values,omitempty"`
		NotValues []string `yaml:"notValues,omitempty"`
	}
)

// conditionKeys are the Istio keys of the condition kinds.
var conditionKeys = map[model.ConditionKind]string{
	model.CondAudience:             "request.auth.audiences",
	model.CondPresenter:            "request.auth.presenter",
	model.CondPrincipal:            "request.auth.principal",
	model.CondIssuer:               "request.auth.claims[iss]",
	model.CondSourceIP:             "source.ip",
	model.CondRemoteIP:             "remote.ip",
	model.CondSourcePrincipal:      "source.principal",
	model.CondSourceNamespace:      "source.namespace",
	model.CondSourceServiceAccount: "source.serviceAccount",
	model.CondDestinationPort:      "destination.port",
}

// istioDocs writes policies as AuthorizationPolicy documents in the
// default namespace, or says why they cannot be.
func istioDocs(policies []model.Policy) (string, string) {
	var docs []string
	for _, p := range policies {
		if p.SpaceDelimitedClaims != nil {
			return "", "space-delimited claims are set per issuer by RequestAuthentications"
		}
		spec := istioSpec{Action: string(p.Action)}
		for _, r := range p.Rules {
			ir, why := istioRuleOf(r)
			if why != "" {
				return "", why
			}
			spec.Rules = append(spec.Rules, ir)
		}
		b, err := yaml.Marshal(istioDoc{
			APIVersion: "security.istio.io/v1", Kind: "AuthorizationPolicy",
			Metadata: map[string]string{"name": p.Name, "namespace": model.DefaultNamespace}, Spec: spec,
		})
		if err != nil {
			return "", err.Error()
		}
		docs = append(docs, string(b))
	}
	if len(docs) == 0 {
		return "", "no policies"
	}
	return strings.Join(docs, "---\n"), ""
}

func istioRuleOf(r model.Rule) (istioRule, string) {
	var ir istioRule
	for _, f := range r.From {
		src := map[string][]string{}
		for k, v := range map[string][]string{
			"principals": f.Principals, "notPrincipals": f.NotPrincipals,
			"requestPrincipals": f.RequestPrincipals, "notRequestPrincipals": f.NotRequestPrincipals,
			"namespaces": f.Namespaces, "notNamespaces": f.NotNamespaces,
			"serviceAccounts": f.ServiceAccounts, "notServiceAccounts": f.NotServiceAccounts,
			"ipBlocks": f.IPBlocks, "notIpBlocks": f.NotIPBlocks,
			"remoteIpBlocks": f.RemoteIPBlocks, "notRemoteIpBlocks": f.NotRemoteIPBlocks,
			"trustDomains": f.TrustDomains, "notTrustDomains": f.NotTrustDomains,
		} {
			if len(v) > 0 {
				src[k] = v
			}
		}
		// A token match becomes conditions on its claims, which only
		// holds for a rule with that one source.
		if f.JWT != nil || f.NotJWT != nil {
			if len(r.From) > 1 {
				return ir, "a jwt match in one of several sources"
			}
			if f.JWT != nil {
				ir.When = append(ir.When, jwtConditions(f.JWT, false)...)
			}
			if f.NotJWT != nil {
				cs := jwtConditions(f.NotJWT, true)
				if len(cs) != 1 {
					return ir, "notJwt with several fields"
				}
				ir.When = append(ir.When, cs...)
			}
		}
		if len(src) > 0 {
			ir.From = append(ir.From, map[string]map[string][]string{"source": src})
		}
	}
	for _, t := range r.To {
		op := map[string][]string{}
		for k, v := range map[string][]string{
			"hosts": t.Hosts, "notHosts": t.NotHosts, "methods": t.Methods, "notMethods": t.NotMethods,
			"paths": t.Paths, "notPaths": t.NotPaths, "ports": itoas(t.Ports), "notPorts": itoas(t.NotPorts),
		} {
			if len(v) > 0 {
				op[k] = v
			}
		}
		ir.To = append(ir.To, map[string]map[string][]string{"operation": op})
	}
	for _, c := range r.When {
		key, ok := conditionKeys[c.Kind]
		switch c.Kind {
		case model.CondClaim:
			key, ok = claimKey(c.Name), true
		case model.CondHeader:
			key, ok = "request.headers["+c.Name+"]", true
		}
		if !ok {
			return ir, "condition kind " + string(c.Kind)
		}
		ir.When = append(ir.When, istioCondition{Key: key, Values: c.Values, NotValues: c.NotValues})
	}
	return ir, ""
}

// jwtConditions writes a token match as claim conditions.
func jwtConditions(j *model.JWTMatch, not bool) []istioCondition {
	var out []istioCondition
	add := func(key string, vs []string) {
		c := istioCondition{Key: key, Values: vs}
		if not {
			c.Values, c.NotValues = nil, vs
		}
		out = append(out, c)
	}
	if j.Iss != "" {
		add("request.auth.claims[iss]", []string{j.Iss})
	}
	if j.Sub != "" {
		add("request.auth.claims[sub]", []string{j.Sub})
	}
	for name, vs := range j.Claims {
		add(claimKey(name), vs)
	}
	return out
}

// claimKey writes a claim path as request.auth.claims[a][b].
func claimKey(name string) string {
	p, err := model.ParseClaimPath(name)
	if err != nil {
		return "request.auth.claims[" + name + "]"
	}
	segs := p.Segments
	if !p.Exact && strings.Contains(name, "://") {
		segs = []string{name} // a URL-named top-level claim
	}
	return "request.auth.claims[" + strings.Join(segs, "][") + "]"
}

func itoas(ns []int) []string {
	var out []string
	for _, n := range ns {
		out = append(out, strconv.Itoa(n))
	}
	return out
}
