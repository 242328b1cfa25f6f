//! `WS /api/ws/external-task/{task_token}`: the external app's side (and, with
//! `?role=controller`, the controller's: see [`super::controller`]).

use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Map, Value};
use tokio::time::Instant;

use super::{CLOSE_ENDED, CLOSE_REPLACED, CLOSE_UNKNOWN_TOKEN};
use crate::scheduler::external::{iso_now, AppMessage, Channel};
use crate::server::error::ApiError;
use crate::server::AppState;
use crate::task::strict;
use crate::task::User;

#[derive(serde::Deserialize)]
pub struct SocketQuery {
    role: Option<String>,
}

/// The token's WebSocket, for the app (default) or the controller (`?role=controller`).
#[utoipa::path(
    get, path = "/api/ws/external-task/{task_token}", tag = "websocket", operation_id = "externalTaskSocket",
    params(
        ("task_token" = String, Path, description = "The step's token"),
        ("role" = Option<String>, Query, description = "`app` (default: the external app, no credential, any Origin) or `controller` (the task's owner, authenticated)"),
    ),
    responses(
        (status = 101, description = "Switching protocols. A wrong or ended token is closed with 4004"),
        (status = 400, description = "Not a WebSocket upgrade, or an unknown role", body = crate::server::openapi::ErrorBody),
    )
)]
pub async fn socket(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(query): Query<SocketQuery>,
    user: Option<axum::Extension<User>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let Ok(upgrade) = upgrade else {
        return ApiError::bad_request(
            "this is the external task's WebSocket: open one to /api/ws/external-task/{task_token}",
        )
        .into_response();
    };
    let upgrade = upgrade.max_message_size(state.limits.max_message_bytes);
    match query.role.as_deref() {
        None | Some("app") => upgrade.on_upgrade(move |socket| {
            let sessions = state.sessions.clone();
            sessions.track_future(serve(socket, state, token))
        }),
        Some("controller") => {
            let Some(axum::Extension(user)) = user else {
                return ApiError::new(
                    axum::http::StatusCode::UNAUTHORIZED,
                    "UNAUTHORIZED",
                    "the controller must be authenticated",
                )
                .into_response();
            };
            upgrade.on_upgrade(move |socket| {
                let sessions = state.sessions.clone();
                sessions.track_future(super::serve_controller(socket, state, token, user))
            })
        }
        Some(other) => {
            ApiError::bad_request(format!("role: '{other}' is not one of `app`, `controller`"))
                .into_response()
        }
    }
}

async fn close(mut socket: WebSocket, code: u16, reason: &str) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.to_string().into(),
        })))
        .await;
}

/// One app connection: `ready` gets `init`; `log`, `progress`, `complete` and `command_ack`
/// go to the channel; the controller's commands come back.
async fn serve(socket: WebSocket, state: AppState, token: String) {
    // A wrong token and an ended one are refused alike.
    let Some(channel) = state.scheduler.external().get(&token) else {
        return close(socket, CLOSE_UNKNOWN_TOKEN, "unknown or ended task token").await;
    };
    let Some(mut link) = channel.connect_app() else {
        return close(socket, CLOSE_UNKNOWN_TOKEN, "unknown or ended task token").await;
    };
    let (mut sink, mut stream) = socket.split();
    let ping_every = state.limits.ping_interval;
    let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    let mut last_heard = Instant::now();
    let (code, reason) = loop {
        tokio::select! {
            _ = state.closing.cancelled() => break (axum::extract::ws::close_code::AWAY, "server shutting down".to_string()),
            _ = channel.ended.cancelled() => break (CLOSE_ENDED, "the external task has ended".to_string()),
            out = link.outgoing.recv() => match out {
                Some(message) => {
                    if sink.send(Message::Text(message.to_string().into())).await.is_err() {
                        break (0, "the connection broke".into());
                    }
                }
                None if channel.ended.is_cancelled() => break (CLOSE_ENDED, "the external task has ended".to_string()),
                None => break (CLOSE_REPLACED, "replaced by a newer connection".to_string()),
            },
            incoming = stream.next() => {
                last_heard = Instant::now();
                match incoming {
                    None | Some(Ok(Message::Close(_))) => break (0, String::new()),
                    Some(Err(e)) => break (1009, format!("read failed: {e}")),
                    Some(Ok(Message::Text(text))) => {
                        let answer = match parse(&text) {
                            Ok(message) => channel.from_app(link.id, message).err(),
                            Err(why) => Some(why),
                        };
                        if let Some(why) = answer {
                            let error = json!({"type": "error", "payload": {"message": why}, "timestamp": iso_now()});
                            if sink.send(Message::Text(error.to_string().into())).await.is_err() {
                                break (0, "the connection broke".into());
                            }
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        let error = json!({"type": "error", "payload": {"message": "messages are JSON text"}, "timestamp": iso_now()});
                        let _ = sink.send(Message::Text(error.to_string().into())).await;
                    }
                    Some(Ok(_)) => {}
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > ping_every * 2 {
                    break (0, "no answer to pings".into());
                }
                if sink.send(Message::Ping(Vec::new().into())).await.is_err() {
                    break (0, "the connection broke".into());
                }
            }
        }
    };
    channel.app_gone(link.id);
    if code != 0 {
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
            .await;
    }
    drop::<Arc<Channel>>(channel);
}

const TYPES: [&str; 5] = ["ready", "log", "progress", "complete", "command_ack"];

/// One app message, strictly: the spec's `type`, `payload` and `timestamp`, and each type's
/// payload fields; anything else is named in the error.
pub fn parse(text: &str) -> Result<AppMessage, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(message) = value else {
        return Err("a message is a JSON object with a type".into());
    };
    for key in message.keys() {
        if !["type", "payload", "timestamp"].contains(&key.as_str()) {
            return Err(format!(
                "{key}: {}",
                strict::unknown_field_message(key, ["type", "payload", "timestamp"], "a message")
            ));
        }
    }
    let kind = match message.get("type") {
        Some(Value::String(t)) => t.as_str(),
        _ => {
            return Err("type: is required (ready, log, progress, complete or command_ack)".into())
        }
    };
    if !matches!(
        message.get("timestamp"),
        None | Some(Value::String(_)) | Some(Value::Null)
    ) {
        return Err("timestamp: must be an ISO 8601 string".into());
    }
    let empty = Map::new();
    let payload = match message.get("payload") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(p)) => p,
        Some(_) => return Err("payload: must be an object".into()),
    };
    let allow = |fields: &[&str]| -> Result<(), String> {
        for key in payload.keys() {
            if !fields.contains(&key.as_str()) {
                return Err(format!(
                    "payload.{key}: {}",
                    strict::unknown_field_message(key, fields.iter().copied(), kind)
                ));
            }
        }
        Ok(())
    };
    match kind {
        "ready" => Ok(AppMessage::Ready),
        "log" => {
            allow(&["event_type", "data"])?;
            let event_type = match payload.get("event_type") {
                Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
                _ => return Err("payload.event_type: is required (a non-empty string)".into()),
            };
            let data = payload.get("data").cloned().unwrap_or_else(|| json!({}));
            Ok(AppMessage::Log { event_type, data })
        }
        "progress" => {
            allow(&["progress", "step"])?;
            let progress = match payload.get("progress").and_then(Value::as_f64) {
                Some(p) if (0.0..=100.0).contains(&p) => p,
                _ => return Err("payload.progress: is required (a number from 0 to 100)".into()),
            };
            let step = match payload.get("step") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(other) => Some(other.to_string()),
            };
            Ok(AppMessage::Progress { progress, step })
        }
        "complete" => {
            allow(&["data"])?;
            let data = payload.get("data").cloned().unwrap_or_else(|| json!({}));
            Ok(AppMessage::Complete { data })
        }
        "command_ack" => {
            allow(&["command", "success"])?;
            let command = match payload.get("command") {
                Some(Value::String(s)) => s.clone(),
                _ => return Err("payload.command: is required (the command acknowledged)".into()),
            };
            let success = match payload.get("success") {
                Some(Value::Bool(b)) => *b,
                _ => return Err("payload.success: is required (true or false)".into()),
            };
            Ok(AppMessage::CommandAck { command, success })
        }
        other => Err(format!(
            "type: {}",
            strict::unknown_field_message(other, TYPES, "a message type")
                .replace("unknown field", &format!("unknown message type '{other}'"))
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specs_messages_parse() {
        assert_eq!(parse(r#"{"type":"ready"}"#), Ok(AppMessage::Ready));
        assert_eq!(
            parse(
                r#"{"type":"progress","payload":{"progress":75,"step":"step_3"},"timestamp":"2026-01-01T00:00:00Z"}"#
            ),
            Ok(AppMessage::Progress {
                progress: 75.0,
                step: Some("step_3".into())
            })
        );
        assert_eq!(
            parse(r#"{"type":"progress","payload":{"progress":10,"step":null}}"#),
            Ok(AppMessage::Progress {
                progress: 10.0,
                step: None
            })
        );
        assert!(matches!(
            parse(r#"{"type":"complete","payload":{"data":{"score":95}}}"#),
            Ok(AppMessage::Complete { data }) if data["score"] == 95
        ));
        assert_eq!(
            parse(r#"{"type":"command_ack","payload":{"command":"restart","success":true}}"#),
            Ok(AppMessage::CommandAck {
                command: "restart".into(),
                success: true
            })
        );
    }

    #[test]
    fn bad_messages_are_named() {
        let e = parse(r#"{"type":"progres"}"#).unwrap_err();
        assert!(e.contains("progress"), "{e}");
        let e = parse(r#"{"type":"progress","payload":{"progress":150}}"#).unwrap_err();
        assert!(e.starts_with("payload.progress"), "{e}");
        let e = parse(r#"{"type":"log","payload":{"event_typ":"x"}}"#).unwrap_err();
        assert!(e.contains("event_type"), "{e}");
        let e = parse(r#"{"type":"ready","extra":1}"#).unwrap_err();
        assert!(e.starts_with("extra"), "{e}");
        assert!(parse("not json").is_err());
    }
}
