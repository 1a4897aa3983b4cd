<?php

declare(strict_types=1);

namespace PgSession\Tests;

use PHPUnit\Framework\TestCase;

/**
 * PgSession\SessionHandler over real HTTP (php -S with four workers)
 * against a real PostgreSQL, through pgbouncer when PGBOUNCER names it:
 * plain session_start()/$_SESSION code and Symfony's NativeSessionStorage.
 */
final class SessionHandlerTest extends TestCase
{
    private static string $dir;
    private static int $port;
    private static string $base;
    /** the README's app (its ```php readme-php block), under php -S of its own */
    private static string $readme;
    /** @var resource[] */
    private static array $procs = [];
    private static \PDO $admin;

    private static function bin(string $name): string
    {
        $dir = getenv('PG_BINDIR') ?: trim((string) shell_exec('pg_config --bindir'));
        return "$dir/$name";
    }

    private static function sh(string $cmd): void
    {
        exec($cmd . ' 2>&1', $out, $rc);
        if ($rc !== 0) {
            throw new \RuntimeException("$cmd: " . implode("\n", $out));
        }
    }

    private static function start(string $cmd, array $env): void
    {
        $p = proc_open($cmd, [0 => ['file', '/dev/null', 'r'], 1 => ['file', self::$dir . '/out.log', 'a'],
            2 => ['file', self::$dir . '/out.log', 'a']], $pipes, null, $env + getenv());
        self::$procs[] = $p;
    }

    private static function waitFor(callable $ready, string $what): void
    {
        for ($i = 0; $i < 400; $i++) {
            if ($ready()) {
                return;
            }
            usleep(25000);
        }
        throw new \RuntimeException("$what did not start: " . @file_get_contents(self::$dir . '/out.log'));
    }

    public static function setUpBeforeClass(): void
    {
        if (posix_geteuid() === 0) {
            throw new \RuntimeException('initdb refuses root: run the tests as an unprivileged user');
        }
        self::$dir = sys_get_temp_dir() . '/pgsession-php-' . getmypid();
        @mkdir(self::$dir, 0700);
        self::$port = 58000 + getmypid() % 1000;
        $data = self::$dir . '/data';
        self::sh(escapeshellarg(self::bin('initdb')) . " -D $data -E UTF8 --locale=C -A trust -U postgres");
        file_put_contents("$data/postgresql.conf", sprintf("\nlisten_addresses = ''\nunix_socket_directories = '%s'\n"
            . "port = %d\nshared_preload_libraries = 'session'\nsession.prune_interval = 0\n", self::$dir, self::$port),
            FILE_APPEND);
        self::sh(escapeshellarg(self::bin('pg_ctl')) . " -D $data -l " . self::$dir . '/log -w start');
        self::$admin = new \PDO(sprintf('pgsql:host=%s;port=%d;dbname=postgres', self::$dir, self::$port), 'postgres');
        self::$admin->exec("CREATE EXTENSION session; CREATE ROLE app LOGIN;
            GRANT EXECUTE ON FUNCTION session_create(text, jsonb, interval, interval), session_touch(text),
                session_regenerate(text, text), session_merge(text, jsonb, text[]), session_destroy(text),
                session_destroy_user(text, text) TO app");
        $appPort = self::$port;
        $bouncer = getenv('PGBOUNCER') ?: '';
        if ($bouncer !== '') {
            $appPort = self::$port + 500;
            file_put_contents(self::$dir . '/users.txt', "\"app\" \"\"\n");
            file_put_contents(self::$dir . '/pgbouncer.ini', sprintf("[databases]\n* = host=%1\$s port=%2\$d\n"
                . "[pgbouncer]\nlisten_addr =\nunix_socket_dir = %1\$s\nlisten_port = %3\$d\nauth_type = trust\n"
                . "auth_file = %1\$s/users.txt\npool_mode = transaction\nmax_client_conn = 100\n"
                . "default_pool_size = 10\nlogfile = %1\$s/pgbouncer.log\npidfile = %1\$s/pgbouncer.pid\n",
                self::$dir, self::$port, $appPort));
            self::start('exec ' . escapeshellarg($bouncer) . ' ' . self::$dir . '/pgbouncer.ini', []);
            self::waitFor(fn () => file_exists(self::$dir . "/.s.PGSQL.$appPort"), 'pgbouncer');
        }
        $http = 18400 + getmypid() % 1000;
        self::$base = "http://127.0.0.1:$http";
        @mkdir(self::$dir . '/barrier');
        self::start('exec ' . PHP_BINARY . " -S 127.0.0.1:$http " . escapeshellarg(__DIR__ . '/app.php'), [
            'PHP_CLI_SERVER_WORKERS' => '4',
            'PGSESSION_DSN' => sprintf('pgsql:host=%s;port=%d;dbname=postgres', self::$dir, $appPort),
            'PGBOUNCER' => $bouncer,
            'PGSESSION_BARRIER' => self::$dir . '/barrier',
        ]);
        self::waitFor(fn () => @fsockopen('127.0.0.1', $http) !== false, 'php -S');

        // the README's app as it stands there, with an autoloader for this package
        $readme = file_get_contents(__DIR__ . '/../../../README.md');
        if (!preg_match('/^```php readme-php\n(.*?)^```$/ms', $readme, $m)) {
            throw new \RuntimeException('README.md has no ```php readme-php block');
        }
        $app = self::$dir . '/readme';
        @mkdir("$app/vendor", 0700, true);
        file_put_contents("$app/index.php", $m[1]);
        file_put_contents("$app/vendor/autoload.php", '<?php require ' . var_export(realpath(__DIR__ . '/../src/SessionHandler.php'), true) . ';');
        $rport = $http + 1;
        self::$readme = "http://127.0.0.1:$rport";
        self::start('exec ' . PHP_BINARY . " -S 127.0.0.1:$rport -t $app $app/index.php", [
            'DATABASE_DSN' => sprintf('pgsql:host=%s;port=%d;dbname=postgres', self::$dir, $appPort),
        ]);
        self::waitFor(fn () => @fsockopen('127.0.0.1', $rport) !== false, 'php -S (the README\'s app)');
    }

    public static function tearDownAfterClass(): void
    {
        foreach (self::$procs as $p) {
            proc_terminate($p, 9);
            proc_close($p);
        }
        exec(escapeshellarg(self::bin('pg_ctl')) . ' -D ' . self::$dir . '/data -m immediate -w stop 2>&1');
        exec('rm -rf ' . escapeshellarg(self::$dir));
    }

    /** @return array{status: int, body: string, cookie: ?string, set: ?string, sets: int} */
    private static function get(string $path, ?string $cookie = null, string $name = 'sid', ?array $post = null,
        ?string $base = null): array
    {
        $header = $cookie !== null ? "Cookie: $name=$cookie\r\n" : '';
        $http = ['header' => $header, 'ignore_errors' => true, 'follow_location' => 0, 'timeout' => 20];
        if ($post !== null) {
            $http['method'] = 'POST';
            $http['header'] .= "Content-Type: application/x-www-form-urlencoded\r\n";
            $http['content'] = http_build_query($post);
        }
        $body = file_get_contents(($base ?? self::$base) . $path, false, stream_context_create(['http' => $http]));
        // PHP 8.4's function, where $http_response_header is on its way out
        $headers = function_exists('http_get_last_response_headers') ? http_get_last_response_headers() : $http_response_header;
        preg_match('/^HTTP\/\S+ (\d+)/', $headers[0], $m);
        $set = null;
        $value = null;
        $sets = 0;
        foreach ($headers as $h) {
            if (preg_match('/^Set-Cookie: ' . preg_quote($name, '/') . '=([^;]*)/i', $h, $c)) {
                $set = $h;
                $value = urldecode($c[1]);
                $sets++;
            }
        }
        return ['status' => (int) $m[1], 'body' => (string) $body, 'cookie' => $value, 'set' => $set, 'sets' => $sets];
    }

    private static function value(string $sql, array $args = []): mixed
    {
        $st = self::$admin->prepare($sql);
        $st->execute($args);
        return $st->fetchColumn();
    }

    private static function live(string $token): bool
    {
        return (int) self::value('SELECT count(*) FROM session_get(?)', [$token]) === 1;
    }

    public function testNoSessionStartedNoCookieNoRow(): void
    {
        $before = self::value('SELECT count(*) FROM session_internal.sessions');
        $a = self::get('/anon');
        $this->assertSame(200, $a['status']);
        $this->assertNull($a['set']);
        $this->assertSame($before, self::value('SELECT count(*) FROM session_internal.sessions'));
    }

    public function testIdsAreTheDatabasesTokensAndAMadeUpOneIsRefused(): void
    {
        $a = self::get('/put?k=cart&v=tea');
        $this->assertMatchesRegularExpression('/\A[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{43}\z/', (string) $a['cookie']);
        $this->assertStringContainsString('HttpOnly', (string) $a['set']);
        $this->assertStringContainsString('SameSite=Lax', (string) $a['set']);
        $this->assertSame('{"cart": "tea"}', self::value('SELECT data::text FROM session_get(?)', [$a['cookie']]));
        // a client's made-up id (session fixation) is not taken: a new token instead
        $b = self::get('/put?k=x&v=1', 'attacker-chosen-id');
        $this->assertNotSame('attacker-chosen-id', $b['cookie']);
        $this->assertTrue(self::live((string) $b['cookie']));
        $forged = substr((string) $a['cookie'], 0, 33) . str_repeat('A', 43);
        $c = self::get('/get', $forged);
        $this->assertNotSame($forged, $c['cookie']);
        $this->assertSame('[]', $c['body']);
    }

    public function testLoginRegeneratesFlashThenLogout(): void
    {
        $anon = self::get('/put?k=cart&v=tea')['cookie'];
        $login = self::get('/login?user=ann', $anon);
        $this->assertSame(303, $login['status']);
        $token = (string) $login['cookie'];
        $this->assertNotSame($anon, $token);
        $this->assertFalse(self::live((string) $anon), 'the id before the login is dead');
        $this->assertSame('ann', self::value('SELECT user_id FROM session_get(?)', [$token]));
        $this->assertSame('ann|welcome', self::get('/me', $token)['body']);
        $this->assertSame('ann|', self::get('/me', $token)['body'], 'the flash is shown once');
        $this->assertSame('{"cart":"tea","user_id":"ann"}', self::get('/get', $token)['body']);
        $this->assertSame('bye', self::get('/logout', $token)['body']);
        $this->assertFalse(self::live($token));
        $this->assertSame(401, self::get('/me', $token)['status']);
    }

    public function testUserAfterTheNewIdGetsItsOwnTokenBeforeOutput(): void
    {
        $anon = self::get('/put?k=a&v=1')['cookie'];
        $login = self::get('/login-then-user?user=bob', $anon);
        $token = (string) $login['cookie'];
        $this->assertSame('bob', self::value('SELECT user_id FROM session_get(?)', [$token]));
        $this->assertSame(1, $login['sets'], 'one session cookie, the last token\'s');
        $this->assertSame('bob|', self::get('/me', $token)['body']);
    }

    public function testUserAfterOutputIsRefusedLoudlyNotHalfWritten(): void
    {
        $anon = self::get('/put?k=a&v=1')['cookie'];
        $a = self::get('/user-after-output?user=carl', $anon);
        $this->assertSame('output first', $a['body']);
        $this->assertSame(0, (int) self::value("SELECT count(*) FROM session_internal.sessions WHERE user_id = 'carl'"));
        $this->assertStringContainsString('after the response began', (string) file_get_contents(self::$dir . '/out.log'));
    }

    public function testParallelRequestsChangingDifferentKeysKeepBoth(): void
    {
        $token = (string) self::get('/put?k=start&v=1')['cookie'];
        $socks = [];
        foreach (['left', 'right'] as $k) {
            $s = stream_socket_client(str_replace('http://', 'tcp://', self::$base), $errno, $err, 10);
            fwrite($s, "GET /both?b=pair&k=$k HTTP/1.0\r\nHost: x\r\nCookie: sid=$token\r\n\r\n");
            $socks[] = $s;
        }
        foreach ($socks as $s) {
            stream_set_timeout($s, 20);
            $this->assertStringContainsString('ok', stream_get_contents($s));
            fclose($s);
        }
        $this->assertSame('{"left": "set", "right": "set", "start": "1"}',
            self::value('SELECT data::text FROM session_get(?)', [$token]));
    }

    public function testRemovedKeyAndObjectsRefused(): void
    {
        $token = (string) self::get('/put?k=a&v=1')['cookie'];
        self::get('/put?k=b&v=2', $token);
        self::get('/unset?k=a', $token);
        $this->assertSame('{"b": "2"}', self::value('SELECT data::text FROM session_get(?)', [$token]));
        self::get('/object', $token);
        $this->assertSame('{"b": "2"}', self::value('SELECT data::text FROM session_get(?)', [$token]));
        $this->assertStringContainsString("\$_SESSION['o'] holds an object", (string) file_get_contents(self::$dir . '/out.log'));
    }

    public function testPersistentCookieFollowsTheRolledExpiry(): void
    {
        $token = (string) self::get('/put?k=a&v=1&lifetime=3600')['cookie'];
        // the database's expiry is its idle timeout (7 days), whatever PHP's cookie lifetime
        $a = self::get('/get?lifetime=3600', $token);
        $this->assertSame($token, $a['cookie']);
        $this->assertMatchesRegularExpression('/Max-Age=(60479\d|604800)/', (string) $a['set']);
        $b = self::get('/get', $token);
        $this->assertNull($b['set'], 'a browser-session cookie is not sent again');
    }

    public function testSymfonyNativeSessionStorage(): void
    {
        $login = self::get('/sf/login?user=dana', null, 'sfsid');
        $this->assertSame(303, $login['status']);
        $token = (string) $login['cookie'];
        $this->assertMatchesRegularExpression('/\A[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{43}\z/', $token, 'ids are the database\'s');
        $this->assertSame('dana', self::value('SELECT user_id FROM session_get(?)', [$token]));
        $this->assertSame('dana|welcome', self::get('/sf/me', $token, 'sfsid')['body']);
        $this->assertSame('dana|', self::get('/sf/me', $token, 'sfsid')['body']);
        $out = self::get('/sf/logout', $token, 'sfsid');
        $this->assertSame('bye', $out['body']);
        $this->assertFalse(self::live($token));
        $this->assertSame(401, self::get('/sf/me', $token, 'sfsid')['status']);
    }

    public function testTheReadmesApp(): void
    {
        $r = self::$readme;
        $this->assertSame(401, self::get('/me', null, 'PHPSESSID', null, $r)['status']);
        $login = self::get('/login', null, 'PHPSESSID', ['user' => 'alice'], $r);
        $this->assertSame('ok', $login['body']);
        $token = (string) $login['cookie'];
        $this->assertSame('alice', self::value('SELECT user_id FROM session_get(?)', [$token]));
        $this->assertSame('alice', self::get('/me', $token, 'PHPSESSID', null, $r)['body']);
        $this->assertSame('bye', self::get('/logout', $token, 'PHPSESSID', null, $r)['body']);
        $this->assertFalse(self::live($token));
        $this->assertSame(401, self::get('/me', $token, 'PHPSESSID', null, $r)['status']);
    }
}
