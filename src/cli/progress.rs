//! `run`'s progress: a renderer of the event stream. A spinner line per running task on a
//! terminal, plain lines otherwise, or one JSON object per event with `--json`.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::{json, Value};

use crate::events::{Event, EventKind};
use crate::task::{clip, Task, TaskCommand};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Terminal,
    Plain,
    Json,
}

impl Mode {
    pub fn detect(json: bool) -> Mode {
        if json {
            Mode::Json
        } else if std::io::stdout().is_terminal() {
            Mode::Terminal
        } else {
            Mode::Plain
        }
    }
}

pub struct Progress {
    mode: Mode,
    multi: MultiProgress,
    bars: HashMap<String, ProgressBar>,
    /// Submitted tasks by id, to name what a bare event refers to.
    tasks: HashMap<String, Task>,
}

impl Progress {
    pub fn new(mode: Mode) -> Self {
        Progress {
            mode,
            multi: MultiProgress::new(),
            bars: HashMap::new(),
            tasks: HashMap::new(),
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn track(&mut self, task: Task) {
        self.tasks.insert(task.id.clone(), task);
    }

    /// Prints a line without tearing the spinners.
    pub fn line(&self, text: impl AsRef<str>) {
        match self.mode {
            Mode::Terminal => {
                let _ = self.multi.println(text.as_ref());
            }
            Mode::Plain => println!("{}", text.as_ref()),
            Mode::Json => {}
        }
    }

    /// Writes a JSON line (JSON mode only).
    pub fn json_line(&self, value: &Value) {
        if self.mode == Mode::Json {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{value}");
        }
    }

    pub fn on_event(&mut self, event: &Event) {
        if self.mode == Mode::Json {
            self.json_line(&event_json(event));
            return;
        }
        let name_of = |id: &str| {
            self.tasks
                .get(id)
                .map(|t| t.name.clone())
                .unwrap_or_else(|| id.to_string())
        };
        let command_of = |id: &str, index: usize| {
            self.tasks
                .get(id)
                .and_then(|t| t.commands.get(index))
                .map(TaskCommand::describe)
                .unwrap_or_else(|| format!("command {index}"))
        };
        match &event.kind {
            EventKind::TaskStarted { task_id } => {
                let name = name_of(task_id);
                if self.mode == Mode::Terminal {
                    let bar = self.multi.add(ProgressBar::new_spinner());
                    bar.set_style(
                        ProgressStyle::with_template("{spinner} {prefix} {wide_msg}")
                            .expect("template"),
                    );
                    bar.set_prefix(name.clone());
                    bar.enable_steady_tick(Duration::from_millis(100));
                    self.bars.insert(task_id.clone(), bar);
                }
                self.line(format!("▶ {name}"));
            }
            EventKind::CommandStarted { task_id, index, .. } => {
                if let Some(bar) = self.bars.get(task_id) {
                    let total = self.tasks.get(task_id).map_or(0, |t| t.commands.len());
                    bar.set_message(format!(
                        "[{}/{total}] {}",
                        index + 1,
                        command_of(task_id, *index)
                    ));
                }
            }
            EventKind::CommandSucceeded {
                task_id,
                index,
                result,
                duration_ms,
                ..
            } => {
                let text = result.joined_text();
                let images = result.images().count();
                let shown = if images > 0 && text.is_empty() {
                    format!("{images} image(s)")
                } else {
                    clip(&text.replace('\n', " ⏎ "), 100)
                };
                self.line(format!(
                    "  ✓ {index} {} — {shown} ({duration_ms} ms)",
                    command_of(task_id, *index)
                ));
            }
            EventKind::CommandFailed {
                task_id,
                index,
                error,
                duration_ms,
                ..
            } => {
                self.line(format!(
                    "  ✗ {index} {} — {}: {} ({duration_ms} ms)",
                    command_of(task_id, *index),
                    error.code,
                    error.message
                ));
            }
            EventKind::CommandSkipped { task_id, index, .. } => {
                self.line(format!(
                    "  - {index} {} — skipped",
                    command_of(task_id, *index)
                ));
            }
            EventKind::DialogHandled { dialog, .. } => {
                self.line(format!("  ! {}", dialog.describe()));
            }
            EventKind::TaskFinished { task } => {
                if let Some(bar) = self.bars.remove(&task.id) {
                    bar.finish_and_clear();
                }
            }
            EventKind::InstanceLost { reason } => {
                self.line(format!("! instance {} lost: {reason}", event.instance_id));
            }
            EventKind::InstanceRelaunched => {
                self.line(format!("! instance {} relaunched", event.instance_id));
            }
            EventKind::FailureScreenshot { index, .. } => {
                self.line(format!(
                    "  ⤷ screenshot of the page when command {index} failed kept"
                ));
            }
            EventKind::TaskPaused {
                task_id,
                index,
                approval_id,
            } => {
                self.line(format!(
                    "  ⏸ {index} {} — waiting for approval {approval_id}",
                    command_of(task_id, *index)
                ));
            }
            EventKind::ApprovalDecided { approval, .. } => {
                self.line(format!(
                    "  ⏵ approval {} {}",
                    approval.id,
                    approval.status()
                ));
            }
            EventKind::External {
                index: Some(index),
                update,
                ..
            } => match update {
                crate::events::ExternalUpdate::Progress { progress, step } => {
                    let step = step
                        .as_deref()
                        .map(|s| format!(" ({s})"))
                        .unwrap_or_default();
                    self.line(format!("  … {index} external task at {progress}%{step}"));
                }
                crate::events::ExternalUpdate::Log { event_type, data } => {
                    self.line(format!(
                        "  … {index} external task log {event_type}: {}",
                        clip(&data.to_string(), 100)
                    ));
                }
                crate::events::ExternalUpdate::TimedOut { attempt } => {
                    self.line(format!(
                        "  ⏱ {index} external task attempt {attempt} timed out"
                    ));
                }
                _ => {}
            },
            EventKind::External { .. }
            | EventKind::TaskQueued { .. }
            | EventKind::InstanceAdded
            | EventKind::InstanceClosed
            | EventKind::ApprovalRequested { .. }
            | EventKind::Undone { .. } => {}
        }
    }

    pub fn finish(&mut self) {
        for (_, bar) in self.bars.drain() {
            bar.finish_and_clear();
        }
    }
}

/// What the four command events share in `--json` form.
fn command_json(kind_name: &str, kind: &EventKind) -> Value {
    let c = kind.command().expect("a command event");
    json!({
        "type": kind_name, "taskId": c.task_id, "commandIndex": c.index,
        "tool_name": c.tool_name, "intention": c.intention,
    })
}

/// The `--json` form of an event: one flat object with a `type`.
pub fn event_json(event: &Event) -> Value {
    let mut v = match &event.kind {
        EventKind::TaskQueued { task_id, position } => {
            json!({"type": "task_queued", "taskId": task_id, "queuePosition": position})
        }
        EventKind::TaskStarted { task_id } => json!({"type": "task_started", "taskId": task_id}),
        EventKind::CommandStarted { .. } => command_json("command_started", &event.kind),
        EventKind::CommandSucceeded {
            action,
            result,
            duration_ms,
            ..
        } => {
            let mut v = command_json("command_succeeded", &event.kind);
            v["action"] = json!(action);
            v["result"] = json!(result);
            v["durationMs"] = json!(duration_ms);
            v
        }
        EventKind::CommandFailed {
            action,
            error,
            duration_ms,
            ..
        } => {
            let mut v = command_json("command_failed", &event.kind);
            v["action"] = json!(action);
            v["error"] = json!(error);
            v["durationMs"] = json!(duration_ms);
            v
        }
        EventKind::CommandSkipped { .. } => command_json("command_skipped", &event.kind),
        EventKind::DialogHandled { task_id, dialog } => {
            json!({"type": "dialog_handled", "taskId": task_id, "dialog": dialog})
        }
        EventKind::TaskFinished { task } => json!({
            "type": "task_finished", "taskId": task.id, "status": task.status, "error": task.error,
        }),
        EventKind::InstanceLost { reason } => json!({"type": "instance_lost", "reason": reason}),
        EventKind::InstanceRelaunched => json!({"type": "instance_relaunched"}),
        EventKind::InstanceAdded => json!({"type": "instance_added"}),
        EventKind::InstanceClosed => json!({"type": "instance_closed"}),
        // The image itself goes to a file (see report.json), not into the event line.
        EventKind::FailureScreenshot { task_id, index, .. } => json!({
            "type": "failure_screenshot", "taskId": task_id, "commandIndex": index,
        }),
        EventKind::ApprovalRequested { task_id, approval } => json!({
            "type": "approval_requested", "taskId": task_id, "approvalId": approval.id,
            "commandIndex": approval.index, "rule": approval.rule, "expiresAt": approval.expires_at,
        }),
        EventKind::TaskPaused {
            task_id,
            index,
            approval_id,
        } => json!({
            "type": "task_paused", "taskId": task_id, "commandIndex": index, "approvalId": approval_id,
        }),
        EventKind::ApprovalDecided { task_id, approval } => json!({
            "type": "approval_decided", "taskId": task_id, "approvalId": approval.id,
            "status": approval.status(), "decision": approval.decision,
        }),
        EventKind::Undone { task_id, undo, .. } => json!({
            "type": "undone", "taskId": task_id, "undo": undo,
        }),
        EventKind::External {
            task_id,
            index,
            update,
            ..
        } => json!({
            "type": "external_task", "taskId": task_id, "commandIndex": index,
            "update": update.to_json(false),
        }),
    };
    v["at"] = json!(event.at);
    v["instanceId"] = json!(event.instance_id);
    v
}
