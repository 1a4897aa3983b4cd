--
-- A prune's batch ends after session.prune_batch_size expired sessions or
-- after as many heap pages (1024 at most), so that each batch, and each of
-- the worker's transactions, stays short in a store of mostly live
-- sessions.  Here: 10 pages a batch over a table of live sessions only.
--
SELECT session_prune() >= 0 AS clean_start;
INSERT INTO session_internal.sessions
    (id_hash, key_id, user_id, data, created_at, expires_at, idle_timeout)
SELECT sha256(convert_to('pb' || i, 'UTF8')), 1, 'pb', '{}',
       now(), now() + interval '1 hour', interval '1 hour'
FROM generate_series(1, 3000) i;
SELECT pg_relation_size('session_internal.sessions') / current_setting('block_size')::int AS pages \gset
SELECT :pages > 40 AS enough_pages;

SET session.prune_batch_size = 10;
SELECT session_prune() AS pruned;
-- one batch per 10 pages (the last batch ends at the end of the table)
SELECT last_batches = ceil(:pages / 10.0) AS batches_per_10_pages,
       last_deleted
FROM session_internal.prune_state;

-- with expired sessions among them, a batch still ends at 10 deletions
UPDATE session_internal.sessions SET expires_at = now() - interval '1 second'
WHERE user_id = 'pb' AND right(encode(id_hash, 'hex'), 1) = '0';
SELECT count(*) AS expired FROM session_internal.sessions
WHERE user_id = 'pb' AND expires_at <= now() \gset
SELECT session_prune() = :expired AS pruned_all_expired;
SELECT last_batches >= :expired / 10 AS at_most_10_a_batch
FROM session_internal.prune_state;
RESET session.prune_batch_size;

DELETE FROM session_internal.sessions WHERE user_id = 'pb';
