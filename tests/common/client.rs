//! A real WebSocket client of the task protocol, and the servers tests talk to.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use browser_control::scheduler::Scheduler;
use browser_control::server::{Server, ServerConfig};
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for any one message: generous, for two loaded cores.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Starts a server on a free loopback port in front of `scheduler`.
pub async fn start_server(scheduler: &Scheduler, config: ServerConfig) -> Server {
    Server::start(config, scheduler.clone())
        .await
        .expect("server starts")
}

/// One server per test binary, in front of the shared browser; it lives until the process ends.
pub async fn shared_server() -> SocketAddr {
    static ADDR: tokio::sync::OnceCell<SocketAddr> = tokio::sync::OnceCell::const_new();
    *ADDR
        .get_or_init(|| async {
            start_server(&super::env().shared, loopback_config())
                .await
                .local_addr()
        })
        .await
}

pub fn loopback_config() -> ServerConfig {
    ServerConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..ServerConfig::default()
    }
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub welcome: Value,
    /// Messages read while waiting for a reply, handed out first by the next reads.
    backlog: std::collections::VecDeque<Value>,
}

impl Client {
    /// Connects to `ws://ADDR/` and reads the welcome.
    pub async fn connect(addr: SocketAddr) -> Client {
        Self::connect_with(addr, "", &[])
            .await
            .expect("WebSocket connects")
    }

    /// Connects with a query string (`?token=…`) and extra headers; the handshake error as text.
    pub async fn connect_with(
        addr: SocketAddr,
        query: &str,
        headers: &[(&'static str, &str)],
    ) -> Result<Client, String> {
        let mut client = Self::open(&format!("ws://{addr}/{query}"), headers).await?;
        client.welcome = client.recv().await;
        Ok(client)
    }

    /// Connects to the execution panel stream of `task_id` (it sends no welcome).
    pub async fn panel(addr: SocketAddr, task_id: &str) -> Client {
        Self::open(&format!("ws://{addr}/ws?taskId={task_id}"), &[])
            .await
            .expect("the panel stream connects")
    }

    /// [`Client::panel`] with a credential (`?token=`).
    pub async fn panel_with(addr: SocketAddr, task_id: &str, credential: &str) -> Client {
        Self::open(
            &format!("ws://{addr}/ws?taskId={task_id}&token={credential}"),
            &[],
        )
        .await
        .expect("the panel stream connects")
    }

    async fn open(url: &str, headers: &[(&'static str, &str)]) -> Result<Client, String> {
        let mut request = url.into_client_request().unwrap();
        for (name, value) in headers {
            request
                .headers_mut()
                .insert(*name, HeaderValue::from_str(value).unwrap());
        }
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| match e {
                tokio_tungstenite::tungstenite::Error::Http(response) => format!(
                    "HTTP {}: {}",
                    response.status(),
                    String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                ),
                other => other.to_string(),
            })?;
        Ok(Client {
            ws,
            welcome: Value::Null,
            backlog: Default::default(),
        })
    }

    pub async fn send(&mut self, message: Value) {
        self.send_text(&message.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("send");
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.ws
            .send(Message::Binary(bytes.into()))
            .await
            .expect("send");
    }

    /// The next JSON message (pings are answered by the library and skipped).
    pub async fn recv(&mut self) -> Value {
        self.try_recv()
            .await
            .unwrap_or_else(|e| panic!("no message: {e}"))
    }

    /// The next JSON message, or why there is none (closed, timed out).
    pub async fn try_recv(&mut self) -> Result<Value, String> {
        if let Some(message) = self.backlog.pop_front() {
            return Ok(message);
        }
        // One deadline for the message, however many pings come first.
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let next = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .map_err(|_| format!("nothing within {PATIENCE:?}"))?;
            match next {
                None => return Err("connection ended".into()),
                Some(Err(e)) => return Err(format!("connection failed: {e}")),
                Some(Ok(Message::Text(text))) => {
                    return Ok(serde_json::from_str(text.as_str()).expect("server sends JSON"))
                }
                Some(Ok(Message::Close(frame))) => return Err(format!("closed: {frame:?}")),
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Reads messages until one satisfies `done`; returns all of them, that one last.
    pub async fn recv_until(&mut self, done: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let message = self.try_recv().await.unwrap_or_else(|e| {
                panic!("{e}; received so far: {seen:#?}");
            });
            let stop = done(&message);
            seen.push(message);
            if stop {
                return seen;
            }
        }
    }

    /// Sends `message` and returns the first reply of type `reply_type`; messages read before
    /// it stay for the next reads.
    pub async fn request(&mut self, message: Value, reply_type: &str) -> Value {
        self.send(message).await;
        let mut seen = Vec::new();
        loop {
            let fresh = self.try_recv_fresh().await.unwrap_or_else(|e| {
                panic!("no {reply_type}: {e}; received meanwhile: {seen:#?}");
            });
            if fresh["type"] == reply_type {
                self.backlog.extend(seen);
                return fresh;
            }
            seen.push(fresh);
        }
    }

    /// Like `try_recv`, but from the connection only (not the backlog).
    async fn try_recv_fresh(&mut self) -> Result<Value, String> {
        let backlog = std::mem::take(&mut self.backlog);
        let next = self.try_recv().await;
        self.backlog = backlog;
        next
    }

    /// Submits and returns the accepted task id.
    pub async fn submit(&mut self, submission: Value) -> String {
        let mut message = submission;
        message["type"] = "task_submit".into();
        let reply = self.request(message, "task_submit_response").await;
        assert_eq!(reply["status"], "accepted", "{reply}");
        reply["taskId"].as_str().unwrap().to_string()
    }

    /// Reads until the task_complete of `task_id`; returns every message read.
    pub async fn until_complete(&mut self, task_id: &str) -> Vec<Value> {
        self.recv_until(|m| m["type"] == "task_complete" && m["taskId"] == task_id)
            .await
    }

    /// Messages read but not yet handed out.
    pub fn backlog(&self) -> Vec<Value> {
        self.backlog.iter().cloned().collect()
    }

    /// The raw stream, for tests that read frames themselves.
    pub fn raw(&mut self) -> &mut WebSocketStream<MaybeTlsStream<TcpStream>> {
        &mut self.ws
    }
}

/// An ISO-8601 UTC timestamp with milliseconds, as the spec's examples write them.
pub fn is_iso(value: &Value) -> bool {
    let Some(s) = value.as_str() else {
        return false;
    };
    let b = s.as_bytes();
    s.len() == 24
        && s.ends_with('Z')
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && s.starts_with("20")
}
