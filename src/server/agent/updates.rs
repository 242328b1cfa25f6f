//! `WS /api/agent/{id}/updates` and its polling fallback `GET /api/agent/{id}/events`: the
//! task's messages after `lastEventId` / `after`, then the live ones, from one [`Feed`].

use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::feed::Feed;
use super::{field_error, invalid, ok, task_not_found, AgentUser};
use crate::server::error::ApiError;
use crate::server::AppState;

/// The longest a poll waits for news.
const MAX_WAIT_SECS: u64 = 60;
/// How often a stream looks at its task without being told (another runner's task).
const RECHECK: Duration = Duration::from_secs(1);

fn number(raw: &Option<String>, name: &str, default: u64, max: u64) -> Result<u64, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::bad_request(format!("the query cannot be read: {e}")))?;
    let mut value = default;
    for (k, v) in pairs {
        if k == name {
            value = v.parse::<u64>().ok().filter(|n| *n <= max).ok_or_else(|| {
                invalid(vec![field_error(
                    name,
                    format!("must be a whole number from 0 to {max}"),
                )])
            })?;
        } else if !["after", "wait", "lastEventId", "token"].contains(&k.as_str()) {
            return Err(invalid(vec![field_error(k, "unknown parameter")]));
        }
    }
    Ok(value)
}

/// The task's update stream.
#[utoipa::path(
    get, path = "/api/agent/{id}/updates", tag = "agent", operation_id = "agentUpdates",
    params(
        ("id" = String, Path, description = "The task id"),
        ("lastEventId" = Option<u64>, Query, description = "Resume after this message id"),
    ),
    responses(
        (status = 101, description = "WebSocket: update messages `{type, data, timestamp, id}`"),
        (status = 400, description = "Not a WebSocket upgrade, or an invalid lastEventId", body = crate::server::openapi::AgentErrorEnvelope),
        (status = 404, description = "Unknown task", body = crate::server::openapi::AgentErrorEnvelope),
    )
)]
pub async fn updates(
    State(state): State<AppState>,
    AgentUser(caller): AgentUser,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let after = number(&raw, "lastEventId", 0, u64::MAX)?;
    let feed = Feed::open(caller, &id, after)
        .await
        .ok_or_else(|| task_not_found(&id))?;
    let ping = state.limits.ping_interval;
    let closing = state.closing.clone();
    let sessions = state.sessions.clone();
    Ok(ws
        .on_upgrade(move |socket| sessions.track_future(stream(socket, feed, ping, closing)))
        .into_response())
}

async fn stream(
    mut socket: WebSocket,
    mut feed: Feed,
    ping: Duration,
    closing: tokio_util::sync::CancellationToken,
) {
    // Subscribed before the first poll's read: nothing slips between.
    let mut events = feed.subscribe();
    let mut heard = Instant::now();
    let mut pinger = tokio::time::interval(ping);
    pinger.tick().await;
    loop {
        for message in feed.poll().await {
            if socket
                .send(Message::Text(message.to_string().into()))
                .await
                .is_err()
            {
                return;
            }
        }
        if feed.done {
            let _ = socket
                .send(Message::Close(Some(axum::extract::ws::CloseFrame {
                    code: 1000,
                    reason: "the task has ended".into(),
                })))
                .await;
            return;
        }
        tokio::select! {
            _ = feed.changed(&mut events, RECHECK) => {}
            _ = pinger.tick() => {
                if heard.elapsed() > ping * 2 {
                    tracing::info!("agent updates: client silent for two ping intervals, dropped");
                    return;
                }
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                // Anything the client sends (pongs included) says it is alive; nothing is
                // asked of it.
                Some(Ok(_)) => heard = Instant::now(),
            },
            _ = closing.cancelled() => {
                // The server stops: the last messages go out first.
                for message in feed.poll().await {
                    let _ = socket.send(Message::Text(message.to_string().into())).await;
                }
                let _ = socket.send(Message::Close(Some(axum::extract::ws::CloseFrame {
                    code: 1001,
                    reason: "the server is stopping".into(),
                }))).await;
                return;
            }
        }
    }
}

/// The polling fallback: the same messages, with a bounded wait for the next.
#[utoipa::path(
    get, path = "/api/agent/{id}/events", tag = "agent", operation_id = "agentEvents",
    params(
        ("id" = String, Path, description = "The task id"),
        ("after" = Option<u64>, Query, description = "Messages after this id (default 0: all)"),
        ("wait" = Option<u64>, Query, description = "Seconds to wait for news when there is none (0 to 60, default 25)"),
    ),
    responses(
        (status = 200, description = "`{events, lastEventId, finished}`", body = super::schema::AgentEventsEnvelope),
        (status = 400, description = "An invalid or unknown parameter", body = crate::server::openapi::AgentErrorEnvelope),
        (status = 404, description = "Unknown task", body = crate::server::openapi::AgentErrorEnvelope),
    )
)]
pub async fn events(
    State(state): State<AppState>,
    AgentUser(caller): AgentUser,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let after = number(&raw, "after", 0, u64::MAX)?;
    let wait = number(&raw, "wait", 25, MAX_WAIT_SECS)?;
    let mut feed = Feed::open(caller, &id, after)
        .await
        .ok_or_else(|| task_not_found(&id))?;
    let mut events = feed.subscribe();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    let mut out = feed.poll().await;
    while out.is_empty() && !feed.done && tokio::time::Instant::now() < deadline {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        tokio::select! {
            _ = feed.changed(&mut events, left.min(RECHECK)) => {}
            _ = state.closing.cancelled() => break,
        }
        out = feed.poll().await;
    }
    Ok(ok(
        StatusCode::OK,
        json!({"events": out, "lastEventId": feed.last_id().to_string(), "finished": feed.done}),
    ))
}
