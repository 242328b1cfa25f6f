//! The scheduler: owns this runner's browser instances and their workers, and is the only
//! writer of the task store (whose queue they share with other runners on a shared store).
//! Every door submits, cancels and reads through it, and watches its [`EventBus`].

mod approvals;
mod caller;
mod cluster;
pub mod external;
mod replay;
mod tasks;
mod undo;
mod watch;
mod worker;

pub use crate::store::TaskFilter;
pub use approvals::{DecideError, DecisionInput};
pub use caller::{Caller, InstanceLimit, UserLimits, Visible};
pub use replay::{catch_up, Seen};
pub use tasks::Tasks;
pub use undo::UndoError;
pub use watch::Watch;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::browser::{BrowserInstance, BrowserSource, Executor, Health, LaunchOptions};
use crate::events::{EventBus, EventKind};
use crate::store::{
    memory::MemoryStore, EnqueueError, InstanceRecord, Node, Placement, Retention, TaskStore,
};
use crate::task::approval::Policy;
use crate::task::{now_ms, Door, InstanceAction, Task, TaskSpec, TaskStatus, User};

#[derive(Clone)]
pub struct SchedulerConfig {
    /// Instances started at boot, all from `source`.
    pub instances: usize,
    pub source: BrowserSource,
    pub executor: Executor,
    /// Tasks waiting per instance beyond which a submit is refused.
    pub max_queued: usize,
    /// Where tasks live (opened by the caller: see [`crate::store::open`]).
    pub store: Arc<dyn TaskStore>,
    /// What finished tasks keep.
    pub retention: Retention,
    /// A runner of a shared store whose heartbeat is older than this is lost.
    pub lease: Duration,
    /// Screenshot the page when a command fails, kept with the record.
    pub capture_on_failure: bool,
    /// Tests only: a command whose intention is this makes the worker panic.
    #[doc(hidden)]
    pub panic_on_intention: Option<String>,
    /// What one user may hold at once.
    pub user_limits: UserLimits,
    /// Which commands need a person's yes (`--policy`); the default allows everything.
    pub policy: Arc<Policy>,
    /// Which tasks keep an undo checkpoint before each command that changes state.
    pub checkpoints: Checkpoints,
    /// `--public NAME=VALUE`: what external steps' `${PUBLIC.NAME}` placeholders stand for.
    pub public_values: BTreeMap<String, String>,
}

/// Which tasks keep undo checkpoints (a few CDP calls before each command that can change
/// state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Checkpoints {
    /// Tasks submitted through the agent API (whose users have undo).
    #[default]
    Agent,
    All,
    Off,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        let retention = Retention::default();
        SchedulerConfig {
            instances: 1,
            source: BrowserSource::Launch(Default::default()),
            executor: Executor::default(),
            max_queued: 500,
            store: Arc::new(MemoryStore::new(retention.clone())),
            retention,
            lease: Duration::from_secs(5),
            capture_on_failure: false,
            panic_on_intention: None,
            user_limits: UserLimits::default(),
            policy: Arc::new(Policy::default()),
            checkpoints: Checkpoints::default(),
            public_values: BTreeMap::new(),
        }
    }
}

/// Why a task was not accepted: one variant, and one [`SubmitError::code`], per cause.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SubmitError {
    #[error("Unknown instance: {0}")]
    UnknownInstance(String),
    #[error("Queue full: instance {instance} already has {limit} queued tasks")]
    QueueFull { instance: String, limit: usize },
    #[error("No browser instance available")]
    NoInstance,
    #[error("Scheduler is shutting down")]
    ShuttingDown,
    #[error("The task store is unavailable: {0}")]
    Store(String),
    #[error("Too many queued tasks: {user} already has {limit} waiting")]
    UserQueueFull { user: String, limit: usize },
    /// A command the approval policy denies outright.
    #[error("Refused: {0}")]
    PolicyDenied(String),
    /// An argument only the server can check (an external step's `${PUBLIC.NAME}`).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
}

impl SubmitError {
    /// The stable code every door reports.
    pub fn code(&self) -> &'static str {
        match self {
            SubmitError::UnknownInstance(_) => "UNKNOWN_INSTANCE",
            SubmitError::QueueFull { .. } => "QUEUE_FULL",
            SubmitError::NoInstance => "NO_INSTANCE",
            SubmitError::ShuttingDown => "SHUTTING_DOWN",
            SubmitError::Store(_) => "STORE_UNAVAILABLE",
            SubmitError::UserQueueFull { .. } => "QUEUE_FULL",
            SubmitError::PolicyDenied(_) => "POLICY_DENIED",
            SubmitError::Invalid { .. } => "INVALID_ARGUMENTS",
        }
    }
}

impl From<EnqueueError> for SubmitError {
    fn from(e: EnqueueError) -> Self {
        match e {
            EnqueueError::UnknownInstance(id) => SubmitError::UnknownInstance(id),
            EnqueueError::QueueFull { instance, limit } => {
                SubmitError::QueueFull { instance, limit }
            }
            EnqueueError::NoInstance => SubmitError::NoInstance,
        }
    }
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
    /// The runner it belongs to.
    pub node: String,
    /// The user who created it; none for the shared boot pool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// One instance and the worker that runs its tasks.
struct Slot {
    id: String,
    source: BrowserSource,
    private: bool,
    owner: Option<String>,
    /// The task running now, and how to stop it.
    running: Mutex<Option<(String, CancellationToken)>>,
    /// A task may be waiting in the store for this instance.
    wake: Notify,
    instance: Mutex<Option<Arc<BrowserInstance>>>,
    /// Cancelled when the instance is closed or the scheduler shuts down: the worker ends.
    stop: CancellationToken,
    /// Held while a task runs, and while an undo restores a page: one at a time.
    busy: tokio::sync::Mutex<()>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl Slot {
    fn current_instance(&self) -> Option<Arc<BrowserInstance>> {
        self.instance.lock().unwrap().clone()
    }

    fn running_task(&self) -> Option<String> {
        self.running
            .lock()
            .unwrap()
            .as_ref()
            .map(|(id, _)| id.clone())
    }
}

struct Inner {
    store: Arc<dyn TaskStore>,
    node: Node,
    events: EventBus,
    executor: Executor,
    capture_on_failure: bool,
    max_queued: usize,
    retention: Retention,
    lease: Duration,
    panic_on_intention: Option<String>,
    user_limits: UserLimits,
    policy: Arc<Policy>,
    checkpoints: Checkpoints,
    /// External steps' token channels.
    external: external::ExternalTasks,
    /// Woken whenever an approval is answered: waiting workers look at their record again.
    decided: Notify,
    /// Held (shared) by a worker from its claim until the task is live; exclusively by an
    /// answer to a task still in the store's queue, so the worker reads the answer or the
    /// answer finds the task live, never neither.
    claims: tokio::sync::RwLock<()>,
    /// Of each live task, the last journal entry the store holds: what the update streams
    /// may send (a message once sent keeps its id, even through a `kill -9`).
    stored: Mutex<HashMap<String, u64>>,
    /// Bumped whenever an entry of [`Inner::stored`] grows: a stream waiting for its task's
    /// news to be written hears it.
    settled: tokio::sync::watch::Sender<u64>,
    /// What `browser_instance create` starts from (the Chromium binary, flags).
    launch_defaults: LaunchOptions,
    slots: Mutex<BTreeMap<String, Arc<Slot>>>,
    /// Records of the tasks running here, ahead of the store (whose writes may lag a little):
    /// what readers see of them.
    live: Mutex<HashMap<String, Task>>,
    /// Tasks this runner queued, until a worker takes them: the worker starts from this
    /// record instead of reading it back, and whichever of the submit and the worker comes
    /// first under this lock tells `queued`, so it always precedes `started`.
    queued_here: Mutex<HashMap<String, QueuedHere>>,
    shutdown: CancellationToken,
    background: Mutex<Vec<JoinHandle<()>>>,
}

struct QueuedHere {
    task: Task,
    /// `TaskQueued` was emitted.
    announced: bool,
}

/// Cheap to clone: every door holds one.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

impl Scheduler {
    /// Joins the store, starts the configured instances (in turn: Chromium starts are heavy on
    /// two cores), then resolves what an earlier run left unfinished.
    pub async fn start(config: SchedulerConfig) -> anyhow::Result<Scheduler> {
        let launch_defaults = match &config.source {
            BrowserSource::Launch(options) => options.clone(),
            BrowserSource::Attach(_) => LaunchOptions::default(),
        };
        let node = config.store.join().await?;
        crate::task::id::set_node_number(node.number);
        let scheduler = Scheduler {
            inner: Arc::new(Inner {
                store: config.store,
                node,
                events: EventBus::new(4096),
                executor: config.executor,
                capture_on_failure: config.capture_on_failure,
                max_queued: config.max_queued,
                retention: config.retention,
                lease: config.lease,
                panic_on_intention: config.panic_on_intention,
                user_limits: config.user_limits,
                policy: config.policy,
                checkpoints: config.checkpoints,
                external: external::ExternalTasks::new(config.public_values),
                decided: Notify::new(),
                claims: tokio::sync::RwLock::new(()),
                stored: Mutex::new(HashMap::new()),
                settled: tokio::sync::watch::Sender::new(0),
                launch_defaults,
                slots: Mutex::new(BTreeMap::new()),
                live: Mutex::new(HashMap::new()),
                queued_here: Mutex::new(HashMap::new()),
                shutdown: CancellationToken::new(),
                background: Mutex::new(Vec::new()),
            }),
        };
        // The lease is kept from the join on: starting browsers can outlast it on a loaded
        // machine, and the other runners must not take this one for lost meanwhile.
        let joining = scheduler.inner.store.shared().then(|| {
            let s = scheduler.clone();
            tokio::spawn(async move {
                let every = (s.inner.lease / 3).max(Duration::from_millis(100));
                loop {
                    tokio::time::sleep(every).await;
                    if let Err(e) = s.inner.store.heartbeat(&s.inner.node).await {
                        tracing::warn!("task store: heartbeat: {e:#}");
                    }
                }
            })
        });
        for _ in 0..config.instances {
            if let Err(e) = scheduler.add_instance(config.source.clone()).await {
                if let Some(j) = &joining {
                    j.abort();
                }
                scheduler.shutdown().await;
                return Err(e);
            }
        }
        let started = cluster::start(&scheduler).await;
        if let Some(j) = joining {
            j.abort();
        }
        started?;
        Ok(scheduler)
    }

    /// This runner, as the store knows it.
    pub fn node(&self) -> &Node {
        &self.inner.node
    }

    pub fn store_kind(&self) -> &'static str {
        self.inner.store.kind()
    }

    /// API keys and the audit trail (for the doors' authentication and `/api/audit`).
    pub fn accounts(&self) -> Arc<dyn crate::store::Accounts> {
        self.inner.store.clone()
    }

    pub fn store_description(&self) -> String {
        self.inner.store.describe()
    }

    /// Starts (or attaches to) a browser as a new instance `inst_N` with its own worker.
    pub async fn add_instance(&self, source: BrowserSource) -> anyhow::Result<InstanceInfo> {
        self.add_instance_as(source, false, None).await
    }

    /// [`Scheduler::add_instance`], `private` to one client when asked: tasks that name no
    /// instance are never placed on a private one.
    /// `owner` is the user who asked for it (none: the shared pool).
    pub async fn add_instance_as(
        &self,
        source: BrowserSource,
        private: bool,
        owner: Option<String>,
    ) -> anyhow::Result<InstanceInfo> {
        anyhow::ensure!(
            !self.inner.shutdown.is_cancelled(),
            "the scheduler is shutting down"
        );
        let id = self.inner.store.new_instance_id().await?;
        let instance = BrowserInstance::start(id.clone(), source.clone()).await?;
        let slot = Arc::new(Slot {
            id: id.clone(),
            source,
            private,
            owner: owner.clone(),
            running: Mutex::new(None),
            wake: Notify::new(),
            instance: Mutex::new(Some(Arc::new(instance))),
            stop: self.inner.shutdown.child_token(),
            busy: tokio::sync::Mutex::new(()),
            worker: Mutex::new(None),
        });
        let record = InstanceRecord {
            id: id.clone(),
            node_id: self.inner.node.id.clone(),
            private,
            owner,
        };
        if let Err(e) = self.inner.store.add_instance(&record).await {
            let instance = slot.instance.lock().unwrap().take();
            if let Some(instance) = instance {
                instance.close().await;
            }
            return Err(e.context("cannot register the instance in the task store"));
        }
        self.inner
            .slots
            .lock()
            .unwrap()
            .insert(id.clone(), slot.clone());
        let worker = tokio::spawn(worker::run(self.clone(), slot.clone()));
        *slot.worker.lock().unwrap() = Some(worker);
        self.inner.events.emit(&id, EventKind::InstanceAdded);
        Ok(self.describe(&slot, 0))
    }

    /// [`Scheduler::add_instance`] behind a box: a worker's task may add an instance, whose
    /// worker may add one in turn, and the compiler cannot prove such a cycle `Send` unboxed.
    fn add_instance_boxed(
        &self,
        source: BrowserSource,
        private: bool,
        owner: Option<String>,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = anyhow::Result<InstanceInfo>> + Send + '_>,
    > {
        Box::pin(self.add_instance_as(source, private, owner))
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
        slot.stop.cancel();
        if let Some((_, token)) = &*slot.running.lock().unwrap() {
            token.cancel();
        }
        // Its queue is cancelled while the store still knows the instance (a runner lost in
        // between leaves them to be recovered with it), then once more for any task placed
        // there meanwhile, after it is out of the store.
        self.cancel_queued_on(&slot.id).await;
        if let Err(e) = self.inner.store.remove_instance(id).await {
            tracing::error!(instance = %id, "task store: {e:#}");
        }
        self.cancel_queued_on(&slot.id).await;
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

    /// Cancels every task queued on `instance_id` (its instance is going away).
    async fn cancel_queued_on(&self, instance_id: &str) {
        let filter = TaskFilter {
            instance_id: Some(instance_id.into()),
            status: Some(TaskStatus::Queued),
            owner: None,
        };
        let queued = match self.inner.store.list(&filter).await {
            Ok(queued) => queued,
            Err(e) => {
                tracing::error!(instance = %instance_id, "task store: {e:#}");
                return;
            }
        };
        for task in queued {
            let _ = self.cancel(&task.id).await;
        }
    }

    /// Adds an instance as `browser_instance create` or `attach` describes it, `private` to
    /// one client when asked, owned by `owner` (doors call it through a [`Caller`]). A created
    /// browser starts from the scheduler's launch options (its Chromium binary, its flags).
    pub async fn create_instance_as(
        &self,
        action: &InstanceAction,
        private: bool,
        owner: Option<String>,
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
        self.add_instance_boxed(source, private, owner)
            .await
            .map_err(|e| e.context(what))
    }

    pub fn events(&self) -> &EventBus {
        &self.inner.events
    }

    /// Hears when more of a live task's journal is stored (see [`Tasks::journal`]).
    pub fn settled(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.settled.subscribe()
    }

    /// Takes a task out of the live records (it ended, or waits in the store).
    fn forget_live(&self, task_id: &str) -> Option<Task> {
        self.inner.stored.lock().unwrap().remove(task_id);
        self.inner.live.lock().unwrap().remove(task_id)
    }

    /// Entry `seq` of the live task's journal is in the store.
    fn stored_through(&self, task_id: &str, seq: u64) {
        let grew = match self.inner.stored.lock().unwrap().get_mut(task_id) {
            Some(stored) if *stored < seq => {
                *stored = seq;
                true
            }
            _ => false,
        };
        if grew {
            self.inner.settled.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Tasks, read-only: what every door may see of them.
    pub fn tasks(&self) -> Tasks<'_> {
        Tasks::new(&self.inner)
    }

    /// The instance object behind `id` (for tests and diagnostics: pid, profile folder).
    pub fn instance(&self, id: &str) -> Option<Arc<BrowserInstance>> {
        self.slot(id)?.current_instance()
    }

    fn slot(&self, id: &str) -> Option<Arc<Slot>> {
        self.inner.slots.lock().unwrap().get(id).cloned()
    }

    fn slots(&self) -> Vec<Arc<Slot>> {
        self.inner.slots.lock().unwrap().values().cloned().collect()
    }

    /// This runner's instances, with their queues.
    pub async fn instances(&self) -> Vec<InstanceInfo> {
        let queued = self.queued_counts().await;
        self.slots()
            .iter()
            .map(|s| self.describe(s, queued.get(&s.id).copied().unwrap_or(0)))
            .collect()
    }

    async fn queued_counts(&self) -> HashMap<String, usize> {
        let filter = TaskFilter {
            instance_id: None,
            status: Some(TaskStatus::Queued),
            owner: None,
        };
        let mut counts = HashMap::new();
        for task in self.inner.store.list(&filter).await.unwrap_or_default() {
            *counts.entry(task.instance_id).or_default() += 1;
        }
        counts
    }

    fn describe(&self, slot: &Slot, queued: usize) -> InstanceInfo {
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
        InstanceInfo {
            id: slot.id.clone(),
            status: status.into(),
            remote: endpoint.is_some(),
            endpoint,
            pid: instance.and_then(|i| i.pid()),
            queued,
            running_task_id: slot.running_task(),
            private: slot.private,
            node: self.inner.node.id.clone(),
            owner: slot.owner.clone(),
        }
    }

    /// Queues a validated task: on its `instanceId`, else on the least-loaded shared instance
    /// (of any runner, on a shared store).
    pub async fn submit(&self, spec: TaskSpec) -> Result<Submitted, SubmitError> {
        self.submit_as(spec, User::LOCAL, Door::Cli).await
    }

    /// [`Scheduler::submit`] for `owner`, through `door` (doors call it through a [`Caller`],
    /// which decides whether the owner may).
    async fn submit_as(
        &self,
        spec: TaskSpec,
        owner: &str,
        door: Door,
    ) -> Result<Submitted, SubmitError> {
        if self.inner.shutdown.is_cancelled() {
            return Err(SubmitError::ShuttingDown);
        }
        let placement = match &spec.instance_id {
            Some(id) => Placement::Instance(id.clone()),
            None => Placement::LeastLoaded,
        };
        let mut task = Task::new(spec, String::new());
        task.owner = owner.to_string();
        task.door = door;
        if let Some(why) = approvals::refused_at_submit(&self.inner.policy, &task) {
            return Err(SubmitError::PolicyDenied(why));
        }
        if let Some((field, message)) = external::unfilled(self, &task) {
            return Err(SubmitError::Invalid { field, message });
        }
        let task_id = task.id.clone();
        self.inner.queued_here.lock().unwrap().insert(
            task_id.clone(),
            QueuedHere {
                task: task.clone(),
                announced: false,
            },
        );
        let enqueued = match self
            .inner
            .store
            .enqueue(task, placement, self.inner.max_queued)
            .await
        {
            Ok(Ok(enqueued)) => enqueued,
            refused => {
                self.inner.queued_here.lock().unwrap().remove(&task_id);
                return Err(match refused {
                    Ok(Err(e)) => e.into(),
                    Err(e) => SubmitError::Store(format!("{e:#}")),
                    Ok(Ok(_)) => unreachable!("matched above"),
                });
            }
        };
        let task = enqueued.task;
        let local = self.slot(&task.instance_id);
        {
            let mut queued = self.inner.queued_here.lock().unwrap();
            if let Some(entry) = queued.get_mut(&task_id) {
                if !entry.announced {
                    entry.announced = true;
                    self.inner.events.emit(
                        &task.instance_id,
                        EventKind::TaskQueued {
                            task_id: task_id.clone(),
                            position: enqueued.position,
                        },
                    );
                }
                entry.task.instance_id = task.instance_id.clone();
                if local.is_none() {
                    // Another runner's instance: its worker reads the task from the store.
                    queued.remove(&task_id);
                }
            }
        }
        if let Some(slot) = local {
            slot.wake.notify_one();
        }
        Ok(Submitted {
            task_id,
            instance_id: task.instance_id.clone(),
            queue_position: enqueued.position,
            task,
        })
    }

    /// Cancels a queued task (it completes as cancelled, every command skipped) or a running one
    /// (its command in flight is stopped, the rest skipped), on this runner or another.
    pub async fn cancel(&self, task_id: &str) -> Result<(), CancelError> {
        if self.cancel_running_here(task_id) {
            return Ok(());
        }
        match self.inner.store.cancel_queued(task_id, now_ms()).await {
            Ok(Some(task)) => {
                self.inner.queued_here.lock().unwrap().remove(task_id);
                self.emit_finished(task);
                return Ok(());
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(task = %task_id, "task store: {e:#}");
                return Err(CancelError);
            }
        }
        // Claimed meanwhile, here or by another runner.
        if self.cancel_running_here(task_id) {
            return Ok(());
        }
        match self.inner.store.get(task_id).await {
            Ok(Some(task)) if task.status == TaskStatus::Running && self.inner.store.shared() => {
                self.inner
                    .store
                    .request_cancel(task_id)
                    .await
                    .map_err(|_| CancelError)?;
                Ok(())
            }
            _ => Err(CancelError),
        }
    }

    fn cancel_running_here(&self, task_id: &str) -> bool {
        for slot in self.slots() {
            if let Some((id, token)) = &*slot.running.lock().unwrap() {
                if id == task_id {
                    token.cancel();
                    return true;
                }
            }
        }
        false
    }

    /// Emits the end of a task that ended outside a worker (cancelled while queued, or lost
    /// with its runner): its skipped commands, then its final record.
    fn emit_finished(&self, task: Task) {
        let skipped: Vec<usize> = task
            .commands
            .iter()
            .enumerate()
            .filter(|(_, c)| c.status == crate::task::CommandStatus::Skipped)
            .map(|(i, _)| i)
            .collect();
        worker::emit_skipped(&self.inner.events, &task.instance_id, &task, &skipped);
        self.inner.events.emit(
            &task.instance_id.clone(),
            EventKind::TaskFinished {
                task: Arc::new(task),
            },
        );
    }

    /// Where a queued task stands: the tasks before it on its instance, and how long they
    /// will likely take (the median of the last 20 finished there, times that many; 0 until
    /// one finished). `None` when it does not wait.
    pub async fn queue_estimate(&self, task_id: &str) -> Option<(usize, u64)> {
        let position = self.inner.store.queue_position(task_id).await.ok()??;
        let instance = self.tasks().get(task_id).await?.instance_id;
        let mut recent = self
            .inner
            .store
            .recent_durations(&instance, 20)
            .await
            .unwrap_or_default();
        recent.sort_unstable();
        let median = recent.get(recent.len() / 2).copied().unwrap_or(0);
        Some((position, median * position as u64))
    }

    /// Follows one task from now on: its events in order, always ending with its final
    /// record. `None` for an unknown task.
    pub async fn watch(&self, task_id: &str) -> Option<Watch> {
        Watch::new(self, task_id, false).await
    }

    /// [`Scheduler::watch`] from the task's start: what already happened is told first (for
    /// the door that submitted it).
    pub async fn watch_from_start(&self, task_id: &str) -> Option<Watch> {
        Watch::new(self, task_id, true).await
    }

    /// Waits until the task is finished and returns its final record.
    pub async fn wait_finished(&self, task_id: &str) -> Option<Task> {
        let mut watch = self.watch(task_id).await?;
        watch.finished().await.map(|t| Task::clone(&t))
    }

    /// Stops accepting tasks and relaunching browsers, without waiting: for exit paths that
    /// cannot await (the async [`Scheduler::shutdown`] does this first).
    pub fn begin_shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// Cancels everything, stops the workers, closes every browser and leaves the store. No
    /// process or profile folder outlives it.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        let slots = self.slots();
        for slot in &slots {
            self.cancel_queued_on(&slot.id).await;
            if let Err(e) = self.inner.store.remove_instance(&slot.id).await {
                tracing::error!(instance = %slot.id, "task store: {e:#}");
            }
        }
        for slot in &slots {
            self.cancel_queued_on(&slot.id).await;
            if let Some((_, token)) = &*slot.running.lock().unwrap() {
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
        let background: Vec<JoinHandle<()>> =
            self.inner.background.lock().unwrap().drain(..).collect();
        for task in background {
            task.abort();
        }
        if let Err(e) = self.inner.store.leave(&self.inner.node).await {
            tracing::error!("task store: cannot leave: {e:#}");
        }
    }
}
