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
