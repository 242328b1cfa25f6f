//! Events told again from a record: what a watcher that fell behind, or a runner hearing of
//! another runner's task, missed. Compares what was seen with the record now and yields the
//! events between, in the order they happened.

use std::sync::Arc;

use crate::events::EventKind;
use crate::task::{CommandStatus, Task, TaskStatus};

/// What has been told of a task so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seen {
    pub status: Option<TaskStatus>,
    pub commands: Vec<CommandStatus>,
}

impl Seen {
    /// Takes an event into account (it was told live).
    pub fn note(&mut self, kind: &EventKind) {
        let mut set = |index: usize, status: CommandStatus| {
            if self.commands.len() <= index {
                self.commands.resize(index + 1, CommandStatus::Pending);
            }
            self.commands[index] = status;
        };
        match kind {
            EventKind::TaskQueued { .. } => self.status = Some(TaskStatus::Queued),
            EventKind::TaskStarted { .. } => self.status = Some(TaskStatus::Running),
            EventKind::CommandStarted { index, .. } => set(*index, CommandStatus::Running),
            EventKind::CommandSucceeded { index, .. } => set(*index, CommandStatus::Success),
            EventKind::CommandFailed { index, .. } => set(*index, CommandStatus::Error),
            EventKind::CommandSkipped { index, .. } => set(*index, CommandStatus::Skipped),
            EventKind::TaskFinished { task } => self.status = Some(task.status),
            _ => {}
        }
    }

    fn command(&self, index: usize) -> CommandStatus {
        self.commands
            .get(index)
            .copied()
            .unwrap_or(CommandStatus::Pending)
    }
}

/// The events between `seen` and `task`, and `seen` brought up to date.
pub fn catch_up(seen: &mut Seen, task: &Task) -> Vec<EventKind> {
    let mut out = Vec::new();
    if seen.status.is_none() {
        out.push(EventKind::TaskQueued {
            task_id: task.id.clone(),
            position: 0,
        });
    }
    if matches!(seen.status, None | Some(TaskStatus::Queued)) && task.started_at.is_some() {
        out.push(EventKind::TaskStarted {
            task_id: task.id.clone(),
        });
    }
    for (index, command) in task.commands.iter().enumerate() {
        let before = seen.command(index);
        let now = command.status;
        if before == now {
            continue;
        }
        let started = EventKind::CommandStarted {
            task_id: task.id.clone(),
            index,
            tool_name: command.tool_name.clone(),
            intention: command.intention.clone(),
        };
        let duration_ms = match (command.started_at, command.completed_at) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => 0,
        };
        match now {
            CommandStatus::Pending => {}
            CommandStatus::Running => out.push(started),
            CommandStatus::Success => {
                if before == CommandStatus::Pending {
                    out.push(started);
                }
                out.push(EventKind::CommandSucceeded {
                    task_id: task.id.clone(),
                    index,
                    tool_name: command.tool_name.clone(),
                    action: command.parsed.action.name(),
                    intention: command.intention.clone(),
                    result: Arc::new(command.result.clone().unwrap_or_default()),
                    duration_ms,
                });
            }
            CommandStatus::Error => {
                if before == CommandStatus::Pending {
                    out.push(started);
                }
                out.push(EventKind::CommandFailed {
                    task_id: task.id.clone(),
                    index,
                    tool_name: command.tool_name.clone(),
                    action: command.parsed.action.name(),
                    intention: command.intention.clone(),
                    error: command
                        .error
                        .clone()
                        .unwrap_or_else(|| crate::task::CommandError::execution("failed")),
                    duration_ms,
                });
            }
            CommandStatus::Skipped => out.push(EventKind::CommandSkipped {
                task_id: task.id.clone(),
                index,
                tool_name: command.tool_name.clone(),
                intention: command.intention.clone(),
            }),
        }
    }
    if task.status.is_finished() && !seen.status.is_some_and(|s| s.is_finished()) {
        out.push(EventKind::TaskFinished {
            task: Arc::new(task.clone()),
        });
    }
    for kind in &out {
        seen.note(kind);
    }
    seen.status = Some(task.status);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Change;
    use crate::task::{CommandError, ToolResult};

    fn names(events: &[EventKind]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                EventKind::TaskQueued { .. } => "queued".to_string(),
                EventKind::TaskStarted { .. } => "started".into(),
                EventKind::CommandStarted { index, .. } => format!("cmd{index} started"),
                EventKind::CommandSucceeded { index, .. } => format!("cmd{index} success"),
                EventKind::CommandFailed { index, .. } => format!("cmd{index} error"),
                EventKind::CommandSkipped { index, .. } => format!("cmd{index} skipped"),
                EventKind::TaskFinished { task } => format!("finished {}", task.status),
                _ => "other".into(),
            })
            .collect()
    }

    #[test]
    fn tells_what_was_missed_once_and_in_order() {
        let mut task = crate::task::model::three_command_task();
        let mut seen = Seen::default();
        assert_eq!(names(&catch_up(&mut seen, &task)), ["queued"]);
        task.start(1).unwrap();
        Change::CommandStarted { index: 0, at: 1 }
            .apply(&mut task)
            .unwrap();
        assert_eq!(
            names(&catch_up(&mut seen, &task)),
            ["started", "cmd0 started"]
        );
        for change in [
            Change::CommandSucceeded {
                index: 0,
                result: Arc::new(ToolResult::text("ok")),
                at: 2,
            },
            Change::CommandStarted { index: 1, at: 2 },
            Change::CommandFailed {
                index: 1,
                error: CommandError::execution("boom"),
                at: 3,
            },
        ] {
            change.apply(&mut task).unwrap();
        }
        Change::finish(&task, false, 3).apply(&mut task).unwrap();
        assert_eq!(
            names(&catch_up(&mut seen, &task)),
            [
                "cmd0 success",
                "cmd1 started",
                "cmd1 error",
                "cmd2 skipped",
                "finished failed"
            ]
        );
        assert!(catch_up(&mut seen, &task).is_empty(), "nothing told twice");
    }
}
