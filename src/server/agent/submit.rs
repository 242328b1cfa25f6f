//! `POST /api/agent`: a task described in words, with its commands.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::{field_error, invalid, ok, render, unknown_keys, AgentUser};
use crate::server::error::ApiError;
use crate::server::routes::JsonBody;
use crate::task::{validate_submission, ValidationError};

const FIELDS: [&str; 7] = [
    "task",
    "commands",
    "priority",
    "conversationId",
    "context",
    "instanceId",
    "approval",
];
const MAX_TASK_CHARS: usize = 10_000;
const MAX_CONVERSATION_CHARS: usize = 200;
const MAX_CONTEXT_BYTES: usize = 64 << 10;

/// Submits a task; it is queued and runs like any other.
#[utoipa::path(
    post, path = "/api/agent", tag = "agent", operation_id = "agentSubmit",
    request_body = crate::server::openapi::AgentSubmission,
    responses(
        (status = 201, description = "Queued", body = super::schema::AgentSubmittedEnvelope),
        (status = 400, description = "Invalid fields, every one listed in `details`", body = crate::server::openapi::AgentErrorEnvelope),
        (status = 403, description = "A command the approval policy denies (`POLICY_DENIED`)", body = crate::server::openapi::AgentErrorEnvelope),
        (status = 404, description = "Unknown instance", body = crate::server::openapi::AgentErrorEnvelope),
        (status = 429, description = "Queue full or rate limited", body = crate::server::openapi::AgentErrorEnvelope),
        (status = 503, description = "No instance, shutting down, or the store is unavailable", body = crate::server::openapi::AgentErrorEnvelope),
    )
)]
pub async fn submit(
    AgentUser(caller): AgentUser,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let spec = parse(&body).map_err(invalid)?;
    let submitted = caller.submit(spec).await?;
    Ok(ok(
        StatusCode::CREATED,
        json!({
            "taskId": submitted.task_id,
            "instanceId": submitted.instance_id,
            "status": "pending",
            "queuePosition": submitted.queue_position,
            "task": render::task(&submitted.task),
        }),
    ))
}

/// The body, every field checked: all the errors at once.
fn parse(body: &Value) -> Result<crate::task::TaskSpec, Vec<ValidationError>> {
    let Value::Object(obj) = body else {
        return Err(vec![field_error("body", "must be a JSON object")]);
    };
    let mut errors = Vec::new();
    unknown_keys(obj, &FIELDS, "", &mut errors);
    let task = match obj.get("task") {
        Some(Value::String(s)) if s.trim().is_empty() => {
            errors.push(field_error("task", "must not be empty"));
            None
        }
        Some(Value::String(s)) if s.chars().count() > MAX_TASK_CHARS => {
            errors.push(field_error(
                "task",
                format!("must be at most {MAX_TASK_CHARS} characters"),
            ));
            None
        }
        Some(Value::String(s)) if s.contains('\0') => {
            errors.push(field_error("task", "must not contain a NUL character"));
            None
        }
        Some(Value::String(s)) => Some(s.clone()),
        None | Some(Value::Null) => {
            errors.push(field_error("task", "is required"));
            None
        }
        Some(_) => {
            errors.push(field_error("task", "must be a string"));
            None
        }
    };
    let conversation_id = match obj.get("conversationId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s))
            if !s.is_empty()
                && s.chars().count() <= MAX_CONVERSATION_CHARS
                && !s.contains('\0') =>
        {
            Some(s.clone())
        }
        Some(_) => {
            errors.push(field_error(
                "conversationId",
                format!("must be a string of 1 to {MAX_CONVERSATION_CHARS} characters"),
            ));
            None
        }
    };
    let context = match obj.get("context") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m))
            if Value::Object(m.clone()).to_string().len() <= MAX_CONTEXT_BYTES =>
        {
            Some(m.clone())
        }
        Some(Value::Object(_)) => {
            errors.push(field_error(
                "context",
                format!("must be at most {} KiB of JSON", MAX_CONTEXT_BYTES >> 10),
            ));
            None
        }
        Some(_) => {
            errors.push(field_error("context", "must be an object"));
            None
        }
    };
    // The commands, each on its own so that every invalid one is reported.
    let commands: Vec<Value> = match obj.get("commands") {
        Some(Value::Array(a)) if a.is_empty() => {
            errors.push(field_error("commands", "must contain at least one command"));
            Vec::new()
        }
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .filter_map(|(i, c)| match normalize_command(c) {
                Ok(c) => Some(c),
                Err(e) => {
                    errors.push(field_error(format!("commands[{i}]"), e));
                    None
                }
            })
            .collect(),
        None | Some(Value::Null) => {
            errors.push(field_error("commands", "is required"));
            Vec::new()
        }
        Some(_) => {
            errors.push(field_error("commands", "must be an array"));
            Vec::new()
        }
    };
    for (i, c) in commands.iter().enumerate() {
        if let Err(e) = validate_submission(&json!({"task_name": "x", "commands": [c]})) {
            errors.push(field_error(
                e.field
                    .replacen("commands[0]", &format!("commands[{i}]"), 1),
                e.message,
            ));
        }
    }
    // The task-level fields through the one validator of every door.
    let mut submission = Map::new();
    let name = task
        .as_deref()
        .map(|t| crate::task::clip(t.lines().next().unwrap_or(t).trim(), 200))
        .unwrap_or_else(|| "x".into());
    submission.insert("task_name".into(), json!(name));
    submission.insert(
        "task_intention".into(),
        json!(task.clone().unwrap_or_default()),
    );
    submission.insert("commands".into(), json!(commands));
    for (from, to) in [
        ("instanceId", "instanceId"),
        ("priority", "priority"),
        ("approval", "approval"),
    ] {
        if let Some(v) = obj.get(from) {
            submission.insert(to.into(), v.clone());
        }
    }
    if let Err(e) = crate::task::validate::priority_of(obj.get("priority"), "priority") {
        errors.push(e);
    }
    if let Err(e) = crate::task::validate::approval_of(obj.get("approval"), "approval") {
        errors.push(e);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut spec = validate_submission(&Value::Object(submission)).map_err(|e| vec![e])?;
    spec.conversation_id = conversation_id;
    spec.context = context;
    Ok(spec)
}

/// A command as the agent API takes it: `toolName` (the spec's camelCase) or `tool_name`.
fn normalize_command(c: &Value) -> Result<Value, String> {
    let Value::Object(obj) = c else {
        return Err("must be an object".into());
    };
    let mut obj = obj.clone();
    if let Some(name) = obj.remove("toolName") {
        if obj.contains_key("tool_name") {
            return Err("give toolName or tool_name, not both".into());
        }
        obj.insert("tool_name".into(), name);
    }
    Ok(Value::Object(obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_invalid_field_is_listed() {
        let errors = parse(&json!({
            "tsk": "x",
            "priority": 1000,
            "conversationId": "",
            "context": [],
            "commands": [
                {"toolName": "browser_navigate", "args": {"action": "goto"}},
                {"toolName": "browser_navigate", "args": {"action": "reload"}},
                {"toolName": "browser_fly", "args": {}}
            ]
        }))
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        for f in [
            "tsk",
            "task",
            "priority",
            "conversationId",
            "context",
            "commands[0].args.url",
            "commands[2].tool_name",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
        assert!(!fields.iter().any(|f| f.starts_with("commands[1]")));
        assert!(
            errors[0].message.contains("did you mean task?"),
            "{:?}",
            errors[0]
        );
    }

    #[test]
    fn a_valid_body_becomes_a_task() {
        let spec = parse(&json!({
            "task": "Open the page\nand read it",
            "commands": [{"toolName": "browser_navigate", "args": {"action": "reload"}}],
            "priority": 5,
            "conversationId": "c1",
            "context": {"k": 1}
        }))
        .unwrap();
        assert_eq!(spec.name, "Open the page");
        assert_eq!(spec.intention, "Open the page\nand read it");
        assert_eq!(spec.priority, 5);
        assert_eq!(spec.conversation_id.as_deref(), Some("c1"));
        assert_eq!(spec.context.unwrap()["k"], 1);
    }
}
