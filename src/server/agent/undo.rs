//! `POST /api/agent/{id}/undo`: the state before a step, put back.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::{field_error, invalid, ok, render, task_not_found, unknown_keys, AgentUser};
use crate::scheduler::UndoError;
use crate::server::error::ApiError;
use crate::server::routes::JsonBody;

/// Restores the page's URL, the cookies and the origin's storage as they were before a step.
#[utoipa::path(
    post, path = "/api/agent/{id}/undo", tag = "agent", operation_id = "agentUndo",
    params(("id" = String, Path, description = "The task id")),
    request_body = crate::server::openapi::AgentUndo,
    responses(
        (status = 200, description = "Restored: what was, and what cannot be", body = super::schema::AgentUndoneEnvelope),
        (status = 400, description = "Invalid fields", body = crate::server::openapi::AgentErrorEnvelope),
        (status = 404, description = "Unknown task or step", body = crate::server::openapi::AgentErrorEnvelope),
        (status = 409, description = "The task runs, another task used the instance since, no checkpoint, or the instance is busy or gone", body = crate::server::openapi::AgentErrorEnvelope),
        (status = 502, description = "The browser could not restore the page (`UNDO_FAILED`)", body = crate::server::openapi::AgentErrorEnvelope),
    )
)]
pub async fn undo(
    AgentUser(caller): AgentUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let (step, force) = parse(&body).map_err(invalid)?;
    let undo = caller
        .undo(&id, step.as_deref(), force)
        .await
        .map_err(|e| match e {
            UndoError::TaskNotFound => task_not_found(&id),
            UndoError::StepNotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, e.code(), e.to_string())
            }
            UndoError::Failed(_) => ApiError::new(StatusCode::BAD_GATEWAY, e.code(), e.to_string()),
            _ => ApiError::new(StatusCode::CONFLICT, e.code(), e.to_string()),
        })?;
    let task = caller.get(&id).await.ok_or_else(|| task_not_found(&id))?;
    let mut data = render::undo(&task, &undo);
    data["taskId"] = json!(id);
    Ok(ok(StatusCode::OK, data))
}

fn parse(body: &Value) -> Result<(Option<String>, bool), Vec<crate::task::ValidationError>> {
    let obj = match body {
        Value::Null => return Ok((None, false)),
        Value::Object(obj) => obj,
        _ => return Err(vec![field_error("body", "must be a JSON object")]),
    };
    let mut errors = Vec::new();
    unknown_keys(obj, &["stepId", "force"], "", &mut errors);
    let step = match obj.get("stepId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(_) => {
            errors.push(field_error("stepId", "must be a non-empty string"));
            None
        }
    };
    let force = match obj.get("force") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.push(field_error("force", "must be true or false"));
            false
        }
    };
    if errors.is_empty() {
        Ok((step, force))
    } else {
        Err(errors)
    }
}
