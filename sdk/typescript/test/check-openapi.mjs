// Checks the SDK against the server's OpenAPI document (GET /api/openapi.json):
// every route the SDK calls is there with the methods it uses.
//
//   npm run check-openapi                 # starts a server (BROWSER_CONTROL_BIN) for the check
//   BROWSER_CONTROL_URL=http://127.0.0.1:3400 npm run check-openapi
import { fileURLToPath } from "node:url";

/** The routes the SDK calls, as OpenAPI paths, with the methods. */
export const SDK_ROUTES = {
  task: [["/", "get"]], // the task WebSocket (TaskClient): a GET answering 101
  agent: [
    ["/api/agent", "post"], // submit
    ["/api/agent/history", "get"], // history
    ["/api/agent/{taskId}", "get"], // get
    ["/api/agent/{taskId}", "delete"], // cancel
    ["/api/agent/{taskId}/approve", "post"], // approve
    ["/api/agent/{taskId}/undo", "post"], // undo
    ["/api/agent/{taskId}/updates", "get"], // the updates WebSocket
    ["/api/agent/{taskId}/events", "get"], // the polling fallback
  ],
};

const norm = (p) => p.replace(/\{[^}]+\}/g, "{}").replace(/\/+$/, "") || "/";

export async function fetchOpenApi(baseUrl) {
  const res = await fetch(`${baseUrl}/api/openapi.json`);
  if (!res.ok) throw new Error(`GET /api/openapi.json: HTTP ${res.status}`);
  return res.json();
}

/** Which of the SDK's routes the document lacks: `{missing: [[path, method]], present: [...]}` per group. */
export function checkRoutes(doc) {
  const paths = new Map();
  for (const [p, item] of Object.entries(doc.paths ?? {})) paths.set(norm(p), item);
  const out = {};
  for (const [group, routes] of Object.entries(SDK_ROUTES)) {
    const missing = [];
    const present = [];
    for (const [p, m] of routes) {
      const item = paths.get(norm(p));
      (item && item[m] ? present : missing).push([p, m]);
    }
    out[group] = { missing, present };
  }
  return out;
}

async function main() {
  let baseUrl = process.env.BROWSER_CONTROL_URL;
  let server;
  if (!baseUrl) {
    const { startServer } = await import("./helpers.mjs");
    server = await startServer();
    baseUrl = server.url;
  }
  try {
    const doc = await fetchOpenApi(baseUrl);
    const r = checkRoutes(doc);
    let bad = false;
    for (const [group, { missing, present }] of Object.entries(r)) {
      for (const [p, m] of present) console.log(`ok       ${m.toUpperCase()} ${p}`);
      for (const [p, m] of missing) console.log(`MISSING  ${m.toUpperCase()} ${p} (${group})`);
      if (missing.length) bad = true;
    }
    const rec = await checkRecords(doc);
    for (const p of rec.problems) console.log(`MISMATCH ${p.record} (${p.schema}): ${p.problem}`);
    for (const r of rec.unmatched) console.log(`no schema for ${r} in the document`);
    if (rec.problems.length) bad = true;
    process.exitCode = bad ? 1 : 0;
  } finally {
    await server?.stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

// ---- the records' fields: src/types.ts against the document's component schemas ----

/**
 * The SDK's interfaces and the component schema names they have in the document (the server's
 * src/server/openapi.rs and src/server/agent/schema.rs): every field on both sides, each
 * required on both or optional on both.
 */
export const SDK_RECORDS = {
  SubmitRequest: ["AgentSubmission"],
  ApprovalDecision: ["AgentDecision"],
  UndoRequest: ["AgentUndo"],
  ApiErrorBody: ["AgentErrorDetail"],
  FieldError: ["AgentFieldError"],
  Task: ["AgentTask"],
  TaskStep: ["AgentTaskStep", "AgentStep"],
  TaskSummary: ["AgentTaskSummary"],
  TaskLog: ["AgentTaskLog", "AgentLog"],
  ApprovalRequest: ["AgentApprovalRequest"],
  Undo: ["AgentUndoRecord"],
};

/** The query parameters the SDK sends, per route (besides the path's). */
export const SDK_QUERIES = {
  "/api/agent/history get": "HistoryQuery",
  "/api/agent/{taskId}/events get": ["after", "wait"],
  "/api/agent/{taskId}/updates get": ["lastEventId"],
};

/** `{Name: {field: optional}}` of the interfaces in src/types.ts, read with the TypeScript compiler. */
export async function sdkInterfaces(file) {
  const ts = (await import("typescript")).default;
  const fs = await import("node:fs");
  const path = await import("node:path");
  const src = file ?? path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "src", "types.ts");
  const sf = ts.createSourceFile(src, fs.readFileSync(src, "utf8"), ts.ScriptTarget.ES2022, true);
  const out = {};
  sf.forEachChild((node) => {
    if (ts.isInterfaceDeclaration(node)) {
      const fields = {};
      for (const m of node.members) {
        if (ts.isPropertySignature(m) && m.name) fields[m.name.getText(sf)] = Boolean(m.questionToken);
      }
      out[node.name.text] = fields;
    }
  });
  return out;
}

function resolve(doc, schema, depth = 0) {
  if (!schema || depth > 10) return schema;
  if (schema.$ref) {
    const name = schema.$ref.replace(/^#\/components\/schemas\//, "");
    return resolve(doc, doc.components?.schemas?.[name], depth + 1);
  }
  if (schema.allOf) {
    const merged = { type: "object", properties: {}, required: [] };
    for (const s of schema.allOf.map((x) => resolve(doc, x, depth + 1))) {
      Object.assign(merged.properties, s?.properties ?? {});
      merged.required.push(...(s?.required ?? []));
    }
    return merged;
  }
  return schema;
}

/**
 * Differences between the SDK's records and the document's schemas:
 * `[{record, schema, problem}]`; records with no schema in the document are in `unmatched`.
 */
export async function checkRecords(doc) {
  const ifaces = await sdkInterfaces();
  const schemas = doc.components?.schemas ?? {};
  const problems = [];
  const unmatched = [];
  for (const [record, names] of Object.entries(SDK_RECORDS)) {
    const name = names.find((n) => schemas[n]);
    if (!name) {
      unmatched.push(record);
      continue;
    }
    const schema = resolve(doc, schemas[name]);
    const props = schema?.properties ?? {};
    const required = new Set(schema?.required ?? []);
    const mine = ifaces[record] ?? {};
    for (const [field, optional] of Object.entries(mine)) {
      if (!(field in props)) problems.push({ record, schema: name, problem: `${field}: in the SDK, not in the document` });
      else if (!optional && !required.has(field)) problems.push({ record, schema: name, problem: `${field}: required in the SDK, optional in the document` });
    }
    for (const field of Object.keys(props)) {
      if (!(field in mine)) problems.push({ record, schema: name, problem: `${field}: in the document, not in the SDK` });
      else if (required.has(field) && mine[field]) problems.push({ record, schema: name, problem: `${field}: required in the document, optional in the SDK` });
    }
  }
  // query parameters: each one the SDK sends is documented
  const paths = new Map(Object.entries(doc.paths ?? {}).map(([p, item]) => [norm(p), item]));
  for (const [key, names] of Object.entries(SDK_QUERIES)) {
    const [p, m] = key.split(" ");
    const op = paths.get(norm(p))?.[m];
    if (!op) continue; // reported by checkRoutes
    const documented = new Set((op.parameters ?? []).filter((x) => x.in === "query").map((x) => x.name));
    const sent = typeof names === "string" ? Object.keys(ifaces[names] ?? {}) : names;
    for (const q of sent) if (!documented.has(q)) problems.push({ record: key, schema: "parameters", problem: `?${q}: sent by the SDK, not documented` });
  }
  return { problems, unmatched };
}
