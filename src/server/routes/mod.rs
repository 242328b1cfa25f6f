//! The HTTP routes, one file per resource. Each only translates a request into scheduler calls.

pub mod audit;
pub mod dashboard;
pub mod health;
pub mod info;
pub mod instances;
pub mod metrics;
pub mod panel;
pub mod root;
pub mod tasks;
pub mod tools;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde_json::Value;

use super::error::ApiError;
use super::AppState;
use crate::scheduler::Caller;
use crate::task::{Door, User};

/// The scheduler as the request's user sees it (the guard put the user in the request).
pub struct AsUser(pub Caller);

impl axum::extract::FromRequestParts<AppState> for AsUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        let user = user_of(parts)?;
        Ok(AsUser(state.scheduler.as_user(user, Door::Rest)))
    }
}

/// The user the guard found for this request.
pub fn user_of(parts: &axum::http::request::Parts) -> Result<User, ApiError> {
    parts.extensions.get::<User>().cloned().ok_or_else(|| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "the request reached a route without passing the guard",
        )
    })
}

/// A JSON request body whose failures (too large, not JSON) use the one error shape.
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e: BytesRejection| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "PAYLOAD_TOO_LARGE",
                        format!("Message too large: {}", e.body_text()),
                    )
                } else {
                    ApiError::bad_request(e.body_text())
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(Value::Null));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))
    }
}
