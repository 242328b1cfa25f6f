//! One worker per instance: takes tasks off its queue in order, runs their commands through
//! the executor, records every step in the store and emits it as an event. Relaunches the
//! browser when it is lost.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Scheduler, Slot};
use crate::browser::{BrowserInstance, BrowserSource, Health};
use crate::events::{EventBus, EventKind};
use crate::task::{now_ms, Action, CommandError, ContentAction, ErrorCode, ParsedArgs, Task};

pub(super) async fn run(scheduler: Scheduler, slot: Arc<Slot>) {
    let stop = slot.stop.clone();
    loop {
        // Register interest before looking, so a submit between the two is not missed.
        let woken = slot.wake.notified();
        let next = {
            let mut state = slot.state.lock().unwrap();
            let next = state.queue.pop_front();
            if let Some(id) = &next {
                state.running = Some((id.clone(), CancellationToken::new()));
            }
            next.zip(state.running.as_ref().map(|(_, t)| t.clone()))
        };
        let Some((task_id, cancel)) = next else {
            if stop.is_cancelled() {
                return;
            }
            let instance = slot.current_instance();
            tokio::select! {
                _ = woken => {}
                _ = stop.cancelled() => {}
                // An idle browser that dies is relaunched now, not when the next task comes.
                // (A crashed page is replaced by the next command: waiting for any breakage
                // here would spin, as a crashed page stays crashed until then.)
                _ = async { match &instance { Some(i) => i.lost().await, None => std::future::pending().await } } => {
                    if matches!(instance.as_ref().map(|i| i.health()), Some(Health::Lost(_))) {
                        let _ = ensure_instance(&scheduler, &slot).await;
                    }
                }
            }
            continue;
        };
        let instance = ensure_instance(&scheduler, &slot).await;
        run_task(&scheduler, &slot, instance, &task_id, &cancel).await;
        slot.state.lock().unwrap().running = None;
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
    task_id: &str,
    cancel: &CancellationToken,
) {
    let events = scheduler.events();
    let store = scheduler.store();
    let Some(Ok(task)) = store.update(task_id, |t| t.start(now_ms()).map(|_| t.clone())) else {
        return;
    };
    events.emit(
        &slot.id,
        EventKind::TaskStarted {
            task_id: task_id.into(),
        },
    );

    for (index, command) in task.commands.iter().enumerate() {
        if cancel.is_cancelled() {
            break;
        }
        store.update(task_id, |t| t.start_command(index, now_ms()));
        events.emit(
            &slot.id,
            EventKind::CommandStarted {
                task_id: task_id.into(),
                index,
                tool_name: command.tool_name.clone(),
                intention: command.intention.clone(),
            },
        );
        let started = Instant::now();
        let (result, dialogs) = match (&command.parsed.action, &instance) {
            // Pool management, answered by the scheduler whatever state the browser is in.
            (Action::Instance(action), _) => {
                let done = tokio::select! {
                    biased;
                    _ = cancel.cancelled() => None,
                    done = scheduler.instance_action(action, Some(&slot.id)) => Some(done),
                };
                (done, Vec::new())
            }
            (_, Err(e)) => (Some(Err(e.clone())), Vec::new()),
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
                store.update(task_id, |t| {
                    t.succeed_command(index, result.clone(), now_ms())
                });
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
                store.update(task_id, |t| t.fail_command(index, error.clone(), now_ms()));
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
    let cancelled = cancel.is_cancelled();
    let finished = store.update(task_id, |t| {
        let skipped = t.skip_unfinished(now);
        t.finish(cancelled, now).map(|_| (skipped, t.clone()))
    });
    if let Some(Ok((skipped, task))) = finished {
        emit_skipped(events, &slot.id, &task, &skipped);
        events.emit(
            &slot.id,
            EventKind::TaskFinished {
                task: Arc::new(task),
            },
        );
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

/// A viewport screenshot through the same executor as any command, under a short deadline.
async fn capture_failure(
    scheduler: &Scheduler,
    instance_id: &str,
    instance: &BrowserInstance,
    task_id: &str,
    index: usize,
    tab: Option<&str>,
    cancel: &CancellationToken,
) {
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
    if let Some(Ok(result)) = outcome.result {
        if let Some(png) = result.images().next() {
            scheduler.events().emit(
                instance_id,
                EventKind::FailureScreenshot {
                    task_id: task_id.into(),
                    index,
                    png: png.to_string(),
                },
            );
        }
    }
}
