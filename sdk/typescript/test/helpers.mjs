// Test helpers: a real browser-control server and a page server, both on 127.0.0.1:0.
import { spawn } from "node:child_process";
import http from "node:http";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const BIN = process.env.BROWSER_CONTROL_BIN || "/work/target-sdk/debug/browser-control";
export const CHROMIUM = process.env.CHROMIUM || process.env.CHROME || "/usr/bin/chromium";

const live = new Set();
function killAll() {
  for (const p of live) {
    try {
      p.kill("SIGKILL");
    } catch {
      /* gone */
    }
  }
}
process.on("exit", killAll);
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

/**
 * Starts `browser-control serve --listen 127.0.0.1:PORT --instances 1 --store STORE` and
 * resolves once it printed `listening on http://ADDR:PORT`.
 */
export async function startServer({ port = 0, store = "memory", instances = 1, extra = [], timeoutMs = 90_000 } = {}) {
  if (!fs.existsSync(BIN)) {
    throw new Error(`browser-control binary not found at ${BIN}: build it (cargo build) or set BROWSER_CONTROL_BIN`);
  }
  const args = ["serve", "--listen", `127.0.0.1:${port}`, "--instances", String(instances), "--store", store, ...extra];
  const proc = spawn(BIN, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn" } });
  live.add(proc);
  let stdout = "";
  let stderr = "";
  const exited = new Promise((resolve) =>
    proc.once("exit", (code, signal) => {
      live.delete(proc);
      resolve({ code, signal });
    }),
  );
  proc.stderr.on("data", (d) => {
    stderr += d;
    if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
  });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not say "listening on" within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr.slice(-4000)}`)), timeoutMs);
    proc.stdout.on("data", (d) => {
      stdout += d;
      const m = /listening on (http:\/\/\S+)/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/$/, ""));
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}) before listening\nstdout: ${stdout}\nstderr: ${stderr.slice(-4000)}`));
    });
  });
  const u = new URL(url);
  return {
    url,
    port: Number(u.port),
    wsUrl: `ws://${u.host}/`,
    proc,
    exited,
    stderr: () => stderr,
    stdout: () => stdout,
    /** Stops the server (SIGTERM, then SIGKILL after 15 s) and waits for its exit. */
    async stop(signal = "SIGTERM") {
      if (proc.exitCode !== null || proc.signalCode !== null) return exited;
      proc.kill(signal);
      const t = setTimeout(() => proc.kill("SIGKILL"), 15_000);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
}

const MIME = { ".js": "text/javascript", ".mjs": "text/javascript", ".map": "application/json", ".html": "text/html", ".json": "application/json" };

/**
 * An http server for navigation targets and the browser test:
 * `/page?title=T` a page titled T; `/slow?ms=N` answers after N ms; `/dist/…` the built SDK;
 * `/html/NAME` a page registered with `pages.set(NAME, html)`.
 */
export async function startPages() {
  const html = new Map();
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, "http://x");
    if (u.pathname === "/page") {
      const title = u.searchParams.get("title") ?? "SDK test page";
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(`<!doctype html><html><head><title>${title.replace(/</g, "&lt;")}</title></head><body><h1 id="h">${title.replace(/</g, "&lt;")}</h1></body></html>`);
      return;
    }
    if (u.pathname === "/slow") {
      const ms = Number(u.searchParams.get("ms") ?? 1000);
      setTimeout(() => {
        res.writeHead(200, { "content-type": "text/html" });
        res.end("<!doctype html><title>slow</title>slow");
      }, ms);
      return;
    }
    if (u.pathname.startsWith("/dist/")) {
      const file = path.join(ROOT, "dist", path.normalize(u.pathname.slice("/dist/".length)).replace(/^(\.\.[/\\])+/, ""));
      fs.readFile(file, (err, data) => {
        if (err) {
          res.writeHead(404);
          res.end("not found");
          return;
        }
        res.writeHead(200, { "content-type": MIME[path.extname(file)] ?? "application/octet-stream" });
        res.end(data);
      });
      return;
    }
    if (u.pathname.startsWith("/html/") && html.has(u.pathname.slice(6))) {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(html.get(u.pathname.slice(6)));
      return;
    }
    res.writeHead(404);
    res.end("not found");
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    pages: html,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/**
 * Whether the server has the agent API: false only when `POST /api/agent` answers 404
 * (the router's "No route"), so the agent tests turn on by themselves once main has it.
 */
export async function agentApiPresent(baseUrl) {
  const res = await fetch(`${baseUrl}/api/agent`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  await res.arrayBuffer();
  if (res.status === 404 && process.env.BROWSER_CONTROL_REQUIRE_AGENT === "1") {
    throw new Error(`POST /api/agent answers 404 and BROWSER_CONTROL_REQUIRE_AGENT=1: ${AGENT_SKIP}`);
  }
  return res.status !== 404;
}

export const AGENT_SKIP = "the agent API is not on this server yet (POST /api/agent answers 404): merge main once it has it";

export function tmpFile(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bc-sdk-"));
  return { dir, file: path.join(dir, name), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export function delay(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Asserts ids are strictly increasing by one (no duplicate, no gap), queue_update excepted. */
export function assertContiguous(assert, messages, startAfter) {
  const ids = messages.filter((m) => m.type !== "queue_update").map((m) => Number(m.id));
  const seen = new Set();
  for (const id of ids) {
    assert.ok(!seen.has(id), `duplicate id ${id} in ${JSON.stringify(ids)}`);
    seen.add(id);
  }
  for (let i = 1; i < ids.length; i++) {
    assert.equal(ids[i], ids[i - 1] + 1, `ids must grow by one: ${JSON.stringify(ids)}`);
  }
  if (startAfter !== undefined && ids.length) assert.equal(ids[0], Number(startAfter) + 1, `first id after ${startAfter}: ${JSON.stringify(ids)}`);
  return ids;
}
