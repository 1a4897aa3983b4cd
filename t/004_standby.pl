# On a hot standby the prune worker does nothing; after promotion it prunes.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
# The primary does not prune here, so that the standby's behaviour shows.
$primary->append_conf('postgresql.conf', q{
shared_preload_libraries = 'session'
session.prune_interval = 0
});
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION session');
my $tok = $primary->safe_psql('postgres', q{SELECT session_create('live', '{"n": 1}')});
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

$standby->promote;
ok($standby->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'session prune launcher'}),
	'launcher starts after promotion');
ok($standby->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM session_internal.sessions WHERE user_id = 'expired'}),
	'the promoted standby prunes');
is($standby->safe_psql('postgres', "SELECT user_id FROM session_touch('$tok')"),
	'live', 'live session kept and usable on the new primary');

$standby->stop;
$primary->stop;
done_testing();
