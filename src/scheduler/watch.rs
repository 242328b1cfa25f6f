//! [`Watch`]: one task's events in order, ending with its final record, whether the watcher
//! joined late, fell behind the event stream, or the task runs on another runner. The doors
//! that wait for a task (REST tools, MCP, `run`) all follow it through this.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::broadcast::{self, error::RecvError};

use super::replay::{catch_up, Seen};
use super::Scheduler;
use crate::events::{Event, EventKind};
use crate::task::{CommandStatus, Task};

pub struct Watch {
    scheduler: Scheduler,
    task_id: String,
    events: broadcast::Receiver<Event>,
    seen: Seen,
    pending: VecDeque<EventKind>,
    done: bool,
}

impl Watch {
    /// From now on (`from_start`: from the task's queueing, what already happened told first).
    pub(super) async fn new(
        scheduler: &Scheduler,
        task_id: &str,
        from_start: bool,
    ) -> Option<Watch> {
        // Subscribed before reading: nothing can slip between the two.
        let events = scheduler.events().subscribe();
        let task = scheduler.tasks().get(task_id).await?;
        let mut pending = VecDeque::new();
        let seen = if from_start {
            let mut seen = Seen {
                status: Some(crate::task::TaskStatus::Queued),
                commands: vec![CommandStatus::Pending; task.commands.len()],
            };
            pending.extend(catch_up(&mut seen, &task));
            seen
        } else {
            // What happened before the watch began is in the record, not told again.
            if task.status.is_finished() {
                pending.push_back(EventKind::TaskFinished {
                    task: Arc::new(task.clone()),
                });
            }
            Seen {
                status: Some(task.status),
                commands: task.commands.iter().map(|c| c.status).collect(),
            }
        };
        Some(Watch {
            scheduler: scheduler.clone(),
            task_id: task_id.to_string(),
            events,
            seen,
            pending,
            done: false,
        })
    }

    /// The next event of the task; `None` after its `TaskFinished` (or if the task vanished).
    pub async fn next(&mut self) -> Option<EventKind> {
        loop {
            if let Some(kind) = self.pending.pop_front() {
                self.done |= matches!(kind, EventKind::TaskFinished { .. });
                return Some(kind);
            }
            if self.done {
                return None;
            }
            match self.events.recv().await {
                Ok(event) if event.kind.task_id() == Some(self.task_id.as_str()) => {
                    if !self.is_news(&event.kind) {
                        continue;
                    }
                    self.seen.note(&event.kind);
                    self.done |= matches!(event.kind, EventKind::TaskFinished { .. });
                    return Some(event.kind);
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => self.catch_up().await?,
                Err(RecvError::Closed) => {
                    self.catch_up().await?;
                    if self.pending.is_empty() {
                        return None;
                    }
                }
            }
        }
    }

    /// Skips every event up to the end and returns the final record.
    pub async fn finished(&mut self) -> Option<Arc<Task>> {
        while let Some(kind) = self.next().await {
            if let EventKind::TaskFinished { task } = kind {
                return Some(task);
            }
        }
        None
    }

    /// Reads the record and queues what was missed; `None` if the task is gone.
    async fn catch_up(&mut self) -> Option<()> {
        let task = self.scheduler.tasks().get(&self.task_id).await?;
        self.pending.extend(catch_up(&mut self.seen, &task));
        Some(())
    }

    /// Whether a live event tells something a catch-up has not already told.
    fn is_news(&self, kind: &EventKind) -> bool {
        let status = |index: usize| {
            self.seen
                .commands
                .get(index)
                .copied()
                .unwrap_or(CommandStatus::Pending)
        };
        match kind {
            EventKind::TaskQueued { .. } => self.seen.status.is_none(),
            EventKind::TaskStarted { .. } => matches!(
                self.seen.status,
                None | Some(crate::task::TaskStatus::Queued)
            ),
            EventKind::CommandStarted { index, .. } => status(*index) == CommandStatus::Pending,
            EventKind::CommandSucceeded { index, .. }
            | EventKind::CommandFailed { index, .. }
            | EventKind::CommandSkipped { index, .. } => matches!(
                status(*index),
                CommandStatus::Pending | CommandStatus::Running
            ),
            EventKind::TaskFinished { .. } => !self.seen.status.is_some_and(|s| s.is_finished()),
            _ => true,
        }
    }
}
