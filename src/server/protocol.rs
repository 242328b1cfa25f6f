//! Client messages of the task WebSocket protocol, parsed and checked, and the error strings
//! the spec fixes for input that cannot be used. A message carries the fields the spec gives
//! its type and no others: a misspelt one (`tskId`) is refused, naming it and what was meant.

use serde_json::Value;

use crate::task::strict;
use crate::task::TaskStatus;

/// The fields each client message may carry (task_submit's are the task's, checked when the
/// task is validated).
fn fields_of(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "task_list" => &["type", "instanceId", "status"],
        "task_status" | "task_cancel" | "subscribe_task" => &["type", "taskId"],
        "subscribe_instance" => &["type", "instanceId"],
        _ => return None,
    })
}

#[derive(Debug, Clone, PartialEq)]
pub enum ClientMessage {
    /// The whole message: the scheduler validates it as a submission.
    TaskSubmit(Value),
    TaskList {
        instance_id: Option<String>,
        /// `None` for no filter or `all`.
        status: Option<TaskStatus>,
    },
    TaskStatus {
        task_id: String,
    },
    TaskCancel {
        task_id: String,
    },
    SubscribeTask {
        task_id: String,
    },
    SubscribeInstance {
        instance_id: String,
    },
}

/// Why a message was refused; its text is the `message` of the `error` reply.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MessageError {
    #[error("Invalid message format")]
    Unparsable,
    /// Parsable, but a field the type needs is missing or of the wrong kind.
    #[error("Invalid message format: {0}")]
    BadField(String),
    #[error("Unknown message type: {0}")]
    UnknownType(String),
}

pub fn parse(text: &str) -> Result<ClientMessage, MessageError> {
    let value: Value = serde_json::from_str(text).map_err(|_| MessageError::Unparsable)?;
    let kind = match value.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        _ => return Err(MessageError::Unparsable),
    };
    if let (Some(known), Value::Object(map)) = (fields_of(&kind), &value) {
        strict::check_keys(map, known, &kind).map_err(|(field, message)| {
            MessageError::BadField(format!("{kind}: {field}: {message}"))
        })?;
    }
    let id = |field: &str| -> Result<String, MessageError> {
        match value.get(field) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            _ => Err(MessageError::BadField(format!(
                "{kind} needs {field} (a non-empty string)"
            ))),
        }
    };
    let optional = |field: &str| -> Result<Option<String>, MessageError> {
        match value.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(MessageError::BadField(format!(
                "{kind}: {field} must be a string"
            ))),
        }
    };
    Ok(match kind.as_str() {
        "task_submit" => ClientMessage::TaskSubmit(value.clone()),
        "task_list" => ClientMessage::TaskList {
            instance_id: optional("instanceId")?,
            status: parse_status_filter(optional("status")?.as_deref())
                .map_err(|e| MessageError::BadField(format!("task_list: {e}")))?,
        },
        "task_status" => ClientMessage::TaskStatus {
            task_id: id("taskId")?,
        },
        "task_cancel" => ClientMessage::TaskCancel {
            task_id: id("taskId")?,
        },
        "subscribe_task" => ClientMessage::SubscribeTask {
            task_id: id("taskId")?,
        },
        "subscribe_instance" => ClientMessage::SubscribeInstance {
            instance_id: id("instanceId")?,
        },
        _ => return Err(MessageError::UnknownType(kind)),
    })
}

/// A `status` filter as task_list and `GET /tasks` take it: a task status, `all`, or nothing.
pub fn parse_status_filter(status: Option<&str>) -> Result<Option<TaskStatus>, String> {
    match status {
        None | Some("all") => Ok(None),
        Some(s) => TaskStatus::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .map(Some)
            .ok_or_else(|| {
                format!(
                    "status '{s}' is not one of queued, running, completed, failed, cancelled, all"
                )
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unparsable_input_gets_the_spec_error() {
        for text in ["not json", "[1,2]", "{}", r#"{"type": 5}"#, "\"task_list\""] {
            assert_eq!(
                parse(text).unwrap_err().to_string(),
                "Invalid message format",
                "{text}"
            );
        }
        assert_eq!(
            parse(r#"{"type":"invalid_type"}"#).unwrap_err().to_string(),
            "Unknown message type: invalid_type"
        );
    }

    #[test]
    fn fields_are_read_and_checked() {
        assert_eq!(
            parse(r#"{"type":"task_list","instanceId":null,"status":null}"#).unwrap(),
            ClientMessage::TaskList {
                instance_id: None,
                status: None
            }
        );
        assert_eq!(
            parse(r#"{"type":"task_list","instanceId":"inst_1","status":"running"}"#).unwrap(),
            ClientMessage::TaskList {
                instance_id: Some("inst_1".into()),
                status: Some(TaskStatus::Running)
            }
        );
        assert_eq!(
            parse(r#"{"type":"task_list","status":"all"}"#).unwrap(),
            ClientMessage::TaskList {
                instance_id: None,
                status: None
            }
        );
        let err = parse(r#"{"type":"task_list","status":"done"}"#).unwrap_err();
        assert!(err.to_string().contains("status 'done'"), "{err}");
        let err = parse(r#"{"type":"task_status","tskId":"task_1_1"}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid message format: task_status: tskId: unknown field; did you mean taskId?"
        );
        let err = parse(r#"{"type":"task_list","instance":"inst_1"}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid message format: task_list: instance: unknown field; did you mean instanceId?"
        );
        let err = parse(r#"{"type":"subscribe_instance","instanceId":"inst_1","verbose":true}"#)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid message format: subscribe_instance: verbose: unknown field; subscribe_instance takes type, instanceId"
        );
        // task_submit's fields are the task's: checked when it is validated.
        assert!(matches!(
            parse(r#"{"type":"task_submit","task_nmae":"x"}"#).unwrap(),
            ClientMessage::TaskSubmit(_)
        ));
        let err = parse(r#"{"type":"task_status"}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid message format: task_status needs taskId (a non-empty string)"
        );
        assert_eq!(
            parse(r#"{"type":"subscribe_instance","instanceId":"inst_2"}"#).unwrap(),
            ClientMessage::SubscribeInstance {
                instance_id: "inst_2".into()
            }
        );
    }
}
