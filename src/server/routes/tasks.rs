//! `/tasks`: submit (the body of a task_submit message), list, read and cancel tasks.

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{AsUser, JsonBody};
use crate::scheduler::TaskFilter;
use crate::server::error::ApiError;
use crate::server::protocol::parse_status_filter;
use crate::task::validate_submission;
use crate::wire;

/// Submits a task; it is queued on an instance and runs there in order.
#[utoipa::path(
    post, path = "/tasks", tag = "tasks", operation_id = "submitTask",
    request_body = crate::server::openapi::TaskSubmission,
    responses(
        (status = 202, description = "Queued", body = crate::server::openapi::SubmitResponse, links(
            ("GetTask" = (operation_id = "getTask", parameters(("id" = "$response.body#/taskId")))),
            ("CancelTask" = (operation_id = "cancelTask", parameters(("id" = "$response.body#/taskId")))),
            ("CancelTaskByPost" = (operation_id = "cancelTaskByPost", parameters(("id" = "$response.body#/taskId")))),
        )),
        (status = 400, description = "Not JSON, or not a valid task (`INVALID_ARGUMENTS`, the field named)", body = crate::server::openapi::ErrorBody),
        (status = 404, description = "Unknown instance (`UNKNOWN_INSTANCE`)", body = crate::server::openapi::ErrorBody),
        (status = 503, description = "No instance, shutting down, or the store is unavailable", body = crate::server::openapi::ErrorBody),
    )
)]
pub async fn submit(
    AsUser(caller): AsUser,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let spec = validate_submission(&body)?;
    let submitted = caller.submit(spec).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "taskId": submitted.task_id,
            "status": "accepted",
            "queuePosition": submitted.queue_position,
            "instanceId": submitted.instance_id,
        })),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    instance_id: Option<String>,
    status: Option<String>,
}

/// Lists tasks, oldest first.
#[utoipa::path(
    get, path = "/tasks", tag = "tasks", operation_id = "listTasks",
    params(
        ("instanceId" = Option<String>, Query, description = "Only this instance's tasks"),
        ("status" = Option<crate::server::openapi::StatusFilter>, Query, description = "Only tasks in this status (`all` by default)"),
    ),
    responses(
        (status = 200, description = "The tasks", body = crate::server::openapi::TaskListResponse),
        (status = 400, description = "An unknown status", body = crate::server::openapi::ErrorBody),
        (status = 503, description = "The task store is unavailable", body = crate::server::openapi::ErrorBody),
    )
)]
pub async fn list(
    AsUser(caller): AsUser,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let filter = TaskFilter {
        instance_id: query.instance_id.filter(|i| !i.is_empty()),
        status: parse_status_filter(query.status.as_deref()).map_err(ApiError::bad_request)?,
        owner: None,
    };
    let tasks = caller.list(&filter).await.map_err(ApiError::store)?;
    let tasks: Vec<Value> = tasks.iter().map(wire::task_summary).collect();
    Ok(Json(json!({ "tasks": tasks })))
}

/// One task with its commands, their results and errors.
#[utoipa::path(
    get, path = "/tasks/{id}", tag = "tasks", operation_id = "getTask",
    params(("id" = String, Path, description = "A task id such as task_1_1")),
    responses(
        (status = 200, description = "The task", body = crate::server::openapi::TaskResponse),
        (status = 404, description = "No such task", body = crate::server::openapi::ErrorBody),
    )
)]
pub async fn get(AsUser(caller): AsUser, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let task = caller
        .get(&id)
        .await
        .ok_or_else(|| ApiError::not_found(format!("Task not found: {id}")))?;
    Ok(Json(json!({ "task": wire::task_detail(&task) })))
}

/// Cancels a task: a queued one completes as `cancelled`, a running one stops at once.
#[utoipa::path(
    delete, path = "/tasks/{id}", tag = "tasks", operation_id = "cancelTask",
    params(("id" = String, Path, description = "A task id such as task_1_1")),
    responses(
        (status = 200, description = "Cancelled", body = crate::server::openapi::CancelResponse),
        (status = 404, description = "No such task", body = crate::server::openapi::ErrorBody),
        (status = 409, description = "The task has already finished (`CONFLICT`)", body = crate::server::openapi::ErrorBody),
    )
)]
pub async fn cancel(
    AsUser(caller): AsUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !caller.owns(&id).await {
        return Err(ApiError::not_found(format!("Task not found: {id}")));
    }
    caller
        .cancel(&id)
        .await
        .map_err(|e| ApiError::new(StatusCode::CONFLICT, "CONFLICT", e.to_string()))?;
    Ok(Json(json!({ "taskId": id, "success": true })))
}

/// `POST /tasks/{id}/cancel`: the origin's spelling of `DELETE /tasks/{id}`, with the same
/// answer.
#[utoipa::path(
    post, path = "/tasks/{id}/cancel", tag = "tasks", operation_id = "cancelTaskByPost",
    params(("id" = String, Path, description = "A task id such as task_1_1")),
    responses(
        (status = 200, description = "Cancelled", body = crate::server::openapi::CancelResponse),
        (status = 404, description = "No such task", body = crate::server::openapi::ErrorBody),
        (status = 409, description = "The task has already finished (`CONFLICT`)", body = crate::server::openapi::ErrorBody),
    )
)]
pub async fn cancel_by_post(caller: AsUser, id: Path<String>) -> Result<Json<Value>, ApiError> {
    cancel(caller, id).await
}
