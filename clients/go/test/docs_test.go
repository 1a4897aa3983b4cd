package test

// The README's Go app (its ```go readme-go block), built as a program of
// its own against this module and Debian's lib/pq, run, and taken over
// HTTP through login, /me and logout.

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readmeBlock(t *testing.T, tag string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```go "+tag+"\n")
	if !ok {
		t.Fatalf("README.md has no ```go %s block", tag)
	}
	block, _, _ := strings.Cut(rest, "```")
	return block
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestReadmeApp(t *testing.T) {
	dir := t.TempDir()
	here, _ := filepath.Abs("..")
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(readmeBlock(t, "readme-go")), 0o600)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte(fmt.Sprintf(`module readmeapp

go 1.19

require (
	github.com/lib/pq v1.10.7
	pgsession v0.0.0
)

replace (
	github.com/lib/pq => /usr/share/gocode/src/github.com/lib/pq
	pgsession => %s
)
`, here)), 0o600)
	build := exec.Command("go", "build", "-o", "app", ".")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build of the README's app: %v\n%s", err, out)
	}
	appPort := freePort(t)
	cmd := exec.Command(filepath.Join(dir, "app"))
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", appPort), "DATABASE_URL="+appDSN)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	base := fmt.Sprintf("http://127.0.0.1:%d", appPort)
	for i := 0; ; i++ {
		if res, err := http.Get(base + "/me"); err == nil {
			res.Body.Close()
			break
		}
		if i == 400 {
			t.Fatal("the README's app did not listen")
		}
		time.Sleep(25 * time.Millisecond)
	}

	if a := do(t, base, "GET", "/me", ""); a.status != 401 {
		t.Fatalf("anonymous /me: %d", a.status)
	}
	login := do(t, base, "POST", "/login?user=alice", "")
	if login.status != 200 || login.cookie == nil {
		t.Fatalf("login: %d %+v", login.status, login.cookie)
	}
	token := login.cookie.Value
	if u := liveUser(t, token); u != "alice" {
		t.Fatalf("the database's user_id: %q", u)
	}
	if a := do(t, base, "GET", "/me", token); strings.TrimSpace(a.body) != "alice" {
		t.Fatalf("/me: %q", a.body)
	}
	if a := do(t, base, "POST", "/logout", token); a.status != 200 {
		t.Fatalf("logout: %d", a.status)
	}
	if a := do(t, base, "GET", "/me", token); a.status != 401 {
		t.Fatalf("/me after logout: %d", a.status)
	}
}
