//! What a runner does beside running tasks: resolves what lost runners (or its own earlier
//! run) left unfinished, keeps finished tasks within the retention limits, and on a shared
//! store keeps its lease, and turns other runners' news into events on its own stream, so
//! that its clients see every task of the cluster.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;

use super::replay::{catch_up, Seen};
use super::Scheduler;
use crate::events::EventKind;
use crate::store::Signal;
use crate::task::now_ms;

const RETENTION_EVERY: Duration = Duration::from_secs(10);

pub(super) async fn start(scheduler: &Scheduler) -> anyhow::Result<()> {
    recover(scheduler).await?;
    let mut background = Vec::new();
    let s = scheduler.clone();
    background.push(tokio::spawn(async move {
        loop {
            let retention = s.inner.retention.clone();
            if let Err(e) = s.inner.store.enforce_retention(&retention, now_ms()).await {
                tracing::warn!("task store: retention: {e:#}");
            }
            tokio::time::sleep(RETENTION_EVERY).await;
        }
    }));
    if scheduler.inner.store.shared() {
        let s = scheduler.clone();
        background.push(tokio::spawn(async move {
            let every = (s.inner.lease / 3).max(Duration::from_millis(100));
            loop {
                tokio::time::sleep(every).await;
                if let Err(e) = s.inner.store.heartbeat(&s.inner.node).await {
                    tracing::warn!("task store: heartbeat: {e:#}");
                }
                if let Err(e) = recover(&s).await {
                    tracing::warn!("task store: reaping lost runners: {e:#}");
                }
            }
        }));
        if let Some(signals) = scheduler.inner.store.signals().await? {
            let s = scheduler.clone();
            background.push(tokio::spawn(relay(s, signals)));
        }
    }
    scheduler
        .inner
        .background
        .lock()
        .unwrap()
        .extend(background);
    Ok(())
}

/// Ends or moves what lost runners left, and tells this runner's clients.
async fn recover(scheduler: &Scheduler) -> anyhow::Result<()> {
    let inner = &scheduler.inner;
    let recovered = inner
        .store
        .recover(&inner.node, inner.lease, now_ms())
        .await?;
    for task in recovered.failed {
        tracing::warn!(task = %task.id, "{}", task.error.as_ref().map_or("", |e| e.message.as_str()));
        scheduler.emit_finished(task);
    }
    for task in recovered.requeued {
        if let Some(slot) = scheduler.slot(&task.instance_id) {
            slot.wake.notify_one();
        }
    }
    Ok(())
}

/// Other runners' news as events on this runner's stream.
async fn relay(scheduler: Scheduler, mut signals: futures::stream::BoxStream<'static, Signal>) {
    let inner = &scheduler.inner;
    let mut seen: HashMap<String, Seen> = HashMap::new();
    while let Some(signal) = signals.next().await {
        match signal {
            Signal::TaskChanged { task_id, by } => {
                if by == inner.node.id || inner.live.lock().unwrap().contains_key(&task_id) {
                    continue;
                }
                let task = match inner.store.get(&task_id).await {
                    Ok(Some(task)) => task,
                    Ok(None) => continue,
                    Err(e) => {
                        tracing::warn!(task = %task_id, "task store: {e:#}");
                        continue;
                    }
                };
                let finished = task.status.is_finished();
                let still_queued = task.status == crate::task::TaskStatus::Queued;
                let told = seen.entry(task_id.clone()).or_default();
                for kind in catch_up(told, &task) {
                    // Queued is news only while the task waits (its submitter's runner told
                    // its own clients already).
                    if matches!(kind, EventKind::TaskQueued { .. }) && !still_queued {
                        continue;
                    }
                    inner.events.emit(&task.instance_id, kind);
                }
                if finished {
                    seen.remove(&task_id);
                }
            }
            Signal::Queued { instance_id } => {
                if let Some(slot) = scheduler.slot(&instance_id) {
                    slot.wake.notify_one();
                }
            }
            Signal::CancelRequested { task_id } => {
                scheduler.cancel_running_here(&task_id);
            }
            // Also what a reconnected listener says: news may have been missed, so every
            // worker looks for work and every task followed is read again.
            Signal::InstancesChanged => {
                for slot in scheduler.slots() {
                    slot.wake.notify_one();
                }
                let followed: Vec<String> = seen.keys().cloned().collect();
                for task_id in followed {
                    let Ok(Some(task)) = inner.store.get(&task_id).await else {
                        continue;
                    };
                    let told = seen.entry(task_id.clone()).or_default();
                    for kind in catch_up(told, &task) {
                        if !matches!(kind, EventKind::TaskQueued { .. }) {
                            inner.events.emit(&task.instance_id, kind);
                        }
                    }
                    if task.status.is_finished() {
                        seen.remove(&task_id);
                    }
                }
            }
        }
    }
}
