//! `/api/tools`: every tool with its JSON Schema, and one command of one tool run through the
//! scheduler (`POST /api/tools/{name}` with the arguments as the body).

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{AsUser, JsonBody};
use crate::server::error::ApiError;
use crate::task::action::parse_args;
use crate::task::catalog::{tool_doc, TOOLS};
use crate::task::{validate_submission, CommandStatus, ErrorCode, Tool};

/// `GET /api/tools`: `{tools: [{name, description, inputSchema, actions}]}`.
#[utoipa::path(
    get, path = "/api/tools", tag = "tools", operation_id = "listTools",
    summary = "Every tool with its JSON Schema, actions and examples",
    responses((status = 200, description = "The tools", body = crate::server::openapi::ToolListResponse))
)]
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
    caller: crate::scheduler::Caller,
    task_id: Option<String>,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(id) = self.task_id.take() {
            let caller = self.caller.clone();
            tokio::spawn(async move { caller.cancel(&id).await });
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
        ErrorCode::ApprovalRejected | ErrorCode::ApprovalTimeout | ErrorCode::ApprovalDenied => {
            StatusCode::FORBIDDEN
        }
    }
}

/// `POST /api/tools/{name}?instanceId=`: runs one command (the body is its `args`) as a
/// one-command task, queued like any other, and answers its result:
/// 200 `{success: true, result, taskId, instanceId}`, or the error shape with the command's
/// code and `success: false` (400 INVALID_ARGUMENTS, 422 EXECUTION_ERROR, 504 COMMAND_TIMEOUT,
/// 502 INSTANCE_DISCONNECTED, 409 CANCELLED), 404 UNKNOWN_TOOL / UNKNOWN_INSTANCE, 429
/// QUEUE_FULL. The instance may also come in the body as `instanceId`, as the origin's REST
/// calls send it (every tool but browser_instance, whose `instanceId` is the one to close).
#[utoipa::path(
    post, path = "/api/tools/{name}", tag = "tools", operation_id = "runTool",
    summary = "Runs one command of a tool as a one-command task and answers its result",
    params(
        ("name" = crate::server::openapi::ToolName, Path, description = "The tool", example = "browser_execute"),
        ("instanceId" = Option<String>, Query, description = "Where to run (or `instanceId` in the body)"),
    ),
    request_body(content = Object, description = "The tool's arguments (its `inputSchema` in `GET /api/tools`), with `action`",
        example = json!({"action": "evaluate", "script": "return 6 * 7"})),
    responses(
        (status = 200, description = "The command succeeded", body = crate::server::openapi::ToolRunResponse),
        (status = 400, description = "Bad arguments (`INVALID_ARGUMENTS`, the field named)", body = crate::server::openapi::ToolErrorBody),
        (status = 404, description = "Unknown tool (`UNKNOWN_TOOL`) or instance (`UNKNOWN_INSTANCE`)", body = crate::server::openapi::ToolErrorBody),
        (status = 409, description = "The command was cancelled (`CANCELLED`)", body = crate::server::openapi::ToolErrorBody),
        (status = 422, description = "The command failed (`EXECUTION_ERROR`)", body = crate::server::openapi::ToolErrorBody),
        (status = 502, description = "The browser went away (`INSTANCE_DISCONNECTED`)", body = crate::server::openapi::ToolErrorBody),
        (status = 503, description = "No instance, shutting down, or the store is unavailable", body = crate::server::openapi::ToolErrorBody),
        (status = 504, description = "The command timed out (`COMMAND_TIMEOUT`)", body = crate::server::openapi::ToolErrorBody),
    )
)]
pub async fn run(
    caller: AsUser,
    name: Path<String>,
    query: Query<RunQuery>,
    body: Result<JsonBody, ApiError>,
) -> Response {
    let answer = match body {
        Ok(JsonBody(args)) => run_tool(caller, name, query, args).await,
        Err(e) => Err(e),
    };
    match answer {
        Ok(mut body) => {
            body["success"] = Value::Bool(true);
            Json(with_success_first(body)).into_response()
        }
        Err(error) => {
            let status = error.status;
            let mut response = error.into_response();
            // The error shape as every route has it, with `success: false` beside it.
            let bytes = axum::body::to_bytes(std::mem::take(response.body_mut()), 1 << 20)
                .await
                .unwrap_or_default();
            let mut body: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({}));
            body["success"] = Value::Bool(false);
            let mut answer = (status, Json(with_success_first(body))).into_response();
            for (name, value) in response.headers() {
                if name != axum::http::header::CONTENT_LENGTH
                    && name != axum::http::header::CONTENT_TYPE
                {
                    answer.headers_mut().insert(name.clone(), value.clone());
                }
            }
            answer
        }
    }
}

/// `success` as the first field, as the origin writes it.
fn with_success_first(body: Value) -> Value {
    let Value::Object(map) = body else {
        return body;
    };
    let mut ordered = serde_json::Map::new();
    if let Some(success) = map.get("success") {
        ordered.insert("success".into(), success.clone());
    }
    for (key, value) in map {
        if key != "success" {
            ordered.insert(key, value);
        }
    }
    Value::Object(ordered)
}

async fn run_tool(
    AsUser(caller): AsUser,
    Path(name): Path<String>,
    Query(query): Query<RunQuery>,
    mut args: Value,
) -> Result<Value, ApiError> {
    let tool = Tool::from_name(&name).ok_or_else(|| {
        let known: Vec<&str> = Tool::ALL.iter().map(|t| t.name()).collect();
        ApiError::new(
            StatusCode::NOT_FOUND,
            "UNKNOWN_TOOL",
            format!("Unknown tool: {name}, expected one of {}", known.join(", ")),
        )
    })?;
    let invalid = |message: String| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidArguments.as_str(),
            message,
        )
    };
    // Where to run: `?instanceId=`, or the body's `instanceId` (not browser_instance's: there
    // it names the instance to close).
    let from_query = query.instance_id.filter(|i| !i.is_empty());
    let from_body = match (tool, args.as_object_mut()) {
        (Tool::Instance, _) | (_, None) => None,
        (_, Some(map)) => match map.remove("instanceId") {
            None => None,
            Some(Value::String(id)) if !id.trim().is_empty() => Some(id.trim().to_string()),
            Some(_) => {
                return Err(invalid(
                    "instanceId: must be an instance id (a non-empty string such as inst_2)".into(),
                ))
            }
        },
    };
    let instance = match (from_query, from_body) {
        (Some(q), Some(b)) if q != b => {
            return Err(invalid(format!(
                "instanceId: the body says '{b}' and the query '{q}': give one"
            )))
        }
        (q, b) => q.or(b),
    };
    // Checked here first, so the error names the argument itself (`url: is required`).
    let parsed = parse_args(tool, &args).map_err(|e| {
        let at = if e.field.is_empty() {
            "args".to_string()
        } else {
            e.field.clone()
        };
        invalid(format!("{at}: {}", e.message))
    })?;
    let mut task = json!({
        "task_name": format!("{name} {}", parsed.action.name()),
        "task_intention": "POST /api/tools",
        "commands": [{ "tool_name": name, "intention": tool_doc(tool).description, "args": args }],
    });
    if let Some(id) = instance {
        task["instanceId"] = json!(id);
    }
    let spec = validate_submission(&task)?;
    let submitted = caller.submit(spec).await?;
    let mut guard = CancelOnDrop {
        caller: caller.clone(),
        task_id: Some(submitted.task_id.clone()),
    };
    let done = caller.wait_finished(&submitted.task_id).await;
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
        (CommandStatus::Success, Some(result), _) => Ok(json!({
            "result": result,
            "taskId": task.id,
            "instanceId": task.instance_id,
        })),
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
