--
-- session_create and the expiry write of session_touch go straight to the
-- heap and the indexes.  Whatever way a row version lands (HOT or not),
-- every index must point at it: amcheck's heapallindexed check proves that
-- each stored row has its entry in both indexes.  A table with a trigger is
-- written through SQL, so the trigger fires.
--
CREATE EXTENSION amcheck;

-- full pages, so that updates cannot all stay on their page (HOT)
ALTER TABLE session_internal.sessions SET (fillfactor = 100);
SELECT pg_stat_force_next_flush();
SELECT n_tup_upd - n_tup_hot_upd AS cold_before
FROM pg_stat_user_tables WHERE relid = 'session_internal.sessions'::regclass \gset

CREATE TABLE dw_tokens AS
SELECT n, session_create('dw' || (n % 3),
                         jsonb_build_object('n', n, 'pad', repeat('x', 300))) AS t
FROM generate_series(1, 100) n;

SET session.touch_interval = 0;
SELECT count(*) AS touched FROM dw_tokens, session_touch(t);
SELECT count(*) AS touched_again FROM dw_tokens, session_touch(t);
RESET session.touch_interval;

-- some updates had to move to another page and needed new index entries
SELECT pg_stat_force_next_flush();
SELECT n_tup_upd - n_tup_hot_upd > :cold_before AS some_not_hot
FROM pg_stat_user_tables WHERE relid = 'session_internal.sessions'::regclass;

-- every session is found through the primary key and through user_id
SELECT count(*) AS found FROM dw_tokens, session_get(t) g
WHERE (g.data ->> 'n')::int = n;
SELECT count(*) AS listed FROM generate_series(0, 2) u, session_list('dw' || u);

SELECT bt_index_check('session_internal.sessions_pkey', true);
SELECT bt_index_check('session_internal.sessions_user_id_idx', true);

ALTER TABLE session_internal.sessions SET (fillfactor = 90);

-- data too big to stay in the row (TOAST) survives a create and touches
SELECT session_create('dw-big', jsonb_build_object('blob',
           (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 2000) i))) AS big \gset
SET session.touch_interval = 0;
SELECT count(*) AS touched FROM session_touch(:'big');
SELECT count(*) AS touched FROM session_touch(:'big');
RESET session.touch_interval;
SELECT md5(data ->> 'blob') = md5((SELECT string_agg(md5(i::text), '') FROM generate_series(1, 2000) i))
       AS blob_intact, length(data ->> 'blob') AS blob_length
FROM session_get(:'big');
SELECT session_destroy(:'big');

-- a trigger on the table sees the writes of create and touch (it runs as
-- the extension's owner; see user_triggers for unqualified names)
CREATE TABLE dw_seen (op text, user_id text);
CREATE FUNCTION dw_seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.dw_seen VALUES (TG_OP, NEW.user_id);
    RETURN NEW;
END $$;
CREATE TRIGGER dw_seen AFTER INSERT OR UPDATE ON session_internal.sessions
    FOR EACH ROW EXECUTE FUNCTION dw_seen();

SELECT session_create('dw-trigger') AS tok \gset
SET session.touch_interval = 0;
SELECT user_id FROM session_touch(:'tok');
RESET session.touch_interval;
SELECT op, user_id FROM dw_seen ORDER BY op;

DROP TRIGGER dw_seen ON session_internal.sessions;
DROP FUNCTION dw_seen();
DROP TABLE dw_seen;
SELECT session_destroy_user('dw-trigger');

-- Whatever else the executor would run makes the direct writes go through
-- SQL, so it runs too.  A CHECK constraint someone adds holds for create:
ALTER TABLE session_internal.sessions
    ADD CONSTRAINT dw_not_banned CHECK (user_id IS DISTINCT FROM 'dw-banned');
\set VERBOSITY terse
SELECT session_create('dw-banned');
\set VERBOSITY default
SELECT count(*) AS banned_rows FROM session_internal.sessions WHERE user_id = 'dw-banned';
ALTER TABLE session_internal.sessions DROP CONSTRAINT dw_not_banned;

-- a rule on the table runs for create
CREATE TABLE dw_ruled (user_id text);
CREATE RULE dw_log AS ON INSERT TO session_internal.sessions
    DO ALSO INSERT INTO public.dw_ruled VALUES (NEW.user_id);
SELECT session_create('dw-rule') IS NOT NULL AS created;
SELECT user_id FROM dw_ruled;
DROP RULE dw_log ON session_internal.sessions;
DROP TABLE dw_ruled;
SELECT session_destroy_user('dw-rule');

-- a table published for updates and deletes with no replica identity:
-- a touch's write and a prune's delete fail as UPDATE and DELETE do,
-- rather than send changes a subscriber could not apply
SELECT session_create('dw-pub', '{}', '1 hour') AS pubtok \gset
SELECT session_create('dw-pub') AS pubgone \gset
UPDATE session_internal.sessions SET expires_at = now() - interval '1 second'
WHERE user_id = 'dw-pub' AND expires_at > now() + interval '2 hours';
SET client_min_messages = error;
CREATE PUBLICATION dw_pub FOR TABLE session_internal.sessions;
RESET client_min_messages;
ALTER TABLE session_internal.sessions REPLICA IDENTITY NOTHING;
SET session.touch_interval = 0;
\set VERBOSITY terse
SELECT count(*) FROM session_touch(:'pubtok');
SELECT session_prune();
\set VERBOSITY default
RESET session.touch_interval;
ALTER TABLE session_internal.sessions REPLICA IDENTITY DEFAULT;
DROP PUBLICATION dw_pub;
SELECT count(*) AS pub_rows FROM session_internal.sessions WHERE user_id = 'dw-pub';
SELECT session_destroy_user('dw-pub');
SELECT sum(session_destroy_user('dw' || u)) AS ended FROM generate_series(0, 2) u;
DROP TABLE dw_tokens;
DROP EXTENSION amcheck;
