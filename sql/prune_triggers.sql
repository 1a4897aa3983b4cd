--
-- A prune of a table with delete triggers, an application's foreign keys
-- among them, deletes through SQL so that they run: ON DELETE CASCADE
-- removes the referencing rows, an AFTER DELETE trigger fires for each
-- session, and a session that a NO ACTION foreign key still references is
-- kept (and counted in one LOG line), never left orphaned, while the rest
-- of the batch still goes.
--
SELECT session_prune() >= 0 AS clean_start;

CREATE TABLE pt_cart (id_hash bytea REFERENCES session_internal.sessions (id_hash)
                          ON DELETE CASCADE,
                      item text);
CREATE TABLE pt_order (id_hash bytea REFERENCES session_internal.sessions (id_hash),
                       note text);
CREATE TABLE pt_pruned (user_id text);
CREATE FUNCTION pt_pruned() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.pt_pruned VALUES (OLD.user_id);
    RETURN OLD;
END $$;
CREATE TRIGGER pt_pruned AFTER DELETE ON session_internal.sessions
    FOR EACH ROW EXECUTE FUNCTION pt_pruned();

-- four sessions that will have expired, one that stays live
SELECT session_create('pt-cart') AS cart \gset
SELECT session_create('pt-order') AS ordered \gset
SELECT session_create('pt-plain-1') IS NOT NULL AS plain_1,
       session_create('pt-plain-2') IS NOT NULL AS plain_2;
SELECT session_create('pt-live') AS live \gset
INSERT INTO pt_cart SELECT id_hash, 'tea' FROM session_internal.sessions WHERE user_id = 'pt-cart';
INSERT INTO pt_cart SELECT id_hash, 'cake' FROM session_internal.sessions WHERE user_id = 'pt-cart';
INSERT INTO pt_order SELECT id_hash, 'paid' FROM session_internal.sessions WHERE user_id = 'pt-order';
INSERT INTO pt_cart SELECT id_hash, 'jam' FROM session_internal.sessions WHERE user_id = 'pt-live';
UPDATE session_internal.sessions SET expires_at = now() - interval '1 second'
WHERE user_id IN ('pt-cart', 'pt-order', 'pt-plain-1', 'pt-plain-2');

SET client_min_messages = log;
SELECT session_prune() AS pruned;
RESET client_min_messages;

-- the cart's rows went with their session; the live one's stayed
SELECT s.user_id, c.item FROM pt_cart c
LEFT JOIN session_internal.sessions s USING (id_hash) ORDER BY c.item;
-- the referenced session is still there, and its order row has it
SELECT o.note, s.user_id, s.expires_at <= now() AS expired
FROM pt_order o LEFT JOIN session_internal.sessions s USING (id_hash);
-- the trigger saw every deleted session, and only those
SELECT user_id FROM pt_pruned ORDER BY user_id;
SELECT user_id FROM session_internal.sessions WHERE user_id LIKE 'pt-%' ORDER BY user_id;

-- once the order lets go, the next prune takes it
DELETE FROM pt_order;
SELECT session_prune() AS pruned;
SELECT count(*) AS left_of_order FROM session_internal.sessions WHERE user_id = 'pt-order';

DROP TRIGGER pt_pruned ON session_internal.sessions;
DROP FUNCTION pt_pruned();
DROP TABLE pt_cart, pt_order, pt_pruned;
SELECT session_destroy(:'live') AS ended_live;
