// The routes the SDK calls exist in the server's OpenAPI document with the methods used.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, agentApiPresent, AGENT_SKIP } from "./helpers.mjs";
import { fetchOpenApi, checkRoutes, checkRecords } from "./check-openapi.mjs";

let server;
let doc;
let present;

before(async () => {
  server = await startServer();
  doc = await fetchOpenApi(server.url);
  present = await agentApiPresent(server.url);
});

after(async () => {
  await server?.stop();
});

test("OpenAPI: the document is OpenAPI 3.x and has the task WebSocket route", () => {
  assert.match(String(doc.openapi), /^3\./);
  const r = checkRoutes(doc);
  assert.deepEqual(r.task.missing, [], `routes the SDK calls missing from /api/openapi.json: ${JSON.stringify(r.task.missing)}`);
});

test("OpenAPI: every agent route the SDK calls is in the document with its method", (t) => {
  if (!present) return t.skip(AGENT_SKIP);
  const r = checkRoutes(doc);
  assert.deepEqual(r.agent.missing, [], `agent routes the SDK calls missing from /api/openapi.json: ${JSON.stringify(r.agent.missing)}`);
});

test("OpenAPI: the SDK's records (src/types.ts: requests, answers, errors, query parameters) match the document's schemas", async (t) => {
  if (!present) return t.skip(AGENT_SKIP);
  const { problems, unmatched } = await checkRecords(doc);
  assert.deepEqual(problems, [], JSON.stringify(problems, null, 1));
  // Every record has its schema: the answers are typed in the document too.
  assert.deepEqual(unmatched, [], `records with no schema of that name in the document: ${unmatched.join(", ")}`);
});
