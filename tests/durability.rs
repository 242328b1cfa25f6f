//! The SQLite store through the real binary: `kill -9` with a task running and tasks queued,
//! then a restart on the same file. History is there, the running task ended failed, the queued
//! ones run, and a client sees all of it through the spec's messages. Also: the server's
//! Chromium dies with it, and a second runner on the same file is refused.

mod common;

use std::time::Duration;

use common::client::Client;
use common::serve::{process_gone, ServeProcess};
use common::*;
use serde_json::{json, Value};

fn wait_forever() -> Value {
    execute("await new Promise(r => setTimeout(r, 60000)); return 'never'")
}

async fn status_of(client: &mut Client, id: &str) -> Value {
    let reply = client
        .request(
            json!({"type": "task_status", "taskId": id}),
            "task_status_response",
        )
        .await;
    reply["task"].clone()
}

#[test]
fn kill_9_loses_nothing_and_the_restart_runs_what_was_queued() {
    block_on(async {
        let _permit = env().private_browsers.acquire().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("tasks.db");
        let store = format!("sqlite://{}", db.display());

        let mut first = ServeProcess::start(&["--store", &store]).await;
        let health: Value = reqwest::get(format!("http://{}/health", first.addr))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["store"], "sqlite", "{health}");
        let chromium = health["instances"][0]["pid"].as_u64().expect("a pid") as u32;

        let mut client = Client::connect(first.addr).await;
        let mut finished = task("finished before", vec![execute("return 'kept'")]);
        finished["metadata"] = json!({"z": 1, "a": 2});
        let finished = client.submit(finished).await;
        let complete = client.until_complete(&finished).await.pop().unwrap();
        assert_eq!(complete["status"], "completed", "{complete}");

        let interrupted = client
            .submit(task(
                "interrupted",
                vec![execute("return 1"), wait_forever(), execute("return 3")],
            ))
            .await;
        let queued: Vec<String> = {
            let mut ids = Vec::new();
            for n in 0..3 {
                ids.push(
                    client
                        .submit(task(
                            &format!("queued {n}"),
                            vec![execute(&format!("return 'ran {n}'"))],
                        ))
                        .await,
                );
            }
            ids
        };
        client
            .recv_until(|m| {
                m["taskId"] == interrupted.as_str()
                    && m["commandIndex"] == 1
                    && m["status"] == "running"
            })
            .await;

        first.kill9().await;
        // Chromium dies with its server, even killed with no chance to clean up.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !process_gone(chromium) {
            assert!(
                std::time::Instant::now() < deadline,
                "Chromium {chromium} outlived its killed server"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let mut second = ServeProcess::start(&["--store", &store]).await;
        let mut client = Client::connect(second.addr).await;

        let kept = status_of(&mut client, &finished).await;
        assert_eq!(kept["status"], "completed", "{kept}");
        assert_eq!(
            kept["commands"][0]["result"]["content"][0]["text"],
            "\"kept\""
        );
        let keys: Vec<&String> = kept["metadata"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["z", "a"], "metadata keeps its key order");

        // The running task ended failed, its command in flight too, the rest skipped.
        client
            .send(json!({"type": "subscribe_task", "taskId": interrupted}))
            .await;
        let complete = client.until_complete(&interrupted).await.pop().unwrap();
        assert_eq!(complete["status"], "failed", "{complete}");
        let statuses: Vec<&Value> = complete["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["status"])
            .collect();
        assert_eq!(statuses, ["success", "error", "skipped"], "{complete}");
        assert_eq!(complete["results"][1]["errorCode"], "INSTANCE_DISCONNECTED");
        let why = complete["error"]["message"].as_str().unwrap();
        assert!(why.contains("server stopped"), "{why}");

        // The queued tasks run after the restart, in their order.
        let mut completed_at = Vec::new();
        for (n, id) in queued.iter().enumerate() {
            client
                .send(json!({"type": "subscribe_task", "taskId": id}))
                .await;
            let complete = client.until_complete(id).await.pop().unwrap();
            assert_eq!(complete["status"], "completed", "{complete}");
            assert_eq!(
                complete["results"][0]["result"]["content"][0]["text"],
                format!("\"ran {n}\"")
            );
            let task = status_of(&mut client, id).await;
            completed_at.push(task["completedAt"].as_str().unwrap().to_string());
        }
        let mut in_order = completed_at.clone();
        in_order.sort();
        assert_eq!(completed_at, in_order, "queued tasks ran in their order");

        let listed = client
            .request(json!({"type": "task_list"}), "task_list_response")
            .await;
        assert_eq!(listed["tasks"].as_array().unwrap().len(), 5, "{listed}");

        // A second runner on the same file is refused, with a reason.
        let refused = tokio::process::Command::new(env!("CARGO_BIN_EXE_browser-control"))
            .args(["serve", "--listen", "127.0.0.1:0", "--store", &store])
            .output()
            .await
            .unwrap();
        assert_eq!(refused.status.code(), Some(2));
        let said = String::from_utf8_lossy(&refused.stderr);
        assert!(said.contains("another browser-control runner"), "{said}");

        assert!(second.terminate().await.success());
        // SIGTERM leaves the store consistent: nothing is left running or queued.
        let mut third = ServeProcess::start(&["--store", &store]).await;
        let mut client = Client::connect(third.addr).await;
        for status in ["running", "queued"] {
            let listed = client
                .request(
                    json!({"type": "task_list", "status": status}),
                    "task_list_response",
                )
                .await;
            assert_eq!(listed["tasks"], json!([]), "{status}: {listed}");
        }
        assert!(third.terminate().await.success());
    });
}

/// `POST`s (or `GET`s, without a body) to the agent API; the status and the body.
async fn agent_call(addr: std::net::SocketAddr, path: &str, body: Option<Value>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let url = format!("http://{addr}{path}");
    let request = match body {
        Some(b) => client.post(url).json(&b),
        None => client.get(url),
    };
    let response = request.send().await.expect("answered");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Polls the task's update messages from the start until one satisfies `wanted`; every
/// message so far.
async fn agent_until(
    addr: std::net::SocketAddr,
    id: &str,
    wanted: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    agent_until_after(addr, id, "0", wanted).await
}

async fn agent_until_after(
    addr: std::net::SocketAddr,
    id: &str,
    after: &str,
    wanted: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let mut seen = Vec::new();
    let mut after: u64 = after.parse().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while std::time::Instant::now() < deadline {
        let (status, reply) = agent_call(
            addr,
            &format!("/api/agent/{id}/events?after={after}&wait=5"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{reply}");
        let data = &reply["data"];
        for m in data["events"].as_array().unwrap() {
            seen.push(m.clone());
            if wanted(m) {
                return seen;
            }
        }
        after = data["lastEventId"].as_str().unwrap().parse().unwrap();
        let kinds: Vec<String> = seen
            .iter()
            .map(|m| format!("{} {} {}", m["id"], m["type"], m["data"]["message"]))
            .collect();
        assert_eq!(data["finished"], false, "ended first: {kinds:#?}");
    }
    panic!("not within 90 s: {seen:?}");
}

fn paused(m: &Value) -> bool {
    m["type"] == "status_change" && m["data"]["status"] == "paused"
}

/// True at the first `paused` message after the `n`th requeue (the stream read from its start).
/// (Not the nth pause: a `kill -9` may come before the pause it follows was written.)
fn paused_after_requeue(n: usize) -> impl Fn(&Value) -> bool {
    let requeued = std::cell::Cell::new(0);
    move |m| {
        if m["type"] == "status_change" && m["data"]["previousStatus"] == "paused" {
            requeued.set(requeued.get() + 1);
        }
        requeued.get() == n && paused(m)
    }
}

#[test]
fn an_approval_waits_through_a_restart_and_a_kill_and_the_task_goes_on_where_it_was() {
    block_on(async {
        let _permit = env().private_browsers.acquire().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = format!("sqlite://{}", dir.path().join("tasks.db").display());
        let args = ["--store", store.as_str()];
        let first = ServeProcess::start(&args).await;
        // The hover needs a person (a rule on tool and action: asked when the task starts).
        let (status, reply) = agent_call(
            first.addr,
            "/api/agent",
            Some(json!({
                "task": "wait for a person through restarts",
                "approval": {"rules": [{"match": {"tool": "browser_interact", "action": "hover"},
                                         "decision": "confirm", "timeout": "10m"}]},
                "commands": [
                    {"toolName": "browser_navigate", "args": {"action": "goto", "url": url("index.html")}},
                    execute("localStorage.setItem('k', 'set before'); \
                             document.cookie = 'c=set-before; path=/'; \
                             location.hash = 'here'; return 1"),
                    {"toolName": "browser_interact", "args": {"action": "hover", "selector": "body"}},
                    execute("return [location.hash, localStorage.getItem('k'), document.cookie].join(' ')"),
                ],
            })),
        )
        .await;
        assert_eq!(status, 201, "{reply}");
        let id = reply["data"]["taskId"].as_str().unwrap().to_string();
        let before = agent_until(first.addr, &id, paused).await;
        let ask = before
            .iter()
            .find(|m| m["type"] == "approval_request")
            .expect("an approval request");
        let approval_id = ask["data"]["approvalRequest"]["approvalId"].clone();
        assert_eq!(ask["data"]["approvalRequest"]["stepIndex"], 2);

        // SIGTERM while it waits: the task is left waiting, not cancelled.
        let mut first = first;
        assert!(first.terminate().await.success());
        let mut second = ServeProcess::start(&args).await;
        let (status, reply) = agent_call(second.addr, &format!("/api/agent/{id}"), None).await;
        assert_eq!(status, 200, "{reply}");
        assert_ne!(reply["data"]["task"]["status"], "cancelled", "{reply}");
        assert_ne!(reply["data"]["task"]["status"], "failed", "{reply}");
        let seen = agent_until(second.addr, &id, paused_after_requeue(1)).await;
        second.kill9().await;

        // kill -9 while it waits again: the same.
        let third = ServeProcess::start(&args).await;
        let resumed = agent_until(third.addr, &id, paused_after_requeue(2)).await;
        // What a client was sent before the kill is in the store, with the same ids: a
        // message is sent once it is written.
        let key = |m: &Value| {
            (
                m["id"].clone(),
                m["type"].clone(),
                m["data"]["status"].clone(),
            )
        };
        let sent: Vec<_> = seen
            .iter()
            .filter(|m| m["type"] != "queue_update")
            .map(key)
            .collect();
        let kept: Vec<_> = resumed
            .iter()
            .filter(|m| m["type"] != "queue_update")
            .take(sent.len())
            .map(key)
            .collect();
        assert_eq!(kept, sent, "the messages sent before the kill, as stored");
        let (status, reply) = agent_call(third.addr, &format!("/api/agent/{id}"), None).await;
        assert_eq!(status, 200, "{reply}");
        let task = &reply["data"]["task"];
        assert_eq!(task["status"], "paused", "{reply}");
        assert_eq!(task["steps"][1]["status"], "completed");
        assert_eq!(task["steps"][2]["status"], "awaiting_approval");

        let (status, reply) = agent_call(
            third.addr,
            &format!("/api/agent/{id}/approve"),
            Some(json!({"approvalId": approval_id, "approved": true, "message": "after two restarts"})),
        )
        .await;
        assert_eq!(status, 200, "{reply}");
        let after = resumed.last().unwrap()["id"].as_str().unwrap().to_string();
        let done = agent_until_after(third.addr, &id, &after, |m| m["type"] == "completed").await;
        let result = &done.last().unwrap()["data"]["result"];
        // Steps 0 and 1 ran once, before the restarts; the page came back from the checkpoint
        // kept while it waited.
        let last = result["steps"][3]["result"].to_string();
        assert!(
            last.contains("#here set before c=set-before"),
            "the page, its storage and its cookie are back: {last}"
        );
        assert_eq!(result["steps"][2]["status"], "completed");
        // One stream from the start: ids 1..n, the requests once, the restarts said.
        let ids: Vec<u64> = resumed
            .iter()
            .chain(&done)
            .filter(|m| m["type"] != "queue_update")
            .map(|m| m["id"].as_str().unwrap().parse().unwrap())
            .collect();
        assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>());
        let requeued = resumed
            .iter()
            .filter(|m| m["type"] == "status_change" && m["data"]["previousStatus"] == "paused")
            .count();
        assert_eq!(requeued, 2, "{resumed:?}");
        let starts = resumed
            .iter()
            .chain(&done)
            .filter(|m| m["type"] == "step_start")
            .map(|m| m["data"]["step"]["index"].as_u64().unwrap())
            .collect::<Vec<_>>();
        assert_eq!(starts, [0, 1, 2, 3], "no step ran twice");
        let mut third = third;
        assert!(third.terminate().await.success());
    });
}
