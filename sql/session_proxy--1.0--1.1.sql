/* session_proxy--1.0--1.1.sql */

\echo Use "ALTER EXTENSION session_proxy UPDATE TO '1.1'" to load this file. \quit

-- session 1.4's two request functions, run on the shard the token names
-- (the shards need session 1.4).

CREATE FUNCTION @extschema@.session_merge(token text, patch jsonb, remove text[])
RETURNS jsonb
LANGUAGE plproxy AS $$
    CLUSTER 'session_shards';
    RUN ON @extschema@.session_shard_hash(token);
$$;

CREATE FUNCTION @extschema@.session_set_idle_timeout(token text, idle_timeout interval)
RETURNS timestamptz
LANGUAGE plproxy AS $$
    CLUSTER 'session_shards';
    RUN ON @extschema@.session_shard_hash(token);
$$;

REVOKE ALL ON FUNCTION
    @extschema@.session_merge(text, jsonb, text[]),
    @extschema@.session_set_idle_timeout(text, interval)
FROM PUBLIC;

-- session_list oldest first, as on one server: PL/Proxy gives each shard's
-- rows in turn, so the plproxy call moves to session_proxy_internal.list and
-- session_list orders what it returns.
CREATE FUNCTION session_proxy_internal.list(user_id text)
RETURNS TABLE (created_at timestamptz, expires_at timestamptz,
               absolute_expires_at timestamptz, data jsonb)
LANGUAGE plproxy AS $$
    CLUSTER 'session_shards';
    RUN ON ALL;
    TARGET @extschema@.session_list;
$$;
REVOKE ALL ON FUNCTION session_proxy_internal.list(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.session_list(user_id text)
RETURNS TABLE (created_at timestamptz, expires_at timestamptz,
               absolute_expires_at timestamptz, data jsonb)
LANGUAGE sql VOLATILE AS $$
    SELECT l.created_at, l.expires_at, l.absolute_expires_at, l.data
    FROM session_proxy_internal.list($1) l
    ORDER BY l.created_at, l.expires_at
$$;

-- session_create on a shard that answers: a shard drawn at random, and if
-- PL/Proxy cannot connect to it (its server down, its host refusing), the
-- next one, each shard at most once, so that logins go on while a shard
-- is down.  Only a failure to connect is tried again: nothing reached that
-- shard, so nothing is written twice.  With none reachable: 08006.
CREATE FUNCTION session_proxy_internal.create_on(shard integer, user_id text, data jsonb,
                                                 idle_timeout interval, absolute_timeout interval)
RETURNS text
LANGUAGE plproxy AS $$
    CLUSTER 'session_shards';
    RUN ON shard;
    SELECT @extschema@.session_create(user_id, data, idle_timeout, absolute_timeout);
$$;
REVOKE ALL ON FUNCTION
    session_proxy_internal.create_on(integer, text, jsonb, interval, interval)
FROM PUBLIC;

-- Whoever could call session_list and session_create still can: each role
-- granted EXECUTE on one (PUBLIC aside: 1.0 revoked it) is granted the
-- internal function behind it.
DO $$
DECLARE
    pair text[];
    r record;
BEGIN
    FOREACH pair SLICE 1 IN ARRAY ARRAY[
        ARRAY['@extschema@.session_list(text)', 'session_proxy_internal.list(text)'],
        ARRAY['@extschema@.session_create(text, jsonb, interval, interval)',
              'session_proxy_internal.create_on(integer, text, jsonb, interval, interval)']]
    LOOP
        FOR r IN SELECT a.grantee::regrole AS grantee
                 FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
                 WHERE p.oid OPERATOR(pg_catalog.=) pair[1]::pg_catalog.regprocedure
                   AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
                   AND a.grantee OPERATOR(pg_catalog.<>) 0
        LOOP
            EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s', pair[2], r.grantee);
        END LOOP;
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION @extschema@.session_create(
    user_id text DEFAULT NULL,
    data jsonb DEFAULT '{}'::jsonb,
    idle_timeout interval DEFAULT NULL,
    absolute_timeout interval DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n integer;
    first integer;
    shard integer;
    failed text := '';
BEGIN
    SELECT pg_catalog.count(*)::integer INTO n
    FROM pg_catalog.pg_foreign_server s,
         pg_catalog.pg_options_to_table(s.srvoptions) o
    WHERE s.srvname OPERATOR(pg_catalog.=) 'session_shards'
      AND o.option_name OPERATOR(pg_catalog.~) '^p[0-9]+$';
    IF n OPERATOR(pg_catalog.=) 0 THEN
        RAISE EXCEPTION 'session_proxy: the server session_shards has no shards (options p0, p1, ...)'
            USING ERRCODE = 'undefined_object';
    END IF;
    first := pg_catalog.floor(pg_catalog.random() OPERATOR(pg_catalog.*) n)::integer;
    FOR i IN 0 .. n OPERATOR(pg_catalog.-) 1 LOOP
        shard := (first OPERATOR(pg_catalog.+) i) OPERATOR(pg_catalog.%) n;
        BEGIN
            RETURN session_proxy_internal.create_on(shard, user_id, data, idle_timeout, absolute_timeout);
        EXCEPTION WHEN internal_error THEN
            -- PL/Proxy's own errors are XX000; a remote error keeps its own code
            IF SQLERRM OPERATOR(pg_catalog.!~) '(PQconnectPoll|connect timeout|connection to server)' THEN
                RAISE;
            END IF;
            failed := failed OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) shard::text;
        END;
    END LOOP;
    RAISE EXCEPTION 'session_proxy: no shard could be reached to create a session (tried%)', failed
        USING ERRCODE = 'connection_failure';
END $$;
