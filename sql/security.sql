--
-- An application role with EXECUTE on the API and nothing else.
--
\set VERBOSITY terse

CREATE ROLE regress_session_app NOLOGIN;
GRANT EXECUTE ON FUNCTION
    session_create(text, jsonb, interval, interval),
    session_touch(text),
    session_get(text),
    session_regenerate(text, text),
    session_set(text, jsonb),
    session_merge(text, jsonb),
    session_destroy(text),
    session_destroy_user(text, text),
    session_list(text),
    session_create(text, jsonb, interval, interval, integer, text),
    session_regenerate(text, text, integer, text),
    session_destroy_handle(text, text)
TO regress_session_app;
-- only so that it can plant objects below
GRANT CREATE ON SCHEMA public TO regress_session_app;

SET ROLE regress_session_app;

-- The API works.
SELECT session_create('app-user', '{"n": 1}') AS tok \gset
SELECT session_create('app-user', '{"n": 2}') AS victim \gset
SELECT user_id, data FROM session_touch(:'tok');
SELECT session_merge(:'tok', '{"m": 1}');
SELECT count(*) FROM session_list('app-user');
-- The API switched to the owner only inside its own calls.
SELECT current_user, current_setting('search_path') AS search_path;

-- The stored sessions and keys are out of reach.
SELECT count(*) FROM session_internal.sessions;
SELECT count(*) FROM session_internal.keys;
DELETE FROM session_internal.sessions;
UPDATE session_internal.keys SET secret = '\x00';
SELECT session_internal.keys_changed();

-- Admin-only functions and the stats view.
SELECT session_prune();
SELECT session_rotate_key();
SELECT session_stats_reset();
SELECT * FROM session_stats;

-- No SET weakens a check.
SET session.touch_interval = 0;
SET session.idle_timeout = '400d';
SET session.absolute_timeout = 0;
SET session.prune_batch_size = 1;
SET session.prune_pause_ratio = 0;
SET session.prune_wal_compression = off;
SET session.max_sessions_per_user = 1;
SET session.on_session_limit = 'refuse';

-- No key shows in settings.
SELECT name FROM pg_settings WHERE name LIKE 'session.%' ORDER BY 1;
SHOW session.idle_timeout;

RESET ROLE;

-- A planted table, function and operators in public and pg_temp, searched
-- before pg_catalog, in a fresh backend whose plans are not yet prepared.
SELECT session_destroy(:'victim') AS victim_destroyed;
\c
\set VERBOSITY terse
SET ROLE regress_session_app;

CREATE FUNCTION public.planted_bytea_eq(bytea, bytea) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'planted = called'; RETURN true; END $$;
CREATE OPERATOR public.= (LEFTARG = bytea, RIGHTARG = bytea,
                          FUNCTION = public.planted_bytea_eq);
CREATE FUNCTION public.planted_ts_gt(timestamptz, timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'planted > called'; RETURN true; END $$;
CREATE OPERATOR public.> (LEFTARG = timestamptz, RIGHTARG = timestamptz,
                          FUNCTION = public.planted_ts_gt);
CREATE FUNCTION public.planted_concat(jsonb, jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'planted || called'; RETURN '{"planted": true}'; END $$;
CREATE OPERATOR public.|| (LEFTARG = jsonb, RIGHTARG = jsonb,
                           FUNCTION = public.planted_concat);
CREATE FUNCTION public.count(anyelement) RETURNS bigint
LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'planted count called'; RETURN 0; END $$;
CREATE TEMP TABLE sessions (id_hash bytea, user_id text, data jsonb,
                            created_at timestamptz, expires_at timestamptz);
CREATE TEMP TABLE keys (id bigint, secret bytea, created_at timestamptz);
SET search_path = public, pg_temp, pg_catalog;

-- The destroyed session stays dead; a planted = would have matched it.
SELECT count(*) AS victim_rows FROM session_touch(:'victim');
SELECT session_set(:'victim', '{}') AS victim_set;
-- The live one answers with its own data, untouched by the planted ||.
SELECT user_id, data FROM session_touch(:'tok');
SELECT session_merge(:'tok', '{"z": 0}');
SELECT session_create('app-user') IS NOT NULL AS created;
SELECT session_destroy_user('nobody') AS ended;
SELECT count(*) FROM session_list('app-user');
SELECT session_regenerate(:'tok') IS NOT NULL AS regenerated;
-- the per-user limit's count and eviction, and the devices' handles
SELECT session_create('app-user', '{}', NULL, NULL, 1, 'refuse');
SELECT session_create('app-user', '{}', NULL, NULL, 1) IS NOT NULL AS evicted;
SELECT count(*) FROM session_list('app-user');
SELECT session_destroy_handle('app-user', handle) AS ended FROM session_list('app-user');
-- and the caller's identity and search_path are its own again
SELECT current_user, current_setting('search_path') AS search_path;

RESET search_path;
RESET ROLE;
DROP FUNCTION public.planted_bytea_eq(bytea, bytea) CASCADE;
DROP FUNCTION public.planted_ts_gt(timestamptz, timestamptz) CASCADE;
DROP FUNCTION public.planted_concat(jsonb, jsonb) CASCADE;
DROP FUNCTION public.count(anyelement);
REVOKE CREATE ON SCHEMA public FROM regress_session_app;
