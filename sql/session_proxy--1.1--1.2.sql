/* session_proxy--1.1--1.2.sql */

\echo Use "ALTER EXTENSION session_proxy UPDATE TO '1.2'" to load this file. \quit

-- One SQLSTATE for "that shard did not answer".  PL/Proxy reports a shard it
-- cannot reach, or whose connection broke, as XX000 (internal_error) with
-- its own text, and a shard's connection ended by a restart as the shard's
-- 57P01; an app cannot tell those from a bug.  Each function of a token is
-- now a PL/pgSQL wrapper over the PL/Proxy call (moved to
-- session_proxy_internal) that turns them into 08006 (connection_failure)
-- naming the shard, keeping PL/Proxy's text as the detail; every other
-- error, the shards' own among them, passes unchanged.

-- The number of shards: the server session_shards' pN options.
CREATE FUNCTION session_proxy_internal.shard_count()
RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT pg_catalog.count(*)::integer
    FROM pg_catalog.pg_foreign_server s,
         pg_catalog.pg_options_to_table(s.srvoptions) o
    WHERE s.srvname OPERATOR(pg_catalog.=) 'session_shards'
      AND o.option_name OPERATOR(pg_catalog.~) '^p[0-9]+$'
$$;

-- Raises 08006 naming the shard of token (or the shard given; neither: a
-- call of every shard) when an error (its SQLSTATE and message) says that
-- shard did not answer: PL/Proxy could not connect, its connection broke
-- or timed out, or the shard's server ended it.  Returns otherwise, for the
-- caller to re-raise.
CREATE FUNCTION session_proxy_internal.unreachable(token text, state text, message text,
                                                   shard integer DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT (state OPERATOR(pg_catalog.=) ANY ('{57P01,57P02,57P03}'::text[])
            OR (state OPERATOR(pg_catalog.=) 'XX000' AND message OPERATOR(pg_catalog.~)
                '(\] (PQconnectPoll|PQconnectStart|PQconsumeInput|PQsendQuery|PQsendQueryParams|PQflush): |connect timeout to: |query timeout)'))
    THEN
        RETURN;
    END IF;
    IF token IS NOT NULL THEN
        shard := @extschema@.session_shard_hash(token) OPERATOR(pg_catalog.&)
                 (session_proxy_internal.shard_count() OPERATOR(pg_catalog.-) 1);
    END IF;
    IF shard IS NULL THEN
        RAISE EXCEPTION 'session_proxy: a shard did not answer'
            USING ERRCODE = 'connection_failure', DETAIL = message;
    END IF;
    RAISE EXCEPTION 'session_proxy: shard % (option p% of the server session_shards) did not answer', shard, shard
        USING ERRCODE = 'connection_failure', DETAIL = message,
              HINT = 'A read may be retried; a write may or may not have been applied if its connection broke.';
END $$;

-- The PL/Proxy calls, each run on the shard its token names.
CREATE FUNCTION session_proxy_internal.touch(token text)
RETURNS SETOF @extschema@.session_row
LANGUAGE plproxy ROWS 1 AS $$
    CLUSTER 'session_shards';
    RUN ON @extschema@.session_shard_hash(token);
    TARGET @extschema@.session_touch;
$$;

CREATE FUNCTION session_proxy_internal.get(token text)
RETURNS SETOF @extschema@.session_row
LANGUAGE plproxy ROWS 1 AS $$
    CLUSTER 'session_shards';
    RUN ON @extschema@.session_shard_hash(token);
    TARGET @extschema@.session_get;
$$;

CREATE FUNCTION session_proxy_internal.regenerate(token text, user_id text)
RETURNS text
LANGUAGE plproxy AS $$
    CLUSTER 'session_shards';
    RUN ON @extschema@.session_shard_hash(token);
    TARGET @extschema@.session_regenerate;
$$;

CREATE FUNCTION session_proxy_internal.set(token text, data jsonb)
RETURNS boolean
LANGUAGE plproxy AS $$
    CLUSTER 'session_shards';
    RUN ON @extschema@.session_shard_hash(token);
    TARGET @extschema@.session_set;
$$;

CREATE FUNCTION session_proxy_internal.merge(token text, patch jsonb)
RETURNS jsonb
LANGUAGE plproxy AS $$
    CLUSTER 'session_shards';
    RUN ON @extschema@.session_shard_hash(token);
    TARGET @extschema@.session_merge;
$$;

CREATE FUNCTION session_proxy_internal.merge(token text, patch jsonb, remove text[])
RETURNS jsonb
LANGUAGE plproxy AS $$
    CLUSTER 'session_shards';
    RUN ON @extschema@.session_shard_hash(token);
    TARGET @extschema@.session_merge;
$$;

CREATE FUNCTION session_proxy_internal.set_idle_timeout(token text, idle_timeout interval)
RETURNS timestamptz
LANGUAGE plproxy AS $$
    CLUSTER 'session_shards';
    RUN ON @extschema@.session_shard_hash(token);
    TARGET @extschema@.session_set_idle_timeout;
$$;

CREATE FUNCTION session_proxy_internal.destroy(token text)
RETURNS boolean
LANGUAGE plproxy AS $$
    CLUSTER 'session_shards';
    RUN ON @extschema@.session_shard_hash(token);
    TARGET @extschema@.session_destroy;
$$;


-- The API's functions of a token, over them.
CREATE OR REPLACE FUNCTION @extschema@.session_touch(token text)
RETURNS SETOF @extschema@.session_row
LANGUAGE plpgsql VOLATILE ROWS 1 AS $$
BEGIN
    RETURN QUERY SELECT * FROM session_proxy_internal.touch(token);
EXCEPTION WHEN internal_error OR admin_shutdown OR crash_shutdown OR cannot_connect_now THEN
    PERFORM session_proxy_internal.unreachable(token, SQLSTATE, SQLERRM);
    RAISE;
END $$;

CREATE OR REPLACE FUNCTION @extschema@.session_get(token text)
RETURNS SETOF @extschema@.session_row
LANGUAGE plpgsql VOLATILE ROWS 1 AS $$
BEGIN
    RETURN QUERY SELECT * FROM session_proxy_internal.get(token);
EXCEPTION WHEN internal_error OR admin_shutdown OR crash_shutdown OR cannot_connect_now THEN
    PERFORM session_proxy_internal.unreachable(token, SQLSTATE, SQLERRM);
    RAISE;
END $$;

CREATE OR REPLACE FUNCTION @extschema@.session_regenerate(token text, user_id text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RETURN session_proxy_internal.regenerate(token, user_id);
EXCEPTION WHEN internal_error OR admin_shutdown OR crash_shutdown OR cannot_connect_now THEN
    PERFORM session_proxy_internal.unreachable(token, SQLSTATE, SQLERRM);
    RAISE;
END $$;

CREATE OR REPLACE FUNCTION @extschema@.session_set(token text, data jsonb)
RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RETURN session_proxy_internal.set(token, data);
EXCEPTION WHEN internal_error OR admin_shutdown OR crash_shutdown OR cannot_connect_now THEN
    PERFORM session_proxy_internal.unreachable(token, SQLSTATE, SQLERRM);
    RAISE;
END $$;

CREATE OR REPLACE FUNCTION @extschema@.session_merge(token text, patch jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RETURN session_proxy_internal.merge(token, patch);
EXCEPTION WHEN internal_error OR admin_shutdown OR crash_shutdown OR cannot_connect_now THEN
    PERFORM session_proxy_internal.unreachable(token, SQLSTATE, SQLERRM);
    RAISE;
END $$;

CREATE OR REPLACE FUNCTION @extschema@.session_merge(token text, patch jsonb, remove text[])
RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RETURN session_proxy_internal.merge(token, patch, remove);
EXCEPTION WHEN internal_error OR admin_shutdown OR crash_shutdown OR cannot_connect_now THEN
    PERFORM session_proxy_internal.unreachable(token, SQLSTATE, SQLERRM);
    RAISE;
END $$;

CREATE OR REPLACE FUNCTION @extschema@.session_set_idle_timeout(token text, idle_timeout interval)
RETURNS timestamptz
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RETURN session_proxy_internal.set_idle_timeout(token, idle_timeout);
EXCEPTION WHEN internal_error OR admin_shutdown OR crash_shutdown OR cannot_connect_now THEN
    PERFORM session_proxy_internal.unreachable(token, SQLSTATE, SQLERRM);
    RAISE;
END $$;

CREATE OR REPLACE FUNCTION @extschema@.session_destroy(token text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RETURN session_proxy_internal.destroy(token);
EXCEPTION WHEN internal_error OR admin_shutdown OR crash_shutdown OR cannot_connect_now THEN
    PERFORM session_proxy_internal.unreachable(token, SQLSTATE, SQLERRM);
    RAISE;
END $$;


-- Every shard: session_list and session_destroy_user say so too.
CREATE OR REPLACE FUNCTION @extschema@.session_list(user_id text)
RETURNS TABLE (created_at timestamptz, expires_at timestamptz,
               absolute_expires_at timestamptz, data jsonb)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RETURN QUERY SELECT l.created_at, l.expires_at, l.absolute_expires_at, l.data
        FROM session_proxy_internal.list(user_id) l
        ORDER BY l.created_at, l.expires_at;
EXCEPTION WHEN internal_error OR admin_shutdown OR crash_shutdown OR cannot_connect_now THEN
    PERFORM session_proxy_internal.unreachable(NULL, SQLSTATE, SQLERRM);
    RAISE;
END $$;

CREATE OR REPLACE FUNCTION @extschema@.session_destroy_user(user_id text,
                                                            except_token text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RETURN (SELECT COALESCE(pg_catalog.sum(n), 0)::bigint
            FROM session_proxy_internal.destroy_user(user_id, except_token) n);
EXCEPTION WHEN internal_error OR admin_shutdown OR crash_shutdown OR cannot_connect_now THEN
    PERFORM session_proxy_internal.unreachable(NULL, SQLSTATE, SQLERRM);
    RAISE;
END $$;

-- session_create's count of shards is shard_count()'s.
CREATE OR REPLACE FUNCTION @extschema@.session_create(
    user_id text DEFAULT NULL,
    data jsonb DEFAULT '{}'::jsonb,
    idle_timeout interval DEFAULT NULL,
    absolute_timeout interval DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n integer := session_proxy_internal.shard_count();
    first integer;
    shard integer;
    failed text := '';
BEGIN
    IF n OPERATOR(pg_catalog.=) 0 THEN
        RAISE EXCEPTION 'session_proxy: the server session_shards has no shards (options p0, p1, ...)'
            USING ERRCODE = 'undefined_object';
    END IF;
    first := pg_catalog.floor(pg_catalog.random() OPERATOR(pg_catalog.*) n)::integer;
    FOR i IN 0 .. n OPERATOR(pg_catalog.-) 1 LOOP
        shard := (first OPERATOR(pg_catalog.+) i) OPERATOR(pg_catalog.%) n;
        BEGIN
            RETURN session_proxy_internal.create_on(shard, user_id, data, idle_timeout, absolute_timeout);
        EXCEPTION WHEN internal_error OR admin_shutdown OR crash_shutdown OR cannot_connect_now THEN
            -- only a failure to connect is tried again: nothing reached that
            -- shard; a connection that broke may have run the create there
            IF NOT (SQLSTATE OPERATOR(pg_catalog.=) '57P03'
                    OR (SQLSTATE OPERATOR(pg_catalog.=) 'XX000' AND SQLERRM OPERATOR(pg_catalog.~)
                        '(PQconnectPoll|connect timeout|connection to server)')) THEN
                PERFORM session_proxy_internal.unreachable(NULL, SQLSTATE, SQLERRM, shard);
                RAISE;
            END IF;
            failed := failed OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) shard::text;
        END;
    END LOOP;
    RAISE EXCEPTION 'session_proxy: no shard could be reached to create a session (tried%)', failed
        USING ERRCODE = 'connection_failure';
END $$;

REVOKE ALL ON FUNCTION
    session_proxy_internal.shard_count(),
    session_proxy_internal.unreachable(text, text, text, integer),
    session_proxy_internal.touch(text),
    session_proxy_internal.get(text),
    session_proxy_internal.regenerate(text, text),
    session_proxy_internal.set(text, jsonb),
    session_proxy_internal.merge(text, jsonb),
    session_proxy_internal.merge(text, jsonb, text[]),
    session_proxy_internal.set_idle_timeout(text, interval),
    session_proxy_internal.destroy(text)
FROM PUBLIC;

-- Whoever could call a function of a token still can: each role granted
-- EXECUTE on one is granted the PL/Proxy function behind it, and
-- shard_count() and unreachable() (as 1.1 did for session_list and
-- session_create).
DO $$
DECLARE
    pair text[];
    r record;
BEGIN
    FOREACH pair SLICE 1 IN ARRAY ARRAY[
        ARRAY['@extschema@.session_touch(text)', 'session_proxy_internal.touch(text)'],
        ARRAY['@extschema@.session_get(text)', 'session_proxy_internal.get(text)'],
        ARRAY['@extschema@.session_regenerate(text, text)', 'session_proxy_internal.regenerate(text, text)'],
        ARRAY['@extschema@.session_set(text, jsonb)', 'session_proxy_internal.set(text, jsonb)'],
        ARRAY['@extschema@.session_merge(text, jsonb)', 'session_proxy_internal.merge(text, jsonb)'],
        ARRAY['@extschema@.session_merge(text, jsonb, text[])', 'session_proxy_internal.merge(text, jsonb, text[])'],
        ARRAY['@extschema@.session_set_idle_timeout(text, interval)', 'session_proxy_internal.set_idle_timeout(text, interval)'],
        ARRAY['@extschema@.session_destroy(text)', 'session_proxy_internal.destroy(text)'],
        ARRAY['@extschema@.session_create(text, jsonb, interval, interval)',
              'session_proxy_internal.create_on(integer, text, jsonb, interval, interval)'],
        ARRAY['@extschema@.session_list(text)', 'session_proxy_internal.list(text)'],
        ARRAY['@extschema@.session_destroy_user(text, text)', 'session_proxy_internal.destroy_user(text, text)']]
    LOOP
        FOR r IN SELECT a.grantee::regrole AS grantee
                 FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
                 WHERE p.oid OPERATOR(pg_catalog.=) pair[1]::pg_catalog.regprocedure
                   AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
                   AND a.grantee OPERATOR(pg_catalog.<>) 0
        LOOP
            EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s, %s, %s TO %s', pair[2],
                                      'session_proxy_internal.shard_count()',
                                      'session_proxy_internal.unreachable(text, text, text, integer)', r.grantee);
        END LOOP;
    END LOOP;
END $$;
