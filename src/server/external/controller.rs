//! `WS /api/ws/external-task/{task_token}?role=controller`: the controller's side of a token's
//! channel. It hears what the app does (rendered from the one event stream) and sends
//! `send_command` and `mark_done`.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use super::CLOSE_UNKNOWN_TOKEN;
use crate::events::{EventKind, ExternalUpdate};
use crate::scheduler::external::{iso_now, Channel};
use crate::server::outbound::{Outbound, CLOSED_BY_CLIENT, SHUTTING_DOWN};
use crate::server::AppState;
use crate::task::{Door, User};

pub async fn serve(mut socket: WebSocket, state: AppState, token: String, user: User) {
    let caller = state.scheduler.as_user(user.clone(), Door::Websocket);
    // Another user's token is refused as an unknown one.
    let Some(channel) = caller.external_channel(&token) else {
        let _ = socket
            .send(Message::Close(Some(CloseFrame {
                code: CLOSE_UNKNOWN_TOKEN,
                reason: "unknown or ended task token".into(),
            })))
            .await;
        return;
    };
    let (sink, mut stream) = socket.split();
    let out = Outbound::start(
        sink,
        state.limits.outbound(),
        state.metrics.outbound_bytes.clone(),
    );
    // Subscribed before the catch-up: nothing between the two is missed.
    let mut events = state.scheduler.events().subscribe();
    let (answers_tx, mut answers) = mpsc::channel::<Value>(64);
    let mut ended = None;
    let caught_up = channel.catch_up();
    let first = std::iter::once(message("state", channel.describe()))
        .chain(caught_up.iter().filter_map(|u| render(&channel, u)));
    for m in first {
        if let Err(reason) = out.send(&m) {
            ended = Some(reason);
        }
    }
    let reason = match ended {
        Some(reason) => reason,
        None => loop {
            tokio::select! {
                _ = state.closing.cancelled() => break SHUTTING_DOWN.to_string(),
                answer = answers.recv() => {
                    if let Some(answer) = answer {
                        if let Err(reason) = out.send(&answer) {
                            break reason;
                        }
                    }
                }
                event = events.recv() => match event {
                    Ok(event) => {
                        let EventKind::External { token: t, update, .. } = &event.kind else { continue };
                        if *t != channel.token {
                            continue;
                        }
                        if let Some(m) = render(&channel, update) {
                            if let Err(reason) = out.send(&m) {
                                break reason;
                            }
                        }
                        if *update == ExternalUpdate::Ended {
                            let _ = out.push(Message::Close(Some(CloseFrame {
                                code: super::CLOSE_ENDED,
                                reason: "the external task has ended".into(),
                            })));
                            break CLOSED_BY_CLIENT.to_string();
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        if let Err(reason) = out.send(&message("state", channel.describe())) {
                            break reason;
                        }
                    }
                    Err(RecvError::Closed) => break "the scheduler stopped".to_string(),
                },
                incoming = stream.next() => match incoming {
                    None | Some(Ok(Message::Close(_))) => break CLOSED_BY_CLIENT.to_string(),
                    Some(Err(e)) => break format!("read failed: {e}"),
                    Some(Ok(Message::Text(text))) => {
                        let by = user.name.to_string();
                        handle(&channel, &text, &by, answers_tx.clone());
                    }
                    Some(Ok(_)) => {}
                },
            }
        },
    };
    out.finish(&reason).await;
}

fn message(kind: &str, payload: Value) -> Value {
    json!({"type": kind, "payload": payload, "timestamp": iso_now()})
}

/// A controller's message: `send_command` (answered with `command_result` once the app acks or
/// the wait ends) or `mark_done`.
fn handle(channel: &Arc<Channel>, text: &str, by: &str, answers: mpsc::Sender<Value>) {
    let parsed: Result<Value, _> = serde_json::from_str(text);
    let error = |why: String| message("error", json!({"message": why}));
    let Ok(Value::Object(m)) = parsed else {
        let _ = answers.try_send(error("a message is a JSON object with a type".into()));
        return;
    };
    let payload = m.get("payload").cloned().unwrap_or(json!({}));
    match m.get("type").and_then(Value::as_str) {
        Some("send_command") => {
            let Some(command) = payload
                .get("command")
                .and_then(Value::as_str)
                .map(String::from)
            else {
                let _ = answers.try_send(error("payload.command: is required".into()));
                return;
            };
            let action = payload
                .get("action")
                .and_then(Value::as_str)
                .map(String::from);
            let data = payload.get("data").cloned();
            let channel = channel.clone();
            tokio::spawn(async move {
                let result = match channel.send_command(&command, action, data).await {
                    Ok(ack) => json!({"command": command, "ok": true, "ack": ack}),
                    Err(e) => json!({"command": command, "ok": false, "error": e.to_string()}),
                };
                let _ = answers.send(message("command_result", result)).await;
            });
        }
        Some("mark_done") => {
            let answer = match channel.mark_done(by) {
                Ok(_) => message(
                    "command_result",
                    json!({"command": "mark_done", "ok": true}),
                ),
                Err(e) => message(
                    "command_result",
                    json!({"command": "mark_done", "ok": false, "error": e.to_string()}),
                ),
            };
            let _ = answers.try_send(answer);
        }
        Some(other) => {
            let _ = answers.try_send(error(format!(
                "type: unknown message type '{other}': a controller sends send_command or mark_done"
            )));
        }
        None => {
            let _ = answers.try_send(error("type: is required".into()));
        }
    }
}

/// What the controller is told of an update, in the spec's names.
fn render(channel: &Channel, update: &ExternalUpdate) -> Option<Value> {
    let (kind, payload) = match update {
        ExternalUpdate::Connected => (
            "external_app_connected",
            json!({"session_id": channel.session_id, "stage_id": channel.stage_id, "attempt": channel.attempt}),
        ),
        ExternalUpdate::Disconnected => ("external_app_disconnected", json!({})),
        ExternalUpdate::Progress { progress, step } => (
            "progress_update",
            json!({"progress": progress, "step": step}),
        ),
        ExternalUpdate::Log { event_type, data } => {
            ("log_event", json!({"event_type": event_type, "data": data}))
        }
        ExternalUpdate::Completed { data } => ("task_completed", json!({"data": data})),
        ExternalUpdate::MarkedDone { by, completed } => {
            ("marked_done", json!({"by": by, "completed": completed}))
        }
        ExternalUpdate::Ack { command, success } => (
            "command_ack",
            json!({"command": command, "success": success}),
        ),
        ExternalUpdate::TimedOut { attempt } => ("task_timeout", json!({"attempt": attempt})),
        ExternalUpdate::Ended => ("external_task_ended", json!({})),
        ExternalUpdate::Opened { .. } | ExternalUpdate::Command { .. } => return None,
    };
    Some(message(kind, payload))
}
