// AgentClient against a real server: REST routes and the updates stream.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { AgentClient, AgentApiError, isFinalMessage } from "../dist/index.js";
import { startServer, startPages, agentApiPresent, AGENT_SKIP, assertContiguous, delay } from "./helpers.mjs";

let server;
let pages;
let client;
let present = false;

before(async () => {
  [server, pages] = await Promise.all([startServer(), startPages()]);
  client = new AgentClient({ baseUrl: server.url, WebSocket });
  present = await agentApiPresent(server.url);
});

after(async () => {
  await server?.stop();
  await pages?.close();
});

function skipUnlessPresent(t) {
  if (!present) {
    t.skip(AGENT_SKIP);
    return true;
  }
  return false;
}

const goto = (url) => ({ toolName: "browser_navigate", intention: "open the page", args: { action: "goto", url } });
const title = () => ({ toolName: "browser_execute", intention: "read the title", args: { action: "evaluate", script: "return document.title" } });
const sleepStep = (ms) => ({ toolName: "browser_navigate", intention: `wait ${ms} ms`, args: { action: "sleep", duration: ms } });

/** Collects a subscription's messages until its final one. */
function collect(taskId, options = {}) {
  const messages = [];
  const states = [];
  const errors = [];
  const sub = client.updates(taskId, {
    ...options,
    onMessage: (m) => {
      messages.push(m);
      options.onMessage?.(m, sub);
    },
    onStateChange: (s, info) => states.push({ s, info }),
    onError: (e) => errors.push(e),
  });
  return { sub, messages, states, errors };
}

function withTimeout(p, ms, what) {
  let t;
  return Promise.race([p, new Promise((_, reject) => (t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)))]).finally(() => clearTimeout(t));
}

test("AgentClient: submit, updates in order (status_change, step_start, step_complete, completed), get, history", async (t) => {
  if (skipUnlessPresent(t)) return;
  const conversationId = `conv-${Date.now()}`;
  const r = await client.submit({
    task: "Open the test page\nand read its title",
    commands: [goto(`${pages.url}/page?title=Agent%20page`), title()],
    conversationId,
    context: { from: "sdk test" },
  });
  assert.match(r.taskId, /^task_/);
  assert.equal(r.status, "pending");
  assert.equal(typeof r.queuePosition, "number");
  assert.equal(r.task.id, r.taskId);
  assert.equal(r.task.name, "Open the test page");
  assert.equal(r.task.steps.length, 2);

  const c = collect(r.taskId, { lastEventId: 0 });
  const final = await withTimeout(c.sub.done, 60_000, "the final message");
  assert.equal(final.type, "completed", JSON.stringify(c.messages.map((m) => m.type)));
  assert.equal(c.sub.state, "finished");
  assertContiguous(assert, c.messages, 0);
  for (const m of c.messages) {
    assert.equal(m.data.taskId, r.taskId);
    assert.equal(typeof m.timestamp, "number");
    assert.equal(typeof m.id, "string");
  }
  const types = c.messages.filter((m) => m.type !== "queue_update").map((m) => m.type);
  const order = ["status_change", "step_start", "step_complete", "completed"];
  let at = -1;
  for (const ty of order) {
    const i = types.indexOf(ty, at + 1);
    assert.ok(i > at, `${ty} after index ${at} in ${JSON.stringify(types)}`);
    at = i;
  }
  assert.equal(types.filter((x) => x === "step_start").length, 2, JSON.stringify(types));
  assert.equal(types.filter((x) => x === "step_complete").length, 2, JSON.stringify(types));
  assert.equal(types.at(-1), "completed");
  assert.ok(c.messages.some((m) => m.type === "status_change" && m.data.status === "running"), JSON.stringify(c.messages));
  assert.equal(final.data.progress, 100);
  assert.equal(final.data.result.status, "completed");
  assert.ok(JSON.stringify(final.data.result.steps[1].result).includes("Agent page"), JSON.stringify(final.data.result.steps[1]));

  const got = await client.get(r.taskId);
  assert.equal(got.task.id, r.taskId);
  assert.equal(got.task.status, "completed");
  assert.equal(got.task.conversationId, conversationId);
  assert.deepEqual(got.task.context, { from: "sdk test" });
  assert.deepEqual(got.task.steps.map((s) => s.status), ["completed", "completed"]);
  assert.ok(Array.isArray(got.logs));

  const h = await client.history({ conversationId, limit: 10 });
  assert.equal(h.total, 1, JSON.stringify(h));
  assert.equal(h.limit, 10);
  assert.equal(h.offset, 0);
  assert.equal(h.tasks[0].id, r.taskId);
  assert.equal(h.tasks[0].status, "completed");
  assert.equal(h.tasks[0].totalSteps, 2);
  assert.equal(h.tasks[0].completedSteps, 2);
  const all = await client.history({ status: "completed", dateFrom: new Date(Date.now() - 3600_000) });
  assert.ok(all.tasks.some((x) => x.id === r.taskId));

  // the polling route gives the same messages
  const ev = await client.events(r.taskId, { after: 0, wait: 0 });
  assert.equal(ev.finished, true);
  assert.deepEqual(ev.events.filter((m) => m.type !== "queue_update").map((m) => m.id), c.messages.filter((m) => m.type !== "queue_update").map((m) => m.id));
});

test("AgentClient: errors are AgentApiError with status, code, message, details", async (t) => {
  if (skipUnlessPresent(t)) return;
  await assert.rejects(client.get("task_0_nope"), (e) => e instanceof AgentApiError && e.status === 404 && e.code === "TASK_NOT_FOUND" && typeof e.message === "string");
  await assert.rejects(
    client.submit({ task: "bad", commands: [{ toolName: "browser_navigate", args: { action: "goto" } }] }),
    (e) =>
      e instanceof AgentApiError &&
      e.status === 400 &&
      e.code === "VALIDATION_ERROR" &&
      Array.isArray(e.details) &&
      e.details.some((d) => d.field === "commands[0].args.url"),
  );
  await assert.rejects(client.submit({ task: "" }), (e) => e instanceof AgentApiError && e.status === 400 && e.code === "VALIDATION_ERROR");
  await assert.rejects(client.history({ limit: 0 }), (e) => e instanceof AgentApiError && e.status === 400);
  await assert.rejects(client.cancel("task_0_nope"), (e) => e instanceof AgentApiError && e.code === "TASK_NOT_FOUND");
  // updates of an unknown task: closed with 4404, the subscription fails with TASK_NOT_FOUND
  const c = collect("task_0_nope");
  await assert.rejects(withTimeout(c.sub.done, 10_000, "4404"), (e) => e instanceof AgentApiError && e.code === "TASK_NOT_FOUND");
  assert.equal(c.sub.state, "failed");
  assert.equal(c.messages.length, 0);
});

test("AgentClient: cancel a long task gives cancelled", async (t) => {
  if (skipUnlessPresent(t)) return;
  const r = await client.submit({ task: "A long wait", commands: [goto(`${pages.url}/page`), sleepStep(20_000)] });
  let cancelling;
  const c = collect(r.taskId, {
    lastEventId: 0,
    onMessage: (m) => {
      if (m.type === "step_start" && m.data.step.index === 1) cancelling = client.cancel(r.taskId);
    },
  });
  const final = await withTimeout(c.sub.done, 30_000, "cancelled");
  assert.equal(final.type, "cancelled", JSON.stringify(c.messages.map((m) => m.type)));
  assert.ok(cancelling, "cancelled while its sleep step ran");
  assert.deepEqual(await cancelling, { taskId: r.taskId, status: "cancelled" });
  assert.ok(c.messages.some((m) => m.type === "step_start" && m.data.step.index === 1));
  assert.ok(!c.messages.some((m) => m.type === "step_complete" && m.data.step.index === 1), "the sleep did not complete");
  assertContiguous(assert, c.messages, 0);
  const got = await client.get(r.taskId);
  assert.equal(got.task.status, "cancelled");
  await assert.rejects(client.cancel(r.taskId), (e) => e instanceof AgentApiError && e.status === 409 && e.code === "TASK_FINISHED");
});

test("AgentClient: resume with lastEventId after closing a subscription: no duplicates, no gaps", async (t) => {
  if (skipUnlessPresent(t)) return;
  const r = await client.submit({ task: "Several slow steps", commands: [goto(`${pages.url}/page`), sleepStep(300), sleepStep(300), sleepStep(300), sleepStep(300)] });
  const first = [];
  let resolveFirst;
  const gotSome = new Promise((res) => (resolveFirst = res));
  const sub1 = client.updates(r.taskId, {
    lastEventId: 0,
    onMessage: (m) => {
      first.push(m);
      if (first.filter((x) => x.type !== "queue_update").length === 4) resolveFirst();
    },
  });
  await withTimeout(gotSome, 30_000, "4 messages");
  sub1.close();
  assert.equal(sub1.state, "closed");
  const resumeAt = sub1.lastEventId;
  assert.equal(resumeAt, Number(first.filter((x) => x.type !== "queue_update").at(-1).id));
  await delay(400); // messages go by while nobody listens
  const c = collect(r.taskId, { lastEventId: resumeAt });
  const final = await withTimeout(c.sub.done, 30_000, "completed");
  assert.equal(final.type, "completed");
  assertContiguous(assert, [...first, ...c.messages], 0);
  assertContiguous(assert, c.messages, resumeAt);
});

/** A `ws` WebSocket whose connections the test can drop. */
function droppableWebSocket() {
  const sockets = [];
  class Droppable extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols);
      sockets.push(this);
      Droppable.urls.push(url);
    }
  }
  Droppable.urls = [];
  Droppable.dropAll = () => {
    for (const s of sockets) if (s.readyState === WebSocket.OPEN || s.readyState === WebSocket.CONNECTING) s.terminate();
  };
  return Droppable;
}

test("AgentClient: a dropped connection reconnects by itself with lastEventId: no duplicates, no gaps", async (t) => {
  if (skipUnlessPresent(t)) return;
  const WS = droppableWebSocket();
  const dc = new AgentClient({ baseUrl: server.url, WebSocket: WS });
  const r = await dc.submit({ task: "Slow steps, dropped", commands: [goto(`${pages.url}/page`), sleepStep(300), sleepStep(300), sleepStep(300), sleepStep(300)] });
  const messages = [];
  const states = [];
  let dropped = 0;
  const sub = dc.updates(r.taskId, {
    lastEventId: 0,
    initialBackoffMs: 50,
    onMessage: (m) => {
      messages.push(m);
      const n = messages.filter((x) => x.type !== "queue_update").length;
      if ((n === 3 || n === 7) && dropped < 2) {
        dropped++;
        WS.dropAll();
      }
    },
    onStateChange: (s) => states.push(s),
  });
  const final = await withTimeout(sub.done, 30_000, "completed");
  assert.equal(final.type, "completed");
  assert.ok(dropped >= 1);
  assert.ok(states.includes("reconnecting"), JSON.stringify(states));
  assert.ok(WS.urls.length >= 2, JSON.stringify(WS.urls));
  assert.match(WS.urls[1], /lastEventId=\d+/);
  assertContiguous(assert, messages, 0);
});

test("AgentClient: WebSocket always failing falls back to long-polling, which delivers everything", async (t) => {
  if (skipUnlessPresent(t)) return;
  let attempts = 0;
  class FailingWebSocket {
    constructor(url) {
      attempts++;
      this.url = url;
      this.readyState = 0;
      this.onopen = this.onmessage = this.onerror = this.onclose = null;
      setTimeout(() => {
        this.readyState = 3;
        this.onerror?.({ type: "error" });
        this.onclose?.({ code: 1006, reason: "refused by the test", wasClean: false });
      }, 5);
    }
    send() {
      throw new Error("not open");
    }
    close() {}
  }
  const pc = new AgentClient({ baseUrl: server.url, WebSocket: FailingWebSocket });
  const r = await pc.submit({ task: "Polled", commands: [goto(`${pages.url}/page?title=Polled`), sleepStep(300), sleepStep(300), title()] });
  const messages = [];
  const states = [];
  const sub = pc.updates(r.taskId, {
    lastEventId: 0,
    initialBackoffMs: 20,
    pollWaitSeconds: 5,
    webSocketRetryMs: 500,
    onMessage: (m) => messages.push(m),
    onStateChange: (s) => states.push(s),
  });
  const final = await withTimeout(sub.done, 60_000, "completed by polling");
  assert.equal(final.type, "completed");
  assert.ok(states.includes("polling"), JSON.stringify(states));
  assert.ok(attempts >= 3, `attempts: ${attempts}`);
  assertContiguous(assert, messages, 0);
  const types = messages.map((m) => m.type);
  assert.equal(types.filter((x) => x === "step_complete").length, 4, JSON.stringify(types));
  assert.ok(isFinalMessage(messages.at(-1)));
});

test("AgentClient: the async iterator form", async (t) => {
  if (skipUnlessPresent(t)) return;
  const r = await client.submit({ task: "Iterated", commands: [goto(`${pages.url}/page`), title()] });
  const seen = [];
  for await (const m of client.stream(r.taskId, { lastEventId: 0 })) seen.push(m);
  assert.equal(seen.at(-1).type, "completed");
  assertContiguous(assert, seen, 0);
  // breaking out early closes the subscription
  const r2 = await client.submit({ task: "Iterated, left early", commands: [goto(`${pages.url}/page`), sleepStep(500)] });
  const it = client.stream(r2.taskId, { lastEventId: 0 });
  for await (const m of it) {
    assert.ok(m.id);
    break;
  }
  assert.equal(it.subscription.state, "closed");
});

test("AgentClient: a step the task's rules confirm waits (approval_request, paused) until approve()", async (t) => {
  if (skipUnlessPresent(t)) return;
  const r = await client.submit({
    task: "Read the title, with a person's yes",
    commands: [goto(`${pages.url}/page?title=Approved`), title(), title()],
    approval: { rules: [{ match: { tool: "browser_execute" }, decision: "confirm", description: "scripts need a yes" }] },
  });
  const decided = [];
  const c = collect(r.taskId, {
    lastEventId: 0,
    onMessage: (m) => {
      if (m.type !== "approval_request") return;
      const a = m.data.approvalRequest;
      // the first one approved alone, the second in the batch form
      // after a while, so that the task reaches the step and waits (paused)
      const first = decided.length === 0;
      decided.push(
        delay(first ? 1000 : 1200).then(() =>
          first ? client.approve(r.taskId, { approvalId: a.approvalId, approved: true, message: "ok" }) : client.approve(r.taskId, [{ approvalId: a.approvalId, approved: true }]),
        ),
      );
    },
  });
  const final = await withTimeout(c.sub.done, 60_000, "completed after approvals");
  assert.equal(final.type, "completed", JSON.stringify(c.messages.map((m) => [m.type, m.data.status ?? m.data.message])));
  assertContiguous(assert, c.messages, 0);
  const requests = c.messages.filter((m) => m.type === "approval_request");
  assert.ok(requests.length >= 1, JSON.stringify(c.messages.map((m) => m.type)));
  for (const m of requests) {
    const a = m.data.approvalRequest;
    assert.equal(a.taskId, r.taskId);
    assert.equal(a.tool, "browser_execute");
    assert.equal(a.rule.source, "task");
    assert.equal(typeof a.approvalId, "string");
    assert.equal(m.data.step.toolName, "browser_execute");
  }
  assert.ok(c.messages.some((m) => m.type === "status_change" && m.data.status === "paused"), JSON.stringify(c.messages.map((m) => [m.type, m.data.status])));
  const answers = await Promise.all(decided);
  for (const a of answers) {
    assert.equal(a.taskId, r.taskId);
    assert.equal(a.decisions.length, 1);
    assert.equal(a.decisions[0].status, "approved");
    assert.equal(a.decisions[0].decision.approved, true);
  }
  // a decided approval cannot be decided again
  await assert.rejects(
    client.approve(r.taskId, { approvalId: requests[0].data.approvalRequest.approvalId, approved: false }),
    (e) => e instanceof AgentApiError && e.status === 409,
  );
  const got = await client.get(r.taskId);
  assert.ok(got.task.approvals.length >= 1);
  assert.ok(got.task.approvals.every((a) => a.status === "approved"));
});

test("AgentClient: undo puts back the state before the last step that changed it", async (t) => {
  if (skipUnlessPresent(t)) return;
  const first = `${pages.url}/page?title=First`;
  const r = await client.submit({ task: "Two pages", commands: [goto(first), goto(`${pages.url}/page?title=Second`)] });
  const final = await withTimeout(collect(r.taskId, { lastEventId: 0 }).sub.done, 60_000, "completed");
  assert.equal(final.type, "completed");
  const u = await client.undo(r.taskId);
  assert.equal(u.taskId, r.taskId);
  assert.equal(u.stepId, final.data.result.steps[1].id);
  assert.ok(u.restored.includes("url"), JSON.stringify(u));
  assert.equal(u.url, first);
  const got = await client.get(r.taskId);
  assert.equal(got.task.undos.length, 1);
  assert.equal(got.task.undos[0].stepId, u.stepId);
  await assert.rejects(client.undo(r.taskId, { stepId: "nope" }), (e) => e instanceof AgentApiError && e.status === 404 && e.code === "STEP_NOT_FOUND");
});
