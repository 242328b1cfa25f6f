#!/usr/bin/env node
// browser-control benchmark: throughput and latency of browser-control's task WebSocket against
// Playwright (playwright-core) and a raw CDP floor, all on the same Chromium binary.
//
// Usage (from the repo root; tools/bench builds the release binary and installs this project's
// npm packages first, then runs this file with the arguments it was given):
//
//   tools/bench [flags]
//   node bench/bench.mjs [flags]          # needs `npm ci --prefix bench` and a release build
//
// Flags:
//   --tasks M          tasks in the throughput run (default 200)
//   --concurrency C    browser-control instances / Playwright workers (default 2)
//   --latency-n N      round trips / one-command tasks per latency-floor series (default 500)
//   --warmup W         warm-up tasks per tool before the throughput run, not counted (default 3*C)
//   --mix a,b,...      task shapes used round-robin: login, search, product (default login,search;
//                      product waits on the page's own 800 ms render timer)
//   --server PATH      browser-control binary (default target/release/browser-control, or
//                      $CARGO_TARGET_DIR/release/browser-control when that is set)
//   --chrome PATH      Chromium binary (default $CHROME, else /usr/bin/chromium, else PATH)
//   --out FILE         JSON results (default out/bench.json)
//   --skip LIST        leave parts out: bc, playwright, cdp (comma-separated)
//   --verbose          pass the server's stderr through
//
// What it does, in one run:
//   1. Serves fixtures/site on 127.0.0.1:0 (node http, every file from memory, no-store).
//   2. browser-control: starts `serve --listen 127.0.0.1:0 --instances C`, reads
//      `listening on http://127.0.0.1:PORT` from its stdout and talks to ws://127.0.0.1:PORT/.
//      Throughput: all M tasks submitted at once (no instanceId), timed from the first
//      task_submit sent to the last task_complete received; every task must complete and its
//      outputs must contain the expected text. Per-command latency: task_progress `running` to
//      `success` of each command, as the client receives them.
//      Latency floor: N sequential one-command tasks each of evaluate `return 1+1` and get_text
//      `h1` on one instance (after a goto task there), timed from task_submit sent to
//      task_complete received.
//   3. Playwright: chromium.launch with the same flags, C workers pulling from the same M tasks,
//      (a) a fresh context + page per task (as Playwright's test runner isolates tests) and
//      (b) one page per worker reused for every task; each call is timed. Reference latency:
//      N page.evaluate(() => 1 + 1) and N page.textContent('h1').
//   4. Raw CDP: chromium --headless --remote-debugging-port=0, a page target attached with
//      flatten:true, the fixture page loaded, N Runtime.evaluate {expression:"1+1"} round trips.
//   5. Prints tables, ratios and targets (throughput >= 2x Playwright; evaluate/get_text p50
//      within 0.5 ms of raw CDP) with PASS/MISS, and writes everything to out/bench.json.
// The phases run one after another (each tool alone on the machine); every process and temp
// dir started here is removed at the end, on error and on SIGINT/SIGTERM.
// This is a benchmark: MISS does not fail the run; a task that does not complete does (exit 1).

import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { spawn, execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import WebSocket from 'ws';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(BENCH_DIR, '..');
const now = () => performance.now();

// ---------------------------------------------------------------- options

function usage(code) {
  const text = fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
  const end = text.findIndex((l) => !l.startsWith('//') && !l.startsWith('#!'));
  console.log(text.slice(1, end).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(code);
}

function parseArgs(argv) {
  const o = {
    tasks: 200,
    concurrency: 2,
    latencyN: 500,
    warmup: null,
    mix: ['login', 'search'],
    server: path.join(process.env.CARGO_TARGET_DIR ? path.resolve(REPO, process.env.CARGO_TARGET_DIR) : path.join(REPO, 'target'), 'release/browser-control'),
    chrome: null,
    out: path.join(REPO, 'out/bench.json'),
    skip: new Set(),
    verbose: false,
  };
  const int = (name, v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) die(`${name}: expected a positive integer, got ${v}`);
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
      case '--concurrency': o.concurrency = int(a, val()); break;
      case '--latency-n': o.latencyN = int(a, val()); break;
      case '--warmup': o.warmup = int(a, val()); break;
      case '--mix': o.mix = val().split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--server': o.server = path.resolve(val()); break;
      case '--chrome': o.chrome = val(); break;
      case '--out': o.out = path.resolve(val()); break;
      case '--skip':
        for (const s of val().split(',').map((x) => x.trim()).filter(Boolean)) {
          if (!['bc', 'playwright', 'cdp'].includes(s)) die(`--skip: unknown part ${s}`);
          o.skip.add(s);
        }
        break;
      case '--verbose': o.verbose = true; break;
      case '-h': case '--help': usage(0); break;
      default: die(`unknown argument ${a} (see --help)`);
    }
  }
  for (const m of o.mix) if (!SHAPES[m]) die(`--mix: unknown task shape ${m} (${Object.keys(SHAPES).join(', ')})`);
  if (o.warmup === null) o.warmup = 3 * o.concurrency;
  return o;
}

function die(msg) {
  console.error(`bench: ${msg}`);
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

const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;
// The flags browser-control adds to chromiumoxide's defaults; --no-sandbox only as root.
const CHROME_FLAGS = [
  ...(IS_ROOT ? ['--no-sandbox'] : []),
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// ---------------------------------------------------------------- task shapes
// Seed-shaped tasks (fixtures/tasks/login.json, search.yaml, product.json). Each command is in the
// task WebSocket format; `pw` is what a typical Playwright user writes for the same step (used
// only by the evaluate step); `expect` is a substring its output must contain.

const SHAPES = {
  login: (base) => ({
    task_name: 'Login',
    task_intention: 'Log into the fixture app and land on the dashboard',
    commands: [
      { tool_name: 'browser_navigate', intention: 'Go to login page', args: { action: 'goto', url: `${base}/login.html` } },
      { tool_name: 'browser_navigate', intention: 'Wait for form', args: { action: 'wait_for', selector: '#login-form', timeout: 5000 } },
      { tool_name: 'browser_interact', intention: 'Enter email', args: { action: 'type', selector: '#email', text: 'ada@example.com' } },
      { tool_name: 'browser_interact', intention: 'Enter password', args: { action: 'type', selector: '#password', text: 'password123' } },
      { tool_name: 'browser_interact', intention: 'Click submit', args: { action: 'click', selector: '#submit' } },
      { tool_name: 'browser_navigate', intention: 'Wait for dashboard', args: { action: 'wait_for', selector: '.dashboard', timeout: 5000 } },
      { tool_name: 'browser_content', intention: 'Read the welcome message', args: { action: 'get_text', selector: '#welcome' }, expect: 'Welcome, ada@example.com' },
      { tool_name: 'browser_execute', intention: 'Read the page title', args: { action: 'evaluate', script: 'return document.title' }, pw: () => document.title, expect: 'Dashboard' },
    ],
  }),
  search: (base) => ({
    task_name: 'Search and read results',
    task_intention: 'Type a query, submit it with Enter, read the results heading',
    commands: [
      { tool_name: 'browser_navigate', intention: 'Open the search page', args: { action: 'goto', url: `${base}/search.html` } },
      { tool_name: 'browser_interact', intention: 'Click the search box', args: { action: 'click', selector: '#searchInput' } },
      { tool_name: 'browser_interact', intention: 'Type the search query', args: { action: 'type', selector: '#searchInput', text: 'Artificial Intelligence' } },
      { tool_name: 'browser_interact', intention: 'Press Enter to search', args: { action: 'keyboard', key: 'Enter' } },
      { tool_name: 'browser_navigate', intention: 'Wait for the results heading', args: { action: 'wait_for', selector: '#firstHeading', timeout: 10000 } },
      { tool_name: 'browser_content', intention: 'Read the results heading', args: { action: 'get_text', selector: '#firstHeading' }, expect: 'Results for Artificial Intelligence' },
      { tool_name: 'browser_execute', intention: 'Read the query from the URL', args: { action: 'evaluate', script: "return new URLSearchParams(location.search).get('q')" }, pw: () => new URLSearchParams(location.search).get('q'), expect: 'Artificial Intelligence' },
      { tool_name: 'browser_content', intention: 'Take a screenshot of the viewport', args: { action: 'screenshot' } },
    ],
  }),
  product: (base) => ({
    task_name: 'Extract Product Info',
    task_intention: 'Get product details that appear after a delay',
    commands: [
      { tool_name: 'browser_navigate', intention: 'Go to product page', args: { action: 'goto', url: `${base}/product.html` } },
      { tool_name: 'browser_navigate', intention: 'Wait for content', args: { action: 'wait_for', selector: '.product-details' } },
      { tool_name: 'browser_content', intention: 'Get product title', args: { action: 'get_text', selector: '.product-title' }, expect: 'Mechanical Keyboard' },
      { tool_name: 'browser_content', intention: 'Get product price', args: { action: 'get_text', selector: '.product-price' }, expect: '$129.00' },
      { tool_name: 'browser_content', intention: 'Screenshot product image', args: { action: 'screenshot', selector: '.product-image' } },
    ],
  }),
};

function buildTasks(base, mix, n, offset = 0) {
  return Array.from({ length: n }, (_, i) => {
    const shape = mix[(i + offset) % mix.length];
    return { shape, ...SHAPES[shape](base) };
  });
}

// The task as sent over the WebSocket: no bench-only fields.
function wireTask(task, instanceId) {
  const t = {
    type: 'task_submit',
    task_name: task.task_name,
    task_intention: task.task_intention,
    commands: task.commands.map(({ tool_name, intention, args }) => ({ tool_name, intention, args })),
  };
  if (instanceId) t.instanceId = instanceId;
  return t;
}

const label = (cmd) => `${cmd.tool_name}.${cmd.args.action}`;

// ---------------------------------------------------------------- statistics

function stats(samples) {
  if (!samples.length) return null;
  const s = Float64Array.from(samples).sort();
  const q = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return { n: s.length, p50: q(50), p99: q(99), mean, min: s[0], max: s[s.length - 1] };
}

class Samples {
  constructor() { this.m = new Map(); }
  add(key, ms) {
    if (!this.m.has(key)) this.m.set(key, []);
    this.m.get(key).push(ms);
  }
  summary() {
    return Object.fromEntries([...this.m].map(([k, v]) => [k, stats(v)]));
  }
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
        console.error(`bench: cleanup ${name}: ${e.message}`);
      }
    }
  })();
  return cleaning;
}
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    interrupted = true;
    console.error(`\nbench: ${sig}: cleaning up`);
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
      if (t === null) console.error(`bench: ${path.basename(cmd)} did not exit ${graceMs} ms after SIGTERM: SIGKILL`);
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

// ---------------------------------------------------------------- fixture site

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.htm': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.webp': 'image/webp',
  '.ico': 'image/x-icon', '.woff2': 'font/woff2', '.pdf': 'application/pdf',
};

async function startSite(root) {
  const files = new Map();
  (function walk(dir) {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else files.set('/' + path.relative(root, p).split(path.sep).join('/'), fs.readFileSync(p));
    }
  })(root);
  const server = http.createServer((req, res) => {
    let p;
    try {
      p = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (p.endsWith('/')) p += 'index.html';
    const body = files.get(path.posix.normalize(p));
    if (!body || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(body ? 405 : 404, { 'content-type': 'text/plain; charset=utf-8' }).end(body ? 'method not allowed' : 'not found');
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[path.extname(p).toLowerCase()] || 'application/octet-stream',
      'content-length': body.length,
      'cache-control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  onCleanup('fixture site', () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return `http://127.0.0.1:${server.address().port}`;
}

// ---------------------------------------------------------------- browser-control

async function startServer(opts, chromePath) {
  if (!fs.existsSync(opts.server)) throw new Error(`browser-control binary not found: ${opts.server} (cargo build --release --locked)`);
  const args = ['serve', '--listen', '127.0.0.1:0', '--instances', String(opts.concurrency)];
  const child = spawnGroup(opts.server, args, {
    cwd: REPO,
    env: { ...process.env, CHROME: chromePath },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const unregister = onCleanup('browser-control serve', () => { child.stopping = true; return child.stop(); });
  const tail = [];
  lineReader(child.stderr, (l) => {
    if (opts.verbose) console.error(`[serve] ${l}`);
    tail.push(l);
    if (tail.length > 40) tail.shift();
  });
  const port = await withTimeout(new Promise((resolve, reject) => {
    lineReader(child.stdout, (l) => {
      if (opts.verbose) console.error(`[serve:out] ${l}`);
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(l);
      if (m) resolve(Number(m[1]));
    });
    child.once('error', reject);
    child.exited.then(({ code, signal }) =>
      reject(new Error(`browser-control serve exited (${signal || code}) before listening:\n${tail.join('\n')}`)));
  }), 60000, 'browser-control serve to print "listening on"');
  child.exited.then(({ code, signal }) => {
    if (!child.stopping) console.error(`bench: browser-control serve exited unexpectedly (${signal || code})\n${tail.join('\n')}`);
  });
  const stop = async () => {
    child.stopping = true;
    unregister();
    await child.stop();
    return child.exitCode;
  };
  return { port, stop, child, tail };
}

class BcClient {
  constructor(url) {
    this.url = url;
    this.submitQ = []; // resolvers for task_submit_response, in send order
    this.replyQ = { task_status_response: [], task_list_response: [] };
    this.waiters = new Map(); // taskId -> resolve
    this.completed = new Map(); // taskId -> {msg, t} that arrived before anyone waited
    this.progress = []; // {t, taskId, idx, status, tool}
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
        this.progress.push({ t, taskId: msg.taskId, idx: msg.commandIndex, status: msg.status, tool: msg.tool_name, error: msg.error });
        break;
      case 'task_complete': {
        const w = this.waiters.get(msg.taskId);
        if (w) { this.waiters.delete(msg.taskId); w({ msg, t }); } else this.completed.set(msg.taskId, { msg, t });
        break;
      }
      case 'task_status_response':
      case 'task_list_response': {
        const r = this.replyQ[msg.type].shift();
        if (r) r(msg);
        break;
      }
      case 'error':
        this.fail(new Error(`server error message: ${msg.message}`));
        break;
      default:
        break; // subscribe_ack, task_cancel_response, future message types
    }
  }

  // Sends a task_submit; returns {sentAt, response: Promise<{msg,t}>}.
  submit(task, instanceId) {
    const response = new Promise((r) => this.submitQ.push(r));
    const sentAt = now();
    this.ws.send(JSON.stringify(wireTask(task, instanceId)));
    return { sentAt, response: this.guard(response) };
  }

  complete(taskId) {
    const early = this.completed.get(taskId);
    if (early) { this.completed.delete(taskId); return Promise.resolve(early); }
    return this.guard(new Promise((r) => this.waiters.set(taskId, r)));
  }

  request(type, body) {
    const p = new Promise((r) => this.replyQ[`${type}_response`].push(r));
    this.ws.send(JSON.stringify({ type, ...body }));
    return this.guard(withTimeout(p, 15000, type));
  }

  close() {
    this.closing = true;
    try { this.ws.close(); } catch {}
  }
}

function commandText(result) {
  const content = result?.result?.content;
  if (Array.isArray(content)) return content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
  return result?.result === undefined ? '' : JSON.stringify(result.result);
}

// Every task completed and every checked output holds its expected text; throws otherwise.
function checkCompleted(tool, tasks, completes) {
  const bad = [];
  completes.forEach(({ msg }, i) => {
    const task = tasks[i];
    if (msg.status !== 'completed') {
      const errIdx = (msg.results || []).findIndex((r) => r.status === 'error');
      const err = errIdx >= 0 ? `command ${errIdx} (${label(task.commands[errIdx])}): ${msg.results[errIdx].error?.message ?? JSON.stringify(msg.results[errIdx].error)}` : '';
      bad.push(`task ${i} (${task.shape}) ${msg.taskId}: ${msg.status} ${err}`);
      return;
    }
    task.commands.forEach((c, j) => {
      if (!c.expect) return;
      const text = commandText(msg.results?.[j]);
      if (!text.includes(c.expect)) bad.push(`task ${i} (${task.shape}) command ${j} (${label(c)}): expected "${c.expect}" in ${JSON.stringify(text.slice(0, 200))}`);
    });
  });
  if (bad.length) throw new Error(`${tool}: ${bad.length} of ${tasks.length} tasks did not complete as expected:\n  ${bad.slice(0, 10).join('\n  ')}`);
}

// Submits all tasks at once; returns {submitted, completes, t0, t1}.
async function bcRunBatch(client, tasks, timeoutMs) {
  const t0 = now();
  const subs = tasks.map((t) => client.submit(t));
  const responses = await withTimeout(Promise.all(subs.map((s) => s.response)), timeoutMs, 'task_submit_response');
  const rejected = responses.filter(({ msg }) => msg.status !== 'accepted');
  if (rejected.length) throw new Error(`browser-control rejected ${rejected.length} tasks: ${JSON.stringify(rejected[0].msg)}`);
  const ids = responses.map(({ msg }) => msg.taskId);
  if (new Set(ids).size !== ids.length) throw new Error('browser-control answered duplicate task ids');
  const completes = await withTimeout(Promise.all(ids.map((id) => client.complete(id))), timeoutMs, `${tasks.length} task_complete`);
  const t1 = Math.max(...completes.map((c) => c.t));
  return { ids, completes, t0, t1 };
}

// running -> success of each command, labelled tool.action, from the progress the client saw.
function bcCommandLatencies(progress, ids, tasks, into) {
  const byTask = new Map(ids.map((id, i) => [id, tasks[i]]));
  const running = new Map();
  for (const p of progress) {
    const task = byTask.get(p.taskId);
    if (!task) continue;
    const key = `${p.taskId}#${p.idx}`;
    if (p.status === 'running') running.set(key, p.t);
    else if (p.status === 'success' && running.has(key)) into.add(label(task.commands[p.idx]), p.t - running.get(key));
  }
}

async function benchBc(opts, chromePath, base, tasks, results) {
  console.error(`browser-control: starting serve --instances ${opts.concurrency}`);
  const server = await startServer(opts, chromePath);
  const client = new BcClient(`ws://127.0.0.1:${server.port}/`);
  onCleanup('task WebSocket', () => client.close());
  try {
    await client.connect();
    const batchTimeout = Math.max(180000, (tasks.length * 10000) / opts.concurrency);

    // Warm-up: every instance gets tasks of every shape.
    const warm = buildTasks(base, opts.mix, opts.warmup);
    const w = await bcRunBatch(client, warm, batchTimeout);
    checkCompleted('browser-control warm-up', warm, w.completes);

    // Throughput.
    console.error(`browser-control: throughput, ${tasks.length} tasks`);
    client.progress = [];
    const r = await bcRunBatch(client, tasks, batchTimeout);
    checkCompleted('browser-control', tasks, r.completes);
    const wall = (r.t1 - r.t0) / 1000;
    const perCommand = new Samples();
    bcCommandLatencies(client.progress, r.ids, tasks, perCommand);
    let instances = {};
    try {
      const statuses = await Promise.all(r.ids.map((taskId) => client.request('task_status', { taskId })));
      for (const s of statuses) {
        const inst = s.task?.instanceId ?? '?';
        instances[inst] = (instances[inst] || 0) + 1;
      }
    } catch (e) {
      if (client.failure) throw e;
      console.error(`bench: warning: task_status did not tell the instances (${e.message})`);
      instances = null;
    }
    results.throughput.bc = { tasks: tasks.length, wall_s: wall, tasks_per_s: tasks.length / wall, tasks_per_instance: instances };
    results.per_command.bc = perCommand.summary();

    // Latency floor: a goto task, then one-command tasks on the same instance.
    console.error(`browser-control: latency floor, ${opts.latencyN} one-command tasks each of evaluate and get_text`);
    const gotoTask = { shape: 'goto', task_name: 'Open the index page', task_intention: 'Latency floor set-up', commands: [
      { tool_name: 'browser_navigate', intention: 'Open the index page', args: { action: 'goto', url: `${base}/index.html` } },
    ] };
    const g = await bcRunBatch(client, [gotoTask], 60000);
    checkCompleted('browser-control goto', [gotoTask], g.completes);
    let instanceId = 'inst_1';
    try {
      instanceId = (await client.request('task_status', { taskId: g.ids[0] })).task?.instanceId || instanceId;
    } catch (e) {
      if (client.failure) throw e;
      console.error(`bench: warning: task_status did not tell the instance (${e.message}); using ${instanceId}`);
    }
    const one = {
      evaluate: { shape: 'evaluate', task_name: 'Evaluate 1+1', task_intention: 'Latency floor', commands: [
        { tool_name: 'browser_execute', intention: 'Evaluate 1+1', args: { action: 'evaluate', script: 'return 1+1' }, expect: '2' },
      ] },
      get_text: { shape: 'get_text', task_name: 'Read h1', task_intention: 'Latency floor', commands: [
        { tool_name: 'browser_content', intention: 'Read h1', args: { action: 'get_text', selector: 'h1' }, expect: 'Fixture Site' },
      ] },
    };
    const floor = {};
    const warmN = Math.min(50, opts.latencyN);
    for (const [kind, task] of Object.entries(one)) {
      const endToEnd = [];
      const accepted = [];
      const command = new Samples();
      for (let i = 0; i < warmN + opts.latencyN; i++) {
        client.progress = [];
        const s = client.submit(task, instanceId);
        const { msg, t: acceptedAt } = await withTimeout(s.response, 30000, 'task_submit_response');
        if (msg.status !== 'accepted') throw new Error(`browser-control rejected a one-command task: ${JSON.stringify(msg)}`);
        const c = await withTimeout(client.complete(msg.taskId), 30000, 'task_complete');
        checkCompleted(`browser-control ${kind}`, [task], [c]);
        if (i < warmN) continue;
        endToEnd.push(c.t - s.sentAt);
        accepted.push(acceptedAt - s.sentAt);
        bcCommandLatencies(client.progress, [msg.taskId], [task], command);
      }
      floor[kind] = {
        task: stats(endToEnd),
        accepted: stats(accepted),
        command: command.summary()[label(task.commands[0])] ?? null,
      };
    }
    results.latency.bc = { instanceId, ...floor };
  } finally {
    client.close();
    const code = await server.stop();
    results.env.server_exit = code;
  }
}

// ---------------------------------------------------------------- Playwright

// The calls a typical Playwright user writes for each step; returns the step's text output.
async function pwStep(page, cmd) {
  const a = cmd.args;
  switch (`${cmd.tool_name}.${a.action}`) {
    case 'browser_navigate.goto': await page.goto(a.url); return '';
    case 'browser_navigate.wait_for': await page.waitForSelector(a.selector, a.timeout ? { timeout: a.timeout } : undefined); return '';
    case 'browser_interact.type': await page.fill(a.selector, a.text); return '';
    case 'browser_interact.click': await page.click(a.selector); return '';
    case 'browser_interact.keyboard': await page.keyboard.press(a.key); return '';
    case 'browser_interact.scroll': await page.mouse.wheel(0, a.direction === 'up' ? -(a.amount ?? 500) : (a.amount ?? 500)); return '';
    case 'browser_content.get_text': return String(await page.textContent(a.selector));
    case 'browser_execute.evaluate': return JSON.stringify(await page.evaluate(cmd.pw));
    case 'browser_content.screenshot':
      if (a.selector) await page.locator(a.selector).screenshot(); else await page.screenshot();
      return '';
    default: throw new Error(`no Playwright equivalent for ${label(cmd)}`);
  }
}

async function pwTask(page, task, samples, i) {
  for (const [j, cmd] of task.commands.entries()) {
    const t = now();
    let out;
    try {
      out = await pwStep(page, cmd);
    } catch (e) {
      throw new Error(`Playwright task ${i} (${task.shape}) command ${j} (${label(cmd)}): ${e.message.split('\n')[0]}`);
    }
    if (samples) samples.add(label(cmd), now() - t);
    if (cmd.expect && !out.includes(cmd.expect)) throw new Error(`Playwright task ${i} (${task.shape}) command ${j} (${label(cmd)}): expected "${cmd.expect}" in ${JSON.stringify(out.slice(0, 200))}`);
  }
}

// C workers pull tasks from one list. fresh: a new context + page per task; else one page per worker.
async function pwRun(browser, tasks, concurrency, fresh, samples) {
  let next = 0;
  const pages = [];
  if (!fresh) {
    for (let w = 0; w < concurrency; w++) {
      const ctx = await browser.newContext();
      pages.push({ ctx, page: await ctx.newPage() });
    }
  }
  const t0 = now();
  const worker = async (w) => {
    for (let i = next++; i < tasks.length; i = next++) {
      if (fresh) {
        let t = now();
        const ctx = await browser.newContext();
        const page = await ctx.newPage();
        samples?.add('(pw) newContext+newPage', now() - t);
        try {
          await pwTask(page, tasks[i], samples, i);
        } finally {
          t = now();
          await ctx.close();
          samples?.add('(pw) context.close', now() - t);
        }
      } else {
        await pwTask(pages[w].page, tasks[i], samples, i);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const t1 = now();
  for (const { ctx } of pages) await ctx.close();
  return (t1 - t0) / 1000;
}

async function benchPlaywright(opts, chromePath, base, tasks, results) {
  console.error('Playwright: launching');
  const browser = await chromium.launch({ executablePath: chromePath, headless: true, chromiumSandbox: !IS_ROOT, args: CHROME_FLAGS });
  onCleanup('Playwright browser', () => browser.close());
  try {
    results.env.chromium_version_playwright = browser.version();
    const warm = buildTasks(base, opts.mix, opts.warmup);
    await pwRun(browser, warm, opts.concurrency, true, null);
    await pwRun(browser, warm, opts.concurrency, false, null);

    for (const [key, fresh] of [['pw_fresh_context', true], ['pw_reused_page', false]]) {
      console.error(`Playwright: throughput, ${tasks.length} tasks, ${fresh ? 'new context per task' : 'one reused page per worker'}`);
      const samples = new Samples();
      const wall = await pwRun(browser, tasks, opts.concurrency, fresh, samples);
      results.throughput[key] = { tasks: tasks.length, wall_s: wall, tasks_per_s: tasks.length / wall };
      results.per_command[key] = samples.summary();
    }

    console.error(`Playwright: reference latency, ${opts.latencyN} each of page.evaluate and page.textContent`);
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${base}/index.html`);
    const series = {
      evaluate: async () => { if ((await page.evaluate(() => 1 + 1)) !== 2) throw new Error('page.evaluate(1+1) did not give 2'); },
      textContent: async () => { if ((await page.textContent('h1')) !== 'Fixture Site') throw new Error('page.textContent(h1) was not "Fixture Site"'); },
    };
    results.latency.playwright = {};
    for (const [name, fn] of Object.entries(series)) {
      const xs = [];
      for (let i = 0; i < Math.min(50, opts.latencyN); i++) await fn();
      for (let i = 0; i < opts.latencyN; i++) {
        const t = now();
        await fn();
        xs.push(now() - t);
      }
      results.latency.playwright[name] = stats(xs);
    }
    await ctx.close();
  } finally {
    await browser.close();
  }
}

// ---------------------------------------------------------------- raw CDP

class Cdp {
  constructor(ws) {
    this.ws = ws;
    this.id = 0;
    this.pending = new Map();
    this.listeners = new Set();
    ws.on('message', (data) => {
      const t = now();
      const msg = JSON.parse(data);
      if (msg.id !== undefined) {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        if (msg.error) p.reject(new Error(`${p.method}: ${msg.error.message}`));
        else p.resolve({ result: msg.result, t });
      } else {
        for (const l of this.listeners) l(msg);
      }
    });
    ws.on('close', () => {
      for (const p of this.pending.values()) p.reject(new Error(`${p.method}: CDP connection closed`));
      this.pending.clear();
    });
  }
  send(method, params = {}, sessionId) {
    const id = ++this.id;
    const msg = { id, method, params };
    if (sessionId) msg.sessionId = sessionId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      this.ws.send(JSON.stringify(msg));
    });
  }
  waitEvent(method, sessionId, ms = 30000) {
    let l;
    return withTimeout(new Promise((resolve) => {
      l = (m) => { if (m.method === method && m.sessionId === sessionId) resolve(m.params); };
      this.listeners.add(l);
    }), ms, method).finally(() => this.listeners.delete(l));
  }
}

async function benchCdp(opts, chromePath, base, results) {
  console.error('raw CDP: launching chromium');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cdp-'));
  onCleanup('raw CDP profile dir', () => rmDir(dir));
  const child = spawnGroup(chromePath, ['--headless', '--remote-debugging-port=0', `--user-data-dir=${dir}`, ...CHROME_FLAGS, 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'] });
  onCleanup('raw CDP chromium', () => child.stop(5000));
  const tail = [];
  const wsUrl = await withTimeout(new Promise((resolve, reject) => {
    lineReader(child.stderr, (l) => {
      tail.push(l);
      if (tail.length > 20) tail.shift();
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(l);
      if (m) resolve(m[1]);
    });
    child.once('error', reject);
    child.exited.then(({ code, signal }) => reject(new Error(`chromium exited (${signal || code}):\n${tail.join('\n')}`)));
  }), 30000, 'chromium to print "DevTools listening on"');
  const ws = new WebSocket(wsUrl, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const cdp = new Cdp(ws);
  try {
    results.env.chromium_version_cdp = (await cdp.send('Browser.getVersion')).result.product;
    const { targetId } = (await cdp.send('Target.createTarget', { url: 'about:blank' })).result;
    const { sessionId } = (await cdp.send('Target.attachToTarget', { targetId, flatten: true })).result;
    await cdp.send('Page.enable', {}, sessionId);
    const loaded = cdp.waitEvent('Page.loadEventFired', sessionId);
    const nav = (await cdp.send('Page.navigate', { url: `${base}/index.html` }, sessionId)).result;
    if (nav.errorText) throw new Error(`Page.navigate: ${nav.errorText}`);
    await loaded;
    const series = {
      'evaluate 1+1': { expression: '1+1', expect: 2 },
      "evaluate h1 textContent": { expression: "document.querySelector('h1').textContent", expect: 'Fixture Site' },
    };
    results.latency.cdp = {};
    for (const [name, { expression, expect }] of Object.entries(series)) {
      console.error(`raw CDP: ${opts.latencyN} Runtime.evaluate ${expression}`);
      const xs = [];
      const total = Math.min(50, opts.latencyN) + opts.latencyN;
      for (let i = 0; i < total; i++) {
        const t = now();
        const { result, t: got } = await cdp.send('Runtime.evaluate', { expression, returnByValue: true }, sessionId);
        if (result.result?.value !== expect) throw new Error(`Runtime.evaluate ${expression} gave ${JSON.stringify(result)}`);
        if (i >= total - opts.latencyN) xs.push(got - t);
      }
      results.latency.cdp[name] = stats(xs);
    }
  } finally {
    ws.close();
    await child.stop(5000);
    rmDir(dir);
  }
}

// ---------------------------------------------------------------- report

const f1 = (x) => (x === undefined || x === null || Number.isNaN(x) ? '-' : x.toFixed(1));
const f2 = (x) => (x === undefined || x === null || Number.isNaN(x) ? '-' : x.toFixed(2));
const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);
const verdict = (ok) => (ok === null ? 'n/a' : ok ? 'PASS' : 'MISS');

function report(opts, results) {
  const out = [];
  const p = (s = '') => out.push(s);
  const e = results.env;
  p(`browser-control benchmark  ${e.started_at}`);
  p(`  chromium ${e.chromium} (${e.chromium_path})  node ${e.node}  playwright-core ${e.playwright_core}  ws ${e.ws}`);
  p(`  ${e.cpus} CPUs, load average at start ${e.loadavg.map((x) => x.toFixed(2)).join(' ')}; browser-control ${e.git_commit}`);
  p(`  M=${opts.tasks} tasks (mix ${opts.mix.join(',')}), C=${opts.concurrency}, warm-up ${opts.warmup} tasks, N=${opts.latencyN}`);
  p();

  const T = results.throughput;
  p('Throughput (C concurrent; wall time from the first task started/submitted to the last finished)');
  p(`  ${pad('', 42)}${lpad('tasks/s', 9)}${lpad('wall s', 9)}`);
  const rowT = (name, r) => p(`  ${pad(name, 42)}${lpad(r ? f2(r.tasks_per_s) : '-', 9)}${lpad(r ? f2(r.wall_s) : '-', 9)}`);
  rowT(`browser-control (${opts.concurrency} instances)`, T.bc);
  rowT('Playwright, new context + page per task', T.pw_fresh_context);
  rowT('Playwright, one reused page per worker', T.pw_reused_page);
  if (T.bc?.tasks_per_instance) p(`  browser-control tasks per instance: ${Object.entries(T.bc.tasks_per_instance).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  p();

  p('Per-command latency during the throughput run, ms  p50 / p99 (n)');
  p('  browser-control: task_progress running -> success as received; Playwright: around each call');
  const cols = [['browser-control', results.per_command.bc], ['PW new context', results.per_command.pw_fresh_context], ['PW reused page', results.per_command.pw_reused_page]];
  const keys = [...new Set(cols.flatMap(([, c]) => Object.keys(c || {})))].sort((a, b) => (a.startsWith('(') - b.startsWith('(')) || a.localeCompare(b));
  p(`  ${pad('command', 28)}${cols.map(([n]) => lpad(n, 24)).join('')}`);
  for (const k of keys) {
    p(`  ${pad(k, 28)}${cols.map(([, c]) => { const s = c?.[k]; return lpad(s ? `${f1(s.p50)} / ${f1(s.p99)} (${s.n})` : '-', 24); }).join('')}`);
  }
  p();

  const L = results.latency;
  p(`Latency floor, ms (sequential, one page on index.html, N=${opts.latencyN} after warm-up)`);
  p(`  ${pad('', 66)}${lpad('p50', 8)}${lpad('p99', 8)}${lpad('mean', 8)}`);
  const rowL = (name, s) => p(`  ${pad(name, 66)}${lpad(s ? f2(s.p50) : '-', 8)}${lpad(s ? f2(s.p99) : '-', 8)}${lpad(s ? f2(s.mean) : '-', 8)}`);
  rowL('raw CDP Runtime.evaluate "1+1"', L.cdp?.['evaluate 1+1']);
  rowL('raw CDP Runtime.evaluate h1 textContent', L.cdp?.['evaluate h1 textContent']);
  rowL('browser-control task evaluate "return 1+1" (submit -> complete)', L.bc?.evaluate?.task);
  rowL('browser-control task get_text "h1" (submit -> complete)', L.bc?.get_text?.task);
  rowL('  submit -> task_submit_response, evaluate task', L.bc?.evaluate?.accepted);
  rowL('  submit -> task_submit_response, get_text task', L.bc?.get_text?.accepted);
  rowL('  command running -> success as received, evaluate', L.bc?.evaluate?.command);
  rowL('  command running -> success as received, get_text', L.bc?.get_text?.command);
  rowL('Playwright page.evaluate(() => 1 + 1)', L.playwright?.evaluate);
  rowL("Playwright page.textContent('h1')", L.playwright?.textContent);
  p();

  const G = results.targets;
  p('Targets');
  const ratio = (r) => (r === null ? '-' : `${f2(r)}x`);
  p(`  throughput browser-control / Playwright (new context)  ${lpad(ratio(G.ratio_vs_pw_fresh_context.value), 9)}   target >= 2.00x   ${verdict(G.ratio_vs_pw_fresh_context.pass)}`);
  p(`  throughput browser-control / Playwright (reused page)  ${lpad(ratio(G.ratio_vs_pw_reused_page.value), 9)}   target >= 2.00x   ${verdict(G.ratio_vs_pw_reused_page.pass)}`);
  const ms = (x) => (x === null ? '-' : `${x >= 0 ? '+' : ''}${f2(x)} ms`);
  p(`  evaluate p50, browser-control - raw CDP               ${lpad(ms(G.evaluate_p50_over_cdp.value), 9)}   target <= 0.50 ms ${verdict(G.evaluate_p50_over_cdp.pass)}`);
  p(`  get_text p50, browser-control - raw CDP               ${lpad(ms(G.get_text_p50_over_cdp.value), 9)}   target <= 0.50 ms ${verdict(G.get_text_p50_over_cdp.pass)}`);
  p();
  const nagle = ['evaluate', 'get_text'].some((k) => {
    const x = L.bc?.[k];
    return x?.task && x.accepted && x.command && x.task.p50 > 30 && x.accepted.p50 < 5 && x.command.p50 < 5;
  });
  if (nagle) {
    p('Hint: one-command tasks take ~40 ms while their submit answer and the command itself take');
    p('  well under 5 ms: the signature of Nagle\'s algorithm meeting delayed ACKs on the server\'s');
    p('  socket (TCP_NODELAY not set on accepted connections). Client-side per-command times above');
    p('  are then distorted too (running and success arrive in one burst).');
    p();
  }
  p('Notes: the login page redirects on a 300 ms timer of its own (product.html renders after 800 ms);');
  p('  those waits are in every tool\'s numbers. Absolute times on a shared 2-core machine are noisy;');
  p('  compare the ratios. Raw CDP "1+1" is the floor both targets are measured against.');
  const rel = path.relative(process.cwd(), opts.out);
  p(`  JSON: ${rel.startsWith('..') ? opts.out : rel}`);
  return out.join('\n');
}

function targets(results) {
  const T = results.throughput;
  const L = results.latency;
  const r = (a, b) => (a && b ? a.tasks_per_s / b.tasks_per_s : null);
  const floor = L.cdp?.['evaluate 1+1']?.p50 ?? null;
  const diff = (s) => (s && floor !== null ? s.p50 - floor : null);
  const mk = (value, ok) => ({ value, pass: value === null ? null : ok(value) });
  return {
    ratio_vs_pw_fresh_context: { ...mk(r(T.bc, T.pw_fresh_context), (v) => v >= 2), target: '>= 2' },
    ratio_vs_pw_reused_page: { ...mk(r(T.bc, T.pw_reused_page), (v) => v >= 2), target: '>= 2' },
    evaluate_p50_over_cdp: { ...mk(diff(L.bc?.evaluate?.task), (v) => v <= 0.5), target_ms: '<= 0.5' },
    get_text_p50_over_cdp: { ...mk(diff(L.bc?.get_text?.task), (v) => v <= 0.5), target_ms: '<= 0.5' },
  };
}

// ---------------------------------------------------------------- main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const chromePath = findChrome(opts.chrome);
  const version = (cmd, args) => { try { return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { return 'unknown'; } };
  const results = {
    env: {
      started_at: new Date().toISOString(),
      chromium_path: chromePath,
      chromium: version(chromePath, ['--version']).replace(/^Chromium\s*/, ''),
      node: process.version,
      playwright_core: require('playwright-core/package.json').version,
      ws: require('ws/package.json').version,
      cpus: os.cpus().length,
      loadavg: os.loadavg(),
      git_commit: version('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD']),
      server: opts.server,
      chrome_flags: CHROME_FLAGS,
    },
    config: { tasks: opts.tasks, concurrency: opts.concurrency, latency_n: opts.latencyN, warmup: opts.warmup, mix: opts.mix, skip: [...opts.skip] },
    throughput: {},
    per_command: {},
    latency: {},
  };
  const base = await startSite(path.join(REPO, 'fixtures/site'));
  const tasks = buildTasks(base, opts.mix, opts.tasks);

  if (!opts.skip.has('bc')) await benchBc(opts, chromePath, base, tasks, results);
  if (!opts.skip.has('playwright')) await benchPlaywright(opts, chromePath, base, tasks, results);
  if (!opts.skip.has('cdp')) await benchCdp(opts, chromePath, base, results);

  results.targets = targets(results);
  results.env.finished_at = new Date().toISOString();
  fs.mkdirSync(path.dirname(opts.out), { recursive: true });
  fs.writeFileSync(opts.out, JSON.stringify(results, null, 2) + '\n');
  console.log(report(opts, results));
}

main()
  .then(() => cleanupAll())
  .then(() => process.exit(0))
  .catch(async (e) => {
    if (interrupted) return; // the signal handler cleans up and exits
    console.error(`bench: FAILED: ${e.stack || e.message}`);
    await cleanupAll();
    process.exit(1);
  });
