package test

// pgsession over real HTTP (httptest's listener, and the handler called
// directly with httptest.NewRecorder) against a real PostgreSQL, through
// pgbouncer when PGBOUNCER names it: lazy creation, a login that renews the
// token, a protected page, a flash message across a redirect, logout,
// parallel requests changing different keys, a bad cookie, the user id,
// and a statement slower than the client's timeout.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"pgsession"
)

func manager(t *testing.T) *pgsession.Manager {
	t.Helper()
	m, err := pgsession.New(app, "")
	if err != nil {
		t.Fatal(err)
	}
	m.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		http.Error(w, "session store: "+err.Error(), http.StatusInternalServerError)
	}
	return m
}

// routes is an app as scs's users write one.
func routes(m *pgsession.Manager) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/put", func(w http.ResponseWriter, r *http.Request) {
		m.Put(r.Context(), r.FormValue("k"), r.FormValue("v"))
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/remove", func(w http.ResponseWriter, r *http.Request) {
		m.Remove(r.Context(), r.FormValue("k"))
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		out := map[string]any{}
		for _, k := range m.Keys(r.Context()) {
			out[k] = m.Get(r.Context(), k)
		}
		json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		if err := m.RenewToken(r.Context()); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		m.Put(r.Context(), "user_id", r.FormValue("user"))
		m.Put(r.Context(), "flash", "welcome back")
		http.Redirect(w, r, "/me", http.StatusSeeOther)
	})
	mux.HandleFunc("/me", func(w http.ResponseWriter, r *http.Request) {
		user := m.GetString(r.Context(), "user_id")
		if user == "" {
			http.Error(w, "log in", http.StatusUnauthorized)
			return
		}
		flash, _ := m.Pop(r.Context(), "flash").(string)
		fmt.Fprintf(w, "%s|%s", user, flash)
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Destroy(r.Context()); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		io.WriteString(w, "bye")
	})
	return m.Handle(mux)
}

type answer struct {
	status int
	body   string
	cookie *http.Cookie // the sid cookie the response set, if any
}

func do(t *testing.T, base, method, path, cookie string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "sid", Value: cookie})
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	a := answer{status: res.StatusCode, body: string(b)}
	for _, c := range res.Cookies() {
		if c.Name == "sid" {
			a.cookie = c
		}
	}
	return a
}

func liveUser(t *testing.T, token string) string {
	return psql(t, "SELECT user_id FROM session_get($1)", token)
}

func countLive(t *testing.T, token string) string {
	return psql(t, "SELECT count(*) FROM session_get($1)", token)
}

func TestLoginFlashLogout(t *testing.T) {
	srv := httptest.NewServer(routes(manager(t)))
	defer srv.Close()
	before := psql(t, "SELECT count(*) FROM session_internal.sessions")

	a := do(t, srv.URL, "GET", "/me", "")
	if a.status != 401 || a.cookie != nil {
		t.Fatalf("anonymous: %d, cookie %v", a.status, a.cookie)
	}
	if n := psql(t, "SELECT count(*) FROM session_internal.sessions"); n != before {
		t.Fatalf("an anonymous request stored a session (%s rows, were %s)", n, before)
	}

	a = do(t, srv.URL, "GET", "/put?k=cart&v=tea", "")
	if a.cookie == nil || !a.cookie.HttpOnly || a.cookie.SameSite != http.SameSiteLaxMode || a.cookie.Path != "/" {
		t.Fatalf("the first stored key: %d %q, cookie %+v", a.status, a.body, a.cookie)
	}
	if a.cookie.MaxAge < 7*24*3600-5 || a.cookie.MaxAge > 7*24*3600 {
		t.Fatalf("Max-Age %d, not the database's 7 days", a.cookie.MaxAge)
	}
	anon := a.cookie.Value

	login := do(t, srv.URL, "POST", "/login?user=ann", anon)
	if login.status != http.StatusSeeOther || login.cookie == nil || login.cookie.Value == anon {
		t.Fatalf("login: %d, cookie %v", login.status, login.cookie)
	}
	token := login.cookie.Value
	if countLive(t, anon) != "0" {
		t.Fatal("the token before the login still works")
	}
	if u := liveUser(t, token); u != "ann" {
		t.Fatalf("the database's user_id is %q", u)
	}
	if got := do(t, srv.URL, "GET", "/me", token); got.body != "ann|welcome back" {
		t.Fatalf("after the redirect: %q", got.body)
	}
	if got := do(t, srv.URL, "GET", "/me", token); got.body != "ann|" {
		t.Fatalf("the flash came twice: %q", got.body)
	}
	if got := do(t, srv.URL, "GET", "/get", token); got.body != `{"cart":"tea","user_id":"ann"}`+"\n" {
		t.Fatalf("the data kept through the login: %s", got.body)
	}

	out := do(t, srv.URL, "POST", "/logout", token)
	if out.cookie == nil || out.cookie.MaxAge >= 0 || out.cookie.Value != "" {
		t.Fatalf("logout cleared no cookie: %+v", out.cookie)
	}
	if countLive(t, token) != "0" {
		t.Fatal("the session outlived its logout")
	}
	if got := do(t, srv.URL, "GET", "/me", token); got.status != 401 {
		t.Fatalf("after logout: %d", got.status)
	}
}

func TestRollingAndPersist(t *testing.T) {
	m := manager(t)
	m.IdleTimeout = time.Hour
	srv := httptest.NewServer(routes(m))
	defer srv.Close()
	token := do(t, srv.URL, "GET", "/put?k=a&v=1", "").cookie.Value
	psql(t, "UPDATE session_internal.sessions SET expires_at = now() + interval '10 minutes' "+
		"WHERE id_hash = (SELECT id_hash FROM session_internal.sessions ORDER BY created_at DESC LIMIT 1)")
	a := do(t, srv.URL, "GET", "/get", token)
	if a.cookie == nil || a.cookie.Value != token || a.cookie.MaxAge < 3595 || a.cookie.MaxAge > 3600 {
		t.Fatalf("a read sends the rolled expiry again: %+v", a.cookie)
	}
	m.Cookie.Persist = false
	a = do(t, srv.URL, "GET", "/get", token)
	if a.cookie == nil || a.cookie.MaxAge != 0 || !a.cookie.Expires.IsZero() {
		t.Fatalf("Persist false: a browser-session cookie, not %+v", a.cookie)
	}
}

func TestBadCookieIsClearedNeverAnError(t *testing.T) {
	srv := httptest.NewServer(routes(manager(t)))
	defer srv.Close()
	for _, c := range []string{"garbage", strings.Repeat("A", 32) + "." + strings.Repeat("B", 43)} {
		a := do(t, srv.URL, "GET", "/get", c)
		if a.status != 200 || a.cookie == nil || a.cookie.MaxAge >= 0 {
			t.Fatalf("%q: %d, cookie %+v", c, a.status, a.cookie)
		}
	}
}

func TestRemoveAndNothingChanged(t *testing.T) {
	srv := httptest.NewServer(routes(manager(t)))
	defer srv.Close()
	token := do(t, srv.URL, "GET", "/put?k=a&v=1", "").cookie.Value
	do(t, srv.URL, "GET", "/put?k=b&v=2", token)
	do(t, srv.URL, "GET", "/remove?k=a", token)
	if d := psql(t, "SELECT data::text FROM session_get($1)", token); d != `{"b": "2"}` {
		t.Fatalf("stored: %s", d)
	}
}

// Two requests of one session, each loaded before either writes, changing
// different keys: both keep theirs (a store that writes the whole session
// back loses one).
func TestParallelRequestsKeepBothKeys(t *testing.T) {
	m := manager(t)
	var arrived sync.WaitGroup
	arrived.Add(2)
	mux := http.NewServeMux()
	mux.HandleFunc("/both", func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		arrived.Wait()
		m.Put(r.Context(), r.FormValue("k"), "set")
		io.WriteString(w, "ok")
	})
	mux.Handle("/", routes(m))
	srv := httptest.NewServer(m.Handle(mux))
	defer srv.Close()
	token := do(t, srv.URL, "GET", "/put?k=start&v=1", "").cookie.Value
	var done sync.WaitGroup
	for _, k := range []string{"left", "right"} {
		done.Add(1)
		go func(k string) {
			defer done.Done()
			do(t, srv.URL, "GET", "/both?k="+k, token)
		}(k)
	}
	done.Wait()
	if d := psql(t, "SELECT data::text FROM session_get($1)", token); d != `{"left": "set", "right": "set", "start": "1"}` {
		t.Fatalf("stored: %s", d)
	}
}

func TestUserIdIsTheDatabasesAndDestroyUser(t *testing.T) {
	m := manager(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/int", func(w http.ResponseWriter, r *http.Request) {
		m.Put(r.Context(), "user_id", 42)
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/object", func(w http.ResponseWriter, r *http.Request) {
		m.Put(r.Context(), "user_id", map[string]int{"id": 42})
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/others", func(w http.ResponseWriter, r *http.Request) {
		n, err := m.DestroyUser(r.Context(), "42", m.Token(r.Context()))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprint(w, n)
	})
	srv := httptest.NewServer(m.Handle(mux))
	defer srv.Close()
	one := do(t, srv.URL, "GET", "/int", "").cookie.Value
	two := do(t, srv.URL, "GET", "/int", "").cookie.Value
	if u := liveUser(t, one); u != "42" {
		t.Fatalf("user_id %q", u)
	}
	if a := do(t, srv.URL, "GET", "/object", ""); a.status != 500 || !strings.Contains(a.body, "not a string or an integer") {
		t.Fatalf("an object as user id: %d %s", a.status, a.body)
	}
	if a := do(t, srv.URL, "GET", "/others", two); a.body != "1" {
		t.Fatalf("destroyed %s", a.body)
	}
	if countLive(t, one) != "0" || countLive(t, two) != "1" {
		t.Fatal("DestroyUser ended the wrong sessions")
	}
}

// The handler called directly (httptest.NewRecorder), as an app's unit
// tests do: the session is saved before the recorded headers.
func TestRecorder(t *testing.T) {
	h := routes(manager(t))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/put?k=n&v=1", nil))
	res := rec.Result()
	if len(res.Cookies()) != 1 || countLive(t, res.Cookies()[0].Value) != "1" {
		t.Fatalf("cookies %v", res.Cookies())
	}
	// a handler that writes nothing still saves
	m := manager(t)
	silent := m.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { m.Put(r.Context(), "x", true) }))
	rec = httptest.NewRecorder()
	silent.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if len(rec.Result().Cookies()) != 1 || rec.Code != 200 {
		t.Fatalf("a silent handler: %d %v", rec.Code, rec.Result().Cookies())
	}
}

// A touch slower than the client's timeout (its row held by another
// transaction): the request fails at about the timeout, the statement is
// cancelled, and nothing it would have written is.
func TestStatementSlowerThanTheTimeout(t *testing.T) {
	m := manager(t)
	m.Timeout = 300 * time.Millisecond
	srv := httptest.NewServer(routes(m))
	defer srv.Close()
	token := do(t, srv.URL, "GET", "/put?k=a&v=1", "").cookie.Value
	hash := psql(t, "SELECT encode(id_hash, 'hex') FROM session_internal.sessions ORDER BY created_at DESC LIMIT 1")
	expires := psql(t, "SELECT expires_at::text FROM session_internal.sessions WHERE id_hash = decode($1, 'hex')", hash)

	ctx := context.Background()
	tx, err := admin.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("SELECT 1 FROM session_internal.sessions WHERE id_hash = decode($1, 'hex') FOR UPDATE", hash); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	a := do(t, srv.URL, "GET", "/put?k=b&v=2", token)
	took := time.Since(start)
	// the statement ended while the row was still held: cancelled, not merely abandoned
	if n := psql(t, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' AND state = 'active'"); n != "0" {
		t.Fatalf("%s statements of the app still running", n)
	}
	tx.Rollback()
	if a.status != 500 || !strings.Contains(a.body, "canceling statement") {
		t.Fatalf("a blocked touch: %d %q", a.status, a.body)
	}
	if took > 5*time.Second {
		t.Fatalf("the request waited %v for a statement with a timeout of %v", took, m.Timeout)
	}
	if got := psql(t, "SELECT expires_at::text FROM session_internal.sessions WHERE id_hash = decode($1, 'hex')", hash); got != expires {
		t.Fatalf("the cancelled touch rolled the expiry (%s, was %s)", got, expires)
	}
	if d := psql(t, "SELECT data::text FROM session_get($1)", token); d != `{"a": "1"}` {
		t.Fatalf("stored: %s", d)
	}
}

// A database whose extension is too old for this client, or has none:
// the first call says which version it found and what to do.
func TestExtensionVersion(t *testing.T) {
	for _, q := range []string{"CREATE DATABASE oldext", "CREATE DATABASE noext"} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	old := openDB("postgres", port, "oldext")
	defer old.Close()
	if _, err := old.Exec("CREATE EXTENSION session VERSION '1.3'"); err != nil {
		t.Fatal(err)
	}
	for db, want := range map[string]string{
		"oldext": "session extension is 1.3, and this client needs 1.4 or newer; run ALTER EXTENSION session UPDATE",
		"noext":  "this database has no session extension",
	} {
		conn := openDB("postgres", port, db)
		m, _ := pgsession.New(conn, "")
		srv := httptest.NewServer(routes(m))
		m.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) { http.Error(w, err.Error(), 500) }
		a := do(t, srv.URL, "GET", "/put?k=a&v=1", "")
		srv.Close()
		conn.Close()
		if a.status != 500 || !strings.Contains(a.body, want) {
			t.Fatalf("%s: %d %q", db, a.status, a.body)
		}
	}
}
