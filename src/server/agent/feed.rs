//! A task's update messages for one client, from the journal: what it has not seen yet, in
//! order, each once. Pull-based: a client that reads slowly only reads later; nothing queues
//! up for it. Both the WebSocket stream and the polling fallback read through this.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use super::render;
use crate::events::EventKind;
use crate::scheduler::Caller;

pub struct Feed {
    caller: Caller,
    task_id: String,
    /// The last journal entry rendered.
    seq: u64,
    /// The id the next message gets.
    next_id: u64,
    /// Messages up to this id were seen by the client already.
    after: u64,
    /// The task's last message is out.
    pub done: bool,
    /// The last queue report sent (position, estimate).
    queue: Option<(usize, u64)>,
    instance_id: String,
    /// The live record has news the store has not written yet.
    behind: bool,
    settled: tokio::sync::watch::Receiver<u64>,
}

impl Feed {
    /// `None` for a task this user may not see (or that does not exist).
    pub async fn open(caller: Caller, task_id: &str, after: u64) -> Option<Feed> {
        let task = caller.get(task_id).await?;
        let settled = caller.scheduler().settled();
        Some(Feed {
            caller,
            task_id: task_id.to_string(),
            seq: 0,
            next_id: 1,
            after,
            done: false,
            queue: None,
            instance_id: task.instance_id,
            behind: false,
            settled,
        })
    }

    /// The engine's events, to hear of the task's news (subscribe before the first poll).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<crate::events::Event> {
        self.caller.scheduler().events().subscribe()
    }

    /// The id of the last message the client has (sent now or before).
    pub fn last_id(&self) -> u64 {
        self.after
    }

    /// The messages the client has not seen yet (none when nothing happened since).
    pub async fn poll(&mut self) -> Vec<Value> {
        let scheduler = self.caller.scheduler();
        self.settled.borrow_and_update();
        // What the store holds of the journal, then the record (at least as new).
        let entries = scheduler
            .tasks()
            .journal(&self.task_id, self.seq)
            .await
            .unwrap_or_default();
        let Some(task) = self.caller.get(&self.task_id).await else {
            return Vec::new();
        };
        let last = entries.last().map_or(self.seq, |e| e.seq);
        // A live record ahead of the store: the rest is sent once it is written.
        self.behind = task.journal.last().is_some_and(|e| e.seq > last);
        self.instance_id = task.instance_id.clone();
        let mut out = Vec::new();
        for (id, m) in render::messages(&task, &entries, self.next_id) {
            if m.is_final() {
                self.done = true;
            }
            if id > self.after {
                out.push(m.to_json(id));
            }
        }
        if let Some(last) = entries.last() {
            self.seq = last.seq;
            self.next_id += render::count(&entries);
        }
        self.after = self.after.max(self.next_id - 1);
        // Only a waiting task has a place in the queue: no store reads for the others.
        let waiting = task.status == crate::task::TaskStatus::Queued;
        if let Some(q) = self.queue_report(waiting).await {
            out.push(q);
        }
        out
    }

    /// A `queue_update` when the task waits and its place or estimate changed.
    async fn queue_report(&mut self, waiting: bool) -> Option<Value> {
        if self.done || (!waiting && self.queue.is_none()) {
            return None;
        }
        let now = self.caller.scheduler().queue_estimate(&self.task_id).await;
        if now == self.queue {
            return None;
        }
        self.queue = now;
        let (position, wait) = now?;
        Some(json!({
            "type": "queue_update",
            "data": {"taskId": self.task_id, "queuePosition": position, "estimatedWaitTime": wait},
            "timestamp": crate::task::now_ms(),
            "id": (self.next_id - 1).to_string(),
        }))
    }

    /// Waits until something may have happened to the task (an event of it or of its
    /// instance), at most `limit`. Events of another runner's task are not heard here: the
    /// bound is what catches those.
    pub async fn changed(
        &mut self,
        events: &mut tokio::sync::broadcast::Receiver<crate::events::Event>,
        limit: Duration,
    ) {
        let deadline = tokio::time::Instant::now() + limit;
        let behind = self.behind;
        loop {
            let event = tokio::select! {
                e = events.recv() => e,
                // More is written (of some task; this one's, if it was behind).
                Ok(()) = self.settled.changed(), if behind => return,
                _ = tokio::time::sleep_until(deadline) => return,
            };
            match event {
                Ok(event) => {
                    let ours = event.kind.task_id() == Some(self.task_id.as_str());
                    let queue_moved = self.queue.is_some()
                        && event.instance_id == self.instance_id
                        && matches!(
                            event.kind,
                            EventKind::TaskStarted { .. }
                                | EventKind::TaskFinished { .. }
                                | EventKind::TaskQueued { .. }
                        );
                    if ours || queue_moved {
                        return;
                    }
                }
                Err(RecvError::Lagged(_)) => return,
                Err(RecvError::Closed) => {
                    tokio::time::sleep_until(deadline).await;
                    return;
                }
            }
        }
    }
}
