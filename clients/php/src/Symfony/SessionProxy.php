<?php

declare(strict_types=1);

namespace PgSession\Symfony;

use PgSession\SessionHandler;
use Symfony\Component\HttpFoundation\Session\Storage\Proxy\SessionHandlerProxy;

/**
 * The handler for Symfony's NativeSessionStorage.  Symfony wraps a plain
 * handler in its SessionHandlerProxy, which passes on everything but
 * create_sid, so PHP would make the session ids itself; this proxy passes
 * that on too, so that ids stay the database's signed tokens:
 *
 *   new NativeSessionStorage(['serialize_handler' => 'php_serialize'],
 *       new SessionProxy(new SessionHandler($pdo)))
 */
final class SessionProxy extends SessionHandlerProxy implements \SessionIdInterface
{
    public function __construct(SessionHandler $handler)
    {
        parent::__construct($handler);
    }

    public function create_sid(): string
    {
        return $this->handler->create_sid();
    }
}
