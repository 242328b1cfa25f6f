// TaskClient against a real server: the task WebSocket protocol.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { TaskClient, TaskProtocolError } from "../dist/index.js";
import { startServer, startPages } from "./helpers.mjs";

let server;
let pages;
let client;

before(async () => {
  [server, pages] = await Promise.all([startServer(), startPages()]);
  client = new TaskClient({ url: server.wsUrl, WebSocket });
  const welcome = await client.connect();
  assert.equal(welcome.type, "welcome");
  assert.equal(typeof welcome.sessionId, "string");
});

after(async () => {
  client?.close();
  await server?.stop();
  await pages?.close();
});

test("TaskClient: a 2-command task (goto, evaluate document.title) reports progress and completes", async () => {
  const title = "Task client page";
  const { taskId, queuePosition } = await client.submit({
    task_name: "sdk task test",
    task_intention: "open the page and read its title",
    commands: [
      { tool_name: "browser_navigate", intention: "open", args: { action: "goto", url: `${pages.url}/page?title=${encodeURIComponent(title)}` } },
      { tool_name: "browser_execute", intention: "title", args: { action: "evaluate", script: "return document.title" } },
    ],
  });
  assert.match(taskId, /^task_/);
  assert.equal(typeof queuePosition, "number");

  const progress = [];
  await client.subscribe(taskId, (m) => progress.push(m));
  const done = await client.waitForCompletion(taskId, { timeoutMs: 60_000 });
  assert.equal(done.type, "task_complete");
  assert.equal(done.taskId, taskId);
  assert.equal(done.status, "completed", JSON.stringify(done));
  assert.equal(done.results.length, 2);
  assert.deepEqual(done.results.map((r) => r.status), ["success", "success"]);
  assert.ok(JSON.stringify(done.results[1].result).includes(title), JSON.stringify(done.results[1]));
  assert.equal(typeof done.completedAt, "string");

  // running then success for each command, in order
  const seq = progress.map((m) => `${m.commandIndex}:${m.status}`);
  assert.deepEqual(seq, ["0:running", "0:success", "1:running", "1:success"], JSON.stringify(progress));
  assert.ok(progress.every((m) => m.taskId === taskId));

  const st = await client.status(taskId);
  assert.equal(st.id, taskId);
  assert.equal(st.status, "completed");
  assert.equal(st.commands.length, 2);

  const list = await client.list({ status: "all" });
  assert.ok(list.some((t) => t.id === taskId), JSON.stringify(list));

  // waitForCompletion of a finished task (asked again) resolves at once from the cache,
  // and a fresh client gets it from the server (subscribe_task of a finished task)
  assert.equal((await client.waitForCompletion(taskId)).status, "completed");
  const other = new TaskClient({ url: server.wsUrl, WebSocket });
  try {
    const again = await other.waitForCompletion(taskId, { timeoutMs: 10_000 });
    assert.equal(again.status, "completed");
  } finally {
    other.close();
  }
});

test("TaskClient: a rejected submit rejects with the server's reason", async () => {
  await assert.rejects(
    client.submit({ task_name: "bad", commands: [{ tool_name: "browser_navigate", args: { action: "goto" } }] }),
    (e) => e instanceof TaskProtocolError && /url/.test(e.serverMessage ?? "") && e.response?.status === "rejected",
  );
});

test("TaskClient: cancel a running task; unknown tasks", async () => {
  const { taskId } = await client.submit({
    task_name: "long",
    commands: [{ tool_name: "browser_navigate", args: { action: "sleep", duration: 20_000, timeout: 30_000 } }],
  });
  const progress = [];
  await client.subscribe(taskId, (m) => progress.push(m));
  // wait for it to start
  for (let i = 0; i < 100 && !progress.some((m) => m.status === "running"); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(progress.some((m) => m.status === "running"), JSON.stringify(progress));
  const r = await client.cancel(taskId);
  assert.equal(r.success, true, JSON.stringify(r));
  const done = await client.waitForCompletion(taskId, { timeoutMs: 15_000 });
  assert.equal(done.status, "cancelled");

  assert.equal(await client.status("task_0_nope"), null);
  const c = await client.cancel("task_0_nope");
  assert.equal(c.success, false);
  await assert.rejects(client.subscribe("task_0_nope", () => {}), (e) => e instanceof TaskProtocolError && /Task not found/.test(e.message));
});
