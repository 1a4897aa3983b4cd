# The background prune worker: prunes every database that has the
# extension, skips the others, follows session.prune_interval on reload,
# keeps its schedule across restarts, comes back after being killed or
# after an error, and never blocks DROP DATABASE or DROP EXTENSION.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SessionTest;

my $node = session_node('worker');
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'session'
session.prune_interval = '1s'
restart_after_crash = on
});
$node->start;

sub expired_count
{
	my ($db) = @_;
	return $node->safe_psql($db,
		q{SELECT count(*) FROM session_internal.sessions WHERE expires_at <= now()});
}

sub launcher_pid
{
	return $node->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'session prune launcher'});
}

sub last_prune_start
{
	my ($db) = @_;
	return $node->safe_psql($db,
		q{SELECT last_start FROM session_internal.prune_state});
}

# --- Every database with the extension, and only those ----------------

for my $db (qw(db1 db2 db3))
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
}
for my $db (qw(db1 db2))
{
	$node->safe_psql($db, 'CREATE EXTENSION session');
	$node->safe_psql($db, q{SELECT session_create('live')});
	add_expired($node, $db, 2500);
}
# db3 has a table of its own that looks like ours; it must not be touched.
$node->safe_psql('db3', q{
	CREATE SCHEMA session_internal;
	CREATE TABLE session_internal.sessions (expires_at timestamptz);
	INSERT INTO session_internal.sessions VALUES (now() - interval '1 day')});

ok(launcher_pid() ne '', 'launcher visible in pg_stat_activity with its own backend_type');

for my $db (qw(db1 db2))
{
	ok($node->poll_query_until($db,
			q{SELECT count(*) = 0 FROM session_internal.sessions WHERE expires_at <= now()}),
		"expired sessions pruned in $db");
	is($node->safe_psql($db, q{SELECT count(*) FROM session_list('live')}),
		'1', "live session kept in $db");
	ok($node->log_contains(qr/session prune of database "$db": \d+ expired sessions deleted in \d+ batches, [0-9.]+ s/),
		"one LOG line per run in $db");
}
is($node->safe_psql('db3', 'SELECT count(*) FROM session_internal.sessions'),
	'1', 'database without the extension left alone');
ok(!$node->log_contains(qr/database "db3"|ERROR/), 'database without the extension skipped quietly');

# --- A database created after start-up is picked up --------------------

$node->safe_psql('postgres', 'CREATE DATABASE db4');
$node->safe_psql('db4', 'CREATE EXTENSION session');
add_expired($node, 'db4', 10);
ok($node->poll_query_until('db4',
		q{SELECT count(*) = 0 FROM session_internal.sessions WHERE expires_at <= now()}),
	'database created after start-up is pruned');

# --- Rows that a request has locked are skipped, not waited for --------

# The worker runs every second, so it may prune the row before the app
# locks it; take the lock again until it lands on a row that still exists.
my $app = $node->background_psql('db1');
my $held = 0;
for my $try (1 .. 50)
{
	add_expired($node, 'db1', 1, 'locked');
	$app->query_safe('BEGIN');
	$held = $app->query_safe(q{SELECT count(*) FROM (SELECT 1 FROM session_internal.sessions WHERE user_id = 'locked' FOR UPDATE) l});
	last if $held == 1;
	$app->query_safe('ROLLBACK');
}
is($held, 1, 'a request holds an expired row');
add_expired($node, 'db1', 100, 'free');
ok($node->poll_query_until('db1',
		q{SELECT count(*) = 0 FROM session_internal.sessions WHERE user_id = 'free'}),
	'prune goes on past a row a request holds');
is($node->safe_psql('db1', q{SELECT count(*) FROM session_internal.sessions WHERE user_id = 'locked'}),
	'1', 'the held row is skipped');
$app->query_safe('COMMIT');
$app->quit;
ok($node->poll_query_until('db1',
		q{SELECT count(*) = 0 FROM session_internal.sessions WHERE user_id = 'locked'}),
	'and pruned once released');

# --- SIGHUP changes the interval ---------------------------------------

$node->safe_psql('postgres', q{ALTER SYSTEM SET session.prune_interval = '1h'});
my $offset = -s $node->logfile;
$node->reload;
$node->wait_for_log(qr/session prune launcher: \d+ database\(s\) with the extension/, $offset);
# Once on the long interval, the stats view shows the next run an hour on.
ok($node->poll_query_until('db1',
		q{SELECT next_prune_due = last_prune_start + interval '1 hour' FROM session_stats}),
	'reloaded interval visible in session_stats');

# No run is under way now, so the rows added here stay until the next one,
# which comes after a checkpoint: every page it changes logs a full image.
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'session prune worker'}),
	'no prune running on the long interval');
add_expired($node, 'db2', 200);
# counted before the checkpoint: reading the new rows sets their hint bits,
# which with data checksums logs each page's image from this backend
is(expired_count('db2'), '200', 'expired sessions wait for the next run');
$node->safe_psql('db2', 'CREATE EXTENSION pg_walinspect; CHECKPOINT');
my $lsn = $node->safe_psql('db2', 'SELECT pg_current_wal_lsn()');
$node->safe_psql('postgres', q{ALTER SYSTEM SET session.prune_interval = '1s'});
$node->reload;
ok($node->poll_query_until('db2',
		q{SELECT count(*) = 0 FROM session_internal.sessions WHERE expires_at <= now()}),
	'shorter interval after SIGHUP prunes again');
# The worker writes those images compressed, as session_prune() does:
# with its deletes, or where data checksums are on (initdb's default from
# 18) in the hint-bit record its scan writes first.
is($node->safe_psql('db2', qq{
		SELECT string_agg(DISTINCT coalesce(substring(block_ref FROM 'method: (\\w+)'), 'none'), ',')
		FROM pg_get_wal_records_info('$lsn', pg_current_wal_lsn())
		WHERE fpi_length > 0
		  AND ((resource_manager = 'Heap' AND record_type = 'DELETE')
		       OR (resource_manager = 'XLOG' AND record_type = 'FPI_FOR_HINT'))
		  AND block_ref LIKE '%/' || pg_relation_filenode('session_internal.sessions') || ' %'}),
	'lz4', 'worker compresses its full-page images');

# --- The schedule survives restarts ------------------------------------

# With an hour's interval, a restart must not run a prune: the launcher
# announces the next check an hour after the last run.
$node->safe_psql('postgres', q{ALTER SYSTEM SET session.prune_interval = '1h'});
$node->reload;
$node->poll_query_until('db1',
	q{SELECT next_prune_due = last_prune_start + interval '1 hour' FROM session_stats});
my $before = last_prune_start('db1');
add_expired($node, 'db1', 7);
$offset = -s $node->logfile;
$node->restart;
$node->wait_for_log(qr/session prune launcher: \d+ database\(s\) with the extension, next check at/, $offset);
is(last_prune_start('db1'), $before, 'no prune run caused by the restart');
is(expired_count('db1'), '7', 'expired sessions wait for their time');
my $log = slurp_file($node->logfile, $offset);
my ($announced) = $log =~ /next check at (\S+ \S+)/;
ok(defined $announced, 'launcher announced its schedule');
is($node->safe_psql('db1', qq{SELECT '$announced'::timestamptz > now() + interval '50 minutes'}),
	't', 'next check is an hour after the last run, not now');

# A server restarted more often than the interval still prunes on time.
$node->safe_psql('postgres', q{ALTER SYSTEM SET session.prune_interval = '4s'});
$node->restart;
ok($node->poll_query_until('db1', qq{SELECT last_start > '$before' FROM session_internal.prune_state}),
	'prunes when due after restarts');
is(expired_count('db1'), '0', 'and deleted what had expired');
$node->safe_psql('postgres', q{ALTER SYSTEM SET session.prune_interval = '1s'});
$node->reload;

# --- Killed or failing, it comes back ----------------------------------

my $pid = launcher_pid();
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok($node->poll_query_until('postgres',
		qq{SELECT count(*) = 1 FROM pg_stat_activity
		   WHERE backend_type = 'session prune launcher' AND pid <> $pid}),
	'terminated launcher restarts');

$pid = launcher_pid();
kill 'KILL', $pid;
ok($node->poll_query_until('postgres',
		qq{SELECT count(*) = 1 FROM pg_stat_activity
		   WHERE backend_type = 'session prune launcher' AND pid <> $pid}),
	'launcher killed with SIGKILL comes back');

# A prune that fails logs why, and the next attempt succeeds.
$offset = -s $node->logfile;
$node->safe_psql('db2', 'ALTER TABLE session_internal.sessions RENAME COLUMN expires_at TO broken');
$node->wait_for_log(qr/ERROR:  session storage column 6 is "broken", expected "expires_at"/, $offset);
ok($node->log_contains(qr/CONTEXT:  .*session prune worker for database "db2"/, $offset),
	'a failing prune logs its error and where it happened');
$node->safe_psql('db2', 'ALTER TABLE session_internal.sessions RENAME COLUMN broken TO expires_at');
add_expired($node, 'db2', 3);
ok($node->poll_query_until('db2',
		q{SELECT count(*) = 0 FROM session_internal.sessions WHERE expires_at <= now()}),
	'prune retried after the error');

# --- Never in the way of DROP EXTENSION or DROP DATABASE ----------------

$node->safe_psql('postgres', q{ALTER SYSTEM SET session.prune_batch_size = 20});
$node->reload;

sub wait_for_worker_in
{
	my ($db) = @_;
	return $node->poll_query_until('postgres', qq{
		SELECT count(*) > 0 FROM pg_stat_activity
		WHERE backend_type = 'session prune worker' AND datname = '$db'});
}

add_expired($node, 'db1', 300000);
ok(wait_for_worker_in('db1'), 'worker busy in db1');
$node->safe_psql('db1', 'DROP EXTENSION session');
ok(1, 'DROP EXTENSION went through while the worker ran');

add_expired($node, 'db2', 300000);
ok(wait_for_worker_in('db2'), 'worker busy in db2');
$node->safe_psql('postgres', 'DROP DATABASE db2');
ok(1, 'DROP DATABASE went through while the worker ran');

ok(launcher_pid() ne '', 'launcher still running');

$node->stop('fast');
ok(!$node->log_contains(qr/PANIC|TRAP/), 'no crash');
done_testing();
