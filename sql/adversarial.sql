--
-- Adversarial tokens, beyond token_format: every truncation and extension,
-- every control character, non-ASCII, and well-formed tokens signed by a
-- key that is not ours, or by ours for an id that was never issued.  Each
-- must give zero rows, never an error.  pgcrypto forges the signatures.
--
CREATE EXTENSION pgcrypto;

SELECT session_create('adv', '{"k": 1}') AS tok \gset
SELECT split_part(:'tok', '.', 1) AS id \gset

CREATE FUNCTION pg_temp.b64url(b bytea) RETURNS text
LANGUAGE sql AS $$ SELECT rtrim(translate(encode(b, 'base64'), '+/', '-_'), '=') $$;

-- Every proper prefix, and every one-character extension.
SELECT count(*) AS truncations,
       count(*) FILTER (WHERE (SELECT count(*) FROM session_get(left(:'tok', n))) > 0) AS accepted
FROM generate_series(0, 75) n;
SELECT count(*) AS extensions,
       count(*) FILTER (WHERE (SELECT count(*) FROM session_get(:'tok' || c)) > 0) AS accepted
FROM regexp_split_to_table(
    'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ', '') c;

-- Every control character, at the start, in the middle and at the end.
SELECT count(*) AS control_variants,
       count(*) FILTER (WHERE (SELECT count(*) FROM session_get(v)) > 0) AS accepted
FROM generate_series(1, 127) code,
     LATERAL (VALUES (chr(code) || substr(:'tok', 2)),
                     (overlay(:'tok' PLACING chr(code) FROM 33 FOR 1)),
                     (left(:'tok', -1) || chr(code))) AS m(v)
WHERE code < 32 OR code = 127;

-- Non-ASCII, in place of one character (the byte length changes) and of
-- the dot.
SELECT count(*) AS non_ascii_variants,
       count(*) FILTER (WHERE (SELECT count(*) FROM session_get(v)) > 0) AS accepted
FROM (VALUES ('é'), ('€'), ('😀'), (U&'\00A0'), (U&'\FF0E')) AS x(c),
     LATERAL (VALUES (overlay(:'tok' PLACING c FROM 1 FOR 1)),
                     (overlay(:'tok' PLACING c FROM 33 FOR 1)),
                     (overlay(:'tok' PLACING c FROM 76 FOR 1))) AS m(v);

-- A well-formed token signed by a key that is not this database's.
SELECT count(*) AS foreign_key_rows
FROM session_get(:'id' || '.' || pg_temp.b64url(hmac(convert_to(:'id', 'UTF8'), gen_random_bytes(32), 'sha256')));

-- A signature made with our key over an id we never issued: the signature
-- is good, the session unknown.
SELECT pg_temp.b64url(gen_random_bytes(24)) AS unknown_id \gset
SELECT count(g.created_at) AS unknown_id_rows,
       session_set(t, '{}') AS set, session_merge(t, '{}') AS merge,
       session_regenerate(t) AS regenerate, session_destroy(t) AS destroy
FROM (SELECT :'unknown_id' || '.' ||
             pg_temp.b64url(hmac(convert_to(:'unknown_id', 'UTF8'), k.secret, 'sha256')) AS t
      FROM session_internal.keys k ORDER BY k.created_at DESC, k.id DESC LIMIT 1) f
LEFT JOIN LATERAL session_get(f.t) g ON true
GROUP BY t;

-- The same forgery for a real session's id proves the forgery is right.
SELECT count(*) AS own_key_rows
FROM session_internal.keys k, LATERAL session_get(
    :'id' || '.' || pg_temp.b64url(hmac(convert_to(:'id', 'UTF8'), k.secret, 'sha256')));

-- Still intact.
SELECT user_id, data FROM session_touch(:'tok');

DROP EXTENSION pgcrypto;
