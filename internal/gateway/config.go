package gateway

import (
	"encoding/json"
	"net/http"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/proxy"
)

// ConfigDump is what GET /config on the admin listener answers: the
// running configuration's version, files, load time, the status of every
// resource, and the compiled routes. It holds no key material, token or
// secret: key sets are described by where they come from only.
type ConfigDump struct {
	Version  string                   `json:"version"`
	Files    []string                 `json:"files"`
	LoadedAt time.Time                `json:"loadedAt"`
	Statuses []model.Status           `json:"resources"`
	Routes   []proxy.RouteExplanation `json:"routes"`
	Warnings []string                 `json:"warnings"`
}

// Dump describes the snapshot for /config.
func Dump(s *Snapshot) ConfigDump {
	d := ConfigDump{Version: s.Version, Files: s.Files, LoadedAt: s.LoadedAt.UTC(), Statuses: statuses(s), Warnings: []string{}}
	if d.Files == nil {
		d.Files = []string{}
	}
	if s.Runtime != nil {
		d.Routes = s.Runtime.Explain()
	}
	for _, w := range s.Issues.Warnings() {
		d.Warnings = append(d.Warnings, w.Error())
	}
	return d
}

func (g *Gateway) serveConfig(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(Dump(g.snap.Load()))
}

// statuses is s's statuses, never null in JSON.
func statuses(s *Snapshot) []model.Status {
	if s.Statuses == nil {
		return []model.Status{}
	}
	return s.Statuses
}
