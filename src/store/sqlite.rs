//! The SQLite store, the default: one file, one runner at a time (a lock file says who), WAL
//! mode. Every write goes to one writer thread that owns the write connection: the writes
//! waiting when it is free are applied in one transaction (each in a savepoint of its own, so
//! one that fails takes nothing else with it) and committed together. A change is answered
//! after its commit: a finished task is durable before anyone hears it finished. Reads use
//! their own connections on tokio's blocking threads (WAL lets them read while it writes).

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use futures::future::BoxFuture;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use tokio::sync::oneshot;

use super::artifacts::{self, FAILURE_SCREENSHOT};
use super::rows::{self, ArtifactRow, CommandRow, SummaryRow, TaskRow};
use super::{
    Accounts, ApiKeyRecord, AuditEntry, AuditFilter, Change, ClusterInfo, EnqueueError, Enqueued,
    HistoryPage, HistoryQuery, HistoryStatus, InstanceRecord, Node, Placement, Recovered,
    Retention, StoreResult, TaskFilter, TaskReader, TaskStore,
};
use crate::task::{CommandError, ErrorCode, Happened, JournalEntry, Task, TaskStatus, TaskSummary};

/// The schema, one migration per entry; `PRAGMA user_version` says how many ran.
const MIGRATIONS: [&str; 4] = [
    include_str!("../../migrations/sqlite/0001_tasks.sql"),
    include_str!("../../migrations/sqlite/0002_users.sql"),
    include_str!("../../migrations/sqlite/0003_agent.sql"),
    include_str!("../../migrations/sqlite/0004_history_by_status.sql"),
];

/// A write, run by the writer thread inside the batch's transaction; it returns what to do
/// once the batch committed (or failed to).
type Job = Box<dyn FnOnce(&mut rusqlite::Transaction) -> Reply + Send>;
type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;

pub struct SqliteStore {
    path: PathBuf,
    jobs: mpsc::Sender<Job>,
    readers: Arc<Mutex<Vec<Connection>>>,
    /// Held while the store is open: a second runner on the same file is refused.
    _lock: nix::fcntl::Flock<File>,
    next_instance: AtomicU64,
    /// Counts the writer's commits: a history's `total` read at one count stays right until
    /// the next (a count of 100,000 matches is most of a history's cost).
    commits: Arc<AtomicU64>,
    totals: Arc<Mutex<HashMap<String, (u64, usize)>>>,
}

impl SqliteStore {
    pub async fn open(path: &Path) -> anyhow::Result<SqliteStore> {
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || Self::open_blocking(&path)).await?
    }

    fn open_blocking(path: &Path) -> anyhow::Result<SqliteStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the store's folder {}", dir.display()))?;
        }
        let lock = lock_file(path)?;
        let mut writer = Connection::open(path)
            .with_context(|| format!("cannot open the task store {}", path.display()))?;
        // With WAL, a commit survives the process being killed; only a power cut may lose
        // the last ones.
        writer.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        )?;
        writer.busy_timeout(Duration::from_secs(10))?;
        migrate(&mut writer, path)?;
        let (jobs, queue) = mpsc::channel();
        let commits = Arc::new(AtomicU64::new(0));
        std::thread::Builder::new()
            .name("task-store-writer".into())
            .spawn({
                let commits = commits.clone();
                move || write_loop(writer, queue, &commits)
            })?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            jobs,
            readers: Arc::new(Mutex::new(Vec::new())),
            _lock: lock,
            next_instance: AtomicU64::new(1),
            commits,
            totals: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// Runs `work` in the writer's next batch; resolves once that batch is committed.
    fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> BoxFuture<'static, StoreResult<T>> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |batch| {
            let done = (|| {
                let savepoint = batch.savepoint()?;
                let value = work(&savepoint)?;
                savepoint.commit()?;
                Ok(value)
            })();
            Box::new(move |committed| {
                let _ = tx.send(match committed {
                    Ok(()) => done,
                    Err(e) => Err(anyhow::anyhow!("cannot commit: {e}")),
                });
            })
        });
        let sent = self.jobs.send(job);
        Box::pin(async move {
            sent.map_err(|_| anyhow::anyhow!("the task store is closed"))?;
            rx.await
                .map_err(|_| anyhow::anyhow!("the task store is closed"))?
        })
    }

    /// Runs `work` on a read connection, off the runtime.
    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let readers = self.readers.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = readers.lock().unwrap().pop();
            let conn = match pooled {
                Some(conn) => conn,
                None => {
                    let conn = Connection::open_with_flags(
                        &path,
                        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )?;
                    conn.busy_timeout(Duration::from_secs(10))?;
                    conn
                }
            };
            let out = work(&conn);
            let mut pool = readers.lock().unwrap();
            if pool.len() < 4 {
                pool.push(conn);
            }
            out
        })
        .await?
    }
}

fn write_loop(mut conn: Connection, queue: mpsc::Receiver<Job>, commits: &AtomicU64) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < 512 {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut replies = Vec::with_capacity(batch.len());
        let committed = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(mut tx) => {
                for job in batch {
                    replies.push(job(&mut tx));
                }
                tx.commit().map_err(|e| e.to_string())
            }
            Err(e) => {
                // Nothing ran: each job is answered with the failure.
                let reason = e.to_string();
                tracing::error!("task store: cannot begin a transaction: {reason}");
                for job in batch {
                    drop(job);
                }
                Err(reason)
            }
        };
        if let Err(e) = &committed {
            tracing::error!("task store: cannot commit: {e}");
        }
        // Before anyone hears of the commit: a read that sees the new count sees the data.
        commits.fetch_add(1, Ordering::Release);
        for reply in replies {
            reply(committed.clone());
        }
    }
}

fn lock_file(path: &Path) -> anyhow::Result<nix::fcntl::Flock<File>> {
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

/// Runs the migrations this file lacks; refuses a file written by a newer binary.
fn migrate(conn: &mut Connection, path: &Path) -> anyhow::Result<()> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    anyhow::ensure!(
        found <= known,
        "the task store {} has schema version {found}, newer than this browser-control knows \
         ({known}): run a newer browser-control, or point --store elsewhere",
        path.display()
    );
    for (i, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(migration)
            .with_context(|| format!("cannot migrate the task store {}", path.display()))?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

fn load_task(conn: &Connection, id: &str) -> StoreResult<Option<Task>> {
    let row = conn
        .prepare_cached(
            "SELECT id, instance_id, requested_instance, status, name, intention,
                    current_command_index, created_at, started_at, completed_at, metadata, error,
                    owner, door, priority, conversation_id, context, approval, approvals, undos
             FROM tasks WHERE id = ?",
        )?
        .query_row([id], |r| {
            Ok(TaskRow {
                id: r.get(0)?,
                instance_id: r.get(1)?,
                requested_instance: r.get(2)?,
                status: r.get(3)?,
                name: r.get(4)?,
                intention: r.get(5)?,
                current_command_index: r.get(6)?,
                created_at: r.get(7)?,
                started_at: r.get(8)?,
                completed_at: r.get(9)?,
                metadata: r.get(10)?,
                error: r.get(11)?,
                owner: r.get(12)?,
                door: r.get(13)?,
                priority: r.get(14)?,
                conversation_id: r.get(15)?,
                context: r.get(16)?,
                approval: r.get(17)?,
                approvals: r.get(18)?,
                undos: r.get(19)?,
            })
        })
        .optional()?;
    let Some(row) = row else { return Ok(None) };
    let commands = conn
        .prepare_cached(
            "SELECT idx, id, tool_name, intention, args, status, started_at, completed_at,
                    result, error
             FROM commands WHERE task_id = ? ORDER BY idx",
        )?
        .query_map([id], |r| {
            Ok(CommandRow {
                idx: r.get(0)?,
                id: r.get(1)?,
                tool_name: r.get(2)?,
                intention: r.get(3)?,
                args: r.get(4)?,
                status: r.get(5)?,
                started_at: r.get(6)?,
                completed_at: r.get(7)?,
                result: r.get(8)?,
                error: r.get(9)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let artifacts = conn
        .prepare_cached(
            "SELECT command_idx, item, mime_type, bytes FROM artifacts WHERE task_id = ?
             ORDER BY command_idx, item",
        )?
        .query_map([id], |r| {
            Ok(ArtifactRow {
                command_idx: r.get(0)?,
                item: r.get(1)?,
                mime_type: r.get(2)?,
                bytes: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(rows::task(row, commands, artifacts)?))
}

fn insert_artifact(
    conn: &Connection,
    task_id: &str,
    index: usize,
    item: i64,
    mime_type: &str,
    bytes: &[u8],
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO artifacts (task_id, command_idx, item, mime_type, bytes)
         VALUES (?, ?, ?, ?, ?)",
    )?
    .execute(params![task_id, index as i64, item, mime_type, bytes])?;
    conn.prepare_cached("UPDATE tasks SET artifact_bytes = artifact_bytes + ? WHERE id = ?")?
        .execute(params![bytes.len() as i64, task_id])?;
    Ok(())
}

/// Adds the task's next journal entry (numbered after its last); false when there is no such
/// task.
fn note(conn: &Connection, task_id: &str, what: &Happened, at: u64) -> StoreResult<bool> {
    let seq: Option<i64> = conn
        .prepare_cached(
            "UPDATE tasks SET journal_seq = journal_seq + 1 WHERE id = ? RETURNING journal_seq",
        )?
        .query_row([task_id], |r| r.get(0))
        .optional()?;
    let Some(seq) = seq else { return Ok(false) };
    conn.prepare_cached("INSERT INTO task_journal (task_id, seq, at, what) VALUES (?, ?, ?, ?)")?
        .execute(params![task_id, seq, at as i64, rows::json(what)])?;
    Ok(true)
}

/// A JSON column of the task (its approvals or undos).
fn column_of(conn: &Connection, task_id: &str, column: &str) -> StoreResult<String> {
    conn.prepare_cached(&format!("SELECT {column} FROM tasks WHERE id = ?"))?
        .query_row([task_id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| anyhow::anyhow!("no task {task_id}"))
}

/// Applies one change and adds its journal entry, in the caller's transaction (a change that
/// fails changes nothing: the caller's savepoint is rolled back).
fn apply(conn: &Connection, task_id: &str, change: &Change) -> StoreResult<()> {
    if let Some((what, at)) = change.happened() {
        anyhow::ensure!(note(conn, task_id, &what, at)?, "no task {task_id}");
    }
    match change {
        Change::ApprovalRequested { approval } => {
            let stored = column_of(conn, task_id, "approvals")?;
            let (approvals, pending) = rows::with_request(&stored, approval)?;
            conn.prepare_cached(
                "UPDATE tasks SET approvals = ?, pending_approvals = ? WHERE id = ?",
            )?
            .execute(params![approvals, pending, task_id])?;
        }
        Change::ApprovalDecided {
            approval_id,
            decision,
            args,
        } => {
            let stored = column_of(conn, task_id, "approvals")?;
            let (approvals, pending, index) = rows::with_decision(&stored, approval_id, decision)?;
            conn.prepare_cached(
                "UPDATE tasks SET approvals = ?, pending_approvals = ? WHERE id = ?",
            )?
            .execute(params![approvals, pending, task_id])?;
            if let Some(new) = args {
                // The parsed arguments are derived from these when read.
                conn.prepare_cached("UPDATE commands SET args = ? WHERE task_id = ? AND idx = ?")?
                    .execute(params![new.0.to_string(), task_id, index as i64])?;
            }
        }
        Change::Checkpoint { index, state } => {
            conn.prepare_cached(
                "INSERT INTO checkpoints (task_id, idx, state) VALUES (?, ?, ?)
                 ON CONFLICT (task_id, idx) DO UPDATE SET state = excluded.state",
            )?
            .execute(params![task_id, *index as i64, state.to_string()])?;
        }
        Change::Undone { undo } => {
            let stored = column_of(conn, task_id, "undos")?;
            let undos = rows::with_undo(&stored, undo)?;
            conn.prepare_cached("UPDATE tasks SET undos = ? WHERE id = ?")?
                .execute(params![undos, task_id])?;
        }
        // Only its journal entry: the record does not change.
        Change::Paused { .. } | Change::ExternalProgress { .. } => {}
        Change::Requeued { .. } => {
            conn.prepare_cached("UPDATE tasks SET status = 'queued', node_id = NULL WHERE id = ?")?
                .execute([task_id])?;
        }
        Change::CommandStarted { index, at } => {
            conn.prepare_cached(
                "UPDATE commands SET status = 'running', started_at = ?
                 WHERE task_id = ? AND idx = ?",
            )?
            .execute(params![*at as i64, task_id, *index as i64])?;
            conn.prepare_cached("UPDATE tasks SET current_command_index = ? WHERE id = ?")?
                .execute(params![*index as i64, task_id])?;
        }
        Change::CommandSucceeded { index, result, at } => {
            let (json, found) = artifacts::split(result);
            for a in &found {
                insert_artifact(conn, task_id, *index, a.item as i64, &a.mime_type, &a.bytes)?;
            }
            conn.prepare_cached(
                "UPDATE commands SET status = 'success', completed_at = ?, result = ?
                 WHERE task_id = ? AND idx = ?",
            )?
            .execute(params![
                *at as i64,
                json.to_string(),
                task_id,
                *index as i64
            ])?;
        }
        Change::CommandFailed { index, error, at } => {
            conn.prepare_cached(
                "UPDATE commands SET status = 'error', completed_at = ?, error = ?
                 WHERE task_id = ? AND idx = ?",
            )?
            .execute(params![
                *at as i64,
                rows::json(error),
                task_id,
                *index as i64
            ])?;
        }
        Change::FailureScreenshot { index, png } => {
            if let Some(bytes) = artifacts::decode(png) {
                let item = FAILURE_SCREENSHOT as i64;
                insert_artifact(conn, task_id, *index, item, "image/png", &bytes)?;
            }
        }
        Change::Finished {
            status,
            error,
            skipped,
            at,
        } => {
            for index in skipped {
                conn.prepare_cached(
                    "UPDATE commands SET status = 'skipped',
                        completed_at = CASE WHEN started_at IS NULL THEN NULL ELSE ? END
                     WHERE task_id = ? AND idx = ? AND status IN ('pending', 'running')",
                )?
                .execute(params![*at as i64, task_id, *index as i64])?;
            }
            conn.prepare_cached(
                "UPDATE tasks SET status = ?, error = ?, completed_at = ? WHERE id = ?",
            )?
            .execute(params![
                status.as_str(),
                error.as_ref().map(rows::json),
                *at as i64,
                task_id
            ])?;
        }
    }
    Ok(())
}

fn apply_all(conn: &Connection, task_id: &str, changes: &[Change]) -> StoreResult<()> {
    changes.iter().try_for_each(|c| apply(conn, task_id, c))
}

fn insert_task(conn: &Connection, task: &Task) -> StoreResult<()> {
    let agent = rows::agent_columns(task);
    conn.prepare_cached(
        "INSERT INTO tasks (id, instance_id, requested_instance, status, name, intention,
                            current_command_index, created_at, metadata, owner, door, priority,
                            conversation_id, context, approval, approvals, undos,
                            pending_approvals)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        task.id,
        task.instance_id,
        task.requested_instance,
        task.status.as_str(),
        task.name,
        task.intention,
        task.current_command_index as i64,
        task.created_at as i64,
        task.metadata.as_ref().map(rows::json),
        task.owner,
        task.door.as_str(),
        agent.priority,
        agent.conversation_id,
        agent.context,
        agent.approval,
        agent.approvals,
        agent.undos,
        agent.pending_approvals,
    ])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO commands (task_id, idx, id, tool_name, intention, args, status)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )?;
    for (idx, c) in task.commands.iter().enumerate() {
        insert.execute(params![
            task.id,
            idx as i64,
            c.id,
            c.tool_name,
            c.intention,
            c.args.to_string(),
            c.status.as_str()
        ])?;
    }
    Ok(())
}

/// The least-loaded shared instance (queued plus running), ties to the lowest id.
fn least_loaded(conn: &Connection) -> StoreResult<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT i.id FROM instances i WHERE i.private = 0
             ORDER BY (SELECT COUNT(*) FROM tasks t
                       WHERE t.instance_id = i.id AND t.status IN ('queued', 'running')), i.id
             LIMIT 1",
        )?
        .query_row([], |r| r.get(0))
        .optional()?)
}

fn lost(task: &Task, message: String, now: u64) -> Vec<Change> {
    let error = CommandError::new(ErrorCode::InstanceDisconnected, message);
    Change::lost(task, error, now)
}

/// The filters of a history, each a condition on a task (`#` its value, if it has one).
fn history_terms(query: &HistoryQuery) -> Vec<(&'static str, Option<rusqlite::types::Value>)> {
    let ms = |t: u64| rusqlite::types::Value::from(t.min(i64::MAX as u64) as i64);
    let mut terms = Vec::new();
    if let Some(owner) = &query.owner {
        terms.push(("owner = #", Some(owner.clone().into())));
    }
    if let Some(conversation) = &query.conversation_id {
        terms.push(("conversation_id = #", Some(conversation.clone().into())));
    }
    if let Some(from) = query.created_from {
        terms.push(("created_at >= #", Some(ms(from))));
    }
    if let Some(to) = query.created_to {
        terms.push(("created_at <= #", Some(ms(to))));
    }
    let running = || Some(rusqlite::types::Value::from("running".to_string()));
    match query.status {
        None => {}
        Some(HistoryStatus::Paused) => {
            terms.push(("status = #", running()));
            terms.push(("pending_approvals > 0", None));
        }
        Some(HistoryStatus::Task(TaskStatus::Running)) => {
            terms.push(("status = #", running()));
            terms.push(("pending_approvals = 0", None));
        }
        Some(HistoryStatus::Task(status)) => {
            terms.push(("status = #", Some(status.as_str().to_string().into())));
        }
    }
    terms
}

/// What a listing reads of a task `t` (see [`summary_row`]).
const SUMMARY_COLUMNS: &str = "t.id, t.name, t.status, t.instance_id, t.current_command_index,
    (SELECT COUNT(*) FROM commands c WHERE c.task_id = t.id),
    t.created_at, t.started_at, t.completed_at, t.owner, t.priority, t.conversation_id,
    t.pending_approvals";

/// The [`SUMMARY_COLUMNS`] of a row, from column `at` on.
fn summary_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<SummaryRow> {
    Ok(SummaryRow {
        id: r.get(at)?,
        name: r.get(at + 1)?,
        status: r.get(at + 2)?,
        instance_id: r.get(at + 3)?,
        current_command_index: r.get(at + 4)?,
        total_commands: r.get(at + 5)?,
        created_at: r.get(at + 6)?,
        started_at: r.get(at + 7)?,
        completed_at: r.get(at + 8)?,
        owner: r.get(at + 9)?,
        priority: r.get(at + 10)?,
        conversation_id: r.get(at + 11)?,
        pending_approvals: r.get(at + 12)?,
    })
}

#[async_trait::async_trait]
impl TaskReader for SqliteStore {
    async fn journal(&self, task_id: &str, after: u64) -> StoreResult<Vec<JournalEntry>> {
        let task_id = task_id.to_string();
        self.read(move |conn| {
            let rows = conn
                .prepare_cached(
                    "SELECT seq, at, what FROM task_journal WHERE task_id = ? AND seq > ?
                     ORDER BY seq",
                )?
                .query_map(params![task_id, after.min(i64::MAX as u64) as i64], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows.iter()
                .map(|(seq, at, what)| rows::journal_entry(*seq, *at, what))
                .collect()
        })
        .await
    }

    async fn history(&self, query: &HistoryQuery) -> StoreResult<HistoryPage> {
        let query = query.clone();
        let (commits, totals) = (self.commits.clone(), self.totals.clone());
        self.read(move |conn| {
            // Only the filters given, so that each shape of query has its own plan (an
            // owner's history reads that owner's index, newest first).
            let mut args: Vec<rusqlite::types::Value> = Vec::new();
            let mut terms: Vec<String> = Vec::new();
            for (sql, value) in history_terms(&query) {
                match value {
                    Some(value) => {
                        args.push(value);
                        terms.push(sql.replace('#', &format!("?{}", args.len())));
                    }
                    None => terms.push(sql.to_string()),
                }
            }
            let filter = if terms.is_empty() {
                "1".to_string()
            } else {
                terms.join(" AND ")
            };
            // The total, unless it was counted since the last commit; then the page.
            let key = format!("{filter} {args:?}");
            let seen = commits.load(Ordering::Acquire);
            let known = totals.lock().unwrap().get(&key).copied();
            let total = match known {
                Some((at, total)) if at == seen => total,
                _ => {
                    let total: i64 = conn
                        .prepare_cached(&format!("SELECT COUNT(*) FROM tasks WHERE {filter}"))?
                        .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?;
                    let mut totals = totals.lock().unwrap();
                    if totals.len() >= 256 {
                        totals.clear();
                    }
                    totals.insert(key, (seen, total as usize));
                    total as usize
                }
            };
            let n = args.len();
            args.push((query.limit.min(i64::MAX as usize) as i64).into());
            args.push((query.offset.min(i64::MAX as usize) as i64).into());
            let sql = format!(
                "SELECT {SUMMARY_COLUMNS} FROM tasks t WHERE {filter}
                 ORDER BY t.created_at DESC, t.id DESC LIMIT ?{} OFFSET ?{}",
                n + 1,
                n + 2
            );
            let mut statement = conn.prepare_cached(&sql)?;
            let tasks = statement
                .query_map(rusqlite::params_from_iter(args), |r| summary_row(r, 0))?
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .map(rows::summary)
                .collect::<StoreResult<Vec<_>>>()?;
            Ok(HistoryPage { tasks, total })
        })
        .await
    }

    async fn queue_position(&self, task_id: &str) -> StoreResult<Option<usize>> {
        let task_id = task_id.to_string();
        self.read(move |conn| {
            let n: Option<i64> = conn
                .prepare_cached(
                    "SELECT (SELECT COUNT(*) FROM tasks r
                             WHERE r.instance_id = t.instance_id AND r.status = 'running')
                          + (SELECT COUNT(*) FROM tasks q
                             WHERE q.instance_id = t.instance_id AND q.status = 'queued'
                               AND (q.priority > t.priority
                                    OR (q.priority = t.priority AND q.seq < t.seq)))
                     FROM tasks t WHERE t.id = ? AND t.status = 'queued'",
                )?
                .query_row([task_id], |r| r.get(0))
                .optional()?;
            Ok(n.map(|n| n as usize))
        })
        .await
    }

    async fn recent_durations(&self, instance_id: &str, n: usize) -> StoreResult<Vec<u64>> {
        let instance_id = instance_id.to_string();
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT completed_at - started_at FROM tasks
                     WHERE instance_id = ? AND completed_at IS NOT NULL AND started_at IS NOT NULL
                       AND status IN ('completed', 'failed', 'cancelled')
                     ORDER BY completed_at DESC, seq DESC LIMIT ?",
                )?
                .query_map(params![instance_id, n.min(i64::MAX as usize) as i64], |r| {
                    r.get::<_, i64>(0)
                })?
                .map(|d| d.map(|d| d.max(0) as u64))
                .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn checkpoint(
        &self,
        task_id: &str,
        index: usize,
    ) -> StoreResult<Option<serde_json::Value>> {
        let task_id = task_id.to_string();
        self.read(move |conn| {
            let state: Option<String> = conn
                .prepare_cached("SELECT state FROM checkpoints WHERE task_id = ? AND idx = ?")?
                .query_row(params![task_id, index as i64], |r| r.get(0))
                .optional()?;
            match state {
                Some(json) => Ok(Some(serde_json::from_str(&json).context("checkpoint")?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn last_started_on(&self, instance_id: &str) -> StoreResult<Option<String>> {
        let instance_id = instance_id.to_string();
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT id FROM tasks WHERE instance_id = ? AND started_at IS NOT NULL
                     ORDER BY started_at DESC, seq DESC LIMIT 1",
                )?
                .query_row([instance_id], |r| r.get(0))
                .optional()?)
        })
        .await
    }

    async fn get(&self, id: &str) -> StoreResult<Option<Task>> {
        let id = id.to_string();
        self.read(move |conn| load_task(conn, &id)).await
    }

    async fn list(&self, filter: &TaskFilter) -> StoreResult<Vec<TaskSummary>> {
        let instance = filter.instance_id.clone();
        let status = filter.status.map(|s| s.as_str());
        let owner = filter.owner.clone();
        self.read(move |conn| {
            // Only the filters given, so that each shape has a plan on its index (`?2 IS NULL
            // OR status = ?2` reads every row: /health's queue count on 100,000 tasks).
            let mut terms = Vec::new();
            let mut args: Vec<String> = Vec::new();
            let given = [
                ("instance_id", instance),
                ("status", status.map(String::from)),
                ("owner", owner),
            ];
            for (column, value) in given {
                if let Some(value) = value {
                    args.push(value);
                    terms.push(format!("t.{column} = ?{}", args.len()));
                }
            }
            let filter = if terms.is_empty() {
                "1".to_string()
            } else {
                terms.join(" AND ")
            };
            let sql = format!(
                "SELECT {SUMMARY_COLUMNS} FROM tasks t WHERE {filter}
                 ORDER BY t.created_at, t.id"
            );
            let rows = conn
                .prepare_cached(&sql)?
                .query_map(rusqlite::params_from_iter(args), |r| summary_row(r, 0))?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(rows::summary).collect()
        })
        .await
    }

    async fn count_queued_of(&self, owner: &str) -> StoreResult<usize> {
        let owner = owner.to_string();
        self.read(move |conn| {
            let n: i64 = conn
                .prepare_cached("SELECT COUNT(*) FROM tasks WHERE owner = ? AND status = 'queued'")?
                .query_row([owner], |r| r.get(0))?;
            Ok(n as usize)
        })
        .await
    }

    async fn count_by_status(&self) -> StoreResult<Vec<(TaskStatus, usize)>> {
        self.read(|conn| {
            let rows = conn
                .prepare_cached("SELECT status, COUNT(*) FROM tasks GROUP BY status")?
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(TaskStatus::ALL
                .into_iter()
                .map(|s| {
                    let n = rows.iter().find(|r| r.0 == s.as_str()).map_or(0, |r| r.1);
                    (s, n as usize)
                })
                .collect())
        })
        .await
    }

    async fn instances(&self) -> StoreResult<Vec<InstanceRecord>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT id, node_id, private, owner FROM instances ORDER BY id")?
                .query_map([], |r| {
                    Ok(InstanceRecord {
                        id: r.get(0)?,
                        node_id: r.get(1)?,
                        private: r.get(2)?,
                        owner: r.get(3)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn cluster(&self) -> StoreResult<ClusterInfo> {
        self.read(|conn| {
            let instances: i64 =
                conn.query_row("SELECT COUNT(*) FROM instances", [], |r| r.get(0))?;
            Ok(ClusterInfo {
                nodes: 1,
                instances: instances as usize,
            })
        })
        .await
    }
}

#[async_trait::async_trait]
impl Accounts for SqliteStore {
    async fn add_key(&self, key: &ApiKeyRecord) -> StoreResult<()> {
        let key = key.clone();
        self.write(move |conn| accounts::add_key(conn, &key)).await
    }

    async fn key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let hash = hash.to_string();
        self.read(move |conn| accounts::key_by_hash(conn, &hash))
            .await
    }

    async fn keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        self.read(accounts::keys).await
    }

    async fn revoke_key(&self, id: &str, now: u64) -> StoreResult<bool> {
        let id = id.to_string();
        self.write(move |conn| accounts::revoke_key(conn, &id, now))
            .await
    }

    async fn audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        let entry = entry.clone();
        self.write(move |conn| accounts::audit(conn, &entry)).await
    }

    async fn audit_log(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        let filter = filter.clone();
        self.read(move |conn| accounts::audit_log(conn, &filter))
            .await
    }
}

/// The accounts of a SQLite store, opened beside the runner that may hold it (WAL lets both
/// write; the lock is only between runners).
pub struct SqliteAccounts {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteAccounts {
    pub async fn open(path: &Path) -> anyhow::Result<SqliteAccounts> {
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).with_context(|| {
                    format!("cannot create the store's folder {}", dir.display())
                })?;
            }
            let mut conn = Connection::open(&path)
                .with_context(|| format!("cannot open the task store {}", path.display()))?;
            conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;")?;
            conn.busy_timeout(Duration::from_secs(10))?;
            migrate(&mut conn, &path)?;
            Ok(SqliteAccounts {
                conn: Arc::new(Mutex::new(conn)),
            })
        })
        .await?
    }

    async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || work(&conn.lock().unwrap())).await?
    }
}

#[async_trait::async_trait]
impl Accounts for SqliteAccounts {
    async fn add_key(&self, key: &ApiKeyRecord) -> StoreResult<()> {
        let key = key.clone();
        self.with(move |conn| accounts::add_key(conn, &key)).await
    }

    async fn key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let hash = hash.to_string();
        self.with(move |conn| accounts::key_by_hash(conn, &hash))
            .await
    }

    async fn keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        self.with(accounts::keys).await
    }

    async fn revoke_key(&self, id: &str, now: u64) -> StoreResult<bool> {
        let id = id.to_string();
        self.with(move |conn| accounts::revoke_key(conn, &id, now))
            .await
    }

    async fn audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        let entry = entry.clone();
        self.with(move |conn| accounts::audit(conn, &entry)).await
    }

    async fn audit_log(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        let filter = filter.clone();
        self.with(move |conn| accounts::audit_log(conn, &filter))
            .await
    }
}

/// The SQL of [`Accounts`], for both ways of opening the file.
mod accounts {
    use rusqlite::{params, Connection, OptionalExtension};

    use super::super::{ApiKeyRecord, AuditEntry, AuditFilter, StoreResult};

    fn key_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApiKeyRecord> {
        Ok(ApiKeyRecord {
            id: r.get(0)?,
            user: r.get(1)?,
            admin: r.get(2)?,
            hash: r.get(3)?,
            created_at: r.get::<_, i64>(4)? as u64,
            revoked_at: r.get::<_, Option<i64>>(5)?.map(|t| t as u64),
        })
    }

    const KEY_COLUMNS: &str = "id, user_name, admin, hash, created_at, revoked_at";

    pub fn add_key(conn: &Connection, key: &ApiKeyRecord) -> StoreResult<()> {
        conn.execute(
            "INSERT INTO api_keys (id, user_name, admin, hash, created_at) VALUES (?, ?, ?, ?, ?)",
            params![key.id, key.user, key.admin, key.hash, key.created_at as i64],
        )?;
        Ok(())
    }

    pub fn key_by_hash(conn: &Connection, hash: &str) -> StoreResult<Option<ApiKeyRecord>> {
        Ok(conn
            .prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = ?"
            ))?
            .query_row([hash], key_of)
            .optional()?)
    }

    pub fn keys(conn: &Connection) -> StoreResult<Vec<ApiKeyRecord>> {
        Ok(conn
            .prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
            ))?
            .query_map([], key_of)?
            .collect::<Result<Vec<_>, _>>()?)
    }

    pub fn revoke_key(conn: &Connection, id: &str, now: u64) -> StoreResult<bool> {
        Ok(conn.execute(
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            params![now as i64, id],
        )? == 1)
    }

    pub fn audit(conn: &Connection, e: &AuditEntry) -> StoreResult<()> {
        conn.prepare_cached(
            "INSERT INTO audit (at, user_name, action, target, door, node_id, detail)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )?
        .execute(params![
            e.at as i64,
            e.user,
            e.action,
            e.target,
            e.door,
            e.node_id,
            e.detail
        ])?;
        Ok(())
    }

    pub fn audit_log(conn: &Connection, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        let mut rows = conn
            .prepare_cached(
                "SELECT at, user_name, action, target, door, node_id, detail FROM audit
                 WHERE (?1 IS NULL OR user_name = ?1) AND (?2 IS NULL OR at >= ?2)
                 ORDER BY seq DESC LIMIT ?3",
            )?
            .query_map(
                params![
                    filter.user,
                    filter.since.map(|t| t as i64),
                    filter.limit as i64
                ],
                |r| {
                    Ok(AuditEntry {
                        at: r.get::<_, i64>(0)? as u64,
                        user: r.get(1)?,
                        action: r.get(2)?,
                        target: r.get(3)?,
                        door: r.get(4)?,
                        node_id: r.get(5)?,
                        detail: r.get(6)?,
                    })
                },
            )?
            .collect::<Result<Vec<_>, _>>()?;
        rows.reverse();
        Ok(rows)
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
        self.write(move |conn| {
            // One runner at a time (the lock): instances of an earlier run are gone.
            conn.execute("DELETE FROM instances", [])?;
            conn.execute(
                "INSERT INTO nodes (id, started_at, heartbeat_at)
                 VALUES ('joining-' || hex(randomblob(8)), ?, ?)",
                params![now, now],
            )?;
            let number = conn.last_insert_rowid();
            let id = format!("node_{number}");
            conn.execute(
                "UPDATE nodes SET id = ? WHERE number = ?",
                params![id, number],
            )?;
            Ok(Node {
                id,
                number: number as u64,
            })
        })
        .await
    }

    async fn heartbeat(&self, _node: &Node) -> StoreResult<()> {
        Ok(())
    }

    async fn leave(&self, _node: &Node) -> StoreResult<()> {
        self.write(|conn| Ok(conn.execute("DELETE FROM instances", []).map(|_| ())?))
            .await
    }

    async fn new_instance_id(&self) -> StoreResult<String> {
        // Per run, from 1: the boot instances keep their ids across restarts, so tasks queued
        // for `inst_1` still find it.
        let n = self.next_instance.fetch_add(1, Ordering::Relaxed);
        Ok(format!("inst_{n}"))
    }

    async fn add_instance(&self, instance: &InstanceRecord) -> StoreResult<()> {
        let instance = instance.clone();
        self.write(move |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO instances (id, node_id, private, owner) VALUES (?, ?, ?, ?)",
                params![instance.id, instance.node_id, instance.private, instance.owner],
            )?;
            Ok(())
        })
        .await
    }

    async fn remove_instance(&self, id: &str) -> StoreResult<()> {
        let id = id.to_string();
        self.write(move |conn| {
            conn.execute("DELETE FROM instances WHERE id = ?", [id])?;
            Ok(())
        })
        .await
    }

    async fn enqueue(
        &self,
        mut task: Task,
        placement: Placement,
        limit: usize,
    ) -> StoreResult<Result<Enqueued, EnqueueError>> {
        self.write(move |conn| {
            let instance = match placement {
                Placement::Instance(id) => {
                    let known: Option<i64> = conn
                        .prepare_cached("SELECT 1 FROM instances WHERE id = ?")?
                        .query_row([&id], |r| r.get(0))
                        .optional()?;
                    if known.is_none() {
                        return Ok(Err(EnqueueError::UnknownInstance(id)));
                    }
                    id
                }
                Placement::LeastLoaded => match least_loaded(conn)? {
                    Some(id) => id,
                    None => return Ok(Err(EnqueueError::NoInstance)),
                },
            };
            // Behind the running one and every queued task of its priority or higher.
            let (queued, running, ahead): (i64, i64, i64) = conn
                .prepare_cached(
                    "SELECT COALESCE(SUM(status = 'queued'), 0), COALESCE(SUM(status = 'running'), 0),
                            COALESCE(SUM(status = 'queued' AND priority >= ?2), 0)
                     FROM tasks WHERE instance_id = ?1 AND status IN ('queued', 'running')",
                )?
                .query_row(params![&instance, task.priority as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
            if queued as usize >= limit {
                return Ok(Err(EnqueueError::QueueFull { instance, limit }));
            }
            let position = (running + ahead) as usize;
            task.instance_id = instance;
            insert_task(conn, &task)?;
            let queued = Happened::Queued { position };
            note(conn, &task.id, &queued, task.created_at)?;
            task.note(queued, task.created_at);
            Ok(Ok(Enqueued { task, position }))
        })
        .await
    }

    async fn claim(&self, instance_id: &str, node: &Node, now: u64) -> StoreResult<Option<String>> {
        let instance_id = instance_id.to_string();
        let node = node.id.clone();
        self.write(move |conn| {
            let claimed: Option<String> = conn
                .prepare_cached(
                    "UPDATE tasks SET status = 'running', started_at = COALESCE(started_at, ?), node_id = ?
                     WHERE seq = (SELECT seq FROM tasks WHERE instance_id = ? AND status = 'queued'
                                  ORDER BY priority DESC, seq LIMIT 1)
                     RETURNING id",
                )?
                .query_row(params![now as i64, node, instance_id], |r| r.get(0))
                .optional()?;
            if let Some(id) = &claimed {
                note(conn, id, &Happened::Started, now)?;
            }
            Ok(claimed)
        })
        .await
    }

    async fn cancel_queued(&self, task_id: &str, now: u64) -> StoreResult<Option<Task>> {
        let task_id = task_id.to_string();
        self.write(move |conn| {
            let Some(task) = load_task(conn, &task_id)? else {
                return Ok(None);
            };
            if task.status != TaskStatus::Queued {
                return Ok(None);
            }
            apply(conn, &task_id, &Change::finish(&task, true, now))?;
            load_task(conn, &task_id)
        })
        .await
    }

    fn record(&self, task_id: &str, change: Change) -> BoxFuture<'static, StoreResult<()>> {
        let task_id = task_id.to_string();
        self.write(move |conn| apply(conn, &task_id, &change))
    }

    async fn recover(&self, _me: &Node, _lease: Duration, now: u64) -> StoreResult<Recovered> {
        self.write(move |conn| {
            let mut recovered = Recovered::default();
            // A task that waited for a person goes back to its queue (and is placed with the
            // queued ones below); the others fail.
            let running: Vec<String> = conn
                .prepare("SELECT id FROM tasks WHERE status = 'running' ORDER BY seq")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for id in running {
                let Some(task) = load_task(conn, &id)? else {
                    continue;
                };
                let why = "the server stopped while this task ran".to_string();
                let error = CommandError::new(ErrorCode::InstanceDisconnected, why);
                let changes = Change::recovered(&task, error, now);
                apply_all(conn, &id, &changes)?;
                if !matches!(changes[..], [Change::Requeued { .. }]) {
                    recovered.failed.extend(load_task(conn, &id)?);
                }
            }
            // Queued for an instance of the earlier run that is not back: moved if it named
            // none, failed if it did.
            let orphans: Vec<(String, Option<String>, String)> = conn
                .prepare(
                    "SELECT id, requested_instance, instance_id FROM tasks
                     WHERE status = 'queued' AND instance_id NOT IN (SELECT id FROM instances)
                     ORDER BY seq",
                )?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            for (id, requested, old) in orphans {
                let target = match requested {
                    None => least_loaded(conn)?,
                    Some(_) => None,
                };
                match target {
                    Some(instance) => {
                        conn.execute(
                            "UPDATE tasks SET instance_id = ? WHERE id = ?",
                            params![instance, id],
                        )?;
                        recovered.requeued.extend(load_task(conn, &id)?);
                    }
                    None => {
                        let Some(task) = load_task(conn, &id)? else {
                            continue;
                        };
                        let why =
                            format!("instance {old} is gone: the server restarted without it");
                        apply_all(conn, &id, &lost(&task, why, now))?;
                        recovered.failed.extend(load_task(conn, &id)?);
                    }
                }
            }
            Ok(recovered)
        })
        .await
    }

    async fn enforce_retention(&self, retention: &Retention, now: u64) -> StoreResult<usize> {
        let finished: Vec<(i64, i64, i64)> = self
            .read(|conn| {
                Ok(conn
                    .prepare_cached(
                        "SELECT seq, completed_at, artifact_bytes FROM tasks
                         WHERE completed_at IS NOT NULL
                           AND status IN ('completed', 'failed', 'cancelled')
                         ORDER BY completed_at DESC, seq DESC",
                    )?
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<Result<_, _>>()?)
            })
            .await?;
        let doomed = super::doomed(&finished, retention, now);
        if doomed.is_empty() {
            return Ok(0);
        }
        let n = doomed.len();
        self.write(move |conn| {
            let mut delete = conn.prepare_cached("DELETE FROM tasks WHERE seq = ?")?;
            for seq in doomed {
                delete.execute([seq])?;
            }
            Ok(())
        })
        .await?;
        Ok(n)
    }
}
