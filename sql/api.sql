--
-- The API, one function at a time.  Tokens are kept in psql variables and
-- never printed; timestamps are compared, not shown.
--
\set VERBOSITY terse

-- session_create
SELECT session_create('alice', '{"cart": [1, 2]}') AS tok \gset
SELECT :'tok' ~ '^[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{43}$' AS token_shape,
       length(:'tok') AS token_length;

-- an anonymous session with the defaults
SELECT session_create() AS anon \gset
SELECT user_id IS NULL AS anonymous, data,
       expires_at - created_at AS idle, absolute_expires_at - created_at AS absolute
FROM session_get(:'anon');

-- two tokens are never the same
SELECT session_create('alice') <> session_create('alice') AS distinct_tokens;

-- explicit timeouts
SELECT session_create('carol', '{}', '15 minutes', '2 hours') AS carol \gset
SELECT expires_at - created_at AS idle, absolute_expires_at - created_at AS absolute
FROM session_get(:'carol');

-- an absolute timeout shorter than the idle one caps the first expiry
SELECT expires_at = absolute_expires_at AS capped,
       absolute_expires_at - created_at AS absolute
FROM session_get(session_create(NULL, '{}', '1 hour', '10 minutes'));

-- session.absolute_timeout = 0: no absolute limit
SET session.absolute_timeout = 0;
SELECT absolute_expires_at IS NULL AS no_absolute
FROM session_get(session_create('dave'));
RESET session.absolute_timeout;

-- session.idle_timeout sets the default idle timeout
SET session.idle_timeout = '2h';
SELECT expires_at - created_at AS idle FROM session_get(session_create('erin'));
RESET session.idle_timeout;

-- the stored row: a 32-byte hash, never the token or the id
SELECT count(*) AS rows_with_token_text
FROM session_internal.sessions s
WHERE position(convert_to(split_part(:'tok', '.', 1), 'UTF8') IN s.id_hash) > 0
   OR s::text LIKE '%' || split_part(:'tok', '.', 1) || '%'
   OR s::text LIKE '%' || split_part(:'tok', '.', 2) || '%';
SELECT DISTINCT octet_length(id_hash) FROM session_internal.sessions;

-- session_touch: one row for a live session
SELECT user_id, data, expires_at > now() AS live,
       absolute_expires_at - created_at AS absolute
FROM session_touch(:'tok');

-- session_get: the same row
SELECT (SELECT row(t.*)::text FROM session_touch(:'tok') t)
     = (SELECT row(g.*)::text FROM session_get(:'tok') g) AS same_row;

-- session_set replaces the data
SELECT session_set(:'tok', '{"theme": "dark", "n": 1}');
SELECT data FROM session_get(:'tok');

-- session_merge: keys in the patch overwrite, a JSON null removes
SELECT session_merge(:'tok', '{"n": 2, "lang": "fr"}');
SELECT session_merge(:'tok', '{"theme": null, "missing": null}');
SELECT session_merge(:'tok', '{}');
SELECT data FROM session_get(:'tok');
-- shallow: a nested object is replaced, not merged
SELECT session_merge(:'tok', '{"prefs": {"a": 1, "b": 2}}');
SELECT session_merge(:'tok', '{"prefs": {"c": 3}}');

-- session_regenerate: a new token for the same session; the old one is dead
SELECT created_at AS created_before FROM session_get(:'tok') \gset
SELECT session_regenerate(:'tok') AS tok2 \gset
SELECT :'tok2' ~ '^[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{43}$' AS token_shape,
       :'tok2' <> :'tok' AS new_token;
SELECT count(*) AS old_token_rows FROM session_touch(:'tok');
SELECT session_set(:'tok', '{}') AS old_set, session_merge(:'tok', '{}') AS old_merge,
       session_regenerate(:'tok') AS old_regenerate, session_destroy(:'tok') AS old_destroy;
SELECT user_id, data, created_at = :'created_before' AS same_session
FROM session_touch(:'tok2');

-- regenerate on login: the user changes in the same step
SELECT session_regenerate(:'anon', 'bob') AS bobtok \gset
SELECT user_id, data FROM session_get(:'bobtok');
SELECT count(*) FROM session_get(:'anon');

-- regenerate with NULL user_id keeps the user
SELECT session_regenerate(:'bobtok') AS bobtok \gset
SELECT user_id FROM session_get(:'bobtok');

-- session_list: live sessions of a user, nothing usable as a token
SELECT count(*) AS alice_sessions FROM session_list('alice');
SELECT proargnames FROM pg_proc WHERE proname = 'session_list';
SELECT data FROM session_list('bob');
SELECT count(*) FROM session_list('nobody');
SELECT count(*) FROM session_list(NULL);

-- session_destroy: logout
SELECT session_destroy(:'bobtok') AS destroyed;
SELECT session_destroy(:'bobtok') AS destroyed_again;
SELECT count(*) FROM session_touch(:'bobtok');
SELECT count(*) FROM session_list('bob');

-- session_destroy_user: logout everywhere, or everywhere but here
SELECT session_create('frank') AS f1 \gset
SELECT session_create('frank') AS f2 \gset
SELECT session_create('frank') AS f3 \gset
SELECT session_destroy_user('frank', :'f2') AS ended;
SELECT (SELECT count(*) FROM session_get(:'f1')) AS f1,
       (SELECT count(*) FROM session_get(:'f2')) AS f2,
       (SELECT count(*) FROM session_get(:'f3')) AS f3;
SELECT session_destroy_user('frank') AS ended;
SELECT session_destroy_user('frank') AS ended_again;
SELECT session_destroy_user(NULL) AS null_user;
-- an invalid token to keep keeps nothing
SELECT session_create('gina') AS g1 \gset
SELECT session_destroy_user('gina', 'not-a-token') AS ended;

-- session_rotate_key: new tokens use the new key, old tokens keep working
SELECT count(*) AS keys_before FROM session_internal.keys;
SELECT session_rotate_key();
SELECT count(*) AS keys_after FROM session_internal.keys;
SELECT session_create('henry') AS newkey \gset
SELECT (SELECT count(*) FROM session_touch(:'tok2')) AS old_key_token,
       (SELECT count(*) FROM session_touch(:'newkey')) AS new_key_token;
SELECT k.id = (SELECT id FROM session_internal.keys ORDER BY created_at DESC, id DESC LIMIT 1)
       AS signed_with_newest
FROM session_internal.sessions s JOIN session_internal.keys k ON k.id = s.key_id
WHERE s.user_id = 'henry';
-- a rotation that rolls back leaves the key set as it was
BEGIN;
SELECT session_rotate_key();
SELECT session_create('ivy') AS rolled \gset
ROLLBACK;
SELECT count(*) AS keys_after_rollback FROM session_internal.keys;
SELECT count(*) FROM session_touch(:'newkey');
-- and this backend no longer signs with the rolled-back key
SELECT session_create('jack') AS jack \gset
\c
\set VERBOSITY terse
SELECT count(*) AS jack_in_new_backend FROM session_touch(:'jack');

-- regenerating an old-key session moves it to the newest key
SELECT session_regenerate(:'tok2') AS tok3 \gset
SELECT s.key_id = (SELECT id FROM session_internal.keys ORDER BY created_at DESC, id DESC LIMIT 1)
       AS moved_to_newest
FROM session_internal.sessions s WHERE s.user_id = 'alice' AND s.data ? 'prefs';

-- the superseded key is retired by the prune once unused and superseded
-- for 10 minutes, counted from the first prune that saw it superseded
-- (however old the newer key's created_at says it is)
UPDATE session_internal.keys SET created_at = created_at - interval '1 hour';
SELECT session_prune() >= 0 AS pruned;
SELECT count(*) AS keys_while_used,
       count(*) FILTER (WHERE superseded_at IS NOT NULL) AS marked_superseded
FROM session_internal.keys;
DELETE FROM session_internal.sessions
WHERE key_id <> (SELECT id FROM session_internal.keys ORDER BY created_at DESC, id DESC LIMIT 1);
SELECT session_prune() >= 0 AS pruned;
SELECT count(*) AS keys_within_grace FROM session_internal.keys;
UPDATE session_internal.keys SET superseded_at = superseded_at - interval '11 minutes';
SELECT session_prune() >= 0 AS pruned;
SELECT count(*) AS keys_once_unused FROM session_internal.keys;
SELECT count(*) FROM session_touch(:'tok3');

-- session_merge(token, patch, remove): values kept as they are, JSON null
-- included; the keys named in remove go, after the patch.
SELECT session_create('nul', '{"a": 1, "b": 2, "c": 3}') AS nul \gset
SELECT session_merge(:'nul', '{"a": null, "d": [null]}', '{b}') AS kept_null;
SELECT session_merge(:'nul', '{"e": 5}', NULL) AS null_remove_is_none;
SELECT session_merge(:'nul', '{}', '{a,zz,e}') AS removed_only;
SELECT session_merge(:'nul', '{"f": 6}', '{f}') AS removal_after_patch;
SELECT session_merge(:'nul', '[1]', '{}');
SELECT session_merge(:'nul', NULL, '{}');
SELECT session_merge(:'nul', '{}', '{{a},{b}}');
SELECT session_merge('not a token', '{"x": 1}', '{}') IS NULL AS invalid_token;
-- the two-argument form still takes a null as removal
SELECT session_merge(:'nul', '{"d": null}') AS two_argument_removes;

-- session_set_idle_timeout: the expiry moves to now plus the new timeout,
-- shorter or longer, capped by the absolute expiry; later touches roll by it
SELECT session_create('idl', '{}', '1 hour', '1 day') AS idl \gset
SELECT session_set_idle_timeout(:'idl', '1 minute') AS e,
       session_set_idle_timeout(:'idl', '1 minute') = now() + interval '1 minute' AS shortened \gset
SELECT :'shortened' AS shortened;
SELECT expires_at = :'e' AS stored,
       idle_timeout = interval '1 minute' AS timeout_stored
FROM session_internal.sessions WHERE user_id = 'idl';
SELECT session_set_idle_timeout(:'idl', '3 days') = absolute_expires_at AS capped
FROM session_internal.sessions WHERE user_id = 'idl';
SELECT session_set_idle_timeout(:'idl', NULL) = now() + current_setting('session.idle_timeout')::interval
       OR absolute_expires_at <= now() + current_setting('session.idle_timeout')::interval AS default_timeout
FROM session_internal.sessions WHERE user_id = 'idl';
SET session.touch_interval = 0;
SELECT session_set_idle_timeout(:'idl', '10 minutes') IS NOT NULL AS set_10min;
UPDATE session_internal.sessions SET expires_at = now() + interval '5 minutes' WHERE user_id = 'idl';
SELECT expires_at = now() + interval '10 minutes' AS touch_rolls_by_new_timeout FROM session_touch(:'idl');
RESET session.touch_interval;
SELECT session_set_idle_timeout(:'idl', '0 seconds');
SELECT session_set_idle_timeout(:'idl', '-1 minute');
SELECT session_set_idle_timeout(:'idl', '401 days');
SELECT session_set_idle_timeout('not a token', '1 hour') IS NULL AS invalid_token;
SELECT session_destroy(:'idl') AS destroyed;
SELECT session_set_idle_timeout(:'idl', '1 hour') IS NULL AS destroyed_token;
SELECT session_destroy(:'nul') AS destroyed;
