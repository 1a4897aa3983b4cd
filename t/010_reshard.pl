# Resharding with scripts/session-reshard: one unsharded database becomes
# 2 shards, then 2 become 4 while a workload runs through one of two
# routers, then 4 become 8.  Afterwards every token valid before is valid
# through both routers, every session is on the shard its token names and
# on no other, no session exists twice, and every merge the router
# acknowledged is there.  During the move a call may fail (the workload
# counts those), but no touch of a live session answers zero rows.  And the
# failures: a new shard refusing the copy (undone: no key or session left
# there, the settings back, a rerun succeeds), and a router refusing its
# switch after the other switched (nothing undone; --finish switches it and
# deletes only what the new shards hold).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use JSON::PP;
use Digest::SHA qw(sha256);
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

our $via = 'router';

sub app
{
	my ($sql) = @_;
	return $na->safe_psql($via, $sql, extra_params => [ '-U', 'app' ]);
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

# Through both routers (once there are two): how many of @$toks are valid
# with field = their place, as "router router2".
my @routers = ('router');

sub valid_both
{
	my ($field, $toks) = @_;
	my @n;
	for my $r (@routers)
	{
		local $via = $r;
		push @n, valid_in_order($field, $toks);
	}
	return join(' ', @n);
}

# session-reshard with --router for each of @routers and these arguments
sub reshard
{
	my @args = @_;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run([ $python, $tool, (map { ('--router', shard_conninfo($na, $_)) } @routers),
			map { /^--/ ? $_ : ('--add', $_) } @args ], '>', \$out, '2>', \$err);
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

# --- a second router of the same two shards ---
router_db($na, 'router2', [ @conninfo[0, 1] ]);
push @routers, 'router2';
is(valid_both('p', \@pre), '100 100', 'both routers serve every session');

# --- 2 to 4, refused by a new shard: undone ---
my @before = map { app("SELECT session_create('two', '{\"t\": $_}')") } 1 .. 100;
my @all = (@pre, @before);
shard_db($node[2], $db[2], 1, 0);
shard_db($node[3], $db[3], 1, 0);
$nb->safe_psql($db[3], q{
	CREATE FUNCTION public.refuse() RETURNS trigger LANGUAGE plpgsql
	    AS $$BEGIN RAISE EXCEPTION 'sessions_3 refuses'; END$$;
	CREATE TRIGGER refuse BEFORE INSERT ON session_internal.sessions
	    FOR EACH ROW EXECUTE FUNCTION public.refuse()});
my $old_keys = join(',', map { $node[$_]->safe_psql($db[$_], q{SELECT string_agg(id::text, ',') FROM session_internal.keys}) } 0, 1);
($ok, $err) = reshard($conninfo[2], $conninfo[3]);
ok(!$ok, 'refused: session-reshard failed');
like($err, qr/sessions_3 refuses/, 'refused: it says why');
like($err, qr/failed before the switch: undone/, 'refused: it undid its work');
is(join(' ', map { $node[$_]->safe_psql($db[$_], q{SELECT count(*) FROM session_internal.sessions}) } 2, 3),
	'0 0', 'refused: the new shards hold no session');
is(join(' ', map { $node[$_]->safe_psql($db[$_], "SELECT count(*) FROM session_internal.keys WHERE id IN ($old_keys)") } 2, 3),
	'0 0', 'refused: and none of the old shards\' keys');
is(join(' ', map { $node[$_]->safe_psql($db[$_], 'SHOW session.shards') . '/' . $node[$_]->safe_psql($db[$_], 'SHOW session.shard') } 0 .. 3),
	'2/0 2/1 1/0 1/0', 'refused: every shard has its settings back');
is(valid_both('p', \@pre) . ' ' . valid_both('t', \@before), '100 100 100 100', 'refused: every session served by both routers');
$nb->safe_psql($db[3], 'DROP TRIGGER refuse ON session_internal.sessions');

# --- 2 to 4, run again, under a workload ---

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
is(valid_both('p', \@pre), '100 100', '2 to 4: every token made before sharding is valid through both routers');
is(valid_both('t', \@before), '100 100', '2 to 4: every token made on 2 shards is valid through both routers');
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

# --- 4 to 8, the second router refusing its switch after the first's ---
push @node, $na, $nb, $na, $nb;
push @db, map { "sessions_$_" } 4 .. 7;
push @conninfo, map { shard_conninfo($node[$_], $db[$_]) } 4 .. 7;
shard_db($node[$_], $db[$_], 1, 0) for 4 .. 7;
$na->safe_psql('router2', q{
	CREATE FUNCTION public.refuse() RETURNS event_trigger LANGUAGE plpgsql
	    AS $$BEGIN RAISE EXCEPTION 'router2 refuses'; END$$;
	CREATE EVENT TRIGGER refuse ON ddl_command_start WHEN TAG IN ('ALTER SERVER')
	    EXECUTE FUNCTION public.refuse()});
($ok, $err) = reshard(@conninfo[4 .. 7]);
ok(!$ok, 'router2 refused: session-reshard failed');
like($err, qr/router2 refuses/, 'router2 refused: it says why');
like($err, qr/failed after the switch of host=\S+ port=\d+ dbname=router: the new shards are kept/,
	'router2 refused: the first router switched, so nothing is undone');
is(valid_both('p', \@pre) . ' ' . valid_both('t', \@before), '100 100 100 100',
	'router2 refused: every session served by both routers (router on 8 shards, router2 on 4)');
my $copied = join('+', map { $node[$_]->safe_psql($db[$_], q{SELECT count(*) FROM session_internal.sessions}) } 4 .. 7);
cmp_ok(eval $copied, '>', 0, "router2 refused: the new shards keep their copies ($copied)");
$na->safe_psql('router2', 'DROP EVENT TRIGGER refuse');

# a copy lost on a new shard: --finish must keep the old shard's, the only one
my ($lost) = grep { (route_of($_) & 7) == 4 } @pre;
my $lost_hash = "decode('" . unpack('H*', sha256((split /\./, $lost)[0])) . "', 'hex')";
is($na->safe_psql($db[4], "DELETE FROM session_internal.sessions WHERE id_hash = $lost_hash"), '',
	'a copy on shard 4 deleted by hand');
($ok, $err) = reshard('--finish');
ok(!$ok, '--finish: fails, since one session had no copy on its new shard');
like($err, qr/step 4: router host=\S+ port=\d+ dbname=router2 now has 8 shards/, '--finish: it switched router2');
like($err, qr/shard 0: kept 1 live sessions that route to shard 4 but are not there/, '--finish: it kept the only copy');
is($na->safe_psql($db[0], "SELECT count(*) FROM session_internal.sessions WHERE id_hash = $lost_hash"), '1',
	'--finish: the session with no other copy is still on shard 0');
$na->safe_psql($db[0], "DELETE FROM session_internal.sessions WHERE id_hash = $lost_hash");
is(valid_both('p', \@pre), '99 99', '4 to 8: every other token made before sharding is valid through both routers');
@pre = grep { $_ ne $lost } @pre;
is(valid_both('t', \@before), '100 100', '4 to 8: every token made on 2 shards is valid through both routers');
($placed, $twice) = placement(\@node, \@db, [ @pre, @before, @made ]);
is($placed, @pre + @before + @made, '4 to 8: each session on the shard its token names, and on no other');
is($twice, 0, '4 to 8: no stored session is on two shards');

done_testing();
