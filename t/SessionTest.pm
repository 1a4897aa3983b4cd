# Shared by the TAP tests: a cluster made the way every test needs one,
# and expired sessions added without making usable tokens.
package SessionTest;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;

our @EXPORT = qw(session_node add_expired);

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

1;
