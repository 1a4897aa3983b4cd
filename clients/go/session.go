// Package pgsession keeps net/http sessions in PostgreSQL with the session
// extension, in the shape of scs's API: a middleware (Manager.Handle) puts
// each request's session in its context, and Get, Put, Remove, RenewToken
// and Destroy work on it.
//
// Per request: no database call without a cookie; one session_touch with
// one (it validates the signed token and rolls the expiry); at the
// response's first write, the keys that changed (session_merge, so two
// parallel requests changing different keys both keep theirs), a new
// session only when something is stored in it, and a new token when the
// user changes (session_regenerate).  Tokens are made and signed inside
// the database: the app holds no secret.  It needs only database/sql:
// bring any PostgreSQL driver (lib/pq, pgx's stdlib).
package pgsession

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Cookie is the session cookie's name and attributes.
type Cookie struct {
	Name   string // default "sid"
	Domain string
	Path   string // default "/"
	// HttpOnly, default true.
	HttpOnly bool
	// Secure: always; the cookie is Secure on a TLS request in any case.
	Secure   bool
	SameSite http.SameSite // default http.SameSiteLaxMode
	// Persist, default true: Max-Age and Expires follow the database's
	// expiry; false makes a browser-session cookie (the database's idle
	// timeout still ends the session).
	Persist bool
}

// Manager is the session middleware and its settings.  Make one with New
// and change its fields before the first request.
type Manager struct {
	// Cookie: the cookie's name and attributes.
	Cookie Cookie
	// IdleTimeout and AbsoluteTimeout of new sessions; 0: the database's
	// session.idle_timeout and session.absolute_timeout.
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	// UserKey is the key whose value (a string or an integer) is the
	// database's user_id, so that DestroyUser logs a user out everywhere;
	// default "user_id".  Putting another user there gives the session a
	// new token.
	UserKey string
	// Timeout bounds each statement (its context's deadline); default 5 s.
	Timeout time.Duration
	// ErrorFunc answers a request whose session could not be loaded or
	// saved; default a bare 500.
	ErrorFunc func(w http.ResponseWriter, r *http.Request, err error)

	db     *sql.DB
	schema string
	sql    statements

	// the version check, made once (again after a failure)
	checkMu sync.Mutex
	checked bool
}

// New gives a Manager keeping sessions in db.  schema names the schema of
// the extension's functions ("" when they are on the search_path).
func New(db *sql.DB, schema string) (*Manager, error) {
	st, err := newStatements(schema)
	if err != nil {
		return nil, err
	}
	return &Manager{
		Cookie:  Cookie{Name: "sid", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, Persist: true},
		UserKey: "user_id",
		Timeout: 5 * time.Second,
		db:      db,
		schema:  schema,
		sql:     st,
	}, nil
}

// ErrNoSession is what a method returns when the context has no session:
// the request did not come through Manager.Handle.
var ErrNoSession = errors.New("pgsession: no session in this context (is the handler wrapped in Manager.Handle?)")

type contextKey struct{ m *Manager }

// state is one request's session.
type state struct {
	mu       sync.Mutex
	token    string                     // "" while nothing is stored
	data     map[string]any             // what the handler sees
	orig     map[string]json.RawMessage // each key's JSON as stored
	origUser *string
	expires  time.Time
	// the response's cookie: the token again, or a clearing one
	sendCookie, clearCookie bool
	renew                   bool // RenewToken was called on a stored session
}

func (m *Manager) state(ctx context.Context) *state {
	st, _ := ctx.Value(contextKey{m}).(*state)
	if st == nil {
		panic(ErrNoSession)
	}
	return st
}

// check makes sure, at the first call, that the database's extension is
// one this client can speak to: otherwise a too-old one shows up later, in
// some request, as "function ... does not exist".
func (m *Manager) check(ctx context.Context) error {
	m.checkMu.Lock()
	defer m.checkMu.Unlock()
	if m.checked {
		return nil
	}
	var v string
	if err := m.db.QueryRowContext(ctx, versionSQL).Scan(&v); err != nil {
		return fmt.Errorf("pgsession: reading the extension's version: %w", err)
	}
	if err := versionProblem(v); err != nil {
		return err
	}
	m.checked = true
	return nil
}

func (m *Manager) timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if m.Timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, m.Timeout)
}

// Handle loads the request's session (one session_touch when it has a
// cookie) into its context, and saves what changed before the response's
// first byte, with the cookie in its headers.
func (m *Manager) Handle(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &state{data: map[string]any{}, orig: map[string]json.RawMessage{}}
		if c, err := r.Cookie(m.Cookie.Name); err == nil && c.Value != "" {
			if err := m.load(r.Context(), st, c.Value); err != nil {
				m.fail(w, r, err)
				return
			}
		}
		r = r.WithContext(context.WithValue(r.Context(), contextKey{m}, st))
		sw := &writer{ResponseWriter: w, m: m, r: r, st: st}
		next.ServeHTTP(sw, r)
		if !sw.committed {
			sw.commit()
		}
	})
}

func (m *Manager) load(ctx context.Context, st *state, token string) error {
	ctx, cancel := m.timeout(ctx)
	defer cancel()
	if err := m.check(ctx); err != nil {
		return err
	}
	l, err := m.sql.doTouch(ctx, m.db, token)
	if err != nil {
		return fmt.Errorf("pgsession: loading the session: %w", err)
	}
	if l == nil {
		st.clearCookie = true
		return nil
	}
	st.token = token
	st.data = l.data
	for k, v := range l.data {
		j, _ := json.Marshal(v)
		st.orig[k] = j
	}
	st.origUser = l.user
	st.expires = l.expires
	st.sendCookie = true
	return nil
}

func (m *Manager) fail(w http.ResponseWriter, r *http.Request, err error) {
	if m.ErrorFunc != nil {
		m.ErrorFunc(w, r, err)
		return
	}
	if r.Context().Err() != nil {
		// the client went away (or the server is shutting down): no one to answer
		return
	}
	log.Print(err)
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}

// userOf is the user id at UserKey: nil when absent or null.
func (m *Manager) userOf(data map[string]any) (*string, error) {
	v, ok := data[m.UserKey]
	if !ok || v == nil {
		return nil, nil
	}
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case json.Number:
		s = x.String()
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		s = fmt.Sprint(x)
	default:
		return nil, fmt.Errorf("pgsession: the user id at %q is a %T, not a string or an integer", m.UserKey, v)
	}
	return &s, nil
}

func sameUser(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// save writes what the request changed: a new session, a new user (a new
// token), the changed keys.  More than one statement is one transaction,
// so a request that fails has written nothing.
func (m *Manager) save(ctx context.Context, st *state) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	current := map[string]json.RawMessage{}
	for k, v := range st.data {
		j, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("pgsession: the value at %q cannot be stored as JSON: %w", k, err)
		}
		current[k] = j
	}
	user, err := m.userOf(st.data)
	if err != nil {
		return err
	}
	ctx, cancel := m.timeout(ctx)
	defer cancel()
	if st.token == "" {
		if len(current) == 0 {
			return nil
		}
		if err := m.check(ctx); err != nil {
			return err
		}
		data, _ := json.Marshal(current)
		token, expires, err := m.sql.doCreate(ctx, m.db, user, data, m.IdleTimeout, m.AbsoluteTimeout)
		if err != nil {
			return fmt.Errorf("pgsession: creating the session: %w", err)
		}
		st.token, st.expires, st.orig, st.origUser = token, expires, current, user
		st.sendCookie, st.clearCookie = true, false
		return nil
	}
	patch := map[string]json.RawMessage{}
	var removed []string
	for k, j := range current {
		if o, ok := st.orig[k]; !ok || !bytes.Equal(o, j) {
			patch[k] = j
		}
	}
	for k := range st.orig {
		if _, ok := current[k]; !ok {
			removed = append(removed, k)
		}
	}
	sort.Strings(removed)
	login := user != nil && !sameUser(user, st.origUser)
	regenerate := login || st.renew
	change := len(patch) > 0 || len(removed) > 0
	if !regenerate && !change {
		return nil
	}
	var q querier = m.db
	var tx *sql.Tx
	if regenerate && change {
		if tx, err = m.db.BeginTx(ctx, nil); err != nil {
			return fmt.Errorf("pgsession: saving the session: %w", err)
		}
		defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
		q = tx
	}
	token := st.token
	if regenerate {
		// the new user, if it changed; one statement for RenewToken and a login
		var to *string
		if login {
			to = user
		}
		if token, err = m.sql.doRegenerate(ctx, q, token, to); err != nil {
			return fmt.Errorf("pgsession: a new token: %w", err)
		}
	}
	live := token != ""
	if live && change {
		if live, err = m.sql.doMerge(ctx, q, token, patch, removed); err != nil {
			return fmt.Errorf("pgsession: saving the session: %w", err)
		}
	}
	if tx != nil {
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("pgsession: saving the session: %w", err)
		}
	}
	if !live {
		// it ended elsewhere (destroyed, expired): never bring it back
		st.lost()
		return nil
	}
	st.token, st.orig, st.origUser, st.sendCookie, st.renew = token, current, user, true, false
	return nil
}

func (st *state) lost() {
	st.token = ""
	st.data = map[string]any{}
	st.orig = map[string]json.RawMessage{}
	st.origUser = nil
	st.sendCookie, st.clearCookie, st.renew = false, true, false
}

// writer holds the response's first write until the session is saved and
// its cookie is in the headers.
type writer struct {
	http.ResponseWriter
	m         *Manager
	r         *http.Request
	st        *state
	committed bool
	failed    bool
}

// commit saves the session and sets its cookie; false (the request
// answered by ErrorFunc) when the save failed.
func (w *writer) commit() bool {
	w.committed = true
	if err := w.m.save(w.r.Context(), w.st); err != nil {
		w.failed = true
		w.m.fail(w.ResponseWriter, w.r, err)
		return false
	}
	w.m.setCookie(w.ResponseWriter, w.r, w.st)
	return true
}

func (w *writer) WriteHeader(code int) {
	if w.failed {
		return
	}
	if !w.committed && !w.commit() {
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *writer) Write(b []byte) (int, error) {
	if w.failed {
		return 0, io.ErrClosedPipe
	}
	if !w.committed && !w.commit() {
		return 0, io.ErrClosedPipe
	}
	return w.ResponseWriter.Write(b)
}

// Flush saves the session first, as a write does.
func (w *writer) Flush() {
	if !w.committed && !w.commit() {
		return
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the response underneath.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (m *Manager) setCookie(w http.ResponseWriter, r *http.Request, st *state) {
	st.mu.Lock()
	defer st.mu.Unlock()
	c := &http.Cookie{
		Name: m.Cookie.Name, Domain: m.Cookie.Domain, Path: m.Cookie.Path, HttpOnly: m.Cookie.HttpOnly,
		Secure: m.Cookie.Secure || r.TLS != nil, SameSite: m.Cookie.SameSite,
	}
	switch {
	case st.token != "" && st.sendCookie:
		c.Value = st.token
		if m.Cookie.Persist {
			left := time.Until(st.expires).Truncate(time.Second)
			if left < time.Second {
				left = time.Second
			}
			c.MaxAge = int(left / time.Second)
			c.Expires = time.Now().Add(left).UTC()
		}
	case st.token == "" && st.clearCookie:
		c.MaxAge = -1
		c.Expires = time.Unix(1, 0).UTC()
	default:
		return
	}
	http.SetCookie(w, c)
}

// Get is the value at key (nil when there is none).  A value read back
// from the database is as JSON gives it: a string, a bool, a json.Number,
// a []any or a map[string]any; GetString, GetInt and GetBool convert.
func (m *Manager) Get(ctx context.Context, key string) any {
	st := m.state(ctx)
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.data[key]
}

// GetString is the string at key, or "".
func (m *Manager) GetString(ctx context.Context, key string) string {
	s, _ := m.Get(ctx, key).(string)
	return s
}

// GetBool is the bool at key, or false.
func (m *Manager) GetBool(ctx context.Context, key string) bool {
	b, _ := m.Get(ctx, key).(bool)
	return b
}

// GetInt is the integer at key, or 0.
func (m *Manager) GetInt(ctx context.Context, key string) int {
	switch x := m.Get(ctx, key).(type) {
	case int:
		return x
	case int64:
		return int(x)
	case json.Number:
		n, _ := strconv.Atoi(x.String())
		return n
	case float64:
		return int(x)
	}
	return 0
}

// Put stores val (anything encoding/json can encode) at key; it is
// written at the end of the request.
func (m *Manager) Put(ctx context.Context, key string, val any) {
	st := m.state(ctx)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.data[key] = val
}

// Pop is Get, then Remove.
func (m *Manager) Pop(ctx context.Context, key string) any {
	st := m.state(ctx)
	st.mu.Lock()
	defer st.mu.Unlock()
	v := st.data[key]
	delete(st.data, key)
	return v
}

// Remove deletes key; the stored session loses it at the end of the request.
func (m *Manager) Remove(ctx context.Context, key string) {
	st := m.state(ctx)
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.data, key)
}

// Exists says whether key is set.
func (m *Manager) Exists(ctx context.Context, key string) bool {
	st := m.state(ctx)
	st.mu.Lock()
	defer st.mu.Unlock()
	_, ok := st.data[key]
	return ok
}

// Keys are the session's keys, sorted.
func (m *Manager) Keys(ctx context.Context) []string {
	st := m.state(ctx)
	st.mu.Lock()
	defer st.mu.Unlock()
	keys := make([]string, 0, len(st.data))
	for k := range st.data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Token is the session's token ("" while nothing is stored).
func (m *Manager) Token(ctx context.Context) string {
	st := m.state(ctx)
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.token
}

// RenewToken gives a stored session a new token at the end of the
// request, keeping its data (session_regenerate, the old token dead when
// it commits): call it on login and on any change of privilege.  Putting a
// new user at UserKey does the same by itself, in the same statement.  A
// session not stored yet gets its first token when it is.  The error is
// always nil (scs's signature): a failure to save fails the request.
func (m *Manager) RenewToken(ctx context.Context) error {
	st := m.state(ctx)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.token != "" {
		st.renew = true
	}
	return nil
}

// Destroy ends the session (session_destroy) and clears its cookie; the
// request goes on with a new empty session, stored only if something is
// put in it.
func (m *Manager) Destroy(ctx context.Context) error {
	st := m.state(ctx)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.token != "" {
		qctx, cancel := m.timeout(ctx)
		defer cancel()
		if err := m.sql.doDestroy(qctx, m.db, st.token); err != nil {
			return fmt.Errorf("pgsession: destroying the session: %w", err)
		}
	}
	st.lost()
	return nil
}

// DestroyUser ends every session of userID but the one whose token is
// except ("" for none): log out everywhere (else).  It returns how many ended.
func (m *Manager) DestroyUser(ctx context.Context, userID, except string) (int, error) {
	qctx, cancel := m.timeout(ctx)
	defer cancel()
	var n int
	var ex any
	if except != "" {
		ex = except
	}
	if err := m.db.QueryRowContext(qctx, m.sql.destroyUser, userID, ex).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgsession: destroying the user's sessions: %w", err)
	}
	return n, nil
}
