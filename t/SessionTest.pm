# Shared by the TAP tests: a cluster made the way every test needs one,
# and expired sessions added without making usable tokens.
package SessionTest;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use Digest::SHA qw(sha256);

our @EXPORT = qw(session_node add_expired have_extension shard_db router_db shard_conninfo
  route_of placement);

# A new cluster, initialized UTF8 with C collation whatever the caller's
# locale (from a POSIX one initdb would make it SQL_ASCII); not started.
# %params go to init (allows_streaming, ...).
sub session_node
{
	my ($name, %params) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%params, extra => ['--encoding=UTF8', '--locale=C']);
	return $node;
}

# Add n sessions of user to db that expired an hour ago, with nothing
# usable as a token.
sub add_expired
{
	my ($node, $db, $n, $user) = @_;
	$user //= 'expired';
	$node->safe_psql($db, qq{
		INSERT INTO session_internal.sessions
		    (id_hash, key_id, user_id, data, created_at, expires_at, idle_timeout)
		SELECT sha256(convert_to('$user' || i || clock_timestamp(), 'UTF8')), 1, '$user', '{}',
		       now() - interval '2 hours', now() - interval '1 hour', interval '1 hour'
		FROM generate_series(1, $n) i});
	return;
}

# Is extension name installed for node's PostgreSQL?  (pg_cron and PL/Proxy
# are not packaged for every major.)  Returns that, and the control file's
# path, for the message of a test that skips.
sub have_extension
{
	my ($node, $name) = @_;
	my $control = $node->config_data('--sharedir') . "/extension/$name.control";
	return (-f $control, $control);
}

# The request functions, as GRANTed to an app role (and, on a shard, to the
# role the router connects as).
our $REQUEST_FUNCTIONS = join(', ',
	'session_create(text, jsonb, interval, interval)', 'session_touch(text)',
	'session_get(text)', 'session_regenerate(text, text)',
	'session_set(text, jsonb)', 'session_merge(text, jsonb)',
	'session_merge(text, jsonb, text[])', 'session_set_idle_timeout(text, interval)',
	'session_destroy(text)', 'session_destroy_user(text, text)',
	'session_list(text)');

# Role name on node, a LOGIN role, unless it exists already.
sub login_role
{
	my ($node, $name) = @_;
	$node->safe_psql('postgres', qq{
		DO \$\$BEGIN
		  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$name') THEN
		    CREATE ROLE $name LOGIN;
		  END IF;
		END\$\$});
	return;
}

# Make database db on node shard k of n: the extension, the settings, and
# the role session_router granted the request functions only.
sub shard_db
{
	my ($node, $db, $n, $k) = @_;
	login_role($node, 'session_router');
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, qq{
		CREATE EXTENSION session;
		ALTER DATABASE $db SET session.shards = $n;
		ALTER DATABASE $db SET session.shard = $k;
		GRANT EXECUTE ON FUNCTION $REQUEST_FUNCTIONS TO session_router});
	return;
}

# libpq's conninfo for db on node.
sub shard_conninfo
{
	my ($node, $db) = @_;
	return 'host=' . $node->host . ' port=' . $node->port . " dbname=$db";
}

# Make database db on node the router of the shards in @$parts (conninfos,
# in order), with role app allowed the request functions only; app reaches
# the shards as session_router, the test's superuser as itself.
sub router_db
{
	my ($node, $db, $parts) = @_;
	my $opts = join(', ', map { "p$_ '$parts->[$_]'" } 0 .. $#$parts);
	my $me = $node->safe_psql('postgres', 'SELECT current_user');
	login_role($node, 'app');
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, qq{
		CREATE EXTENSION plproxy;
		CREATE EXTENSION session_proxy;
		CREATE SERVER session_shards FOREIGN DATA WRAPPER plproxy OPTIONS ($opts);
		CREATE USER MAPPING FOR app SERVER session_shards OPTIONS (user 'session_router');
		CREATE USER MAPPING FOR $me SERVER session_shards OPTIONS (user '$me');
		GRANT USAGE ON FOREIGN SERVER session_shards TO app;
		GRANT USAGE ON SCHEMA session_proxy_internal TO app;
		GRANT EXECUTE ON FUNCTION $REQUEST_FUNCTIONS,
		    session_proxy_internal.shard_count(), session_proxy_internal.unreachable(text, text, text, integer),
		    session_proxy_internal.touch(text), session_proxy_internal.get(text),
		    session_proxy_internal.regenerate(text, text), session_proxy_internal.set(text, jsonb),
		    session_proxy_internal.merge(text, jsonb), session_proxy_internal.merge(text, jsonb, text[]),
		    session_proxy_internal.set_idle_timeout(text, interval), session_proxy_internal.destroy(text),
		    session_proxy_internal.destroy_user(text, text), session_proxy_internal.list(text),
		    session_proxy_internal.create_on(integer, text, jsonb, interval, interval) TO app});
	return;
}

# The route of a token, computed here without the server: the first byte of
# the SHA-256 of its id (what session_shard_hash must agree with).
sub route_of
{
	my ($tok) = @_;
	return ord(sha256((split /\./, $tok)[0]));
}

# Where sessions are, read from the shards directly: the shards are
# $nodes->[k] / $dbs->[k], k from 0 to n - 1.  Returns how many of @$toks
# are on exactly the shard their token names (route & (n - 1)) and on no
# other, and how many stored sessions are on more than one shard.
sub placement
{
	my ($nodes, $dbs, $toks) = @_;
	my $n = @$dbs;
	my %where;
	for my $k (0 .. $n - 1)
	{
		push @{ $where{$_} }, $k for split /\n/,
		  $nodes->[$k]->safe_psql($dbs->[$k], q{SELECT encode(id_hash, 'hex') FROM session_internal.sessions});
	}
	my $twice = grep { @{ $where{$_} } > 1 } keys %where;
	my $placed = 0;
	for my $tok (@$toks)
	{
		my $hash = sha256((split /\./, $tok)[0]);
		my $at = $where{ unpack('H*', $hash) } // [];
		$placed++ if @$at == 1 && $at->[0] == (ord($hash) & ($n - 1));
	}
	return ($placed, $twice);
}

1;
