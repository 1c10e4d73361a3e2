package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/demo"
	"jwtgate.dev/jwtgate/internal/logtest"
	"jwtgate.dev/jwtgate/internal/proxy"
)

// TestReadmeTour follows steps 2 to 5 of the README's five-minute tour
// as written there: the configuration, the validate output, the requests
// and the outputs shown. Only the ports change (the gateway's listener
// and the echo upstream get free ones); the openssl step is done with Go.
func TestReadmeTour(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	// blockAt returns the body of the first fenced block at or after
	// readme[i:], and the index just past it.
	blockAt := func(i int) (string, int) {
		t.Helper()
		start := strings.Index(readme[i:], "```")
		if start < 0 {
			t.Fatalf("no fenced block after %q", readme[i:min(i+40, len(readme))])
		}
		i += start
		i += strings.IndexByte(readme[i:], '\n') + 1
		end := strings.Index(readme[i:], "```")
		return readme[i : i+end], i + end + 3
	}
	// block returns the body of the first fenced block after marker.
	block := func(marker string) string {
		t.Helper()
		i := strings.Index(readme, marker)
		if i < 0 {
			t.Fatalf("README lacks %q", marker)
		}
		b, _ := blockAt(i)
		return b
	}
	// console splits a console block into the commands ("$ ") and the
	// output that follows each.
	console := func(text string) (cmds, outs []string) {
		for _, line := range strings.SplitAfter(text, "\n") {
			if c, ok := strings.CutPrefix(line, "$ "); ok {
				cmds, outs = append(cmds, strings.TrimSpace(c)), append(outs, "")
				continue
			}
			if len(cmds) > 0 && strings.HasPrefix(line, "    -H") { // a continued command
				cmds[len(cmds)-1] += " " + strings.TrimSpace(line)
				continue
			}
			if len(outs) > 0 {
				outs[len(outs)-1] += line
			}
		}
		return cmds, outs
	}
	// shown checks that every run of lines between "..." in want appears
	// in got, in order.
	shown := func(what, got, want string) {
		t.Helper()
		rest := got
		for _, part := range strings.Split(want, "...\n") {
			part = strings.TrimSuffix(part, "\n")
			i := strings.Index(rest, part)
			if i < 0 {
				t.Errorf("%s: output lacks %q:\n%s", what, part, got)
				return
			}
			rest = rest[i+len(part):]
		}
	}

	dir := t.TempDir()
	t.Chdir(dir)

	// 2. Write a configuration.
	gatewayYAML := block("Save it as `gateway.yaml`:")
	writeFile(t, "gateway.yaml", gatewayYAML)

	// 3. Check it.
	cmds, outs := console(block("### 3. Check it"))
	if len(cmds) != 1 || cmds[0] != "go run ./cmd/jwtgate validate -c gateway.yaml" {
		t.Fatalf("step 3 commands %q", cmds)
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"validate", "-c", "gateway.yaml"}, &out, &errOut); code != 0 {
		t.Fatalf("validate exit %d: %s%s", code, out.String(), errOut.String())
	}
	if out.String() != outs[0] {
		t.Errorf("validate printed:\n%s\nREADME shows:\n%s", out.String(), outs[0])
	}

	// 4. Serve it: an echo upstream in place of "jwtgate echo" on 8000,
	// the gateway on a free port in place of 8080.
	echo := httptest.NewServer(demo.Echo())
	t.Cleanup(echo.Close)
	cfg := strings.Replace(gatewayYAML, "address: 127.0.0.1:8080", "address: 127.0.0.1:0", 1)
	cfg = strings.Replace(cfg, "url: http://127.0.0.1:8000", "url: "+echo.URL, 1)
	writeFile(t, "gateway.yaml", cfg)
	signals := make(chan os.Signal, 1)
	started := make(chan net.Addr, 1)
	reloaded := make(chan error, 1)
	done := make(chan int, 1)
	var logs logtest.Buffer
	go func() {
		done <- serve(context.Background(), []string{"-c", "gateway.yaml", "--admin", "off"}, &logs, serveHooks{
			signals:  signals,
			started:  func(srv *proxy.Server, _ net.Addr) { started <- srv.Addr("http") },
			reloaded: func(err error) { reloaded <- err },
		})
	}()
	var gw string
	select {
	case a := <-started:
		gw = a.String()
	case code := <-done:
		t.Fatalf("serve exited %d: %s", code, logs.String())
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not start")
	}
	// curl runs one request with the headers of its -H flags.
	hdrRE := regexp.MustCompile(`-H "([^"]*)"`)
	curl := func(cmd string, env map[string]string) string {
		t.Helper()
		for k, v := range env {
			cmd = strings.ReplaceAll(cmd, "$"+k, v)
		}
		req, _ := http.NewRequest(http.MethodGet, "http://"+gw+"/headers", nil)
		for _, m := range hdrRE.FindAllStringSubmatch(cmd, -1) {
			k, v, _ := strings.Cut(m[1], ": ")
			if strings.EqualFold(k, "host") {
				req.Host = v
			} else {
				req.Header.Set(k, v)
			}
		}
		if strings.Contains(cmd, " -i ") {
			// The response as it comes on the wire, as curl -i shows it.
			c, err := net.Dial("tcp", gw)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			req.Header.Set("Connection", "close")
			if err := req.Write(c); err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(c)
			return strings.ReplaceAll(string(raw), "\r\n", "\n") + "\n"
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return string(body)
	}

	cmds, outs = console(block("And the guide's requests:"))
	if len(cmds) != 3 || !strings.HasPrefix(cmds[1], "export TOKEN=") {
		t.Fatalf("step 4 commands %q", cmds)
	}
	env := map[string]string{"TOKEN": strings.TrimPrefix(cmds[1], "export TOKEN=")}
	got := curl(cmds[0], env)
	shown(cmds[0], got, outs[0])
	got = curl(cmds[2], env)
	shown(cmds[2], got, outs[2])
	if strings.Contains(got, "Authorization") {
		t.Errorf("the token was forwarded:\n%s", got)
	}

	// 5. Mint your own tokens: a P-256 key pair as openssl genpkey makes it.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	writeFile(t, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	der, _ = x509.MarshalPKIXPublicKey(&key.PublicKey)
	writeFile(t, "key.pub.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	// "Add a provider ... and let the route accept either:", two blocks,
	// then the commands.
	i := strings.Index(readme, "Add a provider under `providers:`")
	if i < 0 {
		t.Fatal("README lacks step 5's provider")
	}
	provider, i := blockAt(i)
	jwt, i := blockAt(i)
	steps, _ := blockAt(i)
	if !strings.Contains(cfg, "    jwt:\n      providers: [selfminted]\n") || !strings.HasPrefix(jwt, "    jwt:\n") {
		t.Fatalf("step 5's route block %q does not fit the configuration", jwt)
	}
	cfg = strings.Replace(cfg, "routes:\n", provider+"routes:\n", 1)
	cfg = strings.Replace(cfg, "    jwt:\n      providers: [selfminted]\n", jwt, 1)
	writeFile(t, "gateway.yaml", cfg)

	cmds, outs = console(steps)
	if len(cmds) != 4 || !strings.HasPrefix(cmds[0], "kill -HUP $GW") {
		t.Fatalf("step 5 commands %q", cmds)
	}
	signals <- syscall.SIGHUP
	if err := <-reloaded; err != nil {
		t.Fatalf("reload: %v\n%s", err, logs.String())
	}
	// token runs the "$(./jwtgate token ...)" in cmd.
	tokRE := regexp.MustCompile(`\$\(\./jwtgate (token [^)]*)\)`)
	token := func(cmd string) string {
		t.Helper()
		m := tokRE.FindStringSubmatch(cmd)
		if m == nil {
			t.Fatalf("no jwtgate token in %q", cmd)
		}
		var out, errOut bytes.Buffer
		if code := run(context.Background(), strings.Fields(m[1]), &out, &errOut); code != 0 {
			t.Fatalf("%s: exit %d %s", m[1], code, errOut.String())
		}
		return strings.TrimSuffix(out.String(), "\n")
	}
	env["TOKEN"] = token(cmds[1])
	got = curl(cmds[2], env)
	shown(cmds[2], got, strings.TrimSuffix(outs[2], "\n")) // grep -A1 shows a part
	got = curl(tokRE.ReplaceAllString(cmds[3], token(cmds[3])), env)
	if want := strings.TrimSuffix(outs[3], "\n"); got != want {
		t.Errorf("expired token: %q, want %q", got, want)
	}

	// kill $GW: SIGTERM, exit 0.
	signals <- syscall.SIGTERM
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exit %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}
