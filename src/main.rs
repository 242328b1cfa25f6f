use std::process::ExitCode;

use browser_control::cli::{Cli, Command};
use clap::Parser;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&cli.log).unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match cli.threads {
        1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        0 => tokio::runtime::Runtime::new(),
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        match cli.command {
            Command::Run(args) => browser_control::cli::run::run(args).await,
            Command::Serve(args) => browser_control::cli::serve::serve(args).await,
            Command::Mcp(args) => browser_control::cli::mcp::mcp(args).await,
            Command::Keys(args) => browser_control::cli::keys::keys(args).await,
            Command::Schema => {
                let schema = browser_control::task::catalog::task_file_schema();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&schema).expect("a schema is JSON")
                );
                ExitCode::SUCCESS
            }
        }
    })
}
