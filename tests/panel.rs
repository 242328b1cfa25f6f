//! The execution panel stream (`/ws?taskId=`) against the real server and Chromium, through a
//! real WebSocket client: every message type and field, early and late joiners, a failing task,
//! a cancelled one, and what is refused.

mod common;

use common::client::{is_iso, shared_server, Client};
use common::*;
use serde_json::{json, Value};

fn of_type<'a>(messages: &'a [Value], kind: &str) -> Vec<&'a Value> {
    messages.iter().filter(|m| m["type"] == kind).collect()
}

/// The last `step_update` payload of each step, in the order the steps first appeared.
fn final_steps(messages: &[Value]) -> Vec<Value> {
    let mut order: Vec<String> = Vec::new();
    let mut last = std::collections::HashMap::new();
    for m in of_type(messages, "step_update") {
        let id = m["payload"]["id"].as_str().unwrap().to_string();
        if !order.contains(&id) {
            order.push(id.clone());
        }
        last.insert(id, m["payload"].clone());
    }
    order.into_iter().map(|id| last[&id].clone()).collect()
}

fn statuses_of(messages: &[Value]) -> Vec<String> {
    of_type(messages, "status_change")
        .iter()
        .map(|m| m["payload"]["status"].as_str().unwrap().to_string())
        .collect()
}

fn until_status(status: &'static str) -> impl Fn(&Value) -> bool {
    move |m: &Value| m["type"] == "status_change" && m["payload"]["status"] == status
}

/// Runs a command forever (until cancelled), keeping the instance busy.
fn blocker() -> Value {
    task(
        "blocker",
        vec![
            goto("index.html"),
            cmd(
                "browser_execute",
                json!({"action": "evaluate", "script": "await new Promise(() => {})", "timeout": 120000}),
            ),
        ],
    )
}

#[test]
fn a_panel_that_connects_while_the_task_waits_sees_it_all() {
    block_on(async {
        let addr = shared_server().await;
        let mut agent = Client::connect(addr).await;
        let blocker_id = agent.submit(blocker()).await;
        let task_id = agent
            .submit(json!({
                "task_name": "Read the fixture",
                "commands": [
                    {"tool_name": "browser_navigate", "intention": "Open the fixture site",
                     "args": {"action": "goto", "url": url("index.html")}},
                    {"tool_name": "browser_content", "args": {"action": "get_text", "selector": "h1"}},
                    {"tool_name": "browser_content", "intention": "Capture it",
                     "args": {"action": "screenshot"}},
                ]
            }))
            .await;

        // Early: the task is queued behind the blocker.
        let mut panel = Client::panel(addr, &task_id).await;
        let mut seen = panel
            .recv_until(|m| m["type"] == "step_update" && m["payload"]["label"] == "Capture it")
            .await;
        assert_eq!(statuses_of(&seen), ["idle"]);
        let pending = final_steps(&seen);
        assert_eq!(pending.len(), 3);
        assert!(
            pending.iter().all(|s| s["status"] == "pending"),
            "{pending:#?}"
        );
        assert_eq!(pending[0]["label"], "Open the fixture site");
        assert_eq!(pending[1]["label"], "browser_content get_text");
        assert_eq!(pending[0]["id"], format!("{task_id}_cmd_0"));

        // The blocker's own panel, to see a cancellation.
        let mut blocker_panel = Client::panel(addr, &blocker_id).await;
        let forever = format!("{blocker_id}_cmd_1");
        let mut cancelled = blocker_panel
            .recv_until(|m| {
                m["payload"]["id"] == forever.as_str() && m["payload"]["status"] == "running"
            })
            .await;
        agent
            .request(
                json!({"type": "task_cancel", "taskId": blocker_id}),
                "task_cancel_response",
            )
            .await;
        cancelled.extend(blocker_panel.recv_until(until_status("failed")).await);
        let error = blocker_panel.recv().await;
        assert_eq!(error["type"], "error");
        assert_eq!(error["taskId"], blocker_id.as_str());
        assert_eq!(error["payload"]["error"], "Task was cancelled");
        let blocker_steps = final_steps(&cancelled);
        assert_eq!(blocker_steps[0]["status"], "completed", "{cancelled:#?}");
        assert_eq!(blocker_steps[1]["status"], "failed", "{cancelled:#?}");
        assert!(
            blocker_steps[1]["details"]
                .as_str()
                .unwrap()
                .starts_with("Stopped"),
            "{cancelled:#?}"
        );

        seen.extend(panel.recv_until(until_status("completed")).await);
        for m in &seen {
            assert_eq!(m["taskId"], task_id.as_str(), "{m}");
            assert!(m["payload"].is_object(), "{m}");
        }
        assert_eq!(statuses_of(&seen), ["idle", "running", "completed"]);

        // Each step went pending → running → completed.
        for index in 0..3 {
            let id = format!("{task_id}_cmd_{index}");
            let trail: Vec<&str> = of_type(&seen, "step_update")
                .iter()
                .filter(|m| m["payload"]["id"] == id.as_str())
                .map(|m| m["payload"]["status"].as_str().unwrap())
                .collect();
            assert_eq!(trail, ["pending", "running", "completed"], "{id}");
        }
        let steps = final_steps(&seen);
        for step in &steps {
            assert!(
                is_iso(&step["startedAt"]) && is_iso(&step["completedAt"]),
                "{step}"
            );
        }
        assert_eq!(steps[1]["details"], "Fixture Site");
        let shot = steps[2]["screenshot"].as_str().unwrap();
        assert!(
            shot.starts_with("data:image/png;base64,iVBORw0KGgo"),
            "{}",
            &shot[..40]
        );
        assert!(steps[0].get("screenshot").is_none());

        // The log: an action when each command starts, an observation when it succeeds.
        let log: Vec<(String, String)> = of_type(&seen, "message")
            .iter()
            .map(|m| {
                let p = &m["payload"];
                assert!(is_iso(&p["timestamp"]), "{p}");
                (
                    p["type"].as_str().unwrap().to_string(),
                    p["content"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let kinds: Vec<&str> = log.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "action",
                "observation",
                "action",
                "observation",
                "action",
                "observation"
            ]
        );
        assert!(
            log[0]
                .1
                .starts_with("Open the fixture site: browser_navigate goto http:"),
            "{}",
            log[0].1
        );
        assert_eq!(log[3].1, "Fixture Site");
        let ids: std::collections::HashSet<&str> = of_type(&seen, "message")
            .iter()
            .map(|m| m["payload"]["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 6, "message ids are unique");

        // A panel opened now receives the same steps and log in one go.
        let mut late = Client::panel(addr, &task_id).await;
        let replay = late.recv_until(until_status("completed")).await;
        assert_eq!(final_steps(&replay), steps);
        let replay_ids: std::collections::HashSet<&str> = of_type(&replay, "message")
            .iter()
            .map(|m| m["payload"]["id"].as_str().unwrap())
            .collect();
        assert_eq!(replay_ids, ids);
    });
}

#[test]
fn a_failing_task_shows_the_failed_step_the_skipped_ones_and_its_error() {
    block_on(async {
        let addr = shared_server().await;
        let mut agent = Client::connect(addr).await;
        let task_id = agent
            .submit(task(
                "Click what is not there",
                vec![
                    goto("index.html"),
                    interact(
                        json!({"action": "click", "selector": "#no-such-button", "timeout": 500}),
                    ),
                    content(json!({"action": "get_text", "selector": "h1"})),
                ],
            ))
            .await;
        agent.until_complete(&task_id).await;

        let mut panel = Client::panel(addr, &task_id).await;
        let mut seen = panel.recv_until(until_status("failed")).await;
        seen.push(panel.recv().await);
        let steps = final_steps(&seen);
        let kinds: Vec<&str> = steps
            .iter()
            .map(|s| s["status"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["completed", "failed", "pending"]);
        let details = steps[1]["details"].as_str().unwrap();
        assert!(
            details.starts_with("COMMAND_TIMEOUT") || details.starts_with("EXECUTION_ERROR"),
            "{details}"
        );
        assert!(details.contains("#no-such-button"), "{details}");
        assert!(steps[2]["details"].as_str().unwrap().starts_with("Skipped"));
        assert!(steps[2].get("startedAt").is_none());

        let errors: Vec<&Value> = of_type(&seen, "message")
            .into_iter()
            .filter(|m| m["payload"]["type"] == "error")
            .collect();
        assert_eq!(errors.len(), 1);
        assert!(errors[0]["payload"]["content"]
            .as_str()
            .unwrap()
            .contains("#no-such-button"));
        let last = seen.last().unwrap();
        assert_eq!(last["type"], "error");
        assert!(
            last["payload"]["error"]
                .as_str()
                .unwrap()
                .contains("#no-such-button"),
            "{last}"
        );
    });
}

#[test]
fn an_unknown_task_hears_nothing_and_bad_requests_are_refused() {
    block_on(async {
        let addr = shared_server().await;

        // A panel for a task that does not exist hears nothing of the tasks that do.
        let mut stranger = Client::panel(addr, "task_0_nope").await;
        let mut agent = Client::connect(addr).await;
        let other = agent
            .submit(task("Someone else's", vec![goto("index.html")]))
            .await;
        agent.until_complete(&other).await;
        let mut after = Client::panel(addr, &other).await;
        after.recv_until(until_status("completed")).await;
        stranger.raw().close(None).await.unwrap();
        let heard = stranger.try_recv().await;
        assert!(heard.is_err(), "the stranger heard {heard:?}");

        let http = reqwest::Client::new();
        let missing = http.get(format!("http://{addr}/ws")).send().await.unwrap();
        assert_eq!(missing.status(), 400);
        let body: Value = missing.json().await.unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("taskId"),
            "{body}"
        );
        let plain = http
            .get(format!("http://{addr}/ws?taskId={other}"))
            .send()
            .await
            .unwrap();
        assert_eq!(plain.status(), 400);

        let foreign = Client::connect_with(
            addr,
            &format!("ws?taskId={other}"),
            &[("origin", "https://evil.example")],
        )
        .await
        .err()
        .expect("a foreign page is refused");
        assert!(foreign.starts_with("HTTP 403"), "{foreign}");
    });
}
