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

-- What the extension owns.
SELECT pg_describe_object(classid, objid, objsubid) AS member
FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'session')
ORDER BY 1;

-- One signing key exists, 32 random bytes.
SELECT count(*), min(octet_length(secret)) FROM session_internal.keys;

-- Both tables go into pg_dump with the extension.
SELECT c.relname
FROM pg_extension e, unnest(e.extconfig) AS cfg(oid)
JOIN pg_class c ON c.oid = cfg.oid
WHERE e.extname = 'session'
ORDER BY 1;

-- Nothing is executable by PUBLIC.
SELECT p.proname
FROM pg_proc p
WHERE p.pronamespace IN ('public'::regnamespace, 'session_internal'::regnamespace)
  AND p.proname LIKE 'session%'
  AND has_function_privilege('public', p.oid, 'EXECUTE');

-- Every API function is SECURITY DEFINER with a pinned search_path.
SELECT p.proname, p.prosecdef, p.proconfig
FROM pg_proc p
WHERE p.pronamespace = 'public'::regnamespace AND p.proname LIKE 'session%'
ORDER BY 1;
