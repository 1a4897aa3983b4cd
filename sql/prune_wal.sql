-- session_prune() writes the full-page images of the pages it changes
-- compressed with lz4, unless wal_compression already says how or
-- session.prune_wal_compression is off.  Each case prunes its own expired
-- sessions right after a checkpoint, so that every page it changes logs an
-- image; pg_walinspect names each image's compression.
CREATE EXTENSION pg_walinspect;
SET session.prune_pause_ratio = 0;
-- (what earlier tests left to expire goes first)
SELECT session_prune() >= 0 AS earlier_pruned;

CREATE FUNCTION pg_temp.expire_some(tag text) RETURNS void LANGUAGE sql AS $$
INSERT INTO session_internal.sessions
    (id_hash, key_id, user_id, data, created_at, expires_at, absolute_expires_at, idle_timeout)
SELECT sha256(convert_to(tag || i, 'UTF8')), 1, 'wal', '{"csrf": "x"}',
       now() - interval '2 hours', now() - interval '1 hour', NULL, interval '1 hour'
FROM generate_series(1, 200) i
$$;

-- how the prune logged the images of the session pages it changed since
-- lsn: with its deletes, or, where data checksums are on (initdb's default
-- from 18), in the hint-bit record its scan wrote first
CREATE FUNCTION pg_temp.images(lsn pg_lsn)
RETURNS TABLE (compression text, images bigint) LANGUAGE sql AS $$
SELECT coalesce(substring(block_ref FROM 'method: (\w+)'), 'none'), count(*)
FROM pg_get_wal_records_info(lsn, pg_current_wal_lsn())
WHERE fpi_length > 0
  AND ((resource_manager = 'Heap' AND record_type = 'DELETE')
       OR (resource_manager = 'XLOG' AND record_type = 'FPI_FOR_HINT'))
  AND block_ref LIKE '%/' || pg_relation_filenode('session_internal.sessions') || ' %'
GROUP BY 1 ORDER BY 1
$$;

-- The server's default: no compression.  The prune's images are lz4.
SHOW wal_compression;
SELECT pg_temp.expire_some('a');
CHECKPOINT;
SELECT pg_current_wal_lsn() AS lsn \gset
SELECT session_prune() AS pruned;
SELECT compression, images > 0 AS logged FROM pg_temp.images(:'lsn');

-- Called inside a transaction, the prune leaves that transaction's
-- wal_compression as it was.
SELECT pg_temp.expire_some('b');
BEGIN;
SELECT session_prune() AS pruned;
SHOW wal_compression;
COMMIT;

-- Turned off, the images are written as the server says: uncompressed.
SET session.prune_wal_compression = off;
SELECT pg_temp.expire_some('c');
CHECKPOINT;
SELECT pg_current_wal_lsn() AS lsn \gset
SELECT session_prune() AS pruned;
SELECT compression, images > 0 AS logged FROM pg_temp.images(:'lsn');
RESET session.prune_wal_compression;

-- A server that compresses already keeps its own method.
SET wal_compression = pglz;
SELECT pg_temp.expire_some('d');
CHECKPOINT;
SELECT pg_current_wal_lsn() AS lsn \gset
SELECT session_prune() AS pruned;
SELECT compression, images > 0 AS logged FROM pg_temp.images(:'lsn');
SHOW wal_compression;
RESET wal_compression;

RESET session.prune_pause_ratio;
DROP EXTENSION pg_walinspect;
