--
-- CSRF tokens bound to the session (1.6): session_csrf_token(token) and
-- session_csrf_check(token, csrf_token).  pgcrypto recomputes the token as
-- an independent implementation: base64url(HMAC-SHA256(key, 'csrf:' || id))
-- with the key that signed the session's token.
--
\set VERBOSITY terse
CREATE EXTENSION pgcrypto;
CREATE FUNCTION pg_temp.b64url(b bytea) RETURNS text LANGUAGE sql AS
$$ SELECT rtrim(translate(encode(b, 'base64'), '+/', '-_'), '=') $$;

SELECT session_create('csrf-ann') AS ann \gset
SELECT session_create('csrf-ben') AS ben \gset
SELECT session_csrf_token(:'ann') AS ann_csrf \gset

-- 43 characters of base64url, the same at every call, the session's own,
-- and no part of the token
SELECT length(:'ann_csrf') AS length, :'ann_csrf' ~ '^[A-Za-z0-9_-]{43}$' AS base64url,
       session_csrf_token(:'ann') = :'ann_csrf' AS stable,
       session_csrf_token(:'ben') <> :'ann_csrf' AS per_session,
       strpos(:'ann', :'ann_csrf') = 0 AS not_in_token;
-- what pgcrypto computes with the key that signed the token
SELECT :'ann_csrf' = pg_temp.b64url(hmac(convert_to('csrf:' || split_part(:'ann', '.', 1), 'UTF8'),
                                         k.secret, 'sha256')) AS matches_pgcrypto
FROM session_internal.keys k
WHERE pg_temp.b64url(hmac(convert_to(split_part(:'ann', '.', 1), 'UTF8'), k.secret, 'sha256'))
      = split_part(:'ann', '.', 2);

-- The check: true only for the session's own token, in its one spelling.
SELECT session_csrf_check(:'ann', :'ann_csrf') AS own,
       session_csrf_check(:'ben', :'ann_csrf') AS other_session,
       session_csrf_check(:'ann', session_csrf_token(:'ben')) AS others_token,
       session_csrf_check(:'ann', left(:'ann_csrf', 42) || CASE WHEN right(:'ann_csrf', 1) = 'A' THEN 'E' ELSE 'A' END) AS last_char,
       session_csrf_check(:'ann', upper(:'ann_csrf')) AS upper,
       session_csrf_check(:'ann', :'ann_csrf' || ' ') AS longer,
       session_csrf_check(:'ann', left(:'ann_csrf', 42)) AS shorter,
       session_csrf_check(:'ann', '') AS empty,
       session_csrf_check(:'ann', NULL) AS null_csrf,
       session_csrf_check(NULL, :'ann_csrf') AS null_token,
       session_csrf_check(:'ann', split_part(:'ann', '.', 2)) AS the_signature;
-- anything that is not a signed token has none
SELECT session_csrf_token(NULL) IS NULL AS null_token,
       session_csrf_token('') IS NULL AS empty,
       session_csrf_token(left(:'ann', -1) || CASE WHEN right(:'ann', 1) = 'A' THEN 'E' ELSE 'A' END) IS NULL
           AS one_char_off,
       session_csrf_token(split_part(:'ann', '.', 1) || '.' ||
           pg_temp.b64url(hmac(convert_to(split_part(:'ann', '.', 1), 'UTF8'), gen_random_bytes(32), 'sha256'))) IS NULL
           AS forged,
       session_csrf_token(repeat('A', 1024 * 1024)) IS NULL AS huge;

-- A key rotation keeps it (the token is still the old key's); a regenerate
-- gives a new one, and the new token's check refuses the old CSRF token.
SELECT session_rotate_key();
SELECT session_csrf_token(:'ann') = :'ann_csrf' AS kept_through_rotation;
SELECT session_regenerate(:'ann') AS ann2 \gset
SELECT session_csrf_token(:'ann2') <> :'ann_csrf' AS new_after_regenerate,
       session_csrf_check(:'ann2', :'ann_csrf') AS old_csrf_on_new_token,
       session_csrf_check(:'ann2', session_csrf_token(:'ann2')) AS new_csrf;
-- it does not read the table: the old token still has one, and the touch
-- beside it says the session is gone
SELECT session_csrf_token(:'ann') = :'ann_csrf' AS old_token_still_derives,
       (SELECT count(*) FROM session_touch(:'ann')) AS old_token_live;

-- Not granted to PUBLIC.
SELECT p.oid::regprocedure AS function, count(*) FILTER (WHERE a.grantee = 0) AS public_grants
FROM pg_proc p LEFT JOIN LATERAL aclexplode(p.proacl) a ON true
WHERE p.proname LIKE 'session_csrf%'
GROUP BY 1 ORDER BY p.oid::regprocedure::text;

SELECT session_destroy_user(u) FROM unnest(ARRAY['csrf-ann', 'csrf-ben']) u;
DROP EXTENSION pgcrypto;
