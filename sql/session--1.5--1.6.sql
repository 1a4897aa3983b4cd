/* session--1.5--1.6.sql */

\echo Use "ALTER EXTENSION session UPDATE TO '1.6'" to load this file. \quit

-- Devices.  session_list gives each session's handle (the unpadded
-- base64url of its stored sha256(id): it names the session as a copy of
-- the table does, and is not enough to make its token) and when it was
-- last used (when a touch last rolled its expiry, to within
-- session.touch_interval); session_destroy_handle ends one of a user's
-- sessions by its handle, so that a "your devices" page can sign out a
-- lost phone.  A handle of another user's session, or anything that is
-- not a handle, ends nothing.
--
-- A function's result columns cannot be altered, so session_list is
-- dropped and made again, with the EXECUTE grants it had (as 1.1 did for
-- session_touch and session_get).  A view or a BEGIN ATOMIC function that
-- uses it makes the DROP, and so the whole update, fail with nothing
-- changed: drop those first, update, and make them again.
DO $upgrade$
DECLARE
    acl     pg_catalog.aclitem[];
    owner   pg_catalog.oid;
    g       record;
BEGIN
    SELECT p.proacl, p.proowner INTO acl, owner
    FROM pg_catalog.pg_proc p
    WHERE p.oid OPERATOR(pg_catalog.=)
          '@extschema@.session_list(text)'::pg_catalog.regprocedure::pg_catalog.oid;

    DROP FUNCTION @extschema@.session_list(text);
    CREATE FUNCTION @extschema@.session_list(user_id text)
    RETURNS TABLE (handle text, created_at timestamptz, last_used_at timestamptz,
                   expires_at timestamptz, absolute_expires_at timestamptz, data jsonb)
    AS 'MODULE_PATHNAME', 'session_list_1_6'
    LANGUAGE C VOLATILE;
    REVOKE ALL ON FUNCTION @extschema@.session_list(text) FROM PUBLIC;

    -- the owner's own privilege comes with ownership
    FOR g IN
        SELECT a.grantee, a.is_grantable
        FROM pg_catalog.aclexplode(acl) a
        WHERE a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
          AND a.grantee OPERATOR(pg_catalog.<>) owner
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION @extschema@.session_list(text) TO %s%s',
            CASE WHEN g.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                 ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(g.grantee)) END,
            CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
END
$upgrade$;

CREATE FUNCTION @extschema@.session_destroy_handle(user_id text, handle text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'session_destroy_handle'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION @extschema@.session_destroy_handle(text, text) FROM PUBLIC;

-- A limit on live sessions per user (limit.c): session.max_sessions_per_user
-- (0, the default: none) and session.on_session_limit ('evict', the
-- default: a login past it ends the user's least recently used sessions;
-- 'refuse': it fails with SQLSTATE 53400), or a call's own, as these
-- arguments (NULL: the setting; max_sessions 0: no limit).  The forms
-- without them, as before, take the settings.
CREATE FUNCTION @extschema@.session_create(
    user_id text,
    data jsonb,
    idle_timeout interval,
    absolute_timeout interval,
    max_sessions integer,
    on_limit text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'session_create'
LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@.session_regenerate(
    token text,
    user_id text,
    max_sessions integer,
    on_limit text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'session_regenerate'
LANGUAGE C VOLATILE;

REVOKE ALL ON FUNCTION
    @extschema@.session_create(text, jsonb, interval, interval, integer, text),
    @extschema@.session_regenerate(text, text, integer, text)
FROM PUBLIC;

-- CSRF tokens bound to the session (api.c): derived from the session's id
-- with the key that signed its token, so stored nowhere; a regenerate
-- gives a new one.  Neither reads the sessions table (call them beside
-- session_touch); anything not a signed token has none (NULL) and checks
-- false.  The check compares in constant time.
CREATE FUNCTION @extschema@.session_csrf_token(token text)
RETURNS text
AS 'MODULE_PATHNAME', 'session_csrf_token'
LANGUAGE C STABLE;

CREATE FUNCTION @extschema@.session_csrf_check(token text, csrf_token text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'session_csrf_check'
LANGUAGE C STABLE;

REVOKE ALL ON FUNCTION
    @extschema@.session_csrf_token(text),
    @extschema@.session_csrf_check(text, text)
FROM PUBLIC;
