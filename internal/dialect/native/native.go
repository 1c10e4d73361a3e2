// Package native reads jwtgate's own configuration format: YAML documents
// with apiVersion jwtgate.dev/v1alpha1 and kind Config (see
// docs/configuration.md), decoded strictly into model pieces.
//
// The dialect checks what only the native syntax can get wrong (unknown
// keys, malformed values, flags that exclude each other) and fills in the
// native defaults; checks that need the whole merged configuration, such
// as references between resources, are left to model.Config.Validate.
package native

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// The apiVersion and kind this dialect reads.
const (
	APIVersion = "jwtgate.dev/v1alpha1"
	Kind       = "Config"
)

// document is the native YAML, key for key.
type document struct {
	APIVersion  string      `yaml:"apiVersion"`
	Kind        string      `yaml:"kind"`
	Listeners   []listener  `yaml:"listeners"`
	Providers   []provider  `yaml:"providers"`
	Routes      []route     `yaml:"routes"`
	JWTPolicies []jwtPolicy `yaml:"jwtPolicies"`
	Policies    []policy    `yaml:"policies"`
	Egress      egress      `yaml:"egress"`
	// Gateway and Workload say which vendor gateway, and which workload,
	// jwtgate stands for (what `serve --gateway`, `--workload-namespace`
	// and `--workload-labels` say; the flags win).
	Gateway  string    `yaml:"gateway"`
	Workload *workload `yaml:"workload"`
}

type workload struct {
	Namespace string            `yaml:"namespace"`
	Labels    map[string]string `yaml:"labels"`
}

// Dialect reads native documents. It implements dialect.Dialect.
type Dialect struct{}

// Decode reads one document; see the package documentation.
func (Dialect) Decode(doc dialect.Document) dialect.Result {
	return Decode(doc.File, doc.Node)
}

// Decode reads one document (a *yaml.Node of kind DocumentNode or its root
// mapping) read from file. Relative file names in it are resolved against
// the directory of file. Every listener, provider, route, JWT policy and
// policy is a resource of its own (kind Listener, Provider, Route,
// JWTPolicy, Policy) in namespace model.DefaultNamespace.
func Decode(file string, doc *yaml.Node) dialect.Result {
	d := strictyaml.NewDecoder()
	var in document
	d.Decode(doc, "", &in)
	c := &converter{
		file: file,
		in:   &in,
		doc:  &strictyaml.Document{Lines: d.Lines, Renames: map[string]string{}, Invalid: d.Invalid},
	}
	c.lines = d.Lines
	if file != "" {
		c.dir = filepath.Dir(file)
	}
	for _, p := range d.Problems {
		c.errorAt(p.Path, p.Line, "%s", p.Msg)
	}
	for i, l := range in.Listeners {
		c.out.Listeners = append(c.out.Listeners, c.listener(l, strictyaml.Index("listeners", i)))
	}
	for i, p := range in.Providers {
		c.out.Providers = append(c.out.Providers, c.provider(p, strictyaml.Index("providers", i)))
	}
	for i, r := range in.Routes {
		c.out.Routes = append(c.out.Routes, c.route(r, strictyaml.Index("routes", i)))
	}
	for i, p := range in.JWTPolicies {
		c.out.JWTPolicies = append(c.out.JWTPolicies, c.jwtPolicy(p, strictyaml.Index("jwtPolicies", i)))
	}
	for i, p := range in.Policies {
		c.out.Policies = append(c.out.Policies, c.policy(p, strictyaml.Index("policies", i)))
	}
	for i, s := range in.Egress.Servers {
		c.out.Egress.Servers = append(c.out.Egress.Servers, c.egressServer(s, strictyaml.Index("egress.servers", i)))
	}
	for i, a := range in.Egress.Authorizations {
		c.out.Egress.Authorizations = append(c.out.Egress.Authorizations, c.egressAuthorization(a, strictyaml.Index("egress.authorizations", i)))
	}
	c.out.Policies = append(c.out.Policies, c.synthesized...)
	res := dialect.Result{Config: c.out, Resources: c.resources, Issues: c.issues}
	if in.Gateway != "" || in.Workload != nil {
		res.Selection = &dialect.Selection{Gateway: in.Gateway}
		at := "gateway"
		if w := in.Workload; w != nil {
			res.Selection.WorkloadNamespace, res.Selection.WorkloadLabels = w.Namespace, w.Labels
			if in.Gateway == "" {
				at = "workload"
			}
			if w.Namespace == "" && len(w.Labels) == 0 {
				c.errorf("workload", "give namespace, labels or both")
			}
		}
		if g := in.Gateway; g != "" {
			if ns, name, ok := strings.Cut(g, "/"); !ok || ns == "" || name == "" || strings.Contains(name, "/") {
				c.errorf("gateway", "invalid gateway %q: want NAMESPACE/NAME", g)
			}
		}
		res.SelectionOrigin = model.Origin{File: file, Line: c.lines[at]}
		res.Issues = c.issues
	}
	return res
}

type converter struct {
	file, dir   string
	lines       strictyaml.Lines
	doc         *strictyaml.Document
	in          *document
	out         model.Config
	resources   []model.Origin
	synthesized []model.Policy
	issues      model.Issues
}

// origin is the origin of the resource at path (such as "routes[2]"), or of
// a part of it that becomes a model piece of its own (a policy generated
// from a route's field): the resource's identity, and a Locator for its
// fields.
func (c *converter) origin(path string) model.Origin {
	_, _, kind, name, _ := c.resourceOf(path)
	return model.Origin{
		Ref:  model.Ref{APIVersion: APIVersion, Kind: kind, Namespace: model.DefaultNamespace, Name: name},
		File: c.file, Path: path, Line: c.lines[path],
		Loc: strictyaml.Locator{Doc: c.doc, Base: path},
	}
}

// resource records the resource at path for its status and returns its
// origin.
func (c *converter) resource(path string) model.Origin {
	o := c.origin(path)
	c.resources = append(c.resources, o)
	return o
}

// rename records that the model field path from (absolute) came from the
// document path to.
func (c *converter) rename(from, to string) { c.doc.Renames[from] = to }

// errorf records an error at the document path, on its line.
func (c *converter) errorf(path, format string, args ...any) {
	c.errorAt(path, c.lines.Find(path), format, args...)
}

// warnf records a warning at the document path, on its line.
func (c *converter) warnf(path, format string, args ...any) {
	c.add(model.Warning, path, c.lines.Find(path), format, args...)
}

// errorAt records an error at path and line.
func (c *converter) errorAt(path string, line int, format string, args ...any) {
	c.add(model.Error, path, line, format, args...)
}

// add records an issue at path and line, attributing it to the top-level
// resource the path lies in.
func (c *converter) add(sev model.Severity, path string, line int, format string, args ...any) {
	is := model.Issue{
		Severity: sev,
		Origin:   model.Origin{File: c.file, Line: line},
		Field:    path,
		Msg:      fmt.Sprintf(format, args...),
	}
	if res, rest, _, _, ok := c.resourceOf(path); ok {
		// Placed already: the issue is about the document's own path.
		is.Origin = c.origin(res)
		is.Origin.Loc, is.Origin.Line, is.Field = nil, line, rest
	}
	c.issues = append(c.issues, is)
}

// resourceOf splits "routes[2].jwt" into the resource path "routes[2]",
// the rest "jwt", and the resource's kind and name.
func (c *converter) resourceOf(path string) (res, rest, kind, name string, ok bool) {
	section := ""
	if p, found := strings.CutPrefix(path, "egress."); found {
		section, path = "egress.", p
	}
	head, tail, _ := strings.Cut(path, ".")
	open := strings.IndexByte(head, '[')
	if open < 0 || !strings.HasSuffix(head, "]") {
		return "", "", "", "", false
	}
	if rb := strings.IndexByte(head, ']'); rb != len(head)-1 {
		// "routes[2][3]..." cannot happen in a native document; keep the
		// first index as the resource.
		tail = head[rb+1:] + tail
		head = head[:rb+1]
	}
	i, err := strconv.Atoi(head[open+1 : len(head)-1])
	if err != nil || i < 0 {
		return "", "", "", "", false
	}
	switch section + head[:open] {
	case "egress.servers":
		kind = "EgressServer"
		if i < len(c.in.Egress.Servers) {
			name = c.in.Egress.Servers[i].Name
		}
	case "egress.authorizations":
		kind = "EgressAuthorization"
		if i < len(c.in.Egress.Authorizations) {
			name = c.in.Egress.Authorizations[i].Name
		}
	case "listeners":
		kind = "Listener"
		if i < len(c.in.Listeners) {
			name = c.in.Listeners[i].Name
		}
	case "providers":
		kind = "Provider"
		if i < len(c.in.Providers) {
			name = c.in.Providers[i].Name
		}
	case "routes":
		kind = "Route"
		if i < len(c.in.Routes) {
			name = c.in.Routes[i].Name
		}
	case "jwtPolicies":
		kind = "JWTPolicy"
		if i < len(c.in.JWTPolicies) {
			name = c.in.JWTPolicies[i].Name
		}
	case "policies":
		kind = "Policy"
		if i < len(c.in.Policies) {
			name = c.in.Policies[i].Name
		}
	default:
		return "", "", "", "", false
	}
	return section + head, tail, kind, name, true
}

// file resolves a file name relative to the config file's directory.
func (c *converter) filePath(p string) string {
	if p == "" || filepath.IsAbs(p) || c.dir == "" {
		return p
	}
	return filepath.Join(c.dir, p)
}

// zero reports whether the document sets path explicitly to a zero value
// that decoded cleanly (a rejected value also leaves zero behind).
func zero[T comparable](c *converter, path string, v *T) bool {
	var z T
	return v != nil && *v == z && !slices.Contains(c.doc.Invalid, path)
}

// has reports whether the document sets path.
func (c *converter) has(path string) bool {
	_, ok := c.lines[path]
	return ok
}
