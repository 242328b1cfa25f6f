//! The agent API (docs/agent-api.md, ../shared/specs/agent-api.md): REST routes under
//! `/api/agent`, the update stream and its polling fallback. A door like the others: requests
//! become [`crate::scheduler::Caller`] calls, the task's journal becomes messages.

pub mod approve;
mod feed;
pub mod history;
pub mod render;
pub mod schema;
pub mod submit;
pub mod task;
pub mod undo;
pub mod updates;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tower_http::compression::predicate::{DefaultPredicate, Predicate};

use super::error::ApiError;
use super::AppState;
use crate::scheduler::Caller;
use crate::task::{Door, ValidationError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/agent", post(submit::submit))
        .route("/api/agent/history", get(history::history))
        .route("/api/agent/{id}", get(task::get).delete(task::cancel))
        .route("/api/agent/{id}/approve", post(approve::approve))
        .route("/api/agent/{id}/undo", post(undo::undo))
        .route("/api/agent/{id}/updates", get(updates::updates))
        .route("/api/agent/{id}/events", get(updates::events))
        // Answers that worked are compressed when the client accepts gzip (errors stay plain:
        // the outer layers still rewrite them); the WebSocket is not (axum's WebSocket has no
        // per-message deflate).
        .layer(
            tower_http::compression::CompressionLayer::new().compress_when(
                DefaultPredicate::new().and(
                    |status: StatusCode,
                     _: axum::http::Version,
                     _: &axum::http::HeaderMap,
                     _: &axum::http::Extensions| status.is_success(),
                ),
            ),
        )
}

/// The scheduler as the request's user sees it, through the agent door.
pub struct AgentUser(pub Caller);

impl FromRequestParts<AppState> for AgentUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        let user = super::routes::user_of(parts)?;
        Ok(AgentUser(state.scheduler.as_user(user, Door::Agent)))
    }
}

/// `{"success": true, "data": …}` with a status.
pub fn ok(status: StatusCode, data: Value) -> Response {
    (status, Json(json!({"success": true, "data": data}))).into_response()
}

/// A 400 listing every invalid field.
pub fn invalid(errors: Vec<ValidationError>) -> ApiError {
    let message = match errors.as_slice() {
        [one] => format!("Invalid request: {one}"),
        many => format!("Invalid request: {} fields are invalid", many.len()),
    };
    let details: Vec<Value> = errors
        .iter()
        .map(|e| json!({"field": e.field, "message": e.message}))
        .collect();
    ApiError::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message).with_details(json!(details))
}

pub fn task_not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "TASK_NOT_FOUND",
        format!("Task not found: {id}"),
    )
}

fn field_error(field: impl Into<String>, message: impl Into<String>) -> ValidationError {
    ValidationError {
        field: field.into(),
        message: message.into(),
    }
}

/// Checks a body's keys against the ones a route takes: every unknown one is reported.
fn unknown_keys(
    obj: &serde_json::Map<String, Value>,
    known: &[&str],
    prefix: &str,
    errors: &mut Vec<ValidationError>,
) {
    for key in obj.keys() {
        if !known.contains(&key.as_str()) {
            let close = crate::task::strict::did_you_mean(key, known.iter().copied())
                .map(|c| format!("; did you mean {c}?"))
                .unwrap_or_else(|| format!("; expected one of {}", known.join(", ")));
            errors.push(field_error(
                format!("{prefix}{key}"),
                format!("unknown field{close}"),
            ));
        }
    }
}
