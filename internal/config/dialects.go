package config

import (
	"go.yaml.in/yaml/v3"

	"jwtgate.dev/jwtgate/internal/dialect/native"
)

// dialect reads one apiVersion and kind.
type dialect struct {
	apiVersion, kind string
	decode           func(file string, doc *yaml.Node) decoded
}

// dialects is every document type the loader reads. A document whose
// apiVersion and kind are not listed here is an error.
var dialects = []dialect{
	{native.APIVersion, native.Kind, func(file string, doc *yaml.Node) decoded {
		r := native.Decode(file, doc)
		return decoded{cfg: r.Config, issues: r.Issues, lines: r.Lines, renames: r.Renames, invalid: r.Invalid}
	}},
}

func findDialect(apiVersion, kind string) *dialect {
	for i := range dialects {
		if dialects[i].apiVersion == apiVersion && dialects[i].kind == kind {
			return &dialects[i]
		}
	}
	return nil
}
