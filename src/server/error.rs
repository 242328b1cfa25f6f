//! The one JSON error shape of every HTTP route:
//! `{"error": {"code": "NOT_FOUND", "message": "Task not found: task_1_1"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::scheduler::{CloseError, SubmitError};
use crate::task::ValidationError;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// The agent API's `details` (every invalid field).
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    /// The task store could not be read.
    pub fn store(e: anyhow::Error) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "STORE_UNAVAILABLE",
            format!("The task store is unavailable: {e:#}"),
        )
    }
}

impl IntoResponse for ApiError {
    /// The message goes out with its credentials redacted (a URL's `?token=`, a password).
    fn into_response(self) -> Response {
        let message = super::redact::redact(&self.message);
        let mut body = json!({"error": {"code": self.code, "message": message}});
        if let Some(details) = self.details {
            body["error"]["details"] = details;
        }
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        let status = match &e {
            SubmitError::UnknownInstance(_) => StatusCode::NOT_FOUND,
            SubmitError::QueueFull { .. } | SubmitError::UserQueueFull { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            SubmitError::NoInstance | SubmitError::ShuttingDown | SubmitError::Store(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            SubmitError::PolicyDenied(_) => StatusCode::FORBIDDEN,
            SubmitError::Invalid { .. } => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

/// A submission that does not validate: the field is named in the message.
impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            crate::task::ErrorCode::InvalidArguments.as_str(),
            format!("Invalid task: {e}"),
        )
    }
}

impl From<CloseError> for ApiError {
    fn from(e: CloseError) -> Self {
        match e {
            CloseError::UnknownInstance(_) => ApiError::not_found(e.to_string()),
            CloseError::OwnInstance(_) => {
                ApiError::new(StatusCode::CONFLICT, "CONFLICT", e.to_string())
            }
        }
    }
}
