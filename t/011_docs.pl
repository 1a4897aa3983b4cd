# The documentation, tested like code:
# - every ```sql block of the README and docs/*.md runs, in file order, in
#   one psql session per file, against a throwaway server with the library
#   preloaded (a block after "<!-- docs-test: needs X -->" only where X is
#   installed);
# - the README's settings table gives each setting's real default, and its
#   API table names functions that exist;
# - every ```js, ```python, ```go and ```php block is a fragment (marked so) or names the
#   test that runs it, and that test reads it from the file;
# - every relative link between the Markdown files, and its #anchor,
#   points at something that exists.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Basename qw(dirname);
use FindBin;
use lib $FindBin::Bin;
use SessionTest;

my $root = "$FindBin::Bin/..";
my @docs = ('README.md', map { "docs/$_" } sort grep { /\.md$/ } do {
	opendir(my $d, "$root/docs") or die "no docs/: $!";
	readdir($d);
});
my @linked = (@docs, 'bench/HISTORY.md', 'clients/python/README.md');

sub slurp
{
	my ($path) = @_;
	open(my $fh, '<', $path) or die "$path: $!";
	local $/;
	return <$fh>;
}

# The fenced blocks of a file: [info string, body, the marker before it].
sub blocks
{
	my ($text) = @_;
	my @out;
	while ($text =~ /(?:<!-- docs-test: (.*?) -->\n)?^```(\S*)( [^\n]*)?\n(.*?)^```$/msg)
	{
		my ($marker, $lang, $tag, $body) = ($1 // '', $2, $3 // '', $4);
		$tag =~ s/^ //;
		push @out, { marker => $marker, lang => $lang, tag => $tag, body => $body };
	}
	return @out;
}

my $node = session_node('docs');
my ($plproxy) = have_extension($node, 'plproxy');
my ($cron) = have_extension($node, 'pg_cron');
$node->append_conf('postgresql.conf', "shared_preload_libraries = '"
	  . ($cron ? 'pg_cron, ' : '') . "session'\nsession.prune_interval = 0\n"
	  . "cron.database_name = 'postgres'\n");
$node->start;

# --- SQL blocks ---
my ($ran, $found) = (0, 0);
for my $file (@docs)
{
	my @sql;
	for my $b (grep { $_->{lang} eq 'sql' } blocks(slurp("$root/$file")))
	{
		$found++;
		if ($b->{marker} =~ /needs plproxy/ && !$plproxy)
		{
			note("$file: a block skipped, PL/Proxy is not installed");
			next;
		}
		if ($b->{marker} =~ /needs pg_cron/)
		{
			if (!$cron)
			{
				note("$file: a block skipped, pg_cron is not installed");
				next;
			}
			push @sql, 'CREATE EXTENSION IF NOT EXISTS pg_cron;';
		}
		push @sql, $b->{body};
		$ran++;
	}
	next unless @sql;
	# a fresh database for each file but the one pg_cron lives in
	(my $db = lc($file)) =~ s/[^a-z0-9]+/_/g;
	$db = 'postgres' if $file eq 'docs/operations.md';
	$node->safe_psql('postgres', "CREATE DATABASE $db") unless $db eq 'postgres';
	my ($ret, $out, $err) = $node->psql($db, join("\n", @sql), on_error_stop => 1);
	is($ret, 0, "$file: its " . scalar(@sql) . ' SQL blocks run') or diag($err);
}
cmp_ok($found, '>=', 10, "SQL blocks found ($found, $ran of them run here)");

# --- the README's tables against the server ---
my $readme = slurp("$root/README.md");
my $settings = 0;
while ($readme =~ /^\| `(session\.[a-z_]+)`(?:, `(session\.[a-z_]+)`)? \| `([^`]*)`(?:, `([^`]*)`)? \|/mg)
{
	my @pairs = ([ $1, $3 ], defined $2 ? [ $2, $4 ] : ());
	for my $p (@pairs)
	{
		my ($name, $default) = @$p;
		# boot_val is in the setting's base unit (seconds for the times)
		my ($unit, $boot) = split /\|/,
		  $node->safe_psql('postgres', "SELECT coalesce(unit, ''), boot_val FROM pg_settings WHERE name = '$name'");
		my $want = $unit eq 's'
		  ? $node->safe_psql('postgres', "SELECT extract(epoch FROM interval '$default')::bigint")
		  : $default;
		is($boot, $want, "README: $name defaults to $default");
		$settings++;
	}
}
is($settings, scalar(() = $node->safe_psql('postgres',
	"SELECT name FROM pg_settings WHERE name LIKE 'session.%'") =~ /^session\./mg),
	'README: the settings table has every session.* setting');
my @fns = $readme =~ /^\| `(session_[a-z_]+)\(/mg;
push @fns, $readme =~ /`(session_[a-z_]+)\(\)`/g;
my %fn = map { $_ => 1 } @fns;
for my $f (sort keys %fn)
{
	is($node->safe_psql('readme_md', "SELECT count(*) > 0 FROM pg_proc WHERE proname = '$f'"),
		't', "README: $f exists");
}

# --- JS and Python blocks: fragments, or run by the test they name ---
my %runner = (
	'readme-express' => 'clients/node/test/docs.test.js',
	'migrate-bridge' => 'clients/node/test/migrate.test.js',
	'readme-csrf'    => 'clients/node/test/csrf.test.js',
	'readme-flask'   => 'clients/python/tests/test_docs.py',
	'readme-go'      => 'clients/go/test/docs_test.go',
	'readme-php'     => 'clients/php/tests/SessionHandlerTest.php');
for my $file (@docs)
{
	for my $b (grep { $_->{lang} =~ /^(js|javascript|python|ts|go|php)$/ } blocks(slurp("$root/$file")))
	{
		next if $b->{tag} eq 'fragment' && pass("$file: a $b->{lang} fragment");
		my $test = $runner{ $b->{tag} };
		ok($test && -e "$root/$test" && slurp("$root/$test") =~ /\Q$b->{tag}\E/,
			"$file: the $b->{lang} block '$b->{tag}' is run by " . ($test // 'no test'));
	}
}

# --- relative links and their anchors ---
sub slug
{
	my ($h) = @_;
	$h = lc($h);
	$h =~ s/[`*]//g;
	$h =~ s/[^\w\- ]//g;
	$h =~ s/ /-/g;
	return $h;
}
my $links = 0;
for my $file (@linked)
{
	my $text = slurp("$root/$file");
	(my $bare = $text) =~ s/^```.*?^```$//msg;
	while ($bare =~ /\]\(([^)\s]+)\)/g)
	{
		my $target = $1;
		next if $target =~ m{^(https?:|mailto:)};
		my ($path, $anchor) = split /#/, $target, 2;
		my $full = $path eq '' ? "$root/$file" : dirname("$root/$file") . "/$path";
		ok(-e $full, "$file: link $target exists");
		if (defined $anchor && $full =~ /\.md$/ && -f $full)
		{
			my %slugs = map { slug($_) => 1 } slurp($full) =~ /^#+ (.*)$/mg;
			ok($slugs{$anchor}, "$file: anchor #$anchor is a heading of $path");
		}
		$links++;
	}
}
cmp_ok($links, '>=', 10, "relative links checked ($links)");

done_testing();
