//! The agent API against real Chromium: every route, every update message type, each approval
//! outcome, undo, history, priorities, resuming after a cut and the polling fallback, through
//! a real HTTP client and real WebSockets.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use browser_control::scheduler::{Checkpoints, Scheduler};
use browser_control::server::Server;
use browser_control::task::approval::Policy;
use common::client::{loopback_config, start_server, Client, PATIENCE};
use common::*;
use futures::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const POLICY: &str = r#"
rules:
  - match: { tool: browser_interact, action: click, text: "(?i)pay" }
    decision: confirm
    description: paying needs a person
  - match: { url: "*://blocked.example/*" }
    decision: deny
"#;

struct Agent {
    addr: SocketAddr,
    scheduler: Scheduler,
    _server: Server,
}

/// One server for the file, in front of two browsers with the policy above: inst_1 for most
/// tests, inst_2 for the priority test alone.
async fn agent() -> &'static Agent {
    static AGENT: tokio::sync::OnceCell<Agent> = tokio::sync::OnceCell::const_new();
    AGENT
        .get_or_init(|| async {
            let mut config = config(2);
            config.policy = Arc::new(Policy::parse_file(POLICY).unwrap());
            config.checkpoints = Checkpoints::Agent;
            let scheduler = Scheduler::start(config).await.expect("Chromium starts");
            register_cleanup(&scheduler);
            let server = start_server(&scheduler, loopback_config()).await;
            Agent {
                addr: server.local_addr(),
                scheduler,
                _server: server,
            }
        })
        .await
}

/// The tests share inst_1; each takes its turn so that undo's "another task ran since" and
/// the queue stay theirs.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn call(method: &str, addr: SocketAddr, path: &str, body: Option<Value>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let url = format!("http://{addr}{path}");
    let request = match method {
        "GET" => client.get(url),
        "DELETE" => client.delete(url),
        _ => client.post(url),
    };
    let request = match body {
        Some(b) => request.json(&b),
        None => request,
    };
    let response = tokio::time::timeout(PATIENCE, request.send())
        .await
        .expect("answered in time")
        .expect("request");
    let status = response.status().as_u16();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

async fn submit(a: &Agent, body: Value) -> String {
    let (status, reply) = call("POST", a.addr, "/api/agent", Some(body)).await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(reply["success"], true);
    reply["data"]["taskId"].as_str().unwrap().to_string()
}

fn evaluate(script: &str) -> Value {
    json!({"toolName": "browser_execute", "intention": "compute", "args": {"action": "evaluate", "script": script}})
}

fn goto_page(page: &str) -> Value {
    json!({"toolName": "browser_navigate", "intention": "open", "args": {"action": "goto", "url": url(page)}})
}

/// Every message of the task's stream after `after`, until the server closes it.
async fn stream(addr: SocketAddr, id: &str, after: Option<u64>) -> Vec<Value> {
    let url = match after {
        Some(n) => format!("ws://{addr}/api/agent/{id}/updates?lastEventId={n}"),
        None => format!("ws://{addr}/api/agent/{id}/updates"),
    };
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connects");
    let mut out = Vec::new();
    loop {
        let next = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("a message in time");
        match next {
            Some(Ok(Message::Text(t))) => out.push(serde_json::from_str(&t).unwrap()),
            Some(Ok(Message::Close(_))) | None => return out,
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("stream failed: {e}"),
        }
    }
}

/// The polling fallback: messages after `after`, waiting up to `wait` seconds.
async fn poll(addr: SocketAddr, id: &str, after: u64, wait: u64) -> Value {
    let (status, reply) = call(
        "GET",
        addr,
        &format!("/api/agent/{id}/events?after={after}&wait={wait}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    reply["data"].clone()
}

/// Polls until a message of `kind` arrives; returns it.
async fn wait_for(addr: SocketAddr, id: &str, kind: &str) -> Value {
    wait_until(addr, id, |m| m["type"] == kind, kind).await
}

/// Polls (long-polling, no sleeps) until a message satisfies `wanted`; returns it.
async fn wait_until(
    addr: SocketAddr,
    id: &str,
    wanted: impl Fn(&Value) -> bool,
    kind: &str,
) -> Value {
    let mut after = 0;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::time::Instant::now() < deadline {
        let data = poll(addr, id, after, 5).await;
        for m in data["events"].as_array().unwrap() {
            if wanted(m) {
                return m.clone();
            }
        }
        after = data["lastEventId"].as_str().unwrap().parse().unwrap();
        assert!(
            data["finished"] == false,
            "the task ended without {kind}: {data}"
        );
    }
    panic!("no {kind} within the deadline");
}

async fn get_task(a: &Agent, id: &str) -> Value {
    let (status, reply) = call("GET", a.addr, &format!("/api/agent/{id}"), None).await;
    assert_eq!(status, 200, "{reply}");
    reply["data"].clone()
}

fn types(messages: &[Value]) -> Vec<&str> {
    messages
        .iter()
        .map(|m| m["type"].as_str().unwrap())
        .collect()
}

fn ids(messages: &[Value]) -> Vec<u64> {
    messages
        .iter()
        .filter(|m| m["type"] != "queue_update")
        .map(|m| m["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn a_task_streams_every_message_in_order_and_reads_back() {
    block_on(async {
        let a = agent().await;
        let _turn = TURN.lock().await;
        let id = submit(
            a,
            json!({
                "task": "Read the title\nof the index page",
                "commands": [goto_page("index.html"), evaluate("return document.title")],
                "conversationId": "conv-stream",
                "context": {"from": "test"},
                "instanceId": "inst_1",
            }),
        )
        .await;
        let messages = stream(a.addr, &id, None).await;
        assert_eq!(
            types(&messages),
            [
                "status_change",
                "status_change",
                "step_start",
                "step_complete",
                "step_progress",
                "step_start",
                "step_complete",
                "step_progress",
                "completed"
            ],
            "{messages:#?}"
        );
        assert_eq!(ids(&messages), (1..=9).collect::<Vec<u64>>());
        assert_eq!(messages[0]["data"]["status"], "pending");
        assert_eq!(messages[1]["data"]["status"], "running");
        assert_eq!(messages[2]["data"]["step"]["status"], "running");
        assert_eq!(messages[4]["data"]["progress"], 50);
        assert_eq!(messages[7]["data"]["progress"], 100);
        assert!(messages.iter().all(|m| m["data"]["taskId"] == id.as_str()));
        assert!(messages
            .iter()
            .all(|m| m["timestamp"].as_u64().unwrap() > 1_700_000_000_000));
        let result = &messages[8]["data"]["result"];
        assert_eq!(result["status"], "completed");
        assert_eq!(result["name"], "Read the title");
        assert_eq!(result["context"]["from"], "test");
        assert!(
            result["steps"][1]["result"]
                .to_string()
                .contains("Fixture Site"),
            "{result}"
        );

        // The same again, read back: the record, its log, and nothing running.
        let data = get_task(a, &id).await;
        assert_eq!(data["task"]["status"], "completed");
        assert_eq!(data["task"]["conversationId"], "conv-stream");
        assert!(data.get("currentExecution").is_none());
        let logs = data["logs"].as_array().unwrap();
        assert!(logs.len() >= 6, "{logs:?}");
        assert!(logs.iter().any(|l| l["message"] == "task completed"));

        // A reconnection after the end replays only what followed lastEventId.
        let tail = stream(a.addr, &id, Some(7)).await;
        assert_eq!(types(&tail), ["step_progress", "completed"]);
        assert_eq!(ids(&tail), [8, 9]);
        // The polling fallback says the same.
        let polled = poll(a.addr, &id, 0, 0).await;
        let polled = polled["events"].as_array().unwrap().clone();
        assert_eq!(types(&polled), types(&messages));
        let none = poll(a.addr, &id, 9, 1).await;
        assert_eq!(none["events"], json!([]));
        assert_eq!(none["finished"], true);

        // And the history has it, newest first, by conversation.
        let (status, history) = call(
            "GET",
            a.addr,
            "/api/agent/history?conversationId=conv-stream&status=completed",
            None,
        )
        .await;
        assert_eq!(status, 200, "{history}");
        assert_eq!(history["data"]["total"], 1);
        assert_eq!(history["data"]["tasks"][0]["id"], id.as_str());
        assert_eq!(history["data"]["tasks"][0]["completedSteps"], 2);
    });
}

#[test]
fn bad_requests_name_every_field_in_the_envelope() {
    block_on(async {
        let a = agent().await;
        let (status, reply) = call(
            "POST",
            a.addr,
            "/api/agent",
            Some(json!({"tsk": "x", "priority": 101, "commands": [{"toolName": "browser_navigate", "args": {"action": "goto"}}]})),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(reply["success"], false);
        assert_eq!(reply["error"]["code"], "VALIDATION_ERROR");
        let fields: Vec<&str> = reply["error"]["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["tsk", "task", "commands[0].args.url", "priority"]);
        let (status, reply) = call("GET", a.addr, "/api/agent/task_9_999", None).await;
        assert_eq!((status, &reply["success"]), (404, &json!(false)));
        assert_eq!(reply["error"]["code"], "TASK_NOT_FOUND");
        let (status, reply) =
            call("GET", a.addr, "/api/agent/history?limit=0&stauts=x", None).await;
        assert_eq!(status, 400);
        assert_eq!(reply["error"]["details"].as_array().unwrap().len(), 2);
        // A route the agent API lacks still answers in its envelope.
        let (status, reply) = call("PUT", a.addr, "/api/agent/history", None).await;
        assert_eq!(reply["success"], false, "{status} {reply}");
        // The policy denies outright: refused at submission, naming the command and rule.
        let (status, reply) = call(
            "POST",
            a.addr,
            "/api/agent",
            Some(json!({"task": "t", "commands": [{"toolName": "browser_navigate", "args": {"action": "goto", "url": "http://blocked.example/x"}}]})),
        )
        .await;
        assert_eq!(status, 403, "{reply}");
        assert_eq!(reply["error"]["code"], "POLICY_DENIED");
        assert!(reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("commands[0]"));
    });
}

fn confirm_evaluate(timeout: Option<&str>) -> Value {
    let mut rule = json!({"match": {"category": "evaluate"}, "decision": "confirm"});
    if let Some(t) = timeout {
        rule["timeout"] = json!(t);
    }
    json!({"rules": [rule]})
}

#[test]
fn an_approved_step_runs_with_its_modified_parameters() {
    block_on(async {
        let a = agent().await;
        let _turn = TURN.lock().await;
        // A task WebSocket subscriber hears the request too (an extra message).
        let mut watcher = Client::connect(a.addr).await;
        let id = submit(
            a,
            json!({
                "task": "compute with a person's yes",
                "commands": [goto_page("index.html"), evaluate("return 1 + 1")],
                "instanceId": "inst_1",
                "approval": confirm_evaluate(None),
            }),
        )
        .await;
        watcher
            .request(
                json!({"type": "subscribe_task", "taskId": id}),
                "subscribe_ack",
            )
            .await;
        let request = wait_for(a.addr, &id, "approval_request").await;
        let ask = &request["data"]["approvalRequest"];
        assert_eq!(ask["stepIndex"], 1);
        assert_eq!(ask["status"], "pending");
        assert_eq!(ask["rule"]["source"], "task");
        assert!(ask["expiresAt"].as_u64().unwrap() > ask["requestedAt"].as_u64().unwrap());
        assert!(
            ask["screenshot"].as_str().is_some_and(|s| s.len() > 100),
            "a screenshot"
        );
        let approval_id = ask["approvalId"].as_str().unwrap().to_string();
        // It waits: paused, the step awaiting approval.
        wait_until(a.addr, &id, |m| m["data"]["status"] == "paused", "paused").await;
        let data = get_task(a, &id).await;
        assert_eq!(data["task"]["status"], "paused", "{data}");
        assert_eq!(data["currentExecution"]["status"], "paused");
        assert_eq!(data["task"]["steps"][1]["status"], "awaiting_approval");
        // Parameters that do not validate are refused, and the request stays pending.
        let (status, reply) = call(
            "POST",
            a.addr,
            &format!("/api/agent/{id}/approve"),
            Some(json!({"approvalId": approval_id, "approved": true, "modifiedParameters": {"script": 7}})),
        )
        .await;
        assert_eq!(status, 400, "{reply}");
        assert_eq!(
            reply["error"]["details"][0]["field"],
            "modifiedParameters.script"
        );
        let (status, reply) = call(
            "POST",
            a.addr,
            &format!("/api/agent/{id}/approve"),
            Some(
                json!({"approvalId": approval_id, "approved": true, "message": "fine, but 6 * 7",
                        "modifiedParameters": {"script": "return 6 * 7"}}),
            ),
        )
        .await;
        assert_eq!(status, 200, "{reply}");
        assert_eq!(reply["data"]["decisions"][0]["status"], "approved");
        assert_eq!(reply["data"]["decisions"][0]["decision"]["by"], "local");
        // Answering twice is a conflict.
        let (status, _) = call(
            "POST",
            a.addr,
            &format!("/api/agent/{id}/approve"),
            Some(json!({"approvalId": approval_id, "approved": false})),
        )
        .await;
        assert_eq!(status, 409);
        let messages = stream(a.addr, &id, None).await;
        assert_eq!(messages.last().unwrap()["type"], "completed");
        let task = &messages.last().unwrap()["data"]["result"];
        assert_eq!(task["steps"][1]["args"]["script"], "return 6 * 7");
        assert!(
            task["steps"][1]["result"].to_string().contains("42"),
            "{task}"
        );
        let kinds = types(&messages);
        let asked = kinds.iter().position(|k| *k == "approval_request").unwrap();
        let started = kinds.iter().rposition(|k| *k == "step_start").unwrap();
        assert!(asked < started, "{kinds:?}");
        // Paused, then running again with the decision.
        assert!(messages.iter().any(|m| m["data"]["status"] == "paused"));
        assert!(messages
            .iter()
            .any(|m| m["data"]["approvalRequest"]["status"] == "approved"));
        let heard = watcher.recv_until(|m| m["type"] == "task_complete").await;
        assert!(
            heard.iter().any(|m| m["type"] == "approval_request" && m["approvalId"] == approval_id.as_str()),
            "{heard:?}"
        );
    });
}

#[test]
fn a_rejected_or_unanswered_step_fails_and_the_rest_are_skipped() {
    block_on(async {
        let a = agent().await;
        let _turn = TURN.lock().await;
        let id = submit(
            a,
            json!({
                "task": "rejected",
                "commands": [evaluate("return 1"), evaluate("return 2")],
                "instanceId": "inst_1",
                "approval": confirm_evaluate(None),
            }),
        )
        .await;
        let request = wait_for(a.addr, &id, "approval_request").await;
        let approval_id = request["data"]["approvalRequest"]["approvalId"].clone();
        let (status, reply) = call(
            "POST",
            a.addr,
            &format!("/api/agent/{id}/approve"),
            Some(json!({"approvalId": approval_id, "approved": false, "message": "not today"})),
        )
        .await;
        assert_eq!(status, 200, "{reply}");
        let messages = stream(a.addr, &id, None).await;
        let last = messages.last().unwrap();
        assert_eq!(last["type"], "error", "{messages:#?}");
        assert_eq!(last["data"]["error"]["code"], "APPROVAL_REJECTED");
        assert!(last["data"]["message"]
            .as_str()
            .unwrap()
            .contains("not today"));
        let data = get_task(a, &id).await;
        assert_eq!(data["task"]["status"], "failed");
        assert_eq!(data["task"]["steps"][1]["status"], "skipped");
        assert_eq!(
            data["task"]["approvals"][0]["decision"]["message"],
            "not today"
        );

        // No answer in time: APPROVAL_TIMEOUT (the rule's timeout, one second).
        let id = submit(
            a,
            json!({
                "task": "nobody answers",
                "commands": [evaluate("return 1")],
                "instanceId": "inst_1",
                "approval": confirm_evaluate(Some("1s")),
            }),
        )
        .await;
        let messages = stream(a.addr, &id, None).await;
        let last = messages.last().unwrap();
        assert_eq!(
            last["data"]["error"]["code"], "APPROVAL_TIMEOUT",
            "{messages:#?}"
        );
        let data = get_task(a, &id).await;
        assert_eq!(data["task"]["approvals"][0]["status"], "expired");
        assert_eq!(data["task"]["approvals"][0]["decision"]["by"], "timeout");
    });
}

#[test]
fn several_requests_are_answered_in_one_call_and_a_page_rule_asks_at_its_step() {
    block_on(async {
        let a = agent().await;
        let _turn = TURN.lock().await;
        let id = submit(
            a,
            json!({
                "task": "batch",
                "commands": [
                    goto_page("checkpoint.html"),
                    evaluate("return 'a'"),
                    evaluate("return 'b'"),
                    {"toolName": "browser_interact", "args": {"action": "click", "selector": "#help"}},
                    {"toolName": "browser_interact", "args": {"action": "click", "selector": "#pay"}},
                ],
                "instanceId": "inst_1",
                "approval": confirm_evaluate(None),
            }),
        )
        .await;
        // Both evaluate steps were asked when the task started (before it paused at the first).
        wait_until(a.addr, &id, |m| m["data"]["status"] == "paused", "paused").await;
        let data = get_task(a, &id).await;
        let asked = data["task"]["approvals"].as_array().unwrap().clone();
        assert_eq!(asked.len(), 2, "{data}");
        let decisions: Vec<Value> = asked
            .iter()
            .map(|a| json!({"approvalId": a["approvalId"], "approved": true}))
            .collect();
        let (status, reply) = call(
            "POST",
            a.addr,
            &format!("/api/agent/{id}/approve"),
            Some(json!({"decisions": decisions})),
        )
        .await;
        assert_eq!(status, 200, "{reply}");
        assert_eq!(reply["data"]["decisions"].as_array().unwrap().len(), 2);
        // The "Pay now" click is asked only when reached (its text is on the page); the
        // "Help" click is not.
        let request = wait_for(a.addr, &id, "approval_request").await;
        let mut after = request["id"].as_str().unwrap().parse::<u64>().unwrap();
        let pay = loop {
            let data = poll(a.addr, &id, after, 5).await;
            let found = data["events"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| {
                    m["type"] == "approval_request"
                        && m["data"]["approvalRequest"]["stepIndex"] == 4
                })
                .cloned();
            if let Some(found) = found {
                break found;
            }
            after = data["lastEventId"].as_str().unwrap().parse().unwrap();
        };
        let ask = &pay["data"]["approvalRequest"];
        assert_eq!(ask["rule"]["description"], "paying needs a person");
        assert!(ask["pageUrl"]
            .as_str()
            .unwrap()
            .ends_with("checkpoint.html"));
        let (status, _) = call(
            "POST",
            a.addr,
            &format!("/api/agent/{id}/approve"),
            Some(json!({"approvalId": ask["approvalId"], "approved": true})),
        )
        .await;
        assert_eq!(status, 200);
        let messages = stream(a.addr, &id, None).await;
        assert_eq!(messages.last().unwrap()["type"], "completed");
        let data = get_task(a, &id).await;
        let approvals = data["task"]["approvals"].as_array().unwrap();
        assert_eq!(
            approvals
                .iter()
                .map(|a| a["stepIndex"].as_u64().unwrap())
                .collect::<Vec<_>>(),
            [1, 2, 4]
        );
    });
}

#[test]
fn undo_puts_the_cookie_the_storage_and_the_url_back() {
    block_on(async {
        let a = agent().await;
        let _turn = TURN.lock().await;
        let set = |value: &str| {
            evaluate(&format!(
                "document.cookie = 'flavour={value}; path=/'; localStorage.setItem('k', '{value}'); return 'set'"
            ))
        };
        let first = submit(
            a,
            json!({"task": "before", "commands": [goto_page("index.html"), set("plain")], "instanceId": "inst_1"}),
        )
        .await;
        assert_eq!(
            stream(a.addr, &first, None).await.last().unwrap()["type"],
            "completed"
        );
        let id = submit(
            a,
            json!({"task": "change things", "commands": [set("chocolate"), goto_page("article.html")], "instanceId": "inst_1"}),
        )
        .await;
        assert_eq!(
            stream(a.addr, &id, None).await.last().unwrap()["type"],
            "completed"
        );
        let data = get_task(a, &id).await;
        let step = data["task"]["steps"][0]["id"].as_str().unwrap().to_string();
        // An older task cannot be undone once another ran on the instance, unless forced.
        let (status, reply) = call(
            "POST",
            a.addr,
            &format!("/api/agent/{first}/undo"),
            Some(json!({})),
        )
        .await;
        assert_eq!(status, 409, "{reply}");
        assert_eq!(reply["error"]["code"], "INSTANCE_USED_SINCE");
        let (status, reply) = call(
            "POST",
            a.addr,
            &format!("/api/agent/{id}/undo"),
            Some(json!({"stepId": step})),
        )
        .await;
        assert_eq!(status, 200, "{reply}");
        let undo = &reply["data"];
        for part in ["url", "cookies", "localStorage", "sessionStorage"] {
            assert!(
                undo["restored"].as_array().unwrap().contains(&json!(part)),
                "{undo}"
            );
        }
        assert!(
            undo["notRestored"].to_string().contains("IndexedDB"),
            "{undo}"
        );
        assert!(undo["url"].as_str().unwrap().ends_with("index.html"));
        // The undo is in the task's record and on its stream.
        let messages = stream(a.addr, &id, Some(0)).await;
        assert!(
            messages.iter().any(|m| m["type"] == "undo"),
            "{messages:#?}"
        );
        assert_eq!(get_task(a, &id).await["task"]["undos"][0]["by"], "local");
        // The page says so.
        let check = submit(
            a,
            json!({"task": "look", "commands": [evaluate("return [location.pathname, document.cookie, localStorage.getItem('k')].join('|')")], "instanceId": "inst_1"}),
        )
        .await;
        let done = stream(a.addr, &check, None).await;
        let result = done.last().unwrap()["data"]["result"]["steps"][0]["result"].to_string();
        assert!(
            result.contains("/index.html|flavour=plain|plain"),
            "{result}"
        );
    });
}

#[test]
fn a_higher_priority_overtakes_and_waiting_tasks_hear_their_place() {
    block_on(async {
        let a = agent().await;
        let sleep = |ms: u64| json!({"toolName": "sleep", "args": {"duration": ms}});
        let blocker = submit(
            a,
            json!({"task": "blocker", "commands": [sleep(1500)], "instanceId": "inst_2"}),
        )
        .await;
        let mut ids = Vec::new();
        for (i, priority) in [0, 5, 0, 5].into_iter().enumerate() {
            let id = submit(
                a,
                json!({"task": format!("p{priority} #{i}"), "commands": [evaluate("return 1")],
                       "priority": priority, "instanceId": "inst_2"}),
            )
            .await;
            ids.push(id);
        }
        // The last one (priority 5) waits behind the blocker and the other 5 only.
        let data = get_task(a, &ids[3]).await;
        assert_eq!(data["queuePosition"], 2, "{data}");
        let messages = stream(a.addr, &ids[0], None).await;
        let places: Vec<u64> = messages
            .iter()
            .filter(|m| m["type"] == "queue_update")
            .map(|m| m["data"]["queuePosition"].as_u64().unwrap())
            .collect();
        assert!(!places.is_empty(), "{messages:#?}");
        assert!(places.windows(2).all(|w| w[0] > w[1]), "{places:?}");
        for id in &ids[1..] {
            stream(a.addr, id, None).await;
        }
        stream(a.addr, &blocker, None).await;
        let mut started = Vec::new();
        for id in &ids {
            let data = get_task(a, id).await;
            started.push((
                data["task"]["startedAt"].as_u64().unwrap(),
                data["task"]["priority"].as_i64().unwrap(),
            ));
        }
        started.sort();
        let order: Vec<i64> = started.iter().map(|(_, p)| *p).collect();
        assert_eq!(order, [5, 5, 0, 0]);
        let _ = &a.scheduler;
    });
}

#[test]
fn a_cut_stream_resumes_without_loss_or_repeats_and_cancel_works() {
    block_on(async {
        let a = agent().await;
        let _turn = TURN.lock().await;
        let sleep = json!({"toolName": "sleep", "args": {"duration": 300}});
        let id = submit(
            a,
            json!({"task": "slow", "commands": [sleep.clone(), sleep.clone(), sleep.clone()], "instanceId": "inst_1"}),
        )
        .await;
        // Read three messages, then drop the connection.
        let url = format!("ws://{}/api/agent/{id}/updates", a.addr);
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut first = Vec::new();
        while first.len() < 3 {
            if let Some(Ok(Message::Text(t))) =
                tokio::time::timeout(PATIENCE, ws.next()).await.unwrap()
            {
                let m: Value = serde_json::from_str(&t).unwrap();
                if m["type"] != "queue_update" {
                    first.push(m);
                }
            }
        }
        drop(ws);
        let last: u64 = first.last().unwrap()["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let rest = stream(a.addr, &id, Some(last)).await;
        let mut all = ids(&first);
        all.extend(ids(&rest));
        let n = all.len() as u64;
        assert_eq!(all, (1..=n).collect::<Vec<u64>>(), "no gap and no repeat");
        assert_eq!(rest.last().unwrap()["type"], "completed");

        // DELETE cancels a running task; a finished one is a conflict.
        let id = submit(
            a,
            json!({"task": "cancel me", "commands": [json!({"toolName": "sleep", "args": {"duration": 8000}})], "instanceId": "inst_1"}),
        )
        .await;
        wait_for(a.addr, &id, "step_start").await;
        let (status, reply) = call("DELETE", a.addr, &format!("/api/agent/{id}"), None).await;
        assert_eq!(status, 200, "{reply}");
        let messages = stream(a.addr, &id, None).await;
        assert_eq!(messages.last().unwrap()["type"], "cancelled");
        let (status, reply) = call("DELETE", a.addr, &format!("/api/agent/{id}"), None).await;
        assert_eq!(
            (status, reply["error"]["code"].as_str()),
            (409, Some("TASK_FINISHED"))
        );
    });
}

/// Where `value` departs from `schema` of the OpenAPI document `doc` (empty when it conforms):
/// a field the document does not describe, a required one missing, a wrong JSON type.
fn departures(doc: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    if let Some(name) = schema["$ref"].as_str() {
        let name = name.trim_start_matches("#/components/schemas/");
        return departures(doc, &doc["components"]["schemas"][name], value, at);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema[key].as_array() {
            let each: Vec<Vec<String>> = options
                .iter()
                .map(|o| departures(doc, o, value, at))
                .collect();
            return match each.iter().any(Vec::is_empty) {
                true => Vec::new(),
                false => each.concat(),
            };
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let fits = |t: &str| t == kind || (t == "number" && kind == "integer");
    if !types.is_empty() && !types.iter().any(|t| fits(t)) {
        return vec![format!("{at}: a {kind}, the document says {types:?}")];
    }
    let mut out = Vec::new();
    match value {
        Value::Object(obj) => {
            let described = schema["properties"].as_object();
            for required in schema["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap();
                if !obj.contains_key(name) {
                    out.push(format!("{at}.{name}: required, missing"));
                }
            }
            if let Some(properties) = described {
                for (k, v) in obj {
                    match properties.get(k) {
                        Some(s) => out.extend(departures(doc, s, v, &format!("{at}.{k}"))),
                        None => out.push(format!("{at}.{k}: not in the document")),
                    }
                }
            }
        }
        Value::Array(items) if schema.get("items").is_some() => {
            for (i, item) in items.iter().enumerate() {
                out.extend(departures(
                    doc,
                    &schema["items"],
                    item,
                    &format!("{at}[{i}]"),
                ));
            }
        }
        _ => {}
    }
    out
}

/// The body of `status` that the document gives `method path` (a path template).
fn response_schema(doc: &Value, method: &str, path: &str, status: u16) -> Value {
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not in the document");
    op["responses"][status.to_string()]["content"]["application/json"]["schema"].clone()
}

#[test]
fn every_answer_is_the_shape_the_openapi_document_gives() {
    block_on(async {
        let a = agent().await;
        let _turn = TURN.lock().await;
        let doc: Value = reqwest::get(format!("http://{}/api/openapi.json", a.addr))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut checked = 0;
        let mut check = |method: &str, path: &str, status: u16, body: &Value| {
            let schema = response_schema(&doc, method, path, status);
            assert!(schema.is_object(), "{method} {path} {status}: no schema");
            let wrong = departures(&doc, &schema, body, "body");
            assert!(wrong.is_empty(), "{method} {path}: {wrong:#?}\n{body:#}");
            checked += 1;
        };
        let (status, submitted) = call(
            "POST",
            a.addr,
            "/api/agent",
            Some(json!({
                "task": "every shape", "conversationId": "shapes", "context": {"k": 1},
                "commands": [goto_page("index.html"), evaluate("return 2 + 2")],
                "instanceId": "inst_1", "approval": confirm_evaluate(None),
            })),
        )
        .await;
        check("post", "/api/agent", status, &submitted);
        let id = submitted["data"]["taskId"].as_str().unwrap().to_string();
        let request = wait_for(a.addr, &id, "approval_request").await;
        let approval_id = request["data"]["approvalRequest"]["approvalId"].clone();
        let (status, read) = call("GET", a.addr, &format!("/api/agent/{id}"), None).await;
        check("get", "/api/agent/{id}", status, &read);
        let (status, decided) = call(
            "POST",
            a.addr,
            &format!("/api/agent/{id}/approve"),
            Some(json!({"approvalId": approval_id, "approved": true, "modifiedParameters": {"script": "return 5"}})),
        )
        .await;
        check("post", "/api/agent/{id}/approve", status, &decided);
        let messages = stream(a.addr, &id, None).await;
        assert_eq!(messages.last().unwrap()["type"], "completed");
        let (status, events) = call(
            "GET",
            a.addr,
            &format!("/api/agent/{id}/events?after=0&wait=0"),
            None,
        )
        .await;
        check("get", "/api/agent/{id}/events", status, &events);
        let (status, read) = call("GET", a.addr, &format!("/api/agent/{id}"), None).await;
        check("get", "/api/agent/{id}", status, &read);
        let (status, undone) = call(
            "POST",
            a.addr,
            &format!("/api/agent/{id}/undo"),
            Some(json!({})),
        )
        .await;
        check("post", "/api/agent/{id}/undo", status, &undone);
        let (status, history) = call(
            "GET",
            a.addr,
            "/api/agent/history?conversationId=shapes",
            None,
        )
        .await;
        check("get", "/api/agent/history", status, &history);
        let long = submit(
            a,
            json!({"task": "to cancel", "instanceId": "inst_1",
                   "commands": [evaluate("await new Promise(r => setTimeout(r, 30000)); return 1")]}),
        )
        .await;
        let (status, cancelled) = call("DELETE", a.addr, &format!("/api/agent/{long}"), None).await;
        check("delete", "/api/agent/{id}", status, &cancelled);
        let (status, missing) = call("GET", a.addr, "/api/agent/task_0_nope", None).await;
        check("get", "/api/agent/{id}", status, &missing);
        assert_eq!(checked, 9);
        // The check can fail: an unknown field, a missing one, a wrong type.
        let schema = response_schema(&doc, "delete", "/api/agent/{id}", 200);
        let wrong = departures(
            &doc,
            &schema,
            &json!({"success": true, "data": {"taskId": 7, "extra": 1}}),
            "body",
        );
        assert_eq!(wrong.len(), 3, "{wrong:?}");
        stream(a.addr, &long, None).await;
    });
}
