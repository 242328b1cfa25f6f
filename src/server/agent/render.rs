//! The agent API's shapes (docs/agent-api.md): a task, its steps, approvals and undos as that
//! door spells them, and the update messages a task's journal becomes. Rendering is a pure
//! function of the journal and the record, so a message's `id` (its place among the task's
//! messages) is the same on every runner, on every reconnection and after a restart.

use serde_json::{json, Map, Value};

use crate::task::approval::Approval;
use crate::task::{
    CommandStatus, Happened, JournalEntry, Task, TaskCommand, TaskStatus, TaskSummary, UndoRecord,
};

/// The agent API's status of a task: `pending`, `running`, `paused`, `completed`, `failed`
/// or `cancelled`.
pub fn status(task: &Task) -> &'static str {
    match task.status {
        TaskStatus::Queued => "pending",
        TaskStatus::Running if paused(task) => "paused",
        TaskStatus::Running => "running",
        TaskStatus::Completed => "completed",
        TaskStatus::Failed => "failed",
        TaskStatus::Cancelled => "cancelled",
    }
}

/// Waiting before a command for an answer: the next command to run has a request pending.
fn paused(task: &Task) -> bool {
    let next = task
        .commands
        .iter()
        .position(|c| c.status != CommandStatus::Success);
    next.is_some_and(|i| {
        task.commands[i].status == CommandStatus::Pending
            && task.approval_for(i).is_some_and(|a| a.decision.is_none())
    })
}

pub fn summary_status(t: &TaskSummary) -> &'static str {
    match t.status {
        TaskStatus::Queued => "pending",
        TaskStatus::Running if t.pending_approvals > 0 => "paused",
        TaskStatus::Running => "running",
        TaskStatus::Completed => "completed",
        TaskStatus::Failed => "failed",
        TaskStatus::Cancelled => "cancelled",
    }
}

fn step_status(task: &Task, index: usize) -> &'static str {
    match task.commands[index].status {
        CommandStatus::Pending
            if task
                .approval_for(index)
                .is_some_and(|a| a.decision.is_none()) =>
        {
            "awaiting_approval"
        }
        CommandStatus::Pending => "pending",
        CommandStatus::Running => "running",
        CommandStatus::Success => "completed",
        CommandStatus::Error => "failed",
        CommandStatus::Skipped => "skipped",
    }
}

/// A step as it is now.
pub fn step(task: &Task, index: usize) -> Value {
    let c: &TaskCommand = &task.commands[index];
    let mut v = json!({
        "id": c.id,
        "index": index,
        "toolName": c.tool_name,
        "action": c.parsed.action.name(),
        "intention": c.intention,
        "args": c.args,
        "status": step_status(task, index),
    });
    if let Some(at) = c.started_at {
        v["startedAt"] = json!(at);
    }
    if let Some(at) = c.completed_at {
        v["completedAt"] = json!(at);
    }
    if let Some(result) = &c.result {
        v["result"] = json!(result);
    }
    if let Some(e) = &c.error {
        v["error"] = json!({"code": e.code, "message": e.message});
    }
    v
}

/// A step as it was when it started (what a `step_start` message shows, live or replayed).
fn step_started(task: &Task, index: usize) -> Value {
    let mut v = step(task, index);
    let o = v.as_object_mut().expect("an object");
    o.insert("status".into(), json!("running"));
    for k in ["completedAt", "result", "error"] {
        o.remove(k);
    }
    v
}

pub fn approval(task: &Task, a: &Approval) -> Value {
    let c = &task.commands[a.index];
    let mut v = json!({
        "approvalId": a.id,
        "taskId": task.id,
        "stepId": c.id,
        "stepIndex": a.index,
        "tool": c.tool_name,
        "action": c.parsed.action.name(),
        "args": c.args,
        "rule": a.rule,
        "reason": format!("{} needs a person's approval ({})", c.describe(), a.rule.description),
        "requestedAt": a.requested_at,
        "expiresAt": a.expires_at,
        "onTimeout": a.on_timeout,
        "status": a.status(),
    });
    if let Some(url) = &a.page_url {
        v["pageUrl"] = json!(url);
    }
    if let Some(png) = &a.screenshot {
        v["screenshot"] = json!(png);
    }
    if let Some(d) = &a.decision {
        v["decision"] = json!(d);
    }
    // An external step's timeout: the person chooses (answer with `choice`).
    if let Some(choices) = &a.choices {
        v["choices"] = json!(choices);
        v["reason"] = json!(a
            .message
            .clone()
            .unwrap_or_else(|| a.rule.description.clone()));
    }
    if let Some(message) = &a.message {
        v["message"] = json!(message);
    }
    v
}

pub fn undo(task: &Task, u: &UndoRecord) -> Value {
    let mut v = json!(u);
    v["stepId"] = json!(task.commands.get(u.index).map(|c| c.id.clone()));
    v
}

/// The whole task.
pub fn task(task: &Task) -> Value {
    let mut v = json!({
        "id": task.id,
        "name": task.name,
        "description": task.intention,
        "status": status(task),
        "priority": task.priority,
        "instanceId": task.instance_id,
        "owner": task.owner,
        "door": task.door,
        "createdAt": task.created_at,
        "steps": (0..task.commands.len()).map(|i| step(task, i)).collect::<Vec<_>>(),
        "approvals": task.approvals.iter().map(|a| approval(task, a)).collect::<Vec<_>>(),
        "undos": task.undos.iter().map(|u| undo(task, u)).collect::<Vec<_>>(),
    });
    if let Some(c) = &task.conversation_id {
        v["conversationId"] = json!(c);
    }
    if let Some(c) = &task.context {
        v["context"] = json!(c);
    }
    if let Some(at) = task.started_at {
        v["startedAt"] = json!(at);
    }
    if let Some(at) = task.completed_at {
        v["completedAt"] = json!(at);
    }
    if let Some(e) = &task.error {
        v["error"] = json!({"code": e.code, "message": e.message, "stepId": e.command_id});
    }
    v
}

pub fn summary(t: &TaskSummary) -> Value {
    let completed = match t.status {
        TaskStatus::Completed => t.total_commands,
        _ => t.current_command_index.min(t.total_commands),
    };
    let mut v = json!({
        "id": t.id,
        "name": t.name,
        "status": summary_status(t),
        "priority": t.priority,
        "instanceId": t.instance_id,
        "owner": t.owner,
        "createdAt": t.created_at,
        "totalSteps": t.total_commands,
        "completedSteps": completed,
    });
    if let Some(c) = &t.conversation_id {
        v["conversationId"] = json!(c);
    }
    if let Some(at) = t.started_at {
        v["startedAt"] = json!(at);
    }
    if let Some(at) = t.completed_at {
        v["completedAt"] = json!(at);
    }
    v
}

/// The task's progress in percent: finished steps of all.
pub fn progress(task: &Task) -> u64 {
    let total = task.commands.len().max(1) as u64;
    let done = task
        .commands
        .iter()
        .filter(|c| matches!(c.status, CommandStatus::Success | CommandStatus::Error))
        .count() as u64;
    if task.status == TaskStatus::Completed {
        100
    } else {
        done * 100 / total
    }
}

/// `currentExecution`: the step running or waiting, while the task runs.
pub fn current_execution(task: &Task) -> Option<Value> {
    if task.status != TaskStatus::Running {
        return None;
    }
    let index = task
        .commands
        .iter()
        .position(|c| matches!(c.status, CommandStatus::Running | CommandStatus::Pending))?;
    Some(json!({
        "step": step(task, index),
        "progress": progress(task),
        "status": status(task),
    }))
}

/// One update message, before its `id` is set.
pub struct Message {
    pub kind: &'static str,
    pub data: Map<String, Value>,
    pub at: u64,
}

impl Message {
    fn new(kind: &'static str, task: &Task, at: u64, data: Value) -> Message {
        let mut map = Map::new();
        map.insert("taskId".into(), json!(task.id));
        if let Value::Object(extra) = data {
            map.extend(extra);
        }
        Message {
            kind,
            data: map,
            at,
        }
    }

    pub fn to_json(&self, id: u64) -> Value {
        json!({"type": self.kind, "data": self.data, "timestamp": self.at, "id": id.to_string()})
    }

    /// Whether it is the last message of the task's run.
    pub fn is_final(&self) -> bool {
        matches!(self.kind, "completed" | "cancelled")
            || (self.kind == "error" && !self.data.contains_key("step"))
    }
}

/// How many messages an entry becomes: fixed per kind, so ids never shift.
fn arity(what: &Happened) -> usize {
    match what {
        Happened::StepSucceeded { .. } | Happened::StepFailed { .. } => 2,
        Happened::Finished {
            status: TaskStatus::Failed,
        } => 2,
        _ => 1,
    }
}

/// The messages of `entries` (the journal from its start, or from after `skip` entries whose
/// messages were already counted), with their ids.
pub fn messages(task: &Task, entries: &[JournalEntry], first_id: u64) -> Vec<(u64, Message)> {
    let mut id = first_id;
    let mut out = Vec::new();
    for entry in entries {
        let rendered = render(task, entry);
        debug_assert_eq!(rendered.len(), arity(&entry.what));
        for m in rendered {
            out.push((id, m));
            id += 1;
        }
    }
    out
}

/// How many messages the entries make (the id after them is this plus the first).
pub fn count(entries: &[JournalEntry]) -> u64 {
    entries.iter().map(|e| arity(&e.what) as u64).sum()
}

fn render(task: &Task, entry: &JournalEntry) -> Vec<Message> {
    let at = entry.at;
    let find = |id: &str| task.approvals.iter().find(|a| a.id == id);
    let step_of = |index: usize| -> Value {
        if index < task.commands.len() {
            step(task, index)
        } else {
            Value::Null
        }
    };
    let progress_after = |index: usize| -> Message {
        let total = task.commands.len().max(1);
        let pct = ((index + 1) * 100 / total) as u64;
        Message::new(
            "step_progress",
            task,
            at,
            json!({
                "step": step_of(index),
                "progress": pct,
                "message": format!("{} of {} steps done", index + 1, task.commands.len()),
            }),
        )
    };
    match &entry.what {
        Happened::Queued { position } => vec![Message::new(
            "status_change",
            task,
            at,
            json!({"status": "pending", "queuePosition": position,
                   "message": format!("queued on {} at position {position}", task.instance_id)}),
        )],
        Happened::Started => vec![Message::new(
            "status_change",
            task,
            at,
            json!({"status": "running", "previousStatus": "pending",
                   "message": format!("running on {}", task.instance_id)}),
        )],
        Happened::StepStarted { index } => vec![Message::new(
            "step_start",
            task,
            at,
            json!({"step": step_started(task, *index)}),
        )],
        Happened::StepSucceeded { index } => vec![
            Message::new(
                "step_complete",
                task,
                at,
                json!({"step": step_of(*index),
                       "result": task.commands.get(*index).and_then(|c| c.result.clone())}),
            ),
            progress_after(*index),
        ],
        Happened::StepFailed { index } => {
            let error = task.commands.get(*index).and_then(|c| c.error.clone());
            let message = error
                .as_ref()
                .map(|e| e.message.clone())
                .unwrap_or_default();
            vec![
                Message::new(
                    "error",
                    task,
                    at,
                    json!({"step": step_of(*index), "message": message,
                           "error": error.map(|e| json!({"code": e.code, "message": e.message}))}),
                ),
                progress_after(*index),
            ]
        }
        Happened::ApprovalRequested { approval_id } => {
            let request = find(approval_id).map(|a| {
                let mut asked = a.clone();
                asked.decision = None;
                asked
            });
            vec![Message::new(
                "approval_request",
                task,
                at,
                json!({
                    "approvalRequest": request.as_ref().map(|a| approval(task, a)),
                    "step": request.as_ref().map(|a| step_of(a.index)),
                    "message": request.as_ref().map(|a| format!("approval {} requested", a.id)),
                }),
            )]
        }
        Happened::Paused { approval_id } => vec![Message::new(
            "status_change",
            task,
            at,
            json!({"status": "paused", "previousStatus": "running",
                   "message": format!("waiting for approval {approval_id}"),
                   "approvalId": approval_id}),
        )],
        Happened::ApprovalDecided { approval_id } => {
            let a = find(approval_id);
            let said = a.map(|a| {
                let d = a.decision.as_ref();
                format!(
                    "approval {} {} by {}{}",
                    a.id,
                    a.status(),
                    d.map_or("?", |d| d.by.as_str()),
                    d.and_then(|d| d.message.as_deref())
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                )
            });
            vec![Message::new(
                "status_change",
                task,
                at,
                json!({"status": "running", "message": said,
                       "approvalRequest": a.map(|a| approval(task, a))}),
            )]
        }
        Happened::Undone { undo_id } => {
            let u = task.undos.iter().find(|u| &u.id == undo_id);
            vec![Message::new(
                "undo",
                task,
                at,
                json!({"undo": u.map(|u| undo(task, u))}),
            )]
        }
        // An external step's app: its own progress (0–100 within the step), or a log event.
        Happened::ExternalProgress {
            index,
            progress,
            step,
            event_type,
            data,
        } => {
            let message = match (event_type, step) {
                (Some(kind), _) => format!("external app: {kind}"),
                (None, Some(step)) => {
                    format!("external app at {}% ({step})", progress.unwrap_or(0.0))
                }
                (None, None) => format!("external app at {}%", progress.unwrap_or(0.0)),
            };
            let mut data_out = json!({
                "step": step_of(*index),
                "message": message,
                "external": {"progress": progress, "step": step, "event_type": event_type, "data": data},
            });
            if let Some(p) = progress {
                data_out["progress"] = json!(p);
            }
            vec![Message::new("step_progress", task, at, data_out)]
        }
        Happened::Requeued => vec![Message::new(
            "status_change",
            task,
            at,
            json!({"status": "pending", "previousStatus": "paused",
                   "message": format!("the server stopped while the task waited for an answer: it waits on {} again, and goes on at the same step", task.instance_id)}),
        )],
        Happened::Finished { status } => match status {
            TaskStatus::Completed => vec![Message::new(
                "completed",
                task,
                at,
                json!({"result": self::task(task), "progress": 100}),
            )],
            TaskStatus::Cancelled => vec![Message::new(
                "cancelled",
                task,
                at,
                json!({"message": "Task was cancelled"}),
            )],
            _ => {
                let e = task.error.clone();
                let message = e.as_ref().map(|e| e.message.clone()).unwrap_or_default();
                vec![
                    Message::new(
                        "status_change",
                        task,
                        at,
                        json!({"status": "failed", "previousStatus": "running", "message": message}),
                    ),
                    Message::new(
                        "error",
                        task,
                        at,
                        json!({"message": message,
                               "error": e.map(|e| json!({"code": e.code, "message": e.message, "stepId": e.command_id}))}),
                    ),
                ]
            }
        },
    }
}

/// The task's log: its messages in words.
pub fn logs(task: &Task, entries: &[JournalEntry]) -> Vec<Value> {
    messages(task, entries, 1)
        .into_iter()
        .filter(|(_, m)| m.kind != "step_progress")
        .map(|(_, m)| {
            let level = if m.kind == "error" { "error" } else { "info" };
            let step_id = m.data.get("step").and_then(|s| s.get("id")).cloned();
            let text = match m.kind {
                "step_start" => format!(
                    "step started: {}",
                    m.data["step"]["intention"]
                        .as_str()
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| m.data["step"]["toolName"].as_str().unwrap_or(""))
                ),
                "step_complete" => "step completed".to_string(),
                "completed" => "task completed".to_string(),
                _ => m
                    .data
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or(m.kind)
                    .to_string(),
            };
            let mut v = json!({"timestamp": m.at, "level": level, "message": text, "type": m.kind});
            if let Some(s) = step_id {
                v["stepId"] = s;
            }
            v
        })
        .collect()
}
