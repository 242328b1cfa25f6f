//! `POST /api/agent/{id}/approve`: a person's answer to one request, or to several at once.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::{field_error, invalid, ok, render, task_not_found, unknown_keys, AgentUser};
use crate::scheduler::{DecideError, DecisionInput};
use crate::server::error::ApiError;
use crate::server::routes::JsonBody;
use crate::task::ValidationError;

const FIELDS: [&str; 5] = [
    "approvalId",
    "approved",
    "message",
    "modifiedParameters",
    "choice",
];
const MAX_MESSAGE_CHARS: usize = 2000;

/// Approves or rejects the task's pending requests; an approval may change the step's
/// arguments (validated again first).
#[utoipa::path(
    post, path = "/api/agent/{id}/approve", tag = "agent", operation_id = "agentApprove",
    params(("id" = String, Path, description = "The task id")),
    request_body = crate::server::openapi::AgentApproval,
    responses(
        (status = 200, description = "Decided", body = super::schema::AgentDecidedEnvelope),
        (status = 400, description = "Invalid fields or modifiedParameters, every one listed", body = crate::server::openapi::AgentErrorEnvelope),
        (status = 404, description = "Unknown task or approval", body = crate::server::openapi::AgentErrorEnvelope),
        (status = 409, description = "Already answered, or the task has ended", body = crate::server::openapi::AgentErrorEnvelope),
        (status = 503, description = "The task runs on another runner (`TASK_ELSEWHERE`)", body = crate::server::openapi::AgentErrorEnvelope),
    )
)]
pub async fn approve(
    AgentUser(caller): AgentUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let inputs = parse(&body).map_err(invalid)?;
    let decided = caller.decide(&id, &inputs).await.map_err(|e| match e {
        DecideError::TaskNotFound => task_not_found(&id),
        DecideError::Invalid(errors) | DecideError::InvalidChoice(errors) => invalid(errors),
        DecideError::ApprovalNotFound(_) => {
            ApiError::new(StatusCode::NOT_FOUND, e.code(), e.to_string())
        }
        DecideError::AlreadyDecided(_) | DecideError::TaskFinished => {
            ApiError::new(StatusCode::CONFLICT, e.code(), e.to_string())
        }
        DecideError::Elsewhere(_) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.code(), e.to_string())
        }
    })?;
    let task = caller.get(&id).await.ok_or_else(|| task_not_found(&id))?;
    Ok(ok(
        StatusCode::OK,
        json!({
            "taskId": id,
            "decisions": decided.iter().map(|a| render::approval(&task, a)).collect::<Vec<_>>(),
        }),
    ))
}

fn parse(body: &Value) -> Result<Vec<DecisionInput>, Vec<ValidationError>> {
    let Value::Object(obj) = body else {
        return Err(vec![field_error("body", "must be a JSON object")]);
    };
    if let Some(list) = obj.get("decisions") {
        let mut errors = Vec::new();
        unknown_keys(obj, &["decisions"], "", &mut errors);
        let Value::Array(list) = list else {
            errors.push(field_error("decisions", "must be a list of decisions"));
            return Err(errors);
        };
        if list.is_empty() {
            errors.push(field_error("decisions", "must not be empty"));
        }
        let mut out = Vec::new();
        for (i, d) in list.iter().enumerate() {
            match one(d, &format!("decisions[{i}].")) {
                Ok(d) => out.push(d),
                Err(e) => errors.extend(e),
            }
        }
        return if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        };
    }
    one(body, "").map(|d| vec![d])
}

fn one(v: &Value, at: &str) -> Result<DecisionInput, Vec<ValidationError>> {
    let Value::Object(obj) = v else {
        return Err(vec![field_error(
            at.trim_end_matches('.'),
            "must be an object",
        )]);
    };
    let mut errors = Vec::new();
    unknown_keys(obj, &FIELDS, at, &mut errors);
    let approval_id = match obj.get("approvalId") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => {
            errors.push(field_error(
                format!("{at}approvalId"),
                "is required (a non-empty string)",
            ));
            String::new()
        }
    };
    let chosen = obj.get("choice").and_then(Value::as_str);
    let approved = match obj.get("approved") {
        Some(Value::Bool(b)) => *b,
        // A request with choices may be answered by its choice alone.
        None if chosen.is_some() => chosen != Some("fail"),
        _ => {
            errors.push(field_error(
                format!("{at}approved"),
                "is required (true or false)",
            ));
            false
        }
    };
    let message = match obj.get("message") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= MAX_MESSAGE_CHARS => Some(s.clone()),
        Some(_) => {
            errors.push(field_error(
                format!("{at}message"),
                format!("must be a string of at most {MAX_MESSAGE_CHARS} characters"),
            ));
            None
        }
    };
    let modified_parameters = match obj.get("modifiedParameters") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) if !approved => {
            let _ = m;
            errors.push(field_error(
                format!("{at}modifiedParameters"),
                "only an approval can change the parameters",
            ));
            None
        }
        Some(Value::Object(m)) => Some(m.clone()),
        Some(_) => {
            errors.push(field_error(
                format!("{at}modifiedParameters"),
                "must be an object",
            ));
            None
        }
    };
    let choice = match obj.get("choice") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(_) => {
            errors.push(field_error(
                format!("{at}choice"),
                "must be one of the request's choices (retry, skip, fail)",
            ));
            None
        }
    };
    if errors.is_empty() {
        Ok(DecisionInput {
            approval_id,
            approved,
            message,
            modified_parameters,
            choice,
        })
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_or_a_batch() {
        let one = parse(&json!({"approvalId": "appr_1_1_0", "approved": true, "modifiedParameters": {"url": "http://x/"}})).unwrap();
        assert_eq!(one.len(), 1);
        assert!(one[0].modified_parameters.is_some());
        let batch = parse(&json!({"decisions": [
            {"approvalId": "a", "approved": true},
            {"approvalId": "b", "approved": false, "message": "no"}
        ]}))
        .unwrap();
        assert_eq!(batch.len(), 2);
        let errors =
            parse(&json!({"decisions": [{"approvalId": "a", "aproved": true}]})).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["decisions[0].aproved", "decisions[0].approved"]);
    }
}
