//! Undo: before each command that can change state, the worker keeps a checkpoint of the
//! page (its URL, the browser's cookies, the origin's localStorage and sessionStorage); an
//! undo puts one back on the instance. Honest about the rest: what the site did on its
//! server, other origins' storage and IndexedDB are not restored, and the answer says so.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{Checkpoints, Scheduler};
use crate::browser::{BrowserInstance, Checkpoint};
use crate::events::EventKind;
use crate::store::Change;
use crate::task::{now_ms, CommandStatus, Door, Task, TaskCommand, UndoRecord};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UndoError {
    #[error("Task not found")]
    TaskNotFound,
    #[error("Unknown step: {0}")]
    StepNotFound(String),
    #[error("The task is still running: undo once it has ended")]
    TaskRunning,
    #[error("No checkpoint was kept before that step (it changed nothing, did not run, or checkpoints are off for this task)")]
    NoCheckpoint,
    #[error("Another task ({0}) has run on the instance since; send force: true to undo anyway")]
    InstanceUsedSince(String),
    #[error("The instance is busy with another task; try again when it is idle")]
    InstanceBusy,
    #[error("The task's instance is gone")]
    InstanceGone,
    #[error("The undo failed: {0}")]
    Failed(String),
}

impl UndoError {
    pub fn code(&self) -> &'static str {
        match self {
            UndoError::TaskNotFound => "TASK_NOT_FOUND",
            UndoError::StepNotFound(_) => "STEP_NOT_FOUND",
            UndoError::TaskRunning => "TASK_RUNNING",
            UndoError::NoCheckpoint => "NO_CHECKPOINT",
            UndoError::InstanceUsedSince(_) => "INSTANCE_USED_SINCE",
            UndoError::InstanceBusy => "INSTANCE_BUSY",
            UndoError::InstanceGone => "INSTANCE_GONE",
            UndoError::Failed(_) => "UNDO_FAILED",
        }
    }
}

impl Scheduler {
    /// Whether the worker keeps a checkpoint before this command of this task.
    pub(super) fn keeps_checkpoint(&self, task: &Task, command: &TaskCommand) -> bool {
        self.keeps_checkpoints(task) && command.parsed.action.changes_state()
    }

    /// Whether checkpoints are kept for this task at all (also the one taken while it waits
    /// for a person, which a restart puts back).
    pub(super) fn keeps_checkpoints(&self, task: &Task) -> bool {
        match self.inner.checkpoints {
            Checkpoints::Off => false,
            Checkpoints::All => true,
            Checkpoints::Agent => task.door == Door::Agent,
        }
    }

    /// Takes and records the checkpoint before command `index` (best effort: a page that
    /// cannot give one only means that step cannot be undone).
    pub(super) async fn take_checkpoint(
        &self,
        instance: &BrowserInstance,
        task_id: &str,
        index: usize,
        tab: Option<&str>,
        cancel: &CancellationToken,
    ) {
        match self.inner.executor.checkpoint(instance, tab, cancel).await {
            Ok(checkpoint) => {
                let state = serde_json::to_value(&checkpoint).expect("plain data serializes");
                super::worker::record(
                    self,
                    task_id,
                    Change::Checkpoint {
                        index,
                        state: Arc::new(state),
                    },
                );
            }
            Err(e) => tracing::debug!(task = %task_id, index, "no checkpoint: {e}"),
        }
    }

    /// Puts back the page a task waited on when the server stopped, before it goes on at
    /// step `index`: the checkpoint kept while it waited (URL, cookies, storage), else the URL
    /// its approval request noted. Best effort: what cannot be put back is logged, and the
    /// approval's screenshot shows the person what the page was.
    pub(super) async fn resume_page(
        &self,
        instance: &BrowserInstance,
        task: &Task,
        index: usize,
        cancel: &CancellationToken,
    ) {
        let kept = match self.inner.store.checkpoint(&task.id, index).await {
            Ok(Some(state)) => serde_json::from_value::<Checkpoint>(state).ok(),
            _ => None,
        };
        let noted = || {
            let url = task.approval_for(index)?.page_url.clone()?;
            Some(Checkpoint {
                url,
                origin: None,
                cookies: Vec::new(),
                local_storage: Vec::new(),
                session_storage: Vec::new(),
                taken_at: now_ms(),
                tab_id: None,
            })
        };
        let Some(mut checkpoint) = kept.or_else(noted) else {
            return;
        };
        // The tabs of the browser it waited in are gone.
        checkpoint.tab_id = None;
        match self
            .inner
            .executor
            .restore(instance, &checkpoint, cancel)
            .await
        {
            Ok(report) => {
                tracing::info!(task = %task.id, url = %report.url, restored = ?report.restored,
                "a task that waited through a restart has its page back")
            }
            Err(e) => {
                tracing::warn!(task = %task.id, "its page could not be put back: {}", e.message)
            }
        }
    }

    /// Puts back the state before step `step_id` (by default, before the last step that
    /// changed something) of a finished task, on its instance.
    pub(super) async fn undo(
        &self,
        task_id: &str,
        by: &str,
        step_id: Option<&str>,
        force: bool,
    ) -> Result<UndoRecord, UndoError> {
        let task = self
            .tasks()
            .get(task_id)
            .await
            .ok_or(UndoError::TaskNotFound)?;
        let index = match step_id {
            Some(step) => task
                .commands
                .iter()
                .position(|c| c.id == step)
                .ok_or_else(|| UndoError::StepNotFound(step.into()))?,
            None => task
                .commands
                .iter()
                .rposition(|c| {
                    matches!(c.status, CommandStatus::Success | CommandStatus::Error)
                        && c.parsed.action.changes_state()
                })
                .ok_or(UndoError::NoCheckpoint)?,
        };
        if !task.status.is_finished() {
            return Err(UndoError::TaskRunning);
        }
        let state = self
            .inner
            .store
            .checkpoint(task_id, index)
            .await
            .map_err(|e| UndoError::Failed(format!("{e:#}")))?
            .ok_or(UndoError::NoCheckpoint)?;
        let checkpoint: Checkpoint = serde_json::from_value(state)
            .map_err(|e| UndoError::Failed(format!("the checkpoint does not read: {e}")))?;
        let slot = self
            .slot(&task.instance_id)
            .ok_or(UndoError::InstanceGone)?;
        let last = self
            .inner
            .store
            .last_started_on(&task.instance_id)
            .await
            .map_err(|e| UndoError::Failed(format!("{e:#}")))?;
        let used_since = last.filter(|l| l != task_id);
        if let (Some(other), false) = (&used_since, force) {
            return Err(UndoError::InstanceUsedSince(other.clone()));
        }
        // The instance is ours while we restore: no task starts meanwhile.
        let _busy = slot.busy.try_lock().map_err(|_| UndoError::InstanceBusy)?;
        let instance = slot.current_instance().ok_or(UndoError::InstanceGone)?;
        let report = self
            .inner
            .executor
            .restore(&instance, &checkpoint, &slot.stop.child_token())
            .await
            .map_err(|e| UndoError::Failed(e.message))?;
        let undo = UndoRecord {
            id: format!(
                "undo_{}_{}",
                task_id.trim_start_matches("task_"),
                task.undos.len() + 1
            ),
            at: now_ms(),
            by: by.into(),
            index,
            restored: report.restored,
            not_restored: report.not_restored,
            url: Some(report.url),
            forced: used_since.is_some(),
        };
        self.inner
            .store
            .record(task_id, Change::Undone { undo: undo.clone() })
            .await
            .map_err(|e| UndoError::Failed(format!("the undo was not recorded: {e:#}")))?;
        self.events().emit(
            &task.instance_id,
            EventKind::Undone {
                task_id: task_id.into(),
                instance_id: task.instance_id.clone(),
                undo: Arc::new(undo.clone()),
            },
        );
        Ok(undo)
    }
}
