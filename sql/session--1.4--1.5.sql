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
