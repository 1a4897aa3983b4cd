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
