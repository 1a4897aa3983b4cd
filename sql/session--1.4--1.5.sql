/* session--1.4--1.5.sql */

\echo Use "ALTER EXTENSION session UPDATE TO '1.5'" to load this file. \quit

-- The session bound to the transaction, for row-level security (bind.c).
-- session_bind verifies a token and rolls its expiry as session_touch does,
-- returns the same row, and binds the session it found (or none) to the
-- current transaction, replacing an earlier bind; a bind inside a savepoint
-- rolled back is undone, and commit or abort ends it.  The readers give the
-- bound session's user id and data, NULL when none is bound: for policies,
-- as USING (owner OPERATOR(pg_catalog.=) session_bound_user()).  Nothing
-- but session_bind sets the binding (it is backend memory, not a setting).
-- PARALLEL RESTRICTED: a parallel worker does not have the leader's
-- binding, so a policy that calls them is evaluated in the leader.
CREATE FUNCTION @extschema@.session_bind(token text)
RETURNS SETOF @extschema@.session_row
AS 'MODULE_PATHNAME', 'session_bind'
LANGUAGE C VOLATILE ROWS 1;

CREATE FUNCTION @extschema@.session_bound_user()
RETURNS text
AS 'MODULE_PATHNAME', 'session_bound_user'
LANGUAGE C STABLE PARALLEL RESTRICTED;

CREATE FUNCTION @extschema@.session_bound_data()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'session_bound_data'
LANGUAGE C STABLE PARALLEL RESTRICTED;

REVOKE ALL ON FUNCTION
    @extschema@.session_bind(text),
    @extschema@.session_bound_user(),
    @extschema@.session_bound_data()
FROM PUBLIC;

-- PostgREST's db-pre-request hook: PostgREST runs it in the transaction
-- of each request, before the request's query, with the request's cookies
-- as the JSON setting request.cookies.  It binds the session the cookie
-- names (nothing, for a request without a live one: the policies then show
-- no rows) and, when one is bound, sends the cookie again with the rolled
-- expiry through response.headers (appended to what is there).  PostgREST
-- calls it without arguments; for another cookie name or other
-- attributes, wrap it: CREATE FUNCTION pre() ... SELECT
-- session_postgrest_pre_request('my_cookie', 'Path=/api; Secure').
CREATE FUNCTION @extschema@.session_postgrest_pre_request(
    cookie_name text DEFAULT 'sid',
    cookie_attributes text DEFAULT 'Path=/; HttpOnly; Secure; SameSite=Lax')
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    token text;
    expires timestamptz;
    headers jsonb;
BEGIN
    token := pg_catalog.current_setting('request.cookies', true)::pg_catalog.json
                 OPERATOR(pg_catalog.->>) cookie_name;
    SELECT b.expires_at INTO expires FROM @extschema@.session_bind(token) b;
    IF expires IS NULL THEN
        RETURN;
    END IF;
    headers := COALESCE(
        NULLIF(pg_catalog.current_setting('response.headers', true), '')::pg_catalog.jsonb,
        '[]'::pg_catalog.jsonb);
    headers := headers OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
        'Set-Cookie', pg_catalog.format('%s=%s; Max-Age=%s; %s', cookie_name, token,
            pg_catalog.ceil(pg_catalog.date_part('epoch', expires OPERATOR(pg_catalog.-) pg_catalog.now()))::bigint,
            cookie_attributes)));
    PERFORM pg_catalog.set_config('response.headers', headers::text, true);
END $$;
REVOKE ALL ON FUNCTION @extschema@.session_postgrest_pre_request(text, text) FROM PUBLIC;
