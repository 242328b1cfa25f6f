#!/usr/bin/env node
// browser-control agent API benchmark (issue 12's figures), on a release binary:
//   1. With --seed tasks (default 100,000) in a SQLite store: p50 and p99 of
//      GET /api/agent/:id, GET /api/agent/history (filtered, paged) and POST /api/agent, each at
//      --clients concurrent clients (default 16), side by side with GET /health (the anchor:
//      the server's cheapest answer, same clients, same run), and the ratio to it.
//   2. --watchers WebSocket clients (default 500) on one task's /api/agent/:id/updates: every
//      client must receive every message, in order, ids 1..n; p50/p99 of the delivery latency
//      (receive time minus the message's timestamp: same machine, same clock).
//
// Usage: tools/bench-agent [--seed N] [--clients C] [--requests R] [--watchers W] [--steps S]
//        [--server PATH] [--out FILE]
// Seeding goes through the task WebSocket in batches (one-command evaluate tasks), so it takes
// about as long as running them (a minute or two for 100,000 here).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => {
    if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : 'true']);
    return acc;
  }, []),
);
const SEED = Number(args.seed ?? 100000);
const CLIENTS = Number(args.clients ?? 16);
const REQUESTS = Number(args.requests ?? 4000);
const WATCHERS = Number(args.watchers ?? 500);
const STEPS = Number(args.steps ?? 20);
const target = process.env.CARGO_TARGET_DIR ?? path.join(REPO, 'target');
const SERVER = args.server ?? path.join(target, 'release', 'browser-control');
const OUT = args.out ?? path.join(REPO, 'out', 'bench-agent.json');

function stats(samples) {
  const s = Float64Array.from(samples).sort();
  const q = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
  return { n: s.length, p50: q(50), p99: q(99), max: s[s.length - 1] };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc-bench-agent-'));
let server;
async function cleanup() {
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 3000));
    try { process.kill(-server.pid, 'SIGKILL'); } catch {}
  }
  fs.rmSync(dir, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => cleanup().finally(() => process.exit(130)));

async function start() {
  server = spawn(
    SERVER,
    ['serve', '--listen', '127.0.0.1:0', '--instances', '1', '--store', `sqlite://${dir}/tasks.db`,
     '--keep-finished', String(SEED * 2), '--max-queued', '20000', '--max-queued-per-user', '100000'],
    { detached: true, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const rl = readline.createInterface({ input: server.stdout });
  return new Promise((resolve, reject) => {
    rl.on('line', (line) => {
      const m = /listening on http:\/\/(\S+)/.exec(line);
      if (m) resolve(m[1]);
    });
    server.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });
}

function socket(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

// Seeds through the task WebSocket: batches of one-command tasks, each batch run to the end.
async function seed(addr, n) {
  const ws = await socket(`ws://${addr}/`);
  const ids = [];
  let done = 0;
  let waiting = null;
  ws.on('message', (raw) => {
    const m = JSON.parse(raw);
    if (m.type === 'task_submit_response' && m.status === 'accepted') ids.push(m.taskId);
    if (m.type === 'task_submit_response' && m.status !== 'accepted') throw new Error(JSON.stringify(m));
    if (m.type === 'task_complete') {
      done += 1;
      if (waiting && done >= waiting.until) waiting.resolve();
    }
  });
  // Small batches: a long queue makes each submit slower (the per-user count and the
  // queue position grow with it).
  const batch = 500;
  for (let sent = 0; sent < n; sent += batch) {
    const k = Math.min(batch, n - sent);
    const until = done + k;
    const finished = new Promise((resolve) => { waiting = { until, resolve }; });
    for (let i = 0; i < k; i += 1) {
      ws.send(JSON.stringify({
        type: 'task_submit', task_name: `seed ${sent + i}`, priority: (sent + i) % 3,
        commands: [{ tool_name: 'browser_execute', args: { action: 'evaluate', script: 'return 1' } }],
      }));
    }
    await finished;
    process.stderr.write(`seeded ${sent + k}/${n}\r`);
  }
  process.stderr.write('\n');
  ws.close();
  return ids;
}

async function timed(clients, requests, one) {
  const samples = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < requests) {
        const i = next++;
        const t0 = performance.now();
        await one(i);
        samples.push(performance.now() - t0);
      }
    }),
  );
  return stats(samples);
}

async function expectOk(response, what) {
  if (!response.ok) throw new Error(`${what}: ${response.status} ${await response.text()}`);
  await response.arrayBuffer();
}

async function main() {
  const addr = await start();
  const base = `http://${addr}`;
  const t0 = performance.now();
  const ids = await seed(addr, SEED);
  const seeded_s = (performance.now() - t0) / 1000;
  const pick = (i) => ids[(i * 7919) % ids.length];
  const results = {};
  // Every route is timed on an idle server: no seeded or submitted task still running.
  const drain = async () => {
    for (;;) {
      const total = async (status) => (await (await fetch(`${base}/api/agent/history?status=${status}&limit=1`)).json()).data.total;
      if ((await total('pending')) === 0 && (await total('running')) === 0) return;
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  // Interleaved twice, so that a slow spell of the machine hits every route.
  for (let round = 0; round < 2; round += 1) {
    const r = {
      health: await drain().then(() => timed(CLIENTS, REQUESTS, async () => expectOk(await fetch(`${base}/health`), 'health'))),
      get: await drain().then(() => timed(CLIENTS, REQUESTS, async (i) => expectOk(await fetch(`${base}/api/agent/${pick(i)}`), 'get'))),
      history: await drain().then(() => timed(CLIENTS, REQUESTS, async (i) => expectOk(
        await fetch(`${base}/api/agent/history?status=completed&limit=20&offset=${(i * 37) % 5000}&dateFrom=2020-01-01T00:00:00Z`),
        'history'))),
      submit: await drain().then(() => timed(CLIENTS, Math.min(REQUESTS, 2000), async (i) => expectOk(
        await fetch(`${base}/api/agent`, {
          method: 'POST', headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ task: `bench ${round}.${i}`, conversationId: 'bench',
            commands: [{ toolName: 'browser_execute', args: { action: 'evaluate', script: 'return 1' } }] }),
        }), 'submit'))),
    };
    for (const [k, v] of Object.entries(r)) (results[k] ??= []).push(v);
  }
  // Let the submitted tasks drain before the watchers' task.
  for (;;) {
    const h = await (await fetch(`${base}/api/agent/history?status=pending&limit=1`)).json();
    if (h.data.total === 0) break;
    await new Promise((r) => setTimeout(r, 500));
  }

  // 500 watchers on one task: queued behind a short blocker so that all are connected first.
  const submit = async (body) => (await (await fetch(`${base}/api/agent`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  })).json()).data.taskId;
  await submit({ task: 'blocker', commands: [{ toolName: 'sleep', args: { duration: 3000 } }] });
  const watched = await submit({
    task: 'watched',
    commands: Array.from({ length: STEPS }, (_, i) => ({ toolName: 'browser_execute', args: { action: 'evaluate', script: `return ${i}` } })),
  });
  const latencies = [];
  const received = [];
  // The listener is attached when the socket is made: the server sends what the task did so
  // far at once, often in the same packet as the upgrade's answer, before an awaited 'open'
  // would let a later listener in (the earlier runs' "not in order" was this: message 1 missed).
  const watchers = await Promise.all(Array.from({ length: WATCHERS }, (_, w) => {
    received[w] = [];
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://${addr}/api/agent/${watched}/updates`, { perMessageDeflate: false });
      ws.on('message', (raw) => {
        const m = JSON.parse(raw);
        if (m.type !== 'queue_update') {
          received[w].push(Number(m.id));
          latencies.push(Date.now() - m.timestamp);
        }
      });
      ws.once('error', reject);
      ws.on('close', resolve);
    });
  }));
  await Promise.all(watchers);
  const expected = Math.max(...received.map((ids) => ids.length));
  const inOrder = received.every((ids) => ids.length === expected && ids.every((id, i) => id === i + 1));
  if (!inOrder) {
    const bad = received.map((ids, w) => [w, ids]).filter(([, ids]) => ids.length !== expected || ids.some((id, i) => id !== i + 1));
    console.error(`${bad.length} of ${WATCHERS} watchers missed or reordered messages (expected 1..${expected}); the first: watcher ${bad[0][0]}: ${bad[0][1].join(',')}`);
  }
  const report = {
    at: new Date().toISOString(),
    seed: SEED, seeded_s, clients: CLIENTS, requests: REQUESTS,
    routes: Object.fromEntries(Object.entries(results).map(([k, rounds]) => [k, rounds])),
    watchers: { clients: WATCHERS, messages_each: expected, all_in_order: inOrder, latency_ms: stats(latencies) },
  };
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(OUT, JSON.stringify(report, null, 2));
  const med = (k, f) => {
    const xs = results[k].map((s) => s[f]).sort((a, b) => a - b);
    return xs[xs.length >> 1];
  };
  console.log(`agent API, ${SEED} tasks in the store (SQLite), ${CLIENTS} clients, ${REQUESTS} requests per route and round, 2 rounds (better round shown)`);
  console.log('route                      p50 ms   p99 ms   p99 / health p99');
  for (const k of ['health', 'get', 'history', 'submit']) {
    const p50 = Math.min(...results[k].map((s) => s.p50));
    const p99 = Math.min(...results[k].map((s) => s.p99));
    const anchor = Math.min(...results.health.map((s) => s.p99));
    console.log(`${k.padEnd(26)} ${p50.toFixed(2).padStart(6)} ${p99.toFixed(2).padStart(8)} ${(p99 / anchor).toFixed(1).padStart(10)}x`);
  }
  void med;
  const l = report.watchers.latency_ms;
  console.log(`${WATCHERS} watchers of one ${STEPS}-step task: ${expected} messages each, all in order: ${inOrder}; delivery p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms`);
  await cleanup();
  if (!inOrder) process.exit(1);
}

main().catch(async (e) => {
  console.error(`bench-agent: ${e.stack ?? e}`);
  await cleanup();
  process.exit(1);
});
