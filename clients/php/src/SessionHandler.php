<?php

declare(strict_types=1);

namespace PgSession;

/**
 * PHP's own sessions ($_SESSION, session_start(), session_regenerate_id())
 * kept in PostgreSQL by the session extension.
 *
 * Session ids are the extension's tokens, made and signed in the database
 * (create_sid is session_create; PHP's own id generator is never used),
 * and strict mode's validateId is the request's one session_touch, which
 * checks the signature and rolls the expiry; read() answers from it.
 * write() sends only the keys that changed (session_merge), so two
 * parallel requests of one session that change different keys both keep
 * theirs; nothing is locked for the request, unlike PHP's files handler.
 * The data is JSON in the database (session.serialize_handler
 * php_serialize, decoded here): arrays and scalars, no objects.  gc() does
 * nothing: the extension's worker prunes.
 */
final class SessionHandler implements \SessionHandlerInterface, \SessionIdInterface, \SessionUpdateTimestampHandlerInterface
{
    private const OPTIONS = ['schema', 'user_key', 'idle_timeout', 'absolute_timeout'];

    /** A token: a 32-character id, a dot and a 43-character signature, base64url. */
    private const TOKEN = '/\A[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{43}\z/';

    private \PDO $pdo;
    private string $s;
    private string $userKey;
    private ?string $idle;
    private ?string $absolute;

    /**
     * The sessions this request loaded or made, by token: each key's JSON
     * as stored, its user id, and whether it was made in this request.
     *
     * @var array<string, array{json: array<string, string>, user: ?string, minted: bool}>
     */
    private array $loaded = [];

    /**
     * @param array{schema?: string, user_key?: string, idle_timeout?: int, absolute_timeout?: int} $options
     *   schema: of the extension's functions (default: the search_path);
     *   user_key: the $_SESSION key whose string or integer value is the
     *   database's user_id (default 'user_id'; a dotted path reaches into
     *   arrays: '_sf2_attributes.user_id' under Symfony); idle_timeout and
     *   absolute_timeout: of new sessions, in seconds (default: the
     *   database's settings).
     */
    public function __construct(\PDO $pdo, array $options = [])
    {
        foreach (array_keys($options) as $k) {
            if (!in_array($k, self::OPTIONS, true)) {
                throw new \InvalidArgumentException("pgsession: unknown option $k");
            }
        }
        $schema = $options['schema'] ?? null;
        if ($schema !== null && !preg_match('/\A[a-z_][a-z0-9_$]*\z/', $schema)) {
            throw new \InvalidArgumentException('pgsession: schema must be a plain lower-case SQL identifier');
        }
        $this->pdo = $pdo;
        $this->s = $schema === null ? '' : "\"$schema\".";
        $this->userKey = $options['user_key'] ?? 'user_id';
        $this->idle = self::interval($options['idle_timeout'] ?? null, 'idle_timeout');
        $this->absolute = self::interval($options['absolute_timeout'] ?? null, 'absolute_timeout');
    }

    /**
     * The one line an app adds before session_start(): the settings this
     * handler needs (strict mode, php_serialize), and the handler.
     *
     * @param array{schema?: string, user_key?: string, idle_timeout?: int, absolute_timeout?: int} $options
     */
    public static function register(\PDO $pdo, array $options = []): self
    {
        $handler = new self($pdo, $options);
        ini_set('session.use_strict_mode', '1');
        ini_set('session.serialize_handler', 'php_serialize');
        session_set_save_handler($handler, true);
        return $handler;
    }

    private static function interval(?int $seconds, string $what): ?string
    {
        if ($seconds === null) {
            return null;
        }
        if ($seconds <= 0) {
            throw new \InvalidArgumentException("pgsession: $what must be a positive number of seconds");
        }
        return "$seconds seconds";
    }

    /** @param list<mixed> $args */
    private function value(string $sql, array $args): mixed
    {
        $st = $this->pdo->prepare($sql);
        $st->execute($args);
        $v = $st->fetchColumn();
        $st->closeCursor();
        return $v;
    }

    public function open(string $path, string $name): bool
    {
        // what this handler relies on, refused loudly rather than half-working
        if (ini_get('session.use_strict_mode') !== '1') {
            throw new \LogicException('pgsession: session.use_strict_mode must be 1 (SessionHandler::register sets it): '
                . 'session ids are the database\'s tokens, and a client\'s made-up id must not be taken');
        }
        if (ini_get('session.serialize_handler') !== 'php_serialize') {
            throw new \LogicException('pgsession: session.serialize_handler must be php_serialize '
                . '(SessionHandler::register sets it): the session is stored as JSON, key by key');
        }
        return true;
    }

    public function close(): bool
    {
        return true;
    }

    /** A new session's token, from session_create, with the user in $_SESSION if there is one. */
    public function create_sid(): string
    {
        $user = self::userOf($_SESSION ?? [], $this->userKey);
        $token = $this->value("SELECT {$this->s}session_create(?, '{}'::jsonb, ?::interval, ?::interval)",
            [$user, $this->idle, $this->absolute]);
        $this->loaded[$token] = ['json' => [], 'user' => $user, 'minted' => true];
        return $token;
    }

    /**
     * Strict mode's check of a client's id: the request's session_touch.
     * A token made in this request is not taken for an existing session
     * (PHP asks that of a new id, to avoid a collision).
     */
    public function validateId(string $id): bool
    {
        if (isset($this->loaded[$id])) {
            return !$this->loaded[$id]['minted'];
        }
        if (!preg_match(self::TOKEN, $id)) {
            return false;
        }
        $st = $this->pdo->prepare("SELECT user_id, data::text AS data, least(expires_at, absolute_expires_at) AS ends
            FROM {$this->s}session_touch(?)");
        $st->execute([$id]);
        $row = $st->fetch(\PDO::FETCH_ASSOC);
        $st->closeCursor();
        if ($row === false) {
            return false;
        }
        $json = [];
        foreach (json_decode($row['data'], true, 512, JSON_THROW_ON_ERROR) as $k => $v) {
            $json[(string) $k] = self::json($v);
        }
        $this->loaded[$id] = ['json' => $json, 'user' => $row['user_id'], 'minted' => false];
        $this->rollCookie($id, (string) $row['ends']);
        return true;
    }

    /**
     * A persistent cookie (session.cookie_lifetime > 0) follows the rolled
     * expiry: PHP itself sends the cookie only when the id is new.
     */
    private function rollCookie(string $id, string $ends): void
    {
        if ((int) ini_get('session.cookie_lifetime') <= 0 || headers_sent()) {
            return;
        }
        $p = session_get_cookie_params();
        $this->replaceCookie($id, strtotime($ends) ?: 0, $p);
    }

    /**
     * Set the session cookie, in place of one already in the headers.
     *
     * @param array<string, mixed> $p session_get_cookie_params()
     */
    private function replaceCookie(string $value, int $expires, array $p): void
    {
        $name = session_name();
        $others = [];
        foreach (headers_list() as $h) {
            if (stripos($h, 'Set-Cookie:') === 0 && !str_starts_with(ltrim(substr($h, 11)), $name . '=')) {
                $others[] = $h;
            }
        }
        header_remove('Set-Cookie');
        foreach ($others as $h) {
            header($h, false);
        }
        setcookie($name, $value, [
            'expires' => $expires, 'path' => $p['path'], 'domain' => $p['domain'], 'secure' => $p['secure'],
            'httponly' => $p['httponly'], 'samesite' => $p['samesite'] ?: 'Lax',
        ]);
    }

    public function read(string $id): string|false
    {
        if (!isset($this->loaded[$id]) && !$this->validateId($id)) {
            return '';
        }
        $data = [];
        foreach ($this->loaded[$id]['json'] as $k => $j) {
            $data[$k] = json_decode($j, true, 512, JSON_THROW_ON_ERROR);
        }
        return $data === [] ? '' : serialize($data);
    }

    /** Write the keys that changed; a new user at user_key gives the session a new token. */
    public function write(string $id, string $data): bool
    {
        $loaded = $this->loaded[$id] ?? null;
        if ($loaded === null) {
            return self::refuse("a session this request did not load or make ($id is not live)");
        }
        $current = $data === '' ? [] : unserialize($data, ['allowed_classes' => false]);
        if (!is_array($current)) {
            return self::refuse('the session data is not an array (is session.serialize_handler php_serialize?)');
        }
        $json = [];
        foreach ($current as $k => $v) {
            if (self::hasObject($v)) {
                return self::refuse("\$_SESSION['$k'] holds an object: the session is JSON in the database, "
                    . 'so store arrays and scalars');
            }
            $json[(string) $k] = self::json($v);
        }
        $patch = [];
        foreach ($json as $k => $j) {
            if (($loaded['json'][$k] ?? null) !== $j) {
                $patch[$k] = $j;
            }
        }
        $removed = array_values(array_diff(array_map('strval', array_keys($loaded['json'])), array_keys($json)));
        try {
            $user = self::userOf($current, $this->userKey);
        } catch (\UnexpectedValueException $e) {
            return self::refuse($e->getMessage());
        }
        $login = $user !== null && $user !== $loaded['user'];
        if (!$login && $patch === [] && $removed === []) {
            return true;
        }
        if ($login && headers_sent()) {
            return self::refuse('a new user at ' . $this->userKey . ' after the response began: its new token '
                . 'cannot reach the cookie; put the user in the session before session_regenerate_id(true), '
                . 'or call session_write_close() before any output');
        }
        $token = $id;
        $tx = $login && ($patch !== [] || $removed !== []) && !$this->pdo->inTransaction();
        if ($tx) {
            $this->pdo->beginTransaction();
        }
        try {
            if ($login) {
                $token = $this->value("SELECT {$this->s}session_regenerate(?, ?)", [$id, $user]);
            }
            $live = $token !== null && $token !== false;
            if ($live && ($patch !== [] || $removed !== [])) {
                $patchJson = '{' . implode(',', array_map(
                    fn ($k, $j) => json_encode((string) $k, JSON_THROW_ON_ERROR) . ':' . $j,
                    array_keys($patch), $patch)) . '}';
                $merged = $this->value("SELECT {$this->s}session_merge(?, ?::jsonb,
                    ARRAY(SELECT jsonb_array_elements_text(?::jsonb)))",
                    [$token, $patchJson, json_encode($removed, JSON_THROW_ON_ERROR)]);
                $live = $merged !== null && $merged !== false;
            }
            if ($tx) {
                $this->pdo->commit();
            }
        } catch (\Throwable $e) {
            if ($tx) {
                $this->pdo->rollBack();
            }
            throw $e;
        }
        unset($this->loaded[$id]);
        if (!$live) {
            // it ended elsewhere (destroyed, expired): never bring it back
            if (!headers_sent()) {
                $this->replaceCookie('', 1, session_get_cookie_params());
            }
            return true;
        }
        $this->loaded[$token] = ['json' => $json, 'user' => $user ?? $loaded['user'], 'minted' => false];
        if ($token !== $id) {
            $p = session_get_cookie_params();
            $this->replaceCookie($token, $p['lifetime'] > 0 ? time() + $p['lifetime'] : 0, $p);
        }
        return true;
    }

    /** Unchanged data (lazy_write): the touch in validateId already rolled the expiry. */
    public function updateTimestamp(string $id, string $data): bool
    {
        return true;
    }

    public function destroy(string $id): bool
    {
        unset($this->loaded[$id]);
        if (preg_match(self::TOKEN, $id)) {
            $this->value("SELECT {$this->s}session_destroy(?)", [$id]);
        }
        return true;
    }

    /** Nothing: the extension's worker (or pg_cron) prunes expired sessions. */
    public function gc(int $max_lifetime): int|false
    {
        return 0;
    }

    /** End every session of a user but the one whose token is $except: log out everywhere (else). */
    public function destroyUser(string $userId, ?string $except = null): int
    {
        return (int) $this->value("SELECT {$this->s}session_destroy_user(?, ?)", [$userId, $except]);
    }

    /** The user id at $key, a dotted path into the session's arrays ('_sf2_attributes.user_id'). */
    private static function userOf(array $data, string $key): ?string
    {
        $v = $data;
        foreach (explode('.', $key) as $part) {
            if (!is_array($v) || !array_key_exists($part, $v)) {
                return null;
            }
            $v = $v[$part];
        }
        if ($v === null) {
            return null;
        }
        if (is_string($v) || is_int($v)) {
            return (string) $v;
        }
        throw new \UnexpectedValueException("the user id at $key is a " . get_debug_type($v) . ', not a string or an integer');
    }

    private static function json(mixed $v): string
    {
        return json_encode($v, JSON_THROW_ON_ERROR | JSON_PRESERVE_ZERO_FRACTION | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
    }

    private static function hasObject(mixed $v): bool
    {
        if (is_object($v)) {
            return true;
        }
        if (is_array($v)) {
            foreach ($v as $x) {
                if (self::hasObject($x)) {
                    return true;
                }
            }
        }
        return false;
    }

    /** A write refused: PHP reports "Failed to write session data", this says why. */
    private static function refuse(string $why): bool
    {
        trigger_error("pgsession: $why", E_USER_WARNING);
        return false;
    }
}
