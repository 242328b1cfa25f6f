//! The task-store options `serve`, `run` and `mcp` share.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use crate::store::{Retention, StoreUrl, TaskStore};

#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Where tasks are kept: `sqlite://PATH` (one runner), `postgres://USER@HOST:PORT/DB`
    /// (several runners sharing one queue) or `memory` (nothing kept after exit). `serve`
    /// defaults to sqlite:// in $XDG_DATA_HOME/browser-control/tasks.db
    /// (~/.local/share/browser-control/tasks.db); `run` and `mcp` to memory.
    #[arg(
        long,
        value_name = "URL",
        env = "BROWSER_CONTROL_STORE",
        hide_env_values = true
    )]
    pub store: Option<StoreUrl>,
    /// Finished tasks kept (the oldest go first).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub keep_finished: usize,
    /// Finished tasks older than this are dropped (e.g. 7d, 12h); kept until the count or
    /// the byte cap drops them when unset.
    #[arg(long, value_name = "DURATION")]
    pub retain: Option<humantime::Duration>,
    /// Screenshots and PDFs kept with finished tasks, in MiB in all (the oldest tasks go
    /// first).
    #[arg(long, value_name = "MIB", default_value_t = 512)]
    pub max_artifact_mib: u64,
    /// On a shared store, a runner whose heartbeat is older than this is lost: its running
    /// tasks fail and the tasks queued on it that named no instance run elsewhere.
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub lease: humantime::Duration,
}

impl StoreArgs {
    pub fn retention(&self) -> Retention {
        Retention {
            keep_finished: self.keep_finished,
            max_age: self.retain.map(Duration::from),
            max_artifact_bytes: self.max_artifact_mib.saturating_mul(1024 * 1024),
        }
    }

    pub fn url(
        &self,
        default: impl FnOnce() -> anyhow::Result<StoreUrl>,
    ) -> anyhow::Result<StoreUrl> {
        match &self.store {
            Some(url) => Ok(url.clone()),
            None => default(),
        }
    }

    /// Opens the store (its migrations run now).
    pub async fn open(&self, url: &StoreUrl) -> anyhow::Result<Arc<dyn TaskStore>> {
        crate::store::open(url, self.retention())
            .await
            .map_err(|e| e.context(format!("cannot open the task store {url}")))
    }

    pub fn lease(&self) -> Duration {
        self.lease.into()
    }
}
