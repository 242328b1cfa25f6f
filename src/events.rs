//! One event type for everything that happens, on one broadcast stream. Every door (the CLI's
//! progress, the WebSocket protocol, MCP, the dashboard) is a renderer of this stream.

use std::sync::Arc;
use tokio::sync::broadcast;

use crate::task::approval::Approval;
use crate::task::{CommandError, Task, ToolResult, UndoRecord};

/// A dialog the page opened and how it was answered.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DialogRecord {
    /// `alert`, `confirm`, `prompt` or `beforeunload`.
    pub kind: String,
    pub message: String,
    pub accepted: bool,
}

impl DialogRecord {
    pub fn describe(&self) -> String {
        format!(
            "{} dialog \"{}\" was {}",
            self.kind,
            self.message,
            if self.accepted {
                "accepted"
            } else {
                "dismissed"
            }
        )
    }
}

#[derive(Debug, Clone)]
pub struct Event {
    /// Unix ms.
    pub at: u64,
    pub instance_id: String,
    pub kind: EventKind,
}

#[derive(Debug, Clone)]
pub enum EventKind {
    TaskQueued {
        task_id: String,
        position: usize,
    },
    TaskStarted {
        task_id: String,
    },
    CommandStarted {
        task_id: String,
        index: usize,
        tool_name: String,
        intention: String,
    },
    CommandSucceeded {
        task_id: String,
        index: usize,
        tool_name: String,
        /// The action's wire name (`goto`, `click`, ...).
        action: &'static str,
        intention: String,
        /// Shared with the record and every receiver: a screenshot is not copied per watcher.
        result: Arc<ToolResult>,
        duration_ms: u64,
    },
    CommandFailed {
        task_id: String,
        index: usize,
        tool_name: String,
        action: &'static str,
        intention: String,
        error: CommandError,
        duration_ms: u64,
    },
    CommandSkipped {
        task_id: String,
        index: usize,
        tool_name: String,
        intention: String,
    },
    DialogHandled {
        task_id: Option<String>,
        dialog: DialogRecord,
    },
    /// The task reached completed, failed or cancelled; carries its final record.
    TaskFinished {
        task: Arc<Task>,
    },
    /// A browser joined the pool (at boot, by `browser_instance create` or `attach`).
    InstanceAdded,
    InstanceLost {
        reason: String,
    },
    InstanceRelaunched,
    /// The instance left the pool (`browser_instance close`); its queue was cancelled.
    InstanceClosed,
    /// Command `index` needs a person's yes (asked when the task starts, or when the command
    /// is reached and the page's facts call for it).
    ApprovalRequested {
        task_id: String,
        approval: Arc<Approval>,
    },
    /// The task stopped before command `index` until its request is answered.
    TaskPaused {
        task_id: String,
        index: usize,
        approval_id: String,
    },
    /// A request was answered (by a person or its timeout): the record as decided.
    ApprovalDecided {
        task_id: String,
        approval: Arc<Approval>,
    },
    /// The state before one of the task's commands was put back.
    Undone {
        task_id: String,
        instance_id: String,
        undo: Arc<UndoRecord>,
    },
    /// Something an external step's channel heard or said (external-task.md). A standalone
    /// channel has no task: only its owner hears it.
    External {
        task_id: Option<String>,
        index: Option<usize>,
        owner: String,
        token: String,
        update: ExternalUpdate,
    },
    /// The page as it was when command `index` failed (with `capture_on_failure`); also kept
    /// with the record.
    FailureScreenshot {
        task_id: String,
        index: usize,
        /// Base64 PNG of the viewport.
        png: Arc<String>,
    },
}

/// What happened on an external step's channel.
#[derive(Debug, Clone, PartialEq)]
pub enum ExternalUpdate {
    /// The app's window was opened with a new token (attempt 1, or a retry).
    Opened {
        ws_url: String,
        attempt: u32,
    },
    /// The app connected and sent `ready`.
    Connected,
    Disconnected,
    Progress {
        progress: f64,
        step: Option<String>,
    },
    Log {
        event_type: String,
        data: serde_json::Value,
    },
    Completed {
        data: serde_json::Value,
    },
    /// A person marked the step done (`manual`) or went on without it (`optional`).
    MarkedDone {
        by: String,
        completed: bool,
    },
    /// A command sent to the app.
    Command {
        command: String,
        action: Option<String>,
        data: Option<serde_json::Value>,
    },
    Ack {
        command: String,
        success: bool,
    },
    TimedOut {
        attempt: u32,
    },
    /// The token died (the attempt ended).
    Ended,
}

impl ExternalUpdate {
    /// The update's name, as the doors' messages say it.
    pub fn name(&self) -> &'static str {
        match self {
            ExternalUpdate::Opened { .. } => "opened",
            ExternalUpdate::Connected => "connected",
            ExternalUpdate::Disconnected => "disconnected",
            ExternalUpdate::Progress { .. } => "progress",
            ExternalUpdate::Log { .. } => "log",
            ExternalUpdate::Completed { .. } => "completed",
            ExternalUpdate::MarkedDone { .. } => "marked_done",
            ExternalUpdate::Command { .. } => "command",
            ExternalUpdate::Ack { .. } => "command_ack",
            ExternalUpdate::TimedOut { .. } => "timeout",
            ExternalUpdate::Ended => "ended",
        }
    }

    /// `{"event": name, ...fields}`. The token's `ws_url` only `with_url` (its owner's doors):
    /// it is a credential, kept out of logs and reports.
    pub fn to_json(&self, with_url: bool) -> serde_json::Value {
        use serde_json::json;
        let mut v = match self {
            ExternalUpdate::Opened { ws_url, attempt } => match with_url {
                true => json!({"attempt": attempt, "ws_url": ws_url}),
                false => json!({"attempt": attempt}),
            },
            ExternalUpdate::Progress { progress, step } => {
                json!({"progress": progress, "step": step})
            }
            ExternalUpdate::Log { event_type, data } => {
                json!({"event_type": event_type, "data": data})
            }
            ExternalUpdate::Completed { data } => json!({"data": data}),
            ExternalUpdate::MarkedDone { by, completed } => {
                json!({"by": by, "completed": completed})
            }
            ExternalUpdate::Command {
                command,
                action,
                data,
            } => json!({"command": command, "action": action, "data": data}),
            ExternalUpdate::Ack { command, success } => {
                json!({"command": command, "success": success})
            }
            ExternalUpdate::TimedOut { attempt } => json!({"attempt": attempt}),
            ExternalUpdate::Connected | ExternalUpdate::Disconnected | ExternalUpdate::Ended => {
                json!({})
            }
        };
        v["event"] = json!(self.name());
        v
    }
}

/// The command a command event is about: what every renderer shows for all four alike.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CommandRef<'a> {
    pub task_id: &'a str,
    pub index: usize,
    pub tool_name: &'a str,
    pub intention: &'a str,
}

impl EventKind {
    /// For the four command events (started, succeeded, failed, skipped).
    pub fn command(&self) -> Option<CommandRef<'_>> {
        match self {
            EventKind::CommandStarted {
                task_id,
                index,
                tool_name,
                intention,
            }
            | EventKind::CommandSucceeded {
                task_id,
                index,
                tool_name,
                intention,
                ..
            }
            | EventKind::CommandFailed {
                task_id,
                index,
                tool_name,
                intention,
                ..
            }
            | EventKind::CommandSkipped {
                task_id,
                index,
                tool_name,
                intention,
            } => Some(CommandRef {
                task_id,
                index: *index,
                tool_name,
                intention,
            }),
            _ => None,
        }
    }

    pub fn task_id(&self) -> Option<&str> {
        match self {
            EventKind::TaskQueued { task_id, .. }
            | EventKind::TaskStarted { task_id }
            | EventKind::CommandStarted { task_id, .. }
            | EventKind::CommandSucceeded { task_id, .. }
            | EventKind::CommandFailed { task_id, .. }
            | EventKind::CommandSkipped { task_id, .. } => Some(task_id),
            EventKind::DialogHandled { task_id, .. } => task_id.as_deref(),
            EventKind::External { task_id, .. } => task_id.as_deref(),
            EventKind::TaskFinished { task } => Some(&task.id),
            EventKind::FailureScreenshot { task_id, .. }
            | EventKind::ApprovalRequested { task_id, .. }
            | EventKind::TaskPaused { task_id, .. }
            | EventKind::ApprovalDecided { task_id, .. }
            | EventKind::Undone { task_id, .. } => Some(task_id),
            EventKind::InstanceAdded
            | EventKind::InstanceLost { .. }
            | EventKind::InstanceRelaunched
            | EventKind::InstanceClosed => None,
        }
    }
}

/// The sending side of the stream; cheap to clone.
#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
}

impl EventBus {
    pub fn new(capacity: usize) -> Self {
        EventBus {
            tx: broadcast::channel(capacity).0,
        }
    }

    pub fn emit(&self, instance_id: &str, kind: EventKind) {
        // No subscriber is fine: events are a view, not the record.
        let _ = self.tx.send(Event {
            at: crate::task::now_ms(),
            instance_id: instance_id.to_string(),
            kind,
        });
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialogs_are_described_with_their_answer() {
        let alert = DialogRecord {
            kind: "alert".into(),
            message: "Hello".into(),
            accepted: false,
        };
        assert_eq!(alert.describe(), "alert dialog \"Hello\" was dismissed");
        let leave = DialogRecord {
            kind: "beforeunload".into(),
            message: String::new(),
            accepted: true,
        };
        assert_eq!(leave.describe(), "beforeunload dialog \"\" was accepted");
    }

    #[test]
    fn events_carry_their_task_id_and_reach_every_subscriber() {
        let bus = EventBus::new(8);
        let mut a = bus.subscribe();
        let mut b = bus.subscribe();
        bus.emit(
            "inst_1",
            EventKind::TaskStarted {
                task_id: "task_1_1".into(),
            },
        );
        bus.emit("inst_1", EventKind::InstanceRelaunched);
        bus.emit(
            "inst_2",
            EventKind::DialogHandled {
                task_id: None,
                dialog: DialogRecord {
                    kind: "alert".into(),
                    message: "m".into(),
                    accepted: false,
                },
            },
        );
        for rx in [&mut a, &mut b] {
            let first = rx.try_recv().unwrap();
            assert_eq!(first.instance_id, "inst_1");
            assert_eq!(first.kind.task_id(), Some("task_1_1"));
            assert!(first.at > 1_600_000_000_000);
            assert_eq!(rx.try_recv().unwrap().kind.task_id(), None);
            let third = rx.try_recv().unwrap();
            assert_eq!(
                (third.instance_id.as_str(), third.kind.task_id()),
                ("inst_2", None)
            );
            assert!(rx.try_recv().is_err());
        }
        // No subscriber is fine.
        EventBus::new(1).emit("inst_1", EventKind::InstanceRelaunched);
    }
}
