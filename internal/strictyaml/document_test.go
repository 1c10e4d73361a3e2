package strictyaml

import "testing"

func TestDocumentReportedAndPiece(t *testing.T) {
	d := &Document{Lines: Lines{"spec.http[0]": 7}, Renames: map[string]string{}, Invalid: []string{"spec.http[0].port"}}
	for path, want := range map[string]bool{"spec.http[0].port": true, "spec.http[0].port.x": true, "spec.http[0]": false, "spec.http[0].portal": false} {
		if got := d.Reported(path); got != want {
			t.Errorf("Reported(%q) = %v, want %v", path, got, want)
		}
	}
	base := d.Piece("egressServer", 3, "spec.http[0]")
	if base != "$egressServer[3]" || d.Renames[base] != "spec.http[0]" {
		t.Fatalf("Piece: base %q, renames %v", base, d.Renames)
	}
	if p, line, _ := (Locator{Doc: d, Base: base}).Locate("host"); p != "spec.http[0].host" || line != 7 {
		t.Errorf("Locate(host) through the piece = %q:%d, want spec.http[0].host:7", p, line)
	}
}
