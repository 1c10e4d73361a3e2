package authn

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestWholeNumber checks the exact reading of NumericDate claims.
func TestWholeNumber(t *testing.T) {
	for _, c := range []struct {
		in             string
		v              int64
		whole, inRange bool
	}{
		{"0", 0, true, true}, {"-0", 0, true, true}, {"0.0", 0, true, true}, {"0e-999999999999999999999", 0, true, true},
		{"1", 1, true, true}, {"1.0", 1, true, true}, {"10e-1", 1, true, true}, {"0.1e1", 1, true, true}, {"1E+3", 1000, true, true},
		{"9223372036854775807", 9223372036854775807, true, true}, {"9.223372036854775807e18", 9223372036854775807, true, true},
		{"9223372036854775808", 0, true, false}, {"1e19", 0, true, false}, {"1e999999999999999999999", 0, true, false},
		{"-1", 0, true, false}, {"-1e3", 0, true, false},
		{"1.5", 0, false, false}, {"-1.5", 0, false, false}, {"1e-1", 0, false, false}, {"1e-999999999999999999999", 0, false, false},
		{"9999999999.9999999", 0, false, false}, {"1700000000.000000000000000001", 0, false, false},
	} {
		v, whole, inRange := wholeNumber(c.in)
		if v != c.v || whole != c.whole || inRange != c.inRange {
			t.Errorf("wholeNumber(%s) = %d %v %v, want %d %v %v", c.in, v, whole, inRange, c.v, c.whole, c.inRange)
		}
	}
}

// TestUniqueNames checks the duplicate-name scan on its own.
func TestUniqueNames(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{`{}`, true}, {`{"a":1,"b":{"a":1},"c":[{"a":1},{"a":1}]}`, true}, {`[{"a":1},{"a":2}]`, true},
		{`{"a":"a","b":"a"}`, true}, {`{"a":{"b":{}},"b":[]}`, true}, {`{"a":[1,"a",{"a":"a"}],"x":"a"}`, true},
		{`{"a":1,"a":1}`, false}, {`{"a":{"b":1,"b":2}}`, false}, {`{"a":[{"b":1,"b":2}]}`, false},
		{`{"a":{},"a":[]}`, false}, {`{"a\u0062":1,"ab":2}`, false}, {`{"a":[],"b":{},"a":null}`, false},
		{`{"a\"b":1,"a\"c":2, "x" : "y:" , "y:":1}`, true}, {`{"a\"b":1, "a\u0022b" :2}`, false},
		{`{"a\\":"\\","b":"\\\""}`, true}, {"{\"\xff\":1,\"\xfe\":2}", false}, {"{\"\xff\":1,\"\ufffd\":2}", false},
		{many(40, "") + `}`, true}, {many(40, `,"k3"`) + `}`, false}, {many(40, `,"k39"`) + `}`, false},
		{strings.Repeat(`{"a":`, 20) + `{"a":1,"a":2}` + strings.Repeat(`}`, 20), false},
		{strings.Repeat(`[{"a":1},`, 20) + `{"a":1}` + strings.Repeat(`]`, 20), true},
	} {
		if err := checkUniqueNames([]byte(c.in)); (err == nil) != c.ok {
			t.Errorf("%s: %v", c.in, err)
		}
	}
}

// many is an object with n members k0..k(n-1) and extra appended, open.
func many(n int, extra string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"k%d":%d`, i, i)
	}
	b.WriteString(extra)
	if extra != "" {
		b.WriteString(":0")
	}
	return b.String()
}

// FuzzUniqueNames compares the scan with a reference built on
// encoding/json's tokenizer, for every valid JSON text.
func FuzzUniqueNames(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `{"a":{"b":[{"c":"\u0063","c ":1}]}}`, `[{"a\"":1},{"a\"":1}]`, `{"x":"\\","\\":1}`, "{\"\xff\":1,\"\xfe\":2}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !json.Valid([]byte(s)) {
			return
		}
		if got, want := checkUniqueNames([]byte(s)) == nil, refUnique(s); got != want {
			t.Fatalf("%q: scan says unique=%v, reference %v", s, got, want)
		}
	})
}

func refUnique(s string) bool {
	type frame struct {
		names map[string]bool
		key   bool
	}
	dec := json.NewDecoder(strings.NewReader(s))
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return true
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top != nil && top.names != nil {
					top.key = true
				}
				fr := &frame{}
				if v == '{' {
					fr = &frame{names: map[string]bool{}, key: true}
				}
				stack = append(stack, fr)
			default:
				stack = stack[:len(stack)-1]
			}
		default:
			if top == nil || top.names == nil {
				continue
			}
			if !top.key {
				top.key = true
				continue
			}
			name := v.(string)
			if top.names[name] {
				return false
			}
			top.names[name] = true
			top.key = false
		}
	}
}
