# Resharding with scripts/session-reshard: one unsharded database becomes
# 2 shards, then 2 become 4 while a workload runs through the router.
# Afterwards every token valid before is valid, every session is on the
# shard its token names and on no other, no session exists twice, and every
# merge the router acknowledged is there.  During the move a call may fail
# (the workload counts those), but no touch of a live session answers zero
# rows.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use JSON::PP;
use FindBin;
use lib $FindBin::Bin;
use SessionTest;

my $na = session_node('reshard_a');
my ($plproxy, $control) = have_extension($na, 'plproxy');
plan skip_all => "PL/Proxy is not installed for this PostgreSQL ($control)"
  unless $plproxy;
my $python = '/usr/bin/python3';
plan skip_all => 'scripts/session-reshard needs python3 with psycopg (python3-psycopg)'
  unless system($python, '-c', 'import psycopg') == 0;
my $tool = "$FindBin::Bin/../scripts/session-reshard";

my $nb = session_node('reshard_b');
for my $node ($na, $nb)
{
	$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'session'
session.prune_interval = 0
max_connections = 50
});
	$node->start;
}

# shards 0 and 2 on a, 1 and 3 on b, as they will be
my @node = ($na, $nb, $na, $nb);
my @db = map { "sessions_$_" } 0 .. 3;
my @conninfo = map { shard_conninfo($node[$_], $db[$_]) } 0 .. 3;

sub app
{
	my ($sql) = @_;
	return $na->safe_psql('router', $sql, extra_params => [ '-U', 'app' ]);
}

# One field of each token's session data, read through the router as app in
# one statement: token => value (absent when the token is not valid).
sub fields
{
	my ($field, $toks) = @_;
	my $list = join(',', map { "'$_'" } @$toks);
	my %v = map { split / / } split /\n/, app(qq{
		SELECT t || ' ' || coalesce(g.data->>'$field', '-')
		FROM unnest(ARRAY[$list]) t, LATERAL session_get(t) g});
	return \%v;
}

# How many of @$toks are valid with data field $field = their 1-based place.
sub valid_in_order
{
	my ($field, $toks) = @_;
	my $v = fields($field, $toks);
	return scalar(grep { ($v->{ $toks->[$_ - 1] } // '') eq $_ } 1 .. @$toks);
}

sub reshard
{
	my @add = @_;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run([ $python, $tool, '--router', shard_conninfo($na, 'router'),
			map { ('--add', $_) } @add ], '>', \$out, '2>', \$err);
	note($err);
	return ($ok, $err);
}

# --- one unsharded database, its sessions made before any sharding ---
shard_db($na, $db[0], 1, 0);
my @pre = map { $na->safe_psql($db[0], "SELECT session_create('pre', '{\"p\": $_}')") } 1 .. 100;
router_db($na, 'router', [ $conninfo[0] ]);
is(valid_in_order('p', \@pre), 100, 'a router of one shard serves the sessions made before sharding');

# --- 1 to 2 ---
shard_db($node[1], $db[1], 1, 0);
my ($ok, $err) = reshard($conninfo[1]);
ok($ok, '1 to 2: session-reshard succeeded');
like($err, qr/step 6: shard 0 gave \d+ sessions to shard 1/, '1 to 2: it moved sessions');
is(valid_in_order('p', \@pre), 100, '1 to 2: every token made before sharding is still valid, with its data');
is(join(' ', placement(\@node, [ @db[0, 1] ], \@pre)), '100 0', '1 to 2: each session on the shard its token names, none twice');
is($na->safe_psql($db[0], 'SHOW session.shards') . ' ' . $nb->safe_psql($db[1], 'SHOW session.shard'),
	'2 1', '1 to 2: the shards have their settings');
is($nb->safe_psql($db[1], q{SELECT count(*) FROM session_internal.keys}), '3',
	'1 to 2: the new shard has the old shard\'s key (and its own two)');

# --- 2 to 4, under a workload ---
my @before = map { app("SELECT session_create('two', '{\"t\": $_}')") } 1 .. 100;
my @all = (@pre, @before);
shard_db($node[2], $db[2], 1, 0);
shard_db($node[3], $db[3], 1, 0);

my $stop = $PostgreSQL::Test::Utils::tmp_check . '/workload.stop';
my $tokfile = $PostgreSQL::Test::Utils::tmp_check . '/workload.tokens';
open(my $tf, '>', $tokfile) or die;
print $tf map { "$_\n" } @all;
close($tf);
my ($wout, $werr) = ('', '');
my $timer = IPC::Run::timer($PostgreSQL::Test::Utils::timeout_default);
my $load = IPC::Run::start(
	[ $python, "$FindBin::Bin/shard_workload.py", shard_conninfo($na, 'router') . ' user=app', $stop, 4, $tokfile ],
	'<', \undef, '>', \$wout, '2>', \$werr, $timer);
$load->pump until $wout =~ /ready/ || $timer->is_expired;
like($wout, qr/ready/, 'the workload runs');

($ok, $err) = reshard($conninfo[2], $conninfo[3]);
ok($ok, '2 to 4 under the workload: session-reshard succeeded');
like($err, qr/step 6: shard 1 gave \d+ sessions to shard 3/, '2 to 4: it moved sessions');

open(my $fh, '>', $stop) or die;
close($fh);
$load->finish;
my ($json) = $wout =~ /^(\{.*\})$/m;
ok(defined $json, 'the workload reported') or diag($werr);
my $res = decode_json($json // '{"sessions": {}, "lost": [], "errors": 0}');
my @made = keys %{ $res->{sessions} };
note("workload: " . scalar(@made) . " sessions made, $res->{errors} calls failed");
is(scalar(@{ $res->{lost} }), 0, 'no touch or merge of a live session answered "invalid" during the move');
cmp_ok(scalar(@made), '>', 100, 'the workload made sessions before, during and after');

# every token valid before is valid after, each once, where its token says
is(valid_in_order('p', \@pre), 100, '2 to 4: every token made before sharding is valid');
is(valid_in_order('t', \@before), 100, '2 to 4: every token made on 2 shards is valid');
my $n = fields('n', \@made);
my $bad = grep {
	my ($acked, $tried) = @{ $res->{sessions}{$_} };
	my $got = $n->{$_} // 'missing';
	$got ne $acked && $got ne $tried
} @made;
is($bad, 0, 'every session the workload made is valid and holds its last acknowledged merge');
my ($placed, $twice) = placement(\@node, \@db, [ @all, @made ]);
is($placed, @all + @made, 'each session on the shard its token names, and on no other');
is($twice, 0, 'no stored session is on two shards');
is(join(' ', map { $node[$_]->safe_psql($db[$_], 'SHOW session.shards') } 0 .. 3), '4 4 4 4',
	'all four shards have session.shards = 4');

done_testing();
