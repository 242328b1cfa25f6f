//! The typed changes of a task's life after it was queued, and how each one changes a record.
//! The scheduler applies a change to its own copy first (which checks the transition), then
//! hands the same change to the store.

use std::sync::Arc;

use crate::task::approval::{Approval, ApprovalDecision};
use crate::task::{
    CommandError, CommandStatus, Happened, IllegalTransition, ParsedArgs, Task, TaskError,
    TaskStatus, ToolResult, UndoRecord,
};

#[derive(Debug, Clone)]
pub enum Change {
    CommandStarted {
        index: usize,
        at: u64,
    },
    CommandSucceeded {
        index: usize,
        result: Arc<ToolResult>,
        at: u64,
    },
    CommandFailed {
        index: usize,
        error: CommandError,
        at: u64,
    },
    /// The page as it was when command `index` failed (a base64 PNG), kept with the record.
    FailureScreenshot {
        index: usize,
        png: Arc<String>,
    },
    /// The end: its status and error, and the commands skipped (pending or in flight).
    Finished {
        status: TaskStatus,
        error: Option<TaskError>,
        skipped: Vec<usize>,
        at: u64,
    },
    /// A command waits for a person's yes.
    ApprovalRequested {
        approval: Box<Approval>,
    },
    /// The task stopped before the approval's command to wait for the answer (the journal
    /// notes it; the record's status stays `running`).
    Paused {
        approval_id: String,
        at: u64,
    },
    /// The answer (a person's, or the timeout's). With `args`, the command runs with these
    /// (the approver's `modifiedParameters` merged in and validated).
    ApprovalDecided {
        approval_id: String,
        decision: ApprovalDecision,
        args: Option<Box<(serde_json::Value, ParsedArgs)>>,
    },
    /// The state before command `index` (a checkpoint's JSON), kept for undo: not part of the
    /// record a reader gets.
    Checkpoint {
        index: usize,
        state: Arc<serde_json::Value>,
    },
    /// An undo was applied (the task is finished; its record gains the entry).
    Undone {
        undo: UndoRecord,
    },
    /// Its runner stopped while it waited for a person: back in its queue, what it did kept
    /// (see [`Task::resume_point`]).
    Requeued {
        at: u64,
    },
    /// An external step's app reported progress or a log (the journal notes it; the record
    /// does not change).
    ExternalProgress {
        index: usize,
        progress: Option<f64>,
        step: Option<String>,
        event_type: Option<String>,
        data: Option<serde_json::Value>,
        at: u64,
    },
}

impl Change {
    /// What the task's journal says of this change; `None` for the ones kept aside
    /// (screenshots, checkpoints).
    pub fn happened(&self) -> Option<(Happened, u64)> {
        Some(match self {
            Change::CommandStarted { index, at } => (Happened::StepStarted { index: *index }, *at),
            Change::CommandSucceeded { index, at, .. } => {
                (Happened::StepSucceeded { index: *index }, *at)
            }
            Change::CommandFailed { index, at, .. } => {
                (Happened::StepFailed { index: *index }, *at)
            }
            Change::Finished { status, at, .. } => (Happened::Finished { status: *status }, *at),
            Change::ApprovalRequested { approval } => (
                Happened::ApprovalRequested {
                    approval_id: approval.id.clone(),
                },
                approval.requested_at,
            ),
            Change::ApprovalDecided {
                approval_id,
                decision,
                ..
            } => (
                Happened::ApprovalDecided {
                    approval_id: approval_id.clone(),
                },
                decision.at,
            ),
            Change::Paused { approval_id, at } => (
                Happened::Paused {
                    approval_id: approval_id.clone(),
                },
                *at,
            ),
            Change::Undone { undo } => (
                Happened::Undone {
                    undo_id: undo.id.clone(),
                },
                undo.at,
            ),
            Change::Requeued { at } => (Happened::Requeued, *at),
            Change::ExternalProgress {
                index,
                progress,
                step,
                event_type,
                data,
                at,
            } => (
                Happened::ExternalProgress {
                    index: *index,
                    progress: *progress,
                    step: step.clone(),
                    event_type: event_type.clone(),
                    data: data.clone(),
                },
                *at,
            ),
            Change::FailureScreenshot { .. } | Change::Checkpoint { .. } => return None,
        })
    }

    /// Applies the change to `task` and notes it in its journal, refusing a transition the
    /// spec does not draw.
    pub fn apply(&self, task: &mut Task) -> Result<(), IllegalTransition> {
        self.apply_record(task)?;
        if let Some((what, at)) = self.happened() {
            task.note(what, at);
        }
        Ok(())
    }

    fn apply_record(&self, task: &mut Task) -> Result<(), IllegalTransition> {
        match self {
            Change::CommandStarted { index, at } => task.start_command(*index, *at),
            Change::CommandSucceeded { index, result, at } => {
                task.succeed_command(*index, ToolResult::clone(result), *at)
            }
            Change::CommandFailed { index, error, at } => {
                task.fail_command(*index, error.clone(), *at)
            }
            Change::FailureScreenshot { index, png } => {
                if let Some(command) = task.commands.get_mut(*index) {
                    command.failure_screenshot = Some(String::clone(png));
                }
                Ok(())
            }
            Change::Finished {
                status,
                error,
                skipped,
                at,
            } => {
                for &index in skipped {
                    let command = &mut task.commands[index];
                    if command.status.can_become(CommandStatus::Skipped) {
                        if command.started_at.is_some() {
                            command.completed_at = Some(*at);
                        }
                        command.status = CommandStatus::Skipped;
                    }
                }
                task.end(*status, error.clone(), *at)
            }
            Change::ApprovalRequested { approval } => {
                task.approvals.push(Approval::clone(approval));
                Ok(())
            }
            Change::ApprovalDecided {
                approval_id,
                decision,
                args,
            } => {
                let approval = task
                    .approval_mut(approval_id)
                    .ok_or_else(|| IllegalTransition {
                        what: format!("approval {approval_id}"),
                        from: "unknown",
                        to: "decided",
                    })?;
                if approval.decision.is_some() {
                    return Err(IllegalTransition {
                        what: format!("approval {approval_id}"),
                        from: "decided",
                        to: "decided",
                    });
                }
                approval.decision = Some(decision.clone());
                let index = approval.index;
                if let Some(new) = args {
                    let (value, parsed) = &**new;
                    task.commands[index].args = value.clone();
                    task.commands[index].parsed = parsed.clone();
                }
                Ok(())
            }
            Change::Checkpoint { .. } | Change::Paused { .. } | Change::ExternalProgress { .. } => {
                Ok(())
            }
            Change::Undone { undo } => {
                task.undos.push(undo.clone());
                Ok(())
            }
            Change::Requeued { .. } => task.requeue(),
        }
    }

    /// The `Finished` change that ends `task` now: its status follows from its commands and
    /// whether it was cancelled (see [`Task::finish`]). `task` itself is not changed.
    pub fn finish(task: &Task, cancelled: bool, at: u64) -> Change {
        let mut end = task.clone();
        let skipped = end.skip_unfinished(at);
        // On a clone, so a task that cannot finish (already finished) changes nothing.
        let _ = end.finish(cancelled, at);
        Change::Finished {
            status: end.status,
            error: end.error,
            skipped,
            at,
        }
    }

    /// What a task that lost its runner becomes: back in its queue when it was waiting for a
    /// person (it goes on at that step), else [`Change::lost`].
    pub fn recovered(task: &Task, error: CommandError, at: u64) -> Vec<Change> {
        match task.resume_point() {
            Some(_) => vec![Change::Requeued { at }],
            None => Change::lost(task, error, at),
        }
    }

    /// Ends `task` as failed with `error` on the command in flight (or none), the rest skipped:
    /// what a task that lost its runner becomes.
    pub fn lost(task: &Task, error: CommandError, at: u64) -> Vec<Change> {
        let mut changes = Vec::new();
        let in_flight = task
            .commands
            .iter()
            .position(|c| c.status == CommandStatus::Running);
        if let Some(index) = in_flight {
            changes.push(Change::CommandFailed {
                index,
                error: error.clone(),
                at,
            });
        }
        let skipped = task
            .commands
            .iter()
            .enumerate()
            .filter(|(i, c)| Some(*i) != in_flight && c.status == CommandStatus::Pending)
            .map(|(i, _)| i)
            .collect();
        changes.push(Change::Finished {
            status: TaskStatus::Failed,
            error: Some(TaskError {
                code: error.code,
                message: error.message,
                command_id: in_flight.map(|i| task.commands[i].id.clone()),
            }),
            skipped,
            at,
        });
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::ErrorCode;

    fn task() -> Task {
        crate::task::model::three_command_task()
    }

    #[test]
    fn changes_replayed_on_a_copy_give_the_same_record() {
        let mut live = task();
        let mut copy = live.clone();
        live.start(1).unwrap();
        copy.start(1).unwrap();
        let changes = [
            Change::CommandStarted { index: 0, at: 2 },
            Change::CommandSucceeded {
                index: 0,
                result: Arc::new(ToolResult::text("ok")),
                at: 3,
            },
            Change::CommandStarted { index: 1, at: 4 },
            Change::CommandFailed {
                index: 1,
                error: CommandError::execution("boom"),
                at: 5,
            },
        ];
        for change in &changes {
            change.apply(&mut live).unwrap();
            change.apply(&mut copy).unwrap();
        }
        let end = Change::finish(&live, false, 6);
        end.apply(&mut live).unwrap();
        end.apply(&mut copy).unwrap();
        assert_eq!(live.status, TaskStatus::Failed);
        assert_eq!(live.commands[2].status, CommandStatus::Skipped);
        assert_eq!(
            serde_json::to_value(&live).unwrap(),
            serde_json::to_value(&copy).unwrap()
        );
        // A change the spec does not draw is refused.
        assert!(Change::CommandStarted { index: 0, at: 7 }
            .apply(&mut live)
            .is_err());
    }

    #[test]
    fn a_lost_task_fails_its_command_in_flight_and_skips_the_rest() {
        let mut t = task();
        t.start(1).unwrap();
        t.start_command(0, 2).unwrap();
        let error = CommandError::new(ErrorCode::InstanceDisconnected, "gone");
        for change in Change::lost(&t, error, 3) {
            change.apply(&mut t).unwrap();
        }
        assert_eq!(t.status, TaskStatus::Failed);
        assert_eq!(t.commands[0].status, CommandStatus::Error);
        assert_eq!(t.commands[1].status, CommandStatus::Skipped);
        let e = t.error.unwrap();
        assert_eq!(e.code, ErrorCode::InstanceDisconnected);
        assert_eq!(e.command_id.as_deref(), Some(t.commands[0].id.as_str()));
    }
}
