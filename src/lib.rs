//! browser-control: drives headless Chromium over the DevTools protocol.
//!
//! Read it in this order: [`task`] (the domain), [`scheduler`] (instances, queues, the task
//! store), [`browser`] (Chromium and the executor, one file per tool), [`events`] (what
//! happened, for every door), then the doors: [`cli`] (`run` and the command line) and
//! [`server`] (`serve`: the task WebSocket and HTTP), [`mcp`] (MCP over stdio, streamable
//! HTTP and legacy SSE).

pub mod auth;
pub mod browser;
pub mod cli;
pub mod events;
pub mod mcp;
pub mod scheduler;
pub mod server;
pub mod store;
pub mod task;
pub mod wire;
