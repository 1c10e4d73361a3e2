package kubernetes

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction: its keyword (upper case)
// and the rest of its line, continuation lines joined.
type instruction struct {
	cmd, args string
}

// parseDockerfile reads the instructions of a Dockerfile, skipping
// comments and joining lines that end in a backslash.
func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	var cur strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// The image matches what the manifests expect: a Go 1.26 builder making
// a static, trimmed binary; a distroless (or scratch) final stage running
// as the numeric non-root user the pod runs as; no HEALTHCHECK (the
// kubelet probes the admin listener); the binary as the exec-form
// entrypoint; the container's ports exposed. The build context is
// filtered by .dockerignore.
func TestDockerfile(t *testing.T) {
	m := load(t)
	c := container(t, m)
	ins := parseDockerfile(t, "../../Dockerfile")
	var stages []string
	var final []instruction // the final stage's instructions
	var build strings.Builder
	for _, in := range ins {
		if in.cmd == "FROM" {
			stages = append(stages, in.args)
			final = nil
			continue
		}
		final = append(final, in)
		if in.cmd == "RUN" {
			build.WriteString(in.args + "\n")
		}
		if in.cmd == "HEALTHCHECK" {
			t.Errorf("HEALTHCHECK %s: the image relies on the orchestrator's probes", in.args)
		}
	}
	if len(stages) < 2 || !strings.HasPrefix(stages[0], "golang:1.26 ") {
		t.Fatalf("stages %q: want a golang:1.26 builder and a final stage", stages)
	}
	base := stages[len(stages)-1]
	if !strings.HasPrefix(base, "gcr.io/distroless/static") && base != "scratch" {
		t.Errorf("final stage FROM %s, want distroless/static or scratch", base)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "go build"} {
		if !strings.Contains(build.String(), want) {
			t.Errorf("the build does not use %s", want)
		}
	}
	get := func(cmd string) []string {
		var out []string
		for _, in := range final {
			if in.cmd == cmd {
				out = append(out, in.args)
			}
		}
		return out
	}
	users := get("USER")
	if len(users) != 1 {
		t.Fatalf("final stage USER %q, want one", users)
	}
	uid, _, _ := strings.Cut(users[0], ":")
	n, err := strconv.ParseInt(uid, 10, 64)
	if err != nil || n == 0 {
		t.Errorf("USER %s: want a numeric non-root user (runAsNonRoot checks the number)", users[0])
	}
	if ru := m.deployment.Spec.Template.Spec.SecurityContext.RunAsUser; ru == nil || *ru != n {
		t.Errorf("the pod's runAsUser %v differs from the image's USER %d", ru, n)
	}
	if ep := get("ENTRYPOINT"); len(ep) != 1 || !strings.HasPrefix(ep[0], `["/`) || !strings.Contains(ep[0], "jwtgate") {
		t.Errorf("ENTRYPOINT %q, want the jwtgate binary in exec form", ep)
	}
	var exposed []string
	for _, e := range get("EXPOSE") {
		exposed = append(exposed, strings.Fields(e)...)
	}
	for _, p := range c.Ports {
		if !slices.Contains(exposed, strconv.Itoa(int(p.ContainerPort))) {
			t.Errorf("container port %s (%d) is not EXPOSEd (%q)", p.Name, p.ContainerPort, exposed)
		}
	}

	ignore, err := os.ReadFile("../../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(ignore), "\n")
	for _, want := range []string{"*", "!go.mod", "!go.sum", "!cmd/", "!internal/"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore lacks %q: the context should hold only the module and its sources", want)
		}
	}
}
