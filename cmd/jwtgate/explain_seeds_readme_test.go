package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// The ingress walkthroughs of TestExplainSeeds (explain_seeds_test.go),
// read from the examples' READMEs.

// readmeServe is one serve command of an example README and the curl
// commands sent to it, each named for its golden.
type readmeServe struct {
	golden string
	serve  string // the flags after "serve", as written
	curls  [][2]string
}

// readmeSeeds are the ingress examples' walkthroughs. Every curl command
// of a README is listed here, as written (spacing aside).
var readmeSeeds = []struct {
	example string
	addr    string // the gateway address the README's commands use
	serves  []readmeServe
}{
	{"asm", "127.0.0.1:8080", []readmeServe{
		{"asm", "-c examples/asm --bind-address 127.0.0.1", [][2]string{
			{"1-valid-token", `curl -i http://127.0.0.1:8080/productpage -H "Authorization: Bearer $TOKEN"`},
			{"2-no-token", `curl -i http://127.0.0.1:8080/productpage`},
			{"3-invalid-token", `curl -i http://127.0.0.1:8080/productpage -H "Authorization: Bearer invalid token"`},
			{"4-no-token-elsewhere", `curl -i http://127.0.0.1:8080/api/v1/products/1`},
			{"invalid-token-elsewhere", `curl -i http://127.0.0.1:8080/api/v1/products/1 -H "Authorization: Bearer invalid token"`},
			{"not-routed", `curl -i http://127.0.0.1:8080/reviews`},
		}},
		{"asm-bypass", "--bind-address 127.0.0.1 -c examples/asm/gateway.yaml -c examples/asm/service.yaml -c examples/asm/requestauthentication.yaml -c examples/asm/bypass", [][2]string{
			{"open-path", `curl -i http://127.0.0.1:8080/productpage # 200`},
			{"no-token", `curl -i http://127.0.0.1:8080/api/v1/products/1 # 403`},
			{"token", `curl -i http://127.0.0.1:8080/api/v1/products/1 -H "Authorization: Bearer $TOKEN" # 200`},
		}},
	}},
	{"gloo", "127.0.0.1:15001", []readmeServe{
		{"gloo", "-c examples/gloo", [][2]string{
			{"no-token", `curl -i -x http://127.0.0.1:15001 -H 'X-httpbin-mesh: true' http://www.example.com/get`},
			{"token-in-query", `curl -i -x http://127.0.0.1:15001 -H 'X-httpbin-mesh: true' "http://www.example.com/get?auth_token=$TOKEN"`},
			{"token-in-header", `curl -i -x http://127.0.0.1:15001 -H 'X-httpbin-mesh: true' -H "X-Auth: Bearer $TOKEN" http://www.example.com/get`},
			{"both-sources", `curl -i -x http://127.0.0.1:15001 -H 'X-httpbin-mesh: true' -H "X-Auth: Bearer $TOKEN" "http://www.example.com/get?auth_token=bad"`},
			{"client-x-org-replaced", `curl -i -x http://127.0.0.1:15001 -H 'X-httpbin-mesh: true' -H 'X-Org: spoofed' "http://www.example.com/get?auth_token=$TOKEN"`},
			{"no-mesh-header", `curl -i -x http://127.0.0.1:15001 http://www.example.com/get`},
			{"host-routed", `curl -i -H 'Host: www.example.com' -H 'X-httpbin-mesh: true' http://127.0.0.1:15001/get`},
		}},
	}},
	{"kgateway", "localhost:8080", []readmeServe{
		{"kgateway", "-c examples/kgateway --bind-address 127.0.0.1", [][2]string{
			{"no-token", `curl -vik localhost:8080/headers -H "host: www.example.com:8080"`},
			{"token", `curl -vik localhost:8080/headers -H "host: www.example.com:8080" --header "Authorization: Bearer $TOKEN"`},
		}},
	}},
}

// readmeWalks reads the README walkthroughs: each serve command's copy
// of the example, with the gateway's port and the EndpointSlice's (8000,
// the upstream's) changed, and its requests.
func readmeWalks(t *testing.T) []*seedWalk {
	up := &seedUpstream{}
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	upPort := portOf(t, srv.Listener.Addr().String())
	var walks []*seedWalk
	for _, s := range readmeSeeds {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", s.example, "README.md"))
		if err != nil {
			t.Fatal(err)
		}
		readme := string(b)
		vars, curls := readmeVars(t, readme), readmeCurls(readme)
		_, port, _ := net.SplitHostPort(s.addr)
		addr := gatewaytest.FreeAddr(t)
		edits := 0
		gwPort := regexp.MustCompile(`\b((?:port|number): |127\.0\.0\.1:)` + port + `\b`)
		slicePort := regexp.MustCompile(`\bport: 8000\b`)
		root := localCopy(t, s.example, func(_, doc string) string {
			out := gwPort.ReplaceAllString(doc, "${1}"+portOf(t, addr))
			if strings.Contains(doc, "kind: EndpointSlice") {
				out = slicePort.ReplaceAllString(out, "port: "+upPort)
			}
			if out != doc {
				edits++
			}
			return out
		})
		if edits < 2 {
			t.Fatalf("examples/%s: the gateway's port %s or the EndpointSlice's 8000 not found", s.example, port)
		}
		listed := map[string]bool{}
		for _, sv := range s.serves {
			if !strings.Contains(oneLine(strings.ReplaceAll(readme, "\\\n", " ")), "serve "+sv.serve) {
				t.Errorf("examples/%s/README.md has no serve %s", s.example, sv.serve)
			}
			flags := strings.Fields(sv.serve)
			w := &seedWalk{golden: sv.golden, pristine: rebase(flags, filepath.Join("..", "..")), served: rebase(flags, root),
				addr: strings.NewReplacer(s.addr, addr), ports: portsBack(portOf(t, addr), port, upPort, "8000"), up: up}
			for _, c := range sv.curls {
				line := oneLine(c[1])
				if !slices.Contains(curls, line) {
					t.Errorf("examples/%s/README.md has no %s", s.example, line)
				}
				listed[line] = true
				words, err := shellWords(line, vars)
				if err != nil {
					t.Fatalf("%s: %v", line, err)
				}
				r, err := curlRequest(words)
				if err != nil {
					t.Fatalf("%s: %v", line, err)
				}
				r.name = c[0]
				w.requests = append(w.requests, r)
			}
			walks = append(walks, w)
		}
		for _, c := range curls {
			if !listed[c] {
				t.Errorf("examples/%s/README.md's %s is not tested here", s.example, c)
			}
		}
	}
	return walks
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// rebase puts the -c paths of flags (examples/...) under root.
func rebase(flags []string, root string) []string {
	out := slices.Clone(flags)
	for i := 1; i < len(out); i++ {
		if out[i-1] == "-c" {
			out[i] = filepath.Join(root, out[i])
		}
	}
	return out
}

// readmeCurls are the curl commands in a README's code blocks.
func readmeCurls(readme string) []string {
	var curls []string
	code := false
	for _, line := range strings.Split(readme, "\n") {
		if strings.HasPrefix(line, "```") {
			code = !code
		} else if line = oneLine(line); code && strings.HasPrefix(line, "curl ") {
			curls = append(curls, line)
		}
	}
	return curls
}

// readmeVars are the variables a README sets: NAME=VALUE, export
// NAME=VALUE, NAME=$(cat FILE).
func readmeVars(t *testing.T, readme string) map[string]string {
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^(?:export )?([A-Z][A-Z0-9_]*)=(\$\(cat \S+\)|\S+)$`).FindAllStringSubmatch(readme, -1) {
		v := m[2]
		if f, ok := strings.CutPrefix(v, "$(cat "); ok {
			b, err := os.ReadFile(filepath.Join("..", "..", strings.TrimSuffix(f, ")")))
			if err != nil {
				t.Fatal(err)
			}
			v = strings.TrimSpace(string(b))
		}
		vars[m[1]] = v
	}
	return vars
}

// shellWords splits a command line as sh does for the READMEs' commands:
// single and double quotes, $NAME expanded (not in single quotes), a
// comment from a word starting with #.
func shellWords(s string, vars map[string]string) ([]string, error) {
	var words []string
	var cur strings.Builder
	in := false
	expand := func(i int) (int, error) {
		j := i + 1
		for j < len(s) && (s[j] == '_' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= '0' && s[j] <= '9') {
			j++
		}
		v, ok := vars[s[i+1:j]]
		if !ok {
			return 0, fmt.Errorf("unknown variable $%s", s[i+1:j])
		}
		cur.WriteString(v)
		return j, nil
	}
	var err error
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ' || c == '\t':
			if in {
				words, in = append(words, cur.String()), false
				cur.Reset()
			}
			i++
		case c == '#' && !in:
			i = len(s)
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i, in = i+j+2, true
		case c == '"':
			for i, in = i+1, true; i < len(s) && s[i] != '"'; {
				if s[i] != '$' {
					cur.WriteByte(s[i])
					i++
				} else if i, err = expand(i); err != nil {
					return nil, err
				}
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated quote")
			}
			i++
		case c == '$':
			if i, err = expand(i); err != nil {
				return nil, err
			}
			in = true
		default:
			cur.WriteByte(c)
			i, in = i+1, true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

// curlRequest is the request a curl command sends: -x sends it through
// the gateway as a forward proxy; a Host header names the host, the URL
// where the gateway is.
func curlRequest(words []string) (seedRequest, error) {
	r := seedRequest{method: http.MethodGet}
	raw := ""
	host := false
	for i := 1; i < len(words); i++ {
		switch w := words[i]; w {
		case "-i", "-v", "-k", "-vik", "-s", "-S", "-sS":
		case "-x", "--proxy", "-H", "--header", "-X", "--request":
			if i++; i == len(words) {
				return r, fmt.Errorf("%s without a value", w)
			}
			v := words[i]
			switch w {
			case "-x", "--proxy":
				u, err := url.Parse(v)
				if err != nil {
					return r, err
				}
				r.proxy, r.via = true, u.Host
			case "-H", "--header":
				name, value, _ := strings.Cut(v, ":")
				r.header = append(r.header, [2]string{strings.TrimSpace(name), strings.TrimSpace(value)})
				host = host || strings.EqualFold(strings.TrimSpace(name), "Host")
			default:
				r.method = v
			}
		default:
			if strings.HasPrefix(w, "-") || raw != "" {
				return r, fmt.Errorf("curl argument %q is not understood here", w)
			}
			raw = w
		}
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return r, err
	}
	switch {
	case r.proxy:
		r.target = raw
	case host:
		r.target, r.via = u.RequestURI(), u.Host
	default:
		r.target, r.via = raw, u.Host
	}
	return r, nil
}
