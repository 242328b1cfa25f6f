//! Hostile pages and what they must not do to the instance: commands end at their deadline
//! (the page's repair comes after the answer), the next task starts on a working page, one
//! task's dialog policy does not answer another's dialogs, what the instance keeps stays
//! bounded, and an attached browser gets the same deadlines as a launched one.

mod common;
use std::time::{Duration, Instant};

use browser_control::browser::BrowserSource;
use browser_control::scheduler::{Scheduler, SchedulerConfig};
use browser_control::task::{ErrorCode, Task};
use common::*;
use serde_json::{json, Value};

fn get_text(selector: &str) -> Value {
    content(json!({"action": "get_text", "selector": selector}))
}

fn debug(args: Value) -> Value {
    cmd("browser_debug", args)
}

fn evaluate(script: &str, timeout_ms: u64) -> Value {
    cmd(
        "browser_execute",
        json!({"action": "evaluate", "script": script, "timeout": timeout_ms}),
    )
}

/// How long command `index` ran, from the record (queueing excluded).
fn command_ms(t: &Task, index: usize) -> u64 {
    let c = &t.commands[index];
    c.completed_at.expect("completed") - c.started_at.expect("started")
}

fn task_ms(t: &Task) -> u64 {
    t.completed_at.expect("completed") - t.started_at.expect("started")
}

/// The next task on `scheduler` works, and quickly.
async fn next_task_works(scheduler: &Scheduler, within_ms: u64) {
    let t = run_on(
        scheduler,
        task(
            "next",
            vec![
                nav(json!({"action": "goto", "url": url("index.html"), "timeout": 5000})),
                get_text("#title"),
            ],
        ),
    )
    .await;
    assert_completed(&t);
    assert_eq!(text_of(&t, 1), "Fixture Site");
    assert!(
        task_ms(&t) < within_ms,
        "the next task took {} ms",
        task_ms(&t)
    );
}

// ---------------------------------------------------------------- deadlines

/// A script that never ends and a read on a page busy in a loop both end at their 2000 ms
/// deadline; the page is repaired after the answer, and the next task works.
#[test]
fn commands_end_at_their_deadline_on_a_busy_page() {
    block_on(async {
        let (scheduler, _permit) = private_scheduler().await;
        let t = run_on(
            &scheduler,
            task(
                "loop",
                vec![goto("index.html"), evaluate("while (true) {}", 2000)],
            ),
        )
        .await;
        let e = error_of(&t, 1);
        assert_eq!(e.code, ErrorCode::CommandTimeout, "{e}");
        let ms = command_ms(&t, 1);
        assert!((1900..=2200).contains(&ms), "evaluate took {ms} ms");
        next_task_works(&scheduler, 4000).await;

        let t = run_on(
            &scheduler,
            task(
                "busy page",
                vec![
                    goto("busy-later.html"),
                    nav(json!({"action": "sleep", "duration": 400})),
                    content(json!({"action": "get_text", "selector": "#title", "timeout": 2000})),
                ],
            ),
        )
        .await;
        let e = error_of(&t, 2);
        assert_eq!(e.code, ErrorCode::CommandTimeout, "{e}");
        let ms = command_ms(&t, 2);
        assert!((1900..=2200).contains(&ms), "get_text took {ms} ms");
        next_task_works(&scheduler, 4000).await;
        scheduler.shutdown().await;
    });
}

// ---------------------------------------------------------------- the next task

/// A goto that returns at DOMContentLoaded on a page whose image never loads leaves
/// chromiumoxide waiting for that load: the next task's goto must not wait behind it.
#[test]
fn the_next_goto_works_after_domcontentloaded_on_a_page_that_never_loads() {
    block_on(async {
        let (scheduler, _permit) = private_scheduler().await;
        let t = run_on(
            &scheduler,
            task(
                "never loads",
                vec![nav(json!({
                    "action": "goto",
                    "url": url("image-never.html"),
                    "waitUntil": "domcontentloaded",
                    "timeout": 5000,
                }))],
            ),
        )
        .await;
        assert_completed(&t);
        assert!(
            text_of(&t, 0).contains("DOMContentLoaded"),
            "{}",
            text_of(&t, 0)
        );
        next_task_works(&scheduler, 3000).await;
        // And once more from a page the same way, with a read in between.
        let t = run_on(
            &scheduler,
            task(
                "never loads again",
                vec![
                    nav(json!({"action": "goto", "url": url("image-never.html"), "waitUntil": "domcontentloaded"})),
                    get_text("#title"),
                ],
            ),
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 1), "Never loads");
        next_task_works(&scheduler, 3000).await;
        scheduler.shutdown().await;
    });
}

/// A page raising an alert every 5 ms: each command reports a bounded number of dialogs,
/// nothing piles up while no task runs, and the next task's goto works promptly (the page,
/// which no navigation could leave, is replaced first).
#[test]
fn the_next_goto_works_after_an_alert_storm() {
    block_on(async {
        let (scheduler, _permit) = private_scheduler().await;
        let t = run_on(
            &scheduler,
            task(
                "storm",
                vec![
                    nav(json!({"action": "goto", "url": url("alert-storm.html"), "timeout": 5000})),
                    nav(json!({"action": "sleep", "duration": 1500})),
                ],
            ),
        )
        .await;
        assert_completed(&t);
        let mut total = 0;
        for index in 0..2 {
            let said = text_of(&t, index);
            let lines = said.lines().filter(|l| l.contains("dialog")).count();
            assert!(lines <= 51, "{lines} dialog lines");
            total += lines;
        }
        assert!(total > 50, "the storm was on: {total} dialog lines");
        assert!(
            text_of(&t, 1).contains("more dialogs like it"),
            "{}",
            text_of(&t, 1)
        );
        // Idle while the storm goes on: nothing may pile up.
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let instance = scheduler.instance("inst_1").unwrap();
        assert!(instance.sizes().dialogs <= 50, "{:?}", instance.sizes());
        next_task_works(&scheduler, 3000).await;
        scheduler.shutdown().await;
    });
}

/// A dialog policy set by one task does not answer the next task's dialogs, unless both tasks
/// belong to the same session (their metadata's `session`, as MCP sets it).
#[test]
fn a_dialog_policy_does_not_leak_into_the_next_task() {
    block_on(async {
        let (scheduler, _permit) = private_scheduler().await;
        let confirm = || {
            vec![
                goto("dialogs.html"),
                interact(json!({"action": "click", "selector": "#confirm-btn"})),
                get_text("#result"),
            ]
        };
        let with_session = |name: &str, session: Option<&str>, commands: Vec<Value>| {
            let mut t = task(name, commands);
            if let Some(s) = session {
                t["metadata"] = json!({ "session": s });
            }
            t
        };
        let mut commands = vec![debug(json!({"action": "dialog", "policy": "accept"}))];
        commands.extend(confirm());
        let t = run_on(
            &scheduler,
            with_session("sets accept", None, commands.clone()),
        )
        .await;
        assert_eq!(
            text_of(&t, 3),
            "confirm:true",
            "the policy holds within its task"
        );

        let t = run_on(&scheduler, with_session("next", None, confirm())).await;
        assert_eq!(
            text_of(&t, 2),
            "confirm:false",
            "the next task has the default"
        );

        // Same session: kept; another session's task resets it.
        let t = run_on(&scheduler, with_session("s1 sets", Some("s1"), commands)).await;
        assert_eq!(text_of(&t, 3), "confirm:true");
        let t = run_on(&scheduler, with_session("s1 again", Some("s1"), confirm())).await;
        assert_eq!(text_of(&t, 2), "confirm:true", "kept for its own session");
        let t = run_on(&scheduler, with_session("s2", Some("s2"), confirm())).await;
        assert_eq!(text_of(&t, 2), "confirm:false", "another session's task");
        let t = run_on(
            &scheduler,
            with_session("s1 after s2", Some("s1"), confirm()),
        )
        .await;
        assert_eq!(
            text_of(&t, 2),
            "confirm:false",
            "reset once another task ran"
        );
        scheduler.shutdown().await;
    });
}

// ---------------------------------------------------------------- bounded memory

/// Many cycles of tabs opened and closed, pages replaced, dialogs and downloads: what the
/// instance keeps of them stays flat.
#[test]
fn what_the_instance_keeps_stays_bounded() {
    block_on(async {
        let (scheduler, _permit) = private_scheduler().await;
        let instance = scheduler.instance("inst_1").unwrap();
        let tab = |args: Value| cmd("browser_tab", args);
        let cap = browser_control::browser::instance::DOWNLOADS_CAP;
        let mut sizes = Vec::new();
        for round in 0..4 {
            let mut commands = Vec::new();
            for _ in 0..20 {
                commands.push(tab(json!({"action": "new"})));
                commands.push(tab(json!({"action": "close"})));
            }
            // A page replaced (a goto that does not finish) closes a target too.
            commands.push(nav(
                json!({"action": "goto", "url": url("slow?ms=3000"), "timeout": 300}),
            ));
            let t = run_on(&scheduler, task(&format!("tabs {round}"), commands)).await;
            assert_eq!(
                error_of(&t, 40).code,
                ErrorCode::CommandTimeout,
                "{:#}",
                summary(&t)
            );
            let mut downloads = vec![goto("downloads-many.html")];
            for _ in 0..25 {
                downloads.push(interact(json!({"action": "click", "selector": "#one"})));
            }
            downloads.push(nav(json!({"action": "sleep", "duration": 300})));
            let t = run_on(&scheduler, task(&format!("downloads {round}"), downloads)).await;
            assert_completed(&t);
            let t = run_on(
                &scheduler,
                task(
                    &format!("dialogs {round}"),
                    vec![
                        goto("alert-storm.html"),
                        nav(json!({"action": "sleep", "duration": 300})),
                    ],
                ),
            )
            .await;
            assert_completed(&t);
            // The storm goes on while no task runs: it fills the kept dialogs (how fast depends
            // on the machine's load), which never grow past the bound meanwhile.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            while instance.sizes().dialogs < 50 && tokio::time::Instant::now() < deadline {
                assert!(instance.sizes().dialogs <= 50, "{:?}", instance.sizes());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            sizes.push(instance.sizes());
        }
        // 80 tabs and 4 pages closed; 100 downloads started; a storm of dialogs.
        assert!(sizes.iter().all(|s| s.tabs == 1), "{sizes:?}");
        assert!(sizes.iter().all(|s| s.closed_tabs <= 64), "{sizes:?}");
        assert!(sizes.iter().all(|s| s.dialogs <= 50), "{sizes:?}");
        assert!(sizes.iter().all(|s| s.downloads <= cap), "{sizes:?}");
        assert_eq!(sizes[3].closed_tabs, 64, "more closed than kept: {sizes:?}");
        assert_eq!(
            sizes[3].downloads, cap,
            "more downloads than kept: {sizes:?}"
        );
        assert_eq!(sizes[3].dialogs, 50, "more dialogs than kept: {sizes:?}");
        // Listing the tabs forgets closed targets Chromium no longer has.
        let t = run_on(
            &scheduler,
            task("list", vec![tab(json!({"action": "list"}))]),
        )
        .await;
        assert_completed(&t);
        assert!(instance.sizes().closed_tabs < 64, "{:?}", instance.sizes());
        scheduler.shutdown().await;
    });
}

// ---------------------------------------------------------------- attached browsers

/// An attached browser gets the same request timeout and page repair as a launched one: a
/// command that outlasts chromiumoxide's default 30 s request timeout succeeds, and a script
/// that never ends still ends at its deadline with the page repaired for the next task.
#[test]
fn an_attached_browser_has_our_deadlines_not_chromiumoxides() {
    block_on(async {
        let _permit = env().private_browsers.acquire().await.unwrap();
        let chromium = OwnChromium::start();
        let scheduler = Scheduler::start(SchedulerConfig {
            instances: 1,
            source: BrowserSource::Attach(chromium.ws_url.clone()),
            ..config(1)
        })
        .await
        .expect("attaches");
        register_cleanup(&scheduler);

        let t = run_on(
            &scheduler,
            task(
                "loop",
                vec![goto("index.html"), evaluate("while (true) {}", 2000)],
            ),
        )
        .await;
        assert_eq!(error_of(&t, 1).code, ErrorCode::CommandTimeout);
        let ms = command_ms(&t, 1);
        assert!((1900..=2200).contains(&ms), "evaluate took {ms} ms");
        next_task_works(&scheduler, 4000).await;

        // chromiumoxide's plain connect fails any call after 30 s ("Request timed out").
        let started = Instant::now();
        let t = run_on(
            &scheduler,
            task(
                "long",
                vec![evaluate(
                    "return new Promise(r => setTimeout(() => r('late'), 30500))",
                    33000,
                )],
            ),
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 0), "\"late\"");
        assert!(started.elapsed() >= Duration::from_millis(30500));
        scheduler.shutdown().await;
        drop(chromium);
    });
}
