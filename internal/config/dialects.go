package config

import (
	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/dialect/native"
)

// entry names the dialect that reads one apiVersion and kind: a
// stateless Dialect, or a family of Sessions (one per load, shared by all
// the kinds listed under the same family name).
type entry struct {
	apiVersion, kind string
	dialect          dialect.Dialect
	family           string
	session          dialect.Family
}

// dialects is every document type the loader reads. A document whose
// apiVersion and kind are not listed here is an error.
var dialects = []entry{
	{apiVersion: native.APIVersion, kind: native.Kind, dialect: native.Dialect{}},
}

func findDialect(apiVersion, kind string) *entry {
	for i := range dialects {
		if dialects[i].apiVersion == apiVersion && dialects[i].kind == kind {
			return &dialects[i]
		}
	}
	return nil
}
