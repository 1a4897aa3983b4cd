# A DBA's triggers on the sessions table and the background worker: an
# audit trigger with unqualified names, found through the database's own
# search_path, sees the app's calls and the worker's prune; pg_notify from
# a trigger reaches a listener; a deferred foreign key does not stop the
# worker (the session it needs is kept, the rest go); and a trigger that
# raises fails that database's run, logged once with the database's name,
# while the other databases are pruned and the next try waits an interval.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SessionTest;

my $node = session_node('triggers');
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'session'
session.prune_interval = 0
});
$node->start;

my $grants = $SessionTest::REQUEST_FUNCTIONS;
for my $db (qw(db_audit db_bad db_clean))
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, 'CREATE EXTENSION session');
}
$node->safe_psql('postgres', qq{CREATE ROLE app LOGIN});
for my $db (qw(db_audit db_bad db_clean))
{
	$node->safe_psql($db, qq{GRANT EXECUTE ON FUNCTION $grants TO app});
}

# The audit table lives in a schema the database's search_path names, and
# the trigger names it without a schema, as a DBA writes it.
$node->safe_psql('db_audit', q{
	CREATE SCHEMA ops;
	ALTER DATABASE db_audit SET search_path = ops, public;
	CREATE TABLE ops.audit (op text, user_id text, at timestamptz DEFAULT now());
	CREATE FUNCTION ops.audit_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO audit (op, user_id) VALUES (TG_OP, coalesce(NEW.user_id, OLD.user_id));
		PERFORM pg_notify('sessions', TG_OP);
		RETURN NULL;
	END $$;
	CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON session_internal.sessions
		FOR EACH ROW EXECUTE FUNCTION ops.audit_sessions();
	CREATE TABLE ops.cart (h bytea REFERENCES session_internal.sessions (id_hash)
		DEFERRABLE INITIALLY DEFERRED);
});

# The app's calls, as the app role: login, a write, logout; pg_notify from
# the trigger reaches this session's LISTEN.
my ($out, $err) = ('', '');
$node->psql('db_audit', q{
	LISTEN sessions;
	SELECT session_create('ann', '{}', '1 hour') AS tok \gset
	SELECT session_merge(:'tok', '{"cart": 1}') IS NOT NULL AS merged;
	SELECT session_destroy(:'tok') AS logged_out;
}, stdout => \$out, stderr => \$err, extra_params => [ '-U', 'app' ]);
is($err, '', 'the app role\'s login, change and logout work with the trigger');
like($out, qr/Asynchronous notification "sessions" with payload "INSERT"/,
	'pg_notify from the trigger reaches a listener (login)');
like($out, qr/Asynchronous notification "sessions" with payload "DELETE"/,
	'pg_notify from the trigger reaches a listener (logout)');
is($node->safe_psql('db_audit', q{SELECT string_agg(op, ',' ORDER BY at) FROM ops.audit}),
	'INSERT,UPDATE,DELETE', 'the trigger saw login, change and logout');

# Sessions to prune in each database: in db_audit one of them is still in
# a cart (the deferred key); db_bad has a trigger that refuses deletes.
$node->safe_psql('db_audit', q{
	TRUNCATE ops.audit;
	SELECT count(session_create('old-' || i)) FROM generate_series(1, 30) i;
	INSERT INTO ops.cart SELECT id_hash FROM session_internal.sessions WHERE user_id = 'old-1';
	UPDATE session_internal.sessions SET expires_at = now() - interval '1 second';
	TRUNCATE ops.audit;
});
$node->safe_psql('db_bad', q{
	CREATE FUNCTION keep_all() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN RAISE EXCEPTION 'sessions are kept for the audit'; END $$;
	CREATE TRIGGER keep_all BEFORE DELETE ON session_internal.sessions
		FOR EACH ROW EXECUTE FUNCTION keep_all();
});
add_expired($node, $_, 20) for qw(db_bad db_clean);

# The worker, with an hour's interval: every database is due now.
my $offset = -s $node->logfile;
$node->safe_psql('postgres', q{ALTER SYSTEM SET session.prune_interval = '1h'});
$node->reload;
$node->wait_for_log(qr/session prune launcher: \d+ database\(s\) with the extension, next check at/,
	$offset);

is($node->safe_psql('db_audit',
		q{SELECT count(*) FROM session_internal.sessions}),
	'1', 'the worker pruned db_audit but for the session a deferred key needs');
is($node->safe_psql('db_audit',
		q{SELECT count(*) FROM ops.audit WHERE op = 'DELETE'}),
	'29', 'the trigger, found through the database\'s search_path, saw each of the worker\'s deletes');
is($node->safe_psql('db_clean',
		q{SELECT count(*) FROM session_internal.sessions}),
	'0', 'the other databases were pruned');
is($node->safe_psql('db_bad',
		q{SELECT count(*) FROM session_internal.sessions}),
	'20', 'the refused prune deleted nothing');

my $log = slurp_file($node->logfile, $offset);
my @refusals = $log =~ /ERROR:  sessions are kept for the audit/g;
is(scalar(@refusals), 1, 'the refusing trigger\'s error is logged once');
like($log, qr/ERROR:  sessions are kept for the audit\n.*CONTEXT:  (?:.*\n\t)*session prune worker for database "db_bad"/,
	'with the name of the database');
my ($announced) = $log =~ /next check at (\S+ \S+)/;
ok(defined $announced, 'the launcher announced its next check');
is($node->safe_psql('postgres', qq{SELECT '$announced'::timestamptz > now() + interval '50 minutes'}),
	't', 'the failed database is tried again an interval later, not within the minute');

done_testing();
