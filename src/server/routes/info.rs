//! `/info`: what this server is and where its doors are.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use serde_json::{json, Value};

use crate::server::security::Access;
use crate::task::{Tool, User};

/// What this server is, where its doors are, and who the caller is (`user: {name, admin}`).
#[utoipa::path(
    get, path = "/info", tag = "server", operation_id = "info",
    responses((status = 200, description = "The server", body = crate::server::openapi::InfoResponse))
)]
pub async fn info(
    Extension(access): Extension<Arc<Access>>,
    Extension(user): Extension<User>,
) -> Json<Value> {
    Json(json!({
        "name": "browser-control",
        "version": env!("CARGO_PKG_VERSION"),
        "endpoints": {
            "websocket": "/",
            "panel": "/ws",
            "mcp": "/mcp",
            "sse": "/sse",
            "tools": "/api/tools",
            "tool": "/api/tools/{name}",
            "externalTask": "/api/ws/external-task/{task_token}",
            "externalTaskClient": "/external-task-client.js",
            "tasks": "/tasks",
            "instances": "/instances",
            "health": "/health",
            "metrics": "/metrics",
            "info": "/info",
            "audit": "/api/audit",
        },
        "tokenRequired": access.auth.enabled(),
        "user": {"name": &*user.name, "admin": user.admin},
        "tools": Tool::ALL.iter().map(|t| t.name()).collect::<Vec<_>>(),
    }))
}
