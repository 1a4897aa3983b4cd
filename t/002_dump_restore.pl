# Keys and sessions survive pg_dump and restore together: a restored
# database keeps its users logged in, across a key rotation too.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SessionTest;

my $node = session_node('dump');
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'session'");
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', 'CREATE EXTENSION session');

my $old = $node->safe_psql('src', q{SELECT session_create('old-key', '{"n": 1}')});
$node->safe_psql('src', 'SELECT session_rotate_key()');
my $new = $node->safe_psql('src', q{SELECT session_create('new-key', '{"n": 2}')});
my $gone = $node->safe_psql('src', q{SELECT session_create('gone')});
$node->safe_psql('src', "SELECT session_destroy('$gone')");

my $dump = $node->basedir . '/src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('src') ],
	'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('dst'), $dump ],
	'pg_restore');

is($node->safe_psql('dst', "SELECT user_id || ' ' || data FROM session_touch('$old')"),
	'old-key {"n": 1}', 'session signed by the older key works after restore');
is($node->safe_psql('dst', "SELECT user_id || ' ' || data FROM session_touch('$new')"),
	'new-key {"n": 2}', 'session signed by the newer key works after restore');
is($node->safe_psql('dst', "SELECT count(*) FROM session_touch('$gone')"),
	'0', 'destroyed session stays destroyed after restore');

# The restored keys sit beside the one CREATE EXTENSION made; new
# sessions work, and no key is duplicated.
is($node->safe_psql('dst', 'SELECT count(*), count(DISTINCT id) FROM session_internal.keys'),
	'3|3', 'dumped keys restored beside the fresh one');
my $fresh = $node->safe_psql('dst', q{SELECT session_create('fresh')});
is($node->safe_psql('dst', "SELECT user_id FROM session_touch('$fresh')"),
	'fresh', 'new sessions work in the restored database');

# A database restored elsewhere does not accept the other's fresh tokens.
is($node->safe_psql('src', "SELECT count(*) FROM session_touch('$fresh')"),
	'0', 'a token from another database is refused');

$node->stop;
done_testing();
