-- A backend keeps the storage table's OID from one request to the next
-- (session.c): dropping and creating the extension again, or renaming its
-- table, in the same connection must take effect at once.
SELECT current_database() AS regression_db \gset
CREATE DATABASE session_reinstall;
\c session_reinstall
SET client_min_messages = warning;
CREATE EXTENSION session;
SELECT session_create('ann', '{"n": 1}') AS tok \gset
SELECT user_id, data FROM session_get(:'tok');
SELECT 'session_internal.sessions'::regclass::oid AS old_oid \gset

-- A new table (and new keys) in this same backend.
DROP EXTENSION session;
CREATE EXTENSION session;
SELECT 'session_internal.sessions'::regclass::oid <> :old_oid AS new_table;
SELECT count(*) AS old_token_rows FROM session_get(:'tok');
SELECT session_create('bob', '{"n": 2}') AS tok \gset
SELECT user_id, data FROM session_touch(:'tok');
SELECT user_id, data FROM session_get(:'tok');

-- The same inside one transaction.
BEGIN;
DROP EXTENSION session;
CREATE EXTENSION session;
SELECT user_id FROM session_get(session_create('cy', '{}'));
COMMIT;

-- Renamed away, the table is missing, with the extension's own error; back
-- under its name, it is found again.
SELECT session_create('dee', '{}') AS tok \gset
ALTER TABLE session_internal.sessions RENAME TO sessions_moved;
SELECT user_id FROM session_get(:'tok');
ALTER TABLE session_internal.sessions_moved RENAME TO sessions;
SELECT user_id FROM session_get(:'tok');

\c :regression_db
DROP DATABASE session_reinstall;
