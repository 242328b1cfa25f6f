// The updates subscription's own logic (dedupe, resume, gap filling, polling fallback, 4404)
// against a small fake of the agent API's updates routes, as docs/agent-api.md describes them.
// The same behaviours are tested against the real server in agent.test.mjs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import WebSocket, { WebSocketServer } from "ws";
import { AgentClient } from "../dist/index.js";
import { assertContiguous } from "./helpers.mjs";

const TASK = "task_1_fake";
let fake;

/** A task whose messages appear every `every` ms; `ctl` changes how the fake misbehaves. */
function makeFake() {
  const ctl = { rejectUpgrades: false, dropAfter: 0, skipIds: new Set(), upgrades: [], polls: [] };
  let events = [];
  let finished = false;
  const waiters = new Set();
  const sockets = new Set();
  const msg = (id, type, data) => ({ type, data: { taskId: TASK, ...data }, timestamp: Date.now(), id: String(id) });
  function reset(n, every) {
    events = [];
    finished = false;
    let id = 0;
    const types = ["status_change", ...Array.from({ length: n }, (_, i) => (i % 2 ? "step_complete" : "step_start"))];
    const timer = setInterval(() => {
      if (id < types.length) {
        id++;
        push(msg(id, types[id - 1], { step: { index: id } }));
      } else {
        id++;
        push(msg(id, "completed", { progress: 100, result: { id: TASK, status: "completed" } }));
        finished = true;
        clearInterval(timer);
      }
    }, every);
  }
  function push(m) {
    events.push(m);
    for (const w of [...waiters]) w();
    for (const s of sockets) s.sendLive(m);
  }
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, "http://x");
    const m = /^\/api\/agent\/([^/]+)\/events$/.exec(u.pathname);
    if (!m) {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ success: false, error: { code: "NOT_FOUND", message: "No route" } }));
      return;
    }
    if (m[1] !== TASK) {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ success: false, error: { code: "TASK_NOT_FOUND", message: `Task not found: ${m[1]}` } }));
      return;
    }
    const after = Number(u.searchParams.get("after") ?? 0);
    const wait = Number(u.searchParams.get("wait") ?? 25);
    ctl.polls.push(after);
    const answer = () => {
      const evs = events.filter((e) => Number(e.id) > after);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ success: true, data: { events: evs, lastEventId: evs.length ? evs.at(-1).id : String(after), finished: finished && Number(events.at(-1).id) <= Math.max(after, ...evs.map((e) => Number(e.id))) } }));
    };
    if (events.some((e) => Number(e.id) > after) || finished || wait === 0) return answer();
    const w = () => {
      waiters.delete(w);
      clearTimeout(t);
      answer();
    };
    const t = setTimeout(w, wait * 1000);
    waiters.add(w);
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (req, socket, head) => {
    const u = new URL(req.url, "http://x");
    ctl.upgrades.push(u.search);
    if (ctl.rejectUpgrades) {
      socket.end("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const m = /^\/api\/agent\/([^/]+)\/updates$/.exec(u.pathname);
      if (!m || m[1] !== TASK) {
        ws.send(JSON.stringify({ type: "error", data: { taskId: m?.[1], message: "Task not found" }, timestamp: Date.now() }));
        ws.close(4404, "Task not found");
        return;
      }
      const last = Number(u.searchParams.get("lastEventId") ?? 0);
      let sent = 0;
      const conn = {
        sendLive(e) {
          if (ws.readyState !== WebSocket.OPEN) return;
          if (ctl.skipIds.has(Number(e.id))) {
            ctl.skipIds.delete(Number(e.id));
            return;
          }
          ws.send(JSON.stringify(e));
          sent++;
          if (e.type === "completed") ws.close(1000);
          else if (ctl.dropAfter && sent >= ctl.dropAfter) {
            ctl.dropAfter = 0;
            ws.terminate();
          }
        },
      };
      sockets.add(conn);
      ws.on("close", () => sockets.delete(conn));
      // a queue_update (the previous id) on every connection, then the backlog, then live
      const prev = events.filter((e) => Number(e.id) <= last).at(-1);
      ws.send(JSON.stringify({ type: "queue_update", data: { taskId: TASK, queuePosition: 0, estimatedWaitTime: 0 }, timestamp: Date.now(), id: prev ? prev.id : "0" }));
      for (const e of events.filter((x) => Number(x.id) > last)) conn.sendLive(e);
    });
  });
  let port = 0;
  return {
    ctl,
    reset,
    listen: () =>
      new Promise((r) =>
        server.listen(port, "127.0.0.1", () => {
          port = server.address().port;
          r(`http://127.0.0.1:${port}`);
        }),
      ),
    /** Stops listening and drops every connection (a dead server); listen() again comes back on the same port. */
    down: () =>
      new Promise((r) => {
        for (const c of wss.clients) c.terminate();
        for (const w of [...waiters]) w();
        server.closeAllConnections?.();
        server.close(() => r());
      }),
    close: () =>
      new Promise((r) => {
        for (const c of wss.clients) c.terminate();
        server.closeAllConnections?.();
        server.close(() => r());
      }),
  };
}

let baseUrl;
before(async () => {
  fake = makeFake();
  baseUrl = await fake.listen();
});
after(async () => {
  await fake.close();
});

function run(client, opts = {}) {
  const messages = [];
  const states = [];
  const sub = client.updates(TASK, { lastEventId: 0, initialBackoffMs: 20, ...opts, onMessage: (m) => messages.push(m), onStateChange: (s) => states.push(s) });
  return { sub, messages, states };
}

test("fake: dropped connections resume with lastEventId, queue_update is delivered without advancing", async () => {
  fake.reset(10, 20);
  fake.ctl.dropAfter = 3;
  fake.ctl.upgrades.length = 0;
  const r = run(new AgentClient({ baseUrl, WebSocket }));
  const final = await r.sub.done;
  assert.equal(final.type, "completed");
  const real = r.messages.filter((m) => m.type !== "queue_update");
  assertContiguous(assert, real, 0);
  assert.equal(real.length, 12);
  assert.ok(r.states.includes("reconnecting"), JSON.stringify(r.states));
  assert.ok(fake.ctl.upgrades.length >= 2);
  assert.match(fake.ctl.upgrades[1], /lastEventId=[1-9]/);
  assert.ok(r.messages.some((m) => m.type === "queue_update"));
});

test("fake: a gap in ids is filled from /events before going on", async () => {
  fake.reset(8, 20);
  fake.ctl.skipIds = new Set([4]);
  const r = run(new AgentClient({ baseUrl, WebSocket }));
  await r.sub.done;
  assertContiguous(assert, r.messages, 0);
  assert.equal(r.messages.filter((m) => m.type !== "queue_update").length, 10);
});

test("fake: WebSocket refused falls back to long-polling, and goes back to the WebSocket when it works again", async () => {
  fake.reset(30, 40);
  fake.ctl.rejectUpgrades = true;
  fake.ctl.polls.length = 0;
  const r = run(new AgentClient({ baseUrl, WebSocket }), { webSocketRetryMs: 300, pollWaitSeconds: 1 });
  setTimeout(() => (fake.ctl.rejectUpgrades = false), 600);
  await r.sub.done;
  assertContiguous(assert, r.messages, 0);
  assert.equal(r.messages.filter((m) => m.type !== "queue_update").length, 32);
  assert.ok(r.states.includes("polling"));
  assert.ok(fake.ctl.polls.length >= 1);
  assert.equal(r.states.at(-2), "open", JSON.stringify(r.states));
});

test("fake: no WebSocket at all: polling only", async () => {
  fake.reset(4, 20);
  const r = run(new AgentClient({ baseUrl, WebSocket: null }), { pollWaitSeconds: 1 });
  await r.sub.done;
  assertContiguous(assert, r.messages, 0);
  assert.deepEqual(r.states[0], "polling");
});

test("fake: an unknown task fails with TASK_NOT_FOUND (4404)", async () => {
  const c = new AgentClient({ baseUrl, WebSocket });
  const errors = [];
  const sub = c.updates("task_nope", { onMessage: () => assert.fail("no message"), onError: (e) => errors.push(e) });
  await assert.rejects(sub.done, (e) => e.code === "TASK_NOT_FOUND" && e.status === 404);
  assert.equal(sub.state, "failed");
  assert.equal(errors.length, 1);
});

test("fake: the server goes away and comes back on the same port: the subscription resumes (WebSocket, polling, WebSocket)", async () => {
  fake.reset(40, 40);
  const errors = [];
  const r = run(new AgentClient({ baseUrl, WebSocket }), { webSocketRetryMs: 300, pollWaitSeconds: 1, maxBackoffMs: 200, onError: (e) => errors.push(e) });
  r.sub.done.catch(() => {});
  await new Promise((res) => setTimeout(res, 400));
  await fake.down();
  await new Promise((res) => setTimeout(res, 1200));
  assert.equal(await fake.listen(), baseUrl);
  const final = await r.sub.done;
  assert.equal(final.type, "completed");
  assertContiguous(assert, r.messages, 0);
  assert.equal(r.messages.filter((m) => m.type !== "queue_update").length, 42);
  assert.ok(r.states.includes("reconnecting"), JSON.stringify(r.states));
});
