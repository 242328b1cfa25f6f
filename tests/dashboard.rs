//! The dashboard end to end: real headless Chromium (driven by browser-control's own engine)
//! opens it from a server with its own browser, an agent submits tasks over the WebSocket
//! protocol, and the page must show the steps turning completed with their screenshot, cancel a
//! queued task, and reconnect after the server restarts. The last screenshot of the page is kept
//! as an artifact: target/tmp/dashboard.png.

mod common;

use common::client::{loopback_config, start_server, Client};
use common::*;
use serde_json::{json, Value};

/// Runs commands in the viewer (the shared browser) and returns the task, which must complete.
async fn viewer(name: &str, commands: Vec<Value>) -> browser_control::task::Task {
    let task = run(name, commands).await;
    assert_completed(&task);
    task
}

/// The viewer is one page in the shared browser: one test at a time drives it.
static VIEWER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn wait_for(selector: &str) -> Value {
    nav(json!({"action": "wait_for", "selector": selector, "timeout": 60000}))
}

fn click(selector: &str) -> Value {
    interact(json!({"action": "click", "selector": selector}))
}

#[test]
fn the_dashboard_shows_tasks_live_and_cancels_a_queued_one() {
    block_on(async {
        let _viewer = VIEWER.lock().await;
        // The server's tasks run on a browser of their own; the viewer is the shared one.
        let (scheduler, _permit) = private_scheduler().await;
        let server = start_server(&scheduler, loopback_config()).await;
        let addr = server.local_addr();
        let mut agent = Client::connect(addr).await;

        let blocker = agent
            .submit(task(
                "Blocker",
                vec![goto("index.html"), execute("await new Promise(() => {})")],
            ))
            .await;
        let watched = agent
            .submit(task(
                "Watched task",
                vec![
                    goto("index.html"),
                    content(json!({"action": "get_text", "selector": "h1"})),
                    content(json!({"action": "screenshot"})),
                ],
            ))
            .await;
        let doomed = agent
            .submit(task("Queued then cancelled", vec![goto("index.html")]))
            .await;

        let row = |id: &str| format!("tr[data-task-id=\"{id}\"]");
        viewer(
            "open the dashboard",
            vec![
                nav(json!({"action": "goto", "url": format!("http://{addr}/")})),
                wait_for("#conn[data-state=online]"),
                wait_for(&format!("{} button.cancel", row(&doomed))),
                wait_for("[data-instance-id][data-state=busy]"),
                click(&row(&watched)),
                // All three steps, not only the first to arrive.
                wait_for("#steps li.step:nth-child(3)[data-status=pending]"),
            ],
        )
        .await;
        let shown = viewer(
            "read the queued task",
            vec![execute(
                "return [...document.querySelectorAll('#steps li.step')].map(li => li.dataset.status + ' ' + li.querySelector('.label').textContent)",
            )],
        )
        .await;
        assert_eq!(
            text_of(&shown, 0),
            r#"["pending browser_navigate goto","pending browser_content get_text","pending browser_content screenshot"]"#
        );

        // Cancel the queued task from the page: the agent hears it was cancelled.
        viewer(
            "cancel from the page",
            vec![click(&format!("{} button.cancel", row(&doomed)))],
        )
        .await;
        let end = agent.until_complete(&doomed).await;
        assert_eq!(end.last().unwrap()["status"], "cancelled");

        // Let the watched task run, and see its steps turn completed on the page.
        agent
            .request(
                json!({"type": "task_cancel", "taskId": blocker}),
                "task_cancel_response",
            )
            .await;
        let done = agent.until_complete(&watched).await;
        assert_eq!(done.last().unwrap()["status"], "completed");
        let page = viewer(
            "watch it complete",
            vec![
                wait_for("#steps[data-task-status=completed]"),
                // The badge follows the task list, which catches up a moment later.
                wait_for("#detail-status.completed"),
                wait_for(&format!("{}[data-status=cancelled]", row(&doomed))),
                execute(
                    "const steps = [...document.querySelectorAll('#steps li.step')];
                     return {
                       statuses: steps.map(li => li.dataset.status),
                       thumb: (steps[2].querySelector('img.thumb') || {}).src || '',
                       log: document.querySelectorAll('#log li').length,
                       badge: document.querySelector('#detail-status').textContent,
                     }",
                ),
                content(json!({"action": "screenshot"})),
            ],
        )
        .await;
        let seen: Value = serde_json::from_str(&text_of(&page, 3)).unwrap();
        assert_eq!(
            seen["statuses"],
            json!(["completed", "completed", "completed"])
        );
        assert!(
            seen["thumb"]
                .as_str()
                .unwrap()
                .starts_with("data:image/png;base64,iVBORw0KGgo"),
            "{seen}"
        );
        assert_eq!(seen["log"], 6, "an action and an observation per step");
        assert_eq!(seen["badge"], "completed");
        let artifact = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
        std::fs::write(&artifact, base64_decode(&image_of(&page, 4))).unwrap();
        println!("dashboard screenshot: {}", artifact.display());

        // The server restarts on the same port: the page notices and reconnects by itself.
        server.shutdown().await;
        viewer("see it go", vec![wait_for("#conn[data-state=offline]")]).await;
        let again = browser_control::server::ServerConfig {
            listen: addr,
            ..loopback_config()
        };
        let _restarted = start_server(&env().shared, again).await;
        viewer(
            "see it come back",
            vec![wait_for("#conn[data-state=online]")],
        )
        .await;

        // Hundreds of tasks: all listed, and the page still answers a click at once.
        let mut agent = Client::connect(addr).await;
        let mut last = String::new();
        for i in 0..300 {
            last = agent
                .submit(task(
                    &format!("bulk {i}"),
                    vec![cmd("browser_instance", json!({"action": "list"}))],
                ))
                .await;
        }
        agent.until_complete(&last).await;
        let listed = viewer(
            "list them",
            vec![
                wait_for(&row(&last)),
                click(&row(&last)),
                wait_for("#steps[data-task-status=completed]"),
                execute("return document.querySelectorAll('#tasks tr[data-task-id]').length"),
            ],
        )
        .await;
        let rows: usize = text_of(&listed, 3).parse().unwrap();
        assert!(rows >= 300, "{rows} rows listed");
    });
}

#[test]
fn a_browser_gets_the_dashboard_and_other_clients_get_a_description() {
    block_on(async {
        let addr = common::client::shared_server().await;
        let http = reqwest::Client::new();
        let page = http
            .get(format!("http://{addr}/"))
            .header("accept", "text/html,application/xhtml+xml")
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let policy = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(policy.contains("default-src 'none'"), "{policy}");
        let html = page.text().await.unwrap();
        assert!(html.contains("<script src=\"dashboard.js\"></script>"));
        for asset in ["dashboard.js", "dashboard.css"] {
            let response = http
                .get(format!("http://{addr}/{asset}"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{asset}");
            assert!(response.text().await.unwrap().len() > 1000, "{asset}");
        }
        let described: Value = http
            .get(format!("http://{addr}/"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(described["name"], "browser-control");
        assert_eq!(
            described["panel"],
            "/ws?taskId=TASK_ID (execution-panel-protocol.md)"
        );
    });
}

/// A string an evaluate step returned.
fn string_of(task: &browser_control::task::Task, index: usize) -> String {
    let text = text_of(task, index);
    serde_json::from_str(&text).unwrap_or(text)
}

fn type_into(selector: &str, text: &str) -> Value {
    interact(json!({"action": "type", "selector": selector, "text": text}))
}

/// As a person replaces a field's text: click into it, select it all, type over it.
fn replace_text(selector: &str, text: &str) -> Vec<Value> {
    vec![
        click(selector),
        interact(json!({"action": "keyboard", "key": "Control+A"})),
        type_into(selector, text),
    ]
}

fn evaluate_step(script: &str) -> Value {
    json!({"toolName": "browser_execute", "intention": "compute the answer",
           "args": {"action": "evaluate", "script": script}})
}

/// Submits through the agent API a task whose evaluate steps each wait for a person's yes (its
/// own approval rule); returns its id.
async fn submit_needing_approval(
    addr: std::net::SocketAddr,
    name: &str,
    commands: Vec<Value>,
) -> String {
    let reply: Value = reqwest::Client::new()
        .post(format!("http://{addr}/api/agent"))
        .json(&json!({
            "task": name,
            "commands": commands,
            "approval": {"rules": [{"match": {"category": "evaluate"}, "decision": "confirm",
                                    "description": "evaluating script needs a yes"}]},
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["success"], true, "{reply}");
    reply["data"]["taskId"].as_str().unwrap().to_string()
}

/// The task as the agent API renders it, once the scheduler says it has finished.
async fn finished(
    scheduler: &browser_control::scheduler::Scheduler,
    addr: std::net::SocketAddr,
    id: &str,
) -> Value {
    tokio::time::timeout(
        std::time::Duration::from_secs(120),
        scheduler.wait_finished(id),
    )
    .await
    .expect("the task finished in time")
    .expect("task record kept");
    let reply: Value = reqwest::Client::new()
        .get(format!("http://{addr}/api/agent/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    reply["data"]["task"].clone()
}

#[test]
fn an_approval_is_given_from_the_dashboard_with_edited_arguments() {
    block_on(async {
        let _viewer = VIEWER.lock().await;
        // The task waits on a browser of its own; the dashboard runs in the shared one.
        let (scheduler, _permit) = private_scheduler().await;
        let server = start_server(&scheduler, loopback_config()).await;
        let addr = server.local_addr();
        let id = submit_needing_approval(
            addr,
            "compute after a yes",
            vec![
                json!({"toolName": "browser_navigate", "intention": "open",
                       "args": {"action": "goto", "url": url("index.html")}}),
                evaluate_step("return 1 + 1"),
            ],
        )
        .await;
        let pending = format!(".approval[data-task-id=\"{id}\"][data-status=pending]");
        let page = viewer(
            "open the dashboard on a waiting task",
            vec![
                nav(json!({"action": "goto", "url": format!("http://{addr}/")})),
                wait_for("#conn[data-state=online]"),
                wait_for(&format!("{pending} textarea.args")),
                execute(&format!(
                    "const box = document.querySelector('{}');
                     return {{
                       head: box.querySelector('.approval-head b').textContent,
                       intention: box.querySelector('.intention').textContent,
                       rule: box.querySelector('.rule').textContent,
                       reason: box.querySelector('.reason').textContent,
                       img: box.querySelector('img.thumb').src.slice(0, 40),
                       expires: box.querySelector('.expires').textContent,
                       args: JSON.parse(box.querySelector('textarea.args').value),
                     }}",
                    pending.replace('\'', "\\'")
                )),
            ],
        )
        .await;
        let seen: Value = serde_json::from_str(&text_of(&page, 3)).unwrap();
        assert_eq!(seen["head"], "Step 2: browser_execute evaluate", "{seen}");
        assert_eq!(seen["intention"], "compute the answer");
        assert!(
            seen["rule"]
                .as_str()
                .unwrap()
                .contains("evaluating script needs a yes"),
            "{seen}"
        );
        assert!(
            seen["reason"]
                .as_str()
                .unwrap()
                .contains("needs a person's approval"),
            "{seen}"
        );
        assert!(
            seen["img"]
                .as_str()
                .unwrap()
                .starts_with("data:image/png;base64,iVBORw0KGgo"),
            "{seen}"
        );
        assert!(
            seen["expires"].as_str().unwrap().starts_with("Expires "),
            "{seen}"
        );
        assert_eq!(
            seen["args"],
            json!({"action": "evaluate", "script": "return 1 + 1"})
        );

        // Arguments that do not validate: the server's 400 is shown, and it still waits.
        let page = viewer(
            "approve with a bad script",
            [
                replace_text(
                    &format!("{pending} textarea.args"),
                    r#"{"action": "evaluate", "script": 7}"#,
                ),
                vec![
                    click(&format!("{pending} button.approve")),
                    wait_for(&format!("{pending} .error:not(:empty)")),
                    execute(&format!(
                        "return document.querySelector('{} .error').textContent",
                        pending.replace('\'', "\\'")
                    )),
                ],
            ]
            .concat(),
        )
        .await;
        let error = string_of(&page, 5);
        assert!(error.contains("modifiedParameters.script"), "{error}");

        // The edited script is what runs.
        let decided = format!(".approval[data-task-id=\"{id}\"][data-status=approved]");
        let page = viewer(
            "approve with an edited script",
            [
                replace_text(
                    &format!("{pending} textarea.args"),
                    r#"{"action": "evaluate", "script": "return 6 * 7"}"#,
                ),
                vec![
                    click(&format!("{pending} button.approve")),
                    wait_for(&format!("{decided} .decision")),
                    execute(&format!(
                        "return document.querySelector('{} .decision').textContent",
                        decided.replace('\'', "\\'")
                    )),
                ],
            ]
            .concat(),
        )
        .await;
        let decision = string_of(&page, 5);
        assert!(decision.starts_with("Approved by local"), "{decision}");
        assert!(
            decision.contains(r#"{"script":"return 6 * 7"}"#),
            "{decision}"
        );

        let task = finished(&scheduler, addr, &id).await;
        assert_eq!(task["status"], "completed", "{task:#}");
        assert_eq!(task["steps"][1]["args"]["script"], "return 6 * 7");
        assert!(
            task["steps"][1]["result"].to_string().contains("42"),
            "{task:#}"
        );
        // Only the edited key was sent.
        assert_eq!(
            task["approvals"][0]["decision"]["modifiedParameters"],
            json!({"script": "return 6 * 7"})
        );
    });
}

#[test]
fn an_approval_is_refused_from_the_dashboard_with_a_message() {
    block_on(async {
        let _viewer = VIEWER.lock().await;
        let (scheduler, _permit) = private_scheduler().await;
        let server = start_server(&scheduler, loopback_config()).await;
        let addr = server.local_addr();
        let id = submit_needing_approval(
            addr,
            "refused",
            vec![evaluate_step("return 1"), evaluate_step("return 2")],
        )
        .await;
        let pending = format!(".approval[data-task-id=\"{id}\"][data-status=pending]");
        let rejected = format!(".approval[data-task-id=\"{id}\"][data-status=rejected]");
        let page = viewer(
            "reject from the dashboard",
            vec![
                nav(json!({"action": "goto", "url": format!("http://{addr}/")})),
                wait_for("#conn[data-state=online]"),
                wait_for(&format!("{pending} input.message")),
                type_into(&format!("{pending} input.message"), "not today"),
                click(&format!("{pending} button.reject")),
                wait_for(&format!("{rejected} .decision")),
                execute(&format!(
                    "return document.querySelector('{} .decision').textContent",
                    rejected.replace('\'', "\\'")
                )),
            ],
        )
        .await;
        let decision = string_of(&page, 6);
        assert!(decision.starts_with("Rejected by local"), "{decision}");
        assert!(decision.contains("not today"), "{decision}");

        let task = finished(&scheduler, addr, &id).await;
        assert_eq!(task["status"], "failed", "{task:#}");
        assert_eq!(task["error"]["code"], "APPROVAL_REJECTED", "{task:#}");
        assert!(
            task["error"]["message"]
                .as_str()
                .unwrap()
                .contains("not today"),
            "{task:#}"
        );
        assert_eq!(task["steps"][1]["status"], "skipped");
        assert_eq!(task["approvals"][0]["decision"]["approved"], false);
        assert_eq!(task["approvals"][0]["decision"]["message"], "not today");
    });
}

fn base64_decode(data: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .expect("a base64 PNG")
}

#[test]
fn a_manual_external_step_is_marked_done_from_the_dashboard() {
    block_on(async {
        let _viewer = VIEWER.lock().await;
        // The external step waits on a browser of its own; the dashboard runs in the shared one.
        let (scheduler, _permit) = private_scheduler().await;
        let server = start_server(&scheduler, loopback_config()).await;
        let addr = server.local_addr();
        let mut agent = Client::connect(addr).await;
        let id = agent
            .submit(task(
                "survey done by hand",
                vec![json!({"tool_name": "external_task", "intention": "fill in the survey",
                    "args": {"target_url": url("external-app.html?auto=progress"),
                             "config": {"completion_mode": "manual", "window_mode": "tab", "timeout_ms": 120000}}})],
            ))
            .await;
        agent
            .recv_until(|m| m["externalTask"]["event"] == "progress" && m["taskId"] == id)
            .await;
        viewer(
            "mark the external step done",
            vec![
                nav(json!({"action": "goto", "url": format!("http://{addr}/#task={id}")})),
                wait_for("#conn[data-state=online]"),
                wait_for("#steps button.mark-done"),
                click("#steps button.mark-done"),
            ],
        )
        .await;
        let seen = agent.until_complete(&id).await;
        let complete = seen.last().unwrap();
        assert_eq!(complete["status"], "completed", "{complete}");
        let text = complete["results"][0]["result"]["content"][0]["text"]
            .as_str()
            .unwrap();
        let result: Value = serde_json::from_str(text).unwrap();
        assert_eq!(result["completed"], true, "{result}");
        assert_eq!(result["markedBy"], "local");
        server.shutdown().await;
    });
}
