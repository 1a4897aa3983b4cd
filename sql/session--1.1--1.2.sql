/* session--1.1--1.2.sql */

\echo Use "ALTER EXTENSION session UPDATE TO '1.2'" to load this file. \quit

-- When a key stopped being the newest, as the first prune to see it
-- superseded recorded it: a superseded key is retired only once it has
-- been superseded for the grace period (10 minutes) and no stored session
-- was signed with it.  Counting from the newer key's created_at retired
-- keys too early when the rotation's transaction stayed open a while.
-- Keys superseded before this update start their grace now.
ALTER TABLE session_internal.keys ADD COLUMN superseded_at timestamptz;
UPDATE session_internal.keys k
SET superseded_at = pg_catalog.clock_timestamp()
WHERE k.id OPERATOR(pg_catalog.<>)
      (SELECT n.id FROM session_internal.keys n
       ORDER BY n.created_at DESC, n.id DESC LIMIT 1);

-- The cache invalidation fires per changed row (and on TRUNCATE), so a
-- statement that changes no key, as most prunes' retirement does, no
-- longer makes every backend reload its keys.
DROP TRIGGER keys_changed ON session_internal.keys;
CREATE TRIGGER keys_changed
    AFTER INSERT OR UPDATE OR DELETE ON session_internal.keys
    FOR EACH ROW EXECUTE FUNCTION session_internal.keys_changed();
CREATE TRIGGER keys_truncated
    AFTER TRUNCATE ON session_internal.keys
    FOR EACH STATEMENT EXECUTE FUNCTION session_internal.keys_changed();
