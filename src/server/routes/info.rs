//! `/info`: what this server is and where its doors are.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use serde_json::{json, Value};

use crate::server::security::Access;
use crate::task::Tool;

/// What this server is and where its doors are.
#[utoipa::path(
    get, path = "/info", tag = "server", operation_id = "info",
    responses((status = 200, description = "The server", body = crate::server::openapi::InfoResponse))
)]
pub async fn info(Extension(access): Extension<Arc<Access>>) -> Json<Value> {
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
            "tasks": "/tasks",
            "instances": "/instances",
            "health": "/health",
            "metrics": "/metrics",
            "info": "/info",
        },
        "tokenRequired": access.token.is_some(),
        "tools": Tool::ALL.iter().map(|t| t.name()).collect::<Vec<_>>(),
    }))
}
