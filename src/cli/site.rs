//! Serves fixtures/site on an ephemeral loopback port for `run` and the tests, plus four
//! dynamic routes: `/slow?ms=N` answers a page after N ms, `/status?code=N` answers status N
//! with no body, `/download` answers a file to save rather than a page, `/echo` answers a page
//! showing the request's headers and cookies (what the browser really sent).

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

/// A page listing the request's headers (`#headers`, one `name: value` a line, names lower
/// case and sorted) and its Cookie header (`#cookies`), also as JSON in `#json`.
async fn echo(headers: axum::http::HeaderMap) -> Html<String> {
    let mut lines: Vec<String> = headers
        .iter()
        .map(|(k, v)| format!("{}: {}", k.as_str(), v.to_str().unwrap_or("?")))
        .collect();
    lines.sort();
    let cookies = headers
        .get(axum::http::header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let json: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("?").into()))
        .collect();
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    Html(format!(
        "<!doctype html><title>Echo</title><link rel=\"icon\" href=\"data:,\">\
         <pre id=\"headers\">{}</pre><pre id=\"cookies\">{}</pre><pre id=\"json\">{}</pre>",
        escape(&lines.join("\n")),
        escape(cookies),
        escape(&serde_json::Value::Object(json).to_string())
    ))
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
            .route("/echo", get(echo))
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
