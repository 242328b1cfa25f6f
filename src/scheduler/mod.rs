//! The scheduler: owns the browser instances, a FIFO queue per instance, and the task store.
//! Every door submits, cancels and lists through it, and watches its [`EventBus`].

mod store;
mod worker;

pub use store::{TaskFilter, TaskStore};

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::browser::{BrowserInstance, BrowserSource, Executor, Health};
use crate::events::{EventBus, EventKind};
use crate::task::{now_ms, validate_submission, Task, ValidationError};

#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Instances started at boot, all from `source`.
    pub instances: usize,
    pub source: BrowserSource,
    pub executor: Executor,
    /// Tasks waiting per instance beyond which a submit is refused.
    pub max_queued: usize,
    /// Finished tasks kept in the store.
    pub keep_finished: usize,
    /// Screenshot the page when a command fails, as a [`EventKind::FailureScreenshot`] event.
    pub capture_on_failure: bool,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            instances: 1,
            source: BrowserSource::Launch(Default::default()),
            executor: Executor::default(),
            max_queued: 500,
            keep_finished: 1000,
            capture_on_failure: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SubmitError {
    #[error("Invalid task: {0}")]
    Invalid(#[from] ValidationError),
    #[error("Unknown instance: {0}")]
    UnknownInstance(String),
    #[error("Queue full: instance {instance} already has {limit} queued tasks")]
    QueueFull { instance: String, limit: usize },
    #[error("No browser instance available")]
    NoInstance,
    #[error("Scheduler is shutting down")]
    ShuttingDown,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("Task not found or already completed")]
pub struct CancelError;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Submitted {
    pub task_id: String,
    pub instance_id: String,
    /// Tasks that run on the instance before this one (the running one included).
    pub queue_position: usize,
    /// The task's record as queued (metadata included).
    #[serde(skip)]
    pub task: Task,
}

/// What `browser_instance list` and the doors show of an instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceInfo {
    pub id: String,
    /// `starting`, `ready`, `lost`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    pub queued: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running_task_id: Option<String>,
}

/// One instance's queue and the worker that drains it.
struct Slot {
    id: String,
    source: BrowserSource,
    state: Mutex<SlotState>,
    wake: Notify,
    instance: Mutex<Option<Arc<BrowserInstance>>>,
}

#[derive(Default)]
struct SlotState {
    queue: VecDeque<String>,
    running: Option<(String, CancellationToken)>,
}

impl Slot {
    fn load(&self) -> usize {
        let state = self.state.lock().unwrap();
        state.queue.len() + usize::from(state.running.is_some())
    }

    fn current_instance(&self) -> Option<Arc<BrowserInstance>> {
        self.instance.lock().unwrap().clone()
    }
}

struct Inner {
    store: TaskStore,
    events: EventBus,
    executor: Executor,
    capture_on_failure: bool,
    max_queued: usize,
    slots: Mutex<BTreeMap<String, Arc<Slot>>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    shutdown: CancellationToken,
}

/// Cheap to clone: every door holds one.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

impl Scheduler {
    /// Starts the configured instances (in turn: Chromium starts are heavy on two cores).
    pub async fn start(config: SchedulerConfig) -> anyhow::Result<Scheduler> {
        let scheduler = Scheduler {
            inner: Arc::new(Inner {
                store: TaskStore::new(config.keep_finished),
                events: EventBus::new(4096),
                executor: config.executor,
                capture_on_failure: config.capture_on_failure,
                max_queued: config.max_queued,
                slots: Mutex::new(BTreeMap::new()),
                workers: Mutex::new(Vec::new()),
                shutdown: CancellationToken::new(),
            }),
        };
        for n in 1..=config.instances {
            if let Err(e) = scheduler
                .add_instance(format!("inst_{n}"), config.source.clone())
                .await
            {
                scheduler.shutdown().await;
                return Err(e);
            }
        }
        Ok(scheduler)
    }

    /// Starts a browser as a new instance with its own queue.
    pub async fn add_instance(
        &self,
        id: String,
        source: BrowserSource,
    ) -> anyhow::Result<InstanceInfo> {
        anyhow::ensure!(
            !self.inner.slots.lock().unwrap().contains_key(&id),
            "instance {id} already exists"
        );
        let instance = BrowserInstance::start(id.clone(), source.clone()).await?;
        let slot = Arc::new(Slot {
            id: id.clone(),
            source,
            state: Mutex::new(SlotState::default()),
            wake: Notify::new(),
            instance: Mutex::new(Some(Arc::new(instance))),
        });
        self.inner
            .slots
            .lock()
            .unwrap()
            .insert(id.clone(), slot.clone());
        let worker = tokio::spawn(worker::run(self.clone(), slot.clone()));
        self.inner.workers.lock().unwrap().push(worker);
        Ok(self.describe(&slot))
    }

    pub fn events(&self) -> &EventBus {
        &self.inner.events
    }

    pub fn store(&self) -> &TaskStore {
        &self.inner.store
    }

    /// The instance object behind `id` (for tests and diagnostics: pid, profile folder).
    pub fn instance(&self, id: &str) -> Option<Arc<BrowserInstance>> {
        self.slot(id)?.current_instance()
    }

    fn slot(&self, id: &str) -> Option<Arc<Slot>> {
        self.inner.slots.lock().unwrap().get(id).cloned()
    }

    pub fn instances(&self) -> Vec<InstanceInfo> {
        let slots: Vec<Arc<Slot>> = self.inner.slots.lock().unwrap().values().cloned().collect();
        slots.iter().map(|s| self.describe(s)).collect()
    }

    fn describe(&self, slot: &Slot) -> InstanceInfo {
        let instance = slot.current_instance();
        let status = match instance.as_ref().map(|i| i.health()) {
            None => "starting",
            Some(Health::Lost(_)) => "lost",
            Some(_) => "ready",
        };
        let state = slot.state.lock().unwrap();
        InstanceInfo {
            id: slot.id.clone(),
            status: status.into(),
            pid: instance.and_then(|i| i.pid()),
            queued: state.queue.len(),
            running_task_id: state.running.as_ref().map(|(id, _)| id.clone()),
        }
    }

    /// Validates and queues a task: on its `instanceId`, else on the least-loaded instance.
    pub fn submit(&self, submission: &Value) -> Result<Submitted, SubmitError> {
        if self.inner.shutdown.is_cancelled() {
            return Err(SubmitError::ShuttingDown);
        }
        let spec = validate_submission(submission)?;
        let slot = match &spec.instance_id {
            Some(id) => self
                .slot(id)
                .ok_or_else(|| SubmitError::UnknownInstance(id.clone()))?,
            None => self
                .inner
                .slots
                .lock()
                .unwrap()
                .values()
                .min_by_key(|s| s.load())
                .cloned()
                .ok_or(SubmitError::NoInstance)?,
        };
        let task = Task::new(spec, slot.id.clone());
        let task_id = task.id.clone();
        let position = {
            let mut state = slot.state.lock().unwrap();
            if state.queue.len() >= self.inner.max_queued {
                return Err(SubmitError::QueueFull {
                    instance: slot.id.clone(),
                    limit: self.inner.max_queued,
                });
            }
            self.inner.store.insert(task.clone());
            state.queue.push_back(task_id.clone());
            state.queue.len() - 1 + usize::from(state.running.is_some())
        };
        self.inner.events.emit(
            &slot.id,
            EventKind::TaskQueued {
                task_id: task_id.clone(),
                position,
            },
        );
        slot.wake.notify_one();
        Ok(Submitted {
            task_id,
            instance_id: slot.id.clone(),
            queue_position: position,
            task,
        })
    }

    /// Cancels a queued task (it completes as cancelled, every command skipped) or a running one
    /// (its command in flight is stopped, the rest skipped).
    pub fn cancel(&self, task_id: &str) -> Result<(), CancelError> {
        let task = self.inner.store.get(task_id).ok_or(CancelError)?;
        if task.status.is_finished() {
            return Err(CancelError);
        }
        let slot = self.slot(&task.instance_id).ok_or(CancelError)?;
        let mut state = slot.state.lock().unwrap();
        if let Some(pos) = state.queue.iter().position(|id| id == task_id) {
            state.queue.remove(pos);
            drop(state);
            self.finish_unstarted(&slot.id, task_id);
            return Ok(());
        }
        match &state.running {
            Some((id, token)) if id == task_id => {
                token.cancel();
                Ok(())
            }
            _ => Err(CancelError),
        }
    }

    /// Ends a task that never ran as cancelled.
    fn finish_unstarted(&self, instance_id: &str, task_id: &str) {
        let now = now_ms();
        let done = self.inner.store.update(task_id, |t| {
            let skipped = t.skip_unfinished(now);
            t.finish(true, now).map(|_| (skipped, t.clone()))
        });
        if let Some(Ok((skipped, task))) = done {
            worker::emit_skipped(&self.inner.events, instance_id, &task, &skipped);
            self.inner.events.emit(
                instance_id,
                EventKind::TaskFinished {
                    task: Arc::new(task),
                },
            );
        }
    }

    /// Stops accepting tasks and relaunching browsers, without waiting: for exit paths that
    /// cannot await (the async [`Scheduler::shutdown`] does this first).
    pub fn begin_shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// Cancels everything, stops the workers and closes every browser. No process or profile
    /// folder outlives it.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        let slots: Vec<Arc<Slot>> = self.inner.slots.lock().unwrap().values().cloned().collect();
        for slot in &slots {
            let queued: Vec<String> = slot.state.lock().unwrap().queue.drain(..).collect();
            for id in queued {
                self.finish_unstarted(&slot.id, &id);
            }
            if let Some((_, token)) = &slot.state.lock().unwrap().running {
                token.cancel();
            }
            slot.wake.notify_one();
        }
        let workers: Vec<JoinHandle<()>> = self.inner.workers.lock().unwrap().drain(..).collect();
        for w in workers {
            let _ = w.await;
        }
        for slot in &slots {
            let instance = slot.instance.lock().unwrap().take();
            if let Some(instance) = instance {
                instance.close().await;
            }
        }
    }

    /// Waits until the task is finished and returns its final record.
    pub async fn wait_finished(&self, task_id: &str) -> Option<Task> {
        let mut events = self.inner.events.subscribe();
        loop {
            match self.inner.store.get(task_id) {
                Some(t) if t.status.is_finished() => return Some(t),
                None => return None,
                _ => {}
            }
            match events.recv().await {
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}
