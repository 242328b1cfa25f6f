//! `/`: the task WebSocket for an upgrade request (clients connect to `ws://host:3400`), the
//! dashboard for a browser, and a short description of the server for other clients.

use std::net::SocketAddr;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;

use super::dashboard;
use crate::server::{task_socket, AppState};
use crate::task::User;

/// The task WebSocket (an upgrade request), the dashboard (a browser's page load), or a JSON
/// description of the server.
///
/// A WebSocket upgrade gets `101` and speaks task-websocket-protocol.md (`welcome`,
/// `task_submit`, `task_progress`, `task_complete`, …). Without one, `Accept: text/html` gets
/// the dashboard and anything else the description below.
#[utoipa::path(
    get, path = "/", tag = "websocket", operation_id = "root",
    responses(
        (status = 101, description = "Switching protocols: the task WebSocket"),
        (status = 200, description = "The dashboard (HTML), or what this server is (JSON)", content(
            (crate::server::openapi::RootDescription = "application/json"),
            (String = "text/html"),
        )),
    )
)]
pub async fn root(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
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
                    sessions.track_future(task_socket::serve(socket, state, user, peer.ip()))
                })
        }
        Err(_) if wants_html(&headers) => dashboard::index(),
        Err(_) => Json(json!({
            "name": "browser-control",
            "version": env!("CARGO_PKG_VERSION"),
            "websocket": "connect a WebSocket to this URL (task-websocket-protocol.md)",
            "dashboard": "open this URL in a browser",
            "panel": "/ws?taskId=TASK_ID (execution-panel-protocol.md)",
            "mcp": ["/mcp (streamable HTTP)", "/sse (legacy HTTP+SSE)"],
            "routes": ["/tasks", "/tasks/{id}", "/instances", "/instances/{id}", "/health", "/metrics", "/api/tools", "/api/tools/{name}", "/info"],
        }))
        .into_response(),
    }
}

/// A browser's page load asks for HTML; curl and API clients do not.
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}
