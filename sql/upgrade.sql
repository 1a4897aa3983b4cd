-- ALTER EXTENSION session UPDATE from 1.0 to 1.1: session_touch and
-- session_get return the named type session_row instead of RETURNS TABLE
-- columns; rows, column names and types, tokens and EXECUTE grants stay.
-- Then from 1.1 to 1.2: the keys table's superseded_at and row trigger.
SELECT current_database() AS regression_db \gset
CREATE DATABASE session_upgrade;
CREATE ROLE session_upgrade_app;
CREATE ROLE session_upgrade_admin;
\c session_upgrade
SET client_min_messages = warning;
CREATE EXTENSION session VERSION '1.0';
GRANT EXECUTE ON FUNCTION session_touch(text), session_get(text)
    TO session_upgrade_app;
GRANT EXECUTE ON FUNCTION session_get(text)
    TO session_upgrade_admin WITH GRANT OPTION;
SELECT session_create('ann', '{"n": 1}') AS tok \gset
SELECT pg_get_function_result('session_touch(text)'::regprocedure) AS touch_1_0;

-- A view over session_get makes the update fail, with nothing changed.
CREATE VIEW ann_view AS SELECT user_id FROM session_get('x');
-- (18 adds the script's text to the error's context: not shown, on any
-- version)
\set SHOW_CONTEXT never
ALTER EXTENSION session UPDATE TO '1.1';
\set SHOW_CONTEXT errors
SELECT extversion FROM pg_extension WHERE extname = 'session';
SELECT count(*) AS session_row_types FROM pg_type WHERE typname = 'session_row';
DROP VIEW ann_view;

ALTER EXTENSION session UPDATE TO '1.1';
SELECT extversion FROM pg_extension WHERE extname = 'session';
SELECT pg_get_function_result('session_touch(text)'::regprocedure) AS touch,
       pg_get_function_result('session_get(text)'::regprocedure) AS get;
SELECT attname, format_type(atttypid, atttypmod)
FROM pg_attribute
WHERE attrelid = 'session_row'::regclass AND attnum > 0
ORDER BY attnum;

-- the grants are as they were; PUBLIC still has none
SELECT r.r AS role, f.f AS function,
       has_function_privilege(r.r, f.f, 'EXECUTE') AS execute,
       has_function_privilege(r.r, f.f, 'EXECUTE WITH GRANT OPTION') AS grant_option
FROM (VALUES ('session_upgrade_app'), ('session_upgrade_admin')) r(r),
     (VALUES ('session_touch(text)'), ('session_get(text)')) f(f)
ORDER BY 1, 2;
SELECT p.proname, count(*) FILTER (WHERE a.grantee = 0) AS public_grants
FROM pg_proc p, aclexplode(p.proacl) a
WHERE p.oid IN ('session_touch(text)'::regprocedure, 'session_get(text)'::regprocedure)
GROUP BY 1 ORDER BY 1;
-- the functions are still members of the extension
SELECT count(*) AS members
FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
WHERE e.extname = 'session' AND d.deptype = 'e'
  AND d.objid IN ('session_touch(text)'::regprocedure, 'session_get(text)'::regprocedure,
                  'session_row'::regtype);

-- a token made under 1.0 still works, with the same columns
SELECT user_id, data, expires_at > now() AS live FROM session_touch(:'tok');
SELECT user_id, data FROM session_get(:'tok');
SELECT count(*) FROM session_touch('not a token');
SET ROLE session_upgrade_app;
SELECT user_id FROM session_get(:'tok');
RESET ROLE;

-- 1.1 to 1.2: keys.superseded_at, set for keys already superseded, and
-- the keys trigger per row (and on TRUNCATE)
SELECT session_rotate_key();
ALTER EXTENSION session UPDATE TO '1.2';
SELECT extversion FROM pg_extension WHERE extname = 'session';
SELECT count(*) AS keys, count(superseded_at) AS superseded FROM session_internal.keys;
SELECT tgname, tgtype FROM pg_trigger
WHERE tgrelid = 'session_internal.keys'::regclass ORDER BY tgname;
-- the token made under 1.0 still works, and a rotation reaches this backend
SELECT user_id FROM session_touch(:'tok');
SELECT session_rotate_key();
SELECT session_create('bob') AS tok2 \gset
SELECT s.key_id = (SELECT id FROM session_internal.keys ORDER BY created_at DESC, id DESC LIMIT 1)
       AS signed_with_newest
FROM session_internal.sessions s WHERE s.user_id = 'bob';

-- 1.2 to 1.3: session_shard_hash, for PUBLIC; tokens made before route
-- as they always would have
ALTER EXTENSION session UPDATE TO '1.3';
SELECT extversion FROM pg_extension WHERE extname = 'session';
SET ROLE session_upgrade_app;
SELECT session_shard_hash(:'tok') = get_byte(sha256(convert_to(split_part(:'tok', '.', 1), 'UTF8')), 0)
       AS routes_by_hash;
RESET ROLE;
SELECT user_id FROM session_touch(:'tok');

-- 1.3 to 1.4: session_merge(token, patch, remove) and
-- session_set_idle_timeout, not granted to PUBLIC; every session kept
SELECT count(*) AS sessions_before FROM session_internal.sessions \gset
ALTER EXTENSION session UPDATE TO '1.4';
SELECT extversion FROM pg_extension WHERE extname = 'session';
SELECT count(*) = :sessions_before AS every_session_kept FROM session_internal.sessions;
SELECT session_merge(:'tok', '{"kept": null}', '{}') AS merged_null;
SELECT session_set_idle_timeout(:'tok', '1 hour') <= now() + interval '1 hour' AS timeout_set;
SELECT p.oid::regprocedure AS function, has_function_privilege('session_upgrade_app', p.oid, 'EXECUTE') AS app_may
FROM pg_proc p WHERE p.proname IN ('session_merge', 'session_set_idle_timeout') ORDER BY 1;
SELECT user_id FROM session_touch(:'tok');

-- 1.4 to 1.5: session_bind and its readers, not granted to PUBLIC; every
-- session kept, and a session made before binds
SELECT count(*) AS sessions_before FROM session_internal.sessions \gset
ALTER EXTENSION session UPDATE TO '1.5';
SELECT extversion FROM pg_extension WHERE extname = 'session';
SELECT count(*) = :sessions_before AS every_session_kept FROM session_internal.sessions;
BEGIN;
SELECT user_id FROM session_bind(:'tok');
SELECT session_bound_user();
COMMIT;
SELECT p.oid::regprocedure AS function, has_function_privilege('session_upgrade_app', p.oid, 'EXECUTE') AS app_may
FROM pg_proc p WHERE p.proname LIKE 'session_b%' ORDER BY 1;

-- 1.5 to 1.6: session_list's handles.  The library is 1.6's, and a database
-- still at 1.5 gets 1.5's columns from it; after the update, every session
-- is kept and listed with its handle, session_list's grants are as they
-- were (with the grant option), PUBLIC has none, and session_destroy_handle
-- is granted to no one.
GRANT EXECUTE ON FUNCTION session_list(text) TO session_upgrade_app;
GRANT EXECUTE ON FUNCTION session_list(text) TO session_upgrade_admin WITH GRANT OPTION;
SELECT pg_get_function_result('session_list(text)'::regprocedure) AS list_1_5;
SELECT count(*) AS listed_1_5 FROM session_list('ann');
SELECT count(*) AS sessions_before FROM session_internal.sessions \gset
ALTER EXTENSION session UPDATE TO '1.6';
SELECT extversion FROM pg_extension WHERE extname = 'session';
SELECT count(*) = :sessions_before AS every_session_kept FROM session_internal.sessions;
SELECT pg_get_function_result('session_list(text)'::regprocedure) AS list;
SELECT r.r AS role, f.f AS function,
       has_function_privilege(r.r, f.f, 'EXECUTE') AS execute,
       has_function_privilege(r.r, f.f, 'EXECUTE WITH GRANT OPTION') AS grant_option
FROM (VALUES ('session_upgrade_app'), ('session_upgrade_admin')) r(r),
     (VALUES ('session_list(text)'), ('session_destroy_handle(text, text)')) f(f)
ORDER BY 1, 2;
SELECT p.proname, count(*) FILTER (WHERE a.grantee = 0) AS public_grants
FROM pg_proc p LEFT JOIN LATERAL aclexplode(p.proacl) a ON true
WHERE p.proname IN ('session_list', 'session_destroy_handle')
GROUP BY 1 ORDER BY 1;
SELECT count(*) AS members
FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
WHERE e.extname = 'session' AND d.deptype = 'e'
  AND d.objid IN ('session_list(text)'::regprocedure,
                  'session_destroy_handle(text, text)'::regprocedure);
-- a session made under 1.0 is listed with a handle, which ends it
SELECT handle AS ann_handle FROM session_list('ann') \gset
SELECT length(:'ann_handle') AS handle_length;
SET ROLE session_upgrade_app;
SELECT count(*) AS app_lists FROM session_list('ann');
RESET ROLE;
SELECT session_destroy_handle('ann', :'ann_handle') AS ended;
SELECT count(*) AS ann_rows FROM session_touch(:'tok');

-- a fresh install at 1.6 has the same result types and the same keys table
\c :regression_db
SELECT pg_get_function_result('session_touch(text)'::regprocedure) AS touch,
       pg_get_function_result('session_get(text)'::regprocedure) AS get;
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'session_internal.keys'::regclass AND attnum > 0 ORDER BY attnum;
SELECT tgname, tgtype FROM pg_trigger
WHERE tgrelid = 'session_internal.keys'::regclass ORDER BY tgname;
DROP DATABASE session_upgrade;
DROP ROLE session_upgrade_app;
DROP ROLE session_upgrade_admin;
