//! Failures the engine must report clearly and recover from: blocked elements, missing
//! elements, timeouts, dialogs, unreachable hosts, hung pages, cancellation.

mod common;
use std::time::{Duration, Instant};

use browser_control::browser::Executor;
use browser_control::events::{Event, EventKind};
use browser_control::scheduler::Scheduler;
use browser_control::task::{ErrorCode, TaskStatus};
use common::*;
use serde_json::{json, Value};
use tokio::sync::broadcast;

fn get_text(selector: &str) -> Value {
    content(json!({"action": "get_text", "selector": selector}))
}
fn click(selector: &str) -> Value {
    interact(json!({"action": "click", "selector": selector}))
}

/// Waits (generously) for the first event matching `pred`.
async fn next_event(
    rx: &mut broadcast::Receiver<Event>,
    pred: impl Fn(&EventKind) -> bool,
) -> Event {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match rx.recv().await {
                Ok(ev) if pred(&ev.kind) => return ev,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(n)) => panic!("lagged {n} events"),
                Err(e) => panic!("event stream ended: {e}"),
            }
        }
    })
    .await
    .expect("event within 60 s")
}

/// How long command `index` ran, from its record.
fn ran_ms(t: &browser_control::task::Task, index: usize) -> u64 {
    let c = &t.commands[index];
    c.completed_at.expect("completed") - c.started_at.expect("started")
}

/// How long a task ran (queue time excluded: other tests share the instance).
fn task_ms(t: &browser_control::task::Task) -> u64 {
    t.completed_at.expect("completed") - t.started_at.expect("started")
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A task on the shared instance after a fault: it must complete, and promptly.
async fn check_instance_works(scheduler: &Scheduler, within: Duration) {
    let t = run_on(
        scheduler,
        task("after", vec![goto("index.html"), get_text("#title")]),
    )
    .await;
    assert_completed(&t);
    assert_eq!(text_of(&t, 1), "Fixture Site");
    assert!(
        task_ms(&t) < within.as_millis() as u64,
        "next task took {} ms",
        task_ms(&t)
    );
}

// ---------------------------------------------------------------- elements

/// A click that is refused must not land: the page is checked by a second task, on a private
/// instance so no other test's task navigates in between.
#[test]
fn blocked_clicks_do_not_click() {
    block_on(async {
        let (scheduler, _permit) = private_scheduler().await;

        let t = run_on(
            &scheduler,
            task("covered", vec![goto("covered.html"), click("#covered-btn")]),
        )
        .await;
        assert_eq!(t.status, TaskStatus::Failed);
        let e = error_of(&t, 1);
        assert_eq!(e.code, ErrorCode::ExecutionError);
        assert!(e.message.contains("div#cookie-overlay"), "{e}");
        assert!(e.message.contains("button#covered-btn"), "{e}");
        let after = run_on(
            &scheduler,
            task(
                "bought?",
                vec![execute("return location.pathname"), get_text("#bought")],
            ),
        )
        .await;
        assert_eq!(text_of(&after, 0), "\"/covered.html\"");
        assert_eq!(text_of(&after, 1), "no");

        let t = run_on(
            &scheduler,
            task(
                "disabled",
                vec![
                    goto("disabled.html"),
                    click("#disabled-btn"),
                    click("#enabled-btn"),
                ],
            ),
        )
        .await;
        assert_eq!(t.status, TaskStatus::Failed);
        let e = error_of(&t, 1);
        assert_eq!(e.code, ErrorCode::ExecutionError);
        assert!(e.message.contains("disabled"), "{e}");
        assert!(e.message.contains("button#disabled-btn"), "{e}");
        assert_eq!(statuses(&t), ["success", "error", "skipped"]);
        let after = run_on(&scheduler, task("clicked?", vec![get_text("#clicked")])).await;
        assert_eq!(text_of(&after, 0), "none");

        scheduler.shutdown().await;
    });
}

#[test]
fn missing_and_invalid_selectors() {
    block_on(async {
        let t = run(
            "missing text",
            vec![goto("index.html"), get_text("#does-not-exist")],
        )
        .await;
        let e = error_of(&t, 1);
        assert_eq!(e.code, ErrorCode::ExecutionError);
        assert!(e.message.contains("#does-not-exist"), "{e}");

        let t = run(
            "missing click",
            vec![
                goto("index.html"),
                interact(json!({"action": "click", "selector": "#does-not-exist", "timeout": 500})),
            ],
        )
        .await;
        let e = error_of(&t, 1);
        assert_eq!(e.code, ErrorCode::CommandTimeout, "{e}");
        assert!(e.message.contains("#does-not-exist"), "{e}");
        assert!(
            (350..2000).contains(&ran_ms(&t, 1)),
            "took {} ms",
            ran_ms(&t, 1)
        );

        for command in [
            get_text("#a["),
            click("#a["),
            nav(json!({"action": "wait_for", "selector": "#a[", "timeout": 5000})),
        ] {
            let t = run("invalid", vec![goto("index.html"), command.clone()]).await;
            let e = error_of(&t, 1);
            assert_eq!(e.code, ErrorCode::ExecutionError, "{command}");
            assert!(e.message.contains("invalid selector '#a['"), "{e}");
            assert!(
                ran_ms(&t, 1) < 1000,
                "an invalid selector is not waited on: {} ms",
                ran_ms(&t, 1)
            );
        }
    });
}

// ---------------------------------------------------------------- waits

#[test]
fn wait_for_honours_its_timeout() {
    block_on(async {
        let t = run(
            "too short",
            vec![
                goto("delayed.html"),
                nav(json!({"action": "wait_for", "selector": "#late-btn", "timeout": 300})),
            ],
        )
        .await;
        let e = error_of(&t, 1);
        assert_eq!(e.code, ErrorCode::CommandTimeout);
        assert!(e.message.contains("300 ms"), "{e}");
        assert!(e.message.contains("#late-btn"), "{e}");
        assert!(
            (200..1500).contains(&ran_ms(&t, 1)),
            "took {} ms",
            ran_ms(&t, 1)
        );

        let t = run(
            "long enough",
            vec![
                goto("delayed.html"),
                nav(json!({"action": "wait_for", "selector": "#late-btn", "timeout": 5000})),
                click("#late-btn"),
                get_text("#late-status"),
            ],
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 3), "clicked");

        let t = run(
            "hidden",
            vec![
                goto("delayed.html"),
                nav(json!({"action": "wait_for", "selector": "#hidden-box", "timeout": 300})),
            ],
        )
        .await;
        let e = error_of(&t, 1);
        assert_eq!(e.code, ErrorCode::CommandTimeout);
        assert!(e.message.contains("not visible"), "{e}");
        assert!(e.message.contains("div#hidden-box"), "{e}");
    });
}

#[test]
fn a_failed_command_skips_the_rest() {
    block_on(async {
        let t = run(
            "fails",
            vec![
                goto("index.html"),
                get_text("#title"),
                get_text("#missing"),
                get_text("#title"),
                goto("playground.html"),
            ],
        )
        .await;
        assert_eq!(t.status, TaskStatus::Failed);
        assert_eq!(
            statuses(&t),
            ["success", "success", "error", "skipped", "skipped"]
        );
        let error = t.error.clone().expect("task error");
        assert_eq!(error.code, ErrorCode::ExecutionError);
        assert_eq!(error.command_id.as_deref(), Some(t.commands[2].id.as_str()));
        assert_eq!(error.command_id.unwrap(), format!("{}_cmd_2", t.id));
        assert!(error.message.contains("#missing"), "{}", error.message);
        assert_eq!(t.current_command_index, 2);
        assert!(t.commands[3].started_at.is_none() && t.commands[3].result.is_none());
        assert!(t.completed_at.is_some());
    });
}

// ---------------------------------------------------------------- dialogs

#[test]
fn dialogs_never_block() {
    block_on(async {
        let mut events = env().shared.events().subscribe();
        let t = run(
            "dialogs",
            vec![
                goto("dialogs.html"),
                click("#alert-btn"),
                get_text("#result"),
                click("#confirm-btn"),
                get_text("#result"),
                click("#prompt-btn"),
                get_text("#result"),
            ],
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 2), "after-alert");
        assert_eq!(text_of(&t, 4), "confirm:false");
        assert_eq!(text_of(&t, 6), "prompt:null");
        let alert = text_of(&t, 1);
        assert!(
            alert.contains("alert dialog \"Hello from alert\" was dismissed"),
            "{alert}"
        );
        assert!(text_of(&t, 3).contains("confirm dialog \"Are you sure?\" was dismissed"));
        assert!(text_of(&t, 5).contains("prompt dialog \"Your name?\" was dismissed"));

        let mut seen = Vec::new();
        while seen.len() < 3 {
            let ev = next_event(
                &mut events,
                |k| matches!(k, EventKind::DialogHandled { task_id: Some(id), .. } if *id == t.id),
            )
            .await;
            if let EventKind::DialogHandled { dialog, .. } = ev.kind {
                seen.push((dialog.kind, dialog.message, dialog.accepted));
            }
        }
        assert_eq!(
            seen,
            [
                ("alert".to_string(), "Hello from alert".to_string(), false),
                ("confirm".to_string(), "Are you sure?".to_string(), false),
                ("prompt".to_string(), "Your name?".to_string(), false),
            ]
        );
    });
}

#[test]
fn alert_on_load_does_not_block_goto() {
    block_on(async {
        let t = run(
            "alert on load",
            vec![goto("alert-on-load.html"), get_text("#after")],
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 1), "Page continued");
        assert!(
            text_of(&t, 0).contains("alert dialog \"Loaded alert\" was dismissed"),
            "{}",
            text_of(&t, 0)
        );
    });
}

#[test]
fn beforeunload_is_accepted() {
    block_on(async {
        let t = run(
            "beforeunload",
            vec![
                goto("beforeunload.html"),
                click("#touch-btn"),
                get_text("#touched"),
                goto("index.html"),
                get_text("#title"),
            ],
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 2), "yes");
        let left = text_of(&t, 3);
        assert!(left.contains("HTTP 200"), "{left}");
        assert!(left.contains("beforeunload dialog"), "{left}");
        assert!(left.contains("was accepted"), "{left}");
        assert_eq!(text_of(&t, 4), "Fixture Site");
    });
}

// ---------------------------------------------------------------- network and history

#[test]
fn unreachable_hosts_fail_with_the_net_error() {
    block_on(async {
        // Port 9 (discard) is on Chromium's unsafe-port list: it answers ERR_UNSAFE_PORT.
        let t = run(
            "unsafe port",
            vec![nav(json!({"action": "goto", "url": "http://127.0.0.1:9/"}))],
        )
        .await;
        let e = error_of(&t, 0);
        assert_eq!(e.code, ErrorCode::ExecutionError);
        assert!(e.message.contains("ERR_UNSAFE_PORT"), "{e}");

        let refused = format!("http://127.0.0.1:{}/", closed_port());
        let t = run(
            "refused",
            vec![nav(json!({"action": "goto", "url": refused}))],
        )
        .await;
        let e = error_of(&t, 0);
        assert_eq!(e.code, ErrorCode::ExecutionError);
        assert!(
            e.message.contains(&format!(
                "cannot load {refused}: net::ERR_CONNECTION_REFUSED"
            )),
            "{e}"
        );
        assert!(e.message.contains("connection refused"), "{e}");
        assert!(ran_ms(&t, 0) < 5000, "took {} ms", ran_ms(&t, 0));

        let t = run(
            "dns",
            vec![nav(
                json!({"action": "goto", "url": "http://no-such-host.invalid/"}),
            )],
        )
        .await;
        let e = error_of(&t, 0);
        assert_eq!(e.code, ErrorCode::ExecutionError);
        assert!(e.message.contains("ERR_NAME_NOT_RESOLVED"), "{e}");
        assert!(e.message.contains("DNS"), "{e}");

        check_instance_works(&env().shared, Duration::from_secs(10)).await;
    });
}

#[test]
fn forward_without_a_next_page() {
    block_on(async {
        let t = run(
            "forward",
            vec![
                goto("index.html"),
                goto("playground.html"),
                nav(json!({"action": "forward"})),
            ],
        )
        .await;
        let e = error_of(&t, 2);
        assert_eq!(e.code, ErrorCode::ExecutionError);
        assert!(e.message.contains("no next page"), "{e}");
        assert!(e.message.contains("playground.html"), "{e}");
    });
}

#[test]
fn back_on_a_fresh_page() {
    block_on(async {
        let (scheduler, _permit) = private_scheduler().await;
        let t = run_on(
            &scheduler,
            task("back", vec![nav(json!({"action": "back"}))]),
        )
        .await;
        let e = error_of(&t, 0);
        assert_eq!(e.code, ErrorCode::ExecutionError);
        assert!(e.message.contains("no previous page"), "{e}");
        assert!(e.message.contains("about:blank"), "{e}");
        scheduler.shutdown().await;
    });
}

// ---------------------------------------------------------------- slow and hung pages

#[test]
fn slow_page_times_out_and_the_instance_goes_on() {
    block_on(async {
        let t = run(
            "slow",
            vec![nav(
                json!({"action": "goto", "url": url("slow?ms=5000"), "timeout": 1000}),
            )],
        )
        .await;
        let e = error_of(&t, 0);
        assert_eq!(e.code, ErrorCode::CommandTimeout);
        assert!(e.message.contains("1000 ms"), "{e}");
        assert!(task_ms(&t) < 3000, "took {} ms", task_ms(&t));
        check_instance_works(&env().shared, Duration::from_secs(3)).await;
    });
}

#[test]
fn slow_page_within_its_timeout_loads() {
    block_on(async {
        let t = run(
            "slow ok",
            vec![
                nav(json!({"action": "goto", "url": url("slow?ms=300"), "timeout": 5000})),
                get_text("#slow"),
            ],
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 1), "Answered after 300 ms");
    });
}

/// chromiumoxide gives up on Page.navigate after 30 s; a deadline beyond that is still ours.
#[test]
fn a_load_longer_than_30_s_within_its_timeout_loads() {
    block_on(async {
        let (scheduler, _permit) = private_scheduler().await;
        let t = run_on(
            &scheduler,
            task(
                "slow load",
                vec![
                    nav(json!({"action": "goto", "url": url("slow?ms=31000"), "timeout": 45000})),
                    get_text("#slow"),
                ],
            ),
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 1), "Answered after 31000 ms");
    });
}

#[test]
fn hung_page_is_recovered() {
    block_on(async {
        let t = run(
            "busy",
            vec![nav(
                json!({"action": "goto", "url": url("busy.html"), "timeout": 2000}),
            )],
        )
        .await;
        let e = error_of(&t, 0);
        assert_eq!(e.code, ErrorCode::CommandTimeout);
        assert!(
            task_ms(&t) < 4000,
            "took {} ms (recovery included)",
            task_ms(&t)
        );
        check_instance_works(&env().shared, Duration::from_secs(3)).await;
    });
}

/// A navigation the page starts itself (not a goto) that outlasts the command: the page is
/// left mid-navigation, where Chromium holds every script call until it commits.
#[test]
fn slow_navigation_started_by_the_page_is_recovered() {
    block_on(async {
        let slow = url("slow?ms=6000");
        let t = run(
            "page navigates",
            vec![
                goto("index.html"),
                execute(&format!(
                    "location.href = {}; return 'leaving'",
                    Value::from(slow)
                )),
                nav(json!({"action": "wait_for", "selector": "#slow", "timeout": 1000})),
            ],
        )
        .await;
        assert_eq!(text_of(&t, 1), "\"leaving\"");
        let e = error_of(&t, 2);
        assert_eq!(e.code, ErrorCode::CommandTimeout);
        assert!(e.message.contains("'#slow'"), "{e}");
        assert!(
            task_ms(&t) < 3500,
            "took {} ms (recovery included)",
            task_ms(&t)
        );
        check_instance_works(&env().shared, Duration::from_secs(3)).await;
    });
}

/// Cancels task `id` once its command `index` has started; returns the final record, checking
/// the cancel took effect within 2 s.
async fn cancel_once_started(
    scheduler: &Scheduler,
    events: &mut broadcast::Receiver<Event>,
    id: &str,
    index: usize,
) -> std::sync::Arc<browser_control::task::Task> {
    next_event(events, |k| {
        matches!(k, EventKind::CommandStarted { task_id, index: i, .. } if task_id == id && *i == index)
    })
    .await;
    let cancelled_at = Instant::now();
    scheduler
        .cancel(id)
        .await
        .expect("a running task can be cancelled");
    let finished = next_event(
        events,
        |k| matches!(k, EventKind::TaskFinished { task } if task.id == id),
    )
    .await;
    assert!(
        cancelled_at.elapsed() < Duration::from_secs(2),
        "took {:?}",
        cancelled_at.elapsed()
    );
    let EventKind::TaskFinished { task } = finished.kind else {
        unreachable!("waited for TaskFinished")
    };
    task
}

#[test]
fn cancel_a_running_goto() {
    block_on(async {
        let scheduler = &env().shared;
        let mut events = scheduler.events().subscribe();
        let id = scheduler
            .submit_json(&task(
                "slow goto",
                vec![goto("index.html"), goto("slow?ms=8000"), get_text("#slow")],
            ))
            .await
            .unwrap()
            .task_id;
        let t = cancel_once_started(scheduler, &mut events, &id, 1).await;
        assert_eq!(t.status, TaskStatus::Cancelled);
        assert_eq!(statuses(&t), ["success", "skipped", "skipped"]);
        check_instance_works(scheduler, Duration::from_secs(3)).await;
    });
}

#[test]
fn default_timeout_applies_without_a_timeout() {
    block_on(async {
        let mut config = config(1);
        config.executor = Executor {
            default_timeout: Duration::from_secs(1),
        };
        let (scheduler, _permit) = private_scheduler_with(config).await;
        let started = Instant::now();
        let t = run_on(
            &scheduler,
            task(
                "default timeout",
                vec![
                    goto("index.html"),
                    nav(json!({"action": "wait_for", "selector": "#never"})),
                ],
            ),
        )
        .await;
        let elapsed = started.elapsed();
        let e = error_of(&t, 1);
        assert_eq!(e.code, ErrorCode::CommandTimeout);
        assert!(e.message.contains("1000 ms"), "{e}");
        let waited = t.commands[1].completed_at.unwrap() - t.commands[1].started_at.unwrap();
        assert!((900..2500).contains(&waited), "waited {waited} ms");
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
        scheduler.shutdown().await;
    });
}

// ---------------------------------------------------------------- cancel

#[test]
fn cancel_a_running_task() {
    block_on(async {
        let scheduler = &env().shared;
        let mut events = scheduler.events().subscribe();
        let submitted = scheduler
            .submit_json(&task("forever", vec![
                goto("index.html"),
                cmd("browser_execute", json!({"action": "evaluate", "script": "return new Promise(() => {})", "timeout": 60000})),
                get_text("#title"),
            ])).await
            .unwrap();
        let id = submitted.task_id.clone();
        let t = cancel_once_started(scheduler, &mut events, &id, 1).await;
        assert_eq!(t.status, TaskStatus::Cancelled);
        assert_eq!(statuses(&t), ["success", "skipped", "skipped"]);
        assert_eq!(t.error.as_ref().map(|e| e.code), Some(ErrorCode::Cancelled));
        assert!(t.commands[1].started_at.is_some() && t.commands[1].completed_at.is_some());
        assert!(t.commands[2].started_at.is_none());
        assert_eq!(
            scheduler.cancel(&id).await,
            Err(browser_control::scheduler::CancelError)
        );
        check_instance_works(scheduler, Duration::from_secs(5)).await;
    });
}

#[test]
fn cancel_a_queued_task() {
    block_on(async {
        let (scheduler, _permit) = private_scheduler().await;
        let mut events = scheduler.events().subscribe();
        let long = scheduler
            .submit_json(&task("long", vec![
                goto("index.html"),
                cmd("browser_execute", json!({"action": "evaluate", "script": "return new Promise(r => setTimeout(() => r('done'), 1500))"})),
            ])).await
            .unwrap();
        let queued = scheduler
            .submit_json(&task(
                "queued",
                vec![goto("index.html"), get_text("#title")],
            ))
            .await
            .unwrap();
        let last = scheduler
            .submit_json(&task(
                "last",
                vec![goto("playground.html"), get_text("#counter-btn")],
            ))
            .await
            .unwrap();
        assert_eq!((queued.queue_position, last.queue_position), (1, 2));
        let qid = queued.task_id.clone();
        scheduler
            .cancel(&qid)
            .await
            .expect("a queued task can be cancelled");
        let t = scheduler.tasks().get(&qid).await.unwrap();
        assert_eq!(t.status, TaskStatus::Cancelled);
        assert_eq!(statuses(&t), ["skipped", "skipped"]);
        assert!(t.started_at.is_none());
        assert_eq!(t.error.as_ref().map(|e| e.code), Some(ErrorCode::Cancelled));
        assert!(
            scheduler.cancel(&qid).await.is_err(),
            "a finished task cannot be cancelled"
        );

        let long_done = scheduler.wait_finished(&long.task_id).await.unwrap();
        assert_completed(&long_done);
        assert_eq!(text_of(&long_done, 1), "\"done\"");
        let last_done = scheduler.wait_finished(&last.task_id).await.unwrap();
        assert_completed(&last_done);
        assert_eq!(text_of(&last_done, 1), "Clicked 0");
        assert!(
            scheduler.cancel(&last.task_id).await.is_err(),
            "a completed task cannot be cancelled"
        );

        // The cancelled task never started: no TaskStarted or CommandStarted for it.
        let mut kinds = Vec::new();
        while let Ok(ev) = events.try_recv() {
            if ev.kind.task_id() == Some(qid.as_str()) {
                kinds.push(match ev.kind {
                    EventKind::TaskQueued { .. } => "queued",
                    EventKind::CommandSkipped { .. } => "skipped",
                    EventKind::TaskFinished { .. } => "finished",
                    _ => "other",
                });
            }
        }
        assert_eq!(kinds, ["queued", "skipped", "skipped", "finished"]);
        assert!(
            scheduler.cancel("task_0_0").await.is_err(),
            "an unknown task cannot be cancelled"
        );
        scheduler.shutdown().await;
    });
}

#[test]
fn a_hostile_page_cannot_stall_or_fool_the_helpers() {
    block_on(async {
        let t = run(
            "hostile",
            vec![
                goto("hostile.html"),
                nav(json!({"action": "wait_for", "selector": "#safe-btn", "timeout": 5000})),
                interact(json!({"action": "click", "selector": "#safe-btn", "timeout": 5000})),
                content(json!({"action": "get_text", "selector": "#result"})),
                interact(json!({"action": "select", "selector": "#pick", "value": "Two", "timeout": 5000})),
                content(json!({"action": "get_viewport_dom"})),
                // User scripts run in the page's own world and see its sabotage.
                execute("return document.querySelector('#title') === null"),
            ],
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 3), "clicked");
        assert!(text_of(&t, 4).contains("value \"2\""), "{}", text_of(&t, 4));
        let dom: Value = serde_json::from_str(&text_of(&t, 5)).unwrap();
        let buttons: Vec<&Value> = dom["elements"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["tag"] == "button")
            .collect();
        assert_eq!(buttons.len(), 1, "{dom}");
        assert_eq!(buttons[0]["selector"], "#safe-btn");
        assert!(
            buttons[0]["box"][2].as_i64().unwrap() > 0,
            "real box, not the page's fake one: {dom}"
        );
        assert_eq!(
            text_of(&t, 6),
            "true",
            "querySelector returns null in the page's world"
        );
    });
}

#[test]
fn a_goto_that_loads_no_page_fails_at_once_and_the_instance_goes_on() {
    block_on(async {
        for (path, why) in [
            ("status?code=204", "HTTP 204 No Content: no content to show"),
            ("download", "a file to download (application/octet-stream)"),
        ] {
            let t = run(
                "no page",
                vec![
                    goto("index.html"),
                    nav(json!({"action": "goto", "url": url(path), "timeout": 15000})),
                ],
            )
            .await;
            let e = error_of(&t, 1);
            assert_eq!(
                e.code,
                ErrorCode::ExecutionError,
                "{path}: {:#}",
                summary(&t)
            );
            assert!(
                e.message.contains("did not load a page") && e.message.contains(why),
                "{path}: {}",
                e.message
            );
            let took = t.commands[1].completed_at.unwrap() - t.commands[1].started_at.unwrap();
            assert!(
                took < 5000,
                "{path}: failed after {took} ms, not at its 15 s deadline"
            );

            let next = run(
                "after no page",
                vec![
                    goto("index.html"),
                    content(json!({"action": "get_text", "selector": "#title"})),
                ],
            )
            .await;
            assert_completed(&next);
            assert_eq!(text_of(&next, 1), "Fixture Site");
        }
    });
}

#[test]
fn navigating_away_from_a_page_still_loading_is_not_an_abandoned_navigation() {
    block_on(async {
        // The slow page's load is still pending (its goto timed out) when the next goto starts.
        let t = run(
            "interrupt a load",
            vec![
                goto("index.html"),
                execute("location.href = '/slow?ms=3000'; return 1"),
                goto("article.html"),
                content(json!({"action": "get_text", "selector": "#firstHeading"})),
            ],
        )
        .await;
        assert_completed(&t);
        assert!(text_of(&t, 2).contains("HTTP 200"), "{}", text_of(&t, 2));
        assert_eq!(text_of(&t, 3), "A Long Article");
    });
}
