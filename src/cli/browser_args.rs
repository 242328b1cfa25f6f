//! The browser options `run` and `serve` share.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::browser::{BrowserSource, Executor, LaunchOptions};

#[derive(Debug, Clone, Args)]
pub struct BrowserArgs {
    /// Chromium binary (else $CHROME, else chromium / chromium-browser / google-chrome on PATH).
    #[arg(long, value_name = "PATH")]
    pub chrome: Option<PathBuf>,
    /// Use an already-running browser instead of starting one: its DevTools endpoint, as
    /// ws://HOST:PORT/devtools/browser/ID or http://HOST:PORT.
    #[arg(long, value_name = "ENDPOINT", conflicts_with = "chrome")]
    pub attach: Option<String>,
    /// Deadline of a command that sets no `timeout` of its own, in ms.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub timeout: u64,
    /// Browser instances to start, each with its own queue; a task without an instanceId
    /// goes to the least-loaded one.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub instances: u16,
}

impl BrowserArgs {
    pub fn source(&self) -> BrowserSource {
        match &self.attach {
            Some(endpoint) => BrowserSource::Attach(endpoint.clone()),
            None => BrowserSource::Launch(LaunchOptions {
                chrome: self.chrome.clone(),
                ..LaunchOptions::default()
            }),
        }
    }

    pub fn executor(&self) -> Executor {
        Executor {
            default_timeout: Duration::from_millis(self.timeout),
        }
    }

    /// What to say when the browsers cannot be had.
    pub fn start_failure(&self) -> &'static str {
        if self.attach.is_some() {
            "cannot attach to the browser"
        } else {
            "cannot start Chromium"
        }
    }
}
