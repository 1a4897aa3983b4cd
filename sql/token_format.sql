--
-- Anything but a token we signed, for a live session, gives zero rows, NULL
-- or false: never an error, never a crash.
--
\set VERBOSITY terse

SELECT session_create('fmt', '{"k": 1}') AS tok \gset
SELECT split_part(:'tok', '.', 1) AS id, split_part(:'tok', '.', 2) AS sig \gset

CREATE TEMP TABLE bad (label text, token text);
INSERT INTO bad VALUES
    ('null', NULL),
    ('empty', ''),
    ('dot only', '.'),
    ('id only', :'id'),
    ('id and dot', :'id' || '.'),
    ('signature only', '.' || :'sig'),
    ('one char short', left(:'tok', -1)),
    ('one char long', :'tok' || 'A'),
    ('trailing dot', :'tok' || '.'),
    ('trailing space', :'tok' || ' '),
    ('leading space', ' ' || :'tok'),
    ('trailing newline', :'tok' || E'\n'),
    ('trailing garbage', :'tok' || '.garbage'),
    ('padded signature', :'id' || '.' || :'sig' || '='),
    ('padding for last char', :'id' || '.' || left(:'sig', -1) || '='),
    ('standard base64 characters', overlay(overlay(:'tok' PLACING '+' FROM 1 FOR 1) PLACING '/' FROM 40 FOR 1)),
    ('second dot', left(:'id', 31) || '.' || '.' || :'sig'),
    ('swapped halves', :'sig' || '.' || :'id'),
    ('upper-cased', upper(:'tok')),
    ('lower-cased', lower(:'tok')),
    ('signature of another id', repeat('A', 32) || '.' || :'sig'),
    ('all-zero signature', :'id' || '.' || repeat('A', 43)),
    ('non-ascii', left(:'tok', -1) || 'é'),
    ('control character', left(:'tok', -1) || E'\x01'),
    ('one megabyte', repeat('A', 1024 * 1024)),
    ('one megabyte after token', :'tok' || repeat('A', 1024 * 1024));

SELECT label,
       (SELECT count(*) FROM session_touch(token)) AS touch,
       (SELECT count(*) FROM session_get(token)) AS get,
       session_regenerate(token) AS regenerate,
       session_set(token, '{}') AS set,
       session_merge(token, '{}') AS merge,
       session_destroy(token) AS destroy
FROM bad ORDER BY label;
SELECT session_destroy_user('someone-else', token) FROM bad ORDER BY label LIMIT 1;

-- The last signature character carries 2 unused bits: the 3 other
-- characters with the same 4 high bits decode to the same bytes and must
-- be refused, or one token would have four spellings.
WITH alphabet AS (
    SELECT 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_' AS a
), last AS (
    SELECT strpos(a, right(:'sig', 1)) - 1 AS v, a FROM alphabet
)
SELECT count(*) AS same_bytes_spellings_accepted
FROM last, generate_series(0, 3) AS low
WHERE (v & ~3) | low <> v
  AND (SELECT count(*) FROM session_get(left(:'tok', -1) || substr(a, ((v & ~3) | low) + 1, 1))) > 0;

-- Every single-character change of a valid token.
WITH positions AS (
    SELECT p FROM generate_series(1, 76) p
), alphabet AS (
    SELECT c FROM regexp_split_to_table(
        'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ', '') c
), mutants AS (
    SELECT overlay(:'tok' PLACING c FROM p FOR 1) AS t
    FROM positions, alphabet
    WHERE substr(:'tok', p, 1) <> c
)
SELECT count(*) AS mutants,
       count(*) FILTER (WHERE (SELECT count(*) FROM session_get(t)) > 0) AS accepted
FROM mutants;

-- Malformed and forged tokens are refused before any table access.
SELECT pg_stat_force_next_flush();
SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) AS scans0
FROM pg_stat_user_tables WHERE relid = 'session_internal.sessions'::regclass \gset
SELECT count(*) AS rows
FROM bad, LATERAL session_touch(token);
SELECT count(*) AS rows
FROM generate_series(1, 100) i,
     LATERAL session_touch(:'id' || '.' || left(md5(i::text) || md5(i::text), 42) || 'A');
SELECT pg_stat_force_next_flush();
SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) - :scans0 AS table_scans
FROM pg_stat_user_tables WHERE relid = 'session_internal.sessions'::regclass;

-- The token itself still works, and nothing above changed the session.
SELECT user_id, data FROM session_touch(:'tok');
