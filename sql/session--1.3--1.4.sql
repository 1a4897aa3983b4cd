/* session--1.3--1.4.sql */

\echo Use "ALTER EXTENSION session UPDATE TO '1.4'" to load this file. \quit

-- A merge whose values are kept as they are, JSON null included, with the
-- keys to remove named apart: session_merge(token, patch) takes a null as
-- "remove this key", so a client could not store a null.
CREATE FUNCTION @extschema@.session_merge(token text, patch jsonb, remove text[])
RETURNS jsonb
AS 'MODULE_PATHNAME', 'session_merge_remove'
LANGUAGE C VOLATILE;

-- One session's idle timeout from now on (a "remember me" chosen after
-- login), its expiry moved to now plus it, shorter or longer, capped by the
-- absolute expiry.  NULL takes session.idle_timeout; the new expiry, or
-- NULL for an invalid token.
CREATE FUNCTION @extschema@.session_set_idle_timeout(token text, idle_timeout interval)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'session_set_idle_timeout'
LANGUAGE C VOLATILE;

REVOKE ALL ON FUNCTION
    @extschema@.session_merge(text, jsonb, text[]),
    @extschema@.session_set_idle_timeout(text, interval)
FROM PUBLIC;
