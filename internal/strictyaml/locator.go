package strictyaml

import "strconv"

// Document is what a dialect knows about one decoded document's layout:
// the line of every field path, the model paths its fields were renamed
// to, and the paths whose values could not be decoded.
type Document struct {
	Lines Lines
	// Renames maps model field paths that have no counterpart of the same
	// name in the document to the document path that produced them, e.g.
	// "routes[0].match.paths[2]" -> "routes[0].match.pathRegex[0]".
	// Ancestor paths apply to their descendants.
	Renames map[string]string
	// Invalid lists the document paths whose values could not be decoded
	// (see Decoder.Invalid); they were reported already.
	Invalid []string
}

// Locator places the fields of the resource at path Base of the document.
// It implements model.Locator.
type Locator struct {
	Doc  *Document
	Base string
}

// Locate maps a field path below the resource to the document's path and
// line; reported is true when the document path lies at or below a value
// that could not be decoded.
func (l Locator) Locate(field string) (path string, line int, reported bool) {
	full := l.Base
	switch {
	case field == "":
	case full == "":
		full = field
	case field[0] == '[':
		full += field
	default:
		full += "." + field
	}
	best := ""
	for from := range l.Doc.Renames {
		if len(from) > len(best) && HasPrefix(full, from) {
			best = from
		}
	}
	if best != "" {
		full = l.Doc.Renames[best] + full[len(best):]
	}
	for _, p := range l.Doc.Invalid {
		if HasPrefix(full, p) {
			return full, l.Doc.Lines.Find(full), true
		}
	}
	return full, l.Doc.Lines.Find(full), false
}

// Reported reports whether the value at path, or at one of its ancestors,
// could not be decoded: the decoder reported it already, and nothing more
// should be said about it.
func (d *Document) Reported(path string) bool {
	for _, p := range d.Invalid {
		if HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// Piece records the n-th model piece of a kind made from the document path
// docPath and returns the Locator base its field paths are renamed from,
// "$kind[n]", so that issues about the piece land on docPath's fields.
func (d *Document) Piece(kind string, n int, docPath string) string {
	base := "$" + kind + "[" + strconv.Itoa(n) + "]"
	d.Renames[base] = docPath
	return base
}
