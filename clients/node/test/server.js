'use strict';
// A throwaway PostgreSQL for the tests: its own data directory, Unix socket
// only, UTF8, the library preloaded, the extension created, and an app role
// granted only the request functions (as the README says).  Optionally
// pgbouncer in front of it in transaction pooling mode.  The server binaries
// come from PG_BINDIR, or the pg_config on PATH.  Run as a user initdb
// accepts (not root).
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Pool } = require('pg');

// the request functions of extension 1.4 (and of the session_proxy
// router), and all of them
const REQUEST_FUNCTIONS_1_4 = `
  session_create(text, jsonb, interval, interval),
  session_touch(text), session_get(text),
  session_regenerate(text, text),
  session_set(text, jsonb), session_merge(text, jsonb),
  session_merge(text, jsonb, text[]), session_set_idle_timeout(text, interval),
  session_destroy(text), session_destroy_user(text, text),
  session_list(text)`;
const REQUEST_FUNCTIONS = `${REQUEST_FUNCTIONS_1_4}, session_destroy_handle(text, text),
  session_create(text, jsonb, interval, interval, integer, text), session_regenerate(text, text, integer, text),
  session_csrf_token(text), session_csrf_check(text, text)`;

function bindir() {
  if (process.env.PG_BINDIR) return process.env.PG_BINDIR;
  return execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
}

let nextPort = 56000 + (process.pid % 1000) * 4;

class TestServer {
  constructor() {
    this.bin = bindir();
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'session-node-'));
    this.data = path.join(this.dir, 'data');
    this.port = nextPort++;
    this.pools = [];
  }

  pg(cmd, args, opts = {}) {
    return execFileSync(path.join(this.bin, cmd), args, { encoding: 'utf8', ...opts });
  }

  start() {
    this.pg('initdb', ['-D', this.data, '-E', 'UTF8', '--locale=C', '-A', 'trust', '-U', 'postgres'],
      { stdio: 'pipe' });
    fs.appendFileSync(path.join(this.data, 'postgresql.conf'), `
listen_addresses = ''
unix_socket_directories = '${this.dir}'
port = ${this.port}
shared_preload_libraries = 'session'
session.prune_interval = 0
max_connections = 60
`);
    this.pg('pg_ctl', ['-D', this.data, '-l', path.join(this.dir, 'log'), '-w', 'start'], { stdio: 'pipe' });
    this.psql(`CREATE EXTENSION session;
      CREATE ROLE app LOGIN;
      GRANT EXECUTE ON FUNCTION ${REQUEST_FUNCTIONS} TO app;
      CREATE ROLE legacy LOGIN;`);
    this.psql('CREATE DATABASE legacy OWNER legacy');
    return this;
  }

  psql(sql, db = 'postgres') {
    return this.pg('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-h', this.dir, '-p', String(this.port),
      '-U', 'postgres', '-d', db, '-c', sql]).trim();
  }

  /* The pids of the server's processes: the postmaster and its children. */
  pids() {
    const postmaster = Number(fs.readFileSync(path.join(this.data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(postmaster)], { encoding: 'utf8' })
      .split('\n').map((l) => Number(l.trim())).filter(Boolean);
    return [postmaster, ...children];
  }

  /* The server's log so far. */
  log() {
    return fs.readFileSync(path.join(this.dir, 'log'), 'utf8');
  }

  stopServer() {
    this.pg('pg_ctl', ['-D', this.data, '-m', 'immediate', '-w', 'stop'], { stdio: 'pipe' });
  }

  startServer() {
    this.pg('pg_ctl', ['-D', this.data, '-l', path.join(this.dir, 'log'), '-w', 'start'], { stdio: 'pipe' });
  }

  /* Where a client connects: the server itself, or pgbouncer in front. */
  target() {
    return this.bouncer ? { host: this.dir, port: this.bouncerPort } : { host: this.dir, port: this.port };
  }

  pool(opts = {}) {
    const pool = new Pool({ ...this.target(), user: 'app', database: 'postgres', max: 10, ...opts });
    pool.on('error', () => {});
    this.pools.push(pool);
    return pool;
  }

  /* End the pools made so far. */
  async endPools() {
    const pools = this.pools;
    this.pools = [];
    await Promise.all(pools.map((p) => p.end().catch(() => {})));
  }

  /* pgbouncer (Debian's) in transaction pooling mode, if PGBOUNCER is set to its path. */
  async startBouncer(binary) {
    this.bouncerPort = this.port + 500;
    const ini = path.join(this.dir, 'pgbouncer.ini');
    fs.writeFileSync(path.join(this.dir, 'users.txt'), '"app" ""\n"legacy" ""\n');
    // onebackend: every client of it shares one server connection
    fs.writeFileSync(ini, `[databases]
onebackend = host=${this.dir} port=${this.port} dbname=postgres pool_size=1
* = host=${this.dir} port=${this.port}
[pgbouncer]
listen_addr =
unix_socket_dir = ${this.dir}
listen_port = ${this.bouncerPort}
auth_type = trust
auth_file = ${path.join(this.dir, 'users.txt')}
pool_mode = transaction
max_client_conn = 200
default_pool_size = 10
server_login_retry = 1
logfile = ${path.join(this.dir, 'pgbouncer.log')}
pidfile = ${path.join(this.dir, 'pgbouncer.pid')}
`);
    this.bouncer = spawn(binary, [ini], { stdio: 'ignore' });
    const sock = path.join(this.dir, `.s.PGSQL.${this.bouncerPort}`);
    for (let i = 0; i < 200 && !fs.existsSync(sock); i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    if (!fs.existsSync(sock)) throw new Error('pgbouncer did not start');
  }

  async stop() {
    await Promise.all(this.pools.map((p) => p.end().catch(() => {})));
    // SIGKILL: pgbouncer 1.23 and later make SIGTERM a shutdown that waits for
    // every client to disconnect
    if (this.bouncer) this.bouncer.kill('SIGKILL');
    try {
      this.stopServer();
    } catch (e) {
      /* already stopped */
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/*
 * One server for a test file: started in its before hook (then prepare(it),
 * then pgbouncer in front when PGBOUNCER names it), stopped in its after
 * hook; ready(server) is given it once it is up.
 */
function useServer({ before, after }, ready, prepare) {
  let server;
  before(async () => {
    server = new TestServer().start();
    if (prepare) prepare(server);
    if (process.env.PGBOUNCER) await server.startBouncer(process.env.PGBOUNCER);
    ready(server);
  });
  after(async () => server && server.stop());
}

module.exports = { TestServer, useServer, bindir, REQUEST_FUNCTIONS, REQUEST_FUNCTIONS_1_4 };
