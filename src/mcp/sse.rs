//! The legacy MCP transport (HTTP+SSE, protocol revision 2024-11-05), which rmcp no longer
//! serves: `GET /sse` opens an event stream whose first event, `endpoint`, names the URL to
//! POST messages to (`/message?sessionId=ID`); each POSTed JSON-RPC message is answered
//! `202 Accepted`, and the server's messages come down the stream as `message` events.
//!
//! The adapter is a channel-backed rmcp [`Transport`] serving the same handler as the other
//! transports. The session lives as long as its stream: when the client goes away, the stream
//! is dropped, the handler stops, and the session's browser is closed.

use std::collections::HashMap;
use std::convert::Infallible;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Extension;
use axum::Router;
use futures::Stream;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::RoleServer;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{BrowserMcp, McpLimits, McpOptions, SessionSlots};
use crate::scheduler::Scheduler;
use crate::server::error::ApiError;
use crate::task::User;

/// Messages waiting in either direction of one session.
const CHANNEL: usize = 64;

/// A transport made of two channels: what the client POSTs comes in on one, what the server
/// sends goes out on the other, to the event stream.
pub struct ChannelTransport {
    incoming: mpsc::Receiver<ClientJsonRpcMessage>,
    outgoing: mpsc::Sender<ServerJsonRpcMessage>,
}

impl ChannelTransport {
    pub fn new(
        incoming: mpsc::Receiver<ClientJsonRpcMessage>,
        outgoing: mpsc::Sender<ServerJsonRpcMessage>,
    ) -> Self {
        ChannelTransport { incoming, outgoing }
    }
}

impl Transport<RoleServer> for ChannelTransport {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send + 'static {
        let outgoing = self.outgoing.clone();
        async move {
            outgoing.send(item).await.map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "the SSE stream of this session is closed",
                )
            })
        }
    }

    fn receive(
        &mut self,
    ) -> impl std::future::Future<Output = Option<RxJsonRpcMessage<RoleServer>>> + Send {
        self.incoming.recv()
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.incoming.close();
        Ok(())
    }
}

/// The open SSE sessions, by id.
pub struct SseHub {
    scheduler: Scheduler,
    options: McpOptions,
    limits: McpLimits,
    /// The server's open MCP sessions, these and the streamable HTTP ones.
    slots: Arc<SessionSlots>,
    /// Each session's way in, and the user it belongs to (only they may post to it).
    sessions: Mutex<HashMap<String, (mpsc::Sender<ClientJsonRpcMessage>, User)>>,
    /// Cancelled at shutdown: every stream ends.
    closing: CancellationToken,
}

impl SseHub {
    pub fn new(
        scheduler: Scheduler,
        options: McpOptions,
        limits: McpLimits,
        slots: Arc<SessionSlots>,
        closing: CancellationToken,
    ) -> Self {
        SseHub {
            scheduler,
            options,
            limits,
            slots,
            sessions: Mutex::new(HashMap::new()),
            closing,
        }
    }

    /// Open sessions (for tests and diagnostics).
    pub fn session_count(&self) -> usize {
        self.sessions.lock().unwrap().len()
    }
}

/// `GET /sse` and `POST /message`, ready to merge into the server's router.
pub fn router<S>(hub: Arc<SseHub>) -> Router<S> {
    Router::new()
        .route("/sse", get(connect))
        .route("/message", post(message))
        .with_state(hub)
}

fn session_id() -> String {
    let random = || {
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    };
    format!("{:016x}{:016x}", random(), random())
}

/// Ends the session when its stream is dropped (the client left, or the server is closing).
struct StreamGuard {
    hub: Arc<SseHub>,
    id: String,
    stop: CancellationToken,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.hub.sessions.lock().unwrap().remove(&self.id);
        self.stop.cancel();
        tracing::info!("MCP SSE session {} ended", self.id);
    }
}

#[derive(Deserialize)]
struct ConnectQuery {
    token: Option<String>,
}

async fn connect(
    State(hub): State<Arc<SseHub>>,
    Extension(user): Extension<User>,
    Query(query): Query<ConnectQuery>,
) -> Response {
    match hub.slots.try_take() {
        Ok(slot) => open(hub, user, query, slot).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

fn open(
    hub: Arc<SseHub>,
    user: User,
    query: ConnectQuery,
    slot: super::SessionSlot,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let id = session_id();
    let (to_server, incoming) = mpsc::channel(CHANNEL);
    let (outgoing, mut to_client) = mpsc::channel(CHANNEL);
    hub.sessions
        .lock()
        .unwrap()
        .insert(id.clone(), (to_server, user.clone()));
    let stop = hub.closing.child_token();
    let handler =
        BrowserMcp::with_limits(hub.scheduler.clone(), hub.options, hub.limits, Some(slot))
            .for_user(user);
    let transport = ChannelTransport::new(incoming, outgoing);
    {
        let (stop, id) = (stop.clone(), id.clone());
        tokio::spawn(async move {
            match rmcp::service::serve_server_with_ct(handler, transport, stop).await {
                Ok(running) => {
                    let _ = running.waiting().await;
                }
                Err(e) => tracing::info!("MCP SSE session {id} did not initialize: {e}"),
            }
        });
    }
    // A client that authenticated with `?token=` gets it back in the URL it must POST to.
    let mut endpoint = format!("/message?sessionId={id}");
    if let Some(token) = query.token {
        if let Ok(pair) = serde_urlencoded::to_string([("token", token)]) {
            endpoint += "&";
            endpoint += &pair;
        }
    }
    tracing::info!("MCP SSE session {id} opened");
    let guard = StreamGuard {
        hub: hub.clone(),
        id,
        stop: stop.clone(),
    };
    let stream = async_stream::stream! {
        let _guard = guard;
        yield Ok(Event::default().event("endpoint").data(endpoint));
        loop {
            tokio::select! {
                message = to_client.recv() => match message {
                    Some(message) => match serde_json::to_string(&message) {
                        Ok(json) => yield Ok(Event::default().event("message").data(json)),
                        Err(e) => tracing::warn!("MCP message not serializable: {e}"),
                    },
                    None => break,
                },
                _ = stop.cancelled() => break,
            }
        }
    };
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

#[derive(Deserialize)]
struct MessageQuery {
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
}

async fn message(
    State(hub): State<Arc<SseHub>>,
    Extension(user): Extension<User>,
    Query(query): Query<MessageQuery>,
    body: axum::body::Bytes,
) -> Response {
    let Some(id) = query.session_id else {
        return ApiError::bad_request("sessionId is required: POST to the endpoint /sse named")
            .into_response();
    };
    let session = hub.sessions.lock().unwrap().get(&id).cloned();
    // Another user's session answers as an unknown one.
    let sender = session
        .filter(|(_, owner)| owner.name == user.name)
        .map(|(sender, _)| sender);
    let Some(sender) = sender else {
        return ApiError::not_found(format!("Unknown session: {id}")).into_response();
    };
    let message: ClientJsonRpcMessage = match serde_json::from_slice(&body) {
        Ok(message) => message,
        Err(e) => {
            return ApiError::bad_request(format!("not a JSON-RPC message of MCP: {e}"))
                .into_response()
        }
    };
    match sender.send(message).await {
        Ok(()) => (StatusCode::ACCEPTED, "Accepted").into_response(),
        Err(_) => ApiError::new(StatusCode::GONE, "GONE", format!("Session {id} has ended"))
            .into_response(),
    }
}
