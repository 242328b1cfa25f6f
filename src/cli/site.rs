//! Serves fixtures/site on an ephemeral loopback port for `run` and the tests, plus three
//! dynamic routes: `/slow?ms=N` answers a page after N ms, `/status?code=N` answers status N
//! with no body, `/download` answers a file to save rather than a page.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use axum::extract::Query;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower_http::services::ServeDir;

/// A running fixture server; stops when dropped.
pub struct SiteServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

#[derive(serde::Deserialize)]
struct SlowParams {
    #[serde(default)]
    ms: u64,
}

async fn slow(Query(p): Query<SlowParams>) -> Html<String> {
    let ms = p.ms.min(120_000);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Html(format!(
        "<!doctype html><title>Slow</title><link rel=\"icon\" href=\"data:,\"><h1 id=\"slow\">Answered after {ms} ms</h1>"
    ))
}

#[derive(serde::Deserialize)]
struct StatusParams {
    code: u16,
}

async fn status(Query(p): Query<StatusParams>) -> axum::http::StatusCode {
    axum::http::StatusCode::from_u16(p.code).unwrap_or(axum::http::StatusCode::BAD_REQUEST)
}

async fn download() -> impl axum::response::IntoResponse {
    (
        [
            (axum::http::header::CONTENT_TYPE, "application/octet-stream"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"report.bin\"",
            ),
        ],
        vec![0u8; 1024],
    )
}

impl SiteServer {
    /// Serves `root` on 127.0.0.1 at a port the OS picks.
    pub async fn start(root: &Path) -> std::io::Result<SiteServer> {
        if !root.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("fixture site folder {} does not exist", root.display()),
            ));
        }
        let app = Router::new()
            .route("/slow", get(slow))
            .route("/status", get(status))
            .route("/download", get(download))
            .fallback_service(ServeDir::new(root));
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("fixture server stopped: {e}");
            }
        });
        Ok(SiteServer { addr, task })
    }

    /// `http://127.0.0.1:PORT`, no trailing slash: what `{{base_url}}` becomes.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for SiteServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
