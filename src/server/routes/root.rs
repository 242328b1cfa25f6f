//! `/`: the task WebSocket for an upgrade request (clients connect to `ws://host:3400`), and
//! a short description of the server for a plain GET.

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::server::{task_socket, AppState};

pub async fn root(
    State(state): State<AppState>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    match upgrade {
        Ok(upgrade) => {
            let limits = &state.limits;
            // The transport's own cap is above ours, so a message over ours is answered
            // with an error on a connection that stays usable; only far larger ones close it.
            let transport_cap = limits.max_message_bytes.saturating_mul(4);
            upgrade
                .max_message_size(transport_cap)
                .max_frame_size(transport_cap)
                .on_upgrade(move |socket| {
                    let sessions = state.sessions.clone();
                    sessions.track_future(task_socket::serve(socket, state))
                })
        }
        Err(_) => Json(json!({
            "name": "browser-control",
            "version": env!("CARGO_PKG_VERSION"),
            "websocket": "connect a WebSocket to this URL (task-websocket-protocol.md)",
            "routes": ["/tasks", "/tasks/{id}", "/instances", "/instances/{id}", "/health", "/metrics", "/api/tools", "/api/tools/{name}", "/info"],
        }))
        .into_response(),
    }
}
