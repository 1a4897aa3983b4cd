/* session--1.0--1.1.sql */

\echo Use "ALTER EXTENSION session UPDATE TO '1.1'" to load this file. \quit

-- The row of session_touch and session_get, as a named type.
--
-- In 1.0 both functions declared their columns with RETURNS TABLE, and a
-- function with OUT columns has its result descriptor rebuilt from pg_proc
-- (argument arrays, one type lookup per column) each time a statement that
-- calls it starts executing, prepared or not: about 0.5 us of every
-- request.  A named composite type's descriptor comes from the type cache.
-- The columns, their names and types, and what the functions return are
-- unchanged.
CREATE TYPE @extschema@.session_row AS (
    user_id              text,
    data                 jsonb,
    created_at           timestamptz,
    expires_at           timestamptz,
    absolute_expires_at  timestamptz
);

-- A function's result type cannot be altered, so each is dropped and made
-- again, with the EXECUTE grants it had.  A view or a BEGIN ATOMIC function
-- that uses one of them makes the DROP, and so the whole update, fail with
-- nothing changed: drop those first, update, and make them again.
DO $upgrade$
DECLARE
    fn      text;
    sig     text;
    acl     pg_catalog.aclitem[];
    owner   pg_catalog.oid;
    g       record;
BEGIN
    FOREACH fn IN ARRAY ARRAY['session_touch', 'session_get']
    LOOP
        sig := pg_catalog.format('@extschema@.%I(text)', fn);
        SELECT p.proacl, p.proowner INTO acl, owner
        FROM pg_catalog.pg_proc p
        WHERE p.oid OPERATOR(pg_catalog.=) sig::pg_catalog.regprocedure::pg_catalog.oid;

        EXECUTE pg_catalog.format('DROP FUNCTION %s', sig);
        EXECUTE pg_catalog.format(
            'CREATE FUNCTION @extschema@.%I(token text) '
            'RETURNS SETOF @extschema@.session_row '
            'AS %L, %L LANGUAGE C VOLATILE ROWS 1',
            fn, 'MODULE_PATHNAME', fn);
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', sig);

        -- the owner's own privilege comes with ownership; NULL (never
        -- granted or revoked) cannot happen after 1.0's REVOKE
        FOR g IN
            SELECT a.grantee, a.is_grantable
            FROM pg_catalog.aclexplode(acl) a
            WHERE a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
              AND a.grantee OPERATOR(pg_catalog.<>) owner
        LOOP
            EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s%s',
                sig,
                CASE WHEN g.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                     ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(g.grantee)) END,
                CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
        END LOOP;
    END LOOP;
END
$upgrade$;
