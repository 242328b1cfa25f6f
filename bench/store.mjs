#!/usr/bin/env node
// browser-control task-store benchmark: what the durable stores (SQLite, PostgreSQL) cost against
// the in-memory one, on the same release binary, the same Chromium and the same machine.
//
// Usage (from the repo root; tools/bench-store builds the release binary, installs this project's
// npm packages and provides a PostgreSQL first, then runs this file with the arguments given):
//
//   tools/bench-store [flags]
//   node bench/store.mjs [flags]          # needs `npm ci --prefix bench` and a release build
//
// Flags:
//   --tasks M          one-command evaluate tasks submitted at once per measurement (default 1000)
//   --sequential S     one-command evaluate tasks run one at a time per measurement (default 300;
//                      0 leaves the sequential variant out)
//   --rounds R         rounds; each round measures every store once, in --stores order (default 3)
//   --stores LIST      comma-separated, from memory, sqlite, postgres (default all three)
//   --warmup W         tasks run (all at once) on each fresh server before measuring (default 20)
//   --pg URL           PostgreSQL server to create the benchmark's databases on (default
//                      $BROWSER_CONTROL_TEST_PG, else postgres://postgres@127.0.0.1:5432/postgres)
//   --server PATH      browser-control binary (default target/release/browser-control, or
//                      $CARGO_TARGET_DIR/release/browser-control when that is set)
//   --chrome PATH      Chromium binary (default $CHROME, else /usr/bin/chromium, else PATH)
//   --out FILE         JSON results (default out/bench-store.json)
//   --verbose          pass the server's stderr through
//
// What it does, for every round and every store in turn (stores interleaved, so that a slow
// spell of the machine hits every store rather than one):
//   1. Makes the store fresh: memory; sqlite://<new temp dir>/tasks.db; postgres: a new database
//      bc_bench_<pid> (psql "$PG" -c 'CREATE DATABASE ...'), dropped again after the measurement.
//   2. Starts `serve --listen 127.0.0.1:0 --instances 1 --store URL --max-queued N` (its own
//      process group), reads `listening on http://127.0.0.1:PORT` from its stdout, connects one
//      task WebSocket and waits for `welcome`.
//   3. Warm-up: W tasks at once, not counted.
//   4. Batch: M tasks `browser_execute` evaluate `return 1+1`, all sent at once over the one
//      WebSocket. tasks/s = M / (last task_complete received - first task_submit sent).
//      submit->start of a task: from sending its task_submit to receiving its first
//      task_progress with status `running`; submit->complete: to receiving its task_complete.
//      Every task must complete with 2 in its result.
//   5. Sequential: S tasks one at a time; p50 of submit->complete (and submit->start).
//   6. Stops the server (SIGTERM, then SIGKILL of its group) and removes the store.
// The report gives the median over rounds of each figure per store, the ratios of the medians
// (tasks/s SQLite/memory, target >= 0.9; PostgreSQL/memory, target >= 0.8) with PASS/MISS, and
// every round's raw numbers go to the JSON. Every process, temp dir and database made here is
// removed at the end, on error and on SIGINT/SIGTERM.
// This is a benchmark: MISS does not fail the run; a task that does not complete does (exit 1).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { spawn, execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import WebSocket from 'ws';

const require = createRequire(import.meta.url);
const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(BENCH_DIR, '..');
const now = () => performance.now();
const STORES = ['memory', 'sqlite', 'postgres'];
const TARGETS = { sqlite: 0.9, postgres: 0.8 };
const DEFAULT_PG = 'postgres://postgres@127.0.0.1:5432/postgres';

// ---------------------------------------------------------------- options

function usage(code) {
  const text = fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
  const end = text.findIndex((l) => !l.startsWith('//') && !l.startsWith('#!'));
  console.log(text.slice(1, end).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(code);
}

function parseArgs(argv) {
  const o = {
    tasks: 1000,
    sequential: 300,
    rounds: 3,
    stores: [...STORES],
    warmup: 20,
    pg: process.env.BROWSER_CONTROL_TEST_PG || DEFAULT_PG,
    server: path.join(process.env.CARGO_TARGET_DIR ? path.resolve(REPO, process.env.CARGO_TARGET_DIR) : path.join(REPO, 'target'), 'release/browser-control'),
    chrome: null,
    out: path.join(REPO, 'out/bench-store.json'),
    verbose: false,
  };
  const int = (name, v, min = 1) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) die(`${name}: expected an integer >= ${min}, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let v;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) [a, v] = [a.slice(0, eq), a.slice(eq + 1)];
    const val = () => {
      if (v !== undefined) return v;
      if (i + 1 >= argv.length) die(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--tasks': o.tasks = int(a, val()); break;
      case '--sequential': o.sequential = int(a, val(), 0); break;
      case '--rounds': o.rounds = int(a, val()); break;
      case '--warmup': o.warmup = int(a, val(), 0); break;
      case '--stores': {
        const list = val().split(',').map((s) => s.trim()).filter(Boolean);
        for (const s of list) if (!STORES.includes(s)) die(`--stores: unknown store ${s} (${STORES.join(', ')})`);
        if (!list.length) die('--stores: empty list');
        o.stores = [...new Set(list)];
        break;
      }
      case '--pg': o.pg = val(); break;
      case '--server': o.server = path.resolve(val()); break;
      case '--chrome': o.chrome = val(); break;
      case '--out': o.out = path.resolve(val()); break;
      case '--verbose': o.verbose = true; break;
      case '-h': case '--help': usage(0); break;
      default: die(`unknown argument ${a} (see --help)`);
    }
  }
  return o;
}

function die(msg) {
  console.error(`bench-store: ${msg}`);
  process.exit(2);
}

function findOnPath(name) {
  for (const dir of (process.env.PATH || '').split(':')) {
    const p = path.join(dir || '.', name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {}
  }
  return null;
}

function findChrome(flag) {
  const pick = flag || process.env.CHROME;
  if (pick) {
    const p = pick.includes('/') ? path.resolve(pick) : findOnPath(pick);
    if (!p || !fs.existsSync(p)) die(`Chromium not found: ${pick}`);
    return p;
  }
  if (fs.existsSync('/usr/bin/chromium')) return '/usr/bin/chromium';
  for (const n of ['chromium', 'chromium-browser', 'google-chrome']) {
    const p = findOnPath(n);
    if (p) return p;
  }
  die('no Chromium found: set CHROME or run tools/install-chromium');
}

// ---------------------------------------------------------------- statistics

function stats(samples) {
  if (!samples.length) return null;
  const s = Float64Array.from(samples).sort();
  const q = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return { n: s.length, p50: q(50), p95: q(95), p99: q(99), mean, min: s[0], max: s[s.length - 1] };
}

function median(xs) {
  const s = xs.filter((x) => typeof x === 'number' && !Number.isNaN(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// ---------------------------------------------------------------- cleanup

const cleanups = [];
function onCleanup(name, fn) {
  const entry = { name, fn };
  cleanups.push(entry);
  return () => {
    const i = cleanups.indexOf(entry);
    if (i >= 0) cleanups.splice(i, 1);
  };
}
let cleaning = null;
function cleanupAll() {
  cleaning ??= (async () => {
    while (cleanups.length) {
      const { name, fn } = cleanups.pop();
      try {
        await fn();
      } catch (e) {
        console.error(`bench-store: cleanup ${name}: ${e.message}`);
      }
    }
  })();
  return cleaning;
}
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    interrupted = true;
    console.error(`\nbench-store: ${sig}: cleaning up`);
    cleanupAll().finally(() => process.exit(128 + os.constants.signals[sig]));
  });
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// A child in its own process group (so its helpers can be killed with it): SIGTERM, wait, then
// SIGKILL the group; also SIGKILLs any of the group left behind after a clean exit.
function spawnGroup(cmd, args, opts) {
  const child = spawn(cmd, args, { ...opts, detached: true });
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.stop = async (graceMs = 10000) => {
    if (child.exitCode === null && child.signalCode === null) {
      try { child.kill('SIGTERM'); } catch {}
      const t = await Promise.race([child.exited, new Promise((r) => setTimeout(() => r(null), graceMs))]);
      if (t === null) console.error(`bench-store: ${path.basename(cmd)} did not exit ${graceMs} ms after SIGTERM: SIGKILL`);
    }
    try { process.kill(-child.pid, 'SIGKILL'); } catch {} // ESRCH: the group is gone already
    await child.exited;
  };
  return child;
}

function lineReader(stream, onLine) {
  const rl = readline.createInterface({ input: stream, crlfDelay: Infinity });
  rl.on('line', onLine);
  return rl;
}

function rmDir(dir) {
  fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
}

// Peak and current resident memory of a process, in MiB, from /proc (null elsewhere).
function memoryOf(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number((new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status) || [])[1]);
    return { rss_mib: kb('VmRSS') / 1024, peak_rss_mib: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

function dirBytes(dir) {
  let total = 0;
  try {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      total += e.isDirectory() ? dirBytes(p) : fs.statSync(p).size;
    }
  } catch {}
  return total;
}

// ---------------------------------------------------------------- stores

function psql(url, sql) {
  return execFileSync('psql', ['-X', '-q', '-w', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PGCONNECT_TIMEOUT: '10' },
  });
}

function psqlError(e) {
  return (e.stderr || e.message || String(e)).trim();
}

function pgDatabaseUrl(base, name) {
  let u;
  try {
    u = new URL(base);
  } catch {
    die(`--pg / BROWSER_CONTROL_TEST_PG is not a URL: ${base}`);
  }
  if (!/^postgres(ql)?:$/.test(u.protocol)) die(`--pg / BROWSER_CONTROL_TEST_PG is not a postgres:// URL: ${base}`);
  u.pathname = `/${name}`;
  return u.toString();
}

function redact(url) {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

function dropDatabase(base, name) {
  try {
    psql(base, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } catch (e) {
    // WITH (FORCE) is PostgreSQL 13+; older servers take the plain form.
    if (!/syntax error/i.test(psqlError(e))) throw e;
    psql(base, `DROP DATABASE IF EXISTS ${name}`);
  }
}

// Makes a fresh store; returns {url, describe, size(), remove()}.
function prepareStore(opts, kind) {
  if (kind === 'memory') return { url: 'memory', describe: 'memory', size: () => null, remove: () => {} };
  if (kind === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-store-sqlite-'));
    const unregister = onCleanup(`SQLite dir ${dir}`, () => rmDir(dir));
    return {
      url: `sqlite://${dir}/tasks.db`,
      describe: `sqlite://${dir}/tasks.db`,
      size: () => dirBytes(dir),
      remove: () => { unregister(); rmDir(dir); },
    };
  }
  const name = `bc_bench_${process.pid}`;
  try {
    psql(opts.pg, `CREATE DATABASE ${name}`);
  } catch (e) {
    throw new Error(`cannot create the PostgreSQL database ${name} on ${redact(opts.pg)} (set BROWSER_CONTROL_TEST_PG or --pg; tools/bench-store provides one): ${psqlError(e)}`);
  }
  const url = pgDatabaseUrl(opts.pg, name);
  const unregister = onCleanup(`PostgreSQL database ${name}`, () => dropDatabase(opts.pg, name));
  return {
    url,
    describe: redact(url),
    size: () => {
      try {
        return Number(psql(opts.pg, `COPY (SELECT pg_database_size('${name}')) TO STDOUT`).trim());
      } catch {
        return null;
      }
    },
    remove: () => { unregister(); dropDatabase(opts.pg, name); },
  };
}

// ---------------------------------------------------------------- browser-control

async function startServer(opts, chromePath, storeUrl) {
  if (!fs.existsSync(opts.server)) throw new Error(`browser-control binary not found: ${opts.server} (cargo build --release --locked)`);
  const maxQueued = Math.max(2000, opts.tasks + opts.warmup + 100);
  const args = ['serve', '--listen', '127.0.0.1:0', '--instances', '1', '--store', storeUrl, '--max-queued', String(maxQueued)];
  const env = { ...process.env, CHROME: chromePath };
  delete env.BROWSER_CONTROL_STORE; // --store says which
  const child = spawnGroup(opts.server, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const unregister = onCleanup('browser-control serve', () => { child.stopping = true; return child.stop(); });
  const tail = [];
  const stdout = [];
  lineReader(child.stderr, (l) => {
    if (opts.verbose) console.error(`[serve] ${l}`);
    tail.push(l);
    if (tail.length > 40) tail.shift();
  });
  const port = await withTimeout(new Promise((resolve, reject) => {
    lineReader(child.stdout, (l) => {
      if (opts.verbose) console.error(`[serve:out] ${l}`);
      if (stdout.length < 10) stdout.push(l);
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(l);
      if (m) resolve(Number(m[1]));
    });
    child.once('error', reject);
    child.exited.then(({ code, signal }) =>
      reject(new Error(`browser-control serve exited (${signal || code}) before listening:\n${tail.join('\n')}`)));
  }), 60000, 'browser-control serve to print "listening on"');
  child.exited.then(({ code, signal }) => {
    if (!child.stopping) console.error(`bench-store: browser-control serve exited unexpectedly (${signal || code})\n${tail.join('\n')}`);
  });
  const stop = async () => {
    child.stopping = true;
    unregister();
    await child.stop();
    return child.exitCode ?? child.signalCode;
  };
  return { port, stop, child, tail, stdout, args };
}

class BcClient {
  constructor(url) {
    this.url = url;
    this.submitQ = []; // resolvers for task_submit_response, in send order
    this.waiters = new Map(); // taskId -> resolve
    this.completed = new Map(); // taskId -> {msg, t} that arrived before anyone waited
    this.running = new Map(); // taskId -> t of its first task_progress `running`
    this.failure = null;
    this.failListeners = new Set();
  }

  connect() {
    return withTimeout(new Promise((resolve, reject) => {
      // The server's token, when the environment gives it one (serve reads the same variable).
      const token = process.env.BROWSER_CONTROL_TOKEN;
      const headers = token ? { Authorization: `Bearer ${token}` } : {};
      const ws = new WebSocket(this.url, { perMessageDeflate: false, headers });
      this.ws = ws;
      ws.on('message', (data) => {
        const t = now();
        let msg;
        try { msg = JSON.parse(data); } catch { return this.fail(new Error(`server sent non-JSON: ${String(data).slice(0, 200)}`)); }
        if (msg.type === 'welcome') { this.welcome = msg; resolve(msg); return; }
        this.handle(msg, t);
      });
      ws.once('error', (e) => { reject(e); this.fail(e); });
      ws.once('close', (code) => { reject(new Error(`closed ${code}`)); this.fail(new Error(`task WebSocket closed (${code})`)); });
    }), 15000, 'welcome from the task WebSocket');
  }

  fail(err) {
    if (this.closing || this.failure) return;
    this.failure = err;
    for (const f of this.failListeners) f(err);
  }

  // A promise that rejects when the connection fails, raced against every wait.
  guard(p) {
    if (this.failure) return Promise.reject(this.failure);
    let l;
    return Promise.race([p, new Promise((_, rej) => { l = rej; this.failListeners.add(l); })])
      .finally(() => this.failListeners.delete(l));
  }

  handle(msg, t) {
    switch (msg.type) {
      case 'task_submit_response': {
        const r = this.submitQ.shift();
        if (!r) return this.fail(new Error(`unexpected task_submit_response ${JSON.stringify(msg)}`));
        r({ msg, t });
        break;
      }
      case 'task_progress':
        if (msg.status === 'running' && !this.running.has(msg.taskId)) this.running.set(msg.taskId, t);
        break;
      case 'task_complete': {
        const w = this.waiters.get(msg.taskId);
        if (w) { this.waiters.delete(msg.taskId); w({ msg, t }); } else this.completed.set(msg.taskId, { msg, t });
        break;
      }
      case 'error':
        this.fail(new Error(`server error message: ${msg.message}`));
        break;
      default:
        break; // subscribe_ack and future message types
    }
  }

  // Sends a task_submit; returns {sentAt, response: Promise<{msg,t}>}.
  submit(wire) {
    const response = new Promise((r) => this.submitQ.push(r));
    const sentAt = now();
    this.ws.send(wire);
    return { sentAt, response: this.guard(response) };
  }

  complete(taskId) {
    const early = this.completed.get(taskId);
    if (early) { this.completed.delete(taskId); return Promise.resolve(early); }
    return this.guard(new Promise((r) => this.waiters.set(taskId, r)));
  }

  close() {
    this.closing = true;
    try { this.ws.close(); } catch {}
  }
}

const TASK = JSON.stringify({
  type: 'task_submit',
  task_name: 't',
  commands: [{ tool_name: 'browser_execute', args: { action: 'evaluate', script: 'return 1+1' } }],
});

function commandText(result) {
  const content = result?.result?.content;
  if (Array.isArray(content)) return content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
  return result?.result === undefined ? '' : JSON.stringify(result.result);
}

// Every task completed with 2 in its result; throws otherwise.
function checkCompleted(what, completes) {
  const bad = [];
  for (const { msg } of completes) {
    if (msg.status !== 'completed') {
      const r = (msg.results || [])[0];
      bad.push(`${msg.taskId}: ${msg.status} ${r?.error ? (r.error.message ?? JSON.stringify(r.error)) : ''}`);
    } else if (!/\b2\b/.test(commandText(msg.results?.[0]))) {
      bad.push(`${msg.taskId}: expected 2 in ${JSON.stringify(commandText(msg.results?.[0]).slice(0, 200))}`);
    }
  }
  if (bad.length) throw new Error(`${what}: ${bad.length} of ${completes.length} tasks did not complete as expected:\n  ${bad.slice(0, 10).join('\n  ')}`);
}

// Submits n tasks at once; returns {ids, subs, completes, t0, t1}.
async function runBatch(client, n, timeoutMs) {
  const t0 = now();
  const subs = [];
  for (let i = 0; i < n; i++) subs.push(client.submit(TASK));
  const responses = await withTimeout(Promise.all(subs.map((s) => s.response)), timeoutMs, 'task_submit_response');
  const rejected = responses.filter(({ msg }) => msg.status !== 'accepted');
  if (rejected.length) throw new Error(`browser-control rejected ${rejected.length} of ${n} tasks: ${JSON.stringify(rejected[0].msg)}`);
  const ids = responses.map(({ msg }) => msg.taskId);
  if (new Set(ids).size !== ids.length) throw new Error('browser-control answered duplicate task ids');
  const completes = await withTimeout(Promise.all(ids.map((id) => client.complete(id))), timeoutMs, `${n} task_complete`);
  const t1 = Math.max(...completes.map((c) => c.t));
  return { ids, subs, responses, completes, t0, t1 };
}

async function measure(opts, chromePath, kind, round) {
  const store = prepareStore(opts, kind);
  let server;
  let client;
  let unregisterClient = () => {};
  const out = { store: kind, round, store_url: store.describe };
  try {
    server = await startServer(opts, chromePath, store.url);
    out.server_stdout = server.stdout.slice();
    client = new BcClient(`ws://127.0.0.1:${server.port}/`);
    unregisterClient = onCleanup('task WebSocket', () => client.close());
    await client.connect();
    out.server_version = client.welcome?.serverVersion ?? null;
    const batchTimeout = Math.max(300000, opts.tasks * 200);

    if (opts.warmup) {
      const w = await runBatch(client, opts.warmup, batchTimeout);
      checkCompleted(`${kind} warm-up`, w.completes);
    }

    // Batch: all at once over the one WebSocket.
    client.running.clear();
    const b = await runBatch(client, opts.tasks, batchTimeout);
    checkCompleted(`${kind} batch`, b.completes);
    const toStart = [];
    const toComplete = [];
    const toAccept = [];
    let missingRunning = 0;
    b.ids.forEach((id, i) => {
      const sent = b.subs[i].sentAt;
      const started = client.running.get(id);
      if (started === undefined) missingRunning++;
      else toStart.push(started - sent);
      toComplete.push(b.completes[i].t - sent);
      toAccept.push(b.responses[i].t - sent);
    });
    if (missingRunning) console.error(`bench-store: warning: ${kind} round ${round}: ${missingRunning} tasks had no task_progress running`);
    const wall = (b.t1 - b.t0) / 1000;
    out.batch = {
      tasks: opts.tasks,
      wall_s: wall,
      tasks_per_s: opts.tasks / wall,
      submit_s: (b.subs[b.subs.length - 1].sentAt - b.t0) / 1000,
      submit_to_start_ms: stats(toStart),
      submit_to_complete_ms: stats(toComplete),
      submit_to_response_ms: stats(toAccept),
      missing_running: missingRunning,
    };
    out.memory_after_batch = memoryOf(server.child.pid);

    // Sequential: one at a time.
    if (opts.sequential) {
      const e2e = [];
      const start = [];
      const t0 = now();
      for (let i = 0; i < opts.sequential; i++) {
        client.running.clear();
        const s = client.submit(TASK);
        const { msg } = await withTimeout(s.response, 30000, 'task_submit_response');
        if (msg.status !== 'accepted') throw new Error(`browser-control rejected a one-command task: ${JSON.stringify(msg)}`);
        const c = await withTimeout(client.complete(msg.taskId), 30000, 'task_complete');
        checkCompleted(`${kind} sequential`, [c]);
        e2e.push(c.t - s.sentAt);
        const r = client.running.get(msg.taskId);
        if (r !== undefined) start.push(r - s.sentAt);
      }
      out.sequential = {
        tasks: opts.sequential,
        wall_s: (now() - t0) / 1000,
        submit_to_complete_ms: stats(e2e),
        submit_to_start_ms: stats(start),
      };
    }
    out.memory_at_end = memoryOf(server.child.pid);
    out.store_bytes = store.size();
  } finally {
    unregisterClient();
    client?.close();
    if (server) out.server_exit = await server.stop();
    store.remove();
  }
  return out;
}

// ---------------------------------------------------------------- report

const f0 = (x) => (x === undefined || x === null || Number.isNaN(x) ? '-' : x.toFixed(0));
const f1 = (x) => (x === undefined || x === null || Number.isNaN(x) ? '-' : x.toFixed(1));
const f2 = (x) => (x === undefined || x === null || Number.isNaN(x) ? '-' : x.toFixed(2));
const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);
const verdict = (ok) => (ok === null ? 'n/a' : ok ? 'PASS' : 'MISS');

const FIGURES = {
  tasks_per_s: (r) => r.batch?.tasks_per_s,
  accept_p50_ms: (r) => r.batch?.submit_to_response_ms?.p50,
  start_p50_ms: (r) => r.batch?.submit_to_start_ms?.p50,
  start_p95_ms: (r) => r.batch?.submit_to_start_ms?.p95,
  complete_p50_ms: (r) => r.batch?.submit_to_complete_ms?.p50,
  seq_e2e_p50_ms: (r) => r.sequential?.submit_to_complete_ms?.p50,
  seq_start_p50_ms: (r) => r.sequential?.submit_to_start_ms?.p50,
  peak_rss_mib: (r) => r.memory_at_end?.peak_rss_mib,
};

function summarize(opts, rounds) {
  const summary = {};
  for (const kind of opts.stores) {
    const rs = rounds.filter((r) => r.store === kind);
    if (!rs.length) continue;
    summary[kind] = { rounds: rs.length };
    for (const [k, get] of Object.entries(FIGURES)) summary[kind][k] = median(rs.map(get));
  }
  const ratios = {};
  const mem = summary.memory?.tasks_per_s;
  for (const kind of ['sqlite', 'postgres']) {
    if (!summary[kind]) continue;
    const value = mem && summary[kind].tasks_per_s ? summary[kind].tasks_per_s / mem : null;
    const perRound = [];
    for (let round = 1; round <= opts.rounds; round++) {
      const m = rounds.find((r) => r.store === 'memory' && r.round === round)?.batch?.tasks_per_s;
      const x = rounds.find((r) => r.store === kind && r.round === round)?.batch?.tasks_per_s;
      if (m && x) perRound.push(x / m);
    }
    ratios[`${kind}_over_memory_tasks_per_s`] = {
      value,
      per_round: perRound,
      target: `>= ${TARGETS[kind]}`,
      pass: value === null ? null : value >= TARGETS[kind],
    };
  }
  return { summary, ratios };
}

function report(opts, results) {
  const out = [];
  const p = (s = '') => out.push(s);
  const e = results.env;
  p(`browser-control task-store benchmark  ${e.started_at}`);
  p(`  chromium ${e.chromium} (${e.chromium_path})  node ${e.node}  ws ${e.ws}`);
  p(`  ${e.cpus} CPUs, load average at start ${e.loadavg.map((x) => x.toFixed(2)).join(' ')}; browser-control ${e.git_commit} (${e.server})`);
  p(`  serve --instances 1; ${opts.tasks} one-command evaluate tasks at once over one WebSocket, then ${opts.sequential} one at a time;`);
  p(`  warm-up ${opts.warmup} tasks per server; ${opts.rounds} rounds of ${opts.stores.join(', ')} (interleaved); figures are medians of rounds`);
  p();
  const cols = [
    ['tasks/s', 'tasks_per_s', f1, 9],
    ['accept p50', 'accept_p50_ms', f1, 12],
    ['start p50', 'start_p50_ms', f1, 11],
    ['start p95', 'start_p95_ms', f1, 11],
    ['complete p50', 'complete_p50_ms', f1, 14],
    [`seq e2e p50`, 'seq_e2e_p50_ms', f2, 13],
    ['seq start p50', 'seq_start_p50_ms', f2, 15],
    ['peak RSS MiB', 'peak_rss_mib', f0, 14],
  ];
  const header = () => p(`  ${pad('store', 10)}${cols.map(([n, , , w]) => lpad(n, w)).join('')}`);
  p('Median of rounds (times in ms, at the client, from sending task_submit: accept = to its task_submit_response,');
  p('  start = to its first task_progress running, complete = to its task_complete; seq = one task at a time)');
  header();
  for (const [kind, s] of Object.entries(results.summary)) p(`  ${pad(kind, 10)}${cols.map(([, k, f, w]) => lpad(f(s[k]), w)).join('')}`);
  p();
  p('Every round');
  p(`  ${pad('round', 16)}${cols.map(([n, , , w]) => lpad(n, w)).join('')}`);
  for (const r of results.rounds) p(`  ${pad(`${r.round} ${r.store}`, 16)}${cols.map(([, k, f, w]) => lpad(f(FIGURES[k](r)), w)).join('')}`);
  p();
  p('Targets (tasks/s, ratio of the medians; per round in brackets)');
  for (const [k, r] of Object.entries(results.ratios)) {
    const name = k.startsWith('sqlite') ? 'SQLite / memory' : 'PostgreSQL / memory';
    p(`  ${pad(name, 22)}${lpad(r.value === null ? '-' : `${f2(r.value)}x`, 7)}  [${r.per_round.map((x) => f2(x)).join(' ')}]   target ${r.target}   ${verdict(r.pass)}`);
  }
  if (!Object.keys(results.ratios).length) p('  (needs memory and sqlite or postgres in --stores)');
  p();
  p('Notes: one instance, so submit->start of the batch is mostly queueing behind earlier tasks; the');
  p('  sequential p50 is the per-task cost with nothing queued. Absolute times on a shared machine are');
  p('  noisy; compare the ratios and the spread of the rounds.');
  const rel = path.relative(process.cwd(), opts.out);
  p(`  JSON: ${rel.startsWith('..') ? opts.out : rel}`);
  return out.join('\n');
}

// ---------------------------------------------------------------- main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const chromePath = findChrome(opts.chrome);
  const version = (cmd, args) => { try { return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { return 'unknown'; } };
  if (opts.stores.includes('postgres')) {
    try {
      psql(opts.pg, 'SELECT 1');
    } catch (e) {
      die(`PostgreSQL at ${redact(opts.pg)} does not answer (set BROWSER_CONTROL_TEST_PG or --pg, or run tools/bench-store, which provides one): ${psqlError(e)}`);
    }
  }
  const results = {
    env: {
      started_at: new Date().toISOString(),
      chromium_path: chromePath,
      chromium: version(chromePath, ['--version']).replace(/^Chromium\s*/, ''),
      node: process.version,
      ws: require('ws/package.json').version,
      cpus: os.cpus().length,
      cpu_model: os.cpus()[0]?.model,
      loadavg: os.loadavg(),
      git_commit: version('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD']),
      git_dirty: version('git', ['-C', REPO, 'status', '--porcelain', '--untracked-files=no']) !== '',
      server: opts.server,
      postgres: opts.stores.includes('postgres') ? { url: redact(opts.pg), version: version('psql', ['-X', '-w', '-t', '-A', '-d', opts.pg, '-c', 'SHOW server_version']) } : null,
    },
    config: { tasks: opts.tasks, sequential: opts.sequential, rounds: opts.rounds, stores: opts.stores, warmup: opts.warmup, instances: 1 },
    rounds: [],
  };
  const write = () => {
    Object.assign(results, summarize(opts, results.rounds));
    fs.mkdirSync(path.dirname(opts.out), { recursive: true });
    fs.writeFileSync(opts.out, JSON.stringify(results, null, 2) + '\n');
  };
  for (let round = 1; round <= opts.rounds; round++) {
    for (const kind of opts.stores) {
      console.error(`bench-store: round ${round}/${opts.rounds}: ${kind}: ${opts.warmup} warm-up, ${opts.tasks} at once, ${opts.sequential} one at a time`);
      const r = await measure(opts, chromePath, kind, round);
      results.rounds.push(r);
      console.error(`bench-store:   ${f1(r.batch.tasks_per_s)} tasks/s, submit->start p50 ${f1(r.batch.submit_to_start_ms?.p50)} ms p95 ${f1(r.batch.submit_to_start_ms?.p95)} ms, sequential e2e p50 ${f2(r.sequential?.submit_to_complete_ms?.p50)} ms`);
      write(); // a run that fails later still leaves the rounds done so far
    }
  }
  results.env.finished_at = new Date().toISOString();
  write();
  console.log(report(opts, results));
}

main()
  .then(() => cleanupAll())
  .then(() => process.exit(0))
  .catch(async (e) => {
    if (interrupted) return; // the signal handler cleans up and exits
    console.error(`bench-store: FAILED: ${e.stack || e.message}`);
    await cleanupAll();
    process.exit(1);
  });
