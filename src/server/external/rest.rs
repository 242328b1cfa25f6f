//! The external-task REST routes: the channel's state, a command to the app, a person's "mark
//! as done", the standalone `init`, and the served client library.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::scheduler::external::{CommandRefused, DoneRefused};
use crate::server::error::ApiError;
use crate::server::routes::{AsUser, JsonBody};
use crate::server::AppState;
use crate::task::strict;

fn unknown_token() -> ApiError {
    ApiError::not_found("Unknown or ended task token")
}

/// Refuses fields a body does not take, naming the first with a did-you-mean.
fn only(body: &Value, fields: &[&str]) -> Result<(), ApiError> {
    let Value::Object(map) = body else {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    };
    for key in map.keys() {
        if !fields.contains(&key.as_str()) {
            let why = strict::unknown_field_message(key, fields.iter().copied(), "the body");
            return Err(ApiError::bad_request(format!("{key}: {why}")));
        }
    }
    Ok(())
}

/// The external app's client library: the spec's `ExternalTaskClient`, which finds this server
/// from its own URL (or the page's `ws_url`) and reconnects after a drop.
#[utoipa::path(
    get, path = "/external-task-client.js", tag = "external", operation_id = "externalTaskClient",
    responses((status = 200, description = "JavaScript", content_type = "text/javascript")),
)]
pub async fn client_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            // Loaded by apps on other origins.
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        super::CLIENT_JS,
    )
        .into_response()
}

/// The spec's React hook `useExternalTask`, an example built on the client library.
#[utoipa::path(
    get, path = "/external-task-client/useExternalTask.js", tag = "external", operation_id = "externalTaskReactHook",
    responses((status = 200, description = "JavaScript", content_type = "text/javascript")),
)]
pub async fn react_hook() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        super::REACT_HOOK_JS,
    )
        .into_response()
}

/// The state of a live token's channel: connection, progress, logs, result.
#[utoipa::path(
    get, path = "/api/external-tasks/{task_token}", tag = "external", operation_id = "getExternalTask",
    params(("task_token" = String, Path, description = "The step's token")),
    responses(
        (status = 200, description = "The channel's state", body = Object),
        (status = 404, description = "Unknown or ended token (or another user's)", body = crate::server::openapi::ErrorBody),
    )
)]
pub async fn state(
    AsUser(caller): AsUser,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let channel = caller.external_channel(&token).ok_or_else(unknown_token)?;
    Ok(axum::Json(channel.describe()).into_response())
}

/// Sends a command to the app and answers its `command_ack` (or a timeout).
#[utoipa::path(
    post, path = "/api/external-tasks/{task_token}/command", tag = "external", operation_id = "commandExternalTask",
    params(("task_token" = String, Path, description = "The step's token")),
    request_body(content = Object, description = "`{command: restart|close|pause|resume|custom, action?, data?}`"),
    responses(
        (status = 200, description = "The app's ack: `{success: true, ack: {command, success}}`", body = Object),
        (status = 400, description = "A bad body", body = crate::server::openapi::ErrorBody),
        (status = 404, description = "Unknown or ended token", body = crate::server::openapi::ErrorBody),
        (status = 409, description = "Refused: not enabled, not in reverse_commands, app not connected", body = crate::server::openapi::ErrorBody),
        (status = 504, description = "The app did not acknowledge in time", body = crate::server::openapi::ErrorBody),
    )
)]
pub async fn command(
    AsUser(caller): AsUser,
    Path(token): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    only(&body, &["command", "action", "data"])?;
    let command = body.get("command").and_then(Value::as_str).ok_or_else(|| {
        ApiError::bad_request("command: is required (restart, close, pause, resume or custom)")
    })?;
    let action = match body.get("action") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ApiError::bad_request("action: must be a string")),
    };
    let data = body.get("data").cloned();
    let channel = caller.external_channel(&token).ok_or_else(unknown_token)?;
    match channel.send_command(command, action, data).await {
        Ok(ack) => Ok(axum::Json(json!({"success": true, "ack": ack})).into_response()),
        Err(e @ CommandRefused::Timeout(..)) => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "ACK_TIMEOUT",
            e.to_string(),
        )),
        Err(e @ CommandRefused::Unknown(_)) | Err(e @ CommandRefused::NoAction) => {
            Err(ApiError::bad_request(e.to_string()))
        }
        Err(CommandRefused::Ended) => Err(unknown_token()),
        Err(e) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "COMMAND_REFUSED",
            e.to_string(),
        )),
    }
}

/// A person's "mark as done" (`completion_mode: manual`), or "continue without it"
/// (`optional`, recorded as incomplete).
#[utoipa::path(
    post, path = "/api/external-tasks/{task_token}/done", tag = "external", operation_id = "markExternalTaskDone",
    params(("task_token" = String, Path, description = "The step's token")),
    responses(
        (status = 200, description = "Marked: `{success: true, completed}`", body = Object),
        (status = 404, description = "Unknown or ended token", body = crate::server::openapi::ErrorBody),
        (status = 409, description = "completion_mode is required: only the app completes it", body = crate::server::openapi::ErrorBody),
    )
)]
pub async fn done(AsUser(caller): AsUser, Path(token): Path<String>) -> Result<Response, ApiError> {
    let channel = caller.external_channel(&token).ok_or_else(unknown_token)?;
    match channel.mark_done(&caller.user().name) {
        Ok(crate::scheduler::external::Ending::MarkedDone { completed, .. }) => {
            Ok(axum::Json(json!({"success": true, "completed": completed})).into_response())
        }
        Ok(_) => Ok(axum::Json(json!({"success": true, "completed": true})).into_response()),
        Err(DoneRefused::Ended) => Err(unknown_token()),
        Err(e) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "COMPLETION_REQUIRED",
            e.to_string(),
        )),
    }
}

/// A standalone external task (no browser step), for an app a person opens in their own
/// browser: answers its `task_token` and `ws_url`.
#[utoipa::path(
    post, path = "/sessions/{session_id}/external-task/init", tag = "external", operation_id = "initExternalTask",
    params(("session_id" = String, Path, description = "The session the task belongs to (given to the app as session_id)")),
    request_body(content = Object, description = "`{stage_id?, config?, participant_number?}`; config as the stage's (completion_mode defaults to required)"),
    responses(
        (status = 201, description = "`{task_token, ws_url, session_id, stage_id}`", body = Object),
        (status = 400, description = "A bad field, named", body = crate::server::openapi::ErrorBody),
    )
)]
pub async fn init(
    State(state): State<AppState>,
    AsUser(caller): AsUser,
    Path(session_id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let body = if body.is_null() { json!({}) } else { body };
    only(&body, &["stage_id", "config", "participant_number"])?;
    let stage_id = match body.get("stage_id") {
        None | Some(Value::Null) => "external_task".to_string(),
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(_) => {
            return Err(ApiError::bad_request(
                "stage_id: must be a non-empty string",
            ))
        }
    };
    let mut config = body.get("config").cloned().unwrap_or_else(|| json!({}));
    if let Value::Object(map) = &mut config {
        map.entry("completion_mode")
            .or_insert_with(|| json!("required"));
    }
    let config = crate::task::action::parse_config(&config)
        .map_err(|(field, message)| ApiError::bad_request(format!("{field}: {message}")))?;
    let participant = body
        .get("participant_number")
        .cloned()
        .unwrap_or(Value::Null);
    let _ = &state;
    let channel = caller
        .open_standalone(&session_id, &stage_id, config, participant)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                "no server serves the external-task channel",
            )
        })?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({
            "task_token": channel.token,
            "ws_url": channel.ws_url,
            "session_id": session_id,
            "stage_id": stage_id,
        })),
    )
        .into_response())
}
