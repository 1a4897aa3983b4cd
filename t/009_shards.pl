# Sessions sharded with PL/Proxy: a router database (session_proxy) in
# front of 4 shard databases on 2 clusters.  The whole API through the
# router as an app role allowed the request functions only; every session
# on the shard its token names and on no other; destroy_user and list
# across shards; the prune worker pruning every shard; a cluster that is
# down (its shards' calls fail naming the shard, the others go on, nothing
# lost when it returns); and that cluster failing over to its synchronous
# standby, the router pointed at the new primary, with no session lost; and
# a router made with session_proxy 1.0 that keeps its grants through 1.1.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SessionTest;

my $na = session_node('shards_a');
my ($plproxy, $control) = have_extension($na, 'plproxy');
plan skip_all => "PL/Proxy is not installed for this PostgreSQL ($control)"
  unless $plproxy;
my $nb = session_node('shards_b', allows_streaming => 1);
for my $node ($na, $nb)
{
	$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'session'
session.prune_interval = 0
});
	$node->start;
}

# shards 0 and 2 on a, 1 and 3 on b; the router on a
my @node = ($na, $nb, $na, $nb);
my @db = map { "sessions_$_" } 0 .. 3;
shard_db($node[$_], $db[$_], 4, $_) for 0 .. 3;
router_db($na, 'router', [ map { shard_conninfo($node[$_], $db[$_]) } 0 .. 3 ]);

# b's synchronous standby, for the failover below
$nb->backup('base');
my $nb2 = PostgreSQL::Test::Cluster->new('shards_b2');
$nb2->init_from_backup($nb, 'base', has_streaming => 1);
$nb2->start;
$nb->append_conf('postgresql.conf', q{synchronous_standby_names = 'shards_b2'});
$nb->reload;
ok($nb->poll_query_until('postgres',
		q{SELECT sync_state = 'sync' FROM pg_stat_replication WHERE application_name = 'shards_b2'}),
	'b has its standby as a synchronous one');

# psql on the router as app; returns (ret, stdout, stderr)
sub app
{
	my ($sql) = @_;
	my ($ret, $out, $err) = $na->psql('router', $sql, extra_params => [ '-U', 'app' ]);
	return ($ret, $out, $err);
}

sub app_ok
{
	my ($sql) = @_;
	my ($ret, $out, $err) = app($sql);
	die "app query failed: $sql\n$err" if $ret != 0;
	return $out;
}

# --- the API through the router ---
my @toks = map { app_ok("SELECT session_create('user" . ($_ % 5) . "', '{\"i\": $_}')") } 1 .. 40;
my %seen = map { (route_of($_) & 3) => 1 } @toks;
is((placement(\@node, \@db, \@toks))[0], 40,
	'every session exists on the shard its token names, and on no other');
is(scalar(keys %seen), 4, 'creates spread over all 4 shards');
is(app_ok("SELECT session_shard_hash('$toks[0]')"), route_of($toks[0]),
	'the router computes the same route as the shards store');

my $t = $toks[0];
is(app_ok("SELECT user_id || ' ' || data FROM session_touch('$t')"), 'user1 {"i": 1}',
	'session_touch through the router');
is(app_ok("SELECT session_merge('$t', '{\"cart\": [7]}')"), '{"i": 1, "cart": [7]}',
	'session_merge through the router');
is(app_ok("SELECT session_merge('$t', '{\"n\": null}', '{cart}')"), '{"i": 1, "n": null}',
	'session_merge with removals (1.4) through the router keeps a null');
is(app_ok("SELECT session_set_idle_timeout('$t', '2 minutes') BETWEEN now() + interval '2 minutes' AND clock_timestamp() + interval '2 minutes'"), 't',
	'session_set_idle_timeout (1.4) through the router');
is(app_ok("SELECT session_set('$t', '{\"only\": true}')"), 't', 'session_set');
is(app_ok("SELECT data FROM session_get('$t')"), '{"only": true}', 'session_get sees it');
my $t2 = app_ok("SELECT session_regenerate('$t', 'user9')");
is(app_ok("SELECT count(*) FROM session_touch('$t')"), '0', 'regenerate: the old token is dead');
is(app_ok("SELECT user_id || ' ' || data FROM session_get('$t2')"), 'user9 {"only": true}',
	'regenerate: the new token has the data and the new user');
is((placement(\@node, \@db, [$t2]))[0], 1, 'the regenerated session on its shard, and on no other');
is((route_of($t2) & 3), (route_of($t) & 3),
	'regenerate keeps the session on its shard');
is(app_ok("SELECT session_destroy('$t2')"), 't', 'session_destroy');
is(app_ok("SELECT count(*) FROM session_get('$t2')"), '0', 'destroyed');
is(app_ok("SELECT count(*) FROM session_touch('not a token')"), '0', 'a malformed token: zero rows');

# user2 has 8 sessions (i = 2, 7, ..., 37), on several shards
my %user2 = map { (route_of($toks[$_ - 1]) & 3) => 1 } grep { $_ % 5 == 2 } 1 .. 40;
cmp_ok(scalar(keys %user2), '>', 1, "user2's sessions are on more than one shard");
is(app_ok(q{SELECT count(*) || ' ' || sum((data->>'i')::int) FROM session_list('user2')}),
	'8 156', 'session_list gathers a user\'s sessions from every shard');
is(app_ok(q{SELECT string_agg(data->>'i', ',') FROM session_list('user2')}), '2,7,12,17,22,27,32,37',
	'session_list through the router is oldest first, as on one server');
is(app_ok("SELECT session_destroy_user('user2', '$toks[1]')"), '7',
	'session_destroy_user across shards, sparing one');
is(app_ok(q{SELECT count(*) FROM session_list('user2')}), '1', 'one left');
is(app_ok("SELECT count(*) FROM session_get('$toks[1]')"), '1', 'the spared one works');
is(app_ok(q{SELECT session_destroy_user('nobody')}), '0', 'destroy_user of nobody: 0');

# privileges: app calls the request functions and nothing else
for my $admin ('SELECT session_prune()', 'SELECT session_rotate_key()',
	'SELECT * FROM session_stats', 'SELECT session_stats_reset()',
	'SELECT * FROM session_proxy_internal.prune()')
{
	my ($ret, $out, $err) = app($admin);
	like($err, qr/permission denied/, "app may not: $admin");
}
my ($ret, $out, $err) = $na->psql('sessions_0', 'SELECT session_prune()',
	extra_params => [ '-U', 'session_router' ]);
like($err, qr/permission denied/, 'the router\'s shard role may not prune');
($ret, $out, $err) = $na->psql('sessions_0', 'SELECT count(*) FROM session_internal.keys',
	extra_params => [ '-U', 'session_router' ]);
like($err, qr/permission denied/, 'the router\'s shard role cannot read keys');
is($na->safe_psql('router', q{SELECT count(*) FROM pg_namespace WHERE nspname = 'session_internal'}),
	'0', 'the router holds no keys and no sessions');

# admin functions through the router, as its superuser, on every shard
is($na->safe_psql('router', 'SELECT string_agg(shard::text, \',\') FROM session_stats'),
	'0,1,2,3', 'session_stats: a row per shard');
my $live = $na->safe_psql('router', 'SELECT sum(live_sessions) FROM session_stats');
is($live, 40 - 1 - 7, 'session_stats counts the live sessions of all shards');
my @before = map { $node[$_]->safe_psql($db[$_], 'SELECT count(*) FROM session_internal.keys') } 0 .. 3;
$na->safe_psql('router', 'SELECT session_rotate_key()');
my @after = map { $node[$_]->safe_psql($db[$_], 'SELECT count(*) FROM session_internal.keys') } 0 .. 3;
is(join(',', map { $after[$_] - $before[$_] } 0 .. 3), '1,1,1,1', 'session_rotate_key on every shard');
is(app_ok("SELECT count(*) FROM session_touch('$toks[2]')"), '1', 'tokens still valid after rotation');
cmp_ok($na->safe_psql('router', 'SELECT min(creates) FROM session_stats'), '>', 0, 'creates counted');
$na->safe_psql('router', 'SELECT session_stats_reset()');
is($na->safe_psql('router', 'SELECT sum(creates) FROM session_stats'), '0',
	'session_stats_reset on every shard');

# --- a router made with session_proxy 1.0, updated to 1.1 and 1.2 ---
# The app's grants on session_list, session_create and session_touch carry
# over to the PL/Proxy functions that 1.1 and 1.2 put behind them.
{
	my $opts = join(', ', map { "p$_ '" . shard_conninfo($node[$_], $db[$_]) . "'" } 0 .. 3);
	$na->safe_psql('postgres', 'CREATE DATABASE router10');
	$na->safe_psql('router10', qq{
		CREATE EXTENSION plproxy;
		CREATE EXTENSION session_proxy VERSION '1.0';
		CREATE SERVER session_shards FOREIGN DATA WRAPPER plproxy OPTIONS ($opts);
		CREATE USER MAPPING FOR app SERVER session_shards OPTIONS (user 'session_router');
		GRANT USAGE ON FOREIGN SERVER session_shards TO app;
		GRANT USAGE ON SCHEMA session_proxy_internal TO app;
		GRANT EXECUTE ON FUNCTION session_create(text, jsonb, interval, interval),
		    session_touch(text), session_list(text) TO app;
		ALTER EXTENSION session_proxy UPDATE TO '1.1';
		ALTER EXTENSION session_proxy UPDATE TO '1.2'});
	my ($r, $tok, $e) = $na->psql('router10', q{SELECT session_create('upgraded')},
		extra_params => [ '-U', 'app' ]);
	is($r, 0, 'after 1.0 -> 1.1, app can still session_create') or diag $e;
	($r, my $n, $e) = $na->psql('router10', q{SELECT count(*) FROM session_list('upgraded')},
		extra_params => [ '-U', 'app' ]);
	is($n, '1', 'and session_list') or diag $e;
	($r, $n, $e) = $na->psql('router10', qq{SELECT count(*) FROM session_touch('$tok')},
		extra_params => [ '-U', 'app' ]);
	is($n, '1', 'and session_touch, a PL/pgSQL wrapper since 1.2') or diag $e;
	is($na->safe_psql('router10', q{SELECT extversion FROM pg_extension WHERE extname = 'session_proxy'}),
		'1.2', 'session_proxy is at 1.2');
	app_ok(qq{SELECT session_destroy('$tok')});
}

# --- the prune worker prunes every shard ---
add_expired($node[$_], $db[$_], 25, 'expired') for 0 .. 3;
is($na->safe_psql('router', 'SELECT sum(expired_sessions) FROM session_stats'), '100',
	'100 expired sessions over the shards');
for my $node ($na, $nb)
{
	$node->safe_psql('postgres', q{ALTER SYSTEM SET session.prune_interval = '1s'});
	$node->reload;
}
for my $k (0 .. 3)
{
	ok($node[$k]->poll_query_until($db[$k],
			q{SELECT count(*) = 0 FROM session_internal.sessions WHERE user_id = 'expired'}),
		"the worker pruned shard $k");
}
for my $node ($na, $nb)
{
	$node->safe_psql('postgres', q{ALTER SYSTEM SET session.prune_interval = 0});
	$node->reload;
}

# --- a shard's server ends the router's open connection ---
# The router backend's next call on it, at once, gets the shard's 57P01 (or
# PL/Proxy's XX000 for the closed socket): 08006 naming the shard.  The call
# after that connects again.
my @live = grep { app_ok("SELECT count(*) FROM session_get('$_')") eq '1' } @toks;
my %data = map { $_ => app_ok("SELECT data FROM session_get('$_')") } @live;
{
	my ($on_b) = grep { route_of($_) & 1 } @live;
	my $shard = route_of($on_b) & 3;
	my $kill = sprintf(q{%s/psql -X -h %s -p %d -d %s -U %s -Atc "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = 'session_router'"},
		$nb->config_data('--bindir'), $nb->host, $nb->port, $db[$shard], $ENV{USER} || scalar(getpwuid($<)));
	my ($r, $o, $e) = $na->psql('router', qq{\\set VERBOSITY verbose
SELECT count(*) FROM session_touch('$on_b');
\\! $kill >/dev/null
SELECT count(*) FROM session_touch('$on_b');
SELECT data FROM session_touch('$on_b');}, on_error_stop => 0, extra_params => [ '-U', 'app' ]);
	like($e, qr/ERROR:  08006: session_proxy: shard $shard \(option p$shard of the server session_shards\) did not answer/,
		'a connection the shard ended: 08006 naming the shard');
	unlike($e, qr/ERROR:  (57P01|XX000)/, '... not 57P01 or XX000');
	like($o, qr/\Q$data{$on_b}\E\z/, '... and the next call connects again');
}

# --- a cluster down: shards 1 and 3 ---
$nb->stop('immediate');
my ($up, $down, $named) = (0, 0, 0);
for my $tok (@live)
{
	my $shard = route_of($tok) & 3;
	my ($r, $o, $e) = app("\\set VERBOSITY verbose\nSELECT data FROM session_touch('$tok')");
	if ($shard % 2 == 0)
	{
		$up++ if $r == 0 && $o eq $data{$tok};
	}
	else
	{
		$down++ if $r != 0;
		$named++ if $e =~ /ERROR:  08006: session_proxy: shard $shard \(option p$shard .*\n.*\[sessions_$shard\]/;
	}
}
my @made;
for my $i (1 .. 20)
{
	my ($r, $o) = app(qq{SELECT session_create('while-down', '{"n": $i}')});
	push @made, $o if $r == 0;
}
is(scalar(@made), 20, 'with b down, every create through the router succeeds');
is(scalar(grep { (route_of($_) & 3) % 2 == 0 } @made), 20, '... each on a shard that answers');
my ($lr, $lo, $le) = app("\\set VERBOSITY verbose\nSELECT count(*) FROM session_list('while-down')");
isnt($lr, 0, 'with b down, session_list fails as a whole rather than list part of the sessions');
like($le, qr/ERROR:  08006: session_proxy: a shard did not answer/, '... with 08006');
my ($dr, $do, $de) = app("\\set VERBOSITY verbose\nSELECT session_destroy_user('while-down')");
isnt($dr, 0, 'with b down, session_destroy_user fails');
like($de, qr/ERROR:  08006: session_proxy: a shard did not answer/, '... with 08006');
my $on_down = grep { (route_of($_) & 3) % 2 } @live;
is($up, @live - $on_down, 'with b down, every session on shards 0 and 2 works');
is($down, $on_down, 'every call for a session on shards 1 and 3 fails');
is($named, $on_down, 'each failure is 08006 naming the shard, PL/Proxy\'s text (its database) as detail');
$nb->start;
is(scalar(grep { app_ok("SELECT data FROM session_touch('$_')") eq $data{$_} } @live),
	scalar(@live), 'b back: every session intact');
# A failed destroy_user may have destroyed the sessions on the shards that
# answered (a router connection already open to them sends at once); a
# retry finishes it.
app_ok(q{SELECT session_destroy_user('while-down')});
is(app_ok(q{SELECT count(*) FROM unnest(ARRAY['} . join(q{','}, @made) . q{']) t, LATERAL session_get(t)}),
	'0', 'b back: session_destroy_user retried destroys every session of the user');

# --- b fails over to its synchronous standby ---
my @more = map { app_ok("SELECT session_create('late', '{\"n\": $_}')") } 1 .. 20;
ok((grep { (route_of($_) & 3) % 2 } @more) > 0, 'some late sessions on b');
$nb->stop('immediate');
$nb2->promote;
$na->safe_psql('router', sprintf(q{ALTER SERVER session_shards OPTIONS (SET p1 '%s', SET p3 '%s')},
		shard_conninfo($nb2, 'sessions_1'), shard_conninfo($nb2, 'sessions_3')));
is(scalar(grep { app_ok("SELECT data FROM session_touch('$_')") eq $data{$_} } @live),
	scalar(@live), 'after failover: every earlier session intact');
is(scalar(grep { app_ok("SELECT (data->>'n')::int FROM session_get('$more[$_ - 1]')") eq $_ } 1 .. 20),
	20, 'after failover: every session created just before the crash is there');
my @new = map { app_ok("SELECT session_create('after')") } 1 .. 20;
is(scalar(grep { app_ok("SELECT count(*) FROM session_touch('$_')") eq '1' } @new), 20,
	'after failover: new sessions on every shard work');
$node[1] = $node[3] = $nb2;
is((placement(\@node, \@db, \@new))[0], 20,
	'after failover: each new session on the shard its token names, and on no other');

done_testing();
