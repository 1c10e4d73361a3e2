package metrics

import (
	"reflect"
	"testing"
	"time"
)

// The hot-path calls must not allocate once warm.
func TestHotPathAllocs(t *testing.T) {
	m := New()
	r := m.Route("public", "api")
	none := m.Route("public", NoRoute)
	l := m.Listener("public")
	p := m.Provider("idp")
	pol := m.Policy("admins", ActionAllow)
	var nilRoute *RouteMetrics
	var nilListener *ListenerMetrics
	var nilProvider *ProviderMetrics
	var nilPolicy *PolicyMetrics

	cases := []struct {
		name string
		f    func()
	}{
		{"Observe with upstream", func() { r.Observe(200, 3*time.Millisecond) }},
		{"Observe without upstream", func() { r.Observe(401, NoUpstream) }},
		{"Observe other code", func() { r.Observe(999, NoUpstream) }},
		{"Observe no route", func() { none.Observe(404, NoUpstream) }},
		{"InFlight", func() { l.InFlight()() }},
		{"Outcome verified", func() { p.Outcome(OutcomeVerified, ReasonNone) }},
		{"Outcome invalid", func() { p.Outcome(OutcomeInvalid, ReasonJWTExpired) }},
		{"Outcome unknown", func() { p.Outcome("x", "y") }},
		{"Allow", pol.Allow},
		{"Deny", pol.Deny},
		{"Decide", func() { pol.Decide(true) }},
		{"nil handles", func() {
			nilRoute.Observe(200, time.Millisecond)
			nilListener.InFlight()()
			nilProvider.Outcome(OutcomeVerified, ReasonNone)
			nilPolicy.Allow()
		}},
	}
	for _, c := range cases {
		c.f() // warm up: creates the series
		if n := testing.AllocsPerRun(1000, c.f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", c.name, n)
		}
	}
}

// TestHandleMethods pins the hot-path API: the per-request methods take
// status codes, durations and fixed-set strings only, never free-form
// request data. A new method must be added here, deliberately.
func TestHandleMethods(t *testing.T) {
	want := map[string]map[string]string{
		"RouteMetrics":    {"Observe": "func(int, time.Duration)"},
		"ListenerMetrics": {"InFlight": "func() func()"},
		"ProviderMetrics": {"Outcome": "func(string, string)"},
		"PolicyMetrics":   {"Allow": "func()", "Deny": "func()", "Decide": "func(bool)"},
	}
	for _, v := range []any{&RouteMetrics{}, &ListenerMetrics{}, &ProviderMetrics{}, &PolicyMetrics{}} {
		typ := reflect.TypeOf(v)
		methods := want[typ.Elem().Name()]
		if typ.NumMethod() != len(methods) {
			t.Errorf("%s has %d methods, want %d", typ, typ.NumMethod(), len(methods))
		}
		for i := range typ.NumMethod() {
			meth := typ.Method(i)
			sig := reflect.FuncOf(
				inTypes(meth.Type)[1:], outTypes(meth.Type), false).String()
			if methods[meth.Name] != sig {
				t.Errorf("%s.%s is %s, want %q", typ, meth.Name, sig, methods[meth.Name])
			}
		}
	}
}

func inTypes(f reflect.Type) []reflect.Type {
	var ts []reflect.Type
	for i := range f.NumIn() {
		ts = append(ts, f.In(i))
	}
	return ts
}

func outTypes(f reflect.Type) []reflect.Type {
	var ts []reflect.Type
	for i := range f.NumOut() {
		ts = append(ts, f.Out(i))
	}
	return ts
}

func BenchmarkObserve(b *testing.B) {
	r := New().Route("public", "api")
	b.ReportAllocs()
	for b.Loop() {
		r.Observe(200, 3*time.Millisecond)
	}
}

func BenchmarkOutcome(b *testing.B) {
	p := New().Provider("idp")
	b.ReportAllocs()
	for b.Loop() {
		p.Outcome(OutcomeInvalid, ReasonJWTExpired)
	}
}
