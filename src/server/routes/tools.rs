//! `/api/tools`: every tool with its JSON Schema, and one command of one tool run through the
//! scheduler (`POST /api/tools/{name}` with the arguments as the body).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::JsonBody;
use crate::server::error::ApiError;
use crate::server::AppState;
use crate::task::action::parse_args;
use crate::task::catalog::{tool_doc, TOOLS};
use crate::task::{validate_submission, CommandStatus, ErrorCode, Tool};

/// `GET /api/tools`: `{tools: [{name, description, inputSchema, actions}]}`.
pub async fn list() -> Json<Value> {
    let tools: Vec<Value> = TOOLS
        .iter()
        .map(|doc| {
            json!({
                "name": doc.tool.name(),
                "description": doc.description,
                "inputSchema": doc.input_schema(),
                "actions": doc.actions.iter().map(|a| json!({
                    "name": a.name,
                    "description": a.description,
                    "required": a.required,
                    "optional": a.optional,
                    "example": serde_json::from_str::<Value>(a.example).unwrap_or(Value::Null),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(json!({ "tools": tools }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunQuery {
    instance_id: Option<String>,
}

/// Cancels the task if the request goes away before it finished (the client hung up).
struct CancelOnDrop {
    scheduler: crate::scheduler::Scheduler,
    task_id: Option<String>,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(id) = self.task_id.take() {
            let scheduler = self.scheduler.clone();
            tokio::spawn(async move { scheduler.cancel(&id).await });
        }
    }
}

/// The HTTP status for a command's error code.
fn status_for(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidArguments => StatusCode::BAD_REQUEST,
        ErrorCode::ExecutionError => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::CommandTimeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorCode::InstanceDisconnected => StatusCode::BAD_GATEWAY,
        ErrorCode::Cancelled => StatusCode::CONFLICT,
    }
}

/// `POST /api/tools/{name}?instanceId=`: runs one command (the body is its `args`) as a
/// one-command task, queued like any other, and answers its result:
/// 200 `{result, taskId, instanceId}`, or the error shape with the command's code
/// (400 INVALID_ARGUMENTS, 422 EXECUTION_ERROR, 504 COMMAND_TIMEOUT, 502 INSTANCE_DISCONNECTED,
/// 409 CANCELLED), 404 UNKNOWN_TOOL / UNKNOWN_INSTANCE, 429 QUEUE_FULL.
pub async fn run(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<RunQuery>,
    JsonBody(args): JsonBody,
) -> Result<Json<Value>, ApiError> {
    let tool = Tool::from_name(&name).ok_or_else(|| {
        let known: Vec<&str> = Tool::ALL.iter().map(|t| t.name()).collect();
        ApiError::new(
            StatusCode::NOT_FOUND,
            "UNKNOWN_TOOL",
            format!("Unknown tool: {name}, expected one of {}", known.join(", ")),
        )
    })?;
    // Checked here first, so the error names the argument itself (`url: is required`).
    let parsed = parse_args(tool, &args).map_err(|e| {
        let at = if e.field.is_empty() {
            "args".to_string()
        } else {
            e.field.clone()
        };
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENTS",
            format!("{at}: {}", e.message),
        )
    })?;
    let mut task = json!({
        "task_name": format!("{name} {}", parsed.action.name()),
        "task_intention": "POST /api/tools",
        "commands": [{ "tool_name": name, "intention": tool_doc(tool).description, "args": args }],
    });
    if let Some(id) = query.instance_id.filter(|i| !i.is_empty()) {
        task["instanceId"] = json!(id);
    }
    let spec = validate_submission(&task)?;
    let submitted = state.scheduler.submit(spec).await?;
    let mut guard = CancelOnDrop {
        scheduler: state.scheduler.clone(),
        task_id: Some(submitted.task_id.clone()),
    };
    let done = state.scheduler.wait_finished(&submitted.task_id).await;
    guard.task_id = None;
    let task = done.ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "UNAVAILABLE",
            "the task record was lost (the server is shutting down)",
        )
    })?;
    let command = &task.commands[0];
    match (&command.status, &command.result, &command.error) {
        (CommandStatus::Success, Some(result), _) => Ok(Json(json!({
            "result": result,
            "taskId": task.id,
            "instanceId": task.instance_id,
        }))),
        (_, _, Some(error)) => Err(ApiError::new(
            status_for(error.code),
            error.code.as_str(),
            error.message.clone(),
        )),
        _ => Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::Cancelled.as_str(),
            format!("the command was {}", command.status.as_str()),
        )),
    }
}
