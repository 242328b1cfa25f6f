//! The external-task door (external-task.md): the token WebSocket both roles share, the REST
//! routes of the controller, the standalone `init`, and the served client library. It only
//! translates messages into calls on the scheduler's channels and renders their events.
//!
//! - `WS /api/ws/external-task/{task_token}`: the external app. It runs on another origin, so
//!   this one path takes a foreign Origin and no credential: the live token is the credential.
//! - `WS /api/ws/external-task/{task_token}?role=controller`: whoever controls the task (its
//!   owner, authenticated as on every other route).

pub mod app;
pub mod controller;
pub mod rest;

use axum::http::Method;
use axum::routing::{get, post};
use axum::Router;

use super::AppState;

/// The served client (the spec's `ExternalTaskClient`, reconnecting).
pub const CLIENT_JS: &str = include_str!("external-task-client.js");
/// The spec's React hook, as an example next to it.
pub const REACT_HOOK_JS: &str = include_str!("useExternalTask.js");

/// Close codes the app hears (4000–4999: the client library does not reconnect after them).
pub const CLOSE_UNKNOWN_TOKEN: u16 = 4004;
pub const CLOSE_REPLACED: u16 = 4001;
pub const CLOSE_ENDED: u16 = 4000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/ws/external-task/{task_token}", get(app::socket))
        .route("/external-task-client.js", get(rest::client_js))
        .route(
            "/external-task-client/useExternalTask.js",
            get(rest::react_hook),
        )
        .route("/api/external-tasks/{task_token}", get(rest::state))
        .route(
            "/api/external-tasks/{task_token}/command",
            post(rest::command),
        )
        .route("/api/external-tasks/{task_token}/done", post(rest::done))
        .route(
            "/sessions/{session_id}/external-task/init",
            post(rest::init),
        )
}

/// Requests the guard lets through without an Origin or a credential: the app's socket (its
/// token is checked by the route, which refuses a dead one as an unknown one) and the client
/// library.
pub fn is_app_request(method: &Method, path: &str, query: Option<&str>) -> bool {
    if method != Method::GET {
        return false;
    }
    if matches!(
        path,
        "/external-task-client.js" | "/external-task-client/useExternalTask.js"
    ) {
        return true;
    }
    let controller = query.is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "role" && v != "app")
    });
    path.starts_with("/api/ws/external-task/") && !controller
}

pub use controller::serve as serve_controller;
