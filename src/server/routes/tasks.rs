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

pub async fn get(AsUser(caller): AsUser, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let task = caller
        .get(&id)
        .await
        .ok_or_else(|| ApiError::not_found(format!("Task not found: {id}")))?;
    Ok(Json(json!({ "task": wire::task_detail(&task) })))
}

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
pub async fn cancel_by_post(caller: AsUser, id: Path<String>) -> Result<Json<Value>, ApiError> {
    cancel(caller, id).await
}
