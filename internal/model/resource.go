package model

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultNamespace is the namespace of resources that do not name one:
// every resource of the native format, and vendor resources whose
// metadata leaves namespace out (as kubectl would place them).
const DefaultNamespace = "default"

// Ref identifies a resource as it was read: the document's apiVersion and
// kind, and its namespace and name. Two resources of one kind and
// namespace never share a name.
type Ref struct {
	APIVersion string `yaml:"apiVersion,omitempty" json:"apiVersion"`
	Kind       string `yaml:"kind,omitempty" json:"kind"`
	Namespace  string `yaml:"namespace,omitempty" json:"namespace"`
	Name       string `yaml:"name,omitempty" json:"name"`
}

// String is `Kind namespace/name`, the form used in status lines.
func (r Ref) String() string {
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// Describe names the resource in an issue: `route "web"` for the native
// format's resources in the default namespace (lower-case kind, as the
// native file spells its lists), `AuthorizationPolicy "ns/name"`
// otherwise. It is empty for a resource without a name.
func (r Ref) Describe() string {
	if r.Name == "" {
		return ""
	}
	if r.Namespace == "" || (r.Namespace == DefaultNamespace && r.APIVersion == NativeAPIVersion) {
		kind := r.Kind
		if r.APIVersion == NativeAPIVersion {
			kind = nativeWord(kind)
		}
		return kind + " " + strconv.Quote(r.Name)
	}
	return r.Kind + " " + strconv.Quote(r.Namespace+"/"+r.Name)
}

// NativeAPIVersion is the apiVersion of jwtgate's own format.
const NativeAPIVersion = "jwtgate.dev/v1alpha1"

// nativeWord is the native kind as the native format's lists name it:
// "JWTPolicy" -> "jwtPolicy", "Route" -> "route".
func nativeWord(kind string) string {
	if strings.HasPrefix(kind, "JWT") {
		return "jwt" + kind[3:]
	}
	r, n := utf8.DecodeRuneInString(kind)
	return string(unicode.ToLower(r)) + kind[n:]
}

// Locator places the fields of one resource in the document it was read
// from. Dialects provide it; the model uses it to put every issue at the
// file, line and field path of the field at fault.
type Locator interface {
	// Locate maps a field path below the resource, in the model's naming
	// ("match.paths[2]"), to the document's own path for it
	// ("routes[0].match.pathRegex[0]") and its line (0 when unknown).
	// reported is true when the dialect already reported that field (or
	// one of its ancestors) as undecodable, so that an issue about it
	// would only repeat the dialect's.
	Locate(field string) (path string, line int, reported bool)
}
