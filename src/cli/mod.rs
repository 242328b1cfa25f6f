//! The command-line door: `run` for testers, `serve` for agents, `mcp` for MCP hosts.

pub mod auth_args;
pub mod browser_args;
pub mod junit;
pub mod keys;
pub mod mcp;
pub mod progress;
pub mod run;
pub mod serve;
pub mod site;
pub mod store_args;
pub mod taskfile;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "browser-control",
    version,
    about = "Drive headless Chromium over the DevTools protocol: run task files, serve agents, speak MCP.",
    long_about = None
)]
pub struct Cli {
    /// Log filter for diagnostics on stderr (e.g. info, debug, browser_control=debug).
    #[arg(
        long,
        global = true,
        value_name = "FILTER",
        env = "BROWSER_CONTROL_LOG",
        default_value = "warn,chromiumoxide=off"
    )]
    pub log: String,
    /// Runtime threads. One is the fastest on small machines (no hand-offs between threads;
    /// Chromium does the heavy work in its own processes); 0 means one per core.
    #[arg(
        long,
        global = true,
        value_name = "N",
        env = "BROWSER_CONTROL_THREADS",
        default_value_t = 1
    )]
    pub threads: usize,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run task files (JSON or YAML) against a local headless Chromium and report pass/fail.
    ///
    /// Serves fixtures/site on a free loopback port and substitutes {{base_url}} in the tasks
    /// (or use --base-url). Each command is shown as it passes or fails; screenshots and
    /// report.json go to --out. Exit code: 0 every task met its expectation, 1 one did not,
    /// 2 an input could not be used (the message gives file, line and reason) or Chromium
    /// could not start.
    Run(run::RunArgs),
    /// Serve the task WebSocket protocol and the HTTP API (default 127.0.0.1:3400).
    ///
    /// Agents connect a WebSocket to ws://HOST:PORT/ and submit tasks; /tasks, /instances,
    /// /health and /metrics are plain HTTP on the same port. Prints `listening on URL` once
    /// ready. SIGINT or SIGTERM cancels running tasks, closes every browser and exits 0.
    Serve(serve::ServeArgs),
    /// Speak MCP over stdio, for MCP hosts (Claude Desktop, Cursor, ...) that launch a server.
    ///
    /// The tools are those of the task protocol, plus browser_snapshot (an accessibility
    /// outline with element refs) and browser_task (a batch with progress notifications).
    /// Each session gets its own Chromium, started at its first browser tool call and closed
    /// when the host disconnects (stdin closes); --shared-instance uses a pool instead. Logs go
    /// to stderr.
    Mcp(mcp::McpArgs),
    /// Manage API keys in the task store: create (printed once), list, revoke.
    ///
    /// Keys live in the store, so every runner sharing it knows them; the store keeps only
    /// their SHA-256. A server accepts them as `Authorization: Bearer KEY` or `X-API-Key: KEY`.
    Keys(keys::KeysArgs),
    /// Print the JSON Schema of a task file (every tool, action and field) on stdout.
    ///
    /// Editors and CI can validate task files with it; MCP and GET /api/tools describe the
    /// tools from the same catalog.
    Schema,
}
