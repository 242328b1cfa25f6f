//! `browser-control serve`: the task WebSocket protocol and the HTTP routes on one port. A door
//! like the others: it translates requests into scheduler calls and renders its events.

pub mod agent;
pub mod error;
pub mod external;
pub mod http_errors;
pub mod metrics;
pub mod openapi;
pub mod outbound;
pub mod panel;
pub mod panel_socket;
pub mod protocol;
pub mod rate_limit;
pub mod redact;
pub mod routes;
pub mod security;
pub mod task_socket;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::mcp::sse::SseHub;
use crate::mcp::{BrowserMcp, McpLimits, McpOptions, SessionSlots};
use crate::scheduler::Scheduler;
use metrics::Metrics;
use rate_limit::{RateLimitConfig, RateLimiter};
use security::Access;
pub use task_socket::SocketLimits;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `127.0.0.1:3400` by default; port 0 picks a free one (tests).
    pub listen: SocketAddr,
    pub allow_origins: Vec<String>,
    /// The one shared token (single-user mode). Off loopback, this or another mode is required.
    pub token: Option<String>,
    /// JWT validation (`--jwt-secret`, `--jwt-key`).
    pub jwt: crate::auth::JwtConfig,
    /// Accept API keys from the task store even with no other mode on.
    pub api_keys: bool,
    pub limits: SocketLimits,
    /// How MCP sessions (`/mcp`, `/sse`) get their browsers.
    pub mcp: McpOptions,
    /// How many MCP sessions, and instances per session, may be open at once.
    pub mcp_limits: McpLimits,
    /// Requests per user and per client IP (REST requests, task WebSocket submits); off by
    /// default.
    pub rate_limit: RateLimitConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 3400)),
            allow_origins: Vec::new(),
            token: None,
            jwt: crate::auth::JwtConfig {
                role_claim: "role".into(),
                ..Default::default()
            },
            api_keys: false,
            limits: SocketLimits::default(),
            mcp: McpOptions::default(),
            mcp_limits: McpLimits::default(),
            rate_limit: RateLimitConfig::default(),
        }
    }
}

/// What every handler gets.
#[derive(Clone)]
pub struct AppState {
    pub scheduler: Scheduler,
    pub metrics: Arc<Metrics>,
    pub limits: SocketLimits,
    /// Cancelled at shutdown, after the scheduler has finished every task: sockets deliver
    /// what is left and close.
    pub closing: CancellationToken,
    /// The open WebSocket sessions, waited for at shutdown.
    pub sessions: TaskTracker,
    /// The legacy MCP SSE sessions.
    pub sse: Arc<SseHub>,
    /// Open MCP sessions (both transports), against their limit.
    pub mcp_sessions: Arc<SessionSlots>,
    /// The rate limits, when there are any (counted in this process only).
    pub rate_limit: Option<Arc<RateLimiter>>,
}

/// A running server. Dropping it does not stop it: call [`Server::shutdown`].
pub struct Server {
    addr: SocketAddr,
    state: AppState,
    stop_accepting: CancellationToken,
    http: JoinHandle<std::io::Result<()>>,
    metrics_task: JoinHandle<()>,
    /// Ends the streamable HTTP MCP sessions.
    mcp_closing: CancellationToken,
    /// Which credentials are accepted, for the start-up line.
    auth: String,
}

impl Server {
    /// Binds and starts serving. Refuses a non-loopback address without a token, and a token
    /// that cannot be used (blank, padded with white space).
    pub async fn start(config: ServerConfig, scheduler: Scheduler) -> anyhow::Result<Server> {
        if let Some(token) = &config.token {
            security::check_token(token).map_err(|e| anyhow::anyhow!("--token: {e}"))?;
        }
        let loopback = config.listen.ip().is_loopback();
        let auth = crate::auth::Authenticator::new(
            &crate::auth::AuthConfig {
                token: config.token.clone(),
                jwt: config.jwt.clone(),
                api_keys: config.api_keys,
            },
            scheduler.accounts(),
        )?;
        if !loopback && !auth.enabled() {
            anyhow::bail!(
                "listening on {} (not loopback) needs authentication: pass --token (or set \
                 BROWSER_CONTROL_TOKEN), --jwt-secret, --jwt-key or --api-keys",
                config.listen
            );
        }
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
        let addr = listener.local_addr()?;
        // External apps reach their channel here (loopback binds are named as such; a wildcard
        // bind by its loopback address, which is the one the instances' pages can reach).
        let app_host = match addr.ip() {
            ip if ip.is_unspecified() => SocketAddr::from(([127, 0, 0, 1], addr.port())),
            _ => addr,
        };
        scheduler.external().set_base(format!("ws://{app_host}"));
        let closing = CancellationToken::new();
        let metrics = Arc::new(Metrics::new());
        let mcp_sessions =
            SessionSlots::new(config.mcp_limits.max_sessions, metrics.mcp_sessions.clone());
        let sse = SseHub::new(
            scheduler.clone(),
            config.mcp,
            config.mcp_limits,
            mcp_sessions.clone(),
            closing.clone(),
        );
        let rate_limit =
            RateLimiter::new(&config.rate_limit, metrics.rate_limited.clone()).map(Arc::new);
        let state = AppState {
            scheduler: scheduler.clone(),
            metrics,
            limits: config.limits.clone(),
            closing,
            sessions: TaskTracker::new(),
            sse: Arc::new(sse),
            mcp_sessions: mcp_sessions.clone(),
            rate_limit,
        };
        let auth_description = auth.describe();
        if let Some(limiter) = &state.rate_limit {
            limiter.spawn_retain(state.closing.clone());
        }
        let access = Arc::new(Access {
            allow_origins: config.allow_origins.clone(),
            auth,
            loopback,
        });
        let mcp_closing = CancellationToken::new();
        let mcp = mcp_http_service(
            scheduler.clone(),
            config.mcp,
            config.mcp_limits,
            mcp_sessions,
            mcp_closing.clone(),
        );
        let app = router(state.clone(), access, config.limits.max_message_bytes, mcp);
        let stop_accepting = CancellationToken::new();
        let stop = stop_accepting.clone();
        // Without TCP_NODELAY, a reply written in pieces waits ~40 ms for a delayed ACK.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!("cannot set TCP_NODELAY: {e}");
            }
        });
        let http = tokio::spawn(async move {
            // The peer's address reaches handlers as `ConnectInfo<SocketAddr>` (rate limits).
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
        });
        let metrics_task = {
            let (metrics, closing) = (state.metrics.clone(), state.closing.clone());
            tokio::spawn(async move { metrics.record(scheduler, closing).await })
        };
        Ok(Server {
            addr,
            state,
            stop_accepting,
            http,
            metrics_task,
            mcp_closing,
            auth: auth_description,
        })
    }

    /// A server on a free loopback port for the external steps' channels of a process that
    /// serves nothing else (`run`, MCP over stdio): every other route needs a random token
    /// nobody is given.
    pub async fn for_external_apps(scheduler: Scheduler) -> anyhow::Result<Server> {
        let mut secret = [0u8; 16];
        getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
        let token: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        let config = ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: Some(token),
            ..ServerConfig::default()
        };
        Server::start(config, scheduler).await
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Which credentials are accepted (`none (one local user)`, `JWTs, API keys`, ...).
    pub fn auth_description(&self) -> &str {
        &self.auth
    }

    /// Open legacy SSE MCP sessions.
    pub fn sse_sessions(&self) -> usize {
        self.state.sse.session_count()
    }

    /// Open MCP sessions, streamable HTTP and SSE.
    pub fn mcp_sessions(&self) -> usize {
        self.state.mcp_sessions.open()
    }

    /// Stops accepting, cancels every task (subscribers receive their task_complete),
    /// closes every browser, then closes the sockets.
    pub async fn shutdown(self) {
        self.stop_accepting.cancel();
        self.state.scheduler.shutdown().await;
        self.mcp_closing.cancel();
        self.state.closing.cancel();
        self.state.sessions.close();
        if tokio::time::timeout(Duration::from_secs(5), self.state.sessions.wait())
            .await
            .is_err()
        {
            tracing::warn!("some WebSocket sessions did not close within 5 s");
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), self.http).await;
        let _ = self.metrics_task.await;
    }
}

/// MCP's streamable HTTP transport (rmcp's), one handler per session. Sessions are stateful:
/// each owns its browser, and holds one of the server's session places. rmcp's own Host check
/// is off: the server's guard (Origin, Host, token) stands in front of every route, this one
/// included.
fn mcp_http_service(
    scheduler: Scheduler,
    options: McpOptions,
    limits: McpLimits,
    slots: Arc<SessionSlots>,
    closing: CancellationToken,
) -> rmcp::transport::StreamableHttpService<
    BrowserMcp,
    rmcp::transport::streamable_http_server::session::local::LocalSessionManager,
> {
    use rmcp::transport::streamable_http_server::StreamableHttpServerConfig;
    rmcp::transport::StreamableHttpService::new(
        move || {
            // `gate` refuses first, in the error shape; this only settles a race for the last
            // place.
            let slot = slots
                .try_take()
                .map_err(|e| std::io::Error::other(e.message))?;
            Ok(BrowserMcp::with_limits(
                scheduler.clone(),
                options,
                limits,
                Some(slot),
            ))
        },
        Default::default(),
        StreamableHttpServerConfig::default()
            .disable_allowed_hosts()
            .with_cancellation_token(closing),
    )
}

fn router(
    state: AppState,
    access: Arc<Access>,
    max_body: usize,
    mcp: rmcp::transport::StreamableHttpService<
        BrowserMcp,
        rmcp::transport::streamable_http_server::session::local::LocalSessionManager,
    >,
) -> Router {
    use routes::{audit, dashboard, health, info, instances, metrics, panel, root, tasks, tools};
    Router::new()
        .route("/", get(root::root))
        .route("/ws", get(panel::panel))
        .route("/dashboard.js", get(dashboard::script))
        .route("/dashboard.css", get(dashboard::style))
        .route("/tasks", get(tasks::list).post(tasks::submit))
        .route("/tasks/{id}", get(tasks::get).delete(tasks::cancel))
        .route(
            "/tasks/{id}/cancel",
            axum::routing::post(tasks::cancel_by_post),
        )
        .route("/instances", get(instances::list).post(instances::create))
        .route("/instances/{id}", axum::routing::delete(instances::close))
        .route("/health", get(health::health))
        .route("/metrics", get(metrics::metrics))
        .route_service("/mcp", mcp)
        .merge(crate::mcp::sse::router(state.sse.clone()))
        .route("/api/tools", get(tools::list))
        .route("/api/tools/{name}", axum::routing::post(tools::run))
        .route("/info", get(info::info))
        .route("/api/audit", get(audit::list))
        .merge(openapi::router())
        .merge(agent::router())
        .merge(external::router())
        .layer(axum::Extension(access.clone()))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(
            state.mcp_sessions.clone(),
            crate::mcp::gate,
        ))
        // After the guard has named the user; inside CORS, so pages can read a 429.
        .layer(axum::middleware::from_fn_with_state(
            state.rate_limit.clone(),
            rate_limit::limit_requests,
        ))
        .layer(security::cors(access.clone()))
        // A refused request reaches nothing else.
        .layer(axum::middleware::from_fn_with_state(
            access,
            security::guard,
        ))
        // The body is read (or found too large) before anyone answers, so no answer is lost
        // to a connection reset under a client still sending.
        .layer(axum::middleware::from_fn_with_state(
            max_body,
            http_errors::read_body,
        ))
        // Outermost: every error, whoever answered it, in the one shape.
        .layer(axum::middleware::from_fn(http_errors::shape_errors))
        .with_state(state)
}
