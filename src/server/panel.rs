//! The messages of execution-panel-protocol.md for one task: `step_update` per command,
//! `message` log entries, `status_change` and `error`.
//!
//! Everything is rendered from the task's record, never from an event's own fields, so a panel
//! that joins late sees the same steps and log as one that watched from the start. A [`PanelView`]
//! remembers what it sent and yields only what changed; log entries have ids derived from their
//! command, so a replay and the live stream never disagree.

use serde_json::{json, Value};

use crate::task::{clip, CommandStatus, Content, Task, TaskCommand, TaskStatus};
use crate::wire::iso;

/// What a status of ours is on the panel, which knows idle, running, paused, completed and
/// failed. A cancelled task did not do what it was asked: it is `failed`, with an `error`
/// message saying it was cancelled.
pub fn panel_status(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Queued => "idle",
        TaskStatus::Running => "running",
        TaskStatus::Completed => "completed",
        TaskStatus::Failed | TaskStatus::Cancelled => "failed",
    }
}

/// What one panel connection has been sent for its task.
#[derive(Debug, Default)]
pub struct PanelView {
    status: Option<&'static str>,
    /// The last `step_update` payload per command.
    steps: Vec<Option<Value>>,
    /// Ids of the log entries sent.
    messages: std::collections::HashSet<String>,
    /// Screenshots of the page when a command failed: not in the record, only on the stream.
    failure_shots: std::collections::HashMap<usize, String>,
    error_sent: bool,
    /// A running external step's progress, shown in its details.
    external: std::collections::HashMap<usize, String>,
    /// External apps' log entries sent (their message ids).
    external_logs: u64,
}

impl PanelView {
    /// An external step's news: its progress in the step's details, its app's logs (and its
    /// connection and timeouts) as messages.
    pub fn external(
        &mut self,
        task: &Task,
        index: usize,
        update: &crate::events::ExternalUpdate,
        at: u64,
    ) -> Vec<Value> {
        use crate::events::ExternalUpdate;
        let said = match update {
            ExternalUpdate::Progress { progress, step } => {
                let step = step
                    .as_deref()
                    .map(|s| format!(" ({s})"))
                    .unwrap_or_default();
                self.external
                    .insert(index, format!("External task: {progress}%{step}"));
                None
            }
            ExternalUpdate::Opened { attempt, .. } => {
                self.external.insert(
                    index,
                    format!("External task: waiting for the app (attempt {attempt})"),
                );
                None
            }
            ExternalUpdate::Log { event_type, data } => Some((
                "observation",
                format!(
                    "External app: {event_type} {}",
                    crate::task::clip(&data.to_string(), 300)
                ),
            )),
            ExternalUpdate::Connected => {
                Some(("observation", "External app connected".to_string()))
            }
            ExternalUpdate::Disconnected => {
                Some(("observation", "External app disconnected".to_string()))
            }
            ExternalUpdate::TimedOut { attempt } => Some((
                "error",
                format!("External task attempt {attempt} timed out"),
            )),
            ExternalUpdate::MarkedDone { by, completed } => Some((
                "user",
                match completed {
                    true => format!("{by} marked the external task done"),
                    false => format!("{by} went on without the external task"),
                },
            )),
            _ => None,
        };
        let mut out = self.update(task);
        if let Some((kind, content)) = said {
            self.external_logs += 1;
            let payload = json!({
                "id": format!("{}-ext-{}", task.commands[index].id, self.external_logs),
                "type": kind,
                "content": content,
                "timestamp": iso(at),
            });
            out.push(envelope(task, "message", payload));
        }
        out
    }

    /// The messages that bring this panel up to date with `task`.
    pub fn update(&mut self, task: &Task) -> Vec<Value> {
        let mut out = Vec::new();
        let status = match crate::server::agent::render::status(task) {
            // Waiting for a person's yes (the panel protocol has the word).
            "paused" => "paused",
            _ => panel_status(task.status),
        };
        let finished = task.status.is_finished();
        if !finished {
            self.set_status(task, status, &mut out);
        }
        self.steps.resize(task.commands.len(), None);
        for (index, command) in task.commands.iter().enumerate() {
            let mut step = self.step(command, index);
            if let Some(a) = task
                .approval_for(index)
                .filter(|a| a.decision.is_none() && command.status == CommandStatus::Pending)
            {
                step["details"] = format!(
                    "Waiting for approval {} ({}); answer with POST /api/agent/{}/approve",
                    a.id, a.rule.description, task.id
                )
                .into();
            }
            if self.steps[index].as_ref() != Some(&step) {
                out.push(envelope(task, "step_update", step.clone()));
                self.steps[index] = Some(step);
            }
            for (id, kind, content, at) in log_entries(command) {
                if self.messages.insert(id.clone()) {
                    let payload = json!({
                        "id": id,
                        "type": kind,
                        "content": content,
                        "timestamp": iso(at),
                    });
                    out.push(envelope(task, "message", payload));
                }
            }
        }
        if finished {
            self.set_status(task, status, &mut out);
            if let (Some(error), false) = (&task.error, self.error_sent) {
                self.error_sent = true;
                let text = match task.status {
                    TaskStatus::Cancelled => error.message.clone(),
                    _ => format!("{}: {}", error.code.as_str(), error.message),
                };
                out.push(envelope(task, "error", json!({ "error": text })));
            }
        }
        out
    }

    /// A failure screenshot arrived for command `index`: its step is sent again with it.
    pub fn failure_screenshot(&mut self, task: &Task, index: usize, png: &str) -> Vec<Value> {
        self.failure_shots
            .insert(index, format!("data:image/png;base64,{png}"));
        self.update(task)
    }

    fn set_status(&mut self, task: &Task, status: &'static str, out: &mut Vec<Value>) {
        if self.status != Some(status) {
            self.status = Some(status);
            out.push(envelope(task, "status_change", json!({ "status": status })));
        }
    }

    fn step(&self, command: &TaskCommand, index: usize) -> Value {
        let mut step = json!({
            "id": command.id,
            "label": label(command),
            "status": step_status(command),
        });
        if let Some(at) = command.started_at {
            step["startedAt"] = iso(at).into();
        }
        if let Some(at) = command.completed_at {
            step["completedAt"] = iso(at).into();
        }
        let external = matches!(command.parsed.action, crate::task::Action::External(_));
        step["details"] = match self.external.get(&index) {
            Some(progress) if command.status == CommandStatus::Running => progress.clone().into(),
            // A panel opened after the app's last report: what the record knows.
            None if external && command.status == CommandStatus::Running => {
                let attempt = command
                    .external
                    .as_ref()
                    .and_then(|e| e["attempt"].as_u64())
                    .unwrap_or(1);
                format!("External task: waiting for the app (attempt {attempt})").into()
            }
            _ => details(command).into(),
        };
        let screenshot = command
            .result
            .iter()
            .flat_map(|r| &r.content)
            .find_map(|c| match c {
                Content::Image { data, mime_type } => {
                    Some(format!("data:{mime_type};base64,{data}"))
                }
                Content::Text { .. } | Content::Resource { .. } => None,
            })
            .or_else(|| self.failure_shots.get(&index).cloned());
        if let Some(url) = screenshot {
            step["screenshot"] = url.into();
        }
        step
    }
}

fn envelope(task: &Task, kind: &str, payload: Value) -> Value {
    json!({"type": kind, "taskId": task.id, "payload": payload})
}

/// A skipped command never ran: it stays `pending`, and its details say why. One stopped while
/// it ran (its task was cancelled) did not do its work: `failed`.
fn step_status(command: &TaskCommand) -> &'static str {
    match command.status {
        CommandStatus::Skipped if command.started_at.is_some() => "failed",
        CommandStatus::Pending | CommandStatus::Skipped => "pending",
        CommandStatus::Running => "running",
        CommandStatus::Success => "completed",
        CommandStatus::Error => "failed",
    }
}

/// The intention when the command has one, else the tool and action.
fn label(command: &TaskCommand) -> String {
    if command.intention.trim().is_empty() {
        format!("{} {}", command.tool_name, command.parsed.action.name())
    } else {
        command.intention.clone()
    }
}

fn details(command: &TaskCommand) -> String {
    match command.status {
        CommandStatus::Pending | CommandStatus::Running => command.describe(),
        CommandStatus::Success => command
            .result
            .as_ref()
            .map(result_summary)
            .unwrap_or_default(),
        CommandStatus::Error => command
            .error
            .as_ref()
            .map(|e| format!("{}: {}", e.code.as_str(), e.message))
            .unwrap_or_default(),
        CommandStatus::Skipped if command.started_at.is_some() => STOPPED.into(),
        CommandStatus::Skipped => "Skipped: the task stopped before this command".into(),
    }
}

const STOPPED: &str = "Stopped: the task was cancelled while this command ran";

fn result_summary(result: &crate::task::ToolResult) -> String {
    let text = result.joined_text();
    if !text.is_empty() {
        return clip(&text, 300);
    }
    if result
        .content
        .iter()
        .any(|c| matches!(c, Content::Image { .. }))
    {
        return "Screenshot taken".into();
    }
    "Done".into()
}

/// The log entries a command has earned so far: (id, type, content, timestamp).
fn log_entries(command: &TaskCommand) -> Vec<(String, &'static str, String, u64)> {
    let mut entries = Vec::new();
    if let Some(started) = command.started_at {
        entries.push((
            format!("{}-action", command.id),
            "action",
            if command.intention.trim().is_empty() {
                command.describe()
            } else {
                format!("{}: {}", command.intention, command.describe())
            },
            started,
        ));
    }
    let done = command.completed_at.or(command.started_at).unwrap_or(0);
    match (command.status, &command.result, &command.error) {
        (CommandStatus::Success, Some(result), _) => entries.push((
            format!("{}-observation", command.id),
            "observation",
            result_summary(result),
            done,
        )),
        (CommandStatus::Error, _, Some(error)) => entries.push((
            format!("{}-error", command.id),
            "error",
            format!(
                "{} failed: {}: {}",
                label(command),
                error.code.as_str(),
                error.message
            ),
            done,
        )),
        (CommandStatus::Skipped, _, _) if command.started_at.is_some() => entries.push((
            format!("{}-error", command.id),
            "error",
            format!("{}: {STOPPED}", label(command)),
            done,
        )),
        _ => {}
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{validate_submission, CommandError, ToolResult};

    fn task() -> Task {
        let spec = validate_submission(&json!({
            "task_name": "Login",
            "commands": [
                {"tool_name": "browser_navigate", "intention": "Open the site",
                 "args": {"action": "goto", "url": "http://x/"}},
                {"tool_name": "browser_content", "args": {"action": "screenshot"}},
                {"tool_name": "browser_interact", "args": {"action": "click", "selector": "#go"}},
            ]
        }))
        .unwrap();
        Task::new(spec, "inst_1".into())
    }

    fn types(messages: &[Value]) -> Vec<String> {
        messages
            .iter()
            .map(|m| {
                let t = m["type"].as_str().unwrap();
                match t {
                    "step_update" => format!("step {}", m["payload"]["status"].as_str().unwrap()),
                    "message" => format!("message {}", m["payload"]["type"].as_str().unwrap()),
                    "status_change" => {
                        format!("status {}", m["payload"]["status"].as_str().unwrap())
                    }
                    _ => t.to_string(),
                }
            })
            .collect()
    }

    #[test]
    fn a_queued_task_shows_idle_and_pending_steps_with_labels() {
        let t = task();
        let messages = PanelView::default().update(&t);
        assert_eq!(
            types(&messages),
            [
                "status idle",
                "step pending",
                "step pending",
                "step pending"
            ]
        );
        assert_eq!(messages[1]["taskId"], t.id.as_str());
        assert_eq!(messages[1]["payload"]["label"], "Open the site");
        assert_eq!(
            messages[2]["payload"]["label"],
            "browser_content screenshot"
        );
        assert_eq!(
            messages[3]["payload"]["details"],
            "browser_interact click #go"
        );
        assert_eq!(messages[1]["payload"]["id"], t.commands[0].id.as_str());
    }

    #[test]
    fn only_what_changed_is_sent_and_log_ids_never_repeat() {
        let mut t = task();
        let mut view = PanelView::default();
        view.update(&t);
        assert!(view.update(&t).is_empty(), "nothing changed");

        t.start(1_000).unwrap();
        t.start_command(0, 1_000).unwrap();
        let running = view.update(&t);
        assert_eq!(
            types(&running),
            ["status running", "step running", "message action"]
        );
        assert_eq!(
            running[1]["payload"]["startedAt"],
            "1970-01-01T00:00:01.000Z"
        );
        assert_eq!(
            running[2]["payload"]["content"],
            "Open the site: browser_navigate goto http://x/"
        );

        t.succeed_command(0, ToolResult::text("Navigated to http://x/"), 2_500)
            .unwrap();
        t.start_command(1, 2_500).unwrap();
        t.succeed_command(1, ToolResult::png("iVBORw0KGgo=".into()), 2_600)
            .unwrap();
        let done = view.update(&t);
        assert_eq!(
            types(&done),
            [
                "step completed",
                "message observation",
                "step completed",
                "message action",
                "message observation"
            ]
        );
        assert_eq!(
            done[0]["payload"]["completedAt"],
            "1970-01-01T00:00:02.500Z"
        );
        assert_eq!(done[0]["payload"]["details"], "Navigated to http://x/");
        assert_eq!(
            done[2]["payload"]["screenshot"],
            "data:image/png;base64,iVBORw0KGgo="
        );
        assert_eq!(done[4]["payload"]["content"], "Screenshot taken");

        // A panel joining now receives the same steps and log in one go.
        let late = PanelView::default().update(&t);
        let ids = |ms: &[Value]| -> Vec<String> {
            ms.iter()
                .filter(|m| m["type"] == "message")
                .map(|m| m["payload"]["id"].as_str().unwrap().to_string())
                .collect()
        };
        let mut live_ids = ids(&running);
        live_ids.extend(ids(&done));
        assert_eq!(ids(&late), live_ids);
    }

    #[test]
    fn a_failure_ends_with_failed_steps_an_error_and_status_failed() {
        let mut t = task();
        let mut view = PanelView::default();
        t.start(1_000).unwrap();
        t.start_command(0, 1_000).unwrap();
        view.update(&t);
        t.fail_command(0, CommandError::execution("net::ERR_NAME"), 1_200)
            .unwrap();
        t.skip_unfinished(1_300);
        t.finish(false, 1_300).unwrap();
        let end = view.update(&t);
        assert_eq!(
            types(&end),
            [
                "step failed",
                "message error",
                "step pending",
                "step pending",
                "status failed",
                "error"
            ]
        );
        assert_eq!(
            end[0]["payload"]["details"],
            "EXECUTION_ERROR: net::ERR_NAME"
        );
        assert_eq!(
            end[2]["payload"]["details"],
            "Skipped: the task stopped before this command"
        );
        assert_eq!(end[5]["payload"]["error"], "EXECUTION_ERROR: net::ERR_NAME");

        let shot = view.failure_screenshot(&t, 0, "AAAA");
        assert_eq!(types(&shot), ["step failed"]);
        assert_eq!(
            shot[0]["payload"]["screenshot"],
            "data:image/png;base64,AAAA"
        );
    }

    #[test]
    fn a_cancelled_task_is_failed_on_the_panel_and_says_so() {
        let mut t = task();
        t.skip_unfinished(1_000);
        t.finish(true, 1_000).unwrap();
        let messages = PanelView::default().update(&t);
        let last = messages.last().unwrap();
        assert_eq!(messages[messages.len() - 2]["payload"]["status"], "failed");
        assert_eq!(last["type"], "error");
        assert!(
            last["payload"]["error"]
                .as_str()
                .unwrap()
                .starts_with("Task was cancelled"),
            "{last}"
        );
    }
}
