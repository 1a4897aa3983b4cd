/* session_proxy--1.0.sql */

\echo Use "CREATE EXTENSION session_proxy" to load this file. \quit

-- The session API on a router database.  Each function has the name,
-- arguments and result of session's, and PL/Proxy runs it on the shards of
-- the cluster 'session_shards' (a SERVER of the plproxy foreign data
-- wrapper, one pN option per shard; see the README):
--   - a function of a token on the shard session_shard_hash(token) names;
--   - session_create on any shard, at random (it makes an id that routes
--     back to that shard);
--   - session_destroy_user, session_list and the admin functions on every
--     shard, their results combined.
-- The shards run `session` in the schema this extension is in, with
-- session.shards and session.shard set per database.  Nothing here holds a
-- key or a session: the router keeps no state but the cluster's definition.

CREATE SCHEMA session_proxy_internal;
REVOKE ALL ON SCHEMA session_proxy_internal FROM PUBLIC;

-- The route of a token, computed here as on the shards (session's own C
-- function: pure, no table access).  PUBLIC may call it, as on a shard.
CREATE FUNCTION @extschema@.session_shard_hash(token text)
RETURNS integer
AS '$libdir/session', 'session_shard_hash'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE TYPE @extschema@.session_row AS (
    user_id              text,
    data                 jsonb,
    created_at           timestamptz,
    expires_at           timestamptz,
    absolute_expires_at  timestamptz
);

-- Request functions.

CREATE FUNCTION @extschema@.session_create(
    user_id text DEFAULT NULL,
    data jsonb DEFAULT '{}'::jsonb,
    idle_timeout interval DEFAULT NULL,
    absolute_timeout interval DEFAULT NULL)
RETURNS text
LANGUAGE plproxy AS $$
    CLUSTER 'session_shards';
    RUN ON ANY;
$$;

CREATE FUNCTION @extschema@.session_touch(token text)
RETURNS SETOF @extschema@.session_row
LANGUAGE plproxy ROWS 1 AS $$
    CLUSTER 'session_shards';
    RUN ON @extschema@.session_shard_hash(token);
$$;

CREATE FUNCTION @extschema@.session_get(token text)
RETURNS SETOF @extschema@.session_row
LANGUAGE plproxy ROWS 1 AS $$
    CLUSTER 'session_shards';
    RUN ON @extschema@.session_shard_hash(token);
$$;

CREATE FUNCTION @extschema@.session_regenerate(token text,
                                               user_id text DEFAULT NULL)
RETURNS text
LANGUAGE plproxy AS $$
    CLUSTER 'session_shards';
    RUN ON @extschema@.session_shard_hash(token);
$$;

CREATE FUNCTION @extschema@.session_set(token text, data jsonb)
RETURNS boolean
LANGUAGE plproxy AS $$
    CLUSTER 'session_shards';
    RUN ON @extschema@.session_shard_hash(token);
$$;

CREATE FUNCTION @extschema@.session_merge(token text, patch jsonb)
RETURNS jsonb
LANGUAGE plproxy AS $$
    CLUSTER 'session_shards';
    RUN ON @extschema@.session_shard_hash(token);
$$;

CREATE FUNCTION @extschema@.session_destroy(token text)
RETURNS boolean
LANGUAGE plproxy AS $$
    CLUSTER 'session_shards';
    RUN ON @extschema@.session_shard_hash(token);
$$;

-- A user's sessions may be on any shard (a session keeps the shard it was
-- created on when a login sets its user), so these two ask every shard.
-- PL/Proxy returns a set from RUN ON ALL; the sum is done here.
CREATE FUNCTION session_proxy_internal.destroy_user(user_id text, except_token text)
RETURNS SETOF bigint
LANGUAGE plproxy AS $$
    CLUSTER 'session_shards';
    RUN ON ALL;
    TARGET @extschema@.session_destroy_user;
$$;

CREATE FUNCTION @extschema@.session_destroy_user(user_id text,
                                                 except_token text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    SELECT COALESCE(pg_catalog.sum(n), 0)::bigint
    FROM session_proxy_internal.destroy_user($1, $2) n
$$;

CREATE FUNCTION @extschema@.session_list(user_id text)
RETURNS TABLE (created_at timestamptz, expires_at timestamptz,
               absolute_expires_at timestamptz, data jsonb)
LANGUAGE plproxy AS $$
    CLUSTER 'session_shards';
    RUN ON ALL;
$$;

-- Admin functions, on every shard.  They reach the shards as whatever role
-- the caller's user mapping names, which must be an admin there.

CREATE FUNCTION session_proxy_internal.prune()
RETURNS SETOF bigint
LANGUAGE plproxy AS $$
    CLUSTER 'session_shards';
    RUN ON ALL;
    TARGET @extschema@.session_prune;
$$;

CREATE FUNCTION @extschema@.session_prune()
RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    SELECT COALESCE(pg_catalog.sum(n), 0)::bigint
    FROM session_proxy_internal.prune() n
$$;

CREATE FUNCTION session_proxy_internal.rotate_key()
RETURNS SETOF boolean
LANGUAGE plproxy AS $$
    CLUSTER 'session_shards';
    RUN ON ALL;
    SELECT true FROM @extschema@.session_rotate_key();
$$;

CREATE FUNCTION @extschema@.session_rotate_key()
RETURNS void
LANGUAGE sql VOLATILE AS $$
    SELECT pg_catalog.count(*) FROM session_proxy_internal.rotate_key()
$$;

CREATE FUNCTION session_proxy_internal.stats_reset()
RETURNS SETOF boolean
LANGUAGE plproxy AS $$
    CLUSTER 'session_shards';
    RUN ON ALL;
    SELECT true FROM @extschema@.session_stats_reset();
$$;

CREATE FUNCTION @extschema@.session_stats_reset()
RETURNS void
LANGUAGE sql VOLATILE AS $$
    SELECT pg_catalog.count(*) FROM session_proxy_internal.stats_reset()
$$;

-- session_stats on the router: one row per shard, numbered by the shard's
-- session.shard, then session_stats' own columns.
CREATE FUNCTION session_proxy_internal.stats(
    OUT shard integer,
    OUT live_sessions bigint, OUT expired_sessions bigint,
    OUT creates bigint, OUT touches bigint, OUT touch_writes bigint,
    OUT touch_reads bigint, OUT invalid_tokens bigint,
    OUT expired_tokens bigint, OUT regenerations bigint, OUT destroys bigint,
    OUT last_prune_start timestamptz, OUT last_prune_duration interval,
    OUT last_prune_deleted bigint, OUT next_prune_due timestamptz)
RETURNS SETOF record
LANGUAGE plproxy AS $$
    CLUSTER 'session_shards';
    RUN ON ALL;
    SELECT pg_catalog.current_setting('session.shard')::integer AS shard,
           s.live_sessions, s.expired_sessions, s.creates, s.touches,
           s.touch_writes, s.touch_reads, s.invalid_tokens, s.expired_tokens,
           s.regenerations, s.destroys, s.last_prune_start,
           s.last_prune_duration, s.last_prune_deleted, s.next_prune_due
    FROM @extschema@.session_stats s;
$$;

CREATE VIEW @extschema@.session_stats AS
SELECT * FROM session_proxy_internal.stats() ORDER BY shard;

-- Nothing is granted to PUBLIC but the route (see the README's sharding
-- section for an app role's GRANTs).
REVOKE ALL ON @extschema@.session_stats FROM PUBLIC;
REVOKE ALL ON FUNCTION
    @extschema@.session_create(text, jsonb, interval, interval),
    @extschema@.session_touch(text),
    @extschema@.session_get(text),
    @extschema@.session_regenerate(text, text),
    @extschema@.session_set(text, jsonb),
    @extschema@.session_merge(text, jsonb),
    @extschema@.session_destroy(text),
    @extschema@.session_destroy_user(text, text),
    @extschema@.session_list(text),
    @extschema@.session_prune(),
    @extschema@.session_rotate_key(),
    @extschema@.session_stats_reset(),
    session_proxy_internal.destroy_user(text, text),
    session_proxy_internal.prune(),
    session_proxy_internal.rotate_key(),
    session_proxy_internal.stats_reset(),
    session_proxy_internal.stats()
FROM PUBLIC;
