package pgsession

// store.go: the SQL this client sends, one function per call of the
// session extension's API.  Nothing here knows about HTTP.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// querier is what a call runs on: the *sql.DB, or a *sql.Tx when a
// request's writes must be one transaction.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// statements holds the SQL, schema-qualified when the Manager names a schema.
type statements struct {
	touch, create, regenerate, merge, destroy, destroyUser string
}

var plainIdent = regexp.MustCompile(`^[a-z_][a-z0-9_$]*$`)

func newStatements(schema string) (statements, error) {
	s := ""
	if schema != "" {
		if !plainIdent.MatchString(schema) {
			return statements{}, fmt.Errorf("pgsession: Schema must be a plain lower-case SQL identifier, not %q", schema)
		}
		s = `"` + schema + `".`
	}
	return statements{
		touch: `SELECT user_id, data, expires_at, absolute_expires_at FROM ` + s + `session_touch($1)`,
		create: `SELECT c.token, r.expires_at, r.absolute_expires_at
			FROM ` + s + `session_create($1, $2::jsonb, $3::interval, $4::interval) AS c(token),
			     LATERAL ` + s + `session_get(c.token) AS r`,
		regenerate: `SELECT ` + s + `session_regenerate($1, $2)`,
		// the removed keys as a JSON array, so that no driver's array type is needed
		merge: `SELECT ` + s + `session_merge($1, $2::jsonb,
			ARRAY(SELECT jsonb_array_elements_text($3::jsonb)))`,
		destroy:     `SELECT ` + s + `session_destroy($1)`,
		destroyUser: `SELECT ` + s + `session_destroy_user($1, $2)`,
	}, nil
}

// versionSQL is the session extension's version in the database ("" when it has none).
const versionSQL = `SELECT coalesce((SELECT extversion FROM pg_catalog.pg_extension
	WHERE extname OPERATOR(pg_catalog.=) 'session'), '')`

// versionProblem says what is wrong with the extension version v, or nil:
// this client calls session_merge(token, patch, remove), new in 1.4.
func versionProblem(v string) error {
	if v == "" {
		return errors.New("pgsession: this database has no session extension (CREATE EXTENSION session)")
	}
	var major, minor int
	if _, err := fmt.Sscanf(v, "%d.%d", &major, &minor); err != nil {
		return fmt.Errorf("pgsession: the session extension's version %q is not major.minor", v)
	}
	if major > 1 || (major == 1 && minor >= 4) {
		return nil
	}
	return fmt.Errorf("pgsession: this database's session extension is %s, and this client needs 1.4 or newer; "+
		"run ALTER EXTENSION session UPDATE", v)
}

// loaded is a live session as session_touch gives it.
type loaded struct {
	user    *string
	data    map[string]any
	expires time.Time
}

// expiry is when a session ends: its idle expiry, capped by its absolute one.
func expiry(expires time.Time, absolute sql.NullTime) time.Time {
	if absolute.Valid && absolute.Time.Before(expires) {
		return absolute.Time
	}
	return expires
}

// decode reads a session's data: numbers as json.Number, so that an
// integer comes back as the integer it was.
func decode(raw []byte) (map[string]any, error) {
	data := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&data); err != nil {
		return nil, fmt.Errorf("pgsession: the session's data is not a JSON object: %w", err)
	}
	return data, nil
}

// touch validates token and rolls its expiry; nil when it names no live session.
func (st statements) doTouch(ctx context.Context, q querier, token string) (*loaded, error) {
	var user sql.NullString
	var raw []byte
	var expires time.Time
	var absolute sql.NullTime
	err := q.QueryRowContext(ctx, st.touch, token).Scan(&user, &raw, &expires, &absolute)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	data, err := decode(raw)
	if err != nil {
		return nil, err
	}
	l := &loaded{data: data, expires: expiry(expires, absolute)}
	if user.Valid {
		l.user = &user.String
	}
	return l, nil
}

// interval is a duration as an SQL interval, or NULL (the database's setting) for 0.
func interval(d time.Duration) any {
	if d <= 0 {
		return nil
	}
	return fmt.Sprintf("%d milliseconds", d.Milliseconds())
}

func (st statements) doCreate(ctx context.Context, q querier, user *string, data []byte,
	idle, absolute time.Duration) (string, time.Time, error) {
	var token string
	var expires time.Time
	var abs sql.NullTime
	err := q.QueryRowContext(ctx, st.create, nullable(user), string(data), interval(idle), interval(absolute)).
		Scan(&token, &expires, &abs)
	if err != nil {
		return "", time.Time{}, err
	}
	return token, expiry(expires, abs), nil
}

// doRegenerate gives the session a new token ("" when it is gone), and
// user as its user when not nil.
func (st statements) doRegenerate(ctx context.Context, q querier, token string, user *string) (string, error) {
	var next sql.NullString
	if err := q.QueryRowContext(ctx, st.regenerate, token, nullable(user)).Scan(&next); err != nil {
		return "", err
	}
	return next.String, nil
}

// doMerge writes the changed keys and removes the removed ones; false when the session is gone.
func (st statements) doMerge(ctx context.Context, q querier, token string, patch map[string]json.RawMessage,
	removed []string) (bool, error) {
	p, err := json.Marshal(patch)
	if err != nil {
		return false, err
	}
	if removed == nil {
		removed = []string{}
	}
	r, err := json.Marshal(removed)
	if err != nil {
		return false, err
	}
	var data []byte
	if err := q.QueryRowContext(ctx, st.merge, token, string(p), string(r)).Scan(&data); err != nil {
		return false, err
	}
	return data != nil, nil
}

func (st statements) doDestroy(ctx context.Context, q querier, token string) error {
	var ended bool
	return q.QueryRowContext(ctx, st.destroy, token).Scan(&ended)
}

func nullable(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}
