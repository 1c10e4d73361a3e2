package kubernetes

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// container is the Deployment's one container, jwtgate.
func container(t *testing.T, m manifests) corev1.Container {
	t.Helper()
	cs := m.deployment.Spec.Template.Spec.Containers
	if len(cs) != 1 || cs[0].Name != "jwtgate" {
		t.Fatalf("containers %v, want one called jwtgate", cs)
	}
	return cs[0]
}

// flagValue is the value of the flag called name in args, written as
// `serve` parses it: -name V, --name V, -name=V or --name=V.
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		for _, p := range []string{"-" + name, "--" + name} {
			if a == p && i+1 < len(args) {
				return args[i+1], true
			}
			if v, ok := strings.CutPrefix(a, p+"="); ok {
				return v, true
			}
		}
	}
	return "", false
}

// durationFlag is a duration flag's value, or def when absent.
func durationFlag(t *testing.T, args []string, name string, def time.Duration) time.Duration {
	t.Helper()
	v, ok := flagValue(args, name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("--%s %q: %v", name, v, err)
	}
	return d
}

// containerPort is the number of the container's port called name, 0
// when there is none.
func containerPort(c corev1.Container, name string) int32 {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return 0
}

// resolve is the container port a probe or Service port names, by name
// or number.
func resolve(c corev1.Container, p intstr.IntOrString) int32 {
	if p.Type == intstr.String {
		return containerPort(c, p.StrVal)
	}
	return p.IntVal
}

// adminAddr is the --admin flag of the container, split.
func adminAddr(t *testing.T, c corev1.Container) (host string, port int32) {
	t.Helper()
	v, ok := flagValue(c.Args, "admin")
	if !ok {
		t.Fatalf("args %q have no --admin: the default 127.0.0.1:9901 is out of the kubelet's reach", c.Args)
	}
	h, p, err := net.SplitHostPort(v)
	if err != nil {
		t.Fatalf("--admin %q: %v", v, err)
	}
	n, err := strconv.ParseInt(p, 10, 32)
	if err != nil {
		t.Fatalf("--admin %q: %v", v, err)
	}
	return h, int32(n)
}

// The probes and the scrape annotations reach the admin listener the
// args start, on the paths it serves; the admin port is the one the
// container declares and binds the pod's address (inside the container,
// loopback is out of the kubelet's reach).
func TestProbesPointAtAdminListener(t *testing.T) {
	m := load(t)
	c := container(t, m)
	host, port := adminAddr(t, c)
	if host != "0.0.0.0" {
		t.Errorf("--admin host %q, want 0.0.0.0 so that probes reach it", host)
	}
	if got := containerPort(c, "admin"); got != port {
		t.Errorf("containerPort admin = %d, --admin port %d", got, port)
	}
	probes := []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"readiness", c.ReadinessProbe, "/readyz"},
		{"liveness", c.LivenessProbe, "/healthz"},
	}
	for _, p := range probes {
		t.Run(p.name, func(t *testing.T) {
			if p.probe == nil || p.probe.HTTPGet == nil {
				t.Fatalf("%s probe %+v is not an httpGet", p.name, p.probe)
			}
			g := p.probe.HTTPGet
			if g.Path != p.path {
				t.Errorf("path %q, want %q", g.Path, p.path)
			}
			if got := resolve(c, g.Port); got != port {
				t.Errorf("port %s resolves to %d, want the admin port %d", g.Port.String(), got, port)
			}
			if g.Scheme != "" && g.Scheme != corev1.URISchemeHTTP {
				t.Errorf("scheme %q: the admin listener speaks plain HTTP", g.Scheme)
			}
		})
	}
	if c.StartupProbe != nil {
		t.Errorf("startup probe %+v: none is needed, /healthz answers as soon as the admin listener is up", c.StartupProbe)
	}
	ann := m.deployment.Spec.Template.Annotations
	want := map[string]string{
		"prometheus.io/scrape": "true",
		"prometheus.io/port":   strconv.Itoa(int(port)),
		"prometheus.io/path":   "/metrics",
	}
	for k, v := range want {
		if ann[k] != v {
			t.Errorf("pod annotation %s = %q, want %q", k, ann[k], v)
		}
	}
}

// The pod runs locked down: not root, no privilege escalation, no
// capabilities, a read-only root file system, the runtime's seccomp
// profile, and no API token.
func TestSecurityContext(t *testing.T) {
	m := load(t)
	spec := m.deployment.Spec.Template.Spec
	c := container(t, m)
	psc, sc := spec.SecurityContext, c.SecurityContext
	if psc == nil || sc == nil {
		t.Fatal("pod or container securityContext missing")
	}
	isTrue := func(b *bool) bool { return b != nil && *b }
	checks := []struct {
		what string
		ok   bool
	}{
		{"pod runAsNonRoot", isTrue(psc.RunAsNonRoot)},
		{"pod runAsUser set and not 0", psc.RunAsUser != nil && *psc.RunAsUser > 0},
		{"pod seccompProfile RuntimeDefault", psc.SeccompProfile != nil && psc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault},
		{"container runAsNonRoot", isTrue(sc.RunAsNonRoot)},
		{"container readOnlyRootFilesystem", isTrue(sc.ReadOnlyRootFilesystem)},
		{"container allowPrivilegeEscalation false", sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation},
		{"container drops ALL capabilities and adds none", sc.Capabilities != nil && slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) && len(sc.Capabilities.Add) == 0},
		{"container not privileged", sc.Privileged == nil || !*sc.Privileged},
		{"no service account token", spec.AutomountServiceAccountToken != nil && !*spec.AutomountServiceAccountToken},
		{"no host network, PID or IPC", !spec.HostNetwork && !spec.HostPID && !spec.HostIPC},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: not so", c.what)
		}
	}
}

// Requests and limits are set for CPU and memory, the autoscaler has a
// CPU request to compute utilization against, and GOMEMLIMIT sits under
// the memory limit.
func TestResources(t *testing.T) {
	m := load(t)
	c := container(t, m)
	r := c.Resources
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := r.Requests[name]
		lim, okLim := r.Limits[name]
		if !okReq || !okLim {
			t.Errorf("%s: request %v (%t), limit %v (%t); want both", name, req.String(), okReq, lim.String(), okLim)
			continue
		}
		if req.Cmp(lim) > 0 {
			t.Errorf("%s request %s above its limit %s", name, req.String(), lim.String())
		}
	}
	var gomemlimit string
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			gomemlimit = e.Value
		}
	}
	if gomemlimit == "" {
		t.Fatal("no GOMEMLIMIT")
	}
	// Go writes MiB where Kubernetes writes Mi.
	q, err := resource.ParseQuantity(strings.TrimSuffix(gomemlimit, "B"))
	if err != nil {
		t.Fatalf("GOMEMLIMIT %q: %v", gomemlimit, err)
	}
	lim := r.Limits[corev1.ResourceMemory]
	if q.Cmp(lim) >= 0 || q.Value() < lim.Value()*3/4 {
		t.Errorf("GOMEMLIMIT %s, want between 75%% and 100%% of the memory limit %s", gomemlimit, lim.String())
	}
}

// The drain needs no preStop hook (readiness turns false on SIGTERM) and
// ends before the kubelet's SIGKILL.
func TestDrainFitsGracePeriod(t *testing.T) {
	m := load(t)
	c := container(t, m)
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		t.Errorf("preStop hook %+v: the drain relies on /readyz turning 503 on SIGTERM", c.Lifecycle.PreStop)
	}
	delay := durationFlag(t, c.Args, "drain-delay", 0)
	timeout := durationFlag(t, c.Args, "drain-timeout", 30*time.Second)
	if delay <= 0 {
		t.Errorf("--drain-delay %s: endpoints and load balancers need a moment to stop sending new connections", delay)
	}
	grace := m.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds
	if grace == nil {
		t.Fatal("no terminationGracePeriodSeconds")
	}
	if g := time.Duration(*grace) * time.Second; g <= delay+timeout {
		t.Errorf("terminationGracePeriodSeconds %s, want more than --drain-delay + --drain-timeout = %s", g, delay+timeout)
	}
	rp := c.ReadinessProbe
	if d := time.Duration(rp.PeriodSeconds*rp.FailureThreshold) * time.Second; d > delay*2 {
		t.Errorf("readiness notices a drain after up to %s, much longer than --drain-delay %s", d, delay)
	}
}

// The configuration comes from the ConfigMap, mounted whole (a subPath
// mount is never updated, so the watcher would see no change) where -c
// reads it.
func TestConfigMounted(t *testing.T) {
	m := load(t)
	c := container(t, m)
	dir, ok := flagValue(c.Args, "c")
	if !ok || len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Fatalf("args %q: want serve -c DIR", c.Args)
	}
	var mount *corev1.VolumeMount
	for i, vm := range c.VolumeMounts {
		if vm.MountPath == dir {
			mount = &c.VolumeMounts[i]
		}
	}
	if mount == nil {
		t.Fatalf("-c %s is no volume mount", dir)
	}
	if mount.SubPath != "" || mount.SubPathExpr != "" {
		t.Errorf("mount %s uses a subPath: it would never be updated", dir)
	}
	if !mount.ReadOnly {
		t.Errorf("mount %s is not read-only", dir)
	}
	var vol *corev1.Volume
	for i, v := range m.deployment.Spec.Template.Spec.Volumes {
		if v.Name == mount.Name {
			vol = &m.deployment.Spec.Template.Spec.Volumes[i]
		}
	}
	if vol == nil || vol.ConfigMap == nil || vol.ConfigMap.Name != m.configMap.Name {
		t.Fatalf("volume %q is not the ConfigMap %q: %+v", mount.Name, m.configMap.Name, vol)
	}
	if len(vol.ConfigMap.Items) > 0 {
		t.Errorf("volume %q lists items: every key of the ConfigMap should be a file", vol.Name)
	}
	if _, ok := flagValue(c.Args, "watch"); ok {
		t.Errorf("args %q set --watch: the watcher must stay on for ConfigMap updates", c.Args)
	}
}

// matches reports whether the label selector sel selects set.
func matches(t *testing.T, sel *metav1.LabelSelector, set map[string]string) bool {
	t.Helper()
	if sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0) {
		t.Error("empty selector: it would select every pod")
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatalf("selector %+v: %v", sel, err)
	}
	return s.Matches(labels.Set(set))
}

// The Deployment, Service and PodDisruptionBudget select the pods the
// Deployment makes; the Service sends traffic to the gateway's port and
// not to the admin port; the HorizontalPodAutoscaler scales the
// Deployment on CPU and owns its replica count.
func TestSelectorsAndTargets(t *testing.T) {
	m := load(t)
	c := container(t, m)
	pod := m.deployment.Spec.Template.Labels
	if !matches(t, m.deployment.Spec.Selector, pod) {
		t.Errorf("the Deployment's selector does not select its pods %v", pod)
	}
	if len(m.service.Spec.Selector) == 0 || !labels.SelectorFromSet(m.service.Spec.Selector).Matches(labels.Set(pod)) {
		t.Errorf("Service selector %v does not select the pods %v", m.service.Spec.Selector, pod)
	}
	_, admin := adminAddr(t, c)
	for _, p := range m.service.Spec.Ports {
		got := resolve(c, p.TargetPort)
		if got == 0 {
			t.Errorf("Service port %s targets %s, which the container does not declare", p.Name, p.TargetPort.String())
		}
		if got == admin {
			t.Errorf("Service port %s exposes the admin listener, which has no authentication", p.Name)
		}
		if got != containerPort(c, "http") {
			t.Errorf("Service port %s targets %d, want the http port %d", p.Name, got, containerPort(c, "http"))
		}
	}
	if !matches(t, m.pdb.Spec.Selector, pod) {
		t.Errorf("the PodDisruptionBudget's selector does not select the pods %v", pod)
	}
	if m.pdb.Spec.MaxUnavailable == nil && m.pdb.Spec.MinAvailable == nil {
		t.Error("the PodDisruptionBudget sets neither maxUnavailable nor minAvailable")
	}

	h := m.hpa.Spec
	ref := h.ScaleTargetRef
	if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != m.deployment.Name {
		t.Errorf("HPA targets %s %s %q, want apps/v1 Deployment %q", ref.APIVersion, ref.Kind, ref.Name, m.deployment.Name)
	}
	if h.MinReplicas == nil || *h.MinReplicas < 2 || h.MaxReplicas < *h.MinReplicas {
		t.Errorf("HPA replicas %v..%d, want at least 2 (one may be drained or disrupted)", h.MinReplicas, h.MaxReplicas)
	}
	if len(h.Metrics) != 1 || h.Metrics[0].Resource == nil || h.Metrics[0].Resource.Name != corev1.ResourceCPU ||
		h.Metrics[0].Resource.Target.AverageUtilization == nil {
		t.Fatalf("HPA metrics %+v, want CPU utilization only", h.Metrics)
	}
	if u := *h.Metrics[0].Resource.Target.AverageUtilization; u <= 0 || u > 90 {
		t.Errorf("HPA target utilization %d%%, want headroom below 90%%", u)
	}
	if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
		t.Error("no CPU request: the HPA has nothing to compute utilization against")
	}
	if m.deployment.Spec.Replicas != nil {
		t.Errorf("the Deployment sets replicas %d: applying it again would override the HPA", *m.deployment.Spec.Replicas)
	}
}
