# What a prune never waits for, and what it never holds while it waits:
# - a session_prune() left in an open transaction holds the prune's state
#   row; the worker then does not wait for it (the launcher would wait on
#   that worker, and no database would be pruned), and records its run
#   once the row is free;
# - with no free worker slot the launcher says so once, not once a
#   database a pass, and counts no database as having the extension;
# - a prune's pauses hold no buffer pin on the table (VACUUM could not
#   clean that page meanwhile).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SessionTest;

my $node = session_node('waits');
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'session'
session.prune_interval = '1s'
});
$node->start;

# --- An open session_prune() does not hold up the worker ---------------

for my $db (qw(db1 db2))
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, 'CREATE EXTENSION session');
}
# The worker has pruned both once (nothing to do): the schedule runs.
for my $db (qw(db1 db2))
{
	ok($node->poll_query_until($db,
			q{SELECT last_start IS NOT NULL FROM session_internal.prune_state}),
		"first run recorded in $db");
}

my $holder = $node->background_psql('db1');
$holder->query_safe(q{BEGIN; SELECT session_prune()});
my $offset = -s $node->logfile;
add_expired($node, 'db1', 50, 'held');
add_expired($node, 'db2', 50, 'other');
ok($node->poll_query_until('db2',
		q{SELECT count(*) = 0 FROM session_internal.sessions WHERE user_id = 'other'}),
	'the next database is pruned while a prune in db1 holds its state');
$node->wait_for_log(
	qr/session prune of database "db1" not recorded: another transaction holds the prune's state/,
	$offset);
ok(1, 'the worker in db1 stepped aside instead of waiting');
is($node->safe_psql('db1',
		q{SELECT count(*) FROM session_internal.sessions WHERE user_id = 'held'}),
	'0', 'and still deleted what had expired');
$holder->query_safe('COMMIT');
$holder->quit;
$offset = -s $node->logfile;
$node->wait_for_log(qr/session prune of database "db1": \d+ expired sessions deleted/, $offset);
ok(1, 'once the state is free, db1 records its runs again');

# --- A prune's pauses hold no pin on the table --------------------------

$node->safe_psql('postgres', q{ALTER SYSTEM SET session.prune_interval = 0});
$node->reload;
$node->safe_psql('db1', 'CREATE EXTENSION pg_buffercache');
add_expired($node, 'db1', 50000, 'slow');
my $pruner = $node->background_psql('db1');
$pruner->query_safe(q{SET session.prune_pause_ratio = 50});
$pruner->query_until(qr/started/, q{\echo started
SELECT session_prune();
});
# Sampled until the prune is seen pausing (its wait event) with no page
# of the table pinned; a scan that paused on its page would hold one the
# whole time it waits, and never pass.
ok($node->poll_query_until('db1', q{
		SELECT EXISTS (SELECT FROM pg_stat_activity
		               WHERE query = 'SELECT session_prune();'
		                 AND wait_event_type = 'Extension')
		   AND NOT EXISTS (SELECT FROM pg_buffercache b
		                   WHERE b.relfilenode = pg_relation_filenode('session_internal.sessions')
		                     AND b.reldatabase = (SELECT oid FROM pg_database WHERE datname = 'db1')
		                     AND b.pinning_backends > 0)}),
	'a pausing prune holds no pin on the table');
$pruner->quit;
is($node->safe_psql('db1',
		q{SELECT count(*) FROM session_internal.sessions WHERE user_id = 'slow'}),
	'0', 'and the paced prune deleted everything');

$node->stop;

# --- No free worker slot: said once, nothing counted ---------------------

my $tight = session_node('noslot');
# the launcher takes the only worker process there is
$tight->append_conf('postgresql.conf', q{
shared_preload_libraries = 'session'
session.prune_interval = '1s'
max_worker_processes = 1
max_logical_replication_workers = 0
});
$tight->start;
$tight->safe_psql('postgres', 'CREATE EXTENSION session');
$tight->wait_for_log(qr/session prune launcher: \d+ database\(s\) with the extension/);
# A reload with another interval makes the launcher announce once more,
# after at least one more pass over every database.
$offset = -s $tight->logfile;
$tight->safe_psql('postgres', q{ALTER SYSTEM SET session.prune_interval = '2s'});
$tight->reload;
$tight->wait_for_log(qr/session prune launcher: \d+ database\(s\) with the extension/, $offset);
my $log = slurp_file($tight->logfile);
my @no_slot = ($log =~ /could not start session prune worker: no free background worker slot/g);
is(scalar(@no_slot), 1, 'no free slot is logged once over several passes');
my @announced = ($log =~ /session prune launcher: (\d+) database\(s\) with the extension/g);
is(join(',', @announced), '0,0', 'and no database is counted as having the extension');
$tight->stop;

done_testing();
