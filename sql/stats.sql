--
-- session_stats: counters since server start (the library is preloaded
-- here), live and expired counts, and the last prune.
--
SELECT session_stats_reset();
SELECT creates, touches, touch_writes, touch_reads, invalid_tokens,
       expired_tokens, regenerations, destroys
FROM session_stats;

SELECT session_create('stats', '{}', '1 hour') AS tok \gset
SELECT count(*) FROM session_touch(:'tok');            -- a read
SELECT count(*) FROM session_touch(:'tok');            -- a read
SET session.touch_interval = 0;
SELECT count(*) FROM session_touch(:'tok');            -- a write
RESET session.touch_interval;
SELECT count(*) FROM session_touch('garbage');         -- invalid
SELECT count(*) FROM session_get('garbage');           -- invalid
-- invalid: another last character (a signature's last character takes 16
-- values, so a fixed 'A' was the token itself once in 16 runs)
SELECT session_set(left(:'tok', -1) || CASE right(:'tok', 1) WHEN 'A' THEN 'E' ELSE 'A' END, '{}');
SELECT count(*) FROM session_touch(NULL);              -- no token: not counted as invalid
SELECT session_create('stats') AS old \gset
UPDATE session_internal.sessions SET expires_at = now() - interval '1 second'
WHERE user_id = 'stats' AND expires_at > now() + interval '2 hours';
SELECT count(*) FROM session_touch(:'old');            -- expired
SELECT session_regenerate(:'tok') AS tok \gset
SELECT session_destroy(:'tok');
SELECT session_create('stats2') IS NOT NULL, session_create('stats2') IS NOT NULL;
SELECT session_destroy_user('stats2');

SELECT creates, touches, touch_writes, touch_reads, invalid_tokens,
       expired_tokens, regenerations, destroys
FROM session_stats;

-- Live and expired sessions, from the table.
SELECT count(*) FILTER (WHERE expires_at > now()) = (SELECT live_sessions FROM session_stats) AS live_matches,
       count(*) FILTER (WHERE expires_at <= now()) = (SELECT expired_sessions FROM session_stats) AS expired_matches,
       (SELECT expired_sessions FROM session_stats) >= 1 AS some_expired
FROM session_internal.sessions;

-- The last prune, as session_prune() recorded it.
SELECT now() AS before_prune \gset
SELECT session_prune() AS pruned \gset
SELECT last_prune_deleted = :pruned AS deleted_matches,
       last_prune_start BETWEEN :'before_prune' AND now() AS start_recorded,
       last_prune_duration >= interval '0' AS duration_recorded,
       expired_sessions,
       next_prune_due IS NULL AS worker_off
FROM session_stats;

-- Reset zeroes the counters.
SELECT session_stats_reset();
SELECT creates + touches + touch_writes + touch_reads + invalid_tokens
       + expired_tokens + regenerations + destroys AS total
FROM session_stats;
