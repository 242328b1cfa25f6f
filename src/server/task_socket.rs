//! One connection of the task WebSocket protocol (task-websocket-protocol.md). It translates
//! client messages into scheduler calls and renders the scheduler's events for the tasks and
//! instances the client subscribed to. Replies and events leave through a bounded buffer: a
//! client that cannot keep up is disconnected, so it never slows the executor or anyone else.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::time::Instant;

use super::outbound::{Disconnect, Outbound, OutboundLimits, CLOSED_BY_CLIENT, SHUTTING_DOWN};
use super::protocol::{self, ClientMessage};
use super::AppState;
use crate::events::{Event, EventKind};
use crate::scheduler::{catch_up, Caller, Seen, TaskFilter, Visible};
use crate::task::{Door, User};
use crate::wire;

/// Limits of one connection.
#[derive(Debug, Clone)]
pub struct SocketLimits {
    /// How often the server pings; a client silent for two intervals is dropped.
    pub ping_interval: Duration,
    /// Messages waiting to be written before the client counts as too slow.
    pub outbound_buffer: usize,
    /// Bytes waiting to be written before the client counts as too slow (a single larger
    /// message still goes out when nothing else waits).
    pub outbound_bytes: usize,
    /// Larger text messages are refused with an error (the connection stays usable).
    pub max_message_bytes: usize,
}

impl Default for SocketLimits {
    fn default() -> Self {
        SocketLimits {
            ping_interval: Duration::from_secs(20),
            outbound_buffer: 1024,
            outbound_bytes: 16 << 20,
            max_message_bytes: 1 << 20,
        }
    }
}

impl SocketLimits {
    /// The bounds of one connection's outgoing buffer.
    pub fn outbound(&self) -> OutboundLimits {
        OutboundLimits {
            messages: self.outbound_buffer,
            bytes: self.outbound_bytes,
        }
    }
}

/// Task ids whose `task_complete` went out ahead of their `TaskFinished` event (a subscription
/// to a task that had already finished): that event, if still in the connection's stream, is
/// skipped. Only the latest few are kept; the event of an older one is long gone.
const TOLD_ENDED_KEPT: usize = 64;

pub async fn serve(socket: WebSocket, state: AppState, user: User, peer: IpAddr) {
    let session_id = new_session_id();
    let caller = state.scheduler.as_user(user, Door::Websocket);
    state.metrics.clients.inc();
    tracing::debug!(session = %session_id, "connected");
    let reason = Session {
        id: session_id.clone(),
        state: state.clone(),
        caller,
        visible: Visible::default(),
        tasks: HashSet::new(),
        told_ended: VecDeque::new(),
        seen: HashMap::new(),
        instances: HashSet::new(),
        counted: 0,
        out: None,
        peer,
    }
    .run(socket)
    .await;
    state.metrics.clients.dec();
    if reason == CLOSED_BY_CLIENT || reason == SHUTTING_DOWN {
        tracing::debug!(session = %session_id, "disconnected: {reason}");
    } else {
        tracing::warn!(session = %session_id, "disconnected: {reason}");
    }
}

fn new_session_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    format!(
        "session_{:x}-{:x}",
        crate::task::now_ms(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

struct Session {
    id: String,
    state: AppState,
    /// The scheduler as this connection's user sees it.
    caller: Caller,
    /// Which tasks' events on subscribed instances this user may hear.
    visible: Visible,
    /// Subscribed tasks that have not finished yet; each leaves with its task's end.
    tasks: HashSet<String>,
    /// Tasks whose task_complete went out ahead of their event (at most [`TOLD_ENDED_KEPT`]).
    told_ended: VecDeque<String>,
    /// What each subscribed task's client has been told: after falling behind the event
    /// stream, the rest is told from the record instead of dropping the connection.
    seen: HashMap<String, Seen>,
    /// Subscribed instances; each leaves when its instance is closed.
    instances: HashSet<String>,
    /// What this session adds to the subscriptions gauge.
    counted: i64,
    out: Option<Outbound>,
    /// Where the client connects from (rate limits).
    peer: IpAddr,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.state.metrics.subscriptions.dec_by(self.counted);
    }
}

impl Session {
    async fn run(mut self, socket: WebSocket) -> Disconnect {
        let limits = self.state.limits.clone();
        let (sink, mut stream) = socket.split();
        self.out = Some(Outbound::start(
            sink,
            limits.outbound(),
            self.state.metrics.outbound_bytes.clone(),
        ));
        // Subscribed before the welcome: nothing that happens after it is missed.
        let mut events = self.state.scheduler.events().subscribe();
        let closing = self.state.closing.clone();
        let mut ping =
            tokio::time::interval_at(Instant::now() + limits.ping_interval, limits.ping_interval);
        let mut last_heard = Instant::now();

        let welcome = json!({
            "type": "welcome",
            "sessionId": self.id,
            "serverVersion": env!("CARGO_PKG_VERSION"),
        });
        let ended = match self.send(welcome) {
            Err(reason) => reason,
            Ok(()) => loop {
                tokio::select! {
                    _ = closing.cancelled() => {
                        // The scheduler has finished every task by now: deliver what is left.
                        let reason = loop {
                            match events.try_recv() {
                                Ok(event) => if let Err(r) = self.on_event(&event).await { break r },
                                Err(TryRecvError::Lagged(_)) => continue,
                                Err(_) => break SHUTTING_DOWN.to_string(),
                            }
                        };
                        let _ = self.push(Message::Close(Some(CloseFrame {
                            code: axum::extract::ws::close_code::AWAY,
                            reason: SHUTTING_DOWN.into(),
                        })));
                        break reason;
                    }
                    incoming = stream.next() => {
                        last_heard = Instant::now();
                        match incoming {
                            None | Some(Ok(Message::Close(_))) => break CLOSED_BY_CLIENT.into(),
                            Some(Err(e)) => break format!("read failed: {e}"),
                            Some(Ok(Message::Text(text))) => {
                                let handled = self.on_text(text.as_str()).await;
                                self.recount();
                                if let Err(reason) = handled {
                                    break reason;
                                }
                            }
                            Some(Ok(Message::Binary(_))) => {
                                let refusal = error("Invalid message format: send JSON as text frames, not binary");
                                if let Err(reason) = self.send(refusal) {
                                    break reason;
                                }
                            }
                            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                        }
                    }
                    event = events.recv() => {
                        let handled = match event {
                            Ok(event) => self.on_event(&event).await,
                            Err(RecvError::Lagged(n)) => {
                                tracing::debug!(session = %self.id, "fell {n} events behind: catching up from the records");
                                self.catch_up().await
                            }
                            Err(RecvError::Closed) => Err("the scheduler stopped".into()),
                        };
                        self.recount();
                        if let Err(reason) = handled { break reason }
                    },
                    _ = ping.tick() => {
                        let silent = last_heard.elapsed();
                        if silent > limits.ping_interval * 2 {
                            break format!("no answer to pings for {} s", silent.as_secs());
                        }
                        if let Err(reason) = self.push(Message::Ping(Vec::new().into())) {
                            break reason;
                        }
                    }
                }
            },
        };
        if let Some(out) = self.out.take() {
            out.finish(&ended).await;
        }
        ended
    }

    /// Subscriptions held now (live tasks, tasks told ended ahead, instances), into the gauge.
    fn recount(&mut self) {
        let now = (self.tasks.len() + self.told_ended.len() + self.instances.len()) as i64;
        if now != self.counted {
            self.state.metrics.subscriptions.inc_by(now - self.counted);
            self.counted = now;
        }
    }

    fn told_ended(&self, task_id: &str) -> bool {
        self.told_ended.iter().any(|id| id == task_id)
    }

    /// Ends a subscription whose task ended: its live entries go.
    fn forget(&mut self, task_id: &str) {
        self.tasks.remove(task_id);
        self.seen.remove(task_id);
    }

    fn push(&self, message: Message) -> Result<(), Disconnect> {
        self.out.as_ref().ok_or("connection closed")?.push(message)
    }

    fn send(&self, value: Value) -> Result<(), Disconnect> {
        self.out.as_ref().ok_or("connection closed")?.send(&value)
    }

    async fn on_text(&mut self, text: &str) -> Result<(), Disconnect> {
        let limit = self.state.limits.max_message_bytes;
        if text.len() > limit {
            return self.send(error(&format!(
                "Message too large: {} bytes, the limit is {limit} bytes",
                text.len()
            )));
        }
        let message = match protocol::parse(text) {
            Ok(message) => message,
            Err(e) => return self.send(error(&e.to_string())),
        };
        if let (ClientMessage::TaskSubmit(_), Some(limiter)) = (&message, &self.state.rate_limit) {
            if let Err(limited) = limiter.check(self.caller.user(), self.peer) {
                return self.send(json!({
                    "type": "task_submit_response",
                    "taskId": "",
                    "status": "rejected",
                    "error": limited.to_string(),
                }));
            }
        }
        let caller = &self.caller;
        let reply = match message {
            ClientMessage::TaskSubmit(submission) => match submit(caller, &submission).await {
                Ok(submitted) => {
                    // Before any event of the task is read from the stream: none is missed.
                    self.tasks.insert(submitted.task_id.clone());
                    self.seen
                        .insert(submitted.task_id.clone(), Self::seen_from(&submitted.task));
                    json!({
                        "type": "task_submit_response",
                        "taskId": submitted.task_id,
                        "status": "accepted",
                        "queuePosition": submitted.queue_position,
                        "instanceId": submitted.instance_id,
                    })
                }
                Err(e) => json!({
                    "type": "task_submit_response",
                    "taskId": "",
                    "status": "rejected",
                    "error": e.to_string(),
                }),
            },
            ClientMessage::TaskList {
                instance_id,
                status,
            } => {
                let filter = TaskFilter {
                    instance_id,
                    status,
                    owner: None,
                };
                match caller.list(&filter).await {
                    Ok(tasks) => {
                        let tasks: Vec<Value> = tasks.iter().map(wire::task_summary).collect();
                        json!({"type": "task_list_response", "tasks": tasks})
                    }
                    Err(e) => error(&format!("The task store is unavailable: {e:#}")),
                }
            }
            ClientMessage::TaskStatus { task_id } => match caller.get(&task_id).await {
                Some(task) => {
                    json!({"type": "task_status_response", "task": wire::task_detail(&task)})
                }
                None => {
                    json!({"type": "task_status_response", "task": null, "error": "Task not found"})
                }
            },
            ClientMessage::TaskCancel { task_id } => match caller.cancel(&task_id).await {
                Ok(()) => {
                    json!({"type": "task_cancel_response", "taskId": task_id, "success": true})
                }
                Err(e) => json!({
                    "type": "task_cancel_response",
                    "taskId": task_id,
                    "success": false,
                    "error": e.to_string(),
                }),
            },
            ClientMessage::SubscribeTask { task_id } => {
                let Some(task) = caller.get(&task_id).await else {
                    return self.send(error(&format!("Task not found: {task_id}")));
                };
                if !task.status.is_finished() {
                    self.tasks.insert(task_id.clone());
                    self.seen
                        .entry(task_id.clone())
                        .or_insert_with(|| Self::seen_from(&task));
                    return self.send(json!({"type": "subscribe_ack", "taskId": task_id}));
                }
                // Its events are over, or still in our stream, where they are skipped: the
                // subscription ends here, with its task_complete.
                self.forget(&task_id);
                if !self.told_ended(&task_id) {
                    if self.told_ended.len() >= TOLD_ENDED_KEPT {
                        self.told_ended.pop_front();
                    }
                    self.told_ended.push_back(task_id.clone());
                }
                self.send(json!({"type": "subscribe_ack", "taskId": task_id}))?;
                return self.send(wire::task_complete(&task));
            }
            ClientMessage::SubscribeInstance { instance_id } => {
                if !caller.instance_usable(&instance_id).await {
                    return self.send(error(&format!("Unknown instance: {instance_id}")));
                }
                self.instances.insert(instance_id.clone());
                json!({"type": "subscribe_ack", "instanceId": instance_id})
            }
        };
        self.send(reply)
    }

    /// Tells each subscribed task's client what the events it missed would have told.
    async fn catch_up(&mut self) -> Result<(), Disconnect> {
        let ids: Vec<String> = self.tasks.iter().cloned().collect();
        for id in ids {
            let Some(task) = self.caller.get(&id).await else {
                // Gone from the store (retention): nothing more will be told of it.
                self.forget(&id);
                continue;
            };
            let mut seen = self.seen.remove(&id).unwrap_or_default();
            for kind in catch_up(&mut seen, &task) {
                if matches!(kind, EventKind::TaskQueued { .. }) {
                    continue;
                }
                let event = Event {
                    at: crate::task::now_ms(),
                    instance_id: task.instance_id.clone(),
                    kind,
                };
                self.on_event(&event).await?;
            }
            if self.tasks.contains(&id) {
                self.seen.insert(id, seen);
            }
        }
        Ok(())
    }

    /// What the client was told about a task it subscribed to as it stands now.
    fn seen_from(task: &crate::task::Task) -> Seen {
        Seen {
            status: Some(task.status),
            commands: task.commands.iter().map(|c| c.status).collect(),
        }
    }

    async fn on_event(&mut self, event: &Event) -> Result<(), Disconnect> {
        let mut by_instance = self.instances.contains(&event.instance_id);
        if let Some(task_id) = event.kind.task_id() {
            let subscribed = self.tasks.contains(task_id);
            let told_ended = !subscribed && self.told_ended(task_id);
            if !subscribed && !told_ended && !by_instance {
                return Ok(());
            }
            // An instance subscriber hears only the tasks it may see.
            if by_instance && !subscribed && !told_ended {
                by_instance = self.caller.may_hear(event, &mut self.visible).await;
                if !by_instance {
                    return Ok(());
                }
            }
            if subscribed {
                if let Some(seen) = self.seen.get_mut(task_id) {
                    seen.note(&event.kind);
                }
            }
            if let EventKind::TaskFinished { task } = &event.kind {
                // The subscription ends with the task; a duplicate is skipped.
                self.forget(task_id);
                if told_ended {
                    self.told_ended.retain(|id| id != task_id);
                    return Ok(());
                }
                return self.send(wire::task_complete(task));
            }
            if told_ended {
                return Ok(());
            }
            // Extra messages (spec clients ignore them): a request for a person's yes, and
            // its answer.
            if let EventKind::ApprovalRequested { task_id, approval }
            | EventKind::ApprovalDecided { task_id, approval } = &event.kind
            {
                let kind = match &event.kind {
                    EventKind::ApprovalRequested { .. } => "approval_request",
                    _ => "approval_decided",
                };
                let mut message = serde_json::json!({
                    "type": kind,
                    "taskId": task_id,
                    "approvalId": approval.id,
                    "commandIndex": approval.index,
                    "rule": approval.rule,
                    "status": approval.status(),
                    "expiresAt": wire::iso(approval.expires_at),
                });
                if let Some(d) = &approval.decision {
                    message["decision"] = serde_json::json!(d);
                }
                return self.send(message);
            }
            return match wire::task_progress(&event.kind) {
                Some(progress) => self.send(progress),
                None => Ok(()),
            };
        }
        if !by_instance {
            return Ok(());
        }
        // Not in the spec: instance subscribers also hear what happens to the browser itself.
        let (status, reason) = match &event.kind {
            EventKind::InstanceLost { reason } => ("lost", Some(reason.as_str())),
            EventKind::InstanceRelaunched => ("relaunched", None),
            EventKind::InstanceClosed => {
                // Nothing more will happen on it: the subscription ends.
                self.instances.remove(&event.instance_id);
                ("closed", None)
            }
            _ => return Ok(()),
        };
        let mut message = json!({
            "type": "instance_status",
            "instanceId": event.instance_id,
            "status": status,
        });
        if let Some(reason) = reason {
            message["reason"] = reason.into();
        }
        self.send(message)
    }
}

/// Validates a `task_submit` (the door's edge) and queues it; the error is the spec's text.
async fn submit(
    caller: &Caller,
    submission: &Value,
) -> Result<crate::scheduler::Submitted, String> {
    let spec =
        crate::task::validate_submission(submission).map_err(|e| format!("Invalid task: {e}"))?;
    caller.submit(spec).await.map_err(|e| e.to_string())
}

fn error(message: &str) -> Value {
    json!({"type": "error", "message": super::redact::redact(message)})
}
