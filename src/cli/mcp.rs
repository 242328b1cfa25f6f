//! `browser-control mcp`: MCP over stdio, as desktop hosts launch it. stdout carries the
//! protocol only; logs go to stderr.

use std::process::ExitCode;

use clap::Args;
use rmcp::ServiceExt;

use super::browser_args::BrowserArgs;
use crate::mcp::{BrowserMcp, McpOptions};
use crate::scheduler::{Scheduler, SchedulerConfig};

#[derive(Debug, Clone, Args)]
pub struct McpArgs {
    #[command(flatten)]
    pub browser: BrowserArgs,
    /// Run tool calls on a pool of --instances browsers started at once, instead of on a
    /// browser of the session's own, started at its first browser tool call.
    #[arg(long)]
    pub shared_instance: bool,
}

pub async fn mcp(mut args: McpArgs) -> ExitCode {
    // An attached browser is the one to use: a session of its own would launch another.
    args.shared_instance |= args.browser.attach.is_some();
    let config = SchedulerConfig {
        // Without --shared-instance the session starts its own browser when it needs one.
        instances: if args.shared_instance {
            usize::from(args.browser.instances)
        } else {
            0
        },
        source: args.browser.source(),
        executor: args.browser.executor(),
        public_values: args.browser.public_values(),
        ..SchedulerConfig::default()
    };
    let scheduler = match Scheduler::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {}: {e:#}", args.browser.start_failure());
            return ExitCode::from(2);
        }
    };
    // External steps' apps report to a loopback server of their own.
    let channels = match crate::server::Server::for_external_apps(scheduler.clone()).await {
        Ok(server) => Some(server),
        Err(e) => {
            tracing::warn!("external_task will not work: cannot serve its channels: {e:#}");
            None
        }
    };
    let options = McpOptions {
        shared_instance: args.shared_instance,
    };
    let handler = BrowserMcp::new(scheduler.clone(), options);
    let session = handler.session().clone();
    let code = match handler.serve(rmcp::transport::stdio()).await {
        Ok(running) => {
            tokio::select! {
                end = running.waiting() => {
                    tracing::info!("MCP client disconnected: {end:?}");
                    ExitCode::SUCCESS
                }
                signal = shutdown_signal() => {
                    eprintln!("{signal}: shutting down (closing browsers)");
                    ExitCode::SUCCESS
                }
            }
        }
        Err(e) => {
            eprintln!("error: MCP session did not start: {e}");
            ExitCode::FAILURE
        }
    };
    session.close().await;
    match channels {
        Some(server) => server.shutdown().await,
        None => scheduler.shutdown().await,
    }
    code
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}
