--
-- What a DBA adds to the sessions table, written as on any table: an audit
-- trigger with unqualified names sees every login, touch, logout and prune
-- (it runs with the owner's default search_path, not pg_catalog alone); a
-- refusing trigger fails only the call that fired it, with its own
-- message; a deferred foreign key is checked at the caller's commit; and
-- neither a search_path that puts public first nor a temporary table of
-- the caller's makes our SQL, or the trigger, use what the caller planted.
--
\set VERBOSITY terse

CREATE ROLE regress_trigger_app NOLOGIN;
GRANT EXECUTE ON FUNCTION
    session_create(text, jsonb, interval, interval),
    session_touch(text),
    session_get(text),
    session_regenerate(text, text),
    session_set(text, jsonb),
    session_merge(text, jsonb),
    session_merge(text, jsonb, text[]),
    session_set_idle_timeout(text, interval),
    session_destroy(text),
    session_destroy_user(text, text),
    session_list(text)
TO regress_trigger_app;

-- The trigger exactly as a DBA writes it, and tests it by hand.
CREATE TABLE audit (op text, user_id text, at timestamptz DEFAULT now());
CREATE FUNCTION audit_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO audit (op, user_id) VALUES (TG_OP, coalesce(NEW.user_id, OLD.user_id)); RETURN NULL; END $$;
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON session_internal.sessions
  FOR EACH ROW EXECUTE FUNCTION audit_sessions();

-- Login, a touch that writes, a change, a login's regenerate, logout.
SET session.touch_interval = 0;
SET ROLE regress_trigger_app;
SELECT session_create('ann', '{}', '1 hour') AS tok \gset
SELECT user_id FROM session_touch(:'tok');
SELECT session_merge(:'tok', '{"cart": 1}');
SELECT session_regenerate(:'tok', 'ann') AS tok \gset
SELECT session_destroy(:'tok') AS logged_out;
RESET ROLE;
RESET session.touch_interval;
SELECT op, user_id FROM audit ORDER BY at;

-- Expiry: the prune's deletes fire it too.
TRUNCATE audit;
SELECT session_create('bea', '{}', '1 hour') AS bea \gset
UPDATE session_internal.sessions SET expires_at = now() - interval '1 second'
WHERE user_id = 'bea';
SELECT session_prune() AS pruned;
SELECT op, user_id FROM audit ORDER BY at;

-- A refusing trigger fails the call that fired it, with its own message,
-- writes nothing, and leaves every other call alone.
SELECT session_create('cid') AS cid \gset
CREATE FUNCTION no_logins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'logins are closed for maintenance'; END $$;
CREATE TRIGGER no_logins BEFORE INSERT ON session_internal.sessions
  FOR EACH ROW EXECUTE FUNCTION no_logins();
SET ROLE regress_trigger_app;
SELECT session_create('dan');
SELECT user_id FROM session_touch(:'cid');
SELECT session_merge(:'cid', '{"n": 1}');
RESET ROLE;
SELECT count(*) AS dan_rows FROM session_internal.sessions WHERE user_id = 'dan';
DROP TRIGGER no_logins ON session_internal.sessions;
DROP FUNCTION no_logins();

-- pg_temp comes last: a temporary table of the caller's named like the
-- trigger's table does not receive the trigger's rows.
TRUNCATE audit;
SET ROLE regress_trigger_app;
CREATE TEMP TABLE audit (op text, user_id text, at timestamptz);
SELECT session_create('eve') IS NOT NULL AS created;
SELECT count(*) AS in_temp_audit FROM pg_temp.audit;
DROP TABLE pg_temp.audit;
RESET ROLE;
SELECT op, user_id FROM public.audit ORDER BY at;

-- The owner's default search_path puts public first, and the caller has
-- planted operators and functions there that raise: the trigger still
-- finds public.audit, and none of our statements uses a planted object.
SELECT current_database() AS db \gset
ALTER ROLE CURRENT_USER IN DATABASE :"db" SET search_path = public, pg_catalog;
GRANT CREATE ON SCHEMA public TO regress_trigger_app;
SET ROLE regress_trigger_app;
CREATE FUNCTION public.planted_bytea(bytea, bytea) RETURNS boolean
    LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'planted bytea operator used'; END$$;
CREATE FUNCTION public.planted_ts(timestamptz, timestamptz) RETURNS boolean
    LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'planted timestamptz operator used'; END$$;
CREATE FUNCTION public.planted_text(text, text) RETURNS boolean
    LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'planted text operator used'; END$$;
CREATE OPERATOR public.= (LEFTARG = bytea, RIGHTARG = bytea, FUNCTION = public.planted_bytea);
CREATE OPERATOR public.<> (LEFTARG = bytea, RIGHTARG = bytea, FUNCTION = public.planted_bytea);
CREATE OPERATOR public.> (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = public.planted_ts);
CREATE OPERATOR public.<= (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = public.planted_ts);
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.planted_text);
CREATE FUNCTION public.planted_concat(jsonb, jsonb) RETURNS jsonb
    LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'planted || used'; END$$;
CREATE OPERATOR public.|| (LEFTARG = jsonb, RIGHTARG = jsonb, FUNCTION = public.planted_concat);
CREATE FUNCTION public.count(anyelement) RETURNS bigint
    LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'planted count used'; END$$;
RESET ROLE;
TRUNCATE audit;
SET session.touch_interval = 0;
SET ROLE regress_trigger_app;
SELECT session_create('fay', '{}', '1 hour') AS fay \gset
SELECT user_id FROM session_touch(:'fay');
SELECT session_merge(:'fay', '{"a": 1}');
SELECT session_merge(:'fay', '{"b": null}', '{a}');
SELECT session_set(:'fay', '{"c": 3}');
SELECT session_set_idle_timeout(:'fay', '2 hours') IS NOT NULL AS timeout_set;
SELECT session_regenerate(:'fay', 'fay') AS fay \gset
SELECT count(*) AS listed FROM session_list('fay');
SELECT session_destroy_user('fay', :'fay') AS others_ended;
SELECT session_destroy(:'fay') AS logged_out;
RESET ROLE;
RESET session.touch_interval;
SELECT session_create('gus') AS gus \gset
UPDATE session_internal.sessions SET expires_at = pg_catalog.now() - interval '1 second'
WHERE user_id OPERATOR(pg_catalog.=) 'gus';
SELECT session_prune() AS pruned;
SELECT op, user_id FROM public.audit ORDER BY at;
ALTER ROLE CURRENT_USER IN DATABASE :"db" RESET search_path;
SET client_min_messages = warning;
DROP FUNCTION public.planted_bytea(bytea, bytea), public.planted_ts(timestamptz, timestamptz),
    public.planted_text(text, text) CASCADE;
DROP FUNCTION public.planted_concat(jsonb, jsonb) CASCADE;
DROP FUNCTION public.count(anyelement);
RESET client_min_messages;
REVOKE CREATE ON SCHEMA public FROM regress_trigger_app;
DROP TRIGGER audit ON session_internal.sessions;
DROP FUNCTION audit_sessions();
DROP TABLE audit;

-- A deferred foreign key to a session: calls that delete or move sessions
-- nothing references work, and the check runs at the caller's commit, as
-- for any foreign key.
CREATE TABLE audit_ref (h bytea REFERENCES session_internal.sessions (id_hash)
                          DEFERRABLE INITIALLY DEFERRED);
SET ROLE regress_trigger_app;
SELECT session_create('hal') AS hal1 \gset
SELECT session_create('hal') AS hal2 \gset
SELECT session_create('hal') AS hal3 \gset
SELECT session_regenerate(:'hal1', 'hal') IS NOT NULL AS regenerated;
SELECT session_destroy(:'hal2') AS destroyed;
SELECT session_destroy_user('hal') AS user_ended;
SELECT session_create('ida') AS ida \gset
RESET ROLE;
INSERT INTO audit_ref SELECT id_hash FROM session_internal.sessions WHERE user_id = 'ida';
SET ROLE regress_trigger_app;
BEGIN;
SELECT session_destroy(:'ida') AS destroyed_until_commit;
COMMIT;
RESET ROLE;
SELECT count(*) AS ida_kept FROM session_internal.sessions WHERE user_id = 'ida';

-- Expired sessions, one of them still referenced.  A prune's transaction
-- with its constraints immediate (as the worker's are) keeps that one and
-- deletes the rest; otherwise the reference fails the prune at commit.
SELECT count(session_create('jo' || i)) AS made FROM generate_series(1, 50) i;
UPDATE session_internal.sessions SET expires_at = now() - interval '1 second'
WHERE user_id LIKE 'jo%' OR user_id = 'ida';
SELECT session_prune() AS pruned;
BEGIN;
SET CONSTRAINTS ALL IMMEDIATE;
SET client_min_messages = warning;
SELECT session_prune() AS pruned;
RESET client_min_messages;
COMMIT;
SELECT user_id, expires_at <= now() AS expired FROM session_internal.sessions
WHERE user_id LIKE 'jo%' OR user_id = 'ida';
DROP TABLE audit_ref;
SELECT session_prune() AS pruned;

DROP OWNED BY regress_trigger_app;
DROP ROLE regress_trigger_app;
