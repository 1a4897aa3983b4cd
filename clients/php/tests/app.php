<?php

// The app the tests drive over HTTP (php -S, several workers): plain PHP
// sessions after SessionHandler::register, and under /sf/ the same with
// Symfony's HttpFoundation NativeSessionStorage.

declare(strict_types=1);

require __DIR__ . '/../src/SessionHandler.php';

use PgSession\SessionHandler;

$pdo = new PDO(getenv('PGSESSION_DSN'), 'app', null, [
    PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
    // pgbouncer before 1.21, in transaction pooling, keeps no prepared statements
    PDO::ATTR_EMULATE_PREPARES => getenv('PGBOUNCER') !== '',
]);
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
$q = $_GET;

/** Wait (bounded) until $n requests have reached the named point: both loaded before either writes. */
function barrier(string $name, int $n): void
{
    $dir = getenv('PGSESSION_BARRIER') . "/$name";
    @mkdir($dir, 0700, true);
    touch("$dir/" . getmypid());
    for ($i = 0; $i < 500 && count(glob("$dir/*")) < $n; $i++) {
        usleep(10000);
    }
}

if (str_starts_with($path, '/sf/')) {
    require '/usr/share/php/Symfony/Component/HttpFoundation/autoload.php';
    require __DIR__ . '/../src/Symfony/SessionProxy.php';
    $storage = new Symfony\Component\HttpFoundation\Session\Storage\NativeSessionStorage(
        ['serialize_handler' => 'php_serialize', 'name' => 'sfsid', 'cookie_samesite' => 'lax', 'cookie_httponly' => true],
        new PgSession\Symfony\SessionProxy(new SessionHandler($pdo, ['user_key' => '_sf2_attributes.user_id'])));
    $session = new Symfony\Component\HttpFoundation\Session\Session($storage);
    $session->start();
    switch ($path) {
        case '/sf/login':
            $session->set('user_id', $q['user']);
            $session->migrate(true);
            $session->getFlashBag()->add('notice', 'welcome');
            $session->save();
            header('Location: /sf/me', true, 303);
            break;
        case '/sf/me':
            if (!$session->has('user_id')) {
                http_response_code(401);
                break;
            }
            echo $session->get('user_id') . '|' . implode(',', $session->getFlashBag()->get('notice'));
            $session->save();
            break;
        case '/sf/logout':
            $session->invalidate();
            echo 'bye';
            break;
    }
    exit;
}

SessionHandler::register($pdo);
session_name('sid');
ini_set('session.cookie_httponly', '1');
ini_set('session.cookie_samesite', 'Lax');
if (isset($q['lifetime'])) {
    ini_set('session.cookie_lifetime', $q['lifetime']);
}

switch ($path) {
    case '/anon':
        echo 'no session started';
        break;
    case '/get':
        session_start();
        echo json_encode($_SESSION);
        break;
    case '/put':
        session_start();
        $_SESSION[$q['k']] = $q['v'];
        echo 'ok';
        break;
    case '/unset':
        session_start();
        unset($_SESSION[$q['k']]);
        echo 'ok';
        break;
    case '/both':
        session_start();
        barrier($q['b'], 2);
        $_SESSION[$q['k']] = 'set';
        echo 'ok';
        break;
    case '/login':
        // the user first, then the new id: the session is made with its user
        session_start();
        $_SESSION['user_id'] = $q['user'];
        session_regenerate_id(true);
        $_SESSION['flash'] = 'welcome';
        header('Location: /me', true, 303);
        break;
    case '/login-then-user':
        // the new id first, then the user: a second new token, before any output
        session_start();
        session_regenerate_id(true);
        $_SESSION['user_id'] = $q['user'];
        header('Location: /me', true, 303);
        break;
    case '/user-after-output':
        session_start();
        session_regenerate_id(true);
        echo 'output first';
        flush();
        $_SESSION['user_id'] = $q['user'];
        break;
    case '/object':
        session_start();
        $_SESSION['o'] = new ArrayObject([1]);
        echo 'ok';
        break;
    case '/me':
        session_start();
        if (!isset($_SESSION['user_id'])) {
            http_response_code(401);
            break;
        }
        $flash = $_SESSION['flash'] ?? '';
        unset($_SESSION['flash']);
        echo $_SESSION['user_id'] . '|' . $flash;
        break;
    case '/logout':
        session_start();
        session_destroy();
        echo 'bye';
        break;
    default:
        http_response_code(404);
}
