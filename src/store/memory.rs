//! The memory store: today's behaviour, for `run` and for tests that want no file. Nothing
//! survives the process; finished tasks are kept up to the retention limits.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use futures::future::BoxFuture;

use super::{
    artifacts, Accounts, ApiKeyRecord, AuditEntry, AuditFilter, Change, ClusterInfo, EnqueueError,
    Enqueued, HistoryPage, HistoryQuery, HistoryStatus, InstanceRecord, Node, Placement, Recovered,
    Retention, StoreResult, TaskFilter, TaskReader, TaskStore,
};
use crate::task::{now_ms, Happened, JournalEntry, Task, TaskStatus, TaskSummary};

pub struct MemoryStore {
    inner: Mutex<Inner>,
    retention: Retention,
}

#[derive(Default)]
struct Inner {
    tasks: HashMap<String, Task>,
    /// Queued task ids per instance, oldest first.
    queues: HashMap<String, VecDeque<String>>,
    running: HashMap<String, usize>,
    instances: BTreeMap<String, InstanceRecord>,
    /// Finished task ids, oldest first, with the bytes of their artifacts.
    finished: VecDeque<(String, u64)>,
    artifact_bytes: u64,
    next_instance: u64,
    keys: Vec<ApiKeyRecord>,
    /// The newest [`AUDIT_KEPT`] entries.
    audit: VecDeque<AuditEntry>,
    /// Checkpoints per task, by command.
    checkpoints: HashMap<String, BTreeMap<usize, serde_json::Value>>,
    /// The task that started last, per instance.
    last_started: HashMap<String, String>,
}

/// What the memory store keeps of the audit trail: it is gone with the process anyway.
const AUDIT_KEPT: usize = 10_000;

impl MemoryStore {
    pub fn new(retention: Retention) -> Self {
        MemoryStore {
            inner: Mutex::new(Inner {
                next_instance: 1,
                ..Default::default()
            }),
            retention,
        }
    }
}

impl Inner {
    fn load(&self, instance: &str) -> usize {
        self.queues.get(instance).map_or(0, VecDeque::len)
            + self.running.get(instance).copied().unwrap_or(0)
    }

    fn evict(&mut self, retention: &Retention, now: u64) -> usize {
        let mut evicted = 0;
        let too_old = |done: Option<u64>| match (retention.max_age, done) {
            (Some(age), Some(at)) => now.saturating_sub(at) > age.as_millis() as u64,
            _ => false,
        };
        while let Some((id, bytes)) = self.finished.front().cloned() {
            let old = too_old(self.tasks.get(&id).and_then(|t| t.completed_at));
            if self.finished.len() <= retention.keep_finished
                && self.artifact_bytes <= retention.max_artifact_bytes
                && !old
            {
                break;
            }
            self.finished.pop_front();
            self.artifact_bytes -= bytes;
            self.tasks.remove(&id);
            self.checkpoints.remove(&id);
            evicted += 1;
        }
        evicted
    }
}

#[async_trait::async_trait]
impl TaskReader for MemoryStore {
    async fn get(&self, id: &str) -> StoreResult<Option<Task>> {
        Ok(self.inner.lock().unwrap().tasks.get(id).cloned())
    }

    async fn count_queued_of(&self, owner: &str) -> StoreResult<usize> {
        let inner = self.inner.lock().unwrap();
        Ok(inner
            .queues
            .values()
            .flatten()
            .filter(|id| inner.tasks.get(*id).is_some_and(|t| t.owner == owner))
            .count())
    }

    async fn list(&self, filter: &TaskFilter) -> StoreResult<Vec<TaskSummary>> {
        let inner = self.inner.lock().unwrap();
        let mut tasks: Vec<TaskSummary> = inner
            .tasks
            .values()
            .filter(|t| {
                filter
                    .instance_id
                    .as_ref()
                    .is_none_or(|i| &t.instance_id == i)
            })
            .filter(|t| filter.status.is_none_or(|s| t.status == s))
            .filter(|t| filter.owner.as_ref().is_none_or(|o| &t.owner == o))
            .map(Task::summary)
            .collect();
        tasks.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(tasks)
    }

    async fn count_by_status(&self) -> StoreResult<Vec<(TaskStatus, usize)>> {
        let inner = self.inner.lock().unwrap();
        Ok(TaskStatus::ALL
            .into_iter()
            .map(|s| (s, inner.tasks.values().filter(|t| t.status == s).count()))
            .collect())
    }

    async fn instances(&self) -> StoreResult<Vec<InstanceRecord>> {
        Ok(self
            .inner
            .lock()
            .unwrap()
            .instances
            .values()
            .cloned()
            .collect())
    }

    async fn cluster(&self) -> StoreResult<ClusterInfo> {
        Ok(ClusterInfo {
            nodes: 1,
            instances: self.inner.lock().unwrap().instances.len(),
        })
    }

    async fn journal(&self, task_id: &str, after: u64) -> StoreResult<Vec<JournalEntry>> {
        let inner = self.inner.lock().unwrap();
        Ok(inner.tasks.get(task_id).map_or_else(Vec::new, |t| {
            t.journal
                .iter()
                .filter(|e| e.seq > after)
                .cloned()
                .collect()
        }))
    }

    async fn history(&self, query: &HistoryQuery) -> StoreResult<HistoryPage> {
        let inner = self.inner.lock().unwrap();
        let mut matching: Vec<TaskSummary> = inner
            .tasks
            .values()
            .filter(|t| query.owner.as_ref().is_none_or(|o| &t.owner == o))
            .filter(|t| {
                query
                    .conversation_id
                    .as_ref()
                    .is_none_or(|c| t.conversation_id.as_ref() == Some(c))
            })
            .filter(|t| query.created_from.is_none_or(|f| t.created_at >= f))
            .filter(|t| query.created_to.is_none_or(|f| t.created_at <= f))
            .map(Task::summary)
            .filter(|t| query.status.is_none_or(|s| history_status(t) == s))
            .collect();
        matching.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.id.cmp(&a.id))
        });
        let total = matching.len();
        let tasks = matching
            .into_iter()
            .skip(query.offset)
            .take(query.limit)
            .collect();
        Ok(HistoryPage { tasks, total })
    }

    async fn queue_position(&self, task_id: &str) -> StoreResult<Option<usize>> {
        let inner = self.inner.lock().unwrap();
        let Some(task) = inner.tasks.get(task_id) else {
            return Ok(None);
        };
        let instance = &task.instance_id;
        Ok(inner
            .queues
            .get(instance)
            .and_then(|q| q.iter().position(|id| id == task_id))
            .map(|p| p + inner.running.get(instance).copied().unwrap_or(0)))
    }

    async fn recent_durations(&self, instance_id: &str, n: usize) -> StoreResult<Vec<u64>> {
        let inner = self.inner.lock().unwrap();
        Ok(inner
            .finished
            .iter()
            .rev()
            .filter_map(|(id, _)| inner.tasks.get(id))
            .filter(|t| t.instance_id == instance_id)
            .filter_map(|t| Some(t.completed_at?.saturating_sub(t.started_at?)))
            .take(n)
            .collect())
    }

    async fn checkpoint(
        &self,
        task_id: &str,
        index: usize,
    ) -> StoreResult<Option<serde_json::Value>> {
        let inner = self.inner.lock().unwrap();
        Ok(inner
            .checkpoints
            .get(task_id)
            .and_then(|c| c.get(&index))
            .cloned())
    }

    async fn last_started_on(&self, instance_id: &str) -> StoreResult<Option<String>> {
        Ok(self
            .inner
            .lock()
            .unwrap()
            .last_started
            .get(instance_id)
            .cloned())
    }
}

/// The agent API's status of a summary (see [`HistoryStatus`]).
pub(crate) fn history_status(t: &TaskSummary) -> HistoryStatus {
    if t.status == TaskStatus::Running && t.pending_approvals > 0 {
        HistoryStatus::Paused
    } else {
        HistoryStatus::Task(t.status)
    }
}

#[async_trait::async_trait]
impl Accounts for MemoryStore {
    async fn add_key(&self, key: &ApiKeyRecord) -> StoreResult<()> {
        let mut inner = self.inner.lock().unwrap();
        anyhow::ensure!(
            !inner
                .keys
                .iter()
                .any(|k| k.id == key.id || k.hash == key.hash),
            "a key with this id or hash exists"
        );
        inner.keys.push(key.clone());
        Ok(())
    }

    async fn key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let inner = self.inner.lock().unwrap();
        Ok(inner.keys.iter().find(|k| k.hash == hash).cloned())
    }

    async fn keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        Ok(self.inner.lock().unwrap().keys.clone())
    }

    async fn revoke_key(&self, id: &str, now: u64) -> StoreResult<bool> {
        let mut inner = self.inner.lock().unwrap();
        match inner
            .keys
            .iter_mut()
            .find(|k| k.id == id && k.revoked_at.is_none())
        {
            Some(key) => {
                key.revoked_at = Some(now);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        let mut inner = self.inner.lock().unwrap();
        if inner.audit.len() >= AUDIT_KEPT {
            inner.audit.pop_front();
        }
        inner.audit.push_back(entry.clone());
        Ok(())
    }

    async fn audit_log(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        let inner = self.inner.lock().unwrap();
        let matching: Vec<AuditEntry> = inner
            .audit
            .iter()
            .filter(|e| filter.user.as_ref().is_none_or(|u| &e.user == u))
            .filter(|e| filter.since.is_none_or(|t| e.at >= t))
            .cloned()
            .collect();
        let skip = matching.len().saturating_sub(filter.limit);
        Ok(matching.into_iter().skip(skip).collect())
    }
}

#[async_trait::async_trait]
impl TaskStore for MemoryStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn describe(&self) -> String {
        "memory (nothing is kept after the process ends)".into()
    }

    async fn join(&self) -> StoreResult<Node> {
        Ok(Node {
            id: "node_0".into(),
            number: 0,
        })
    }

    async fn heartbeat(&self, _node: &Node) -> StoreResult<()> {
        Ok(())
    }

    async fn leave(&self, _node: &Node) -> StoreResult<()> {
        self.inner.lock().unwrap().instances.clear();
        Ok(())
    }

    async fn new_instance_id(&self) -> StoreResult<String> {
        let mut inner = self.inner.lock().unwrap();
        let n = inner.next_instance;
        inner.next_instance += 1;
        Ok(format!("inst_{n}"))
    }

    async fn add_instance(&self, instance: &InstanceRecord) -> StoreResult<()> {
        let mut inner = self.inner.lock().unwrap();
        inner
            .instances
            .insert(instance.id.clone(), instance.clone());
        Ok(())
    }

    async fn remove_instance(&self, id: &str) -> StoreResult<()> {
        self.inner.lock().unwrap().instances.remove(id);
        Ok(())
    }

    async fn enqueue(
        &self,
        mut task: Task,
        placement: Placement,
        limit: usize,
    ) -> StoreResult<Result<Enqueued, EnqueueError>> {
        let mut inner = self.inner.lock().unwrap();
        let instance = match placement {
            Placement::Instance(id) if inner.instances.contains_key(&id) => id,
            Placement::Instance(id) => return Ok(Err(EnqueueError::UnknownInstance(id))),
            Placement::LeastLoaded => match inner
                .instances
                .values()
                .filter(|i| !i.private)
                .min_by_key(|i| inner.load(&i.id))
            {
                Some(i) => i.id.clone(),
                None => return Ok(Err(EnqueueError::NoInstance)),
            },
        };
        let queue = inner.queues.get(&instance).map_or(0, VecDeque::len);
        if queue >= limit {
            return Ok(Err(EnqueueError::QueueFull { instance, limit }));
        }
        // Behind every task of its priority or higher: first in, first out within one.
        let at = {
            let tasks = &inner.tasks;
            inner.queues.get(&instance).map_or(0, |q| {
                q.iter()
                    .take_while(|id| tasks.get(*id).is_some_and(|t| t.priority >= task.priority))
                    .count()
            })
        };
        let position = at + inner.running.get(&instance).copied().unwrap_or(0);
        task.instance_id = instance.clone();
        task.note(Happened::Queued { position }, task.created_at);
        inner
            .queues
            .entry(instance)
            .or_default()
            .insert(at, task.id.clone());
        inner.tasks.insert(task.id.clone(), task.clone());
        Ok(Ok(Enqueued { task, position }))
    }

    async fn claim(
        &self,
        instance_id: &str,
        _node: &Node,
        now: u64,
    ) -> StoreResult<Option<String>> {
        let mut inner = self.inner.lock().unwrap();
        let Some(id) = inner
            .queues
            .get_mut(instance_id)
            .and_then(VecDeque::pop_front)
        else {
            return Ok(None);
        };
        *inner.running.entry(instance_id.to_string()).or_default() += 1;
        inner
            .last_started
            .insert(instance_id.to_string(), id.clone());
        let task = inner.tasks.get_mut(&id).expect("a queued task is stored");
        task.start(now)?;
        task.note(Happened::Started, now);
        Ok(Some(id))
    }

    async fn cancel_queued(&self, task_id: &str, now: u64) -> StoreResult<Option<Task>> {
        let mut inner = self.inner.lock().unwrap();
        let Some(task) = inner.tasks.get(task_id) else {
            return Ok(None);
        };
        if task.status != TaskStatus::Queued {
            return Ok(None);
        }
        let instance = task.instance_id.clone();
        let change = Change::finish(task, true, now);
        if let Some(queue) = inner.queues.get_mut(&instance) {
            queue.retain(|id| id != task_id);
        }
        finish_in(&mut inner, task_id, &change, &self.retention)?;
        Ok(inner.tasks.get(task_id).cloned())
    }

    fn record(&self, task_id: &str, change: Change) -> BoxFuture<'static, StoreResult<()>> {
        let done = (|| {
            let mut inner = self.inner.lock().unwrap();
            if matches!(change, Change::Finished { .. }) {
                return finish_in(&mut inner, task_id, &change, &self.retention);
            }
            if let Change::Checkpoint { index, state } = &change {
                inner
                    .checkpoints
                    .entry(task_id.to_string())
                    .or_default()
                    .insert(*index, serde_json::Value::clone(state));
                return Ok(());
            }
            let task = inner
                .tasks
                .get_mut(task_id)
                .ok_or_else(|| anyhow::anyhow!("no task {task_id}"))?;
            change.apply(task)?;
            Ok(())
        })();
        Box::pin(std::future::ready(done))
    }

    async fn recover(&self, _me: &Node, _lease: Duration, _now: u64) -> StoreResult<Recovered> {
        Ok(Recovered::default())
    }

    async fn enforce_retention(&self, retention: &Retention, now: u64) -> StoreResult<usize> {
        Ok(self.inner.lock().unwrap().evict(retention, now))
    }
}

/// Applies a `Finished` change and counts the task for eviction.
fn finish_in(
    inner: &mut Inner,
    task_id: &str,
    change: &Change,
    retention: &Retention,
) -> StoreResult<()> {
    let task = inner
        .tasks
        .get_mut(task_id)
        .ok_or_else(|| anyhow::anyhow!("no task {task_id}"))?;
    let was_running = task.status == TaskStatus::Running;
    change.apply(task)?;
    let bytes = artifacts::bytes_of(task);
    let instance = task.instance_id.clone();
    if was_running {
        if let Some(n) = inner.running.get_mut(&instance) {
            *n = n.saturating_sub(1);
        }
    }
    inner.finished.push_back((task_id.to_string(), bytes));
    inner.artifact_bytes += bytes;
    inner.evict(retention, now_ms());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::validate_submission;
    use serde_json::json;

    fn task() -> Task {
        let spec = validate_submission(&json!({
            "task_name": "t",
            "commands": [{ "tool_name": "browser_navigate", "args": { "action": "reload" } }]
        }))
        .unwrap();
        Task::new(spec, String::new())
    }

    fn instance(id: &str) -> InstanceRecord {
        InstanceRecord {
            id: id.into(),
            node_id: "node_0".into(),
            private: false,
            owner: None,
        }
    }

    async fn run_to_end(store: &MemoryStore, node: &Node, instance: &str) -> String {
        let id = store.claim(instance, node, 1).await.unwrap().unwrap();
        let t = store.get(&id).await.unwrap().unwrap();
        store
            .record(&t.id, Change::CommandStarted { index: 0, at: 1 })
            .await
            .unwrap();
        store
            .record(
                &t.id,
                Change::CommandSucceeded {
                    index: 0,
                    result: Default::default(),
                    at: 2,
                },
            )
            .await
            .unwrap();
        let end = Change::finish(&store.get(&t.id).await.unwrap().unwrap(), false, 2);
        store.record(&t.id, end).await.unwrap();
        t.id
    }

    #[tokio::test]
    async fn places_queues_claims_and_evicts_the_oldest_finished() {
        let store = MemoryStore::new(Retention {
            keep_finished: 2,
            ..Default::default()
        });
        let node = store.join().await.unwrap();
        for id in ["inst_1", "inst_2"] {
            store.add_instance(&instance(id)).await.unwrap();
        }
        let mut placed = Vec::new();
        for _ in 0..4 {
            let e = store
                .enqueue(task(), Placement::LeastLoaded, 10)
                .await
                .unwrap()
                .unwrap();
            placed.push((e.task.instance_id.clone(), e.position));
        }
        assert_eq!(
            placed,
            [
                ("inst_1".to_string(), 0),
                ("inst_2".to_string(), 0),
                ("inst_1".to_string(), 1),
                ("inst_2".to_string(), 1)
            ]
        );
        let full = store
            .enqueue(task(), Placement::Instance("inst_1".into()), 2)
            .await
            .unwrap();
        assert!(matches!(full, Err(EnqueueError::QueueFull { .. })));
        let unknown = store
            .enqueue(task(), Placement::Instance("inst_9".into()), 2)
            .await
            .unwrap();
        assert_eq!(
            unknown.unwrap_err(),
            EnqueueError::UnknownInstance("inst_9".into())
        );

        let first = run_to_end(&store, &node, "inst_1").await;
        let second = run_to_end(&store, &node, "inst_1").await;
        let third = run_to_end(&store, &node, "inst_2").await;
        assert!(store.get(&first).await.unwrap().is_none(), "oldest evicted");
        assert!(store.get(&second).await.unwrap().is_some());
        assert_eq!(
            store.get(&third).await.unwrap().unwrap().status,
            TaskStatus::Completed
        );
        let queued = store
            .list(&TaskFilter {
                owner: None,
                instance_id: None,
                status: Some(TaskStatus::Queued),
            })
            .await
            .unwrap();
        assert_eq!(queued.len(), 1);
        let cancelled = store
            .cancel_queued(&queued[0].id, 5)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(cancelled.status, TaskStatus::Cancelled);
        assert!(store.claim("inst_2", &node, 6).await.unwrap().is_none());
        assert!(store
            .cancel_queued(&queued[0].id, 7)
            .await
            .unwrap()
            .is_none());
    }
}
