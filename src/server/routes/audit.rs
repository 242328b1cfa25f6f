//! `GET /api/audit?user=&since=&limit=`: who submitted, cancelled, created or closed what, and
//! when. Admins only: anyone else is answered 403.

use axum::extract::Query;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::AsUser;
use crate::server::error::ApiError;
use crate::store::AuditFilter;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    user: Option<String>,
    /// Unix milliseconds, or an RFC 3339 time (`2026-12-01T10:00:00Z`).
    since: Option<String>,
    /// The newest this many of those matching (default 100, at most 10000).
    limit: Option<usize>,
}

/// The audit trail (admins only).
#[utoipa::path(
    get, path = "/api/audit", tag = "server", operation_id = "auditLog",
    params(
        ("user" = Option<String>, Query, description = "Only this user's entries"),
        ("since" = Option<String>, Query, description = "Entries at or after this time: unix milliseconds or RFC 3339"),
        ("limit" = Option<u32>, Query, description = "The newest this many of those matching (1 to 10000, default 100)", minimum = 1, maximum = 10000),
    ),
    responses(
        (status = 200, description = "The entries, oldest first", body = crate::server::openapi::AuditResponse),
        (status = 400, description = "A bad parameter", body = crate::server::openapi::ErrorBody),
        (status = 403, description = "Not an admin", body = crate::server::openapi::ErrorBody),
    )
)]
pub async fn list(
    AsUser(caller): AsUser,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    if !caller.user().admin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "the audit trail is for admins",
        ));
    }
    let since = query.since.as_deref().map(parse_since).transpose()?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::bad_request("limit: between 1 and 10000"));
    }
    let filter = AuditFilter {
        user: query.user.filter(|u| !u.is_empty()),
        since,
        limit,
    };
    let entries = caller
        .scheduler()
        .accounts()
        .audit_log(&filter)
        .await
        .map_err(ApiError::store)?;
    Ok(Json(json!({ "entries": entries })))
}

fn parse_since(text: &str) -> Result<u64, ApiError> {
    if let Ok(ms) = text.parse::<u64>() {
        return Ok(ms);
    }
    humantime::parse_rfc3339_weak(text)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as u64)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "since: {text:?} is neither unix milliseconds nor an RFC 3339 time"
            ))
        })
}
