//! The writing half of a server WebSocket, shared by the task socket and the panel stream.
//! Messages wait in a bounded buffer and a writer task sends them, in one flush per burst. A
//! client that does not read fills the buffer and is disconnected instead of holding up the
//! executor or anyone else. The buffer is bounded twice: in messages, and in bytes (a few
//! full-page screenshots are as heavy as thousands of small messages).

use std::collections::VecDeque;
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
    /// Bytes of their payloads, behind the message being written. A single message larger
    /// than this still goes out when nothing else is waiting, so one connection holds at most
    /// this plus the message it is writing, or one message larger than this.
    pub bytes: usize,
}

/// The bytes one connection holds: waiting in its buffer (against the limit), and everything
/// not yet written, in every connection's gauge.
struct Account {
    waiting: AtomicUsize,
    all: Gauge,
}

/// A message of one connection: its bytes count as waiting until the sink takes it, and in the
/// gauge until it is known written or is dropped (cut off with its connection, or refused).
struct Counted {
    message: Option<Message>,
    bytes: usize,
    waiting: bool,
    account: Arc<Account>,
}

impl Counted {
    fn new(message: Message, account: &Arc<Account>) -> Counted {
        let bytes = size_of(&message);
        account.waiting.fetch_add(bytes, Ordering::Relaxed);
        account.all.inc_by(bytes as i64);
        Counted {
            message: Some(message),
            bytes,
            waiting: true,
            account: account.clone(),
        }
    }

    /// The sink has it: it no longer waits behind the others.
    fn hand_over(&mut self) {
        if std::mem::take(&mut self.waiting) {
            self.account
                .waiting
                .fetch_sub(self.bytes, Ordering::Relaxed);
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.hand_over();
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
            waiting: AtomicUsize::new(0),
            all,
        });
        let writer = tokio::spawn(async move {
            // Messages handed to the sink but maybe not written yet: the split sink keeps one
            // and the WebSocket library buffers the one before, until a flush. They stay in
            // the gauge (they are memory held for this client), not in the limit, which
            // bounds what waits behind them.
            let mut in_flight: VecDeque<Counted> = VecDeque::new();
            while let Some(first) = rx.recv().await {
                let mut next = Some(first);
                while let Some(mut counted) = next {
                    let message = counted.message.take().expect("a queued message");
                    let closing = matches!(message, Message::Close(_));
                    let fed = sink.feed(message).await;
                    counted.hand_over();
                    in_flight.push_back(counted);
                    if in_flight.len() > 2 {
                        in_flight.pop_front();
                    }
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
                in_flight.clear();
            }
        });
        Outbound {
            tx: Some(tx),
            limits,
            account,
            writer,
        }
    }

    /// Bytes waiting behind the message being written on this connection.
    pub fn waiting_bytes(&self) -> usize {
        self.account.waiting.load(Ordering::Relaxed)
    }

    /// Queues a message without waiting: a full buffer means the client is not reading.
    pub fn push(&self, message: Message) -> Result<(), Disconnect> {
        let tx = self.tx.as_ref().ok_or("connection closed")?;
        let waiting = self.waiting_bytes();
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
