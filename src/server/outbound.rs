//! The writing half of a server WebSocket, shared by the task socket and the panel stream.
//! Messages wait in a bounded buffer and a writer task sends them, in one flush per burst. A
//! client that does not read fills the buffer and is disconnected instead of holding up the
//! executor or anyone else.

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures::stream::SplitSink;
use futures::SinkExt;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Why a connection ended, for the log.
pub type Disconnect = String;
pub const CLOSED_BY_CLIENT: &str = "closed by the client";
pub const SHUTTING_DOWN: &str = "server shutting down";

pub struct Outbound {
    tx: Option<mpsc::Sender<Message>>,
    capacity: usize,
    writer: JoinHandle<()>,
}

impl Outbound {
    pub fn start(mut sink: SplitSink<WebSocket, Message>, capacity: usize) -> Outbound {
        let (tx, mut rx) = mpsc::channel::<Message>(capacity);
        let writer = tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut next = Some(first);
                while let Some(message) = next {
                    let closing = matches!(message, Message::Close(_));
                    if sink.feed(message).await.is_err() {
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
            capacity,
            writer,
        }
    }

    /// Queues a message without waiting: a full buffer means the client is not reading.
    pub fn push(&self, message: Message) -> Result<(), Disconnect> {
        let tx = self.tx.as_ref().ok_or("connection closed")?;
        tx.try_send(message).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => format!(
                "too slow: {} messages were waiting to be written",
                self.capacity
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
