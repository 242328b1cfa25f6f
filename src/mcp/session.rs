//! One MCP session's browsers: its own, created on its first browser tool call, and those it
//! added with `browser_instance create` or `attach` (at most `max_instances` alive at once).
//! All are closed when the session ends (the handler holding it is dropped: stdio EOF, HTTP
//! session deleted or expired, SSE stream gone). With `--shared-instance` a session has no own
//! browser and uses the pool.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;
use tokio::sync::{Mutex, MutexGuard};

use crate::scheduler::{Caller, Scheduler};
use crate::task::{Action, InstanceAction, Task};

/// Where a session's tool calls run.
pub struct Session {
    scheduler: Scheduler,
    /// Use the pool instead of an instance of one's own.
    shared: bool,
    /// `mcp-N`, in task metadata and logs.
    pub label: String,
    /// The session's own instance, once created.
    instance: Mutex<Option<String>>,
    /// Instances the session added with browser_instance create / attach.
    added: Mutex<Vec<String>>,
    max_instances: usize,
}

static NEXT_SESSION: AtomicUsize = AtomicUsize::new(1);

impl Session {
    pub fn new(scheduler: Scheduler, shared: bool, max_instances: usize) -> Session {
        Session {
            scheduler,
            shared,
            label: format!("mcp-{}", NEXT_SESSION.fetch_add(1, Ordering::Relaxed)),
            instance: Mutex::new(None),
            added: Mutex::new(Vec::new()),
            max_instances,
        }
    }

    /// The instance a call runs on when it names none: the session's own (started now if it
    /// has none yet, or if its instance was closed meanwhile), or `None` for the pool's choice.
    pub async fn instance(&self, caller: &Caller) -> anyhow::Result<Option<String>> {
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
        let info = caller
            .create_instance(
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

    /// Room for `count` more added instances: the list of those alive, held (so that two calls
    /// cannot both take the last place) until [`adopt_instances`] records the new ones.
    pub async fn reserve_instances(
        &self,
        count: usize,
    ) -> Result<MutexGuard<'_, Vec<String>>, String> {
        let mut added = self.added.lock().await;
        // Those closed meanwhile (browser_instance close, DELETE /instances) no longer count.
        let alive: Vec<String> = self
            .scheduler
            .instances()
            .await
            .into_iter()
            .map(|i| i.id)
            .collect();
        added.retain(|id| alive.contains(id));
        if added.len() + count > self.max_instances {
            return Err(format!(
                "this MCP session has {} instance(s) it added open ({}), and the limit is {} \
                 (--max-mcp-instances): close one with browser_instance close first",
                added.len(),
                if added.is_empty() {
                    "none".to_string()
                } else {
                    added.join(", ")
                },
                self.max_instances
            ));
        }
        Ok(added)
    }

    /// Closes the session's instances now (their queues are cancelled).
    pub async fn close(&self) {
        let mut ids: Vec<String> = self.instance.lock().await.take().into_iter().collect();
        ids.append(&mut *self.added.lock().await);
        for id in ids {
            let _ = self.scheduler.close_instance(&id, None).await;
            tracing::info!("{}: closed its instance {id}", self.label);
        }
    }
}

/// Records the instances `task` added (the ids in its create / attach results).
pub fn adopt_instances(added: &mut Vec<String>, task: &Task) {
    for command in &task.commands {
        let adds = matches!(
            command.parsed.action,
            Action::Instance(InstanceAction::Create { .. } | InstanceAction::Attach { .. })
        );
        let Some(result) = command.result.as_ref().filter(|_| adds) else {
            continue;
        };
        let info: Option<Value> = serde_json::from_str(&result.joined_text()).ok();
        if let Some(id) = info.as_ref().and_then(|i| i["id"].as_str()) {
            added.push(id.to_string());
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let mut ids: Vec<String> = self.instance.get_mut().take().into_iter().collect();
        ids.append(self.added.get_mut());
        if ids.is_empty() {
            return;
        }
        let scheduler = self.scheduler.clone();
        let label = self.label.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    for id in ids {
                        let _ = scheduler.close_instance(&id, None).await;
                        tracing::info!("{label}: session ended, closed its instance {id}");
                    }
                });
            }
            // No runtime left: the process is ending, and the scheduler's shutdown closes it.
            Err(_) => scheduler.begin_shutdown(),
        }
    }
}
