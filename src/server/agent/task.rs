//! `GET /api/agent/{id}` (the task, its log and what it does now) and `DELETE` (cancel).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::{ok, render, task_not_found, AgentUser};
use crate::server::error::ApiError;

/// The task, its log, and the step it runs or waits at.
#[utoipa::path(
    get, path = "/api/agent/{id}", tag = "agent", operation_id = "agentGet",
    params(("id" = String, Path, description = "The task id")),
    responses(
        (status = 200, description = "The task", body = super::schema::AgentTaskEnvelope),
        (status = 404, description = "Unknown task (or another user's)", body = crate::server::openapi::AgentErrorEnvelope),
    )
)]
pub async fn get(
    AgentUser(caller): AgentUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let task = caller.get(&id).await.ok_or_else(|| task_not_found(&id))?;
    let journal = if task.journal.is_empty() {
        caller
            .scheduler()
            .tasks()
            .journal(&id, 0)
            .await
            .map_err(ApiError::store)?
    } else {
        task.journal.clone()
    };
    let mut data = json!({
        "task": render::task(&task),
        "logs": render::logs(&task, &journal),
    });
    if let Some(current) = render::current_execution(&task) {
        data["currentExecution"] = current;
    }
    if let Some((position, wait)) = caller.scheduler().queue_estimate(&id).await {
        data["queuePosition"] = json!(position);
        data["estimatedWaitTime"] = json!(wait);
    }
    Ok(ok(StatusCode::OK, data))
}

/// Cancels a pending or running task.
#[utoipa::path(
    delete, path = "/api/agent/{id}", tag = "agent", operation_id = "agentCancel",
    params(("id" = String, Path, description = "The task id")),
    responses(
        (status = 200, description = "Cancelled", body = super::schema::AgentCancelledEnvelope),
        (status = 404, description = "Unknown task", body = crate::server::openapi::AgentErrorEnvelope),
        (status = 409, description = "The task has finished (`TASK_FINISHED`)", body = crate::server::openapi::AgentErrorEnvelope),
    )
)]
pub async fn cancel(
    AgentUser(caller): AgentUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let task = caller.get(&id).await.ok_or_else(|| task_not_found(&id))?;
    if task.status.is_finished() {
        return Err(finished(&id, task.status.as_str()));
    }
    caller
        .cancel(&id)
        .await
        .map_err(|_| finished(&id, "finished"))?;
    Ok(ok(
        StatusCode::OK,
        json!({"taskId": id, "status": "cancelled"}),
    ))
}

fn finished(id: &str, status: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "TASK_FINISHED",
        format!("Task {id} has already ended ({status})"),
    )
}
