--
-- Devices (1.6): session_list gives each session's handle and when it was
-- last used; session_destroy_handle ends one of a user's sessions by it.
--
SELECT pg_get_function_result('session_list(text)'::regprocedure) AS list,
       pg_get_function_result('session_destroy_handle(text, text)'::regprocedure) AS destroy_handle;

SELECT session_create('dev_ann', '{"device": "phone"}') AS phone \gset
SELECT session_create('dev_ann', '{"device": "laptop"}') AS laptop \gset
SELECT session_create('dev_ben', '{"device": "tablet"}') AS tablet \gset

-- A handle is 43 characters of base64url, in no part of the token; a
-- session never used since its creation was last used then.
SELECT data->>'device' AS device, length(handle) AS length,
       handle ~ '^[A-Za-z0-9_-]{43}$' AS base64url,
       strpos(:'phone', handle) = 0 AND strpos(:'laptop', handle) = 0
           AND strpos(handle, split_part(:'phone', '.', 1)) = 0
           AND strpos(handle, split_part(:'laptop', '.', 1)) = 0 AS not_the_token,
       last_used_at = created_at AS unused
FROM session_list('dev_ann');
SELECT handle AS phone_handle FROM session_list('dev_ann') WHERE data->>'device' = 'phone' \gset
SELECT handle AS laptop_handle FROM session_list('dev_ann') WHERE data->>'device' = 'laptop' \gset
SELECT handle AS tablet_handle FROM session_list('dev_ben') \gset

-- Last used: when a touch last rolled the expiry (here one that writes at
-- once: a new idle timeout, or a touch with no throttle); the handle stays.
SELECT session_set_idle_timeout(:'laptop', '2 hours') AS laptop_expiry \gset
SELECT last_used_at = :'laptop_expiry'::timestamptz - interval '2 hours' AS last_used_is_that_touch,
       handle = :'laptop_handle' AS same_handle
FROM session_list('dev_ann') WHERE data->>'device' = 'laptop';
SET session.touch_interval = 0;
SELECT expires_at AS phone_expiry FROM session_touch(:'phone') \gset
RESET session.touch_interval;
SELECT last_used_at = :'phone_expiry'::timestamptz - s.idle_timeout AS last_used_is_that_touch,
       handle = :'phone_handle' AS same_handle
FROM session_list('dev_ann') l, session_internal.sessions s
WHERE l.data->>'device' = 'phone' AND s.user_id = 'dev_ann' AND s.data->>'device' = 'phone';

-- A handle of another user's session ends nothing; nor does anything that
-- is not a handle (the token itself, its id, one character off, the
-- non-canonical spelling of the same bytes, NULLs).
SELECT session_destroy_handle('dev_ben', :'phone_handle') AS other_users;
SELECT session_destroy_handle('dev_ann', :'tablet_handle') AS other_users;
SELECT session_destroy_handle('dev_ann', :'phone') AS token,
       session_destroy_handle('dev_ann', split_part(:'phone', '.', 1)) AS id,
       session_destroy_handle('dev_ann', :'phone_handle' || 'A') AS longer,
       session_destroy_handle('dev_ann', left(:'phone_handle', 42)) AS shorter,
       session_destroy_handle('dev_ann', left(:'phone_handle', 42) || '*') AS alphabet,
       session_destroy_handle('dev_ann', '') AS empty,
       session_destroy_handle('dev_ann', NULL) AS null_handle,
       session_destroy_handle(NULL, :'phone_handle') AS null_user;
-- the last character of a handle carries 2 unused bits, which must be zero
SELECT session_destroy_handle('dev_ann',
           left(:'phone_handle', 42) ||
           substr('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
                  strpos('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
                         right(:'phone_handle', 1)) + 1, 1)) AS non_canonical;
SELECT count(*) AS ann_sessions FROM session_list('dev_ann');
SELECT count(*) AS ben_sessions FROM session_list('dev_ben');

-- The user's own handle ends that session, and only it; once.
SELECT session_destroy_handle('dev_ann', :'phone_handle') AS ended;
SELECT count(*) AS phone_rows FROM session_touch(:'phone');
SELECT data->>'device' AS still_signed_in FROM session_touch(:'laptop');
SELECT session_destroy_handle('dev_ann', :'phone_handle') AS again;

-- A regenerate makes a new id, so a new handle: the old one ends nothing.
SELECT session_regenerate(:'laptop') AS laptop2 \gset
SELECT handle <> :'laptop_handle' AS new_handle FROM session_list('dev_ann');
SELECT session_destroy_handle('dev_ann', :'laptop_handle') AS old_handle;
SELECT handle AS laptop2_handle FROM session_list('dev_ann') \gset
SELECT session_destroy_handle('dev_ann', :'laptop2_handle') AS new_handle;
SELECT count(*) AS ann_sessions FROM session_list('dev_ann');

-- An expired session is not listed, and ending it by handle says false.
SELECT session_create('dev_cat', '{}', '1 second') AS cat \gset
SELECT handle AS cat_handle FROM session_list('dev_cat') \gset
UPDATE session_internal.sessions SET expires_at = now() - interval '1 minute',
    created_at = now() - interval '2 minutes'
WHERE user_id = 'dev_cat';
SELECT count(*) AS listed FROM session_list('dev_cat');
SELECT session_destroy_handle('dev_cat', :'cat_handle') AS live;
SELECT count(*) AS rows_left FROM session_internal.sessions WHERE user_id = 'dev_cat';

-- A row written by hand with a hash of another length is listed with no
-- handle.
INSERT INTO session_internal.sessions (id_hash, key_id, user_id, data, created_at,
                                       expires_at, idle_timeout)
SELECT '\x0102'::bytea, min(id), 'dev_dan', '{}', now(), now() + interval '1 hour', '1 hour'
FROM session_internal.keys;
SELECT handle IS NULL AS no_handle FROM session_list('dev_dan');
DELETE FROM session_internal.sessions WHERE user_id = 'dev_dan';

-- Not granted to PUBLIC: a role must be granted EXECUTE.
CREATE ROLE dev_app;
SET ROLE dev_app;
SELECT session_destroy_handle('dev_ben', :'tablet_handle');
RESET ROLE;
GRANT EXECUTE ON FUNCTION session_list(text), session_destroy_handle(text, text) TO dev_app;
SET ROLE dev_app;
SELECT count(*) AS ben_sessions FROM session_list('dev_ben');
SELECT session_destroy_handle('dev_ben', :'tablet_handle') AS ended;
RESET ROLE;
REVOKE ALL ON FUNCTION session_list(text), session_destroy_handle(text, text) FROM dev_app;
DROP ROLE dev_app;
SELECT session_destroy_user('dev_ann');
