//! The PostgreSQL store: several runners (`serve` processes, on any machine) share one queue
//! and one history. Each runner is a node row with a heartbeat; its instances are rows too, so
//! any runner places tasks on any shared instance, and a runner claims the next task queued on
//! one of its instances (the highest priority, then the oldest) with `FOR UPDATE SKIP LOCKED`: a
//! task is claimed once, whoever else asks at the same moment.
//!
//! As in the SQLite store, the changes of running tasks are taken in order and committed in
//! batches by a writer task. Every write that other runners must hear of sends a NOTIFY in its
//! own transaction (PostgreSQL delivers it at commit, so whoever hears it reads the committed
//! record); the payloads carry ids, the store holds the content:
//!
//! | channel        | payload               | [`Signal`]         |
//! |----------------|-----------------------|--------------------|
//! | `bc_task`      | `<node_id>:<task_id>` | `TaskChanged`      |
//! | `bc_queue`     | `<instance_id>`       | `Queued`           |
//! | `bc_cancel`    | `<task_id>`           | `CancelRequested`  |
//! | `bc_instances` | (empty)               | `InstancesChanged` |
//!
//! A runner hears its own notifications too (`TaskChanged::by` tells them apart).

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgListener, PgPool, PgPoolOptions};
use sqlx::{Connection, FromRow, Row};
use tokio::sync::{mpsc, oneshot};

use super::artifacts::{self, FAILURE_SCREENSHOT};
use super::rows::{self, ArtifactRow, CommandRow, SummaryRow, TaskRow};
use super::url::redact_password;
use super::{
    Accounts, ApiKeyRecord, AuditEntry, AuditFilter, Change, ClusterInfo, EnqueueError, Enqueued,
    HistoryPage, HistoryQuery, HistoryStatus, InstanceRecord, Node, Placement, Recovered,
    Retention, Signal, StoreResult, TaskFilter, TaskReader, TaskStore,
};
use crate::task::{
    now_ms, CommandError, ErrorCode, Happened, JournalEntry, Task, TaskStatus, TaskSummary,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

const TASK_CHANNEL: &str = "bc_task";
const QUEUE_CHANNEL: &str = "bc_queue";
const CANCEL_CHANNEL: &str = "bc_cancel";
const INSTANCES_CHANNEL: &str = "bc_instances";

/// Connections of one runner's pool: its workers claim, its writer commits, its doors read.
const POOL_SIZE: u32 = 10;
/// How long `open` waits for the server to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most changes committed in one transaction.
const BATCH: usize = 256;

type Reply = oneshot::Sender<StoreResult<()>>;
type Pending = (String, Change, Reply);
/// This runner once it joined: the `by` of the notifications it sends.
type Joined = Arc<Mutex<Option<Node>>>;

pub struct PostgresStore {
    /// The URL, password left out.
    shown: String,
    options: PgConnectOptions,
    pool: PgPool,
    changes: mpsc::UnboundedSender<Pending>,
    node: Joined,
}

impl PostgresStore {
    /// Connects, refuses a schema newer than this binary knows, and migrates.
    pub async fn open(url: &str) -> anyhow::Result<Arc<dyn TaskStore>> {
        let shown = redact_password(url);
        let options = PgConnectOptions::from_str(url)
            .with_context(|| format!("invalid PostgreSQL task store URL {shown}"))?
            .application_name("browser-control");
        // One connection first, so that a refused connection or a bad password says so at
        // once (the pool would retry a refused connection until its timeout).
        let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options))
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "cannot connect to the task store {shown}: no answer within {}s",
                    CONNECT_TIMEOUT.as_secs()
                )
            })?
            .with_context(|| format!("cannot connect to the task store {shown}"))?;
        check_schema(&mut conn, &shown).await?;
        // sqlx takes an advisory lock while it migrates: runners starting together are fine.
        MIGRATOR
            .run(&mut conn)
            .await
            .with_context(|| format!("cannot migrate the task store {shown}"))?;
        let _ = conn.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(Duration::from_secs(30))
            // A ping before every use would double the round trips of the queue: only a
            // connection idle for a while is tested (one that fails is replaced).
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > Duration::from_secs(1) {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options.clone())
            .await
            .with_context(|| format!("cannot connect to the task store {shown}"))?;
        let node: Joined = Arc::default();
        let (changes, queue) = mpsc::unbounded_channel();
        tokio::spawn(write_changes(pool.clone(), node.clone(), queue));
        Ok(Arc::new(PostgresStore {
            shown,
            options,
            pool,
            changes,
            node,
        }))
    }

    /// This runner's node id, or "" before it joined.
    fn me(&self) -> String {
        node_id(&self.node)
    }

    /// Resolves one lost runner, unless another runner is doing it right now.
    async fn reap(
        &self,
        lost: &str,
        me: &Node,
        cutoff: i64,
        now: u64,
        out: &mut Recovered,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        // Still lost (no heartbeat since we looked) and nobody else reaping it.
        let locked: Option<(String,)> = sqlx::query_as(
            "SELECT id FROM nodes WHERE id = $1 AND heartbeat_at < $2 FOR UPDATE SKIP LOCKED",
        )
        .bind(lost)
        .bind(cutoff)
        .fetch_optional(&mut *tx)
        .await?;
        if locked.is_none() {
            return Ok(());
        }
        // Its instances first: an enqueue onto one of them (which locks it) either committed
        // already, and its task is seen below, or waits and then finds the instance gone.
        let instances: Vec<String> = sqlx::query_as::<_, (String,)>(
            "SELECT id FROM instances WHERE node_id = $1 ORDER BY id FOR UPDATE",
        )
        .bind(lost)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| r.0)
        .collect();
        let mut failed = Vec::new();
        let mut requeued = Vec::new();
        let mut queues = BTreeSet::new();
        let running: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM tasks WHERE node_id = $1 AND status = 'running' ORDER BY seq
             FOR UPDATE",
        )
        .bind(lost)
        .fetch_all(&mut *tx)
        .await?;
        for (id,) in running {
            let error = CommandError::new(
                ErrorCode::InstanceDisconnected,
                format!("runner {lost} was lost"),
            );
            // One that waited for a person is queued again, and placed with the others below.
            failed.extend(fail_or_requeue(&mut tx, &id, error, now).await?);
        }
        let queued: Vec<(String, Option<String>, String)> = sqlx::query_as(
            "SELECT id, requested_instance, instance_id FROM tasks
             WHERE status = 'queued' AND instance_id = ANY($1) ORDER BY seq FOR UPDATE",
        )
        .bind(&instances)
        .fetch_all(&mut *tx)
        .await?;
        for (id, requested, instance) in queued {
            let target = match requested {
                None => live_instance(&mut tx, lost, &me.id, cutoff).await?,
                Some(_) => None,
            };
            match target {
                Some(target) => {
                    requeued.extend(move_to(&mut tx, &id, &target).await?);
                    queues.insert(target);
                }
                None => {
                    let error = CommandError::new(
                        ErrorCode::InstanceDisconnected,
                        format!("runner {lost} was lost with instance {instance}"),
                    );
                    failed.extend(fail(&mut tx, &id, error, now).await?);
                }
            }
        }
        sqlx::query("DELETE FROM instances WHERE node_id = $1")
            .bind(lost)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM nodes WHERE id = $1")
            .bind(lost)
            .execute(&mut *tx)
            .await?;
        let touched: Vec<&str> = failed
            .iter()
            .chain(&requeued)
            .map(|t: &Task| t.id.as_str())
            .collect();
        notify_tasks(&mut tx, &me.id, &touched).await?;
        for queue in &queues {
            notify(&mut tx, QUEUE_CHANNEL, queue).await?;
        }
        notify(&mut tx, INSTANCES_CHANNEL, "").await?;
        tx.commit().await?;
        tracing::warn!(
            node = %lost,
            failed = failed.len(),
            requeued = requeued.len(),
            "task store: runner {lost} was lost (no heartbeat within the lease)"
        );
        out.failed.extend(failed);
        out.requeued.extend(requeued);
        Ok(())
    }

    /// Fails running tasks whose runner has no node row (it left, or was reaped, with the task
    /// still running).
    async fn fail_orphans(&self, me: &Node, now: u64, out: &mut Recovered) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let orphans: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT id, node_id FROM tasks t
             WHERE status = 'running'
               AND (node_id IS NULL OR NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = t.node_id))
             ORDER BY seq FOR UPDATE SKIP LOCKED",
        )
        .fetch_all(&mut *tx)
        .await?;
        if orphans.is_empty() {
            return Ok(());
        }
        let mut failed = Vec::new();
        let mut requeued = Vec::new();
        let mut queues = BTreeSet::new();
        for (id, node) in orphans {
            let node = node.as_deref().unwrap_or("(unknown)");
            let error = CommandError::new(
                ErrorCode::InstanceDisconnected,
                format!("runner {node} was lost"),
            );
            let Some(task) = load_task(&mut tx, &id).await? else {
                continue;
            };
            if task.resume_point().is_none() {
                failed.extend(fail(&mut tx, &id, error, now).await?);
                continue;
            }
            // It waited for a person: queued again, on an instance that is still there.
            let placed = match (
                &task.requested_instance,
                instance_known(&mut tx, &task.instance_id).await?,
            ) {
                (_, true) => Some(task.instance_id.clone()),
                // Any runner still in the table is alive enough: this one is.
                (None, false) => live_instance(&mut tx, "", &me.id, 0).await?,
                (Some(_), false) => None,
            };
            match placed {
                Some(target) => {
                    apply(&mut tx, &id, &Change::Requeued { at: now }).await?;
                    requeued.extend(move_to(&mut tx, &id, &target).await?);
                    queues.insert(target);
                }
                None => failed.extend(fail(&mut tx, &id, error, now).await?),
            }
        }
        let touched: Vec<&str> = failed
            .iter()
            .chain(&requeued)
            .map(|t: &Task| t.id.as_str())
            .collect();
        notify_tasks(&mut tx, &me.id, &touched).await?;
        for queue in &queues {
            notify(&mut tx, QUEUE_CHANNEL, queue).await?;
        }
        tx.commit().await?;
        out.failed.extend(failed);
        out.requeued.extend(requeued);
        Ok(())
    }
}

fn node_id(node: &Joined) -> String {
    node.lock()
        .unwrap()
        .as_ref()
        .map(|n| n.id.clone())
        .unwrap_or_default()
}

/// Refuses a database written by a newer binary (its migrations are unknown here).
async fn check_schema(conn: &mut PgConnection, shown: &str) -> anyhow::Result<()> {
    let known = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    let (table,): (bool,) = sqlx::query_as("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await
        .with_context(|| format!("cannot read the task store {shown}"))?;
    if !table {
        return Ok(());
    }
    let (found,): (Option<i64>,) = sqlx::query_as("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&mut *conn)
        .await
        .with_context(|| format!("cannot read the task store {shown}"))?;
    match found {
        Some(found) if found > known => anyhow::bail!(
            "the task store {shown} has schema version {found}, newer than this browser-control \
             knows ({known}): run a newer browser-control, or point --store elsewhere"
        ),
        _ => Ok(()),
    }
}

async fn load_task(conn: &mut PgConnection, id: &str) -> StoreResult<Option<Task>> {
    // The task row first: the commands and artifacts read after it are at least as new, so a
    // finished task always comes with its final commands.
    let row: Option<TaskRow> = sqlx::query_as(
        "SELECT id, instance_id, requested_instance, status, name, intention,
                current_command_index, created_at, started_at, completed_at, metadata, error,
                owner, door, priority, conversation_id, context, approval, approvals, undos
         FROM tasks WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    type Command = (
        i64,
        String,
        String,
        String,
        String,
        String,
        Option<i64>,
        Option<i64>,
        Option<String>,
        Option<String>,
    );
    let commands: Vec<Command> = sqlx::query_as(
        "SELECT idx, id, tool_name, intention, args, status, started_at, completed_at, result,
                error
         FROM commands WHERE task_id = $1 ORDER BY idx",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let artifacts: Vec<(i64, i64, String, Vec<u8>)> = sqlx::query_as(
        "SELECT command_idx, item, mime_type, bytes FROM artifacts WHERE task_id = $1
         ORDER BY command_idx, item",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let task = rows::task(
        row,
        commands
            .into_iter()
            .map(|c| CommandRow {
                idx: c.0,
                id: c.1,
                tool_name: c.2,
                intention: c.3,
                args: c.4,
                status: c.5,
                started_at: c.6,
                completed_at: c.7,
                result: c.8,
                error: c.9,
            })
            .collect(),
        artifacts
            .into_iter()
            .map(|a| ArtifactRow {
                command_idx: a.0,
                item: a.1,
                mime_type: a.2,
                bytes: a.3,
            })
            .collect(),
    )?;
    Ok(Some(task))
}

/// The writer task: takes every change waiting, applies them in one transaction with one
/// notification per task touched, then answers.
async fn write_changes(pool: PgPool, node: Joined, mut queue: mpsc::UnboundedReceiver<Pending>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match queue.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let by = node_id(&node);
        match commit_batch(&pool, &by, &batch).await {
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

/// Commits a batch, answering for each change. PostgreSQL aborts a whole transaction at its
/// first error, so when one change fails the batch is done again with one savepoint per change:
/// the others still commit, the failed one changes nothing.
async fn commit_batch(
    pool: &PgPool,
    by: &str,
    batch: &[Pending],
) -> StoreResult<Vec<StoreResult<()>>> {
    let mut tx = pool.begin().await?;
    let mut clean = true;
    for (task_id, change, _) in batch {
        if apply(&mut tx, task_id, change).await.is_err() {
            clean = false;
            break;
        }
    }
    if clean {
        let touched: Vec<&str> = batch.iter().map(|b| b.0.as_str()).collect();
        notify_tasks(&mut tx, by, &touched).await?;
        tx.commit().await?;
        return Ok(batch.iter().map(|_| Ok(())).collect());
    }
    tx.rollback().await?;
    let mut tx = pool.begin().await?;
    let mut each = Vec::with_capacity(batch.len());
    let mut touched = Vec::new();
    for (task_id, change, _) in batch {
        let mut savepoint = Connection::begin(&mut *tx).await?;
        match apply(&mut savepoint, task_id, change).await {
            Ok(()) => {
                savepoint.commit().await?;
                touched.push(task_id.as_str());
                each.push(Ok(()));
            }
            Err(e) => {
                savepoint.rollback().await?;
                each.push(Err(e));
            }
        }
    }
    notify_tasks(&mut tx, by, &touched).await?;
    tx.commit().await?;
    Ok(each)
}

fn already_finished(task_id: &str) -> anyhow::Error {
    anyhow::anyhow!("task {task_id} is already finished in the store (or unknown): not ended again")
}

fn unknown(task_id: &str) -> anyhow::Error {
    anyhow::anyhow!("no task {task_id} in the store")
}

/// Adds the task's next journal entry when its status is one of `allowed` (any, when empty),
/// locking its row until commit; false when it is not (or there is no such task).
async fn note(
    conn: &mut PgConnection,
    task_id: &str,
    what: &Happened,
    at: u64,
    allowed: &[&str],
) -> StoreResult<bool> {
    let allowed: Vec<&str> = allowed.to_vec();
    let done = sqlx::query(
        "WITH t AS (UPDATE tasks SET journal_seq = journal_seq + 1
                    WHERE id = $1 AND (cardinality($4::text[]) = 0 OR status = ANY($4))
                    RETURNING id, journal_seq)
         INSERT INTO task_journal (task_id, seq, at, what) SELECT id, journal_seq, $2, $3 FROM t",
    )
    .bind(task_id)
    .bind(at as i64)
    .bind(rows::json(what))
    .bind(&allowed)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A JSON column of the task (its approvals or undos).
async fn column_of(conn: &mut PgConnection, task_id: &str, column: &str) -> StoreResult<String> {
    let row: Option<(String,)> =
        sqlx::query_as(&format!("SELECT {column} FROM tasks WHERE id = $1"))
            .bind(task_id)
            .fetch_optional(&mut *conn)
            .await?;
    row.map(|r| r.0).ok_or_else(|| unknown(task_id))
}

async fn set_approvals(
    conn: &mut PgConnection,
    task_id: &str,
    approvals: &str,
    pending: i64,
) -> StoreResult<()> {
    sqlx::query("UPDATE tasks SET approvals = $1, pending_approvals = $2 WHERE id = $3")
        .bind(approvals)
        .bind(pending)
        .bind(task_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

fn not_running(task_id: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "task {task_id} is not running in the store: it ended elsewhere (was its runner \
         declared lost?) or is unknown"
    )
}

/// Applies one change. Changes of commands apply only while the task runs, and the end only
/// to an unfinished task: a runner that was declared lost (and whose tasks were failed by
/// another) cannot rewrite them afterwards.
///
/// A change that the journal notes adds its entry first: numbered by an UPDATE of the task's
/// row, which also locks it until commit (a runner reaping this one waits, or is waited for)
/// and checks the status the change needs. An undo is recorded on a finished task: any status
/// lets it through.
async fn apply(conn: &mut PgConnection, task_id: &str, change: &Change) -> StoreResult<()> {
    if let Some((what, at)) = change.happened() {
        let (allowed, refused): (&[&str], fn(&str) -> anyhow::Error) = match change {
            Change::Finished { .. } => (&["queued", "running"], already_finished),
            Change::Undone { .. } => (&[], unknown),
            // A task requeued while it waited can be answered before it is back on its instance.
            Change::ApprovalDecided { .. } => (&["queued", "running"], not_running),
            _ => (&["running"], not_running),
        };
        if !note(conn, task_id, &what, at, allowed).await? {
            return Err(refused(task_id));
        }
    }
    match change {
        Change::ApprovalRequested { approval } => {
            let stored = column_of(conn, task_id, "approvals").await?;
            let (approvals, pending) = rows::with_request(&stored, approval)?;
            set_approvals(conn, task_id, &approvals, pending).await?;
        }
        Change::ApprovalDecided {
            approval_id,
            decision,
            args,
        } => {
            let stored = column_of(conn, task_id, "approvals").await?;
            let (approvals, pending, index) = rows::with_decision(&stored, approval_id, decision)?;
            set_approvals(conn, task_id, &approvals, pending).await?;
            if let Some(new) = args {
                // The parsed arguments are derived from these when read.
                sqlx::query("UPDATE commands SET args = $1 WHERE task_id = $2 AND idx = $3")
                    .bind(new.0.to_string())
                    .bind(task_id)
                    .bind(index as i64)
                    .execute(&mut *conn)
                    .await?;
            }
        }
        Change::Checkpoint { index, state } => {
            let done = sqlx::query(
                "INSERT INTO checkpoints (task_id, idx, state)
                 SELECT id, $2, $3 FROM tasks WHERE id = $1 AND status = 'running'
                 ON CONFLICT (task_id, idx) DO UPDATE SET state = EXCLUDED.state",
            )
            .bind(task_id)
            .bind(*index as i64)
            .bind(state.to_string())
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                return Err(not_running(task_id));
            }
        }
        Change::Undone { undo } => {
            let stored = column_of(conn, task_id, "undos").await?;
            let undos = rows::with_undo(&stored, undo)?;
            sqlx::query("UPDATE tasks SET undos = $1 WHERE id = $2")
                .bind(undos)
                .bind(task_id)
                .execute(&mut *conn)
                .await?;
        }
        // Only its journal entry: the record does not change.
        Change::Paused { .. } | Change::ExternalProgress { .. } => {}
        Change::Requeued { .. } => {
            sqlx::query("UPDATE tasks SET status = 'queued', node_id = NULL WHERE id = $1")
                .bind(task_id)
                .execute(&mut *conn)
                .await?;
        }
        Change::CommandStarted { index, at } => {
            let done = sqlx::query(
                "WITH t AS (UPDATE tasks SET current_command_index = $3
                            WHERE id = $2 AND status = 'running' RETURNING id)
                 UPDATE commands SET status = 'running', started_at = $1
                 WHERE task_id IN (SELECT id FROM t) AND idx = $3",
            )
            .bind(*at as i64)
            .bind(task_id)
            .bind(*index as i64)
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                return Err(not_running(task_id));
            }
        }
        Change::CommandSucceeded { index, result, at } => {
            let (json, found) = artifacts::split(result);
            let done = sqlx::query(
                "UPDATE commands SET status = 'success', completed_at = $1, result = $2
                 WHERE task_id = $3 AND idx = $4
                   AND EXISTS (SELECT 1 FROM tasks WHERE id = $3 AND status = 'running')",
            )
            .bind(*at as i64)
            .bind(json.to_string())
            .bind(task_id)
            .bind(*index as i64)
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                return Err(not_running(task_id));
            }
            let mut bytes = 0i64;
            for a in &found {
                bytes += a.bytes.len() as i64;
                put_artifact(conn, task_id, *index, a.item, &a.mime_type, &a.bytes).await?;
            }
            if bytes > 0 {
                add_bytes(conn, task_id, bytes).await?;
            }
        }
        Change::CommandFailed { index, error, at } => {
            let done = sqlx::query(
                "UPDATE commands SET status = 'error', completed_at = $1, error = $2
                 WHERE task_id = $3 AND idx = $4
                   AND EXISTS (SELECT 1 FROM tasks WHERE id = $3 AND status = 'running')",
            )
            .bind(*at as i64)
            .bind(rows::json(error))
            .bind(task_id)
            .bind(*index as i64)
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                return Err(not_running(task_id));
            }
        }
        Change::FailureScreenshot { index, png } => {
            if let Some(bytes) = artifacts::decode(png) {
                let n = bytes.len() as i64;
                put_artifact(
                    conn,
                    task_id,
                    *index,
                    FAILURE_SCREENSHOT,
                    "image/png",
                    &bytes,
                )
                .await?;
                add_bytes(conn, task_id, n).await?;
            }
        }
        Change::Finished {
            status,
            error,
            skipped,
            at,
        } => {
            let done = sqlx::query(
                "UPDATE tasks SET status = $1, error = $2, completed_at = $3
                 WHERE id = $4 AND status IN ('queued', 'running')",
            )
            .bind(status.as_str())
            .bind(error.as_ref().map(rows::json))
            .bind(*at as i64)
            .bind(task_id)
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                return Err(already_finished(task_id));
            }
            if !skipped.is_empty() {
                let skipped: Vec<i64> = skipped.iter().map(|&i| i as i64).collect();
                sqlx::query(
                    "UPDATE commands SET status = 'skipped',
                        completed_at = CASE WHEN started_at IS NULL THEN NULL ELSE $1 END
                     WHERE task_id = $2 AND idx = ANY($3) AND status IN ('pending', 'running')",
                )
                .bind(*at as i64)
                .bind(task_id)
                .bind(&skipped)
                .execute(&mut *conn)
                .await?;
            }
        }
    }
    Ok(())
}

async fn put_artifact(
    conn: &mut PgConnection,
    task_id: &str,
    index: usize,
    item: usize,
    mime_type: &str,
    bytes: &[u8],
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO artifacts (task_id, command_idx, item, mime_type, bytes)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (task_id, command_idx, item)
         DO UPDATE SET mime_type = EXCLUDED.mime_type, bytes = EXCLUDED.bytes",
    )
    .bind(task_id)
    .bind(index as i64)
    .bind(item as i64)
    .bind(mime_type)
    .bind(bytes)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn add_bytes(conn: &mut PgConnection, task_id: &str, n: i64) -> StoreResult<()> {
    sqlx::query("UPDATE tasks SET artifact_bytes = artifact_bytes + $1 WHERE id = $2")
        .bind(n)
        .bind(task_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Ends a task that lost its runner (or its instance) as failed with `error`; its final record.
async fn fail(
    conn: &mut PgConnection,
    task_id: &str,
    error: CommandError,
    now: u64,
) -> StoreResult<Option<Task>> {
    let Some(task) = load_task(conn, task_id).await? else {
        return Ok(None);
    };
    if task.status.is_finished() {
        return Ok(None);
    }
    for change in Change::lost(&task, error, now) {
        apply(conn, task_id, &change).await?;
    }
    load_task(conn, task_id).await
}

/// [`fail`], or back to its queue when it waited for a person (see [`Change::recovered`]).
async fn fail_or_requeue(
    conn: &mut PgConnection,
    task_id: &str,
    error: CommandError,
    now: u64,
) -> StoreResult<Option<Task>> {
    let Some(task) = load_task(conn, task_id).await? else {
        return Ok(None);
    };
    if task.resume_point().is_none() {
        return fail(conn, task_id, error, now).await;
    }
    apply(conn, task_id, &Change::Requeued { at: now }).await?;
    Ok(None)
}

/// Puts a queued task on instance `target`; its record afterwards.
async fn move_to(
    conn: &mut PgConnection,
    task_id: &str,
    target: &str,
) -> StoreResult<Option<Task>> {
    sqlx::query("UPDATE tasks SET instance_id = $1 WHERE id = $2")
        .bind(target)
        .bind(task_id)
        .execute(&mut *conn)
        .await?;
    load_task(conn, task_id).await
}

async fn instance_known(conn: &mut PgConnection, id: &str) -> StoreResult<bool> {
    let (known,): (bool,) = sqlx::query_as("SELECT EXISTS (SELECT 1 FROM instances WHERE id = $1)")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(known)
}

async fn notify(conn: &mut PgConnection, channel: &str, payload: &str) -> StoreResult<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(channel)
        .bind(payload)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// One `bc_task` notification per task (each once), from runner `by`.
async fn notify_tasks(conn: &mut PgConnection, by: &str, task_ids: &[&str]) -> StoreResult<()> {
    let mut seen = BTreeSet::new();
    let payloads: Vec<String> = task_ids
        .iter()
        .filter(|id| seen.insert(**id))
        .map(|id| format!("{by}:{id}"))
        .collect();
    if payloads.is_empty() {
        return Ok(());
    }
    // In order: a watcher hears of its tasks in the order they were changed.
    sqlx::query(
        "SELECT pg_notify($1, p) FROM unnest($2::text[]) WITH ORDINALITY AS u(p, n) ORDER BY n",
    )
    .bind(TASK_CHANNEL)
    .bind(&payloads)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Inserts a task, its commands and its first journal entry (`queued`, at its creation) and
/// tells every runner (`by` queued it), in one statement.
async fn insert_task(
    conn: &mut PgConnection,
    task: &Task,
    queued: &Happened,
    by: &str,
) -> StoreResult<()> {
    let c = &task.commands;
    let agent = rows::agent_columns(task);
    sqlx::query(
        "WITH t AS (
            INSERT INTO tasks (id, instance_id, requested_instance, status, name, intention,
                               current_command_index, created_at, metadata, owner, door,
                               priority, conversation_id, context, approval, approvals, undos,
                               pending_approvals, journal_seq)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $19, $20,
                    $21, $22, $23, $24, $25, $26, $27, 1)
            RETURNING id),
         c AS (
            INSERT INTO commands (task_id, idx, id, tool_name, intention, args, status)
            SELECT t.id, u.* FROM t, unnest($10::bigint[], $11::text[], $12::text[],
                                            $13::text[], $14::text[], $15::text[]) AS u),
         j AS (
            INSERT INTO task_journal (task_id, seq, at, what) SELECT t.id, 1, $8, $28 FROM t)
         SELECT pg_notify($16, $2), pg_notify($17, $18 || ':' || $1)",
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
    .bind((0..c.len() as i64).collect::<Vec<_>>())
    .bind(c.iter().map(|c| c.id.clone()).collect::<Vec<_>>())
    .bind(c.iter().map(|c| c.tool_name.clone()).collect::<Vec<_>>())
    .bind(c.iter().map(|c| c.intention.clone()).collect::<Vec<_>>())
    .bind(c.iter().map(|c| c.args.to_string()).collect::<Vec<_>>())
    .bind(c.iter().map(|c| c.status.as_str()).collect::<Vec<_>>())
    .bind(QUEUE_CHANNEL)
    .bind(TASK_CHANNEL)
    .bind(by)
    .bind(&task.owner)
    .bind(task.door.as_str())
    .bind(agent.priority)
    .bind(agent.conversation_id)
    .bind(agent.context)
    .bind(agent.approval)
    .bind(agent.approvals)
    .bind(agent.undos)
    .bind(agent.pending_approvals)
    .bind(rows::json(queued))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The least-loaded shared instance (queued plus running), ties to the lowest id, locked for
/// this transaction (see [`lock_instance`]). `None` also when the one chosen left meanwhile.
async fn least_loaded(conn: &mut PgConnection) -> StoreResult<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT i.id FROM instances i WHERE NOT i.private
         ORDER BY (SELECT COUNT(*) FROM tasks t
                   WHERE t.instance_id = i.id AND t.status IN ('queued', 'running')), i.id
         LIMIT 1 FOR UPDATE OF i",
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| r.0))
}

async fn any_shared(conn: &mut PgConnection) -> StoreResult<bool> {
    let (any,): (bool,) =
        sqlx::query_as("SELECT EXISTS (SELECT 1 FROM instances WHERE NOT private)")
            .fetch_one(&mut *conn)
            .await?;
    Ok(any)
}

/// Locks instance `id` for this transaction (queue counts stay true until it commits, and it
/// cannot be removed meanwhile); false when it is not there.
async fn lock_instance(conn: &mut PgConnection, id: &str) -> StoreResult<bool> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT id FROM instances WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.is_some())
}

/// The least-loaded shared instance of a live runner (`me`, or one that heartbeated since
/// `cutoff`), other than `lost`'s, locked.
async fn live_instance(
    conn: &mut PgConnection,
    lost: &str,
    me: &str,
    cutoff: i64,
) -> StoreResult<Option<String>> {
    for _ in 0..5 {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT i.id FROM instances i JOIN nodes n ON n.id = i.node_id
             WHERE NOT i.private AND n.id <> $1 AND (n.id = $2 OR n.heartbeat_at >= $3)
             ORDER BY (SELECT COUNT(*) FROM tasks t
                       WHERE t.instance_id = i.id AND t.status IN ('queued', 'running')), i.id
             LIMIT 1",
        )
        .bind(lost)
        .bind(me)
        .bind(cutoff)
        .fetch_optional(&mut *conn)
        .await?;
        let Some((id,)) = row else { return Ok(None) };
        if lock_instance(conn, &id).await? {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// A listener on every channel of the store.
async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.ignore_pool_close_event(true);
    listener
        .listen_all([
            TASK_CHANNEL,
            QUEUE_CHANNEL,
            CANCEL_CHANNEL,
            INSTANCES_CHANNEL,
        ])
        .await?;
    Ok(listener)
}

fn signal_of(channel: &str, payload: &str) -> Option<Signal> {
    Some(match channel {
        TASK_CHANNEL => match payload.split_once(':') {
            Some((by, task_id)) => Signal::TaskChanged {
                task_id: task_id.to_string(),
                by: by.to_string(),
            },
            None => Signal::TaskChanged {
                task_id: payload.to_string(),
                by: String::new(),
            },
        },
        QUEUE_CHANNEL => Signal::Queued {
            instance_id: payload.to_string(),
        },
        CANCEL_CHANNEL => Signal::CancelRequested {
            task_id: payload.to_string(),
        },
        INSTANCES_CHANNEL => Signal::InstancesChanged,
        _ => return None,
    })
}

/// What a listing reads of a task `t`, named as [`SummaryRow`]'s fields.
const SUMMARY_COLUMNS: &str = "t.id, t.name, t.status, t.instance_id, t.current_command_index,
    (SELECT COUNT(*) FROM commands c WHERE c.task_id = t.id) AS total_commands,
    t.created_at, t.started_at, t.completed_at, t.owner, t.priority, t.conversation_id,
    t.pending_approvals";

#[async_trait::async_trait]
impl TaskReader for PostgresStore {
    async fn journal(&self, task_id: &str, after: u64) -> StoreResult<Vec<JournalEntry>> {
        let rows: Vec<(i64, i64, String)> = sqlx::query_as(
            "SELECT seq, at, what FROM task_journal WHERE task_id = $1 AND seq > $2 ORDER BY seq",
        )
        .bind(task_id)
        .bind(after.min(i64::MAX as u64) as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|(seq, at, what)| rows::journal_entry(*seq, *at, what))
            .collect()
    }

    async fn history(&self, query: &HistoryQuery) -> StoreResult<HistoryPage> {
        // Only the filters given, so that each shape of query has its own plan (an owner's
        // history reads that owner's index, newest first; a generic plan of `$1 IS NULL OR
        // owner = $1` would read every task).
        enum Arg {
            Text(String),
            Int(i64),
        }
        let ms = |t: u64| Arg::Int(t.min(i64::MAX as u64) as i64);
        let mut args: Vec<Arg> = Vec::new();
        let mut terms: Vec<String> = Vec::new();
        let mut term = |sql: &str, arg: Option<Arg>| match arg {
            Some(arg) => {
                args.push(arg);
                terms.push(sql.replace('#', &format!("${}", args.len())));
            }
            None => terms.push(sql.to_string()),
        };
        if let Some(owner) = &query.owner {
            term("owner = #", Some(Arg::Text(owner.clone())));
        }
        if let Some(conversation) = &query.conversation_id {
            term("conversation_id = #", Some(Arg::Text(conversation.clone())));
        }
        if let Some(from) = query.created_from {
            term("created_at >= #", Some(ms(from)));
        }
        if let Some(to) = query.created_to {
            term("created_at <= #", Some(ms(to)));
        }
        let running = || Some(Arg::Text("running".into()));
        match query.status {
            None => {}
            Some(HistoryStatus::Paused) => {
                term("status = #", running());
                term("pending_approvals > 0", None);
            }
            Some(HistoryStatus::Task(TaskStatus::Running)) => {
                term("status = #", running());
                term("pending_approvals = 0", None);
            }
            Some(HistoryStatus::Task(status)) => {
                term("status = #", Some(Arg::Text(status.as_str().into())));
            }
        }
        let filter = if terms.is_empty() {
            "TRUE".to_string()
        } else {
            terms.join(" AND ")
        };
        let n = args.len();
        args.push(Arg::Int(query.limit.min(i64::MAX as usize) as i64));
        args.push(Arg::Int(query.offset.min(i64::MAX as usize) as i64));
        // One round trip: the count of all matching, and the page (none when the page is past
        // the end: then one row of NULLs).
        let sql = format!(
            "SELECT m.total, {SUMMARY_COLUMNS}
             FROM (SELECT COUNT(*) AS total FROM tasks WHERE {filter}) m
             LEFT JOIN (SELECT * FROM tasks WHERE {filter}
                        ORDER BY created_at DESC, id DESC LIMIT ${} OFFSET ${}) t ON TRUE
             ORDER BY t.created_at DESC, t.id DESC",
            n + 1,
            n + 2
        );
        let mut q = sqlx::query(&sql);
        for arg in args {
            q = match arg {
                Arg::Text(v) => q.bind(v),
                Arg::Int(v) => q.bind(v),
            };
        }
        let found = q.fetch_all(&self.pool).await?;
        let mut total = 0;
        let mut tasks = Vec::new();
        for r in &found {
            total = r.try_get::<i64, _>(0)? as usize;
            if r.try_get::<Option<String>, _>(1)?.is_some() {
                tasks.push(rows::summary(SummaryRow::from_row(r)?)?);
            }
        }
        Ok(HistoryPage { tasks, total })
    }

    async fn queue_position(&self, task_id: &str) -> StoreResult<Option<usize>> {
        let n: Option<(i64,)> = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM tasks r
                     WHERE r.instance_id = t.instance_id AND r.status = 'running')
                  + (SELECT COUNT(*) FROM tasks q
                     WHERE q.instance_id = t.instance_id AND q.status = 'queued'
                       AND (q.priority > t.priority
                            OR (q.priority = t.priority AND q.seq < t.seq)))
             FROM tasks t WHERE t.id = $1 AND t.status = 'queued'",
        )
        .bind(task_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(n.map(|(n,)| n as usize))
    }

    async fn recent_durations(&self, instance_id: &str, n: usize) -> StoreResult<Vec<u64>> {
        let rows: Vec<(i64,)> = sqlx::query_as(
            "SELECT completed_at - started_at FROM tasks
             WHERE instance_id = $1 AND completed_at IS NOT NULL AND started_at IS NOT NULL
               AND status IN ('completed', 'failed', 'cancelled')
             ORDER BY completed_at DESC, seq DESC LIMIT $2",
        )
        .bind(instance_id)
        .bind(n.min(i64::MAX as usize) as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(d,)| d.max(0) as u64).collect())
    }

    async fn checkpoint(
        &self,
        task_id: &str,
        index: usize,
    ) -> StoreResult<Option<serde_json::Value>> {
        let state: Option<(String,)> =
            sqlx::query_as("SELECT state FROM checkpoints WHERE task_id = $1 AND idx = $2")
                .bind(task_id)
                .bind(index as i64)
                .fetch_optional(&self.pool)
                .await?;
        match state {
            Some((json,)) => Ok(Some(serde_json::from_str(&json).context("checkpoint")?)),
            None => Ok(None),
        }
    }

    async fn last_started_on(&self, instance_id: &str) -> StoreResult<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT id FROM tasks WHERE instance_id = $1 AND started_at IS NOT NULL
             ORDER BY started_at DESC, seq DESC LIMIT 1",
        )
        .bind(instance_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(id,)| id))
    }

    async fn get(&self, id: &str) -> StoreResult<Option<Task>> {
        let mut conn = self.pool.acquire().await?;
        load_task(&mut conn, id).await
    }

    async fn list(&self, filter: &TaskFilter) -> StoreResult<Vec<TaskSummary>> {
        // Only the filters given (as in `history`): a generic plan of `$1 IS NULL OR …` reads
        // every task.
        let given = [
            ("instance_id", filter.instance_id.as_deref()),
            ("status", filter.status.map(|s| s.as_str())),
            ("owner", filter.owner.as_deref()),
        ];
        let mut terms = Vec::new();
        let mut args = Vec::new();
        for (column, value) in given {
            if let Some(value) = value {
                args.push(value);
                terms.push(format!("t.{column} = ${}", args.len()));
            }
        }
        let filter = if terms.is_empty() {
            "TRUE".to_string()
        } else {
            terms.join(" AND ")
        };
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM tasks t WHERE {filter} ORDER BY t.created_at, t.id"
        );
        let mut query = sqlx::query_as::<_, SummaryRow>(&sql);
        for arg in args {
            query = query.bind(arg);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.into_iter().map(rows::summary).collect()
    }

    async fn count_queued_of(&self, owner: &str) -> StoreResult<usize> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM tasks WHERE owner = $1 AND status = 'queued'")
                .bind(owner)
                .fetch_one(&self.pool)
                .await?;
        Ok(n as usize)
    }

    async fn count_by_status(&self) -> StoreResult<Vec<(TaskStatus, usize)>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, COUNT(*) FROM tasks GROUP BY status")
                .fetch_all(&self.pool)
                .await?;
        Ok(TaskStatus::ALL
            .into_iter()
            .map(|s| {
                let n = rows.iter().find(|r| r.0 == s.as_str()).map_or(0, |r| r.1);
                (s, n as usize)
            })
            .collect())
    }

    async fn cluster(&self) -> StoreResult<ClusterInfo> {
        let (nodes, instances): (i64, i64) =
            sqlx::query_as("SELECT (SELECT COUNT(*) FROM nodes), (SELECT COUNT(*) FROM instances)")
                .fetch_one(&self.pool)
                .await?;
        Ok(ClusterInfo {
            nodes: nodes as usize,
            instances: instances as usize,
        })
    }

    async fn instances(&self) -> StoreResult<Vec<InstanceRecord>> {
        let rows: Vec<(String, String, bool, Option<String>)> =
            sqlx::query_as("SELECT id, node_id, private, owner FROM instances ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(id, node_id, private, owner)| InstanceRecord {
                id,
                node_id,
                private,
                owner,
            })
            .collect())
    }
}

type KeyRow = (String, String, bool, String, i64, Option<i64>);

fn key_of(r: KeyRow) -> ApiKeyRecord {
    ApiKeyRecord {
        id: r.0,
        user: r.1,
        admin: r.2,
        hash: r.3,
        created_at: r.4 as u64,
        revoked_at: r.5.map(|t| t as u64),
    }
}

#[async_trait::async_trait]
impl Accounts for PostgresStore {
    async fn add_key(&self, key: &ApiKeyRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO api_keys (id, user_name, admin, hash, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&key.id)
        .bind(&key.user)
        .bind(key.admin)
        .bind(&key.hash)
        .bind(key.created_at as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let row: Option<KeyRow> = sqlx::query_as(
            "SELECT id, user_name, admin, hash, created_at, revoked_at FROM api_keys
             WHERE hash = $1",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(key_of))
    }

    async fn keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        let rows: Vec<KeyRow> = sqlx::query_as(
            "SELECT id, user_name, admin, hash, created_at, revoked_at FROM api_keys
             ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(key_of).collect())
    }

    async fn revoke_key(&self, id: &str, now: u64) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now as i64)
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn audit(&self, e: &AuditEntry) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit (at, user_name, action, target, door, node_id, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(e.at as i64)
        .bind(&e.user)
        .bind(&e.action)
        .bind(&e.target)
        .bind(&e.door)
        .bind(&e.node_id)
        .bind(&e.detail)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn audit_log(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        type Row = (i64, String, String, String, String, String, Option<String>);
        let mut rows: Vec<Row> = sqlx::query_as(
            "SELECT at, user_name, action, target, door, node_id, detail FROM audit
             WHERE ($1::text IS NULL OR user_name = $1) AND ($2::bigint IS NULL OR at >= $2)
             ORDER BY seq DESC LIMIT $3",
        )
        .bind(filter.user.as_deref())
        .bind(filter.since.map(|t| t as i64))
        .bind(filter.limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.reverse();
        Ok(rows
            .into_iter()
            .map(|r| AuditEntry {
                at: r.0 as u64,
                user: r.1,
                action: r.2,
                target: r.3,
                door: r.4,
                node_id: r.5,
                detail: r.6,
            })
            .collect())
    }
}

#[async_trait::async_trait]
impl TaskStore for PostgresStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn describe(&self) -> String {
        self.shown.clone()
    }

    fn shared(&self) -> bool {
        true
    }

    async fn join(&self) -> StoreResult<Node> {
        let now = now_ms() as i64;
        let mut tx = self.pool.begin().await?;
        let (number,): (i64,) = sqlx::query_as(
            "INSERT INTO nodes (number, id, started_at, heartbeat_at)
             SELECT n, 'node_' || n, $1, $1
             FROM (SELECT nextval(pg_get_serial_sequence('nodes', 'number')) AS n) AS s
             RETURNING number",
        )
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        notify(&mut tx, INSTANCES_CHANNEL, "").await?;
        tx.commit().await?;
        let node = Node {
            id: format!("node_{number}"),
            number: number as u64,
        };
        *self.node.lock().unwrap() = Some(node.clone());
        Ok(node)
    }

    async fn heartbeat(&self, node: &Node) -> StoreResult<()> {
        let done = sqlx::query("UPDATE nodes SET heartbeat_at = $1 WHERE id = $2")
            .bind(now_ms() as i64)
            .bind(&node.id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            anyhow::bail!(
                "runner {} is no longer registered in the task store {}: another runner \
                 declared it lost (no heartbeat within the lease) and ended its tasks",
                node.id,
                self.shown
            );
        }
        Ok(())
    }

    async fn leave(&self, node: &Node) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM instances WHERE node_id = $1")
            .bind(&node.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM nodes WHERE id = $1")
            .bind(&node.id)
            .execute(&mut *tx)
            .await?;
        notify(&mut tx, INSTANCES_CHANNEL, "").await?;
        tx.commit().await?;
        Ok(())
    }

    async fn new_instance_id(&self) -> StoreResult<String> {
        let (n,): (i64,) = sqlx::query_as("SELECT nextval('instance_ids')")
            .fetch_one(&self.pool)
            .await?;
        Ok(format!("inst_{n}"))
    }

    async fn add_instance(&self, instance: &InstanceRecord) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO instances (id, node_id, private, owner) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET node_id = EXCLUDED.node_id,
                 private = EXCLUDED.private, owner = EXCLUDED.owner",
        )
        .bind(&instance.id)
        .bind(&instance.node_id)
        .bind(instance.private)
        .bind(&instance.owner)
        .execute(&mut *tx)
        .await?;
        notify(&mut tx, INSTANCES_CHANNEL, "").await?;
        tx.commit().await?;
        Ok(())
    }

    async fn remove_instance(&self, id: &str) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM instances WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        notify(&mut tx, INSTANCES_CHANNEL, "").await?;
        tx.commit().await?;
        Ok(())
    }

    async fn enqueue(
        &self,
        mut task: Task,
        placement: Placement,
        limit: usize,
    ) -> StoreResult<Result<Enqueued, EnqueueError>> {
        let mut tx = self.pool.begin().await?;
        // The instance is locked until commit: two runners queueing on it at once count its
        // queue one after the other, and it cannot leave with this task unseen.
        let instance = match placement {
            Placement::Instance(id) => {
                if !lock_instance(&mut tx, &id).await? {
                    return Ok(Err(EnqueueError::UnknownInstance(id)));
                }
                id
            }
            Placement::LeastLoaded => {
                let mut chosen = None;
                // The chosen one may leave before it is locked: choose again.
                for _ in 0..5 {
                    match least_loaded(&mut tx).await? {
                        Some(id) => {
                            chosen = Some(id);
                            break;
                        }
                        None if !any_shared(&mut tx).await? => break,
                        None => continue,
                    }
                }
                match chosen {
                    Some(id) => id,
                    None => return Ok(Err(EnqueueError::NoInstance)),
                }
            }
        };
        // Behind the running one and every queued task of its priority or higher.
        let (queued, running, ahead): (i64, i64, i64) = sqlx::query_as(
            "SELECT COUNT(*) FILTER (WHERE status = 'queued'),
                    COUNT(*) FILTER (WHERE status = 'running'),
                    COUNT(*) FILTER (WHERE status = 'queued' AND priority >= $2)
             FROM tasks WHERE instance_id = $1 AND status IN ('queued', 'running')",
        )
        .bind(&instance)
        .bind(task.priority as i64)
        .fetch_one(&mut *tx)
        .await?;
        if queued as usize >= limit {
            return Ok(Err(EnqueueError::QueueFull { instance, limit }));
        }
        let position = (running + ahead) as usize;
        task.instance_id = instance;
        let queued = Happened::Queued { position };
        insert_task(&mut tx, &task, &queued, &self.me()).await?;
        tx.commit().await?;
        task.note(queued, task.created_at);
        Ok(Ok(Enqueued { task, position }))
    }

    async fn claim(&self, instance_id: &str, node: &Node, now: u64) -> StoreResult<Option<String>> {
        // SKIP LOCKED: a row another runner is claiming right now is left to it; the status
        // test in the outer UPDATE is checked again on the row as it is once locked. One
        // statement, so the claim and its notification commit together.
        // Its journal gains `started` in the same statement.
        let claimed: Option<(String,)> = sqlx::query_as(
            "WITH c AS (
                UPDATE tasks SET status = 'running', started_at = COALESCE(started_at, $1), node_id = $2,
                                 journal_seq = journal_seq + 1
                WHERE seq = (SELECT seq FROM tasks WHERE instance_id = $3 AND status = 'queued'
                             ORDER BY priority DESC, seq LIMIT 1 FOR UPDATE SKIP LOCKED)
                  AND status = 'queued'
                RETURNING id, journal_seq),
             j AS (
                INSERT INTO task_journal (task_id, seq, at, what)
                SELECT id, journal_seq, $1, $5 FROM c)
             SELECT c.id FROM c CROSS JOIN LATERAL pg_notify($4, $2 || ':' || c.id) AS n",
        )
        .bind(now as i64)
        .bind(&node.id)
        .bind(instance_id)
        .bind(TASK_CHANNEL)
        .bind(rows::json(&Happened::Started))
        .fetch_optional(&self.pool)
        .await?;
        // Only this runner changes it from now on; the scheduler has its record.
        Ok(claimed.map(|(id,)| id))
    }

    async fn cancel_queued(&self, task_id: &str, now: u64) -> StoreResult<Option<Task>> {
        let mut tx = self.pool.begin().await?;
        let status: Option<(String,)> =
            sqlx::query_as("SELECT status FROM tasks WHERE id = $1 FOR UPDATE")
                .bind(task_id)
                .fetch_optional(&mut *tx)
                .await?;
        if status.is_none_or(|(s,)| s != TaskStatus::Queued.as_str()) {
            return Ok(None);
        }
        let Some(task) = load_task(&mut tx, task_id).await? else {
            return Ok(None);
        };
        apply(&mut tx, task_id, &Change::finish(&task, true, now)).await?;
        notify_tasks(&mut tx, &self.me(), &[task_id]).await?;
        let task = load_task(&mut tx, task_id).await?;
        tx.commit().await?;
        Ok(task)
    }

    async fn request_cancel(&self, task_id: &str) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        notify(&mut conn, CANCEL_CHANNEL, task_id).await
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

    async fn recover(&self, me: &Node, lease: Duration, now: u64) -> StoreResult<Recovered> {
        let cutoff = now as i64 - lease.as_millis() as i64;
        let mut recovered = Recovered::default();
        let lost: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM nodes WHERE heartbeat_at < $1 AND id <> $2 ORDER BY number",
        )
        .bind(cutoff)
        .bind(&me.id)
        .fetch_all(&self.pool)
        .await?;
        for (node,) in lost {
            self.reap(&node, me, cutoff, now, &mut recovered).await?;
        }
        self.fail_orphans(me, now, &mut recovered).await?;
        Ok(recovered)
    }

    async fn enforce_retention(&self, retention: &Retention, now: u64) -> StoreResult<usize> {
        let finished: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT seq, completed_at, artifact_bytes FROM tasks
             WHERE completed_at IS NOT NULL AND status IN ('completed', 'failed', 'cancelled')
             ORDER BY completed_at DESC, seq DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        let doomed = super::doomed(&finished, retention, now);
        if doomed.is_empty() {
            return Ok(0);
        }
        sqlx::query("DELETE FROM tasks WHERE seq = ANY($1)")
            .bind(&doomed)
            .execute(&self.pool)
            .await?;
        Ok(doomed.len())
    }

    /// Listens on every channel. Notifications are not queued for a listener that is not
    /// connected: when the listening connection drops, whatever was sent until it is back
    /// (task changes, queued tasks, cancel requests, instances joining or leaving) is missed.
    /// So after every reconnect the stream yields [`Signal::InstancesChanged`]: the scheduler
    /// then reads the store again (its instances' queues, the tasks it watches) rather than
    /// trusting the news it heard.
    async fn signals(&self) -> StoreResult<Option<BoxStream<'static, Signal>>> {
        // Its own pool of one connection, through which the listener reconnects.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(self.options.clone())
            .await
            .with_context(|| format!("cannot connect to the task store {}", self.shown))?;
        let mut listener = listen(&pool).await?;
        let shown = self.shown.clone();
        let stream = async_stream::stream! {
            loop {
                match listener.try_recv().await {
                    Ok(Some(n)) => {
                        if let Some(signal) = signal_of(n.channel(), n.payload()) {
                            yield signal;
                        }
                    }
                    // The connection dropped and the listener is back (it listens again on
                    // every channel): what was sent meanwhile is lost.
                    Ok(None) => {
                        tracing::warn!(
                            "task store {shown}: the listening connection dropped and is back; \
                             reading the store again"
                        );
                        yield Signal::InstancesChanged;
                    }
                    // The server ended the connection, or the listener could not connect
                    // again: a new listener, once the server answers.
                    Err(e) => {
                        tracing::warn!("task store {shown}: not listening: {e:#}; retrying");
                        // Its connection goes back to the pool (of one) first.
                        drop(listener);
                        let mut pause = Duration::from_millis(250);
                        listener = loop {
                            tokio::time::sleep(pause).await;
                            match listen(&pool).await {
                                Ok(again) => break again,
                                Err(e) => {
                                    tracing::debug!(
                                        "task store {shown}: still not listening: {e:#}"
                                    );
                                    pause = (pause * 2).min(Duration::from_secs(5));
                                }
                            }
                        };
                        tracing::warn!(
                            "task store {shown}: listening again; reading the store again"
                        );
                        yield Signal::InstancesChanged;
                    }
                }
            }
        };
        Ok(Some(Box::pin(stream)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_map_to_signals() {
        assert_eq!(
            signal_of(TASK_CHANNEL, "node_3:task_1_a"),
            Some(Signal::TaskChanged {
                task_id: "task_1_a".into(),
                by: "node_3".into()
            })
        );
        assert_eq!(
            signal_of(QUEUE_CHANNEL, "inst_4"),
            Some(Signal::Queued {
                instance_id: "inst_4".into()
            })
        );
        assert_eq!(
            signal_of(CANCEL_CHANNEL, "task_1_a"),
            Some(Signal::CancelRequested {
                task_id: "task_1_a".into()
            })
        );
        assert_eq!(
            signal_of(INSTANCES_CHANNEL, ""),
            Some(Signal::InstancesChanged)
        );
        assert_eq!(signal_of("other", "x"), None);
    }
}
