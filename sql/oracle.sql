--
-- pgcrypto, as an independent implementation, recomputes what the C code
-- produced: the token's signature and the stored hash of its id.
--
CREATE EXTENSION pgcrypto;

-- HMAC-SHA256 over an id's characters with the newest key, as unpadded
-- base64url: what the signature part of its token must be.
CREATE FUNCTION pg_temp.expected_signature(token_id text) RETURNS text
LANGUAGE sql AS $$
    SELECT rtrim(translate(encode(hmac(convert_to(token_id, 'UTF8'), k.secret, 'sha256'),
                                  'base64'), '+/', '-_'), '=')
    FROM session_internal.keys k
    ORDER BY k.created_at DESC, k.id DESC LIMIT 1
$$;

SELECT session_create('oracle') AS tok \gset

SELECT split_part(:'tok', '.', 2) =
       pg_temp.expected_signature(split_part(:'tok', '.', 1)) AS signature_matches;

-- The row is stored under SHA-256 of the id's characters.
SELECT count(*) AS rows_under_hash
FROM session_internal.sessions
WHERE id_hash = digest(split_part(:'tok', '.', 1), 'sha256') AND user_id = 'oracle';

-- The id is 24 bytes of base64url.
SELECT length(decode(translate(split_part(:'tok', '.', 1), '-_', '+/'), 'base64')) AS id_bytes;

-- After a rotation, the new token is signed with the new key.
SELECT session_rotate_key();
SELECT session_create('oracle2') AS tok2 \gset
SELECT split_part(:'tok2', '.', 2) =
       pg_temp.expected_signature(split_part(:'tok2', '.', 1)) AS new_signature_matches;
-- and no longer with the old one
SELECT split_part(:'tok', '.', 2) =
       pg_temp.expected_signature(split_part(:'tok', '.', 1)) AS old_matches_newest;

DROP EXTENSION pgcrypto;
