//! `GET /api/agent/history`: the caller's tasks, newest first, filtered and paged.

use axum::extract::RawQuery;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::{field_error, invalid, ok, render, AgentUser};
use crate::server::error::ApiError;
use crate::store::{HistoryQuery, HistoryStatus};
use crate::task::{TaskStatus, ValidationError};

const PARAMS: [&str; 6] = [
    "status",
    "limit",
    "offset",
    "dateFrom",
    "dateTo",
    "conversationId",
];
const MAX_LIMIT: usize = 100;
const MAX_OFFSET: usize = 1_000_000;

/// The caller's tasks (an admin's: everyone's), newest first, with the total for paging.
#[utoipa::path(
    get, path = "/api/agent/history", tag = "agent", operation_id = "agentHistory",
    params(
        ("status" = Option<String>, Query, description = "pending, running, paused, completed, failed or cancelled"),
        ("limit" = Option<usize>, Query, description = "1 to 100, default 20"),
        ("offset" = Option<usize>, Query, description = "default 0"),
        ("dateFrom" = Option<String>, Query, description = "created at or after: ISO-8601 or unix ms"),
        ("dateTo" = Option<String>, Query, description = "created at or before: ISO-8601 or unix ms"),
        ("conversationId" = Option<String>, Query, description = "only this conversation's tasks"),
    ),
    responses(
        (status = 200, description = "A page of tasks", body = super::schema::AgentHistoryEnvelope),
        (status = 400, description = "An invalid or unknown parameter, every one listed", body = crate::server::openapi::AgentErrorEnvelope),
    )
)]
pub async fn history(
    AgentUser(caller): AgentUser,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let mut query = parse(raw.as_deref().unwrap_or("")).map_err(invalid)?;
    if !caller.user().admin {
        query.owner = Some(caller.user().name.to_string());
    }
    let page = caller
        .scheduler()
        .tasks()
        .history(&query)
        .await
        .map_err(ApiError::store)?;
    Ok(ok(
        StatusCode::OK,
        json!({
            "tasks": page.tasks.iter().map(render::summary).collect::<Vec<_>>(),
            "total": page.total,
            "limit": query.limit,
            "offset": query.offset,
        }),
    ))
}

fn parse(raw: &str) -> Result<HistoryQuery, Vec<ValidationError>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
        .map_err(|e| vec![field_error("query", format!("cannot be read: {e}"))])?;
    let mut errors = Vec::new();
    let mut q = HistoryQuery {
        limit: 20,
        ..Default::default()
    };
    for (key, value) in pairs {
        match key.as_str() {
            "status" => {
                q.status = match value.as_str() {
                    "pending" | "queued" => Some(HistoryStatus::Task(TaskStatus::Queued)),
                    "running" => Some(HistoryStatus::Task(TaskStatus::Running)),
                    "paused" => Some(HistoryStatus::Paused),
                    "completed" => Some(HistoryStatus::Task(TaskStatus::Completed)),
                    "failed" => Some(HistoryStatus::Task(TaskStatus::Failed)),
                    "cancelled" => Some(HistoryStatus::Task(TaskStatus::Cancelled)),
                    "" | "all" => None,
                    _ => {
                        errors.push(field_error(
                            "status",
                            "must be pending, running, paused, completed, failed or cancelled",
                        ));
                        None
                    }
                }
            }
            "limit" => match value.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => q.limit = n,
                _ => errors.push(field_error(
                    "limit",
                    format!("must be a whole number from 1 to {MAX_LIMIT}"),
                )),
            },
            "offset" => match value.parse::<usize>() {
                Ok(n) if n <= MAX_OFFSET => q.offset = n,
                _ => errors.push(field_error(
                    "offset",
                    format!("must be a whole number from 0 to {MAX_OFFSET}"),
                )),
            },
            "dateFrom" | "dateTo" => match parse_time(&value) {
                Some(ms) if key == "dateFrom" => q.created_from = Some(ms),
                Some(ms) => q.created_to = Some(ms),
                None => errors.push(field_error(
                    key.clone(),
                    "must be an ISO-8601 time (2026-12-01T10:00:00Z) or unix milliseconds",
                )),
            },
            "conversationId" if !value.is_empty() => q.conversation_id = Some(value),
            "conversationId" => {}
            // The credential, for clients that cannot send a header: the guard read it.
            "token" => {}
            _ => {
                let close = crate::task::strict::did_you_mean(&key, PARAMS.iter().copied())
                    .map(|c| format!("; did you mean {c}?"))
                    .unwrap_or_else(|| format!("; expected one of {}", PARAMS.join(", ")));
                errors.push(field_error(
                    key.clone(),
                    format!("unknown parameter{close}"),
                ));
            }
        }
    }
    if let (Some(from), Some(to)) = (q.created_from, q.created_to) {
        if from > to {
            errors.push(field_error("dateFrom", "must not be after dateTo"));
        }
    }
    if errors.is_empty() {
        Ok(q)
    } else {
        Err(errors)
    }
}

fn parse_time(text: &str) -> Option<u64> {
    if let Ok(ms) = text.parse::<u64>() {
        return Some(ms);
    }
    let t = humantime::parse_rfc3339_weak(text).ok()?;
    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_checked() {
        let q = parse("status=paused&limit=5&offset=10&dateFrom=2026-12-01T00:00:00Z&dateTo=1800000000000&conversationId=c").unwrap();
        assert_eq!(q.status, Some(HistoryStatus::Paused));
        assert_eq!((q.limit, q.offset), (5, 10));
        assert_eq!(q.created_from, Some(1_796_083_200_000));
        assert_eq!(q.conversation_id.as_deref(), Some("c"));
        let errors = parse("limit=0&stauts=failed&dateTo=yesterday").unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["limit", "stauts", "dateTo"]);
        assert!(errors[1].message.contains("did you mean status?"));
        assert_eq!(parse("").unwrap().limit, 20);
    }
}
