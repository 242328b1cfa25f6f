//! One connection of the execution panel stream (execution-panel-protocol.md): everything that
//! happens to one task, rendered by [`PanelView`]. It first sends the task as it stands, so a
//! panel opened late shows the whole task; a panel may also connect before its task exists and
//! hears from it once it is submitted.

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::StreamExt;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use super::outbound::{Disconnect, Outbound, CLOSED_BY_CLIENT, SHUTTING_DOWN};
use super::panel::PanelView;
use super::AppState;
use crate::events::{Event, EventKind};
use crate::scheduler::Caller;
use crate::task::{Door, User};

/// `user`'s panel: another user's task shows nothing, as an unknown one would.
pub async fn serve(socket: WebSocket, state: AppState, task_id: String, user: User) {
    state.metrics.clients.inc();
    let caller = state.scheduler.as_user(user, Door::Websocket);
    let reason = run(socket, &state, &caller, &task_id).await;
    state.metrics.clients.dec();
    if reason == CLOSED_BY_CLIENT || reason == SHUTTING_DOWN {
        tracing::debug!(task = %task_id, "panel disconnected: {reason}");
    } else {
        tracing::warn!(task = %task_id, "panel disconnected: {reason}");
    }
}

async fn run(socket: WebSocket, state: &AppState, caller: &Caller, task_id: &str) -> Disconnect {
    let limits = &state.limits;
    let (sink, mut stream) = socket.split();
    let out = Outbound::start(
        sink,
        limits.outbound(),
        state.metrics.outbound_bytes.clone(),
    );
    let mut panel = Panel {
        caller,
        task_id,
        view: PanelView::default(),
        out: &out,
    };
    // Subscribed before reading the record: nothing between the two is missed.
    let mut events = state.scheduler.events().subscribe();
    let mut ping =
        tokio::time::interval_at(Instant::now() + limits.ping_interval, limits.ping_interval);
    let mut last_heard = Instant::now();
    let ended = match panel.sync().await {
        Err(reason) => reason,
        Ok(()) => loop {
            tokio::select! {
                _ = state.closing.cancelled() => {
                    // Every task has finished by now: the record holds the end of this one.
                    let _ = panel.sync().await;
                    let _ = out.push(Message::Close(Some(CloseFrame {
                        code: axum::extract::ws::close_code::AWAY,
                        reason: SHUTTING_DOWN.into(),
                    })));
                    break SHUTTING_DOWN.to_string();
                }
                incoming = stream.next() => {
                    last_heard = Instant::now();
                    match incoming {
                        None | Some(Ok(Message::Close(_))) => break CLOSED_BY_CLIENT.into(),
                        Some(Err(e)) => break format!("read failed: {e}"),
                        // The panel protocol has nothing for clients to say.
                        Some(Ok(_)) => {}
                    }
                }
                event = events.recv() => {
                    let sent = match event {
                        Ok(event) => panel.on_event(&event).await,
                        // Missed events are no loss: the record has their outcome.
                        Err(RecvError::Lagged(_)) => panel.sync().await,
                        Err(RecvError::Closed) => Err("the scheduler stopped".into()),
                    };
                    if let Err(reason) = sent {
                        break reason;
                    }
                }
                _ = ping.tick() => {
                    let silent = last_heard.elapsed();
                    if silent > limits.ping_interval * 2 {
                        break format!("no answer to pings for {} s", silent.as_secs());
                    }
                    if let Err(reason) = out.push(Message::Ping(Vec::new().into())) {
                        break reason;
                    }
                }
            }
        },
    };
    out.finish(&ended).await;
    ended
}

struct Panel<'a> {
    caller: &'a Caller,
    task_id: &'a str,
    view: PanelView,
    out: &'a Outbound,
}

impl Panel<'_> {
    /// Sends whatever the task's record shows that this panel has not seen yet.
    async fn sync(&mut self) -> Result<(), Disconnect> {
        let messages = match self.caller.get(self.task_id).await {
            Some(task) => self.view.update(&task),
            None => Vec::new(),
        };
        self.send_all(messages)
    }

    async fn on_event(&mut self, event: &Event) -> Result<(), Disconnect> {
        if event.kind.task_id() != Some(self.task_id) {
            return Ok(());
        }
        match &event.kind {
            // Carries the final record: the store may already have evicted it.
            EventKind::TaskFinished { task } => {
                if !self.caller.user().may_see(&task.owner) {
                    return Ok(());
                }
                let messages = self.view.update(task);
                self.send_all(messages)
            }
            EventKind::External {
                index: Some(index),
                update,
                ..
            } => {
                let messages = match self.caller.get(self.task_id).await {
                    Some(task) if *index < task.commands.len() => {
                        self.view.external(&task, *index, update, event.at)
                    }
                    _ => Vec::new(),
                };
                self.send_all(messages)
            }
            EventKind::FailureScreenshot { index, png, .. } => {
                let messages = match self.caller.get(self.task_id).await {
                    Some(task) => self.view.failure_screenshot(&task, *index, png),
                    None => Vec::new(),
                };
                self.send_all(messages)
            }
            _ => self.sync().await,
        }
    }

    fn send_all(&self, messages: Vec<serde_json::Value>) -> Result<(), Disconnect> {
        messages.iter().try_for_each(|m| self.out.send(m))
    }
}
