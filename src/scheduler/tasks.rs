//! [`Tasks`]: the read-only view of tasks every door gets. Tasks running on this runner are
//! read from the scheduler's own records (the store may be a few writes behind them); all
//! others from the store.

use super::Inner;
use crate::store::{ClusterInfo, HistoryPage, HistoryQuery, StoreResult, TaskFilter};
use crate::task::{JournalEntry, Task, TaskStatus, TaskSummary};

pub struct Tasks<'a> {
    inner: &'a Inner,
}

impl<'a> Tasks<'a> {
    pub(super) fn new(inner: &'a Inner) -> Self {
        Tasks { inner }
    }

    /// The whole record; `None` for an unknown id, or when the store cannot be read (logged).
    pub async fn get(&self, id: &str) -> Option<Task> {
        if let Some(task) = self.inner.live.lock().unwrap().get(id) {
            return Some(task.clone());
        }
        match self.inner.store.get(id).await {
            Ok(task) => task,
            Err(e) => {
                tracing::error!(task = %id, "task store: {e:#}");
                None
            }
        }
    }

    /// Who owns the task; `None` for an unknown id.
    pub async fn owner_of(&self, id: &str) -> Option<String> {
        if let Some(task) = self.inner.live.lock().unwrap().get(id) {
            return Some(task.owner.clone());
        }
        if let Some(entry) = self.inner.queued_here.lock().unwrap().get(id) {
            return Some(entry.task.owner.clone());
        }
        self.get(id).await.map(|t| t.owner)
    }

    /// Tasks matching `filter`, oldest first.
    pub async fn list(&self, filter: &TaskFilter) -> StoreResult<Vec<TaskSummary>> {
        let mut tasks = self.inner.store.list(filter).await?;
        let live = self.inner.live.lock().unwrap();
        for summary in &mut tasks {
            if let Some(task) = live.get(&summary.id) {
                *summary = task.summary();
            }
        }
        if let Some(status) = filter.status {
            tasks.retain(|t| t.status == status);
        }
        Ok(tasks)
    }

    /// The task's journal after entry `after`, as far as the store holds it (a live task's
    /// from its record, up to what is written: its record may be a few writes ahead).
    pub async fn journal(&self, id: &str, after: u64) -> StoreResult<Vec<JournalEntry>> {
        {
            let live = self.inner.live.lock().unwrap();
            if let Some(task) = live.get(id) {
                let stored = self.inner.stored.lock().unwrap().get(id).copied();
                let stored = stored.unwrap_or(u64::MAX);
                return Ok(task
                    .journal
                    .iter()
                    .filter(|e| e.seq > after && e.seq <= stored)
                    .cloned()
                    .collect());
            }
        }
        self.inner.store.journal(id, after).await
    }

    /// A page of a history, live tasks as they are now.
    pub async fn history(&self, query: &HistoryQuery) -> StoreResult<HistoryPage> {
        let mut page = self.inner.store.history(query).await?;
        let live = self.inner.live.lock().unwrap();
        for summary in &mut page.tasks {
            if let Some(task) = live.get(&summary.id) {
                *summary = task.summary();
            }
        }
        Ok(page)
    }

    pub async fn count_by_status(&self) -> StoreResult<Vec<(TaskStatus, usize)>> {
        self.inner.store.count_by_status().await
    }

    pub async fn cluster(&self) -> StoreResult<ClusterInfo> {
        self.inner.store.cluster().await
    }
}
