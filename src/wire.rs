//! The JSON shapes of task-websocket-protocol.md, shared by the WebSocket and HTTP doors. The
//! domain keeps Unix milliseconds; on the wire every timestamp is an ISO-8601 string, as in the
//! spec's examples.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::events::EventKind;
use crate::task::{CommandStatus, Task, TaskCommand, TaskSummary};

/// `2024-01-15T10:30:00.000Z`.
pub fn iso(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

fn put_time(map: &mut Map<String, Value>, key: &str, ms: Option<u64>) {
    if let Some(ms) = ms {
        map.insert(key.into(), iso(ms).into());
    }
}

/// A `task_list_response` item.
pub fn task_summary(task: &TaskSummary) -> Value {
    let mut map = Map::new();
    map.insert("id".into(), task.id.clone().into());
    map.insert("name".into(), task.name.clone().into());
    map.insert("status".into(), task.status.as_str().into());
    map.insert("instanceId".into(), task.instance_id.clone().into());
    map.insert(
        "currentCommandIndex".into(),
        task.current_command_index.into(),
    );
    map.insert("totalCommands".into(), task.total_commands.into());
    put_time(&mut map, "createdAt", Some(task.created_at));
    put_time(&mut map, "startedAt", task.started_at);
    put_time(&mut map, "completedAt", task.completed_at);
    Value::Object(map)
}

/// The `task` of a `task_status_response`: the summary plus intention, commands and error.
pub fn task_detail(task: &Task) -> Value {
    let mut value = task_summary(&task.summary());
    let map = value.as_object_mut().expect("a summary is an object");
    map.insert("intention".into(), task.intention.clone().into());
    map.insert("owner".into(), task.owner.clone().into());
    map.insert("door".into(), task.door.as_str().into());
    map.insert(
        "commands".into(),
        task.commands.iter().map(command_detail).collect(),
    );
    if let Some(error) = &task.error {
        map.insert("error".into(), json!(error));
    }
    if let Some(metadata) = &task.metadata {
        map.insert("metadata".into(), Value::Object(metadata.clone()));
    }
    value
}

fn command_detail(command: &TaskCommand) -> Value {
    let mut map = Map::new();
    map.insert("id".into(), command.id.clone().into());
    map.insert("tool_name".into(), command.tool_name.clone().into());
    map.insert("intention".into(), command.intention.clone().into());
    map.insert("args".into(), command.args.clone());
    map.insert("status".into(), command.status.as_str().into());
    if let Some(result) = &command.result {
        map.insert("result".into(), json!(result));
    }
    if let Some(error) = &command.error {
        map.insert("error".into(), json!(error));
    }
    // A running external step: its token and ws_url (the record reaches its owner only).
    if let Some(external) = &command.external {
        map.insert("externalTask".into(), external.clone());
    }
    put_time(&mut map, "startedAt", command.started_at);
    put_time(&mut map, "completedAt", command.completed_at);
    Value::Object(map)
}

/// `task_complete`: one result per command, as the spec's examples show them.
pub fn task_complete(task: &Task) -> Value {
    let results: Vec<Value> = task
        .commands
        .iter()
        .map(|c| match (c.status, &c.result, &c.error) {
            (CommandStatus::Success, Some(result), _) => {
                json!({"status": "success", "result": result})
            }
            (CommandStatus::Error, _, Some(error)) => {
                json!({"status": "error", "error": error.message, "errorCode": error.code})
            }
            (status, _, _) => json!({ "status": status.as_str() }),
        })
        .collect();
    let mut message = json!({
        "type": "task_complete",
        "taskId": task.id,
        "status": task.status.as_str(),
        "results": results,
        "completedAt": iso(task.completed_at.unwrap_or_else(crate::task::now_ms)),
    });
    if let Some(error) = &task.error {
        message["error"] = json!(error);
    }
    message
}

/// The `task_progress` message for a command event; `None` for other events.
pub fn task_progress(kind: &EventKind) -> Option<Value> {
    if let EventKind::External {
        task_id: Some(task_id),
        index: Some(index),
        update,
        ..
    } = kind
    {
        return external_progress(task_id, *index, update);
    }
    let command = kind.command()?;
    let mut message = json!({
        "type": "task_progress",
        "taskId": command.task_id,
        "commandIndex": command.index,
        "status": "running",
        "tool_name": command.tool_name,
        "intention": command.intention,
    });
    match kind {
        EventKind::CommandSucceeded { result, .. } => {
            message["status"] = "success".into();
            message["result"] = json!(&**result);
        }
        EventKind::CommandFailed { error, .. } => {
            message["status"] = "error".into();
            message["error"] = error.message.clone().into();
            message["errorCode"] = error.code.as_str().into();
        }
        EventKind::CommandSkipped { .. } => message["status"] = "skipped".into(),
        _ => {}
    }
    Some(message)
}

/// An external step's news as an extra `task_progress` (status `running`, with an
/// `externalTask` object): the token and `ws_url` when its window opens, then the app's
/// connection, progress, logs, result, acks and timeouts. Spec clients see a running command.
fn external_progress(
    task_id: &str,
    index: usize,
    update: &crate::events::ExternalUpdate,
) -> Option<Value> {
    use crate::events::ExternalUpdate;
    if matches!(
        update,
        ExternalUpdate::Ended | ExternalUpdate::Command { .. }
    ) {
        return None;
    }
    let mut external = update.to_json(true);
    if let ExternalUpdate::Opened { ws_url, .. } = update {
        let token = ws_url.rsplit('/').next().unwrap_or_default();
        external["task_token"] = token.into();
    }
    let mut message = json!({
        "type": "task_progress",
        "taskId": task_id,
        "commandIndex": index,
        "status": "running",
        "tool_name": "external_task",
        "externalTask": external,
    });
    if let ExternalUpdate::Progress { progress, .. } = update {
        message["progress"] = json!(progress);
    }
    Some(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{validate_submission, CommandError, ToolResult};

    fn task() -> Task {
        let spec = validate_submission(&json!({
            "task_name": "Login",
            "commands": [
                {"tool_name": "browser_navigate", "args": {"action": "goto", "url": "http://x"}},
                {"tool_name": "browser_content", "args": {"action": "get_text", "selector": "h1"}},
                {"tool_name": "browser_content", "args": {"action": "get_text", "selector": "h2"}},
            ]
        }))
        .unwrap();
        Task::new(spec, "inst_1".into())
    }

    #[test]
    fn timestamps_are_iso_8601_with_milliseconds() {
        assert_eq!(iso(1_705_314_600_000), "2024-01-15T10:30:00.000Z");
        assert_eq!(iso(1_705_314_601_234), "2024-01-15T10:30:01.234Z");
    }

    #[test]
    fn a_failed_task_renders_as_the_spec_shows() {
        let mut t = task();
        t.start(1_705_314_601_000).unwrap();
        t.start_command(0, 1_705_314_601_000).unwrap();
        t.succeed_command(0, ToolResult::text("Navigated"), 1_705_314_603_000)
            .unwrap();
        t.start_command(1, 1_705_314_603_000).unwrap();
        t.fail_command(
            1,
            CommandError::execution("Element not found: h1"),
            1_705_314_604_000,
        )
        .unwrap();
        t.skip_unfinished(1_705_314_605_000);
        t.finish(false, 1_705_314_605_000).unwrap();

        let summary = task_summary(&t.summary());
        assert_eq!(summary["status"], "failed");
        assert_eq!(summary["totalCommands"], 3);
        assert_eq!(summary["currentCommandIndex"], 1);
        assert_eq!(summary["startedAt"], "2024-01-15T10:30:01.000Z");
        assert!(summary.get("commands").is_none());

        let detail = task_detail(&t);
        assert_eq!(detail["commands"][0]["tool_name"], "browser_navigate");
        assert_eq!(
            detail["commands"][0]["result"]["content"][0]["text"],
            "Navigated"
        );
        assert_eq!(
            detail["commands"][0]["completedAt"],
            "2024-01-15T10:30:03.000Z"
        );
        assert_eq!(detail["commands"][1]["error"]["code"], "EXECUTION_ERROR");
        assert_eq!(detail["commands"][2]["status"], "skipped");
        assert_eq!(detail["error"]["commandId"], t.commands[1].id.as_str());

        let complete = task_complete(&t);
        assert_eq!(complete["status"], "failed");
        assert_eq!(complete["completedAt"], "2024-01-15T10:30:05.000Z");
        assert_eq!(complete["results"][0]["status"], "success");
        assert_eq!(
            complete["results"][1],
            json!({"status": "error", "error": "Element not found: h1", "errorCode": "EXECUTION_ERROR"})
        );
        assert_eq!(complete["results"][2], json!({"status": "skipped"}));
    }

    #[test]
    fn progress_is_rendered_only_for_command_events() {
        let started = EventKind::CommandStarted {
            task_id: "task_1_1".into(),
            index: 1,
            tool_name: "browser_interact".into(),
            intention: "Enter email".into(),
        };
        assert_eq!(
            task_progress(&started).unwrap(),
            json!({"type": "task_progress", "taskId": "task_1_1", "commandIndex": 1,
                   "status": "running", "tool_name": "browser_interact", "intention": "Enter email"})
        );
        let failed = EventKind::CommandFailed {
            task_id: "task_1_1".into(),
            index: 1,
            tool_name: "browser_interact".into(),
            action: "type",
            intention: "Enter email".into(),
            error: CommandError::execution("Element not found: #email"),
            duration_ms: 3,
        };
        let message = task_progress(&failed).unwrap();
        assert_eq!(message["status"], "error");
        assert_eq!(message["error"], "Element not found: #email");
        assert!(task_progress(&EventKind::InstanceRelaunched).is_none());
    }
}
