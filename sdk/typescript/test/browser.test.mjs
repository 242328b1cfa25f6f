// The built SDK (dist/) in real headless Chromium, with the page's native WebSocket: a task's
// updates survive a restart of browser-control on the same port and SQLite store.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import puppeteer from "puppeteer-core";
import { startServer, startPages, agentApiPresent, AGENT_SKIP, CHROMIUM, tmpFile, assertContiguous, delay } from "./helpers.mjs";

let server;
let pages;
let browser;
let tmp;

const PAGE = `<!doctype html>
<html><head><title>sdk in a browser</title></head><body>
<script type="module">
import { AgentClient, isFinalMessage } from "/dist/index.js";
window.bc = { messages: [], states: [], final: null, error: null, taskId: null };
window.startTask = async (baseUrl, commands, maxWebSocketFailures) => {
  if (typeof WebSocket !== "function") throw new Error("no native WebSocket");
  bc.urls = [];
  // the page's own WebSocket, noting the URLs the SDK opens
  class Noting extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols);
      bc.urls.push(url);
    }
  }
  const client = new AgentClient({ baseUrl, WebSocket: Noting });
  const r = await client.submit({ task: "Slow steps across a restart", commands });
  bc.taskId = r.taskId;
  const sub = client.updates(r.taskId, {
    lastEventId: 0,
    maxWebSocketFailures,
    initialBackoffMs: 100,
    maxBackoffMs: 1000,
    pollWaitSeconds: 5,
    webSocketRetryMs: 1000,
    onMessage: (m) => bc.messages.push(m),
    onStateChange: (s) => bc.states.push(s),
    onError: (e) => (bc.lastError = String(e && e.message || e)),
  });
  window.sub = sub;
  sub.done.then((m) => (bc.final = m || "closed"), (e) => (bc.error = String(e && e.message || e)));
  return r.taskId;
};
window.runTaskClient = async (wsUrl, url) => {
  const { TaskClient } = await import("/dist/index.js");
  const c = new TaskClient({ url: wsUrl });
  await c.connect();
  const { taskId } = await c.submit({ task_name: "from a page", commands: [
    { tool_name: "browser_navigate", args: { action: "goto", url } },
    { tool_name: "browser_execute", args: { action: "evaluate", script: "return document.title" } },
  ] });
  const progress = [];
  await c.subscribe(taskId, (m) => progress.push(m.commandIndex + ":" + m.status));
  const done = await c.waitForCompletion(taskId, { timeoutMs: 30000 });
  c.close();
  return { taskId, progress, done };
};
window.sdkReady = true;
</script></body></html>`;

let memServer;

before(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (set CHROMIUM)`);
  tmp = tmpFile("tasks.db");
  [memServer, pages] = await Promise.all([startServer(), startPages()]);
  pages.pages.set("agent", PAGE);
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await memServer?.stop();
  await pages?.close();
  tmp?.cleanup();
});

test("browser: the built SDK loads as an ES module in headless Chromium; TaskClient with the page's WebSocket", async () => {
  const page = await browser.newPage();
  try {
    await page.goto(`${pages.url}/html/agent`);
    await page.waitForFunction(() => window.sdkReady === true, { timeout: 10_000 });
    const r = await page.evaluate((w, u) => window.runTaskClient(w, u), memServer.wsUrl, `${pages.url}/page?title=In%20a%20page`);
    assert.equal(r.done.status, "completed", JSON.stringify(r));
    assert.deepEqual(r.progress, ["0:running", "0:success", "1:running", "1:success"]);
    assert.ok(JSON.stringify(r.done.results[1]).includes("In a page"));
  } finally {
    await page.close();
  }
});

for (const [how, maxWebSocketFailures] of [["the WebSocket", 1000], ["the long-polling fallback", 3]]) {
test(`browser: the SDK in headless Chromium resumes a task's updates across a server restart (same port, same SQLite store), through ${how}`, async (t) => {
  if (!(await agentApiPresent(memServer.url))) return t.skip(AGENT_SKIP);
  await server?.stop();
  tmp?.cleanup();
  tmp = tmpFile("tasks.db");
  server = await startServer({ store: `sqlite://${tmp.file}` });
  // The restart needs a store that outlives the process: SQLite must hold agent tasks.
  const probe = await fetch(`${server.url}/api/agent`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ task: "store probe", commands: [{ toolName: "browser_navigate", args: { action: "sleep", duration: 1 } }] }),
  });
  const probeBody = await probe.json();
  assert.equal(probe.status, 201, `the agent API on the SQLite store (--store sqlite://…) answers ${probe.status}: ${JSON.stringify(probeBody)}; this test needs it to keep tasks across a restart`);
  let finished = false;
  for (const t0 = Date.now(); !finished && Date.now() - t0 < 15_000; ) {
    const ev = await (await fetch(`${server.url}/api/agent/${probeBody.data.taskId}/events?after=0&wait=5`)).json();
    finished = ev.data?.finished === true;
  }
  assert.ok(finished, `a 1 ms task on the SQLite store did not finish within 15 s: the server cannot run tasks on --store sqlite://… (its log: ${server.stderr().slice(-600)})`);
  const page = await browser.newPage();
  const consoleLines = [];
  page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => consoleLines.push(`pageerror: ${e.message}`));
  await page.goto(`${pages.url}/html/agent`);
  await page.waitForFunction(() => window.sdkReady === true, { timeout: 10_000 });

  const commands = [
    { toolName: "browser_navigate", intention: "open", args: { action: "goto", url: `${pages.url}/page?title=restart` } },
    ...[1, 2, 3, 4, 5].map((i) => ({ toolName: "browser_navigate", intention: `wait ${i}`, args: { action: "sleep", duration: 1500 } })),
  ];
  const taskId = await page.evaluate((u, c, n) => window.startTask(u, c, n), server.url, commands, maxWebSocketFailures);
  assert.match(taskId, /^task_/);

  // while the task runs (its second step has begun), the server dies and comes back
  await page.waitForFunction(() => bc.messages.some((m) => m.type === "step_start" && m.data.step.index >= 1), { timeout: 30_000 });
  const before = await page.evaluate(() => bc.messages.length);
  const port = server.port;
  server.proc.kill("SIGKILL"); // a crash: the running task ends failed on recovery
  await server.exited;
  await delay(1500); // the page's WebSocket fails and it backs off meanwhile
  server = await startServer({ port, store: `sqlite://${tmp.file}` });
  assert.equal(server.port, port);

  await page.waitForFunction(() => bc.final !== null || bc.error !== null, { timeout: 60_000 }).catch(() => {});
  const bc = await page.evaluate(() => ({ ...window.bc, lastEventId: window.sub.lastEventId }));
  const diag = `states: ${JSON.stringify(bc.states)}\nmessages: ${JSON.stringify(bc.messages.map((m) => [m.id, m.type]))}\nerror: ${bc.error} ${bc.lastError}\nconsole: ${consoleLines.join("\n")}\nserver: ${server.stderr().slice(-2000)}`;
  t.diagnostic(`killed after ${before} messages; states: ${bc.states.join(" ")}; messages: ${bc.messages.map((m) => `${m.id}:${m.type}`).join(" ")}`);
  assert.equal(bc.error, null, diag);
  assert.ok(bc.final && typeof bc.final === "object", diag);
  assert.ok(bc.messages.length > before, `messages after the restart: ${diag}`);
  assert.ok(bc.states.includes("reconnecting") || bc.states.includes("polling"), diag);
  assertContiguous(assert, bc.messages, 0);
  const final = bc.messages.at(-1);
  assert.deepEqual(final, bc.final);
  // the server reports the task as failed by the restart: an `error` without `step`
  assert.equal(final.type, "error", diag);
  assert.equal(final.data.step, undefined, diag);
  assert.equal(final.data.error?.code, "INSTANCE_DISCONNECTED", diag);
  assert.equal(Number(final.id), bc.lastEventId);
  // it resumed from what it had: a URL after the first carries lastEventId=N, N > 0
  assert.ok(bc.urls.slice(1).some((u) => /[?&]lastEventId=[1-9]/.test(u)), diag + JSON.stringify(bc.urls));
  if (maxWebSocketFailures > 100) {
    assert.ok(!bc.states.includes("polling"), diag);
    assert.equal(bc.states.at(-2), "open", diag);
  } else {
    assert.ok(bc.states.includes("polling"), diag);
  }

  // and the store agrees
  const res = await fetch(`${server.url}/api/agent/${taskId}`);
  const body = await res.json();
  assert.equal(body.data.task.status, "failed");
  await page.close();
});
}
