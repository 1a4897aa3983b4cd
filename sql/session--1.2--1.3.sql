/* session--1.2--1.3.sql */

\echo Use "ALTER EXTENSION session UPDATE TO '1.3'" to load this file. \quit

-- A token's route for a sharded deployment (session_proxy): the first byte
-- of its id's SHA-256, 0 to 255, which a router masks with the shard count.
-- It checks no signature and reads no table, so a router without this
-- extension's tables computes the same; NULL and malformed tokens give 0.
-- It reveals nothing a token's holder does not know, so PUBLIC keeps its
-- EXECUTE.  With session.shards set above 1, this database makes only ids
-- whose route names session.shard.
CREATE FUNCTION @extschema@.session_shard_hash(token text)
RETURNS integer
AS 'MODULE_PATHNAME', 'session_shard_hash'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
