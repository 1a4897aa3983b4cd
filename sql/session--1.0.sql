/* session--1.0.sql */

\echo Use "CREATE EXTENSION session" to load this file. \quit

-- Private storage.  Nothing here is granted to anyone: the API functions
-- below read it directly through the index, and issue their SQL as the
-- extension owner with search_path pinned (src/owner.c).
CREATE SCHEMA session_internal;
REVOKE ALL ON SCHEMA session_internal FROM PUBLIC;

-- Signing keys.  The newest signs new tokens; any of them verifies.
CREATE TABLE session_internal.keys (
    id          bigint PRIMARY KEY,
    secret      bytea NOT NULL
                CHECK (pg_catalog.octet_length(secret) OPERATOR(pg_catalog.=) 32),
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);

-- Sessions, keyed by the SHA-256 of the token's id: a copy of this table
-- yields no usable token.  Only id_hash and user_id are indexed, so the
-- expiry updates of a touch are HOT; fillfactor leaves room on each page
-- for them.
CREATE TABLE session_internal.sessions (
    id_hash              bytea PRIMARY KEY,
    key_id               bigint NOT NULL,
    user_id              text,
    data                 jsonb NOT NULL,
    created_at           timestamptz NOT NULL,
    expires_at           timestamptz NOT NULL,
    absolute_expires_at  timestamptz,
    idle_timeout         interval NOT NULL,
    CHECK (absolute_expires_at IS NULL
           OR expires_at OPERATOR(pg_catalog.<=) absolute_expires_at)
) WITH (fillfactor = 90);

CREATE INDEX sessions_user_id_idx ON session_internal.sessions (user_id)
    WHERE user_id IS NOT NULL;

-- The latest prune: what session_stats shows, and what the background
-- worker schedules from, so the schedule survives restarts.  One row.
CREATE TABLE session_internal.prune_state (
    singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_start     timestamptz,
    last_duration  interval,
    last_deleted   bigint,
    last_batches   bigint
);
INSERT INTO session_internal.prune_state DEFAULT VALUES;

-- Keys and sessions go into pg_dump together: a restored database keeps
-- its users logged in.
SELECT pg_catalog.pg_extension_config_dump('session_internal.keys', '');
SELECT pg_catalog.pg_extension_config_dump('session_internal.sessions', '');

-- Any change to the keys makes every backend reload its key cache.
CREATE FUNCTION session_internal.keys_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'session_keys_changed'
    LANGUAGE C;
REVOKE ALL ON FUNCTION session_internal.keys_changed() FROM PUBLIC;

CREATE TRIGGER keys_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON session_internal.keys
    FOR EACH STATEMENT EXECUTE FUNCTION session_internal.keys_changed();

-- The API.  None is granted to PUBLIC (see the README for the GRANTs).
-- None is SECURITY DEFINER: see src/owner.c.

CREATE FUNCTION @extschema@.session_create(
    user_id text DEFAULT NULL,
    data jsonb DEFAULT '{}'::jsonb,
    idle_timeout interval DEFAULT NULL,
    absolute_timeout interval DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'session_create'
LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@.session_touch(token text)
RETURNS TABLE (user_id text, data jsonb, created_at timestamptz,
               expires_at timestamptz, absolute_expires_at timestamptz)
AS 'MODULE_PATHNAME', 'session_touch'
LANGUAGE C VOLATILE ROWS 1;

CREATE FUNCTION @extschema@.session_get(token text)
RETURNS TABLE (user_id text, data jsonb, created_at timestamptz,
               expires_at timestamptz, absolute_expires_at timestamptz)
AS 'MODULE_PATHNAME', 'session_get'
LANGUAGE C VOLATILE ROWS 1;

CREATE FUNCTION @extschema@.session_regenerate(token text,
                                               user_id text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'session_regenerate'
LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@.session_set(token text, data jsonb)
RETURNS boolean
AS 'MODULE_PATHNAME', 'session_set'
LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@.session_merge(token text, patch jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'session_merge'
LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@.session_destroy(token text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'session_destroy'
LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@.session_destroy_user(user_id text,
                                                 except_token text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'session_destroy_user'
LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@.session_list(user_id text)
RETURNS TABLE (created_at timestamptz, expires_at timestamptz,
               absolute_expires_at timestamptz, data jsonb)
AS 'MODULE_PATHNAME', 'session_list'
LANGUAGE C VOLATILE;

-- Admin-only: pruning and key rotation.
CREATE FUNCTION @extschema@.session_prune()
RETURNS bigint
AS 'MODULE_PATHNAME', 'session_prune'
LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@.session_rotate_key()
RETURNS void
AS 'MODULE_PATHNAME', 'session_rotate_key'
LANGUAGE C VOLATILE;

-- Statistics.  The counters are per database since server start and need
-- the library preloaded; without it they are NULL.
CREATE FUNCTION session_internal.stats_counters(
    OUT creates bigint, OUT touches bigint, OUT touch_writes bigint,
    OUT touch_reads bigint, OUT invalid_tokens bigint,
    OUT expired_tokens bigint, OUT regenerations bigint, OUT destroys bigint,
    OUT prune_interval interval)
RETURNS record
AS 'MODULE_PATHNAME', 'session_stats_counters'
LANGUAGE C VOLATILE;

CREATE VIEW @extschema@.session_stats AS
SELECT s.live_sessions,
       s.expired_sessions,
       c.creates,
       c.touches,
       c.touch_writes,
       c.touch_reads,
       c.invalid_tokens,
       c.expired_tokens,
       c.regenerations,
       c.destroys,
       p.last_start AS last_prune_start,
       p.last_duration AS last_prune_duration,
       p.last_deleted AS last_prune_deleted,
       CASE WHEN c.prune_interval IS NOT NULL
            THEN COALESCE(p.last_start OPERATOR(pg_catalog.+) c.prune_interval,
                          pg_catalog.now())
       END AS next_prune_due
FROM (SELECT pg_catalog.count(*) FILTER (WHERE expires_at OPERATOR(pg_catalog.>) pg_catalog.now()) AS live_sessions,
             pg_catalog.count(*) FILTER (WHERE expires_at OPERATOR(pg_catalog.<=) pg_catalog.now()) AS expired_sessions
      FROM session_internal.sessions) s,
     session_internal.stats_counters() c,
     session_internal.prune_state p;

CREATE FUNCTION @extschema@.session_stats_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'session_stats_reset'
LANGUAGE C VOLATILE;

REVOKE ALL ON @extschema@.session_stats FROM PUBLIC;

REVOKE ALL ON FUNCTION
    @extschema@.session_stats_reset(),
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
    @extschema@.session_rotate_key()
FROM PUBLIC;

-- The first signing key.
SELECT @extschema@.session_rotate_key();
