# A streaming standby: session_get answers with the primary's sessions;
# session_touch answers read-only (it validates and returns the session but
# cannot extend the expiry); writes fail with PostgreSQL's read-only error.
# The prune worker does nothing there until promotion; after it, every
# session is live on the new primary, touches write, and it prunes.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SessionTest;

my $primary = session_node('primary', allows_streaming => 1);
# The primary does not prune here, so that the standby's behaviour shows.
$primary->append_conf('postgresql.conf', q{
shared_preload_libraries = 'session'
session.prune_interval = 0
});
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION session');
my $tok = $primary->safe_psql('postgres', q{SELECT session_create('live', '{"n": 1}')});
my $gone = $primary->safe_psql('postgres', q{SELECT session_create('gone')});
$primary->safe_psql('postgres', "SELECT session_destroy('$gone')");
my $old = $primary->safe_psql('postgres', q{SELECT session_create('regen')});
my $new = $primary->safe_psql('postgres', "SELECT session_regenerate('$old')");
$primary->safe_psql('postgres', q{
	SELECT session_create('expired') FROM generate_series(1, 50);
	UPDATE session_internal.sessions SET expires_at = now() - interval '1 minute'
	WHERE user_id = 'expired'});

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->append_conf('postgresql.conf', q{session.prune_interval = '1s'});
$standby->start;
$primary->wait_for_catchup($standby);

is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'standby in recovery');
is($standby->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'session prune%'}),
	'0', 'no prune launcher on a standby');
is($standby->safe_psql('postgres', "SELECT user_id FROM session_get('$tok')"),
	'live', 'session_get answers on the standby');
is($standby->safe_psql('postgres',
		q{SELECT count(*) FROM session_internal.sessions WHERE user_id = 'expired'}),
	'50', 'expired sessions still there on the standby');
is($standby->safe_psql('postgres', "SELECT count(*) FROM session_get('$gone')"),
	'0', 'destroyed session dead on the standby');
is($standby->safe_psql('postgres',
		"SELECT (SELECT count(*) FROM session_get('$old')) || '/' || (SELECT count(*) FROM session_get('$new'))"),
	'0/1', 'regenerated session: old token dead, new token live on the standby');

# A touch that would write answers read-only instead of failing.
my $exp_before = $standby->safe_psql('postgres', "SELECT expires_at FROM session_get('$tok')");
is($standby->safe_psql('postgres',
		"SET session.touch_interval = 0; SELECT user_id || ' ' || data || ' ' || (expires_at = '$exp_before') FROM session_touch('$tok')"),
	'live {"n": 1} true', 'session_touch on the standby answers without extending');
my ($ret, $stdout, $stderr) = $standby->psql('postgres', q{SELECT session_create('nope')});
like($stderr, qr/cannot execute INSERT in a read-only transaction/,
	'session_create on the standby fails with the read-only error');
($ret, $stdout, $stderr) = $standby->psql('postgres', "SELECT session_destroy('$tok')");
like($stderr, qr/cannot execute DELETE in a read-only transaction/,
	'session_destroy on the standby fails with the read-only error');

$standby->promote;
ok($standby->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'session prune launcher'}),
	'launcher starts after promotion');
ok($standby->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM session_internal.sessions WHERE user_id = 'expired'}),
	'the promoted standby prunes');
is($standby->safe_psql('postgres', "SELECT user_id FROM session_touch('$tok')"),
	'live', 'live session kept and usable on the new primary');
is($standby->safe_psql('postgres',
		"SET session.touch_interval = 0; SELECT expires_at > '$exp_before' FROM session_touch('$tok')"),
	't', 'touches write on the new primary');
is($standby->safe_psql('postgres',
		"SELECT (SELECT count(*) FROM session_get('$gone')) || '/' || (SELECT count(*) FROM session_get('$old')) || '/' || (SELECT count(*) FROM session_get('$new'))"),
	'0/0/1', 'ended tokens stay dead after promotion');
my $fresh = $standby->safe_psql('postgres', q{SELECT session_create('fresh')});
is($standby->safe_psql('postgres', "SELECT user_id FROM session_touch('$fresh')"),
	'fresh', 'new sessions on the new primary');

$standby->stop;
$primary->stop;
done_testing();
