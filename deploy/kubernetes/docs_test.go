package kubernetes

import (
	"maps"
	"os"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

// The Kubernetes objects that docs/operations.md shows (a NetworkPolicy
// for the admin port) decode strictly and fit the manifests: the policy
// selects the gateway's pods, names only ports the container declares,
// and lets anyone reach the traffic port but only chosen peers the admin
// port.
func TestDocsExamples(t *testing.T) {
	m := load(t)
	c := container(t, m)
	_, admin := adminAddr(t, c)
	known := maps.Clone(kinds)
	known["NetworkPolicy"] = kind{"networking.k8s.io/v1", func() any { return &networkingv1.NetworkPolicy{} }}
	data, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	found := 0
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```yaml" {
			continue
		}
		start := i + 1
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
		}
		block := strings.Join(lines[start:i], "\n")
		if strings.HasPrefix(block, "apiVersion: jwtgate.dev/") || !strings.HasPrefix(block, "apiVersion: ") {
			continue // the gateway's own configuration, tested in e2e
		}
		found++
		obj, err := decodeStrictOf(known, []byte(block))
		if err != nil {
			t.Errorf("docs/operations.md:%d: %v", start, err)
			continue
		}
		np, ok := obj.(*networkingv1.NetworkPolicy)
		if !ok {
			continue
		}
		if !matches(t, &np.Spec.PodSelector, m.deployment.Spec.Template.Labels) {
			t.Errorf("docs/operations.md:%d: the NetworkPolicy does not select the gateway's pods", start)
		}
		for _, rule := range np.Spec.Ingress {
			for _, p := range rule.Ports {
				port := resolve(c, *p.Port)
				if port == 0 {
					t.Errorf("docs/operations.md:%d: port %s is not the container's", start, p.Port.String())
				}
				if port == admin && len(rule.From) == 0 {
					t.Errorf("docs/operations.md:%d: the admin port is open to every peer", start)
				}
			}
		}
	}
	if found == 0 {
		t.Error("no Kubernetes object in docs/operations.md")
	}
}
