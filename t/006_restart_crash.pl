# Sessions survive a clean restart and a crash: every session live before
# is live after, with its data, and every ended token is still dead.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SessionTest;

my $node = session_node('crash');
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'session'
session.touch_interval = 0
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION session');

# Tokens are kept in a table of the test's own, so that the checks are
# single queries and no token passes through the test's output.
$node->safe_psql('postgres', q{
	CREATE TABLE t (n int, token text, state text);
	INSERT INTO t SELECT i, session_create('user' || i, jsonb_build_object('n', i)), 'live'
	FROM generate_series(1, 200) i;
	-- some end by logout, some by regeneration (the old token dies)
	UPDATE t SET state = 'destroyed' WHERE n <= 20 AND session_destroy(token);
	INSERT INTO t SELECT n + 1000, session_regenerate(token), 'live' FROM t WHERE n BETWEEN 21 AND 40;
	UPDATE t SET state = 'regenerated' WHERE n BETWEEN 21 AND 40;
	-- and some were just written by a touch or a merge
	SELECT count(*) FROM t, LATERAL session_touch(token) WHERE n BETWEEN 41 AND 60;
	SELECT session_merge(token, '{"merged": true}') FROM t WHERE n BETWEEN 61 AND 80;
});

my $check = q{
	SELECT state,
	       count(*) AS tokens,
	       count(*) FILTER (WHERE s.user_id IS NOT NULL) AS working,
	       count(*) FILTER (WHERE (s.data ->> 'n')::int = t.n % 1000) AS data_intact,
	       count(*) FILTER (WHERE s.data ? 'merged') AS merged
	FROM t LEFT JOIN LATERAL session_get(t.token) s ON true
	GROUP BY state ORDER BY state};
my $expected = join("\n",
	'destroyed|20|0|0|0',
	'live|180|180|180|20',
	'regenerated|20|0|0|0');

is($node->safe_psql('postgres', $check), $expected, 'before restart');

$node->restart;
is($node->safe_psql('postgres', $check), $expected, 'after a clean restart');

# Touches that write right before a crash are durable once committed.
$node->safe_psql('postgres',
	q{SELECT count(*) FROM t, LATERAL session_touch(token) WHERE state = 'live'});
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', $check), $expected, 'after a crash (immediate stop)');
is($node->safe_psql('postgres', q{SELECT count(*) FROM session_internal.sessions}),
	'180', 'nothing resurrected, nothing lost');

$node->stop;
done_testing();
