--
-- Rolling expiry, the absolute cap, write throttling and HOT updates.
-- Time is moved by rewriting a session's stored expiry (as a superuser),
-- never by waiting, except for one short real timeout at the end.
--
\set VERBOSITY terse

SELECT session_create('exp', '{}', '1 hour', '1 day') AS tok \gset

-- A fresh session is not written by a touch within session.touch_interval.
SELECT expires_at AS exp0 FROM session_get(:'tok') \gset
SELECT expires_at = :'exp0' AS unchanged FROM session_touch(:'tok');
SELECT xmin AS xmin0 FROM session_internal.sessions WHERE user_id = 'exp' \gset
SELECT expires_at = :'exp0' AS unchanged FROM session_touch(:'tok');
SELECT xmin = :'xmin0' AS not_rewritten FROM session_internal.sessions WHERE user_id = 'exp';

-- After 10 idle minutes a touch rolls the expiry to now + idle timeout.
-- (The functions take "now" from the statement start, which is now() in
-- autocommit; later statements compare with what was captured.)
UPDATE session_internal.sessions SET expires_at = now() + interval '50 minutes'
WHERE user_id = 'exp';
SELECT expires_at = now() + interval '1 hour' AS rolled, expires_at AS e
FROM session_touch(:'tok') \gset
SELECT :'rolled' AS rolled;
SELECT expires_at = :'e' AS stored
FROM session_internal.sessions WHERE user_id = 'exp';

-- session_get never writes.
UPDATE session_internal.sessions SET expires_at = now() + interval '50 minutes'
WHERE user_id = 'exp' RETURNING expires_at AS e \gset
SELECT expires_at = :'e' AS not_extended FROM session_get(:'tok');
SELECT expires_at = :'e' AS stored
FROM session_internal.sessions WHERE user_id = 'exp';

-- With session.touch_interval = 0 every touch that moves the expiry writes.
SET session.touch_interval = 0;
SELECT xmin AS xmin1 FROM session_internal.sessions WHERE user_id = 'exp' \gset
SELECT expires_at = now() + interval '1 hour' AS rolled FROM session_touch(:'tok');
SELECT xmin <> :'xmin1' AS rewritten FROM session_internal.sessions WHERE user_id = 'exp';
RESET session.touch_interval;

-- A larger interval holds writes back for longer, but never for more than
-- a tenth of the idle timeout (6 of this session's 60 minutes), so a
-- session always stays live at least 0.9 of its timeout after a request.
SET session.touch_interval = '20min';
UPDATE session_internal.sessions SET expires_at = now() + interval '55 minutes'
WHERE user_id = 'exp' RETURNING expires_at AS e \gset
SELECT expires_at = :'e' AS held_back FROM session_touch(:'tok');
UPDATE session_internal.sessions SET expires_at = now() + interval '50 minutes'
WHERE user_id = 'exp';
SELECT expires_at = now() + interval '1 hour' AS rolled FROM session_touch(:'tok');
RESET session.touch_interval;

-- The throttle at the edges: an idle timeout below the interval (3 s
-- against the default 1 minute: the throttle is 0.3 s), equal to it (6 s
-- of 1 minute) and above it (1 hour: the interval, 1 minute).  Time since
-- the last write is made by moving the stored expiry back.  A touch just
-- inside the throttle does not write, and leaves the session at least 0.9
-- of its timeout; one just past it rolls the expiry a whole timeout on.
CREATE TEMP TABLE edges (user_id text, idle interval, inside interval, past interval);
INSERT INTO edges VALUES
    ('edge-below', '3 seconds', '0.25 seconds', '0.31 seconds'),
    ('edge-equal', '1 minute', '5.5 seconds', '6.1 seconds'),
    ('edge-above', '1 hour', '55 seconds', '61 seconds');
CREATE TEMP TABLE edge_tokens AS
SELECT user_id, session_create(user_id, '{}', idle) AS tok, NULL::timestamptz AS stored
FROM edges;
WITH moved AS (
    UPDATE session_internal.sessions s SET expires_at = now() + e.idle - e.inside
    FROM edges e WHERE s.user_id = e.user_id RETURNING s.user_id, s.expires_at)
UPDATE edge_tokens k SET stored = m.expires_at FROM moved m WHERE k.user_id = m.user_id;
SELECT e.user_id,
       t.expires_at = k.stored AS held_back,
       t.expires_at - now() >= e.idle * 0.9 AS at_least_nine_tenths
FROM edges e JOIN edge_tokens k USING (user_id), LATERAL session_touch(k.tok) t
ORDER BY e.idle;
UPDATE session_internal.sessions s SET expires_at = now() + e.idle - e.past
FROM edges e WHERE s.user_id = e.user_id;
SELECT e.user_id, t.expires_at = now() + e.idle AS rolled
FROM edges e JOIN edge_tokens k USING (user_id), LATERAL session_touch(k.tok) t
ORDER BY e.idle;
SELECT session_destroy(tok) FROM edge_tokens;
DROP TABLE edges, edge_tokens;

-- Never past the absolute expiry.
UPDATE session_internal.sessions
SET absolute_expires_at = now() + interval '20 minutes',
    expires_at = now() + interval '5 minutes'
WHERE user_id = 'exp' RETURNING absolute_expires_at AS a \gset
SELECT expires_at = absolute_expires_at AS capped,
       absolute_expires_at = :'a' AS absolute_kept
FROM session_touch(:'tok');
SELECT session_set(:'tok', '{"x": 1}'), session_merge(:'tok', '{"y": 2}');
SELECT expires_at = absolute_expires_at AS still_capped FROM session_get(:'tok');
SELECT session_regenerate(:'tok') AS tok \gset
SELECT expires_at = absolute_expires_at AS capped_after_regenerate,
       absolute_expires_at = :'a' AS absolute_kept
FROM session_get(:'tok');

-- set, merge and regenerate are activity too: they roll the expiry.
SELECT session_create('act', '{}', '1 hour') AS act \gset
UPDATE session_internal.sessions SET expires_at = now() + interval '1 minute'
WHERE user_id = 'act';
SELECT session_set(:'act', '{"a": 1}'), statement_timestamp() AS t \gset
SELECT expires_at = :'t'::timestamptz + interval '1 hour' AS rolled_by_set
FROM session_get(:'act');
UPDATE session_internal.sessions SET expires_at = now() + interval '1 minute'
WHERE user_id = 'act';
SELECT session_merge(:'act', '{"b": 2}'), statement_timestamp() AS t \gset
SELECT expires_at = :'t'::timestamptz + interval '1 hour' AS rolled_by_merge
FROM session_get(:'act');
UPDATE session_internal.sessions SET expires_at = now() + interval '1 minute'
WHERE user_id = 'act';
SELECT session_regenerate(:'act') AS act, statement_timestamp() AS t \gset
SELECT expires_at = :'t'::timestamptz + interval '1 hour' AS rolled_by_regenerate
FROM session_get(:'act');

-- An expired session is dead to every function, pruned or not.
UPDATE session_internal.sessions
SET expires_at = now() - interval '1 second'
WHERE user_id = 'act';
SELECT count(*) AS touch FROM session_touch(:'act');
SELECT count(*) AS get FROM session_get(:'act');
SELECT session_set(:'act', '{}') AS set, session_merge(:'act', '{}') AS merge,
       session_regenerate(:'act') AS regenerate, session_destroy(:'act') AS destroy;
SELECT count(*) AS listed FROM session_list('act');
-- nothing brought it back (the destroy also deleted the expired row)
SELECT count(*) AS act_rows FROM session_internal.sessions WHERE user_id = 'act';

-- Reaching the absolute expiry ends the session too.
SELECT session_create('abs', '{}', '1 hour', '1 day') AS abs \gset
UPDATE session_internal.sessions
SET absolute_expires_at = now(), expires_at = now()
WHERE user_id = 'abs';
SELECT count(*) AS touch_at_absolute FROM session_touch(:'abs');

-- session_destroy_user counts only live sessions as ended.
SELECT session_create('mixed') IS NOT NULL AS live_one;
SELECT session_create('mixed') AS mixed_dead \gset
UPDATE session_internal.sessions SET expires_at = now() - interval '1 second'
WHERE user_id = 'mixed' AND expires_at = (SELECT max(expires_at) FROM session_internal.sessions WHERE user_id = 'mixed');
SELECT session_destroy_user('mixed') AS ended;
SELECT count(*) AS rows_left FROM session_internal.sessions WHERE user_id = 'mixed';

-- session_prune deletes expired sessions only, in batches.
SELECT count(*) AS expired_before FROM session_internal.sessions WHERE expires_at <= now();
SELECT count(*) AS live_before FROM session_internal.sessions WHERE expires_at > now() \gset
INSERT INTO session_internal.sessions
    (id_hash, key_id, user_id, data, created_at, expires_at, absolute_expires_at, idle_timeout)
SELECT sha256(i::text::bytea), 1, 'bulk', '{}', now() - interval '2 hours',
       now() - interval '1 hour', NULL, interval '1 hour'
FROM generate_series(1, 2500) i;
-- (with long pauses between bursts: pacing changes timing, not results)
SET session.prune_batch_size = 100;
SET session.prune_pause_ratio = 5;
SELECT session_prune() AS pruned;
RESET session.prune_pause_ratio;
RESET session.prune_batch_size;
SELECT count(*) AS expired_after FROM session_internal.sessions WHERE expires_at <= now();
SELECT count(*) = :live_before AS live_kept FROM session_internal.sessions;
SELECT session_prune() AS pruned_again;
-- and with no pauses at all
INSERT INTO session_internal.sessions
    (id_hash, key_id, user_id, data, created_at, expires_at, absolute_expires_at, idle_timeout)
SELECT sha256(('b' || i)::bytea), 1, 'bulk', '{}', now() - interval '2 hours',
       now() - interval '1 hour', NULL, interval '1 hour'
FROM generate_series(1, 1500) i;
SET session.prune_pause_ratio = 0;
SELECT session_prune() AS pruned_unpaced;
RESET session.prune_pause_ratio;
SELECT count(*) = :live_before AS live_kept FROM session_internal.sessions;

-- A touch that writes is a HOT update: no index covers what it changes.
SET session.touch_interval = 0;
SELECT session_create('hot', '{}', '1 hour') AS hot \gset
SELECT pg_stat_force_next_flush();
SELECT n_tup_upd AS upd0, n_tup_hot_upd AS hot0
FROM pg_stat_user_tables WHERE relid = 'session_internal.sessions'::regclass \gset
SELECT count(*) FROM session_touch(:'hot');
SELECT count(*) FROM session_touch(:'hot');
SELECT count(*) FROM session_touch(:'hot');
SELECT pg_stat_force_next_flush();
SELECT n_tup_upd - :upd0 AS updates, n_tup_hot_upd - :hot0 AS hot_updates
FROM pg_stat_user_tables WHERE relid = 'session_internal.sessions'::regclass;
RESET session.touch_interval;

-- In a read-only transaction (as on a hot standby) a touch answers
-- without extending, instead of failing.
SET session.touch_interval = 0;
SELECT expires_at AS e FROM session_get(:'hot') \gset
BEGIN READ ONLY;
SELECT user_id, expires_at = :'e' AS not_extended FROM session_touch(:'hot');
COMMIT;
RESET session.touch_interval;

-- A prune there refuses before deleting anything, as a DELETE would.
BEGIN READ ONLY;
SELECT session_prune();
ROLLBACK;

-- Only id_hash and user_id are indexed.
SELECT indexrelid::regclass, pg_get_indexdef(indexrelid)
FROM pg_index WHERE indrelid = 'session_internal.sessions'::regclass ORDER BY 1;

-- One real timeout: a 1-second idle session is gone after 1.2 seconds.
SELECT session_create('short', '{}', '1 second') AS short \gset
SELECT count(*) AS before_timeout FROM session_get(:'short');
SELECT pg_sleep(1.2);
SELECT count(*) AS after_timeout FROM session_touch(:'short');
