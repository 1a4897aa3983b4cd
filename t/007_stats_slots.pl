# The counters' shared-memory slots (128, one per database): a dropped
# database's slot is freed, so a database made later with the same OID
# starts from zero and a database that found every slot taken gets one;
# a database without a slot reads NULL, never 0.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SessionTest;

my $node = session_node('slots');
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'session'
session.prune_interval = 0
});
$node->start;

sub creates
{
	my ($db) = @_;
	return $node->safe_psql($db, q{SELECT coalesce(creates::text, 'NULL') FROM session_stats});
}

# --- A recreated database with the same OID starts from zero --------------

$node->safe_psql('postgres', 'CREATE DATABASE reuse OID = 700000');
$node->safe_psql('reuse', 'CREATE EXTENSION session');
$node->safe_psql('reuse', q{SELECT session_create('a'), session_create('b'), session_create('c')});
is(creates('reuse'), '3', 'counted in the first database');

$node->safe_psql('postgres', 'DROP DATABASE reuse');
$node->safe_psql('postgres', 'CREATE DATABASE reuse OID = 700000');
$node->safe_psql('reuse', 'CREATE EXTENSION session');
is(creates('reuse'), '0', 'the database made again with the same OID starts from zero');

# A DROP DATABASE that fails (someone is connected) frees nothing.
$node->safe_psql('reuse', q{SELECT session_create('d')});
my $conn = $node->background_psql('reuse');
my ($ret, $stdout, $stderr) = $node->psql('postgres', 'DROP DATABASE reuse');
isnt($ret, 0, 'a drop that fails');
$conn->quit;
is(creates('reuse'), '1', 'keeps its counters');

# --- Every slot taken: NULL, until a drop frees one -----------------------

# A template with the extension, so that each database is a quick copy.
$node->safe_psql('postgres', 'CREATE DATABASE tpl');
$node->safe_psql('tpl', 'CREATE EXTENSION session');
my @dbs = map { "d$_" } 1 .. 130;
$node->safe_psql('postgres',
	join("\n", map { "CREATE DATABASE $_ TEMPLATE tpl STRATEGY FILE_COPY;" } @dbs));
# 'reuse' holds a slot; each of these claims one at its first count.
$node->safe_psql($_, q{SELECT count(*) FROM session_touch('x')}) for @dbs;

my @without = grep { creates($_) eq 'NULL' } @dbs;
is(scalar(@without), 3, 'three databases found every slot taken');
is(join(',', @without), 'd128,d129,d130', 'the last three to ask');
is($node->safe_psql('d1', q{SELECT touches FROM session_stats}), '1',
	'a database with a slot counts');

$node->safe_psql('postgres', "DROP DATABASE $_") for qw(d1 d2 d3);
is(join(',', map { creates($_) } @without), '0,0,0',
	'once three are dropped, the three get slots and start from zero');
$node->safe_psql('d130', q{SELECT session_create('e')});
is(creates('d130'), '1', 'and count');

$node->stop;
done_testing();
