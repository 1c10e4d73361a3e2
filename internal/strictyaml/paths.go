package strictyaml

import (
	"regexp"
	"strconv"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
)

// Lines maps field paths to the line they appear on. Mapping fields are
// placed on their key's line, list items on the item's first line.
type Lines map[string]int

// Find returns the line of path, or of its longest known ancestor
// ("routes[2].jwt.providers[7]" falls back to "routes[2].jwt.providers",
// then "routes[2].jwt", ...). It returns 0 when nothing is known.
func (l Lines) Find(path string) int {
	for {
		if n, ok := l[path]; ok {
			return n
		}
		if path == "" {
			return 0
		}
		path = Parent(path)
	}
}

// Parent returns the path without its last segment: "a.b[2]" -> "a.b",
// "a.b" -> "a", "a" -> "".
func Parent(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}

// HasPrefix reports whether prefix is path itself or one of its ancestors,
// comparing whole segments ("a.b[1]" is not an ancestor of "a.b[10]").
func HasPrefix(path, prefix string) bool { return model.FieldWithin(path, prefix) }

// Field appends a field name to a path.
func Field(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// Index appends a list index to a path.
func Index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Key appends a map key to a path: ".key" when the key is a plain word,
// `["key"]` otherwise.
func Key(path, key string) string {
	if plainKey.MatchString(key) {
		return Field(path, key)
	}
	return path + "[" + strconv.Quote(key) + "]"
}
