//! Task records, behind one module: in memory for now, finished tasks kept up to a cap.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::task::{Task, TaskStatus};

#[derive(Debug)]
pub struct TaskStore {
    inner: Mutex<Inner>,
    keep_finished: usize,
}

#[derive(Debug, Default)]
struct Inner {
    tasks: HashMap<String, Task>,
    /// Finished task ids, oldest first: the ones evicted past `keep_finished`.
    finished: VecDeque<String>,
}

/// Which tasks a listing returns.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub instance_id: Option<String>,
    /// `None` lists every status.
    pub status: Option<TaskStatus>,
}

impl TaskStore {
    pub fn new(keep_finished: usize) -> Self {
        TaskStore {
            inner: Mutex::new(Inner::default()),
            keep_finished,
        }
    }

    pub fn insert(&self, task: Task) {
        let mut inner = self.inner.lock().unwrap();
        inner.tasks.insert(task.id.clone(), task);
    }

    pub fn get(&self, id: &str) -> Option<Task> {
        self.inner.lock().unwrap().tasks.get(id).cloned()
    }

    /// Reads a task in place, without copying it (its screenshots can be large).
    pub fn read<R>(&self, id: &str, read: impl FnOnce(&Task) -> R) -> Option<R> {
        self.inner.lock().unwrap().tasks.get(id).map(read)
    }

    /// Applies `change` to a task; a task that just finished is counted for eviction.
    pub fn update<R>(&self, id: &str, change: impl FnOnce(&mut Task) -> R) -> Option<R> {
        let mut inner = self.inner.lock().unwrap();
        let task = inner.tasks.get_mut(id)?;
        let was_finished = task.status.is_finished();
        let out = change(task);
        if !was_finished && task.status.is_finished() {
            inner.finished.push_back(id.to_string());
            while inner.finished.len() > self.keep_finished {
                if let Some(old) = inner.finished.pop_front() {
                    inner.tasks.remove(&old);
                }
            }
        }
        Some(out)
    }

    /// Tasks matching `filter`, oldest first.
    pub fn list(&self, filter: &TaskFilter) -> Vec<Task> {
        self.list_with(filter, Task::clone)
    }

    /// Renders the tasks matching `filter`, oldest first, without cloning whole records
    /// (results may hold screenshots).
    pub fn list_with<R>(&self, filter: &TaskFilter, render: impl FnMut(&Task) -> R) -> Vec<R> {
        let inner = self.inner.lock().unwrap();
        let mut tasks: Vec<&Task> = inner
            .tasks
            .values()
            .filter(|t| {
                filter
                    .instance_id
                    .as_ref()
                    .is_none_or(|i| &t.instance_id == i)
            })
            .filter(|t| filter.status.is_none_or(|s| t.status == s))
            .collect();
        tasks.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        tasks.into_iter().map(render).collect()
    }

    /// How many tasks the store holds in each status.
    pub fn count_by_status(&self) -> Vec<(TaskStatus, usize)> {
        let inner = self.inner.lock().unwrap();
        TaskStatus::ALL
            .into_iter()
            .map(|s| (s, inner.tasks.values().filter(|t| t.status == s).count()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::validate_submission;
    use serde_json::json;

    fn task(instance: &str) -> Task {
        let spec = validate_submission(&json!({
            "task_name": "t",
            "commands": [{ "tool_name": "browser_navigate", "args": { "action": "reload" } }]
        }))
        .unwrap();
        Task::new(spec, instance.into())
    }

    #[test]
    fn filters_and_evicts_the_oldest_finished() {
        let store = TaskStore::new(2);
        let ids: Vec<String> = (0..4)
            .map(|i| {
                let t = task(if i % 2 == 0 { "a" } else { "b" });
                let id = t.id.clone();
                store.insert(t);
                id
            })
            .collect();
        let on_a = store.list(&TaskFilter {
            instance_id: Some("a".into()),
            status: None,
        });
        assert_eq!(
            on_a.iter().map(|t| &t.id).collect::<Vec<_>>(),
            vec![&ids[0], &ids[2]]
        );

        for id in &ids[..3] {
            store
                .update(id, |t| {
                    t.start(1).unwrap();
                    t.start_command(0, 1).unwrap();
                    t.succeed_command(0, Default::default(), 2).unwrap();
                    t.finish(false, 2).unwrap();
                })
                .unwrap();
        }
        assert!(store.get(&ids[0]).is_none(), "oldest finished task evicted");
        assert!(store.get(&ids[1]).is_some());
        let completed = store.list(&TaskFilter {
            instance_id: None,
            status: Some(TaskStatus::Completed),
        });
        assert_eq!(completed.len(), 2);
        let queued = store.list(&TaskFilter {
            instance_id: None,
            status: Some(TaskStatus::Queued),
        });
        assert_eq!(
            queued.iter().map(|t| &t.id).collect::<Vec<_>>(),
            vec![&ids[3]]
        );
    }
}
