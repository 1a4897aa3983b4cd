# Everything but the prune worker works when the library is not in
# shared_preload_libraries: it is loaded on first use.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SessionTest;

my $node = session_node('nopreload');
$node->start;

is($node->safe_psql('postgres', 'SHOW shared_preload_libraries'),
	'', 'library not preloaded');

$node->safe_psql('postgres', 'CREATE EXTENSION session');

my $tok = $node->safe_psql('postgres',
	q{SELECT session_create(NULL, '{"cart": [1]}')});
like($tok, qr/^[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{43}$/, 'token has the documented shape');

is($node->safe_psql('postgres', "SELECT data FROM session_touch('$tok')"),
	'{"cart": [1]}', 'touch returns the session');

my $tok2 = $node->safe_psql('postgres',
	"SELECT session_regenerate('$tok', 'alice')");
is($node->safe_psql('postgres', "SELECT count(*) FROM session_touch('$tok')"),
	'0', 'old token dead after regenerate');
is($node->safe_psql('postgres', "SELECT user_id FROM session_get('$tok2')"),
	'alice', 'regenerated session belongs to the user');

is($node->safe_psql('postgres', qq{SELECT session_merge('$tok2', '{"cart": null, "lang": "fr"}')}),
	'{"lang": "fr"}', 'merge');
is($node->safe_psql('postgres', "SELECT session_destroy('$tok2')"),
	't', 'destroy');
is($node->safe_psql('postgres', "SELECT count(*) FROM session_touch('$tok2')"),
	'0', 'destroyed token dead');

# The stats view answers, with the counters NULL and no worker schedule.
is($node->safe_psql('postgres',
		q{SELECT live_sessions, creates IS NULL, touches IS NULL, next_prune_due IS NULL FROM session_stats}),
	'0|t|t|t', 'session_stats without shared memory');
is($node->safe_psql('postgres', 'SELECT session_prune()'), '0', 'session_prune works');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'session%'}),
	'0', 'no worker without preload');

# Settings are known once the library is loaded in a session.
is($node->safe_psql('postgres', q{LOAD 'session'; SHOW session.touch_interval}),
	'1min', 'settings defined on load');

$node->stop;
done_testing();
