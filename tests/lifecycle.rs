//! The life of an instance: a browser killed mid-command, a crashed renderer, shutdown, the
//! event stream of one task, and attaching to a Chromium started elsewhere. Every test runs
//! on a private scheduler: these tests break or close their browser.

mod common;
use std::time::{Duration, Instant};

use browser_control::browser::{BrowserSource, Executor};
use browser_control::events::{Event, EventKind};
use browser_control::scheduler::{Scheduler, SchedulerConfig};
use browser_control::task::{CommandStatus, ErrorCode, TaskStatus};
use common::*;
use serde_json::{json, Value};
use tokio::sync::broadcast;

fn get_text(selector: &str) -> Value {
    content(json!({"action": "get_text", "selector": selector}))
}

fn never_resolves() -> Value {
    cmd(
        "browser_execute",
        json!({"action": "evaluate", "script": "return new Promise(() => {})", "timeout": 60000}),
    )
}

/// Waits (generously) for the first event matching `pred`, returning it and when it came.
async fn next_event(
    rx: &mut broadcast::Receiver<Event>,
    pred: impl Fn(&EventKind) -> bool,
) -> (Event, Instant) {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match rx.recv().await {
                Ok(ev) if pred(&ev.kind) => return (ev, Instant::now()),
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(n)) => panic!("lagged {n} events"),
                Err(e) => panic!("event stream ended: {e}"),
            }
        }
    })
    .await
    .expect("event within 60 s")
}

fn started(task_id: &str, index: usize) -> impl Fn(&EventKind) -> bool + '_ {
    move |k| matches!(k, EventKind::CommandStarted { task_id: t, index: i, .. } if t == task_id && *i == index)
}

fn finished(task_id: &str) -> impl Fn(&EventKind) -> bool + '_ {
    move |k| matches!(k, EventKind::TaskFinished { task } if task.id == task_id)
}

fn pid_alive(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    !status.is_empty() && !status.contains("State:\tZ")
}

#[test]
fn browser_killed_mid_command() {
    block_on(async {
        let (scheduler, _permit) = private_scheduler().await;
        let mut events = scheduler.events().subscribe();
        let old_pid = scheduler.instances().await[0]
            .pid
            .expect("a launched browser has a pid");
        let profile = scheduler.instance("inst_1").unwrap().profile_dir().unwrap();

        let victim = scheduler
            .submit_json(&task(
                "victim",
                vec![goto("index.html"), never_resolves(), get_text("#title")],
            ))
            .await
            .unwrap();
        let next = scheduler
            .submit_json(&task("next", vec![goto("index.html"), get_text("#title")]))
            .await
            .unwrap();
        next_event(&mut events, started(&victim.task_id, 1)).await;

        let killed_at = Instant::now();
        assert_eq!(unsafe { libc::kill(old_pid as i32, libc::SIGKILL) }, 0);
        let (ev, at) = next_event(&mut events, finished(&victim.task_id)).await;
        assert!(
            at - killed_at < Duration::from_secs(2),
            "failed after {:?}",
            at - killed_at
        );
        let EventKind::TaskFinished { task: t } = ev.kind else {
            unreachable!()
        };
        assert_eq!(t.status, TaskStatus::Failed);
        assert_eq!(statuses(&t), ["success", "error", "skipped"]);
        let e = error_of(&t, 1);
        assert_eq!(e.code, ErrorCode::InstanceDisconnected);
        assert!(e.message.contains("browser disconnected"), "{e}");
        assert_eq!(
            t.error.as_ref().unwrap().code,
            ErrorCode::InstanceDisconnected
        );

        let (lost, _) =
            next_event(&mut events, |k| matches!(k, EventKind::InstanceLost { .. })).await;
        assert_eq!(lost.instance_id, "inst_1");
        next_event(&mut events, |k| matches!(k, EventKind::InstanceRelaunched)).await;
        let new_pid = scheduler.instances().await[0]
            .pid
            .expect("relaunched browser has a pid");
        assert_ne!(new_pid, old_pid);
        assert_eq!(scheduler.instances().await[0].status, "ready");

        let t = scheduler.wait_finished(&next.task_id).await.unwrap();
        assert_completed(&t);
        assert_eq!(text_of(&t, 1), "Fixture Site");

        // The dead browser's profile folder went with it.
        assert!(!profile.exists(), "{} left behind", profile.display());
        assert!(processes_using(&profile).is_empty());
        scheduler.shutdown().await;
    });
}

/// chrome://crash crashes the renderer (Chromium takes about 5 s to report it: its crash
/// handling, not ours); chrome://kill ends it at once. Either way the command fails with
/// INSTANCE_DISCONNECTED and the next task runs on a fresh page of the same browser.
#[test]
fn renderer_crash_fails_the_command_and_the_page_is_replaced() {
    block_on(async {
        let (scheduler, _permit) = private_scheduler().await;
        let pid = scheduler.instances().await[0].pid;
        for (how, within_ms) in [("chrome://crash", 9000), ("chrome://kill", 2000)] {
            let t = run_on(
                &scheduler,
                task(
                    "crash",
                    vec![
                        goto("index.html"),
                        nav(json!({"action": "goto", "url": how, "timeout": 15000})),
                        get_text("#title"),
                    ],
                ),
            )
            .await;
            assert_eq!(t.status, TaskStatus::Failed, "{:#}", summary(&t));
            assert_eq!(statuses(&t), ["success", "error", "skipped"]);
            let e = error_of(&t, 1);
            assert_eq!(e.code, ErrorCode::InstanceDisconnected, "{how}: {e}");
            assert_eq!(e.message, "the page's renderer crashed");
            assert!(
                ran(&t, 1) < within_ms,
                "{how}: crash noticed after {} ms",
                ran(&t, 1)
            );

            let t = run_on(
                &scheduler,
                task(
                    "after",
                    vec![
                        goto("index.html"),
                        get_text("#title"),
                        execute("return history.length"),
                    ],
                ),
            )
            .await;
            assert_completed(&t);
            assert_eq!(text_of(&t, 1), "Fixture Site");
            assert_eq!(
                text_of(&t, 2),
                "2",
                "a fresh page: about:blank, then index.html"
            );
            assert_eq!(
                scheduler.instances().await[0].pid,
                pid,
                "the browser itself lives on"
            );
            assert_eq!(scheduler.instances().await[0].status, "ready");
        }
        scheduler.shutdown().await;
    });
}

#[test]
fn browser_killed_while_idle_is_relaunched_at_once() {
    block_on(async {
        let (scheduler, _permit) = private_scheduler().await;
        let mut events = scheduler.events().subscribe();
        let old_pid = scheduler.instances().await[0].pid.unwrap();
        assert_eq!(unsafe { libc::kill(old_pid as i32, libc::SIGKILL) }, 0);
        let (lost, _) =
            next_event(&mut events, |k| matches!(k, EventKind::InstanceLost { .. })).await;
        let EventKind::InstanceLost { reason } = lost.kind else {
            unreachable!()
        };
        assert!(reason.contains("Chromium"), "{reason}");
        next_event(&mut events, |k| matches!(k, EventKind::InstanceRelaunched)).await;
        let new_pid = scheduler.instances().await[0].pid.unwrap();
        assert_ne!(new_pid, old_pid);
        assert!(pid_alive(new_pid));
        let t = run_on(
            &scheduler,
            task("after", vec![goto("index.html"), get_text("#title")]),
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 1), "Fixture Site");
        scheduler.shutdown().await;
        assert!(!pid_alive(new_pid));
    });
}

fn ran(t: &browser_control::task::Task, index: usize) -> u64 {
    let c = &t.commands[index];
    c.completed_at.unwrap() - c.started_at.unwrap()
}

#[test]
fn shutdown_leaves_nothing_behind() {
    block_on(async {
        let (scheduler, _permit) = private_scheduler().await;
        let instance = scheduler.instance("inst_1").unwrap();
        let profile = instance
            .profile_dir()
            .expect("a launched browser has a profile");
        let pid = instance.pid().unwrap();
        drop(instance);
        assert!(profile.is_dir());
        assert!(processes_using(&profile).contains(&pid));

        let t = run_on(
            &scheduler,
            task("one", vec![goto("index.html"), get_text("#title")]),
        )
        .await;
        assert_completed(&t);

        scheduler.shutdown().await;
        assert_eq!(processes_using(&profile), Vec::<u32>::new());
        assert!(!pid_alive(pid), "browser {pid} still alive");
        assert!(!profile.exists(), "{} left behind", profile.display());
        let refused = scheduler
            .submit_json(&task("late", vec![goto("index.html")]))
            .await;
        assert_eq!(
            refused.unwrap_err(),
            common::Refused::Scheduler(browser_control::scheduler::SubmitError::ShuttingDown)
        );
    });
}

#[test]
fn shutdown_cancels_the_running_and_queued_tasks() {
    block_on(async {
        let (scheduler, _permit) = private_scheduler().await;
        let profile = scheduler.instance("inst_1").unwrap().profile_dir().unwrap();
        let mut events = scheduler.events().subscribe();
        let running = scheduler
            .submit_json(&task(
                "running",
                vec![goto("index.html"), never_resolves(), get_text("#title")],
            ))
            .await
            .unwrap();
        let queued = scheduler
            .submit_json(&task("queued", vec![goto("index.html")]))
            .await
            .unwrap();
        next_event(&mut events, started(&running.task_id, 1)).await;

        let began = Instant::now();
        scheduler.shutdown().await;
        assert!(
            began.elapsed() < Duration::from_secs(10),
            "shutdown took {:?}",
            began.elapsed()
        );

        let (ev, _) = next_event(&mut events, finished(&running.task_id)).await;
        let EventKind::TaskFinished { task: t } = ev.kind else {
            unreachable!()
        };
        assert_eq!(t.status, TaskStatus::Cancelled);
        assert_eq!(statuses(&t), ["success", "skipped", "skipped"]);
        assert_eq!(t.error.as_ref().unwrap().code, ErrorCode::Cancelled);

        let q = scheduler.tasks().get(&queued.task_id).await.unwrap();
        assert_eq!(q.status, TaskStatus::Cancelled);
        assert_eq!(statuses(&q), ["skipped"]);
        assert!(q.started_at.is_none());

        assert!(processes_using(&profile).is_empty());
        assert!(!profile.exists());
    });
}

#[test]
fn the_event_stream_of_one_task() {
    block_on(async {
        let (scheduler, _permit) = private_scheduler().await;
        let mut events = scheduler.events().subscribe();
        let submitted = scheduler
            .submit_json(&task(
                "events",
                vec![
                    goto("index.html"),
                    get_text("#title"),
                    execute("return 6 * 7"),
                ],
            ))
            .await
            .unwrap();
        assert_eq!(submitted.queue_position, 0);
        let id = submitted.task_id.clone();
        let mut seen = Vec::new();
        loop {
            let (ev, _) = next_event(&mut events, |k| k.task_id() == Some(id.as_str())).await;
            assert_eq!(ev.instance_id, "inst_1");
            let done = matches!(ev.kind, EventKind::TaskFinished { .. });
            seen.push(match ev.kind {
                EventKind::TaskQueued { position, .. } => format!("queued@{position}"),
                EventKind::TaskStarted { .. } => "started".into(),
                EventKind::CommandStarted {
                    index, tool_name, ..
                } => format!("start {index} {tool_name}"),
                EventKind::CommandSucceeded { index, result, .. } => {
                    format!(
                        "ok {index} {}",
                        result.joined_text().split(" (").next().unwrap()
                    )
                }
                EventKind::TaskFinished { task } => format!("finished {}", task.status),
                other => format!("unexpected {other:?}"),
            });
            if done {
                break;
            }
        }
        let navigated = format!("ok 0 Navigated to {}", url("index.html"));
        assert_eq!(
            seen,
            [
                "queued@0",
                "started",
                "start 0 browser_navigate",
                navigated.as_str(),
                "start 1 browser_content",
                "ok 1 Fixture Site",
                "start 2 browser_execute",
                "ok 2 42",
                "finished completed",
            ]
        );
        scheduler.shutdown().await;
    });
}

#[test]
fn a_failing_task_emits_failed_and_skipped_in_order() {
    block_on(async {
        let (scheduler, _permit) = private_scheduler().await;
        let mut events = scheduler.events().subscribe();
        let id = scheduler
            .submit_json(&task(
                "fails",
                vec![goto("index.html"), get_text("#nope"), get_text("#title")],
            ))
            .await
            .unwrap()
            .task_id;
        let mut seen = Vec::new();
        loop {
            let (ev, _) = next_event(&mut events, |k| k.task_id() == Some(id.as_str())).await;
            let done = matches!(ev.kind, EventKind::TaskFinished { .. });
            seen.push(match ev.kind {
                EventKind::TaskQueued { .. } => "queued".to_string(),
                EventKind::TaskStarted { .. } => "started".into(),
                EventKind::CommandStarted { index, .. } => format!("start {index}"),
                EventKind::CommandSucceeded { index, .. } => format!("ok {index}"),
                EventKind::CommandFailed { index, error, .. } => {
                    format!("failed {index} {}", error.code)
                }
                EventKind::CommandSkipped { index, .. } => format!("skipped {index}"),
                EventKind::TaskFinished { task } => format!("finished {}", task.status),
                other => format!("unexpected {other:?}"),
            });
            if done {
                break;
            }
        }
        assert_eq!(
            seen,
            [
                "queued",
                "started",
                "start 0",
                "ok 0",
                "start 1",
                "failed 1 EXECUTION_ERROR",
                "skipped 2",
                "finished failed",
            ]
        );
        scheduler.shutdown().await;
    });
}

// ---------------------------------------------------------------- attach

/// A Chromium started by the test, as a user would start one, killed and cleaned up on drop.
async fn attached(endpoint: String) -> Scheduler {
    let scheduler = Scheduler::start(SchedulerConfig {
        instances: 1,
        source: BrowserSource::Attach(endpoint),
        executor: Executor {
            default_timeout: Duration::from_secs(20),
        },
        ..SchedulerConfig::default()
    })
    .await
    .expect("attaches");
    register_cleanup(&scheduler);
    scheduler
}

#[test]
fn attach_to_a_running_chromium() {
    block_on(async {
        let _permit = env().private_browsers.acquire().await.unwrap();
        let chromium = OwnChromium::start();
        let pid = chromium.child.id();
        let profile = chromium.profile.path().to_path_buf();

        for endpoint in [chromium.ws_url.clone(), chromium.http_url()] {
            let scheduler = attached(endpoint.clone()).await;
            assert_eq!(
                scheduler.instances().await[0].pid,
                None,
                "an attached browser is not ours"
            );
            assert_eq!(scheduler.instance("inst_1").unwrap().profile_dir(), None);
            let t = run_on(
                &scheduler,
                task("attached", vec![goto("index.html"), get_text("#title")]),
            )
            .await;
            assert_completed(&t);
            assert_eq!(text_of(&t, 1), "Fixture Site", "via {endpoint}");
            scheduler.shutdown().await;
            // Shutting down an attached instance closes its page, never the browser.
            assert!(pid_alive(pid), "the user's Chromium survives the shutdown");
        }

        drop(chromium);
        assert!(!pid_alive(pid));
        assert_eq!(processes_using(&profile), Vec::<u32>::new());
        assert!(!profile.exists());
    });
}

#[test]
fn a_panicking_task_fails_and_the_worker_goes_on() {
    block_on(async {
        let (scheduler, _permit) = private_scheduler_with(SchedulerConfig {
            panic_on_intention: Some("panic here".into()),
            ..config(1)
        })
        .await;
        let mut doomed = task(
            "doomed",
            vec![goto("index.html"), get_text("#title"), get_text("#title")],
        );
        doomed["commands"][1]["intention"] = "panic here".into();
        let doomed = scheduler.submit_json(&doomed).await.unwrap();
        let after = scheduler
            .submit_json(&task("after", vec![goto("index.html"), get_text("#title")]))
            .await
            .unwrap();
        let t = tokio::time::timeout(
            Duration::from_secs(60),
            scheduler.wait_finished(&doomed.task_id),
        )
        .await
        .expect("the panicked task ends")
        .unwrap();
        assert_eq!(t.status, TaskStatus::Failed);
        let error = t.error.clone().unwrap();
        assert_eq!(error.code, ErrorCode::ExecutionError);
        assert!(error.message.contains("panicked"), "{}", error.message);
        assert_eq!(
            t.commands.iter().map(|c| c.status).collect::<Vec<_>>(),
            [
                CommandStatus::Success,
                CommandStatus::Error,
                CommandStatus::Skipped
            ]
        );
        let next = tokio::time::timeout(
            Duration::from_secs(60),
            scheduler.wait_finished(&after.task_id),
        )
        .await
        .expect("the queue carries on")
        .unwrap();
        assert_eq!(next.status, TaskStatus::Completed, "{:?}", next.error);
    });
}
