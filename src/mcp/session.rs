//! One MCP session's browser: created on its first browser tool call, closed when the session
//! ends (the handler holding it is dropped: stdio EOF, HTTP session deleted or expired, SSE
//! stream gone). With `--shared-instance` a session has none and uses the pool.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Mutex;

use crate::scheduler::Scheduler;
use crate::task::InstanceAction;

/// Where a session's tool calls run.
pub struct Session {
    scheduler: Scheduler,
    /// Use the pool instead of an instance of one's own.
    shared: bool,
    /// `mcp-N`, in task metadata and logs.
    pub label: String,
    /// The session's own instance, once created.
    instance: Mutex<Option<String>>,
}

static NEXT_SESSION: AtomicUsize = AtomicUsize::new(1);

impl Session {
    pub fn new(scheduler: Scheduler, shared: bool) -> Session {
        Session {
            scheduler,
            shared,
            label: format!("mcp-{}", NEXT_SESSION.fetch_add(1, Ordering::Relaxed)),
            instance: Mutex::new(None),
        }
    }

    /// The instance a call runs on when it names none: the session's own (started now if it
    /// has none yet, or if its instance was closed meanwhile), or `None` for the pool's choice.
    pub async fn instance(&self) -> anyhow::Result<Option<String>> {
        if self.shared {
            return Ok(None);
        }
        let mut slot = self.instance.lock().await;
        if let Some(id) = slot.as_ref() {
            if self.scheduler.instances().await.iter().any(|i| &i.id == id) {
                return Ok(Some(id.clone()));
            }
            tracing::info!("{}: instance {id} was closed; starting another", self.label);
        }
        let info = self
            .scheduler
            .create_instance_as(
                &InstanceAction::Create {
                    viewport: None,
                    user_agent: None,
                    headless: true,
                    args: Vec::new(),
                },
                true,
            )
            .await?;
        tracing::info!("{}: started its instance {}", self.label, info.id);
        *slot = Some(info.id.clone());
        Ok(Some(info.id))
    }

    /// Closes the session's instance now (its queue is cancelled).
    pub async fn close(&self) {
        let id = self.instance.lock().await.take();
        if let Some(id) = id {
            let _ = self.scheduler.close_instance(&id, None).await;
            tracing::info!("{}: closed its instance {id}", self.label);
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let Some(id) = self.instance.get_mut().take() else {
            return;
        };
        let scheduler = self.scheduler.clone();
        let label = self.label.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    let _ = scheduler.close_instance(&id, None).await;
                    tracing::info!("{label}: session ended, closed its instance {id}");
                });
            }
            // No runtime left: the process is ending, and the scheduler's shutdown closes it.
            Err(_) => scheduler.begin_shutdown(),
        }
    }
}
