package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/gateway"
	"jwtgate.dev/jwtgate/internal/proxy"
)

// TestReadmeBringYourYAML runs step 6 of the README's tour as written:
// validate accepts examples/gatewayapi, and convert's output is a native
// configuration that compiles to the same routes.
func TestReadmeBringYourYAML(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "### 6. Bring your YAML")
	if i < 0 {
		t.Fatal("README lacks step 6")
	}
	step := readme[i:]
	step = step[:strings.Index(step, "\n## ")]
	for _, cmd := range []string{
		"./jwtgate validate -c examples/gatewayapi",
		"./jwtgate convert -c examples/gatewayapi > native.yaml",
	} {
		if !strings.Contains(step, cmd) {
			t.Fatalf("step 6 no longer says %q", cmd)
		}
	}
	const example = "../../examples/gatewayapi"
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"validate", "-c", example}, &out, &errOut); code != exitOK || !strings.Contains(out.String(), "valid:") {
		t.Fatalf("validate: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"convert", "-c", example}, &out, &errOut); code != exitOK {
		t.Fatalf("convert: exit %d\n%s", code, errOut.String())
	}
	vendor := gateway.Compile([]string{example}, proxy.Options{})
	native := gateway.CompileBytes(example+"/native.yaml", out.Bytes(), proxy.Options{})
	if !vendor.OK() || !native.OK() {
		t.Fatalf("vendor ok %v, converted ok %v: %v", vendor.OK(), native.OK(), native.Issues.Err())
	}
	defer vendor.Runtime.Close()
	defer native.Runtime.Close()
	vr, nr := vendor.Runtime.Explain(), native.Runtime.Explain()
	if len(vr) != len(nr) {
		t.Fatalf("%d routes from the vendor YAML, %d from its conversion", len(vr), len(nr))
	}
	for i := range vr {
		if vr[i].Match != nr[i].Match || vr[i].Route != nr[i].Route {
			t.Errorf("route %d: %s %q vs %s %q", i, vr[i].Route, vr[i].Match, nr[i].Route, nr[i].Match)
		}
	}
}
