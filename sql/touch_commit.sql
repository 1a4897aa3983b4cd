--
-- A transaction whose only writes are touches commits without waiting for
-- the WAL flush; any other write keeps the durable commit.  The decision is
-- announced at DEBUG1 just before commit, so the messages below are the
-- test: one per asynchronous commit, none otherwise.
--
\set VERBOSITY terse

CREATE TABLE touch_commit_other (n int);
SELECT session_create('tc', '{}') AS tok \gset
SELECT session_create('tc', '{}') AS tok2 \gset
SET session.touch_interval = 0;
SET client_min_messages = debug1;

-- a touch alone (autocommit): asynchronous
SELECT count(*) FROM session_touch(:'tok');

-- two touches, nothing else: asynchronous
BEGIN;
SELECT count(*) FROM session_touch(:'tok');
SELECT count(*) FROM session_touch(:'tok2');
COMMIT;

-- a touch, then a write of the application's: durable
BEGIN;
SELECT count(*) FROM session_touch(:'tok');
INSERT INTO touch_commit_other VALUES (1);
COMMIT;

-- a write of the application's, then a touch: durable
BEGIN;
INSERT INTO touch_commit_other VALUES (2);
SELECT count(*) FROM session_touch(:'tok');
COMMIT;

-- a touch and a data change: durable
BEGIN;
SELECT count(*) FROM session_touch(:'tok');
SELECT session_set(:'tok', '{"a": 1}');
COMMIT;

-- a touch that writes nothing (within the touch interval): nothing to decide
RESET session.touch_interval;
SELECT count(*) FROM session_touch(:'tok');
SET session.touch_interval = 0;

-- a touch whose transaction rolls back: nothing is committed
BEGIN;
SELECT count(*) FROM session_touch(:'tok');
ROLLBACK;

-- a touch in a subtransaction that rolls back, then one that stays: the
-- abort record is WAL of another kind, so the commit is durable
BEGIN;
SAVEPOINT s;
SELECT count(*) FROM session_touch(:'tok');
ROLLBACK TO SAVEPOINT s;
SELECT count(*) FROM session_touch(:'tok');
COMMIT;

-- two-phase commit: PREPARE is not a commit, and COMMIT PREPARED is
-- another transaction's commit, always durable
BEGIN;
SELECT count(*) FROM session_touch(:'tok');
PREPARE TRANSACTION 'tc';
COMMIT PREPARED 'tc';

-- the caller's own synchronous_commit = off: already asynchronous
SET synchronous_commit = off;
SELECT count(*) FROM session_touch(:'tok');
RESET synchronous_commit;

-- session.touch_synchronous_commit = on: durable
SET session.touch_synchronous_commit = on;
SELECT count(*) FROM session_touch(:'tok');
RESET session.touch_synchronous_commit;

-- a stricter synchronous_commit is kept: remote_write and remote_apply
-- (here, set locally and for the session) are durable, and come back
-- unchanged; local, like on, is relaxed
BEGIN;
SET LOCAL synchronous_commit = remote_apply;
SELECT count(*) FROM session_touch(:'tok');
COMMIT;
SET synchronous_commit = remote_write;
SELECT count(*) FROM session_touch(:'tok');
SHOW synchronous_commit;
SET synchronous_commit = local;
SELECT count(*) FROM session_touch(:'tok');
SHOW synchronous_commit;
RESET synchronous_commit;

-- a trigger on the table that writes a row of its own: the touch then
-- writes through SQL, and the trigger's row commits durably with it
RESET client_min_messages;
CREATE TABLE touch_commit_audit (user_id text);
CREATE FUNCTION touch_commit_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.touch_commit_audit VALUES (NEW.user_id);
    RETURN NEW;
END $$;
CREATE TRIGGER touch_commit_audit AFTER UPDATE ON session_internal.sessions
    FOR EACH ROW EXECUTE FUNCTION touch_commit_audit();
SET client_min_messages = debug1;
SELECT count(*) FROM session_touch(:'tok');
RESET client_min_messages;
SELECT count(*) AS audited FROM touch_commit_audit;
DROP TRIGGER touch_commit_audit ON session_internal.sessions;
DROP FUNCTION touch_commit_audit();
DROP TABLE touch_commit_audit;
SET client_min_messages = debug1;

-- the setting is a user's own choice, like synchronous_commit
RESET client_min_messages;
CREATE ROLE touch_commit_user;
SET ROLE touch_commit_user;
SET session.touch_synchronous_commit = on;
SHOW session.touch_synchronous_commit;
RESET session.touch_synchronous_commit;
SHOW session.touch_synchronous_commit;
RESET ROLE;
DROP ROLE touch_commit_user;

-- and after all that the session is intact: its data and expiry
SELECT data, expires_at > now() AS live FROM session_touch(:'tok');
RESET session.touch_interval;
SELECT session_destroy(:'tok'), session_destroy(:'tok2');
DROP TABLE touch_commit_other;
