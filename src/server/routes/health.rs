//! `/health`: up when at least one instance is ready; the instances and their queues, which
//! runner answered, and what the cluster sharing its store has.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::server::AppState;

/// Up when at least one instance is ready.
#[utoipa::path(
    get, path = "/health", tag = "server", operation_id = "health",
    responses(
        (status = 200, description = "At least one instance is ready", body = crate::server::openapi::HealthResponse),
        (status = 503, description = "No instance is ready", body = crate::server::openapi::HealthResponse),
    )
)]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let instances = state.scheduler.instances().await;
    let cluster = state.scheduler.tasks().cluster().await.ok();
    let ready = instances.iter().filter(|i| i.status == "ready").count();
    let queued: usize = instances.iter().map(|i| i.queued).sum();
    let status = if ready > 0 {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready > 0 { "ok" } else { "unavailable" },
        "version": env!("CARGO_PKG_VERSION"),
        "instancesReady": ready,
        "queued": queued,
        "instances": instances,
        "node": state.scheduler.node().id,
        "store": state.scheduler.store_kind(),
        "cluster": cluster.map(|c| json!({"nodes": c.nodes, "instances": c.instances})),
    });
    (status, Json(body))
}
