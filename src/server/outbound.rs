//! The writing half of a server WebSocket, shared by the task socket and the panel stream.
//! Messages wait in a bounded buffer and a writer task sends them, in one flush per burst. A
//! client that does not read fills the buffer and is disconnected instead of holding up the
//! executor or anyone else. The buffer is bounded twice: in messages, and in bytes (a few
//! full-page screenshots are as heavy as thousands of small messages).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures::stream::SplitSink;
use futures::SinkExt;
use prometheus_client::metrics::gauge::Gauge;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Why a connection ended, for the log.
pub type Disconnect = String;
pub const CLOSED_BY_CLIENT: &str = "closed by the client";
pub const SHUTTING_DOWN: &str = "server shutting down";

/// How much one connection may have waiting to be written.
#[derive(Debug, Clone, Copy)]
pub struct OutboundLimits {
    /// Messages.
    pub messages: usize,
    /// Bytes of their payloads. A single message larger than this still goes out when nothing
    /// else is waiting, so the bound of one connection is this or its largest message.
    pub bytes: usize,
}

/// The bytes waiting in one connection's buffer, and in every connection's (the gauge).
struct Account {
    queued: AtomicUsize,
    all: Gauge,
}

/// A message in the buffer; its bytes are counted until it is handed to the socket or dropped
/// (written, cut off with its connection, or refused).
struct Counted {
    message: Option<Message>,
    bytes: usize,
    account: Arc<Account>,
}

impl Counted {
    fn new(message: Message, account: &Arc<Account>) -> Counted {
        let bytes = size_of(&message);
        account.queued.fetch_add(bytes, Ordering::Relaxed);
        account.all.inc_by(bytes as i64);
        Counted {
            message: Some(message),
            bytes,
            account: account.clone(),
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.account.queued.fetch_sub(self.bytes, Ordering::Relaxed);
        self.account.all.dec_by(self.bytes as i64);
    }
}

fn size_of(message: &Message) -> usize {
    match message {
        Message::Text(text) => text.as_str().len(),
        Message::Binary(bytes) | Message::Ping(bytes) | Message::Pong(bytes) => bytes.len(),
        Message::Close(frame) => 2 + frame.as_ref().map_or(0, |f| f.reason.as_str().len()),
    }
}

pub struct Outbound {
    tx: Option<mpsc::Sender<Counted>>,
    limits: OutboundLimits,
    account: Arc<Account>,
    writer: JoinHandle<()>,
}

impl Outbound {
    /// Starts the writer. `all` is the gauge of bytes waiting in every connection's buffer.
    pub fn start(
        mut sink: SplitSink<WebSocket, Message>,
        limits: OutboundLimits,
        all: Gauge,
    ) -> Outbound {
        let (tx, mut rx) = mpsc::channel::<Counted>(limits.messages.max(1));
        let account = Arc::new(Account {
            queued: AtomicUsize::new(0),
            all,
        });
        let writer = tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut next = Some(first);
                while let Some(mut counted) = next {
                    let message = counted.message.take().expect("a queued message");
                    let closing = matches!(message, Message::Close(_));
                    let fed = sink.feed(message).await;
                    // Handed to the socket (or lost with it): no longer waiting here.
                    drop(counted);
                    if fed.is_err() {
                        return;
                    }
                    if closing {
                        let _ = sink.flush().await;
                        return;
                    }
                    next = rx.try_recv().ok();
                }
                if sink.flush().await.is_err() {
                    return;
                }
            }
        });
        Outbound {
            tx: Some(tx),
            limits,
            account,
            writer,
        }
    }

    /// Bytes waiting to be written on this connection.
    pub fn queued_bytes(&self) -> usize {
        self.account.queued.load(Ordering::Relaxed)
    }

    /// Queues a message without waiting: a full buffer means the client is not reading.
    pub fn push(&self, message: Message) -> Result<(), Disconnect> {
        let tx = self.tx.as_ref().ok_or("connection closed")?;
        let waiting = self.queued_bytes();
        let bytes = size_of(&message);
        if waiting > 0 && waiting + bytes > self.limits.bytes {
            return Err(format!(
                "too slow: {} bytes were waiting to be written (the limit is {} bytes)",
                waiting + bytes,
                self.limits.bytes
            ));
        }
        tx.try_send(Counted::new(message, &self.account))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => format!(
                    "too slow: {} messages were waiting to be written",
                    self.limits.messages
                ),
                mpsc::error::TrySendError::Closed(_) => "the connection broke".to_string(),
            })
    }

    pub fn send(&self, value: &Value) -> Result<(), Disconnect> {
        self.push(Message::Text(value.to_string().into()))
    }

    /// Ends the connection: an orderly end lets the writer flush what is queued (a close frame
    /// included) for up to two seconds; a slow or broken client is cut off now.
    pub async fn finish(mut self, reason: &str) {
        self.tx = None;
        if reason == SHUTTING_DOWN || reason == CLOSED_BY_CLIENT {
            let abort = self.writer.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), self.writer)
                .await
                .is_err()
            {
                abort.abort();
            }
        } else {
            self.writer.abort();
        }
    }
}
