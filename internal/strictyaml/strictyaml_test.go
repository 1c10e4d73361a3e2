package strictyaml

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

type tls struct {
	CertFile string `yaml:"certFile"`
	KeyFile  string `yaml:"keyFile"`
}

type listener struct {
	Name    string `yaml:"name,required"`
	Address string `yaml:"address"`
	TLS     *tls   `yaml:"tls,omitempty"`
}

type common struct {
	Priority int `yaml:"priority"`
}

type doc struct {
	Listeners []listener          `yaml:"listeners"`
	Timeout   time.Duration       `yaml:"timeout"`
	Skew      *time.Duration      `yaml:"skew"`
	Enabled   bool                `yaml:"enabled"`
	Count     int                 `yaml:"count"`
	Small     int8                `yaml:"small"`
	Size      uint                `yaml:"size"`
	Ratio     float64             `yaml:"ratio"`
	Labels    map[string]string   `yaml:"labels"`
	Claims    map[string][]string `yaml:"claims"`
	Raw       yaml.Node           `yaml:"raw"`
	Any       any                 `yaml:"any"`
	Ignored   string              `yaml:"-"`
	common    `yaml:",inline"`
}

func parse(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		t.Fatalf("parse: %v", err)
	}
	return &n
}

func TestDecodeValues(t *testing.T) {
	src := `listeners:
  - name: web
    address: 127.0.0.1:8080
    tls:
      certFile: a.pem
      keyFile: b.pem
timeout: 1m30s
skew: 0s
enabled: true
count: 0x10
small: -3
size: 7
ratio: 0.5
labels: {a: b, "x.y": z}
claims: {groups: [a, b]}
raw: [1, 2]
any: {k: [1, true]}
priority: 4
`
	var d doc
	probs, lines := Decode(parse(t, src), &d)
	if len(probs) != 0 {
		t.Fatalf("problems: %v", probs)
	}
	skew := time.Duration(0)
	want := doc{
		Listeners: []listener{{Name: "web", Address: "127.0.0.1:8080", TLS: &tls{CertFile: "a.pem", KeyFile: "b.pem"}}},
		Timeout:   90 * time.Second, Skew: &skew, Enabled: true, Count: 16, Small: -3, Size: 7, Ratio: 0.5,
		Labels: map[string]string{"a": "b", "x.y": "z"}, Claims: map[string][]string{"groups": {"a", "b"}},
		Any:    map[string]any{"k": []any{1, true}},
		common: common{Priority: 4},
	}
	d.Raw = yaml.Node{}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("got  %+v\nwant %+v", d, want)
	}
	for path, line := range map[string]int{
		"": 1, "listeners": 1, "listeners[0]": 2, "listeners[0].tls": 4, "listeners[0].tls.keyFile": 6,
		"timeout": 7, `labels["x.y"]`: 14, "claims.groups[1]": 15, "priority": 18,
	} {
		if got := lines[path]; got != line {
			t.Errorf("line of %q = %d, want %d", path, got, line)
		}
	}
	if got := lines.Find("listeners[0].tls.keyFile.x[3]"); got != 6 {
		t.Errorf("Find fallback = %d, want 6", got)
	}
}

func TestDecodeProblems(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"unknown key", "listeners:\n  - name: a\n    tlss: {}\n", []string{`line 3: listeners[0]: unknown field "tlss"`}},
		{"unknown top", "listenres: []\n", []string{`line 1: unknown field "listenres"`}},
		{"list for mapping", "listeners:\n  - name: a\n    tls: [a]\n", []string{`line 3: listeners[0].tls: expected a mapping, got a list`}},
		{"mapping for list", "listeners: {name: a}\n", []string{`line 1: listeners: expected a list, got a mapping`}},
		{"scalar for list", "listeners: web\n", []string{`line 1: listeners: expected a list, got a string "web"`}},
		{"list for string", "listeners:\n  - name: [a]\n", []string{`line 2: listeners[0].name: expected a string, got a list`}},
		{"bad duration", "timeout: 5x\n", []string{`line 1: timeout: invalid duration "5x"`}},
		{"unitless duration", "timeout: 60\n", []string{`line 1: timeout: invalid duration "60" (a duration needs a unit, such as "60s")`}},
		{"duration pointer", "skew: soon\n", []string{`line 1: skew: invalid duration "soon"`}},
		{"bad integer", "count: ten\n", []string{`line 1: count: invalid integer "ten"`}},
		{"octal integer", "count: 017\n", []string{`line 1: count: invalid integer "017" (want a decimal integer, or hexadecimal with 0x)`}},
		{"0o integer", "count: 0o17\n", []string{`line 1: count: invalid integer "0o17" (want a decimal integer, or hexadecimal with 0x)`}},
		{"binary integer", "count: 0b11\n", []string{`line 1: count: invalid integer "0b11" (want a decimal integer, or hexadecimal with 0x)`}},
		{"separated integer", "count: 1_000\n", []string{`line 1: count: invalid integer "1_000" (want a decimal integer, or hexadecimal with 0x)`}},
		{"octal uint", "size: 017\n", []string{`line 1: size: invalid integer "017" (want a decimal integer, or hexadecimal with 0x)`}},
		{"zero duration", "timeout: 0\n", []string{`line 1: timeout: invalid duration "0" (a duration needs a unit, such as "60s")`}},
		{"float duration", "timeout: 1.5\n", []string{`line 1: timeout: invalid duration "1.5" (a duration needs a unit, such as "60s")`}},
		{"merge key hides required", "listeners:\n  - <<: {name: a}\n", []string{`line 2: listeners[0]: merge keys ("<<") are not supported`}},
		{"int overflow", "small: 300\n", []string{`line 1: small: invalid integer "300"`}},
		{"negative uint", "size: -1\n", []string{`line 1: size: invalid integer "-1" (want a non-negative integer)`}},
		{"bad boolean", "enabled: yes\n", []string{`line 1: enabled: invalid boolean "yes" (want true or false)`}},
		{"bad float", "ratio: half\n", []string{`line 1: ratio: invalid number "half"`}},
		{"duplicate key", "count: 1\ncount: 2\n", []string{`line 2: duplicate key "count" (first on line 1)`}},
		{"required", "listeners:\n  - address: x\n", []string{`line 2: listeners[0]: missing required field "name"`}},
		{"required null", "listeners:\n  - name:\n", []string{`line 2: listeners[0]: missing required field "name"`}},
		{"map of lists", "claims: {a: b}\n", []string{`line 1: claims.a: expected a list, got a string "b"`}},
		{"merge key", "base: &b {count: 1}\n", []string{`line 1: unknown field "base"`}},
		{"merge key used", "labels:\n  <<: {a: b}\n", []string{`line 2: labels: merge keys ("<<") are not supported`}},
		{"non-string key", "labels:\n  [a]: b\n", []string{`line 2: labels: mapping keys must be strings, got a list`}},
		{"root not mapping", "- a\n", []string{`line 1: expected a mapping, got a list`}},
		{"several at once", `listeners:
  - name: a
    address: [x]
    tlss: {}
  - tls: {certFile: 1, keyFil: b}
timeout: 5x
count: 1.5
`, []string{
			`line 3: listeners[0].address: expected a string, got a list`,
			`line 4: listeners[0]: unknown field "tlss"`,
			`line 5: listeners[1].tls: unknown field "keyFil"`,
			`line 5: listeners[1]: missing required field "name"`,
			`line 6: timeout: invalid duration "5x"`,
			`line 7: count: invalid integer "1.5"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d doc
			probs, _ := Decode(parse(t, tt.src), &d)
			var got []string
			for _, p := range probs {
				got = append(got, p.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestAliases(t *testing.T) {
	var d doc
	probs, _ := Decode(parse(t, "labels: &l {a: b}\nclaims: {}\nraw: *l\nany: *l\n"), &d)
	if len(probs) != 0 {
		t.Fatal(probs)
	}
	if d.Raw.Kind != yaml.MappingNode {
		t.Errorf("raw alias not followed: %v", d.Raw.Kind)
	}

	// An alias bomb is stopped by the node budget.
	type deep struct {
		L [][][][][]string `yaml:"l"`
	}
	src := "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n" +
		"e: &e [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\nl: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
	n := parse(t, src)
	dec := NewDecoder()
	dec.MaxNodes = 5000
	var x struct {
		deep `yaml:",inline"`
		A    yaml.Node `yaml:"a"`
		B    yaml.Node `yaml:"b"`
		C    yaml.Node `yaml:"c"`
		E    yaml.Node `yaml:"e"`
	}
	dec.Decode(n, "", &x)
	if len(dec.Problems) != 1 || !strings.Contains(dec.Problems[0].Msg, "document too large") {
		t.Errorf("problems = %v", dec.Problems)
	}
}

func TestPaths(t *testing.T) {
	if got := Key("headers", "x-a"); got != "headers.x-a" {
		t.Error(got)
	}
	if got := Key("claims", "a.b"); got != `claims["a.b"]` {
		t.Error(got)
	}
	for _, c := range []struct {
		path, prefix string
		want         bool
	}{{"a.b[10]", "a.b[1]", false}, {"a.b[1].c", "a.b[1]", true}, {"a.bc", "a.b", false}, {"a.b", "a.b", true}, {"x", "", true}} {
		if got := HasPrefix(c.path, c.prefix); got != c.want {
			t.Errorf("HasPrefix(%q, %q) = %v", c.path, c.prefix, got)
		}
	}
	if got := Parent(`a.b["x.y"]`); got != "a.b" {
		t.Error(got)
	}
}
