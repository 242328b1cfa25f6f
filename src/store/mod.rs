//! The task store: where task records, the queue, instances and runners live.
//!
//! The scheduler is the only writer, through [`TaskStore`]; every door reads through
//! [`TaskReader`] and cannot insert or change a task. Writes are typed [`Change`]s. Three
//! backends: [`memory`] (no file: `run` and tests), [`sqlite`] (the default, one file, one
//! runner) and [`postgres`] (several runners sharing one queue and one history).

mod artifacts;
mod change;
pub mod memory;
pub mod postgres;
mod rows;
pub mod sqlite;
mod url;

pub use change::Change;
pub use url::{default_sqlite_path, StoreUrl};

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;

use crate::task::{JournalEntry, Task, TaskStatus, TaskSummary};

pub type StoreResult<T> = anyhow::Result<T>;

/// Which tasks a listing returns.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub instance_id: Option<String>,
    /// `None` lists every owner's.
    pub owner: Option<String>,
    /// `None` lists every status.
    pub status: Option<TaskStatus>,
}

/// Where a new task goes: the instance it named, or the least-loaded shared one.
#[derive(Debug, Clone, PartialEq)]
pub enum Placement {
    Instance(String),
    LeastLoaded,
}

/// Why a task could not be queued.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EnqueueError {
    #[error("Unknown instance: {0}")]
    UnknownInstance(String),
    #[error("Queue full: instance {instance} already has {limit} queued tasks")]
    QueueFull { instance: String, limit: usize },
    #[error("No browser instance available")]
    NoInstance,
}

/// A queued task, bound to its instance, and how many tasks run there before it.
#[derive(Debug, Clone)]
pub struct Enqueued {
    pub task: Task,
    pub position: usize,
}

/// A runner sharing the store, as it registered itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// `node_N`, unique across the runners of a store and across restarts.
    pub id: String,
    /// N: part of every task id this runner mints, so two runners never mint the same one.
    pub number: u64,
}

/// An instance as the store knows it (so that any runner can place tasks on it).
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceRecord {
    pub id: String,
    pub node_id: String,
    pub private: bool,
    /// The user who created it; `None` for the shared boot pool.
    pub owner: Option<String>,
}

/// An API key as the store keeps it: never the key itself, only its SHA-256.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRecord {
    /// `key_…`, printed by `keys list` and named by `keys revoke`.
    pub id: String,
    pub user: String,
    pub admin: bool,
    /// Lowercase hex SHA-256 of the whole key.
    pub hash: String,
    pub created_at: u64,
    pub revoked_at: Option<u64>,
}

/// One line of the audit trail: who did what to which task or instance, when, through which
/// door, on which runner.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditEntry {
    pub at: u64,
    pub user: String,
    /// `task_submitted`, `task_cancelled`, `instance_created`, `instance_closed`, `key_created`,
    /// `key_revoked`.
    pub action: String,
    /// The task, instance or key id.
    pub target: String,
    pub door: String,
    #[serde(rename = "nodeId")]
    pub node_id: String,
    /// A task's name, for a submission.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Which audit entries to read, oldest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub user: Option<String>,
    /// Entries at or after this time (unix ms).
    pub since: Option<u64>,
    /// At most this many, the newest of those matching.
    pub limit: usize,
}

/// What the store says about runners and instances (for `/health` and `/metrics`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClusterInfo {
    pub nodes: usize,
    pub instances: usize,
}

/// Limits on what finished tasks keep: the oldest finished go first.
#[derive(Debug, Clone, PartialEq)]
pub struct Retention {
    pub keep_finished: usize,
    pub max_age: Option<Duration>,
    /// Total bytes of screenshots and PDFs kept.
    pub max_artifact_bytes: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            keep_finished: 1000,
            max_age: None,
            max_artifact_bytes: 512 * 1024 * 1024,
        }
    }
}

/// What a runner hears of other runners' work (PostgreSQL's LISTEN/NOTIFY); ids only, the
/// store holds the content.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    /// A task was queued, changed or finished by runner `by`.
    TaskChanged { task_id: String, by: String },
    /// A task was queued for `instance_id` (or moved to it from a lost runner).
    Queued { instance_id: String },
    /// Someone asked to cancel a task that runs on another runner.
    CancelRequested { task_id: String },
    /// Instances or runners joined or left.
    InstancesChanged,
}

/// Unfinished work that a lost runner (or the previous run of this one) left behind, now
/// resolved in the store: what the scheduler reports as events.
#[derive(Debug, Clone, Default)]
pub struct Recovered {
    /// Tasks ended failed (they were running, or named an instance that is gone).
    pub failed: Vec<Task>,
    /// Queued tasks moved to another instance, with their new instance.
    pub requeued: Vec<Task>,
}

/// A user's history, as the agent API pages it: newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryQuery {
    /// `None` reads every owner's (an admin's history).
    pub owner: Option<String>,
    pub status: Option<HistoryStatus>,
    pub conversation_id: Option<String>,
    /// Created at or after (unix ms).
    pub created_from: Option<u64>,
    /// Created at or before (unix ms).
    pub created_to: Option<u64>,
    pub limit: usize,
    pub offset: usize,
}

/// The agent API's statuses: the task's, and `paused` (running, with a request for approval
/// not answered yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryStatus {
    Task(TaskStatus),
    /// Running with at least one approval pending; `Task(Running)` then means the others.
    Paused,
}

/// One page of a history, and how many tasks match in all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryPage {
    pub tasks: Vec<TaskSummary>,
    pub total: usize,
}

/// What every door may do with tasks: read them.
#[async_trait::async_trait]
pub trait TaskReader: Send + Sync {
    /// The whole record, results (screenshots included) in place.
    async fn get(&self, id: &str) -> StoreResult<Option<Task>>;
    /// Tasks matching `filter`, oldest first.
    async fn list(&self, filter: &TaskFilter) -> StoreResult<Vec<TaskSummary>>;
    async fn count_by_status(&self) -> StoreResult<Vec<(TaskStatus, usize)>>;
    /// How many tasks of `owner` wait in the queue (for the per-user cap).
    async fn count_queued_of(&self, owner: &str) -> StoreResult<usize>;
    async fn cluster(&self) -> StoreResult<ClusterInfo>;
    /// Every instance of every runner.
    async fn instances(&self) -> StoreResult<Vec<InstanceRecord>> {
        Ok(Vec::new())
    }
    /// The task's journal entries numbered above `after`, in order.
    async fn journal(&self, task_id: &str, after: u64) -> StoreResult<Vec<JournalEntry>>;
    /// A page of a history (see [`HistoryQuery`]).
    async fn history(&self, query: &HistoryQuery) -> StoreResult<HistoryPage>;
    /// How many tasks run before this queued one on its instance (the running one included);
    /// `None` when it is not queued.
    async fn queue_position(&self, task_id: &str) -> StoreResult<Option<usize>>;
    /// How long (ms, started to completed) the last `n` finished tasks on the instance ran,
    /// newest first.
    async fn recent_durations(&self, instance_id: &str, n: usize) -> StoreResult<Vec<u64>>;
    /// The state before command `index` of the task, kept by [`Change::Checkpoint`].
    async fn checkpoint(
        &self,
        task_id: &str,
        index: usize,
    ) -> StoreResult<Option<serde_json::Value>>;
    /// The task that started last on the instance.
    async fn last_started_on(&self, instance_id: &str) -> StoreResult<Option<String>>;
}

/// API keys and the audit trail: users' records, kept with the tasks so that every runner of
/// a cluster knows them. `browser-control keys` opens this alone (see [`open_accounts`]).
#[async_trait::async_trait]
pub trait Accounts: Send + Sync {
    /// Stores a new API key (its hash).
    async fn add_key(&self, key: &ApiKeyRecord) -> StoreResult<()>;
    /// The key with this hash, revoked or not.
    async fn key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKeyRecord>>;
    /// Every key, oldest first.
    async fn keys(&self) -> StoreResult<Vec<ApiKeyRecord>>;
    /// Marks a key revoked at `now`; `false` when there is no such key or it was revoked.
    async fn revoke_key(&self, id: &str, now: u64) -> StoreResult<bool>;

    /// Appends to the audit trail.
    async fn audit(&self, entry: &AuditEntry) -> StoreResult<()>;
    /// Reads the audit trail (see [`AuditFilter`]), oldest first.
    async fn audit_log(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>>;
}

/// The scheduler's side: the queue, the changes of a task's life, runners and instances.
#[async_trait::async_trait]
pub trait TaskStore: TaskReader + Accounts {
    /// `memory`, `sqlite` or `postgres`.
    fn kind(&self) -> &'static str;
    /// Where it is, for the start-up line (credentials left out).
    fn describe(&self) -> String;
    /// Whether other runners may share it (and so signals, heartbeats and leases matter).
    fn shared(&self) -> bool {
        false
    }

    /// Registers this runner.
    async fn join(&self) -> StoreResult<Node>;
    /// Keeps this runner's lease.
    async fn heartbeat(&self, node: &Node) -> StoreResult<()>;
    /// Leaves cleanly (shutdown): its instances leave with it.
    async fn leave(&self, node: &Node) -> StoreResult<()>;

    /// A fresh instance id (`inst_N`), unique among the runners of the store.
    async fn new_instance_id(&self) -> StoreResult<String>;
    async fn add_instance(&self, instance: &InstanceRecord) -> StoreResult<()>;
    async fn remove_instance(&self, id: &str) -> StoreResult<()>;

    /// Queues `task` (its `instance_id` is set here, from `placement`), unless its instance
    /// already has `limit` queued tasks. Its journal starts with `Queued` (its position: the
    /// tasks that run before it, by priority then age, the running one included).
    async fn enqueue(
        &self,
        task: Task,
        placement: Placement,
        limit: usize,
    ) -> StoreResult<Result<Enqueued, EnqueueError>>;
    /// Takes the next task queued on `instance_id` (the highest priority, then the oldest),
    /// marks it running on `node` (started `now`) and returns its id: a task is claimed once,
    /// whoever else asks. Its journal gains `Started`.
    async fn claim(&self, instance_id: &str, node: &Node, now: u64) -> StoreResult<Option<String>>;
    /// Ends a task that is still queued as cancelled (every command skipped) and returns it;
    /// `None` when it is not queued (running, finished or unknown).
    async fn cancel_queued(&self, task_id: &str, now: u64) -> StoreResult<Option<Task>>;
    /// Asks the runner that runs `task_id` to cancel it (a shared store's signal).
    async fn request_cancel(&self, _task_id: &str) -> StoreResult<()> {
        Ok(())
    }

    /// Records one change of a running task. The change is taken in order at once; the
    /// returned future resolves when it is durable (await it for [`Change::Finished`]).
    fn record(&self, task_id: &str, change: Change) -> BoxFuture<'static, StoreResult<()>>;

    /// Resolves what runners that are gone left unfinished: for a single-runner store, every
    /// earlier run of this one; for a shared one, runners whose heartbeat is older than
    /// `lease`. Their running tasks fail, tasks queued on their instances move to a live
    /// shared instance if they named none, and fail otherwise.
    async fn recover(&self, me: &Node, lease: Duration, now: u64) -> StoreResult<Recovered>;

    /// Drops the oldest finished tasks past the limits.
    async fn enforce_retention(&self, retention: &Retention, now: u64) -> StoreResult<usize>;

    /// Other runners' news, for a shared store.
    async fn signals(&self) -> StoreResult<Option<BoxStream<'static, Signal>>> {
        Ok(None)
    }
}

/// Opens the store a URL names, runs its migrations, and returns it.
pub async fn open(url: &StoreUrl, retention: Retention) -> anyhow::Result<Arc<dyn TaskStore>> {
    Ok(match url {
        StoreUrl::Memory => Arc::new(memory::MemoryStore::new(retention)),
        StoreUrl::Sqlite(path) => Arc::new(sqlite::SqliteStore::open(path).await?),
        StoreUrl::Postgres(url) => postgres::PostgresStore::open(url).await?,
    })
}

/// Opens only the accounts of the store a URL names (for `browser-control keys`, which may run
/// beside a server using the same SQLite file). The memory store keeps nothing: refused.
pub async fn open_accounts(url: &StoreUrl) -> anyhow::Result<Arc<dyn Accounts>> {
    Ok(match url {
        StoreUrl::Memory => anyhow::bail!(
            "the memory store keeps nothing after this command ends: name a sqlite:// or \
             postgres:// store with --store"
        ),
        StoreUrl::Sqlite(path) => Arc::new(sqlite::SqliteAccounts::open(path).await?),
        StoreUrl::Postgres(url) => {
            let store: Arc<dyn Accounts> = postgres::PostgresStore::open(url).await?;
            store
        }
    })
}

/// Which finished tasks (newest first: `(seq, completed_at, artifact_bytes)`) the limits drop.
pub(crate) fn doomed(finished: &[(i64, i64, i64)], retention: &Retention, now: u64) -> Vec<i64> {
    let mut bytes = 0u64;
    let mut out = Vec::new();
    for (kept, &(seq, completed_at, artifact_bytes)) in finished.iter().enumerate() {
        bytes += artifact_bytes.max(0) as u64;
        let too_old = retention
            .max_age
            .is_some_and(|age| now.saturating_sub(completed_at as u64) > age.as_millis() as u64);
        if kept >= retention.keep_finished || bytes > retention.max_artifact_bytes || too_old {
            out.push(seq);
        }
    }
    out
}
