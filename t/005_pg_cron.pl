# pg_cron as the alternative schedule: the worker is turned off with
# session.prune_interval = 0 and pg_cron calls session_prune().
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SessionTest;

my $node = session_node('cron');
# pg_cron is packaged for most PostgreSQL majors, not all (none for 19 yet)
my ($cron, $control) = have_extension($node, 'pg_cron');
plan skip_all => "pg_cron is not installed for this PostgreSQL ($control)"
  unless $cron;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_cron, session'
cron.database_name = 'postgres'
cron.use_background_workers = on
session.prune_interval = 0
});
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION pg_cron');
$node->safe_psql('postgres', 'CREATE EXTENSION session');
my $tok = $node->safe_psql('postgres', q{SELECT session_create('live')});
$node->safe_psql('postgres', q{
	SELECT session_create('expired') FROM generate_series(1, 20);
	UPDATE session_internal.sessions SET expires_at = now() - interval '1 minute'
	WHERE user_id = 'expired'});

is($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'session prune launcher'}),
	'1', 'launcher present but idle');
is($node->safe_psql('postgres', 'SELECT next_prune_due IS NULL FROM session_stats'),
	't', 'session_stats shows no worker schedule');

# pg_cron 1.4 runs at most once a minute.
$node->safe_psql('postgres',
	q{SELECT cron.schedule('session-prune', '* * * * *', 'SELECT session_prune()')});
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM session_internal.sessions WHERE user_id = 'expired'}),
	'pg_cron pruned the expired sessions');
ok($node->poll_query_until('postgres',
		q{SELECT count(*) > 0 FROM cron.job_run_details WHERE status = 'succeeded'}),
	'the cron job succeeded');
is($node->safe_psql('postgres', 'SELECT last_prune_deleted FROM session_stats'),
	'20', 'the run is recorded like any other');
is($node->safe_psql('postgres', "SELECT count(*) FROM session_touch('$tok')"),
	'1', 'live session kept');

$node->stop;
done_testing();
