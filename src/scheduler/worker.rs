//! One worker per instance: claims the instance's tasks from the store in order, runs their
//! commands through the executor, records every step (in its own record first, then the
//! store) and emits it as an event. Relaunches the browser when it is lost. A panic inside a
//! task ends that task failed and the worker goes on.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::approvals::{self, Gate};
use super::{Scheduler, Slot};
use crate::browser::{BrowserInstance, BrowserSource, Health};
use crate::events::{EventBus, EventKind};
use crate::store::Change;
use crate::task::{
    now_ms, Action, CommandError, CommandStatus, ContentAction, ErrorCode, ParsedArgs, Task,
};

/// How often an idle worker of a shared store looks for work without being told (a missed
/// notification costs at most this).
const SHARED_POLL: Duration = Duration::from_secs(2);

pub(super) async fn run(scheduler: Scheduler, slot: Arc<Slot>) {
    let stop = slot.stop.clone();
    let inner = &scheduler.inner;
    loop {
        if stop.is_cancelled() {
            return;
        }
        // Register interest before looking, so a submit between the two is not missed.
        let woken = slot.wake.notified();
        // An undo restoring this instance's page finishes first.
        let busy = slot.busy.lock().await;
        let now = now_ms();
        let claiming = inner.claims.read().await;
        let claimed = match inner.store.claim(&slot.id, &inner.node, now).await {
            Ok(Some(id)) => start(&scheduler, &slot, id, now).await.map(Some),
            other => other.map(|_| None),
        };
        drop(claiming);
        let (task, cancel) = match claimed {
            Ok(Some(claimed)) => claimed,
            Ok(None) => {
                drop(busy);
                let instance = slot.current_instance();
                let poll = if inner.store.shared() {
                    SHARED_POLL
                } else {
                    Duration::from_secs(3600)
                };
                tokio::select! {
                    _ = woken => {}
                    _ = stop.cancelled() => {}
                    _ = tokio::time::sleep(poll) => {}
                    // An idle browser that dies is relaunched now, not when the next task
                    // comes. (A crashed page is replaced by the next command: waiting for any
                    // breakage here would spin, as a crashed page stays crashed until then.)
                    _ = async { match &instance { Some(i) => i.lost().await, None => std::future::pending().await } } => {
                        if matches!(instance.as_ref().map(|i| i.health()), Some(Health::Lost(_))) {
                            let _ = ensure_instance(&scheduler, &slot).await;
                        }
                    }
                }
                continue;
            }
            Err(e) => {
                drop(busy);
                tracing::error!(instance = %slot.id, "task store: cannot claim: {e:#}");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.cancelled() => {}
                }
                continue;
            }
        };
        let task_id = task.id.clone();
        let instance = ensure_instance(&scheduler, &slot).await;
        let ran =
            std::panic::AssertUnwindSafe(run_task(&scheduler, &slot, instance, task, &cancel))
                .catch_unwind()
                .await;
        if let Err(panic) = ran {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("no message");
            tracing::error!(task = %task_id, "a task panicked: {what}");
            let error =
                CommandError::execution(format!("internal error: the task panicked: {what}"));
            end_abruptly(&scheduler, &task_id, error).await;
        }
        *slot.running.lock().unwrap() = None;
        drop(busy);
    }
}

/// Takes a claimed task on: its record (kept since this runner queued it, else read back),
/// `queued` if nobody told it yet, then `started`.
async fn start(
    scheduler: &Scheduler,
    slot: &Slot,
    id: String,
    now: u64,
) -> anyhow::Result<(Task, CancellationToken)> {
    let inner = &scheduler.inner;
    let kept = {
        let mut queued = inner.queued_here.lock().unwrap();
        queued.remove(&id).map(|entry| {
            if !entry.announced {
                inner.events.emit(
                    &slot.id,
                    EventKind::TaskQueued {
                        task_id: id.clone(),
                        position: 0,
                    },
                );
            }
            entry.task
        })
    };
    let task = match kept {
        Some(mut task) => {
            task.instance_id = slot.id.clone();
            task.start(now)?;
            task
        }
        None => inner
            .store
            .get(&id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("claimed task {id} is not in the store"))?,
    };
    let mut task = task;
    // The journal so far (queued, started), numbered as the store numbered it.
    task.journal = inner.store.journal(&id, 0).await?;
    let cancel = CancellationToken::new();
    *slot.running.lock().unwrap() = Some((task.id.clone(), cancel.clone()));
    let stored = task.journal.last().map_or(0, |e| e.seq);
    inner.stored.lock().unwrap().insert(task.id.clone(), stored);
    inner
        .live
        .lock()
        .unwrap()
        .insert(task.id.clone(), task.clone());
    inner.events.emit(
        &slot.id,
        EventKind::TaskStarted {
            task_id: task.id.clone(),
        },
    );
    Ok((task, cancel))
}

/// Ends a task whose run was cut short (it panicked): the command in flight fails with
/// `error`, the rest are skipped.
async fn end_abruptly(scheduler: &Scheduler, task_id: &str, error: CommandError) {
    let Some(task) = scheduler.inner.live.lock().unwrap().get(task_id).cloned() else {
        return;
    };
    if task.status.is_finished() {
        return;
    }
    let now = now_ms();
    for change in Change::lost(&task, error, now) {
        let finished = matches!(change, Change::Finished { .. });
        let applied = record(scheduler, task_id, change);
        if finished {
            if let Some(done) = applied {
                let _ = done.await;
            }
        }
    }
    let finished = scheduler.forget_live(task_id);
    if let Some(task) = finished {
        scheduler.emit_finished(task);
    }
}

/// Applies a change to the live record, then hands it to the store. `None` when the change
/// does not apply (a transition the spec does not draw: a bug, logged).
pub(super) fn record(
    scheduler: &Scheduler,
    task_id: &str,
    change: Change,
) -> Option<futures::future::BoxFuture<'static, crate::store::StoreResult<()>>> {
    let noted = change.happened().is_some();
    let (seq, written) = {
        let mut live = scheduler.inner.live.lock().unwrap();
        let task = live.get_mut(task_id)?;
        if let Err(e) = change.apply(task) {
            tracing::error!(task = %task_id, "{e}");
            return None;
        }
        let seq = task.journal.last().map(|e| e.seq).filter(|_| noted);
        // Handed to the store's ordered queue before anyone can read the change here.
        (seq, scheduler.inner.store.record(task_id, change))
    };
    let Some(seq) = seq else {
        return Some(written);
    };
    // Once written, the update streams may send the entry.
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (scheduler, task_id) = (scheduler.clone(), task_id.to_string());
    tokio::spawn(async move {
        let result = written.await;
        if result.is_ok() {
            scheduler.stored_through(&task_id, seq);
        }
        let _ = tx.send(result);
    });
    Some(Box::pin(async move {
        rx.await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the task store is closed")))
    }))
}

/// [`record`], then waits until the store holds it: a step's start and end are written
/// before anyone hears of them, so what a client was told survives a `kill -9` (a store write
/// that fails is logged, and the task goes on from its own record).
async fn recorded(scheduler: &Scheduler, task_id: &str, change: Change) {
    if let Some(written) = record(scheduler, task_id, change) {
        if let Err(e) = written.await {
            tracing::error!(task = %task_id, "task store: a step was not recorded: {e:#}");
        }
    }
}

/// The slot's live instance, relaunching (or re-attaching) a lost one first.
async fn ensure_instance(
    scheduler: &Scheduler,
    slot: &Slot,
) -> Result<Arc<BrowserInstance>, CommandError> {
    if let Some(instance) = slot.current_instance() {
        match instance.health() {
            Health::Lost(reason) => {
                scheduler
                    .events()
                    .emit(&slot.id, EventKind::InstanceLost { reason });
                *slot.instance.lock().unwrap() = None;
                instance.close().await;
            }
            _ => return Ok(instance),
        }
    }
    if slot.stop.is_cancelled() {
        return Err(CommandError::new(
            ErrorCode::InstanceDisconnected,
            "the instance is closing",
        ));
    }
    match BrowserInstance::start(slot.id.clone(), slot.source.clone()).await {
        Ok(instance) => {
            let instance = Arc::new(instance);
            *slot.instance.lock().unwrap() = Some(instance.clone());
            scheduler
                .events()
                .emit(&slot.id, EventKind::InstanceRelaunched);
            Ok(instance)
        }
        Err(e) => {
            let what = match slot.source {
                BrowserSource::Launch(_) => "relaunch",
                BrowserSource::Attach(_) => "re-attach to",
            };
            tracing::error!(instance = %slot.id, "cannot {what} the browser: {e:#}");
            // Back off so a browser that cannot start does not spin the worker.
            tokio::time::sleep(Duration::from_secs(1)).await;
            Err(CommandError::new(
                ErrorCode::InstanceDisconnected,
                format!("cannot {what} the browser: {e:#}"),
            ))
        }
    }
}

async fn run_task(
    scheduler: &Scheduler,
    slot: &Slot,
    instance: Result<Arc<BrowserInstance>, CommandError>,
    task: Task,
    cancel: &CancellationToken,
) {
    let events = scheduler.events();
    let task_id = task.id.as_str();
    // Repairs left by the previous task end, and its per-task state (dialog policy) is reset.
    if let Ok(instance) = &instance {
        instance.begin_task(task.metadata.as_ref()).await;
    }
    let browser = instance.as_ref().ok().map(|i| &**i);
    // Back after a restart, before the step it waited at: its page first.
    if let (Some(index), Some(browser)) = (task.resume_point(), browser) {
        scheduler.resume_page(browser, &task, index, cancel).await;
    }
    approvals::ask_in_advance(scheduler, &slot.id, browser, &task, cancel).await;
    for (index, command) in task.commands.iter().enumerate() {
        if cancel.is_cancelled() {
            break;
        }
        // Done before a restart.
        if command.status == CommandStatus::Success {
            continue;
        }
        let refused =
            match approvals::gate(scheduler, &slot.id, browser, task_id, index, cancel).await {
                Gate::Run => None,
                Gate::Cancelled => break,
                Gate::Suspended => {
                    // The server stops while the task waits: it stays as it is in the store,
                    // to go on after the restart (see `Change::recovered`).
                    scheduler.forget_live(task_id);
                    return;
                }
                Gate::Fail(error) => Some(error),
            };
        // An approver may have changed the command's arguments.
        let changed = {
            let live = scheduler.inner.live.lock().unwrap();
            live.get(task_id)
                .filter(|t| {
                    t.approval_for(index)
                        .and_then(|a| a.decision.as_ref())
                        .is_some_and(|d| d.modified_parameters.is_some())
                })
                .map(|t| t.commands[index].clone())
        };
        let command = changed.as_ref().unwrap_or(command);
        if let (None, Some(browser)) = (&refused, browser) {
            if scheduler.keeps_checkpoint(&task, command) {
                let tab = command.parsed.tab_id.as_deref();
                scheduler
                    .take_checkpoint(browser, task_id, index, tab, cancel)
                    .await;
            }
        }
        recorded(
            scheduler,
            task_id,
            Change::CommandStarted {
                index,
                at: now_ms(),
            },
        )
        .await;
        events.emit(
            &slot.id,
            EventKind::CommandStarted {
                task_id: task_id.into(),
                index,
                tool_name: command.tool_name.clone(),
                intention: command.intention.clone(),
            },
        );
        if scheduler.inner.panic_on_intention.as_deref() == Some(command.intention.as_str()) {
            panic!("test hook: intention {:?}", command.intention);
        }
        let started = Instant::now();
        let (result, dialogs) = match (&command.parsed.action, &instance) {
            _ if refused.is_some() => (refused.clone().map(Err), Vec::new()),
            // Pool management, answered by the scheduler whatever state the browser is in.
            (Action::Instance(action), _) => {
                let owner = scheduler.as_task_owner(&task);
                let done = tokio::select! {
                    biased;
                    _ = cancel.cancelled() => None,
                    done = owner.instance_action(action, Some(&slot.id)) => Some(done),
                };
                (done, Vec::new())
            }
            (_, Err(e)) => (Some(Err(e.clone())), Vec::new()),
            // Waits for an outside app: the scheduler's, with the browser opening its window.
            (Action::External(step), Ok(instance)) => {
                let done =
                    super::external::run_step(scheduler, instance, task_id, index, step, cancel)
                        .await;
                (done, instance.take_dialogs())
            }
            (_, Ok(instance)) => {
                let outcome = scheduler
                    .inner
                    .executor
                    .run(instance, &command.parsed, cancel)
                    .await;
                (outcome.result, outcome.dialogs)
            }
        };
        let duration_ms = started.elapsed().as_millis() as u64;
        for dialog in &dialogs {
            events.emit(
                &slot.id,
                EventKind::DialogHandled {
                    task_id: Some(task_id.into()),
                    dialog: dialog.clone(),
                },
            );
        }
        match result {
            None => break,
            Some(Ok(mut result)) => {
                for dialog in &dialogs {
                    result.push_text(dialog.describe());
                }
                let result = Arc::new(result);
                recorded(
                    scheduler,
                    task_id,
                    Change::CommandSucceeded {
                        index,
                        result: result.clone(),
                        at: now_ms(),
                    },
                )
                .await;
                events.emit(
                    &slot.id,
                    EventKind::CommandSucceeded {
                        task_id: task_id.into(),
                        index,
                        tool_name: command.tool_name.clone(),
                        action: command.parsed.action.name(),
                        intention: command.intention.clone(),
                        result,
                        duration_ms,
                    },
                );
            }
            Some(Err(mut error)) => {
                if !dialogs.is_empty() {
                    let said: Vec<String> = dialogs.iter().map(|d| d.describe()).collect();
                    error.message = format!("{} (meanwhile: {})", error.message, said.join("; "));
                }
                recorded(
                    scheduler,
                    task_id,
                    Change::CommandFailed {
                        index,
                        error: error.clone(),
                        at: now_ms(),
                    },
                )
                .await;
                let capture = scheduler.inner.capture_on_failure
                    && !matches!(
                        error.code,
                        ErrorCode::InstanceDisconnected | ErrorCode::InvalidArguments
                    );
                events.emit(
                    &slot.id,
                    EventKind::CommandFailed {
                        task_id: task_id.into(),
                        index,
                        tool_name: command.tool_name.clone(),
                        action: command.parsed.action.name(),
                        intention: command.intention.clone(),
                        error,
                        duration_ms,
                    },
                );
                if let (true, Ok(instance)) = (capture, &instance) {
                    let tab = command.parsed.tab_id.as_deref();
                    capture_failure(scheduler, &slot.id, instance, task_id, index, tab, cancel)
                        .await;
                }
                break;
            }
        }
    }

    let now = now_ms();
    let end = {
        let live = scheduler.inner.live.lock().unwrap();
        live.get(task_id)
            .map(|t| Change::finish(t, cancel.is_cancelled(), now))
    };
    if let Some(end) = end {
        let skipped = match &end {
            Change::Finished { skipped, .. } => skipped.clone(),
            _ => Vec::new(),
        };
        // Durable before anyone hears the task finished.
        if let Some(done) = record(scheduler, task_id, end) {
            if let Err(e) = done.await {
                tracing::error!(task = %task_id, "task store: the end was not recorded: {e:#}");
            }
        }
        let finished = scheduler.forget_live(task_id);
        // Not cancellable any more: whoever hears it finished may not cancel it.
        *slot.running.lock().unwrap() = None;
        if let Some(finished) = finished {
            emit_skipped(events, &slot.id, &finished, &skipped);
            events.emit(
                &slot.id,
                EventKind::TaskFinished {
                    task: Arc::new(finished),
                },
            );
        }
    }
    // A browser lost during the task is reported and relaunched now, before the next one.
    if let Ok(instance) = &instance {
        if matches!(instance.health(), Health::Lost(_)) && !slot.stop.is_cancelled() {
            let _ = ensure_instance(scheduler, slot).await;
        }
    }
}

pub(super) fn emit_skipped(events: &EventBus, instance_id: &str, task: &Task, skipped: &[usize]) {
    for &index in skipped {
        let command = &task.commands[index];
        events.emit(
            instance_id,
            EventKind::CommandSkipped {
                task_id: task.id.clone(),
                index,
                tool_name: command.tool_name.clone(),
                intention: command.intention.clone(),
            },
        );
    }
}

/// A viewport screenshot (base64 PNG) through the same executor as any command, under a
/// short deadline; `None` when the page cannot give one.
pub(super) async fn viewport_png(
    scheduler: &Scheduler,
    instance: &BrowserInstance,
    tab: Option<&str>,
    cancel: &CancellationToken,
) -> Option<String> {
    let screenshot = ParsedArgs {
        action: Action::Content(ContentAction::Screenshot {
            selector: None,
            full_page: false,
            format: crate::task::ImageFormat::Png,
            quality: None,
        }),
        timeout: Some(Duration::from_secs(5)),
        tab_id: tab.map(String::from),
    };
    let outcome = scheduler
        .inner
        .executor
        .run(instance, &screenshot, cancel)
        .await;
    match outcome.result {
        Some(Ok(result)) => result.images().next().map(String::from),
        _ => None,
    }
}

/// The page when a command failed, kept with the record.
async fn capture_failure(
    scheduler: &Scheduler,
    instance_id: &str,
    instance: &BrowserInstance,
    task_id: &str,
    index: usize,
    tab: Option<&str>,
    cancel: &CancellationToken,
) {
    if let Some(png) = viewport_png(scheduler, instance, tab, cancel).await {
        let png = Arc::new(png);
        record(
            scheduler,
            task_id,
            Change::FailureScreenshot {
                index,
                png: png.clone(),
            },
        );
        scheduler.events().emit(
            instance_id,
            EventKind::FailureScreenshot {
                task_id: task_id.into(),
                index,
                png,
            },
        );
    }
}
