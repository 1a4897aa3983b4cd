package main

// Side G1's session layer: what scs (github.com/alexedwards/scs/v2) with
// its postgresstore does, written out here because neither is packaged by
// Debian.  As scs's LoadAndSave: the token (32 random bytes, base64url) from
// the cookie; postgresstore's Find (SELECT data ... WHERE token = $1 AND
// current_timestamp < expiry); the handler; and, since an idle timeout
// makes every request's session "modified" in scs, its Commit on every
// request (an upsert of the whole gob-encoded session with the new
// expiry); RenewToken deletes the old token's row and commits under a new
// one.

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/gob"
	"errors"
	"net/http"
	"sync"
	"time"
)

const scsSchema = `CREATE TABLE IF NOT EXISTS sessions (
	token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions (expiry)`

type scsManager struct {
	db          *sql.DB
	idleTimeout time.Duration
}

type scsData struct {
	mu       sync.Mutex
	token    string
	values   map[string]any
	deadline time.Time
	status   int // 0 unmodified, 1 modified, 2 destroyed
	renewed  string
}

type scsKey struct{}

func scsToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// the encoded form scs's gob codec writes: the deadline and the values
type scsRecord struct {
	Deadline time.Time
	Values   map[string]any
}

func (m *scsManager) find(ctx context.Context, token string) (*scsData, error) {
	var b []byte
	err := m.db.QueryRowContext(ctx, "SELECT data FROM sessions WHERE token = $1 AND current_timestamp < expiry", token).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rec scsRecord
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&rec); err != nil {
		return nil, err
	}
	return &scsData{token: token, values: rec.Values, deadline: rec.Deadline}, nil
}

func (m *scsManager) commit(ctx context.Context, d *scsData) error {
	if d.token == "" {
		d.token = scsToken()
	}
	expiry := time.Now().Add(m.idleTimeout)
	if expiry.After(d.deadline) {
		expiry = d.deadline
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(scsRecord{Deadline: d.deadline, Values: d.values}); err != nil {
		return err
	}
	_, err := m.db.ExecContext(ctx, `INSERT INTO sessions (token, data, expiry) VALUES ($1, $2, $3)
		ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry`, d.token, buf.Bytes(), expiry)
	return err
}

func (m *scsManager) LoadAndSave(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var d *scsData
		if c, err := r.Cookie("sid"); err == nil {
			if d, err = m.find(r.Context(), c.Value); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
		}
		if d == nil {
			d = &scsData{values: map[string]any{}, deadline: time.Now().Add(24 * time.Hour * 30)}
		} else if m.idleTimeout > 0 {
			d.status = 1
		}
		r = r.WithContext(context.WithValue(r.Context(), scsKey{}, d))
		bw := &bufferedWriter{ResponseWriter: w}
		next.ServeHTTP(bw, r)
		switch d.status {
		case 1:
			if d.renewed != "" {
				if _, err := m.db.ExecContext(r.Context(), "DELETE FROM sessions WHERE token = $1", d.renewed); err != nil {
					http.Error(w, err.Error(), 500)
					return
				}
			}
			if err := m.commit(r.Context(), d); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			http.SetCookie(w, &http.Cookie{Name: "sid", Value: d.token, Path: "/", HttpOnly: true,
				SameSite: http.SameSiteLaxMode, MaxAge: int(m.idleTimeout / time.Second)})
		case 2:
			http.SetCookie(w, &http.Cookie{Name: "sid", Path: "/", MaxAge: -1})
		}
		w.Header().Set("Vary", "Cookie")
		bw.flush()
	})
}

// bufferedWriter holds the handler's response until the session is
// committed, as scs's LoadAndSave does.
type bufferedWriter struct {
	http.ResponseWriter
	buf  bytes.Buffer
	code int
}

func (b *bufferedWriter) WriteHeader(code int)        { b.code = code }
func (b *bufferedWriter) Write(p []byte) (int, error) { return b.buf.Write(p) }
func (b *bufferedWriter) flush() {
	if b.code != 0 {
		b.ResponseWriter.WriteHeader(b.code)
	}
	b.ResponseWriter.Write(b.buf.Bytes())
}

func scsOf(ctx context.Context) *scsData { return ctx.Value(scsKey{}).(*scsData) }

func (m *scsManager) Get(ctx context.Context, k string) any {
	d := scsOf(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.values[k]
}

func (m *scsManager) Put(ctx context.Context, k string, v any) {
	d := scsOf(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.values[k] = v
	d.status = 1
}

func (m *scsManager) Keys(ctx context.Context) []string {
	d := scsOf(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	keys := make([]string, 0, len(d.values))
	for k := range d.values {
		keys = append(keys, k)
	}
	return keys
}

func (m *scsManager) RenewToken(ctx context.Context) error {
	d := scsOf(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.token != "" && d.renewed == "" {
		d.renewed = d.token
	}
	d.token = scsToken()
	d.status = 1
	return nil
}
