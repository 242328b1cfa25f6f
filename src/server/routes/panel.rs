//! `/ws?taskId=ID`: the execution panel stream of one task.

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;

use crate::server::error::ApiError;
use crate::server::{panel_socket, AppState};
use crate::task::User;

#[derive(Deserialize)]
pub struct PanelQuery {
    #[serde(rename = "taskId")]
    task_id: Option<String>,
}

/// The execution panel stream of one task (execution-panel-protocol.md), over a WebSocket.
#[utoipa::path(
    get, path = "/ws", tag = "websocket", operation_id = "panelStream",
    params(("taskId" = String, Query, description = "The task to watch")),
    responses(
        (status = 101, description = "Switching protocols: the panel stream"),
        (status = 400, description = "No taskId, or not a WebSocket upgrade", body = crate::server::openapi::ErrorBody),
    )
)]
pub async fn panel(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    Query(query): Query<PanelQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let Some(task_id) = query.task_id.filter(|id| !id.trim().is_empty()) else {
        return ApiError::bad_request("taskId is required: connect to /ws?taskId=TASK_ID")
            .into_response();
    };
    let Ok(upgrade) = upgrade else {
        return ApiError::bad_request(
            "/ws is the execution panel stream: open a WebSocket to /ws?taskId=TASK_ID",
        )
        .into_response();
    };
    upgrade.on_upgrade(move |socket| {
        let sessions = state.sessions.clone();
        sessions.track_future(panel_socket::serve(socket, state, task_id, user))
    })
}
