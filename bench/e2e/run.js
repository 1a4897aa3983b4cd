'use strict';
// The end-to-end benchmark: the same Express app (app.js) three ways, each
// a single Node process on the same PostgreSQL (and Redis), loaded over
// HTTP with keep-alive by autocannon with thousands of logged-in users'
// cookies; the sides alternated, medians of the runs.
//
//   node run.js --out DIR [--runs 3] [--seconds 10] [--users 5000]
//               [--connections 32] [--smoke]
//               [--sides ABCDEF] [--workloads 1234] [--cpu-prof DIR]
// (--sides and --workloads run some only, for profiling: no report is
// written then; --cpu-prof writes each app's V8 CPU profile into DIR)
//
// Run as a user initdb accepts (bench/e2e/run does it as postgres).
// Writes DIR/report.md and DIR/chart.dat (for bench/e2e/run's chart).
const { fork, execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const autocannon = require('autocannon');
const { TestServer } = require('../../clients/node/test/server');

const args = { runs: 3, seconds: 10, users: 5000, connections: 32, smoke: false, out: null, sides: 'ABCDEF', workloads: '1234', 'cpu-prof': null };
const STRINGS = ['out', 'sides', 'workloads', 'cpu-prof'];
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i].replace(/^--/, '');
  if (a === 'smoke') args.smoke = true;
  else args[a] = STRINGS.includes(a) ? process.argv[++i] : Number(process.argv[++i]);
}
// the options as given, for the report (--out is the wrapper's)
const given = process.argv.slice(2).filter((a, i, all) => a !== '--out' && all[i - 1] !== '--out');
if (args.smoke) Object.assign(args, { runs: 1, seconds: 2, users: 200, connections: 8 });
if (!args.out) throw new Error('--out DIR is required');

const SIDES = [
  { key: 'A', name: 'connect-pg-simple', label: 'A: express-session + connect-pg-simple' },
  { key: 'B', name: 'connect-redis', label: 'B: express-session + connect-redis (Redis)' },
  { key: 'C', name: 'session-express', label: 'C: session-express (this project)' },
  // the price of csrf: true, on the authenticated GET only
  { key: 'D', name: 'session-express-csrf', label: 'D: session-express with csrf: true', only: [1] },
  // Go's net/http, the same routes (go/main.go)
  { key: 'E', name: 'scs-style', label: "E: Go net/http + scs's LoadAndSave and postgresstore (as go/scsstyle.go writes them)", go: true },
  { key: 'F', name: 'pgsession', label: 'F: Go net/http + pgsession (clients/go)', go: true },
];
/* the sides run on every workload; the chart's, Express's three */
const MAIN = SIDES.filter((s) => !s.only);
const CHART = SIDES.filter((s) => 'ABC'.includes(s.key));
const runsOn = (side, w) => !side.only || side.only.includes(w.n);
const WORKLOADS = [
  { n: 1, short: 'authenticated GET', title: 'authenticated GET, rolling expiry', method: 'GET', path: '/api/me', cookie: true },
  { n: 2, short: 'GET changing a key', title: 'GET that changes one key', method: 'GET', path: '/api/visit', cookie: true },
  { n: 3, short: 'login', title: 'login (regenerate and save)', method: 'POST', path: '/api/login', cookie: false, login: true },
  { n: 4, short: 'anonymous GET', title: 'anonymous GET, stores nothing', method: 'GET', path: '/public', cookie: false },
];

const log = (...m) => console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...m);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

async function startRedis(dir) {
  const sock = path.join(dir, 'redis.sock');
  // Debian's redis-server as its package runs it (RDB snapshots, no AOF),
  // on a Unix socket only
  const p = spawn('redis-server', ['--port', '0', '--unixsocket', sock, '--unixsocketperm', '700',
    '--dir', dir, '--appendonly', 'no', '--daemonize', 'no', '--logfile', path.join(dir, 'redis.log')],
  { stdio: 'ignore' });
  for (let i = 0; i < 400 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 25));
  if (!fs.existsSync(sock)) throw new Error('redis-server did not start');
  return { proc: p, sock };
}

function redisCli(sock, ...cmd) {
  return execFileSync('redis-cli', ['-s', sock, ...cmd], { encoding: 'utf8' });
}

let nextPort = 18080;
async function startApp(side, server) {
  const port = nextPort++;
  if (side.go) {
    // the Go app, built by bench/e2e/run; "ready" on its stdout once listening
    const child = spawn(path.join(__dirname, 'go', 'go-app'), [side.name, server.dir, String(server.port), String(port)],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve, reject) => {
      child.stdout.once('data', resolve);
      child.once('exit', (code) => reject(new Error(`${side.name} app exited with ${code}`)));
    });
    child.stdout.resume();
    return { child, base: `http://127.0.0.1:${port}` };
  }
  const execArgv = args['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', args['cpu-prof']] : [];
  const child = fork(path.join(__dirname, 'app.js'), [side.name, server.dir, String(server.port), String(port)],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
  await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`${side.name} app exited with ${code}`)));
  });
  return { child, base: `http://127.0.0.1:${port}` };
}

async function http(base, method, p, { cookie, body, csrf } = {}) {
  const res = await fetch(base + p, {
    method,
    headers: { ...(cookie ? { cookie } : {}), ...(body ? { 'content-type': 'application/json' } : {}),
      ...(csrf ? { 'x-csrf-token': csrf } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const set = res.headers.getSetCookie().find((c) => c.startsWith('sid='));
  return { status: res.status, json: await res.json(), cookie: set && set.split(';')[0] };
}

/* Log n users in; with csrf (side D), each through the login page and its token. */
async function loginAll(app, n, csrf) {
  const cookies = new Array(n);
  const batch = 50;
  for (let i = 0; i < n; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, n - i) }, async (_, j) => {
      const page = csrf ? await http(app.base, 'GET', '/login') : {};
      const r = await http(app.base, 'POST', '/api/login',
        { body: { username: `user${i + j + 1}` }, cookie: page.cookie, csrf: page.json && page.json.csrf });
      if (!r.cookie) throw new Error(`login gave no cookie (${r.status})`);
      cookies[i + j] = r.cookie;
    }));
  }
  return cookies;
}

/* Calls so far: statements the app sent to PostgreSQL, plus the commands Redis processed. */
async function count(app, redis) {
  const stats = redisCli(redis.sock, 'INFO', 'stats');
  const processed = Number(/total_commands_processed:(\d+)/.exec(stats)[1]);
  return (await http(app.base, 'GET', '/__count')).json.calls + processed;
}

function walLsn(server) {
  return server.psql('SELECT pg_current_wal_lsn()');
}
function walBytes(server, from) {
  return Number(server.psql(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '${from}')`));
}

async function load(app, w, cookies) {
  let i = 0;
  const body = JSON.stringify({ username: 'user1' });
  const result = await autocannon({
    url: app.base,
    connections: args.connections,
    duration: args.seconds,
    requests: [{
      method: w.method,
      path: w.path,
      setupRequest: (req) => {
        const headers = { ...req.headers };
        if (w.cookie) headers.cookie = cookies[i++ % cookies.length];
        if (w.login) {
          headers['content-type'] = 'application/json';
          return { ...req, headers, body: JSON.stringify({ username: `user${(i++ % cookies.length) + 1}` }) };
        }
        return { ...req, headers, body: w.method === 'POST' ? body : undefined };
      },
    }],
  });
  return result;
}

/* Workload 5: two parallel requests per user, each adding its own cart item. */
async function lostUpdates(app, cookies) {
  const users = cookies.slice(0, Math.min(cookies.length, args.smoke ? 100 : 2000));
  let lost = 0;
  const batch = 25;
  for (let i = 0; i < users.length; i += batch) {
    await Promise.all(users.slice(i, i + batch).map(async (c, j) => {
      const a = `a${i + j}`;
      const b = `b${i + j}`;
      await Promise.all([http(app.base, 'POST', `/api/cart/${a}`, { cookie: c }), http(app.base, 'POST', `/api/cart/${b}`, { cookie: c })]);
      const cart = (await http(app.base, 'GET', '/api/cart', { cookie: c })).json;
      lost += 2 - [a, b].filter((x) => cart.includes(x)).length;
    }));
  }
  return { pairs: users.length, lost };
}

async function main() {
  fs.mkdirSync(args.out, { recursive: true });
  const server = new TestServer().start();
  const redis = await startRedis(server.dir);
  const results = {}; // side -> workload -> [{rps, p50, p99, calls, wal}]
  const apps = {};
  const cookies = {};
  try {
    const sides = SIDES.filter((x) => args.sides.includes(x.key));
    const workloads = WORKLOADS.filter((w) => args.workloads.includes(String(w.n)));
    const partial = sides.length < SIDES.length || workloads.length < WORKLOADS.length;
    for (const side of sides) {
      apps[side.key] = await startApp(side, server);
      log(`${side.label}: logging in ${args.users} users`);
      cookies[side.key] = await loginAll(apps[side.key], args.users, side.key === 'D');
      results[side.key] = {};
    }
    for (const w of workloads) {
      for (let run = 1; run <= args.runs; run++) {
        // alternate the sides' order from run to run
        const on = sides.filter((x) => runsOn(x, w));
        const order = run % 2 ? on : [...on].reverse();
        for (const side of order) {
          const app = apps[side.key];
          const c0 = await count(app, redis);
          const lsn = walLsn(server);
          const r = await load(app, w, cookies[side.key]);
          const wal = walBytes(server, lsn);
          // less the INFO command of the count itself
          const calls = (await count(app, redis)) - c0 - 1;
          const reqs = r.requests.total;
          const bad = r.non2xx + r.errors + r.timeouts;
          const row = { rps: reqs / args.seconds, p50: r.latency.p50, p99: r.latency.p99, calls: calls / reqs, wal: wal / reqs, bad };
          (results[side.key][w.n] = results[side.key][w.n] || []).push(row);
          log(`w${w.n} ${side.key} run ${run}: ${row.rps.toFixed(0)} req/s, p50 ${row.p50} ms, p99 ${row.p99} ms, ${row.calls.toFixed(2)} calls/req, ${row.wal.toFixed(0)} WAL B/req${bad ? `, ${bad} failed` : ''}`);
        }
      }
    }
    if (partial) {
      log('a partial run (--sides/--workloads): no report');
      return;
    }
    const lost = {};
    for (const side of MAIN) {
      lost[side.key] = await lostUpdates(apps[side.key], cookies[side.key]);
      log(`w5 ${side.key}: ${lost[side.key].lost} of ${lost[side.key].pairs * 2} updates lost`);
    }
    report(results, lost, server);
  } finally {
    // SIGINT: a profiled app writes its profile on the way out
    await Promise.all(Object.values(apps).map((a) => new Promise((r) => { a.child.once('exit', r); a.child.kill('SIGINT'); })));
    // Redis writes its snapshot into the server's directory as it shuts
    // down: wait for it, or removing the directory races with that write
    if (redis.proc.exitCode === null && redis.proc.signalCode === null) {
      await new Promise((r) => { redis.proc.once('exit', r); redis.proc.kill(); });
    }
    await server.stop();
  }
}

function report(results, lost, server) {
  const med = (k, n, f) => median(results[k][n].map((r) => r[f]));
  const version = server.psql('SELECT version()');
  const lines = [];
  lines.push('# End to end: session-express against express-session + connect-pg-simple and + connect-redis', '');
  lines.push(`- date: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`);
  lines.push(`- machine: ${os.type()} ${os.release()}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB`);
  lines.push(`- server: ${version}; Redis: ${execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim()}; Node ${process.version}`);
  lines.push(`- command: \`${['bash bench/e2e/run', ...given].join(' ')}\` (runs ${args.runs}, ${args.seconds} s each, ${args.connections} keep-alive connections from autocannon, ${args.users} logged-in users' cookies in turn)`);
  lines.push('- each side is one Node process with the same Express app (bench/e2e/app.js); express-session with resave: false, saveUninitialized: false, rolling: true; all on one PostgreSQL (Unix socket, synchronous_commit on) and one Redis (Unix socket, RDB snapshots, no AOF); the sides alternated run by run, medians');
  lines.push('- D is C with csrf: true (its login through the login page and its token), on workload 1 only: /api/me gives the page its CSRF token there, checked nowhere on a GET but made in the touch\'s statement');
  lines.push('- calls/req: statements sent to PostgreSQL or commands to Redis per request, counted in the app; WAL B/req: the server\'s WAL over the run per request (Redis writes none)', '');
  if (args.smoke) lines.push('**A smoke run: these figures prove the harness works and mean nothing.**', '');
  lines.push('Each side against the usual stores of its own framework: an Express side against A and B, a Go side against E.', '');
  lines.push('| # | workload | side | req/s | p50 ms | p99 ms | calls/req | WAL B/req | req/s vs A (Go: vs E) | req/s vs B |');
  lines.push('|---|---|---|---:|---:|---:|---:|---:|---:|---:|');
  const chart = [];
  for (const w of WORKLOADS) {
    for (const side of SIDES.filter((x) => runsOn(x, w))) {
      const rps = med(side.key, w.n, 'rps');
      const vsA = `${(rps / med(side.go ? 'E' : 'A', w.n, 'rps')).toFixed(2)}x`;
      const vsB = side.go ? '—' : `${(rps / med('B', w.n, 'rps')).toFixed(2)}x`;
      lines.push(`| ${w.n} | ${w.title} | ${side.key} | ${rps.toFixed(0)} | ${med(side.key, w.n, 'p50').toFixed(1)} | ${med(side.key, w.n, 'p99').toFixed(1)} | ${med(side.key, w.n, 'calls').toFixed(2)} | ${side.key === 'B' ? '—' : med(side.key, w.n, 'wal').toFixed(0)} | ${vsA} | ${vsB} |`);
    }
    chart.push(`"${w.n}: ${w.short}" ${CHART.map((s) => med(s.key, w.n, 'rps').toFixed(0)).join(' ')}`);
  }
  lines.push('', `Workload 5, two parallel requests per user each adding its own cart item (${lost.A.pairs} users):`, '');
  lines.push('| side | updates lost |', '|---|---:|');
  for (const side of MAIN) lines.push(`| ${side.label} | ${lost[side.key].lost} of ${lost[side.key].pairs * 2} |`);
  const r = (k, n, f) => med(k, n, f);
  const target = (name, value, goal, ok) => `| ${name} | ${value} | ${goal} | ${args.smoke ? '(smoke run: not a measurement)' : ok ? 'met' : 'missed'} |`;
  lines.push('', '| target | measured | goal | |', '|---|---|---|---|');
  lines.push(target('workload 1 req/s vs A', `${(r('C', 1, 'rps') / r('A', 1, 'rps')).toFixed(2)}x`, '≥ 1.5x', r('C', 1, 'rps') >= 1.5 * r('A', 1, 'rps')));
  lines.push(target('workload 1 req/s vs B', `${(r('C', 1, 'rps') / r('B', 1, 'rps')).toFixed(2)}x`, '≥ 1.0x', r('C', 1, 'rps') >= r('B', 1, 'rps')));
  lines.push(target('workload 1 p99 vs A', `${r('C', 1, 'p99').toFixed(1)} ms vs ${r('A', 1, 'p99').toFixed(1)} ms`, '≤ A', r('C', 1, 'p99') <= r('A', 1, 'p99')));
  lines.push(target('workload 2 req/s vs A', `${(r('C', 2, 'rps') / r('A', 2, 'rps')).toFixed(2)}x`, '≥ 1.3x', r('C', 2, 'rps') >= 1.3 * r('A', 2, 'rps')));
  lines.push(target('workload 3 req/s vs A', `${(r('C', 3, 'rps') / r('A', 3, 'rps')).toFixed(2)}x`, '≥ 1.0x', r('C', 3, 'rps') >= r('A', 3, 'rps')));
  // C and D run next to each other, each first in every other run: their runs' own ratios too
  const dc = results.D[1].map((x, i) => (x.rps / results.C[1][i].rps).toFixed(2)).join(', ');
  lines.push(target('workload 1 req/s, csrf: true (D) vs without (C)', `${(r('D', 1, 'rps') / r('C', 1, 'rps')).toFixed(2)}x (run by run ${dc})`, '≥ 0.95x', r('D', 1, 'rps') >= 0.95 * r('C', 1, 'rps')));
  for (const n of [1, 2, 3]) {
    lines.push(`| workload ${n} req/s, Go: pgsession (F) vs scs-style (E) | ${(r('F', n, 'rps') / r('E', n, 'rps')).toFixed(2)}x | none set | |`);
  }
  lines.push(target('workload 5 updates lost', `${lost.C.lost} (A ${lost.A.lost}, B ${lost.B.lost})`, '0', lost.C.lost === 0));
  lines.push(target('workload 5 updates lost, Go', `${lost.F.lost} (E ${lost.E.lost})`, '0', lost.F.lost === 0));
  lines.push('', 'Each run:', '');
  for (const w of WORKLOADS) {
    for (const side of SIDES.filter((x) => runsOn(x, w))) {
      lines.push(`- w${w.n} ${side.key}: ${results[side.key][w.n].map((x) => `${x.rps.toFixed(0)} req/s (p99 ${x.p99} ms)${x.bad ? ` ${x.bad} failed` : ''}`).join(', ')}`);
    }
  }
  fs.writeFileSync(path.join(args.out, 'report.md'), `${lines.join('\n')}\n`);
  fs.writeFileSync(path.join(args.out, 'chart.dat'), `${chart.join('\n')}\n`);
  const failed = SIDES.some((s) => WORKLOADS.some((w) => runsOn(s, w) && results[s.key][w.n].some((x) => x.bad > 0)));
  if (failed) {
    console.error('some requests failed: see the report');
    process.exitCode = 1;
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
