--
-- The session bound to the transaction, for row-level security: as an
-- app role without BYPASSRLS, a table whose policy reads
-- session_bound_user() shows each user only their rows, and nothing
-- without a bind, whatever SQL the role runs.
--
\set VERBOSITY terse

CREATE ROLE regress_bind_app NOLOGIN;
GRANT EXECUTE ON FUNCTION session_create(text, jsonb, interval, interval),
    session_bind(text), session_bound_user(), session_bound_data(), session_destroy(text),
    session_postgrest_pre_request(text, text)
TO regress_bind_app;

CREATE TABLE notes (id serial PRIMARY KEY, owner text NOT NULL, body text);
CREATE INDEX notes_owner ON notes (owner);
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_notes ON notes
    USING (owner = session_bound_user())
    WITH CHECK (owner = session_bound_user());
GRANT SELECT, INSERT, UPDATE, DELETE ON notes TO regress_bind_app;
GRANT USAGE ON SEQUENCE notes_id_seq TO regress_bind_app;
INSERT INTO notes (owner, body)
SELECT CASE WHEN i % 2 = 0 THEN 'alice' ELSE 'bob' END, 'note ' || i
FROM generate_series(1, 2000) i;
ANALYZE notes;

-- the role may plant objects in a schema of its own
CREATE SCHEMA regress_bind_planted AUTHORIZATION regress_bind_app;

SET ROLE regress_bind_app;
SELECT session_create('alice', '{"role": "member"}') AS alice \gset
SELECT session_create('bob', '{"role": "admin"}') AS bob \gset

-- No bind: no rows, and the readers are NULL.
SELECT count(*) FROM notes;
SELECT session_bound_user(), session_bound_data();

-- A bind shows the user's rows only, and returns session_touch's row.
BEGIN;
SELECT user_id, data FROM session_bind(:'alice');
SELECT session_bound_user(), session_bound_data();
SELECT count(*), min(owner), max(owner) FROM notes;
INSERT INTO notes (owner, body) VALUES ('alice', 'mine');
INSERT INTO notes (owner, body) VALUES ('bob', 'not mine');
ROLLBACK;
-- ended with the transaction, aborted or committed
SELECT count(*) FROM notes;
BEGIN;
SELECT user_id FROM session_bind(:'alice');
COMMIT;
SELECT count(*) FROM notes;
SELECT session_bound_user();

-- A second bind replaces the first; one that finds no session unbinds.
BEGIN;
SELECT user_id FROM session_bind(:'alice');
SELECT user_id FROM session_bind(:'bob');
SELECT count(*), min(owner), max(owner) FROM notes;
SELECT count(*) FROM session_bind('not-a-token');
SELECT count(*) FROM notes;
SELECT session_bound_user();
COMMIT;

-- Savepoints: a bind in a savepoint rolled back is undone, the one before
-- it comes back; one in a released savepoint stays.
BEGIN;
SELECT user_id FROM session_bind(:'alice');
SAVEPOINT s1;
SELECT user_id FROM session_bind(:'bob');
SELECT session_bound_user();
ROLLBACK TO s1;
SELECT session_bound_user();
SAVEPOINT s2;
SELECT user_id FROM session_bind(:'bob');
RELEASE s2;
SELECT session_bound_user();
SAVEPOINT s3;
SELECT count(*) FROM session_bind('not-a-token');
ROLLBACK TO s3;
SELECT session_bound_user();
-- an error inside a savepoint undoes its bind too
SAVEPOINT s4;
SELECT user_id FROM session_bind(:'alice');
SELECT 1 / 0;
ROLLBACK TO s4;
SELECT session_bound_user();
COMMIT;

-- A forged token (one character changed) binds nothing.
SELECT overlay(:'alice' placing CASE WHEN substr(:'alice', 40, 1) = 'A' THEN 'B' ELSE 'A' END
               from 40 for 1) AS forged \gset
BEGIN;
SELECT count(*) FROM session_bind(:'forged');
SELECT count(*) FROM notes;
COMMIT;

-- No setting makes a binding: not PostgREST's, not any other (the
-- extension's own prefix, session., takes no names it does not define).
SET session.bound_user = 'alice';
BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "alice"}';
SELECT set_config('app.user_id', 'alice', true);
SELECT count(*) FROM notes;
SELECT session_bound_user();
COMMIT;

-- A function planted under the same name, first in the search_path, is not
-- the one the policy calls (it was resolved when the policy was made), and
-- a bind through it does nothing.
CREATE FUNCTION regress_bind_planted.session_bound_user() RETURNS text
    LANGUAGE sql STABLE AS $$ SELECT 'bob'::text $$;
SET search_path = regress_bind_planted, public;
SELECT session_bound_user();
SELECT count(*) FROM notes;
RESET search_path;

-- A prepared statement reused after commit sees the binding of the
-- transaction that executes it, not of the one that prepared it.
PREPARE mine AS SELECT count(*), min(owner), max(owner) FROM notes;
BEGIN;
SELECT user_id FROM session_bind(:'alice');
EXECUTE mine;
COMMIT;
EXECUTE mine;
BEGIN;
SELECT user_id FROM session_bind(:'bob');
EXECUTE mine;
COMMIT;
DEALLOCATE mine;

-- A destroyed or expired session binds nothing.
SELECT session_create('carol') AS carol \gset
SELECT session_create('dave') AS dave \gset
SELECT session_destroy(:'carol');
BEGIN;
SELECT count(*) FROM session_bind(:'carol');
SELECT session_bound_user();
COMMIT;
RESET ROLE;
UPDATE session_internal.sessions SET expires_at = now() - interval '1 second'
WHERE user_id = 'dave';
SET ROLE regress_bind_app;
BEGIN;
SELECT count(*) FROM session_bind(:'dave');
SELECT session_bound_user();
COMMIT;

-- The index on owner is used: the reader is STABLE, so it is an index
-- condition, evaluated once per scan.
BEGIN;
SELECT user_id FROM session_bind(:'alice');
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT body FROM notes WHERE body LIKE 'note 1%';
COMMIT;

-- Parallel query: the readers are PARALLEL RESTRICTED (a worker does not
-- have the leader's binding and would see none), and PostgreSQL does not
-- run a scan whose policy calls them in a worker: even forced, the plan
-- under the policy stays in the leader, and every row of the user is
-- counted.
BEGIN;
SELECT user_id FROM session_bind(:'bob');
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
                       THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END,
                  'on', true) AS forced;
SELECT count(*), min(owner), max(owner) FROM notes;
EXPLAIN (COSTS OFF) SELECT count(*) FROM notes;
COMMIT;
SELECT proname, provolatile, proparallel FROM pg_proc
WHERE proname IN ('session_bind', 'session_bound_user', 'session_bound_data')
  AND pronamespace = 'public'::regnamespace ORDER BY 1;

-- PostgREST's db-pre-request hook, with the settings as PostgREST sets
-- them (PostgREST itself is not installed here): request.cookies, JSON of
-- the request's cookies, in; response.headers, a JSON array of objects,
-- out, appended to.
BEGIN;
SELECT set_config('request.cookies', json_build_object('theme', 'dark', 'sid', :'bob')::text, true) IS NOT NULL AS cookies_set;
SELECT set_config('response.headers', '[{"Cache-Control": "no-store"}]', true);
SELECT session_postgrest_pre_request();
SELECT session_bound_user();
SELECT count(*), min(owner), max(owner) FROM notes;
SELECT jsonb_array_length(current_setting('response.headers')::jsonb) AS headers,
       current_setting('response.headers')::jsonb -> 0 AS kept,
       (current_setting('response.headers')::jsonb -> 1 ->> 'Set-Cookie')
           ~ ('^sid=' || :'bob' || '; Max-Age=60[0-9]{4}; Path=/; HttpOnly; Secure; SameSite=Lax$') AS cookie_sent;
COMMIT;
-- a cookie of another name, and attributes of its own
BEGIN;
SELECT set_config('request.cookies', json_build_object('app_sid', :'bob')::text, true) IS NOT NULL AS cookies_set;
SELECT session_postgrest_pre_request('app_sid', 'Path=/api; HttpOnly');
SELECT split_part(current_setting('response.headers')::jsonb -> 0 ->> 'Set-Cookie', ';', 3) AS attribute;
COMMIT;
-- a forged cookie, or none: nothing bound, no header
BEGIN;
SELECT set_config('request.cookies', json_build_object('sid', :'forged')::text, true) IS NOT NULL AS cookies_set;
SELECT session_postgrest_pre_request();
SELECT session_bound_user(), current_setting('response.headers', true) AS headers;
COMMIT;
BEGIN;
SELECT set_config('request.cookies', '{}', true);
SELECT session_postgrest_pre_request();
SELECT session_bound_user(), current_setting('response.headers', true) AS headers;
COMMIT;

RESET ROLE;
-- Only what was granted: a role without EXECUTE cannot bind or read.
CREATE ROLE regress_bind_other NOLOGIN;
SET ROLE regress_bind_other;
SELECT session_bound_user();
SELECT * FROM session_bind('x');
RESET ROLE;

DROP SCHEMA regress_bind_planted CASCADE;
DROP TABLE notes;
DROP ROLE regress_bind_other;
REVOKE ALL ON FUNCTION session_create(text, jsonb, interval, interval),
    session_bind(text), session_bound_user(), session_bound_data(), session_destroy(text),
    session_postgrest_pre_request(text, text)
FROM regress_bind_app;
DROP ROLE regress_bind_app;
