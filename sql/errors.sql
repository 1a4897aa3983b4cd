--
-- Bad arguments raise a class-22 error with a PostgreSQL-style message and
-- change nothing.  Bad tokens are not errors (see token_format).
--
CREATE FUNCTION pg_temp.err(q text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    -- from 17 on a setting's range prints its unit on both bounds
    -- ("1 s .. 34560000 s"); shown as 15 prints it, on every version
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '\((-?\d+) s \.\. (\d+) s\)$', '(\1 .. \2)');
END $$;

SELECT session_create('err', '{"keep": true}') AS tok \gset

-- <token> stands for a live session's token, which is never printed.
SELECT q, pg_temp.err(replace(q, '<token>', quote_literal(:'tok'))) FROM (VALUES
    ($$SELECT session_create('x', '[]')$$),
    ($$SELECT session_create('x', '"text"')$$),
    ($$SELECT session_create('x', '1')$$),
    ($$SELECT session_create('x', 'null'::jsonb)$$),
    ($$SELECT session_create('x', NULL)$$),
    ($$SELECT session_create('x', '{}', '0')$$),
    ($$SELECT session_create('x', '{}', '-1 hour')$$),
    ($$SELECT session_create('x', '{}', '1 day -25 hours')$$),
    ($$SELECT session_create('x', '{}', '401 days')$$),
    ($$SELECT session_create('x', '{}', '1000 years')$$),
    ($$SELECT session_create('x', '{}', NULL, '0')$$),
    ($$SELECT session_create('x', '{}', NULL, '-1 second')$$),
    ($$SELECT session_create('x', '{}', NULL, '2 years')$$),
    -- the span from now decides, months as the calendar counts them: 13
    -- months and 9 days is at least 402 days, a year and 36 days at least
    -- 401, a month less 31 days never more than none
    ($$SELECT session_create('x', '{}', '13 mons 9 days')$$),
    ($$SELECT session_create('x', '{}', NULL, '1 year 36 days')$$),
    ($$SELECT session_create('x', '{}', '1 mon -31 days')$$),
    ($$SELECT session_create('x', '{}', NULL, '1 mon -31 days')$$),
    ($$SELECT session_set('not-a-token', '[]')$$),
    ($$SELECT session_set(<token>, '[]')$$),
    ($$SELECT session_set(<token>, NULL)$$),
    ($$SELECT session_merge(<token>, '[1]')$$),
    ($$SELECT session_merge(<token>, NULL)$$),
    ($$SET session.idle_timeout = '401d'$$),
    ($$SET session.idle_timeout = 0$$),
    ($$SET session.absolute_timeout = -1$$),
    ($$SET session.touch_interval = -1$$),
    ($$SET session.prune_batch_size = 0$$),
    ($$SET session.no_such_setting = 1$$)
) AS t(q);

-- The limits themselves are accepted, and spans in months that stay
-- within them: 13 months is 393 to 397 days, a month less 27 days 1 to 4.
SELECT expires_at - created_at AS idle, absolute_expires_at - created_at AS absolute
FROM session_get(session_create('edge', '{}', '400 days', '400 days'));
SELECT expires_at - created_at BETWEEN '1 day' AND '4 days' AS idle_in_range,
       absolute_expires_at - created_at BETWEEN '393 days' AND '397 days' AS absolute_in_range
FROM session_get(session_create('edge', '{}', '1 mon -27 days', '13 mons'));

-- Nothing was written or changed by the failures.
SELECT count(*) AS rows_added FROM session_internal.sessions WHERE user_id = 'x';
SELECT data FROM session_get(:'tok');
