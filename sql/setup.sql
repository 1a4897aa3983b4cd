--
-- Installing into a database whose application already has tables named
-- "sessions" and "session" in public: they must be left alone.
--
CREATE TABLE public.sessions (sid text PRIMARY KEY, sess json);
CREATE TABLE public.session (id integer);
INSERT INTO public.sessions VALUES ('app-row', '{"app": true}');
INSERT INTO public.session VALUES (42);

CREATE EXTENSION session;

SELECT * FROM public.sessions;
SELECT * FROM public.session;

-- What the extension owns.  From 17 on the catalog also lists the row
-- types of its tables and views and every array type as members: they
-- come with their table or type, so they are left out here, on every
-- version alike.
SELECT pg_describe_object(d.classid, d.objid, d.objsubid) AS member
FROM pg_depend d
LEFT JOIN pg_type t ON d.classid = 'pg_type'::regclass AND t.oid = d.objid
LEFT JOIN pg_class c ON c.oid = t.typrelid
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'session')
  AND NOT coalesce(t.typcategory = 'A' OR c.relkind IN ('r', 'v'), false)
ORDER BY 1;

-- One signing key exists, 32 random bytes.
SELECT count(*), min(octet_length(secret)) FROM session_internal.keys;

-- Both tables go into pg_dump with the extension.
SELECT c.relname
FROM pg_extension e, unnest(e.extconfig) AS cfg(oid)
JOIN pg_class c ON c.oid = cfg.oid
WHERE e.extname = 'session'
ORDER BY 1;

-- What PUBLIC may execute: only the counter reader behind session_stats
-- (whose readers need EXECUTE on it; it shows no session and no key, and
-- it lives in a schema PUBLIC cannot use).  Nor can PUBLIC read the view.
SELECT p.oid::regprocedure
FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
  AND d.classid = 'pg_proc'::regclass
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'session')
  AND has_function_privilege('public', p.oid, 'EXECUTE');
SELECT has_table_privilege('public', 'session_stats', 'SELECT') AS public_reads_stats,
       has_schema_privilege('public', 'session_internal', 'USAGE') AS public_uses_internal;

-- No function is SECURITY DEFINER or carries settings: the request path
-- reads through the index directly, and the SQL the extension issues runs
-- as its owner, switched in C (src/owner.c).  The one PL/pgSQL function,
-- PostgREST's hook, pins its own search_path (it runs as its caller) so
-- that no operator it uses can be planted.
SELECT p.proname, p.prosecdef, p.proconfig
FROM pg_proc p
WHERE p.pronamespace = 'public'::regnamespace AND p.proname LIKE 'session%'
ORDER BY 1;
