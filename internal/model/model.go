// Package model holds jwtgate's intermediate representation: the single
// description of listeners, JWT providers, routes and policies that every
// configuration dialect compiles to and that the proxy serves from.
//
// The model is plain data. It does no I/O and knows no vendor words; its
// only behaviour is validation (see Validate), whose issues carry the field
// path of what is wrong so that the configuration loader can point at the
// file and line that produced it.
package model

// Config is a complete, merged gateway configuration.
type Config struct {
	Listeners []Listener `yaml:"listeners,omitempty"`
	Providers []Provider `yaml:"providers,omitempty"`
	Routes    []Route    `yaml:"routes,omitempty"`
	// JWTPolicies are JWT requirements attached to routes from outside the
	// route (Gloo's JWTPolicy, kgateway's TrafficPolicy). A route's own
	// Route.JWT counts as created before any of them.
	JWTPolicies []JWTPolicy `yaml:"jwtPolicies,omitempty"`
	Policies    []Policy    `yaml:"policies,omitempty"`
	// Egress holds the egress servers and gateway-wide egress rules.
	Egress Egress `yaml:"egress,omitempty"`
}

// Origin says where a resource came from, so that an issue found in the
// model can be reported against the file that declared it.
type Origin struct {
	// Ref is the resource's identity: apiVersion, kind, namespace, name.
	Ref `yaml:",inline"`
	// File is the path of the file the resource was read from; empty for
	// resources built in code (the demo, tests).
	File string `yaml:"file,omitempty"`
	// Path is the resource's field path inside its YAML document, such as
	// "routes[2]". Issue field paths are relative to it.
	Path string `yaml:"path,omitempty"`
	// Line is the 1-based line of the resource in File; zero when unknown.
	Line int `yaml:"line,omitempty"`
	// Loc places the resource's fields in its document; nil for resources
	// built in code, whose issues are placed at Path and Line.
	Loc Locator `yaml:"-" json:"-"`
}

// Labels are key/value pairs used by selectors.
type Labels map[string]string

// Matches reports whether every key/value of sel is present in l. An empty
// selector matches every label set.
func (l Labels) Matches(sel map[string]string) bool {
	for k, v := range sel {
		if got, ok := l[k]; !ok || got != v {
			return false
		}
	}
	return true
}
