--
-- Shard routing: session_shard_hash and the session.shards/session.shard
-- settings that make a database create only ids routed to itself.
--
\set VERBOSITY terse

-- immutable, catalog-free, callable by anyone
SELECT provolatile, proisstrict, proparallel FROM pg_proc
WHERE oid = 'session_shard_hash(text)'::regprocedure;

-- NULL and anything malformed route to 0
SELECT session_shard_hash(NULL) AS null_token, session_shard_hash('') AS empty,
       session_shard_hash('not a token') AS garbage,
       session_shard_hash(repeat('A', 32) || '.' || repeat('A', 42) || 'B') AS noncanonical,
       session_shard_hash(repeat('x', 100000)) AS huge;

-- a token routes by the first byte of its id's SHA-256, which is the first
-- byte of the stored id_hash, signature unchecked
SELECT session_create('router') AS tok \gset
SELECT session_shard_hash(:'tok') = get_byte(sha256(convert_to(split_part(:'tok', '.', 1), 'UTF8')), 0)
       AS route_is_hash_byte,
       session_shard_hash(:'tok') BETWEEN 0 AND 255 AS one_byte,
       session_shard_hash(split_part(:'tok', '.', 1) || '.' || repeat('A', 42) || 'A')
       = session_shard_hash(:'tok') AS signature_unchecked;
SELECT get_byte(id_hash, 0) = session_shard_hash(:'tok') AS stored_hash_routes
FROM session_internal.sessions WHERE user_id = 'router';

-- unsharded (the default), routes are spread over all 256 values
SELECT count(DISTINCT session_shard_hash(session_create('spread'))) > 100 AS spread
FROM generate_series(1, 1000);

-- shard 2 of 4: every id made routes to 2, by create and by regenerate
SET session.shards = 4;
SET session.shard = 2;
CREATE TEMP TABLE made AS
SELECT session_create('sharded', jsonb_build_object('i', i)) AS tok
FROM generate_series(1, 200) i;
SELECT count(*) AS made, count(*) FILTER (WHERE session_shard_hash(tok) & 3 = 2) AS on_shard_2,
       count(DISTINCT session_shard_hash(tok)) > 30 AS upper_bits_still_random
FROM made;
SELECT count(*) FILTER (WHERE session_shard_hash(session_regenerate(tok)) & 3 = 2) AS regenerated_on_2
FROM made;
-- shard 5 of 256
SET session.shards = 256;
SET session.shard = 5;
SELECT bool_and(session_shard_hash(session_create('s5')) = 5) AS all_route_to_5
FROM generate_series(1, 20);

-- a token made before sharding still works on the shard that holds it
SELECT user_id FROM session_touch(:'tok');

-- bad settings: not a power of two, too many, a shard past the count
SET session.shards = 3;
SET session.shards = 512;
SET session.shards = 4;
SET session.shard = 4;
SELECT count(*) AS before FROM session_internal.sessions \gset
SELECT session_create('nope');
SELECT session_regenerate(:'tok');
SELECT count(*) = :before AS nothing_written FROM session_internal.sessions;
SELECT user_id FROM session_touch(:'tok');
RESET session.shard;
RESET session.shards;

-- superuser-only
CREATE ROLE session_shard_app;
SET ROLE session_shard_app;
SET session.shards = 2;
SET session.shard = 1;
SELECT session_shard_hash(:'tok') = get_byte(sha256(convert_to(split_part(:'tok', '.', 1), 'UTF8')), 0)
       AS app_may_route;
RESET ROLE;
DROP ROLE session_shard_app;
