//! The SQLite store, the default: one file, one runner at a time (a lock file says who), WAL
//! mode. Writes go through one connection; the changes of running tasks are taken in order
//! and committed in batches by a writer task, so a finished task is durable before anyone
//! hears it finished, while the commands of busy instances do not each wait for a commit.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use futures::future::BoxFuture;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use tokio::sync::{mpsc, oneshot};

use super::artifacts::{self, FAILURE_SCREENSHOT};
use super::rows::{self, ArtifactRow, CommandRow, SummaryRow, TaskRow};
use super::{
    Change, ClusterInfo, EnqueueError, Enqueued, InstanceRecord, Node, Placement, Recovered,
    Retention, StoreResult, TaskFilter, TaskReader, TaskStore,
};
use crate::task::{CommandError, ErrorCode, Task, TaskStatus, TaskSummary};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

type Reply = oneshot::Sender<StoreResult<()>>;

pub struct SqliteStore {
    path: PathBuf,
    reads: SqlitePool,
    /// One connection: SQLite has one writer.
    writes: SqlitePool,
    changes: mpsc::UnboundedSender<(String, Change, Reply)>,
    /// Held while the store is open: a second runner on the same file is refused.
    _lock: nix::fcntl::Flock<std::fs::File>,
    next_instance: std::sync::atomic::AtomicU64,
}

impl SqliteStore {
    pub async fn open(path: &Path) -> anyhow::Result<SqliteStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the store's folder {}", dir.display()))?;
        }
        let lock = lock_file(path)?;
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, a commit survives the process being killed; only a power cut may lose
            // the last ones.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writes = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .with_context(|| format!("cannot open the task store {}", path.display()))?;
        check_schema(&writes, path).await?;
        MIGRATOR
            .run(&writes)
            .await
            .with_context(|| format!("cannot migrate the task store {}", path.display()))?;
        let reads = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        let (changes, queue) = mpsc::unbounded_channel();
        tokio::spawn(write_changes(writes.clone(), queue));
        Ok(SqliteStore {
            path: path.to_path_buf(),
            reads,
            writes,
            changes,
            _lock: lock,
            next_instance: 1.into(),
        })
    }

    async fn load(&self, id: &str) -> StoreResult<Option<Task>> {
        let mut conn = self.reads.acquire().await?;
        load_task(&mut conn, id).await
    }
}

fn lock_file(path: &Path) -> anyhow::Result<nix::fcntl::Flock<std::fs::File>> {
    let lock_path = path.with_extension("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot open {}", lock_path.display()))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(|_| {
        anyhow::anyhow!(
            "another browser-control runner uses the task store {}: SQLite serves one runner; \
             give this one its own --store, or share a postgres:// store",
            path.display()
        )
    })
}

/// Refuses a file written by a newer binary (its migrations are unknown here).
async fn check_schema(pool: &SqlitePool, path: &Path) -> anyhow::Result<()> {
    let known = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    let table: Option<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_optional(pool)
    .await?;
    if table.is_none() {
        return Ok(());
    }
    let (found,): (Option<i64>,) = sqlx::query_as("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(pool)
        .await?;
    match found {
        Some(found) if found > known => anyhow::bail!(
            "the task store {} has schema version {found}, newer than this browser-control \
             knows ({known}): run a newer browser-control, or point --store elsewhere",
            path.display()
        ),
        _ => Ok(()),
    }
}

async fn load_task(conn: &mut sqlx::SqliteConnection, id: &str) -> StoreResult<Option<Task>> {
    let row: Option<TaskRow> = sqlx::query_as(
        "SELECT id, instance_id, requested_instance, status, name, intention,
                current_command_index, created_at, started_at, completed_at, metadata, error
         FROM tasks WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let commands: Vec<CommandRow> = sqlx::query_as(
        "SELECT idx, id, tool_name, intention, args, status, started_at, completed_at, result,
                error
         FROM commands WHERE task_id = ? ORDER BY idx",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let artifacts: Vec<ArtifactRow> = sqlx::query_as(
        "SELECT command_idx, item, mime_type, bytes FROM artifacts WHERE task_id = ?
         ORDER BY command_idx, item",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(rows::task(row, commands, artifacts)?))
}

/// The writer task: takes every change waiting, applies them in one transaction, then answers.
async fn write_changes(
    pool: SqlitePool,
    mut queue: mpsc::UnboundedReceiver<(String, Change, Reply)>,
) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < 256 {
            match queue.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let outcome: StoreResult<Vec<StoreResult<()>>> = async {
            let mut tx = pool.begin().await?;
            let mut each = Vec::with_capacity(batch.len());
            for (task_id, change, _) in &batch {
                each.push(apply(&mut tx, task_id, change).await);
            }
            tx.commit().await?;
            Ok(each)
        }
        .await;
        match outcome {
            Ok(each) => {
                for ((task_id, _, reply), result) in batch.into_iter().zip(each) {
                    if let Err(e) = &result {
                        tracing::error!(task = %task_id, "task store: {e:#}");
                    }
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                tracing::error!("task store: cannot commit: {e:#}");
                for (_, _, reply) in batch {
                    let _ = reply.send(Err(anyhow::anyhow!("cannot commit: {e:#}")));
                }
            }
        }
    }
}

async fn apply(
    tx: &mut Transaction<'_, Sqlite>,
    task_id: &str,
    change: &Change,
) -> StoreResult<()> {
    match change {
        Change::CommandStarted { index, at } => {
            sqlx::query(
                "UPDATE commands SET status = 'running', started_at = ? WHERE task_id = ? AND idx = ?",
            )
            .bind(*at as i64)
            .bind(task_id)
            .bind(*index as i64)
            .execute(&mut **tx)
            .await?;
            sqlx::query("UPDATE tasks SET current_command_index = ? WHERE id = ?")
                .bind(*index as i64)
                .bind(task_id)
                .execute(&mut **tx)
                .await?;
        }
        Change::CommandSucceeded { index, result, at } => {
            let (json, found) = artifacts::split(result);
            let mut bytes = 0i64;
            for a in &found {
                bytes += a.bytes.len() as i64;
                sqlx::query(
                    "INSERT OR REPLACE INTO artifacts (task_id, command_idx, item, mime_type, bytes)
                     VALUES (?, ?, ?, ?, ?)",
                )
                .bind(task_id)
                .bind(*index as i64)
                .bind(a.item as i64)
                .bind(&a.mime_type)
                .bind(&a.bytes)
                .execute(&mut **tx)
                .await?;
            }
            sqlx::query(
                "UPDATE commands SET status = 'success', completed_at = ?, result = ?
                 WHERE task_id = ? AND idx = ?",
            )
            .bind(*at as i64)
            .bind(json.to_string())
            .bind(task_id)
            .bind(*index as i64)
            .execute(&mut **tx)
            .await?;
            if bytes > 0 {
                add_bytes(tx, task_id, bytes).await?;
            }
        }
        Change::CommandFailed { index, error, at } => {
            sqlx::query(
                "UPDATE commands SET status = 'error', completed_at = ?, error = ?
                 WHERE task_id = ? AND idx = ?",
            )
            .bind(*at as i64)
            .bind(rows::json(error))
            .bind(task_id)
            .bind(*index as i64)
            .execute(&mut **tx)
            .await?;
        }
        Change::FailureScreenshot { index, png } => {
            if let Some(bytes) = artifacts::decode(png) {
                let n = bytes.len() as i64;
                sqlx::query(
                    "INSERT OR REPLACE INTO artifacts (task_id, command_idx, item, mime_type, bytes)
                     VALUES (?, ?, ?, 'image/png', ?)",
                )
                .bind(task_id)
                .bind(*index as i64)
                .bind(FAILURE_SCREENSHOT as i64)
                .bind(bytes)
                .execute(&mut **tx)
                .await?;
                add_bytes(tx, task_id, n).await?;
            }
        }
        Change::Finished {
            status,
            error,
            skipped,
            at,
        } => {
            for index in skipped {
                sqlx::query(
                    "UPDATE commands SET status = 'skipped',
                        completed_at = CASE WHEN started_at IS NULL THEN NULL ELSE ? END
                     WHERE task_id = ? AND idx = ? AND status IN ('pending', 'running')",
                )
                .bind(*at as i64)
                .bind(task_id)
                .bind(*index as i64)
                .execute(&mut **tx)
                .await?;
            }
            sqlx::query("UPDATE tasks SET status = ?, error = ?, completed_at = ? WHERE id = ?")
                .bind(status.as_str())
                .bind(error.as_ref().map(rows::json))
                .bind(*at as i64)
                .bind(task_id)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

async fn add_bytes(tx: &mut Transaction<'_, Sqlite>, task_id: &str, n: i64) -> StoreResult<()> {
    sqlx::query("UPDATE tasks SET artifact_bytes = artifact_bytes + ? WHERE id = ?")
        .bind(n)
        .bind(task_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn insert_task(tx: &mut Transaction<'_, Sqlite>, task: &Task) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO tasks (id, instance_id, requested_instance, status, name, intention,
                            current_command_index, created_at, metadata)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&task.id)
    .bind(&task.instance_id)
    .bind(&task.requested_instance)
    .bind(task.status.as_str())
    .bind(&task.name)
    .bind(&task.intention)
    .bind(task.current_command_index as i64)
    .bind(task.created_at as i64)
    .bind(task.metadata.as_ref().map(rows::json))
    .execute(&mut **tx)
    .await?;
    for (idx, c) in task.commands.iter().enumerate() {
        sqlx::query(
            "INSERT INTO commands (task_id, idx, id, tool_name, intention, args, status)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&task.id)
        .bind(idx as i64)
        .bind(&c.id)
        .bind(&c.tool_name)
        .bind(&c.intention)
        .bind(c.args.to_string())
        .bind(c.status.as_str())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The least-loaded shared instance (queued plus running), ties to the lowest id.
async fn least_loaded(tx: &mut Transaction<'_, Sqlite>) -> StoreResult<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT i.id FROM instances i WHERE i.private = 0
         ORDER BY (SELECT COUNT(*) FROM tasks t
                   WHERE t.instance_id = i.id AND t.status IN ('queued', 'running')), i.id
         LIMIT 1",
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|r| r.0))
}

async fn apply_all(
    tx: &mut Transaction<'_, Sqlite>,
    task_id: &str,
    changes: &[Change],
) -> StoreResult<()> {
    for change in changes {
        apply(tx, task_id, change).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl TaskReader for SqliteStore {
    async fn get(&self, id: &str) -> StoreResult<Option<Task>> {
        self.load(id).await
    }

    async fn list(&self, filter: &TaskFilter) -> StoreResult<Vec<TaskSummary>> {
        let rows: Vec<SummaryRow> = sqlx::query_as(
            "SELECT t.id, t.name, t.status, t.instance_id, t.current_command_index,
                    (SELECT COUNT(*) FROM commands c WHERE c.task_id = t.id) AS total_commands,
                    t.created_at, t.started_at, t.completed_at
             FROM tasks t
             WHERE (?1 IS NULL OR t.instance_id = ?1) AND (?2 IS NULL OR t.status = ?2)
             ORDER BY t.created_at, t.id",
        )
        .bind(filter.instance_id.as_deref())
        .bind(filter.status.map(|s| s.as_str()))
        .fetch_all(&self.reads)
        .await?;
        rows.into_iter().map(rows::summary).collect()
    }

    async fn count_by_status(&self) -> StoreResult<Vec<(TaskStatus, usize)>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, COUNT(*) FROM tasks GROUP BY status")
                .fetch_all(&self.reads)
                .await?;
        Ok(TaskStatus::ALL
            .into_iter()
            .map(|s| {
                let n = rows.iter().find(|r| r.0 == s.as_str()).map_or(0, |r| r.1);
                (s, n as usize)
            })
            .collect())
    }

    async fn instances(&self) -> StoreResult<Vec<InstanceRecord>> {
        let rows: Vec<(String, String, bool)> =
            sqlx::query_as("SELECT id, node_id, private FROM instances ORDER BY id")
                .fetch_all(&self.reads)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(id, node_id, private)| InstanceRecord {
                id,
                node_id,
                private,
            })
            .collect())
    }

    async fn cluster(&self) -> StoreResult<ClusterInfo> {
        let (instances,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM instances")
            .fetch_one(&self.reads)
            .await?;
        Ok(ClusterInfo {
            nodes: 1,
            instances: instances as usize,
        })
    }
}

#[async_trait::async_trait]
impl TaskStore for SqliteStore {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    fn describe(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }

    async fn join(&self) -> StoreResult<Node> {
        let now = crate::task::now_ms() as i64;
        let mut tx = self.writes.begin().await?;
        // One runner at a time (the lock): instances of an earlier run are gone.
        sqlx::query("DELETE FROM instances")
            .execute(&mut *tx)
            .await?;
        let (number,): (i64,) = sqlx::query_as(
            "INSERT INTO nodes (id, started_at, heartbeat_at)
             VALUES ('pending-' || hex(randomblob(8)), ?, ?) RETURNING number",
        )
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let id = format!("node_{number}");
        sqlx::query("UPDATE nodes SET id = ? WHERE number = ?")
            .bind(&id)
            .bind(number)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Node {
            id,
            number: number as u64,
        })
    }

    async fn heartbeat(&self, _node: &Node) -> StoreResult<()> {
        Ok(())
    }

    async fn leave(&self, _node: &Node) -> StoreResult<()> {
        sqlx::query("DELETE FROM instances")
            .execute(&self.writes)
            .await?;
        Ok(())
    }

    async fn new_instance_id(&self) -> StoreResult<String> {
        // Per run, from 1: the boot instances keep their ids across restarts, so tasks queued
        // for `inst_1` still find it.
        let n = self
            .next_instance
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(format!("inst_{n}"))
    }

    async fn add_instance(&self, instance: &InstanceRecord) -> StoreResult<()> {
        sqlx::query("INSERT OR REPLACE INTO instances (id, node_id, private) VALUES (?, ?, ?)")
            .bind(&instance.id)
            .bind(&instance.node_id)
            .bind(instance.private)
            .execute(&self.writes)
            .await?;
        Ok(())
    }

    async fn remove_instance(&self, id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM instances WHERE id = ?")
            .bind(id)
            .execute(&self.writes)
            .await?;
        Ok(())
    }

    async fn enqueue(
        &self,
        mut task: Task,
        placement: Placement,
        limit: usize,
    ) -> StoreResult<Result<Enqueued, EnqueueError>> {
        let mut tx = self.writes.begin().await?;
        let instance = match placement {
            Placement::Instance(id) => {
                let known: Option<(i64,)> = sqlx::query_as("SELECT 1 FROM instances WHERE id = ?")
                    .bind(&id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if known.is_none() {
                    return Ok(Err(EnqueueError::UnknownInstance(id)));
                }
                id
            }
            Placement::LeastLoaded => match least_loaded(&mut tx).await? {
                Some(id) => id,
                None => return Ok(Err(EnqueueError::NoInstance)),
            },
        };
        let (queued, running): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(SUM(status = 'queued'), 0), COALESCE(SUM(status = 'running'), 0)
             FROM tasks WHERE instance_id = ? AND status IN ('queued', 'running')",
        )
        .bind(&instance)
        .fetch_one(&mut *tx)
        .await?;
        if queued as usize >= limit {
            return Ok(Err(EnqueueError::QueueFull { instance, limit }));
        }
        task.instance_id = instance;
        insert_task(&mut tx, &task).await?;
        tx.commit().await?;
        Ok(Ok(Enqueued {
            task,
            position: (queued + running) as usize,
        }))
    }

    async fn claim(&self, instance_id: &str, node: &Node, now: u64) -> StoreResult<Option<Task>> {
        let mut conn = self.writes.acquire().await?;
        let claimed: Option<(String,)> = sqlx::query_as(
            "UPDATE tasks SET status = 'running', started_at = ?, node_id = ?
             WHERE seq = (SELECT seq FROM tasks WHERE instance_id = ? AND status = 'queued'
                          ORDER BY seq LIMIT 1)
             RETURNING id",
        )
        .bind(now as i64)
        .bind(&node.id)
        .bind(instance_id)
        .fetch_optional(&mut *conn)
        .await?;
        match claimed {
            Some((id,)) => load_task(&mut conn, &id).await,
            None => Ok(None),
        }
    }

    async fn cancel_queued(&self, task_id: &str, now: u64) -> StoreResult<Option<Task>> {
        let mut tx = self.writes.begin().await?;
        let Some(task) = load_task(&mut tx, task_id).await? else {
            return Ok(None);
        };
        if task.status != TaskStatus::Queued {
            return Ok(None);
        }
        let change = Change::finish(&task, true, now);
        apply(&mut tx, task_id, &change).await?;
        let task = load_task(&mut tx, task_id).await?;
        tx.commit().await?;
        Ok(task)
    }

    fn record(&self, task_id: &str, change: Change) -> BoxFuture<'static, StoreResult<()>> {
        let (reply, done) = oneshot::channel();
        let sent = self.changes.send((task_id.to_string(), change, reply));
        Box::pin(async move {
            sent.map_err(|_| anyhow::anyhow!("the task store is closed"))?;
            done.await
                .map_err(|_| anyhow::anyhow!("the task store is closed"))?
        })
    }

    async fn recover(&self, _me: &Node, _lease: Duration, now: u64) -> StoreResult<Recovered> {
        let mut tx = self.writes.begin().await?;
        let mut recovered = Recovered::default();
        let running: Vec<(String,)> =
            sqlx::query_as("SELECT id FROM tasks WHERE status = 'running' ORDER BY seq")
                .fetch_all(&mut *tx)
                .await?;
        for (id,) in running {
            let Some(task) = load_task(&mut tx, &id).await? else {
                continue;
            };
            let error = CommandError::new(
                ErrorCode::InstanceDisconnected,
                "the server stopped while this task ran",
            );
            apply_all(&mut tx, &id, &Change::lost(&task, error, now)).await?;
            recovered.failed.extend(load_task(&mut tx, &id).await?);
        }
        // Queued for an instance of the earlier run that is not back: moved if it named none.
        let orphans: Vec<(String, Option<String>, String)> = sqlx::query_as(
            "SELECT id, requested_instance, instance_id FROM tasks
             WHERE status = 'queued' AND instance_id NOT IN (SELECT id FROM instances)
             ORDER BY seq",
        )
        .fetch_all(&mut *tx)
        .await?;
        for (id, requested, old) in orphans {
            let target = match requested {
                None => least_loaded(&mut tx).await?,
                Some(_) => None,
            };
            match target {
                Some(instance) => {
                    sqlx::query("UPDATE tasks SET instance_id = ? WHERE id = ?")
                        .bind(&instance)
                        .bind(&id)
                        .execute(&mut *tx)
                        .await?;
                    recovered.requeued.extend(load_task(&mut tx, &id).await?);
                }
                None => {
                    let Some(task) = load_task(&mut tx, &id).await? else {
                        continue;
                    };
                    let error = CommandError::new(
                        ErrorCode::InstanceDisconnected,
                        format!("instance {old} is gone: the server restarted without it"),
                    );
                    apply_all(&mut tx, &id, &Change::lost(&task, error, now)).await?;
                    recovered.failed.extend(load_task(&mut tx, &id).await?);
                }
            }
        }
        tx.commit().await?;
        Ok(recovered)
    }

    async fn enforce_retention(&self, retention: &Retention, now: u64) -> StoreResult<usize> {
        let finished: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT seq, completed_at, artifact_bytes FROM tasks
             WHERE completed_at IS NOT NULL AND status IN ('completed', 'failed', 'cancelled')
             ORDER BY completed_at DESC, seq DESC",
        )
        .fetch_all(&self.reads)
        .await?;
        let doomed = super::doomed(&finished, retention, now);
        if doomed.is_empty() {
            return Ok(0);
        }
        let mut tx = self.writes.begin().await?;
        for seq in &doomed {
            sqlx::query("DELETE FROM tasks WHERE seq = ?")
                .bind(seq)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(doomed.len())
    }
}
