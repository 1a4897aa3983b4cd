// Types for session-express.  Apps declare what they keep in a session by
// merging into SessionData, as with @types/express-session:
//
//   declare module 'session-express' {
//     interface SessionData { userId: number; role: 'member' | 'admin' }
//   }
import type { RequestHandler } from 'express';

declare global {
  namespace Express {
    interface Request {
      /** The session; after destroy(), undefined for the rest of the request. */
      session: sessionExpress.Session & Partial<sessionExpress.SessionData>;
      /** The session's token, undefined while nothing is stored. */
      sessionID: string | undefined;
      /**
       * With csrf: the session's CSRF token (extension 1.6), for a form's _csrf field or an x-csrf-token
       * header.  Throws (code ESESSIONCSRF) while no session is stored, and between a change of user and
       * its save (a login gives a new one): await req.session.save() first.
       */
      csrfToken(): string;
    }
  }
}

declare namespace sessionExpress {
  /** What an app keeps in a session: extend it by declaration merging. */
  interface SessionData {}

  interface CookieOptions {
    /** Default true. */
    httpOnly?: boolean;
    /** 'auto' (default): Secure when the request is (req.secure, honouring trust proxy). */
    secure?: boolean | 'auto';
    /** Default 'lax'. */
    sameSite?: boolean | 'lax' | 'strict' | 'none';
    /** Default '/'. */
    path?: string;
    domain?: string;
    /** The idle timeout in ms (express-session's way of giving it; the same as idleTimeout); null: a browser-session cookie. */
    maxAge?: number | null;
    priority?: 'low' | 'medium' | 'high';
    partitioned?: boolean;
  }

  /** csurf's options, as csrf takes them. */
  interface CsrfOptions {
    /** Methods not checked; default ['GET', 'HEAD', 'OPTIONS']. */
    ignoreMethods?: string[];
    /**
     * The token a request sent; default: the body's _csrf field (parsed before the middleware), else the
     * csrf-token, xsrf-token, x-csrf-token or x-xsrf-token header.
     */
    value?: (req: import('express').Request) => string | null | undefined;
  }

  interface Queryable {
    query(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
  }

  interface SessionOptions {
    /** A pg Pool, or anything with query(text, values). */
    pool: Queryable;
    /** Cookie name; default 'sid'. */
    name?: string;
    /** Idle timeout in ms for new sessions; default: the database's session.idle_timeout. */
    idleTimeout?: number;
    /** Absolute timeout in ms for new sessions; default: the database's session.absolute_timeout. */
    absoluteTimeout?: number;
    /**
     * Where the database's user_id is in the session: a dotted path ('passport.user' when passport's
     * serializeUser gives the id, 'passport.user.id' when it gives an object) or a function of the
     * session's data; default 'userId'.  A user id that is an object is refused (ESESSIONUSERKEY).
     */
    userKey?: string | ((data: Record<string, any>) => string | number | null | undefined);
    /** regenerate() keeps the data under the new token (session_regenerate) instead of starting empty. */
    regenerateKeepsData?: boolean;
    /**
     * At most this many live sessions per user id (0: no limit); default: the database's
     * session.max_sessions_per_user.  Extension 1.6.
     */
    maxSessionsPerUser?: number;
    /**
     * A login past the limit: 'evict' ends the user's least recently used sessions, 'refuse' fails it with
     * ESESSIONLIMIT; default: the database's session.on_session_limit ('evict').  Extension 1.6.
     */
    onSessionLimit?: 'evict' | 'refuse';
    /**
     * CSRF tokens bound to the session (extension 1.6): req.csrfToken(), and every method but
     * ignoreMethods refused without the session's token with 403 (err.code 'EBADCSRFTOKEN', as csurf),
     * checked in the touch statement.  Default false.
     */
    csrf?: boolean | CsrfOptions;
    /** Send the cookie on every response of a live session (default true). */
    rolling?: boolean;
    /** ms to wait for the database before next(err); default 5000. */
    timeout?: number;
    /** Schema holding the extension's functions, if not on the search_path. */
    schema?: string;
    cookie?: CookieOptions;
    /** As express-session's: true stores and sends a session on the first request even if nothing is in it. Default false. */
    saveUninitialized?: boolean;
    /** As express-session's: 'destroy' ends the session when the handler sets req.session = null (or deletes it). */
    unset?: 'keep' | 'destroy';
    /** As express-session's: trust X-Forwarded-Proto for secure: 'auto' (true), or only direct TLS (false). */
    proxy?: boolean;
    /** Accepted for express-session apps and unused (tokens are signed in the database); warns once. */
    secret?: string | string[];
    /** Accepted for express-session apps: false is what this does; true warns once that it has no effect. */
    resave?: boolean;
  }

  interface Cookie {
    /**
     * ms left until the database's expiry; before creation, the idle timeout it will get.  Set it (or
     * expires) to change this session's idle timeout from the end of the request; null: a browser-session cookie.
     */
    maxAge: number | null;
    expires: Date | null;
    readonly originalMaxAge: number | null;
    httpOnly: boolean;
    secure: boolean;
    sameSite: boolean | 'lax' | 'strict' | 'none';
    path: string;
    domain: string | undefined;
  }

  interface Session {
    /** The token; undefined while nothing is stored. */
    readonly id: string | undefined;
    cookie: Cookie;
    save(): Promise<void>;
    save(callback: (err?: unknown) => void): void;
    regenerate(): Promise<void>;
    regenerate(callback: (err?: unknown) => void): void;
    destroy(): Promise<void>;
    destroy(callback: (err?: unknown) => void): void;
    reload(): Promise<void>;
    reload(callback: (err?: unknown) => void): void;
    /**
     * fn(client) in one transaction with this session bound to it
     * (session_bind, extension 1.5), for row-level security policies that
     * read session_bound_user(); resolves to fn's result after COMMIT.
     * Needs a pool with connect() (a pg Pool).  Rejects with code
     * ESESSIONUNBOUND when no session is stored or it ended.
     */
    withDatabase<T>(fn: (client: Queryable) => Promise<T> | T): Promise<T>;
    touch(): this;
  }

  interface SessionInfo {
    /** Names the session for destroyHandle; never the token (extension 1.6; null before, and through a router). */
    handle: string | null;
    createdAt: Date;
    /** When a request last rolled its expiry, to within session.touch_interval (extension 1.6; null before). */
    lastUsedAt: Date | null;
    expiresAt: Date;
    absoluteExpiresAt: Date | null;
    data: Record<string, unknown>;
  }

  interface SessionMiddleware extends RequestHandler {
    /** Log a user out everywhere, or everywhere but `except` (a session or token); returns how many ended. */
    destroyUser(userId: string | number, options?: { except?: Session | string }): Promise<number>;
    /** The user's live sessions, oldest first; never a token. */
    list(userId: string | number): Promise<SessionInfo[]>;
    /** End one of the user's sessions by its handle from list(); true if it was live. Another user's handle ends nothing. */
    destroyHandle(userId: string | number, handle: string): Promise<boolean>;
  }

  class SessionStoreError extends Error {
    /** ESESSIONTIMEOUT, ESESSIONVERSION, ESESSIONLIMIT, ..., or the SQLSTATE the database gave (08006: a shard did not answer). */
    code: string;
    /**
     * With ESESSIONTIMEOUT: 'not-sent' (no connection in time), 'cancelled' (the statement was cancelled and
     * rolled back: nothing written), 'unknown' (it did not end even when cancelled: its write may have been applied).
     */
    outcome?: 'not-sent' | 'cancelled' | 'unknown';
  }

  function session(options: SessionOptions): SessionMiddleware;
}

declare function sessionExpress(options: sessionExpress.SessionOptions): sessionExpress.SessionMiddleware;

export = sessionExpress;
