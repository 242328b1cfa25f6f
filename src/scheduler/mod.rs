//! The scheduler: owns the browser instances, a FIFO queue per instance, and the task store.
//! Every door submits, cancels and lists through it, and watches its [`EventBus`].

mod store;
mod worker;

pub use store::{TaskFilter, TaskStore};

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::browser::{BrowserInstance, BrowserSource, Executor, Health, LaunchOptions};
use crate::events::{Event, EventBus, EventKind};
use crate::task::{
    now_ms, validate_submission, CommandError, InstanceAction, Task, ToolResult, ValidationError,
};

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

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CloseError {
    #[error("Unknown instance: {0}")]
    UnknownInstance(String),
    #[error("cannot close {0}: the task asking runs on it")]
    OwnInstance(String),
}

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
    /// `ready`, `lost` (noticed, not yet relaunched) or `relaunching`.
    pub status: String,
    /// Attached to a browser started elsewhere (`browser_instance attach`).
    pub remote: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    pub queued: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running_task_id: Option<String>,
    /// Started for one client (an MCP session): tasks without an `instanceId` never go to it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub private: bool,
}

/// One instance's queue and the worker that drains it.
struct Slot {
    id: String,
    source: BrowserSource,
    /// Not part of the least-loaded choice (see [`InstanceInfo::private`]).
    private: bool,
    state: Mutex<SlotState>,
    wake: Notify,
    instance: Mutex<Option<Arc<BrowserInstance>>>,
    /// Cancelled when the instance is closed or the scheduler shuts down: the worker ends.
    stop: CancellationToken,
    worker: Mutex<Option<JoinHandle<()>>>,
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
    /// What `browser_instance create` starts from (the Chromium binary, flags).
    launch_defaults: LaunchOptions,
    next_instance: AtomicUsize,
    slots: Mutex<BTreeMap<String, Arc<Slot>>>,
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
        let launch_defaults = match &config.source {
            BrowserSource::Launch(options) => options.clone(),
            BrowserSource::Attach(_) => LaunchOptions::default(),
        };
        let scheduler = Scheduler {
            inner: Arc::new(Inner {
                store: TaskStore::new(config.keep_finished),
                events: EventBus::new(4096),
                executor: config.executor,
                capture_on_failure: config.capture_on_failure,
                max_queued: config.max_queued,
                launch_defaults,
                next_instance: AtomicUsize::new(1),
                slots: Mutex::new(BTreeMap::new()),
                shutdown: CancellationToken::new(),
            }),
        };
        for _ in 0..config.instances {
            if let Err(e) = scheduler.add_instance(config.source.clone()).await {
                scheduler.shutdown().await;
                return Err(e);
            }
        }
        Ok(scheduler)
    }

    /// Starts (or attaches to) a browser as a new instance `inst_N` with its own queue.
    pub async fn add_instance(&self, source: BrowserSource) -> anyhow::Result<InstanceInfo> {
        self.add_instance_as(source, false).await
    }

    /// [`Scheduler::add_instance`], `private` to one client when asked: tasks that name no
    /// instance are never placed on a private one.
    pub async fn add_instance_as(
        &self,
        source: BrowserSource,
        private: bool,
    ) -> anyhow::Result<InstanceInfo> {
        anyhow::ensure!(
            !self.inner.shutdown.is_cancelled(),
            "the scheduler is shutting down"
        );
        let id = format!(
            "inst_{}",
            self.inner.next_instance.fetch_add(1, Ordering::Relaxed)
        );
        let instance = BrowserInstance::start(id.clone(), source.clone()).await?;
        let slot = Arc::new(Slot {
            id: id.clone(),
            source,
            private,
            state: Mutex::new(SlotState::default()),
            wake: Notify::new(),
            instance: Mutex::new(Some(Arc::new(instance))),
            stop: self.inner.shutdown.child_token(),
            worker: Mutex::new(None),
        });
        self.inner
            .slots
            .lock()
            .unwrap()
            .insert(id.clone(), slot.clone());
        let worker = tokio::spawn(worker::run(self.clone(), slot.clone()));
        *slot.worker.lock().unwrap() = Some(worker);
        self.inner.events.emit(&id, EventKind::InstanceAdded);
        Ok(self.describe(&slot))
    }

    /// [`Scheduler::add_instance`] behind a box: a worker's task may add an instance, whose
    /// worker may add one in turn, and the compiler cannot prove such a cycle `Send` unboxed.
    fn add_instance_boxed(
        &self,
        source: BrowserSource,
        private: bool,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = anyhow::Result<InstanceInfo>> + Send + '_>,
    > {
        Box::pin(self.add_instance_as(source, private))
    }

    /// Removes an instance from the pool: its queued tasks complete as cancelled, its running
    /// task is cancelled, then its browser is closed. `caller` is the instance of the task
    /// asking, if any: a task cannot close the instance it runs on.
    pub async fn close_instance(&self, id: &str, caller: Option<&str>) -> Result<(), CloseError> {
        if caller == Some(id) {
            return Err(CloseError::OwnInstance(id.into()));
        }
        let slot = self
            .inner
            .slots
            .lock()
            .unwrap()
            .remove(id)
            .ok_or_else(|| CloseError::UnknownInstance(id.into()))?;
        // Stop first: a submit racing this sees it under the queue lock and refuses.
        slot.stop.cancel();
        let queued: Vec<String> = {
            let mut state = slot.state.lock().unwrap();
            if let Some((_, token)) = &state.running {
                token.cancel();
            }
            state.queue.drain(..).collect()
        };
        for task_id in queued {
            self.finish_unstarted(&slot.id, &task_id);
        }
        slot.wake.notify_one();
        // The rest runs on its own, so it completes even if the caller is dropped (a task
        // closing an instance can itself be cancelled).
        let scheduler = self.clone();
        let closing = tokio::spawn(async move {
            let worker = slot.worker.lock().unwrap().take();
            if let Some(worker) = worker {
                let _ = worker.await;
            }
            let instance = slot.instance.lock().unwrap().take();
            if let Some(instance) = instance {
                instance.close().await;
            }
            scheduler
                .inner
                .events
                .emit(&slot.id, EventKind::InstanceClosed);
        });
        let _ = closing.await;
        Ok(())
    }

    /// Runs a `browser_instance` action. `caller` is the instance of the task asking, if any.
    pub async fn instance_action(
        &self,
        action: &InstanceAction,
        caller: Option<&str>,
    ) -> Result<ToolResult, CommandError> {
        fn json(value: &impl Serialize) -> ToolResult {
            ToolResult::text(serde_json::to_string(value).expect("plain data serializes"))
        }
        match action {
            InstanceAction::List => Ok(json(&self.instances())),
            InstanceAction::Create { .. } | InstanceAction::Attach { .. } => {
                let info = self
                    .create_instance(action)
                    .await
                    .map_err(|e| CommandError::execution(format!("{e:#}")))?;
                Ok(json(&info))
            }
            InstanceAction::Close { instance_id } => {
                self.close_instance(instance_id, caller)
                    .await
                    .map_err(|e| CommandError::execution(e.to_string()))?;
                Ok(ToolResult::text(format!("Closed {instance_id}")))
            }
        }
    }

    /// Adds an instance as `browser_instance create` or `attach` describes it. A created
    /// browser starts from the scheduler's launch options (its Chromium binary, its flags).
    pub async fn create_instance(&self, action: &InstanceAction) -> anyhow::Result<InstanceInfo> {
        self.create_instance_as(action, false).await
    }

    /// [`Scheduler::create_instance`], `private` to one client when asked (an MCP session's own
    /// browser).
    pub async fn create_instance_as(
        &self,
        action: &InstanceAction,
        private: bool,
    ) -> anyhow::Result<InstanceInfo> {
        let source = match action {
            InstanceAction::Create {
                viewport,
                user_agent,
                headless,
                args,
            } => {
                let mut options = self.inner.launch_defaults.clone();
                if let Some(v) = viewport {
                    options.viewport = (v.width, v.height);
                }
                if user_agent.is_some() {
                    options.user_agent = user_agent.clone();
                }
                options.headless = *headless;
                options.extra_args.extend(args.iter().cloned());
                BrowserSource::Launch(options)
            }
            InstanceAction::Attach { endpoint } => BrowserSource::Attach(endpoint.clone()),
            InstanceAction::List | InstanceAction::Close { .. } => {
                anyhow::bail!(
                    "browser_instance {} does not add an instance",
                    crate::task::Action::Instance(action.clone()).name()
                )
            }
        };
        let what = match &source {
            BrowserSource::Launch(_) => "cannot start a browser".to_string(),
            BrowserSource::Attach(endpoint) => format!("cannot attach to {endpoint}"),
        };
        self.add_instance_boxed(source, private)
            .await
            .map_err(|e| e.context(what))
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
            None => "relaunching",
            Some(Health::Lost(_)) => "lost",
            Some(_) => "ready",
        };
        let endpoint = match &slot.source {
            BrowserSource::Attach(endpoint) => Some(endpoint.clone()),
            BrowserSource::Launch(_) => None,
        };
        let state = slot.state.lock().unwrap();
        InstanceInfo {
            id: slot.id.clone(),
            status: status.into(),
            remote: endpoint.is_some(),
            endpoint,
            pid: instance.and_then(|i| i.pid()),
            queued: state.queue.len(),
            running_task_id: state.running.as_ref().map(|(id, _)| id.clone()),
            private: slot.private,
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
                .filter(|s| !s.private)
                .min_by_key(|s| s.load())
                .cloned()
                .ok_or(SubmitError::NoInstance)?,
        };
        let asked_for = spec.instance_id.clone();
        let task = Task::new(spec, slot.id.clone());
        let task_id = task.id.clone();
        let position = {
            let mut state = slot.state.lock().unwrap();
            if slot.stop.is_cancelled() {
                // Closed between the lookup and now.
                return Err(match asked_for {
                    Some(id) => SubmitError::UnknownInstance(id),
                    None => SubmitError::NoInstance,
                });
            }
            if state.queue.len() >= self.inner.max_queued {
                return Err(SubmitError::QueueFull {
                    instance: slot.id.clone(),
                    limit: self.inner.max_queued,
                });
            }
            self.inner.store.insert(task.clone());
            state.queue.push_back(task_id.clone());
            let position = state.queue.len() - 1 + usize::from(state.running.is_some());
            // Emitted under the queue lock: the worker pops under it too, so `queued` always
            // precedes `started` on the event stream.
            self.inner.events.emit(
                &slot.id,
                EventKind::TaskQueued {
                    task_id: task_id.clone(),
                    position,
                },
            );
            position
        };
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
        for slot in &slots {
            let worker = slot.worker.lock().unwrap().take();
            if let Some(worker) = worker {
                let _ = worker.await;
            }
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
        use tokio::sync::broadcast::error::RecvError;
        // Subscribed before looking: the end cannot slip between the two.
        let mut events = self.inner.events.subscribe();
        // Read in place: a running task's record (screenshots and all) is not copied.
        let finished_now =
            |store: &TaskStore| store.read(task_id, |t| t.status.is_finished().then(|| t.clone()));
        match finished_now(&self.inner.store) {
            None => return None,
            Some(Some(task)) => return Some(task),
            Some(None) => {}
        }
        loop {
            match events.recv().await {
                Ok(Event {
                    kind: EventKind::TaskFinished { task },
                    ..
                }) if task.id == task_id => return Some(Task::clone(&task)),
                Ok(_) => {}
                // Missed events: the record says whether the end was among them.
                Err(RecvError::Lagged(_)) => match finished_now(&self.inner.store) {
                    Some(None) => {}
                    gone_or_done => return gone_or_done.flatten(),
                },
                Err(RecvError::Closed) => return None,
            }
        }
    }
}
