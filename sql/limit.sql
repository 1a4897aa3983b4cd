--
-- The limit on live sessions per user (1.6): session.max_sessions_per_user
-- and session.on_session_limit, or a call's own max_sessions and on_limit.
--
CREATE FUNCTION lim_devices(u text) RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(data->>'d', ',' ORDER BY created_at), '')
    FROM session_list(u) $$;

-- No limit by default: any number of sessions.
SHOW session.max_sessions_per_user;
SHOW session.on_session_limit;
SELECT session_create('lim', '{"d": "d1"}') AS d1 \gset
SELECT session_create('lim', '{"d": "d2"}') AS d2 \gset
SELECT session_create('lim', '{"d": "d3"}') AS d3 \gset
SELECT session_create('lim', '{"d": "d4"}') AS d4 \gset
SELECT session_create('lim-other', '{"d": "o1"}') AS o1 \gset
SELECT lim_devices('lim');

-- A limit of 3, evicting (the default): the next login ends the least
-- recently used, leaving 3 with the new one.  d1 is the oldest but was
-- used last (a touch that writes at once), so d2 and d3 go.
SET session.max_sessions_per_user = 3;
SET session.touch_interval = 0;
SELECT count(*) AS touched FROM session_touch(:'d1');
RESET session.touch_interval;
SELECT session_create('lim', '{"d": "d5"}') AS d5 \gset
SELECT lim_devices('lim');
SELECT count(*) AS d2_rows FROM session_touch(:'d2');
-- another user, and sessions without one, are not counted
SELECT lim_devices('lim-other');
SELECT session_create(NULL, '{"d": "anon"}') IS NOT NULL AS anonymous;
SELECT lim_devices('lim');

-- Refusing: the login fails with SQLSTATE 53400 and writes nothing.
SET session.on_session_limit = 'refuse';
SELECT count(*) AS stored_before FROM session_internal.sessions \gset
SELECT session_create('lim', '{"d": "d6"}');
DO $$
BEGIN
    PERFORM session_create('lim', '{"d": "d6"}');
EXCEPTION WHEN configuration_limit_exceeded THEN
    RAISE NOTICE 'refused, SQLSTATE %', SQLSTATE;
END $$;
SELECT count(*) = :stored_before AS nothing_written FROM session_internal.sessions;
SELECT lim_devices('lim');
-- ending one makes room
SELECT session_destroy(:'d4');
SELECT session_create('lim', '{"d": "d6"}') AS d6 \gset
SELECT lim_devices('lim');
-- an expired session is not counted
UPDATE session_internal.sessions SET expires_at = now() - interval '1 second',
    created_at = now() - interval '1 hour'
WHERE data->>'d' = 'd5';
SELECT session_create('lim', '{"d": "d7"}') AS d7 \gset
SELECT lim_devices('lim');

-- A call's own limit: max_sessions (0: none) and on_limit override the
-- settings; NULL takes them.
SELECT session_create('lim', '{"d": "d8"}', NULL, NULL, 0) IS NOT NULL AS no_limit;
SELECT lim_devices('lim');
SELECT session_create('lim', '{"d": "d9"}', NULL, NULL, 2, 'evict') IS NOT NULL AS evicted;
SELECT lim_devices('lim');
SELECT session_create('lim', '{"d": "d10"}', NULL, NULL, 2);
SELECT session_create('lim', '{"d": "d10"}', NULL, NULL, NULL, 'refuse') IS NOT NULL AS under_the_setting;
SELECT session_create('lim', '{"d": "d11"}', '1 hour', NULL, 1, NULL);
SELECT lim_devices('lim');
-- bad arguments are errors before anything is written
SELECT session_create('lim', '{"d": "bad"}', NULL, NULL, -1);
SELECT session_create('lim', '{"d": "bad"}', NULL, NULL, 1, 'drop');
SELECT lim_devices('lim');

-- session_regenerate with a user id makes the session that user's: the
-- same limit.  Refused, the old token still works (nothing was written).
SELECT session_create(NULL, '{"d": "r1"}') AS r1 \gset
SELECT session_regenerate(:'r1', 'lim');
SELECT data->>'d' AS still_anonymous FROM session_touch(:'r1') WHERE user_id IS NULL;
SELECT session_regenerate(:'r1', 'lim', 3, 'evict') IS NOT NULL AS logged_in;
SELECT lim_devices('lim');
-- a user's own session regenerated at the limit ends none of the others
SELECT session_create('lim-own', '{"d": "a"}') AS own_a \gset
SELECT session_create('lim-own', '{"d": "b"}', NULL, NULL, 2, 'refuse') AS own_b \gset
SELECT session_regenerate(:'own_b', 'lim-own', 2, 'refuse') IS NOT NULL AS regenerated;
SELECT session_regenerate(:'own_a', NULL, 2, 'refuse') IS NOT NULL AS same_user;
SELECT lim_devices('lim-own');

-- Not granted to PUBLIC.
SELECT p.oid::regprocedure AS function, count(*) FILTER (WHERE a.grantee = 0) AS public_grants
FROM pg_proc p LEFT JOIN LATERAL aclexplode(p.proacl) a ON true
WHERE p.proname IN ('session_create', 'session_regenerate')
GROUP BY 1 ORDER BY p.oid::regprocedure::text;

RESET session.max_sessions_per_user;
RESET session.on_session_limit;
SELECT session_destroy_user(u) FROM unnest(ARRAY['lim', 'lim-other', 'lim-own']) u;
DELETE FROM session_internal.sessions WHERE user_id IS NULL AND data->>'d' IN ('anon', 'r1');
DROP FUNCTION lim_devices(text);
