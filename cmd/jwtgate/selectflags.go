package main

import (
	"flag"
	"fmt"
	"net/netip"
	"strings"

	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/egress"
)

// targetFlags are the flags serve and validate share to say which vendor
// gateway and workloads jwtgate stands for, and where egress destinations
// are.
type targetFlags struct {
	gateway   *string
	namespace *string
	labels    *string
	bind      *string
	resolve   listFlag
}

func addTargetFlags(fs *flag.FlagSet) *targetFlags {
	t := &targetFlags{
		gateway:   fs.String("gateway", "", "the vendor gateway to serve, NAMESPACE/NAME, when the files hold several"),
		namespace: fs.String("workload-namespace", "", "the namespace of the workload jwtgate stands for, as vendor workload selectors see it"),
		labels:    fs.String("workload-labels", "", "the labels of the workload jwtgate stands for, k=v[,k=v...]"),
		bind:      fs.String("bind-address", "", "the address vendor listeners bind their ports on (default: every interface)"),
	}
	fs.Var(&t.resolve, "resolve", "HOST:PORT:ADDR[,ADDR...]: send egress traffic for HOST:PORT to ADDR, as curl's --resolve; repeatable")
	return t
}

// selection is what the flags choose; an error names the flag at fault.
func (t *targetFlags) selection() (dialect.Selection, error) {
	sel := dialect.Selection{Gateway: *t.gateway, WorkloadNamespace: *t.namespace, BindAddress: *t.bind}
	if b := sel.BindAddress; b != "" {
		if ip, err := netip.ParseAddr(strings.Trim(b, "[]")); err != nil || ip.Zone() != "" {
			return sel, fmt.Errorf("--bind-address %q: want an IP address", b)
		}
		sel.BindAddress = strings.Trim(b, "[]")
	}
	if g := sel.Gateway; g != "" {
		if ns, name, ok := strings.Cut(g, "/"); !ok || ns == "" || name == "" || strings.Contains(name, "/") {
			return sel, fmt.Errorf("--gateway %q: want NAMESPACE/NAME", g)
		}
	}
	if *t.labels != "" {
		sel.WorkloadLabels = map[string]string{}
		for _, kv := range strings.Split(*t.labels, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
			if !ok || k == "" {
				return sel, fmt.Errorf("--workload-labels %q: want k=v[,k=v...]", *t.labels)
			}
			sel.WorkloadLabels[k] = v
		}
	}
	for _, r := range t.resolve.values {
		if _, _, err := egress.ParseOverride(r); err != nil {
			return sel, fmt.Errorf("--resolve: %v", err)
		}
	}
	return sel, nil
}
