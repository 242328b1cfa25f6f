//! `/instances`: the browser pool, as the browser_instance tool manages it.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::{AsUser, JsonBody};
use crate::server::error::ApiError;
use crate::task::action::parse_args;
use crate::task::{Action, InstanceAction, Tool};

/// The browser instances of this runner.
#[utoipa::path(
    get, path = "/instances", tag = "instances", operation_id = "listInstances",
    responses((status = 200, description = "The instances", body = crate::server::openapi::InstanceListResponse))
)]
pub async fn list(AsUser(caller): AsUser) -> Json<Value> {
    Json(json!({ "instances": caller.instances().await }))
}

/// The body is browser_instance's arguments: `{"action":"create", "viewport":…}` or
/// `{"action":"attach","endpoint":"http://host:9222"}`. No body creates a default instance.
#[utoipa::path(
    post, path = "/instances", tag = "instances", operation_id = "createInstance",
    request_body(content = Option<crate::server::openapi::InstanceRequest>, description = "browser_instance's arguments; no body creates a default instance"),
    responses(
        (status = 201, description = "Started (or attached), ready", body = crate::server::openapi::InstanceInfo),
        (status = 400, description = "Not JSON, bad arguments, or an action other than create or attach", body = crate::server::openapi::ErrorBody),
        (status = 429, description = "The caller holds --max-instances-per-user instances (`LIMIT_REACHED`)", body = crate::server::openapi::ErrorBody),
        (status = 502, description = "The browser could not be started or reached (`BROWSER_UNAVAILABLE`)", body = crate::server::openapi::ErrorBody),
    )
)]
pub async fn create(
    AsUser(caller): AsUser,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body = match body {
        Value::Null => json!({"action": "create"}),
        other => other,
    };
    let parsed = parse_args(Tool::Instance, &body)
        .map_err(|e| ApiError::bad_request(format!("{}: {}", e.field, e.message)))?;
    let Action::Instance(action) = parsed.action else {
        unreachable!("browser_instance arguments parse to an instance action")
    };
    if !matches!(
        action,
        InstanceAction::Create { .. } | InstanceAction::Attach { .. }
    ) {
        return Err(ApiError::bad_request(
            "action: POST /instances takes create or attach",
        ));
    }
    let info = caller.create_instance(&action, false).await.map_err(|e| {
        if let Some(limit) = e.downcast_ref::<crate::scheduler::InstanceLimit>() {
            return ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "LIMIT_REACHED",
                limit.to_string(),
            );
        }
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "BROWSER_UNAVAILABLE",
            format!("{e:#}"),
        )
    })?;
    Ok((StatusCode::CREATED, Json(json!(info))))
}

/// Closes an instance and its browser; its queued tasks fail.
#[utoipa::path(
    delete, path = "/instances/{id}", tag = "instances", operation_id = "closeInstance",
    params(("id" = String, Path, description = "An instance id such as inst_2")),
    responses(
        (status = 200, description = "Closed", body = crate::server::openapi::InstanceClosed),
        (status = 404, description = "No such instance", body = crate::server::openapi::ErrorBody),
        (status = 409, description = "Not this client's to close", body = crate::server::openapi::ErrorBody),
    )
)]
pub async fn close(
    AsUser(caller): AsUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.close_instance(&id, None).await?;
    Ok(Json(json!({ "instanceId": id, "closed": true })))
}
