//! `serve` through real clients: a WebSocket client speaking task-websocket-protocol.md and an
//! HTTP client, against real Chromium serving the fixture pages.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use browser_control::server::{ServerConfig, SocketLimits};
use common::client::{is_iso, loopback_config, shared_server, start_server, Client};
use common::*;
use futures::StreamExt;
use serde_json::{json, Value};

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn get_json(url: &str) -> Value {
    http().get(url).send().await.unwrap().json().await.unwrap()
}

/// A command that keeps the instance busy for `ms` (a page timer, so cancel can stop it).
fn busy(ms: u64) -> Value {
    execute(&format!(
        "await new Promise(r => setTimeout(r, {ms})); return 'slept'"
    ))
}

fn of_type<'a>(messages: &'a [Value], kind: &str) -> Vec<&'a Value> {
    messages.iter().filter(|m| m["type"] == kind).collect()
}

#[test]
fn a_submitted_task_streams_its_progress_and_completes() {
    block_on(async {
        let mut client = Client::connect(shared_server().await).await;
        assert_eq!(client.welcome["type"], "welcome");
        assert!(
            client.welcome["sessionId"]
                .as_str()
                .unwrap()
                .starts_with("session_"),
            "{}",
            client.welcome
        );
        assert_eq!(client.welcome["serverVersion"], env!("CARGO_PKG_VERSION"));

        client
            .send(json!({
                "type": "task_submit",
                "task_name": "Read the article",
                "task_intention": "check the protocol",
                "commands": [
                    {"tool_name": "browser_navigate", "intention": "Open it",
                     "args": {"action": "goto", "url": url("article.html")}},
                    {"tool_name": "browser_content", "intention": "Read the title",
                     "args": {"action": "get_text", "selector": "h1"}},
                    {"tool_name": "browser_execute", "args": {"action": "evaluate", "script": "return 6 * 7"}},
                ]
            }))
            .await;
        let reply = client.recv().await;
        assert_eq!(reply["type"], "task_submit_response", "{reply}");
        assert_eq!(reply["status"], "accepted");
        assert!(reply["queuePosition"].is_u64(), "{reply}");
        let task_id = reply["taskId"].as_str().unwrap().to_string();
        assert!(task_id.starts_with("task_"), "{task_id}");

        // Subscribed automatically: every command's start and success, then the completion.
        let messages = client.until_complete(&task_id).await;
        let progress = of_type(&messages, "task_progress");
        let seen: Vec<(u64, &str)> = progress
            .iter()
            .map(|m| {
                assert_eq!(m["taskId"], task_id.as_str());
                (
                    m["commandIndex"].as_u64().unwrap(),
                    m["status"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (0, "running"),
                (0, "success"),
                (1, "running"),
                (1, "success"),
                (2, "running"),
                (2, "success")
            ]
        );
        assert_eq!(progress[0]["tool_name"], "browser_navigate");
        assert_eq!(progress[0]["intention"], "Open it");
        assert_eq!(progress[2]["intention"], "Read the title");
        assert_eq!(progress[4]["intention"], "");
        let title = progress[3]["result"]["content"][0]["text"]
            .as_str()
            .unwrap();
        assert!(!title.is_empty(), "{}", progress[3]);
        assert_eq!(progress[5]["result"]["content"][0]["text"], "42");

        let complete = messages.last().unwrap();
        assert_eq!(complete["status"], "completed", "{complete}");
        assert!(is_iso(&complete["completedAt"]), "{complete}");
        let results = complete["results"].as_array().unwrap();
        assert_eq!(results.len(), 3);
        assert!(results.iter().all(|r| r["status"] == "success"));
        assert_eq!(results[1]["result"]["content"][0]["text"], title);
        assert_eq!(of_type(&messages, "task_complete").len(), 1);

        // The full record, with ISO timestamps.
        let status = client
            .request(
                json!({"type": "task_status", "taskId": task_id}),
                "task_status_response",
            )
            .await;
        let task = &status["task"];
        assert_eq!(task["id"], task_id.as_str());
        assert_eq!(task["name"], "Read the article");
        assert_eq!(task["intention"], "check the protocol");
        assert_eq!(task["status"], "completed");
        assert_eq!(task["instanceId"], "inst_1");
        assert_eq!(task["currentCommandIndex"], 2);
        for key in ["createdAt", "startedAt", "completedAt"] {
            assert!(is_iso(&task[key]), "{key}: {task}");
        }
        let commands = task["commands"].as_array().unwrap();
        assert_eq!(commands.len(), 3);
        assert_eq!(commands[0]["tool_name"], "browser_navigate");
        assert_eq!(commands[0]["args"]["action"], "goto");
        assert_eq!(commands[0]["status"], "success");
        assert!(is_iso(&commands[2]["startedAt"]) && is_iso(&commands[2]["completedAt"]));
        assert_eq!(commands[2]["result"]["content"][0]["text"], "42");
    });
}

#[test]
fn a_failing_command_is_reported_and_the_rest_skipped() {
    block_on(async {
        let mut client = Client::connect(shared_server().await).await;
        let task_id = client
            .submit(task(
                "Missing element",
                vec![
                    goto("index.html"),
                    interact(json!({"action": "click", "selector": "#nope", "timeout": 800})),
                    content(json!({"action": "get_text", "selector": "h1"})),
                ],
            ))
            .await;
        let messages = client.until_complete(&task_id).await;
        let progress = of_type(&messages, "task_progress");
        let failed = progress
            .iter()
            .find(|m| m["status"] == "error")
            .expect("an error progress");
        assert_eq!(failed["commandIndex"], 1);
        assert!(
            failed["error"].as_str().unwrap().contains("#nope"),
            "{failed}"
        );
        let skipped = progress
            .iter()
            .find(|m| m["status"] == "skipped")
            .expect("a skipped progress");
        assert_eq!(skipped["commandIndex"], 2);
        assert_eq!(skipped["tool_name"], "browser_content");

        let complete = messages.last().unwrap();
        assert_eq!(complete["status"], "failed");
        let statuses: Vec<&str> = complete["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses, ["success", "error", "skipped"]);
        assert!(complete["results"][1]["error"]
            .as_str()
            .unwrap()
            .contains("#nope"));
        assert_eq!(complete["results"][2], json!({"status": "skipped"}));
    });
}

#[test]
fn bad_input_gets_a_precise_error_and_the_connection_stays_usable() {
    block_on(async {
        let mut client = Client::connect(shared_server().await).await;
        client.send_text("this is not json").await;
        assert_eq!(
            client.recv().await,
            json!({"type": "error", "message": "Invalid message format"})
        );
        client.send_text(r#"{"no_type": true}"#).await;
        assert_eq!(client.recv().await["message"], "Invalid message format");
        client.send(json!({"type": "invalid_type"})).await;
        assert_eq!(
            client.recv().await,
            json!({"type": "error", "message": "Unknown message type: invalid_type"})
        );
        client.send(json!({"type": "task_status"})).await;
        let reply = client.recv().await;
        assert_eq!(reply["type"], "error");
        assert!(
            reply["message"].as_str().unwrap().contains("taskId"),
            "{reply}"
        );
        client.send_binary(b"{}".to_vec()).await;
        let reply = client.recv().await;
        assert!(
            reply["message"].as_str().unwrap().contains("text frames"),
            "{reply}"
        );

        // Submissions the scheduler refuses: the field is named.
        let reply = client
            .request(
                json!({"type": "task_submit", "task_name": "x", "commands": [
                    {"tool_name": "browser_navigate", "args": {"action": "goto"}}]}),
                "task_submit_response",
            )
            .await;
        assert_eq!(reply["status"], "rejected");
        assert_eq!(reply["taskId"], "");
        assert!(
            reply["error"]
                .as_str()
                .unwrap()
                .contains("commands[0].args.url"),
            "{reply}"
        );
        let reply = client
            .request(
                json!({"type": "task_submit", "task_name": "x", "instanceId": "inst_nope",
                       "commands": [execute("return 1")]}),
                "task_submit_response",
            )
            .await;
        assert_eq!(reply["status"], "rejected");
        assert_eq!(reply["error"], "Unknown instance: inst_nope");

        // Over the 1 MiB cap: refused, and the connection goes on.
        let huge = json!({"type": "task_submit", "task_name": "x".repeat(1 << 20), "commands": []});
        client.send(huge).await;
        let reply = client.recv().await;
        assert_eq!(reply["type"], "error");
        assert!(
            reply["message"]
                .as_str()
                .unwrap()
                .starts_with("Message too large"),
            "{reply}"
        );

        let reply = client
            .request(
                json!({"type": "task_status", "taskId": "task_0_0"}),
                "task_status_response",
            )
            .await;
        assert_eq!(
            reply,
            json!({"type": "task_status_response", "task": null, "error": "Task not found"})
        );
        let list = client
            .request(json!({"type": "task_list", "status": "bogus"}), "error")
            .await;
        assert!(
            list["message"].as_str().unwrap().contains("bogus"),
            "{list}"
        );
        let list = client
            .request(json!({"type": "task_list"}), "task_list_response")
            .await;
        assert!(list["tasks"].is_array());
    });
}

#[test]
fn other_connections_subscribe_to_a_task_and_to_an_instance() {
    block_on(async {
        let addr = shared_server().await;
        let mut submitter = Client::connect(addr).await;
        let mut watcher = Client::connect(addr).await;
        let mut instance_watcher = Client::connect(addr).await;
        let ack = instance_watcher
            .request(
                json!({"type": "subscribe_instance", "instanceId": "inst_1"}),
                "subscribe_ack",
            )
            .await;
        assert_eq!(
            ack,
            json!({"type": "subscribe_ack", "instanceId": "inst_1"})
        );

        // A blocker first, so the watched task is still queued when the watcher subscribes.
        let blocker = submitter.submit(task("blocker", vec![busy(1500)])).await;
        let watched = submitter
            .submit(task("watched", vec![execute("return 'seen'")]))
            .await;
        let ack = watcher
            .request(
                json!({"type": "subscribe_task", "taskId": watched}),
                "subscribe_ack",
            )
            .await;
        assert_eq!(ack, json!({"type": "subscribe_ack", "taskId": watched}));

        let seen = watcher.until_complete(&watched).await;
        let statuses: Vec<&str> = of_type(&seen, "task_progress")
            .iter()
            .map(|m| m["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses, ["running", "success"]);
        assert_eq!(
            seen.last().unwrap()["results"][0]["result"]["content"][0]["text"],
            "\"seen\""
        );
        // Only what it subscribed to: nothing of the blocker.
        assert!(
            seen.iter().all(|m| m["taskId"] != blocker.as_str()),
            "{seen:#?}"
        );

        // The instance subscriber hears both tasks.
        let mut completed = Vec::new();
        while completed.len() < 2 {
            let m = instance_watcher.recv().await;
            if m["type"] == "task_complete" && (m["taskId"] == blocker || m["taskId"] == watched) {
                completed.push(m["taskId"].as_str().unwrap().to_string());
            }
        }
        assert_eq!(completed, [blocker.clone(), watched.clone()]);

        // Subscribing to a task that has finished delivers its completion at once.
        let mut late = Client::connect(addr).await;
        late.send(json!({"type": "subscribe_task", "taskId": watched}))
            .await;
        assert_eq!(late.recv().await["type"], "subscribe_ack");
        let complete = late.recv().await;
        assert_eq!(complete["type"], "task_complete");
        assert_eq!(complete["status"], "completed");
        let reply = late
            .request(
                json!({"type": "subscribe_task", "taskId": "task_0_0"}),
                "error",
            )
            .await;
        assert_eq!(reply["message"], "Task not found: task_0_0");
    });
}

#[test]
fn queued_and_running_tasks_are_cancelled() {
    block_on(async {
        let mut client = Client::connect(shared_server().await).await;
        let running = client
            .submit(task("long", vec![busy(20_000), execute("return 1")]))
            .await;
        let queued = client
            .submit(task(
                "waiting",
                vec![execute("return 1"), execute("return 2")],
            ))
            .await;
        client
            .recv_until(|m| {
                m["type"] == "task_progress" && m["taskId"] == running && m["status"] == "running"
            })
            .await;

        let reply = client
            .request(
                json!({"type": "task_cancel", "taskId": queued}),
                "task_cancel_response",
            )
            .await;
        assert_eq!(
            reply,
            json!({"type": "task_cancel_response", "taskId": queued, "success": true})
        );
        let messages = client.until_complete(&queued).await;
        let complete = messages.last().unwrap();
        assert_eq!(complete["status"], "cancelled");
        assert_eq!(
            complete["results"],
            json!([{"status": "skipped"}, {"status": "skipped"}])
        );

        let asked = Instant::now();
        let reply = client
            .request(
                json!({"type": "task_cancel", "taskId": running}),
                "task_cancel_response",
            )
            .await;
        assert_eq!(reply["success"], true);
        let messages = client.until_complete(&running).await;
        let took = asked.elapsed();
        let complete = messages.last().unwrap();
        assert_eq!(complete["status"], "cancelled", "{complete}");
        assert_eq!(complete["results"][0]["status"], "skipped");
        assert_eq!(complete["results"][1]["status"], "skipped");
        assert!(took < Duration::from_secs(3), "cancel took {took:?}");

        for id in [running.as_str(), "task_0_0"] {
            let reply = client
                .request(
                    json!({"type": "task_cancel", "taskId": id}),
                    "task_cancel_response",
                )
                .await;
            assert_eq!(
                reply,
                json!({"type": "task_cancel_response", "taskId": id, "success": false,
                       "error": "Task not found or already completed"})
            );
        }
    });
}

#[test]
fn task_list_filters_by_instance_and_status() {
    block_on(async {
        let mut client = Client::connect(shared_server().await).await;
        let done = client
            .submit(task("list me", vec![execute("return 1")]))
            .await;
        client.until_complete(&done).await;
        let failed = client
            .submit(task("fail me", vec![execute("throw new Error('boom')")]))
            .await;
        client.until_complete(&failed).await;

        let list = |status: Value, instance: Value| json!({"type": "task_list", "status": status, "instanceId": instance});
        let ids = |reply: &Value| -> Vec<String> {
            reply["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_str().unwrap().to_string())
                .collect()
        };
        let all = client
            .request(list("all".into(), Value::Null), "task_list_response")
            .await;
        assert!(ids(&all).contains(&done) && ids(&all).contains(&failed));
        let item = all["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == done.as_str())
            .unwrap();
        assert_eq!(item["name"], "list me");
        assert_eq!(item["status"], "completed");
        assert_eq!(item["instanceId"], "inst_1");
        assert_eq!(item["totalCommands"], 1);
        assert_eq!(item["currentCommandIndex"], 0);
        assert!(is_iso(&item["createdAt"]) && is_iso(&item["startedAt"]));

        let completed = client
            .request(
                list("completed".into(), "inst_1".into()),
                "task_list_response",
            )
            .await;
        assert!(ids(&completed).contains(&done));
        assert!(!ids(&completed).contains(&failed));
        assert!(completed["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "completed"));
        let failed_list = client
            .request(list("failed".into(), Value::Null), "task_list_response")
            .await;
        assert!(ids(&failed_list).contains(&failed));
        assert!(!ids(&failed_list).contains(&done));
        let elsewhere = client
            .request(
                list("all".into(), "inst_other".into()),
                "task_list_response",
            )
            .await;
        assert_eq!(elsewhere["tasks"], json!([]));
    });
}

#[test]
fn many_clients_each_get_exactly_one_completion_per_task() {
    block_on(async {
        let addr = shared_server().await;
        let clients = (0..12).map(|n| async move {
            let mut client = Client::connect(addr).await;
            let mut mine = Vec::new();
            for k in 0..3 {
                mine.push(
                    client
                        .submit(task(
                            &format!("client {n} task {k}"),
                            vec![execute(&format!("return {n} * 100 + {k}"))],
                        ))
                        .await,
                );
            }
            let mut completions: Vec<Value> = Vec::new();
            while completions.len() < mine.len() {
                let m = client.recv().await;
                if m["type"] == "task_complete" {
                    completions.push(m);
                }
            }
            // A duplicate still on its way would arrive before this reply.
            client
                .request(
                    json!({"type": "task_list", "status": "queued"}),
                    "task_list_response",
                )
                .await;
            let trailing: Vec<Value> = client
                .backlog()
                .into_iter()
                .filter(|m| m["type"] == "task_complete")
                .collect();
            (n, mine, completions, trailing)
        });
        for (n, mine, completions, trailing) in futures::future::join_all(clients).await {
            assert_eq!(
                trailing,
                Vec::<Value>::new(),
                "client {n}: a second task_complete"
            );
            let mut got: Vec<String> = completions
                .iter()
                .map(|m| m["taskId"].as_str().unwrap().to_string())
                .collect();
            got.sort();
            let mut want = mine.clone();
            want.sort();
            assert_eq!(got, want, "client {n}: one task_complete per own task");
            for (k, id) in mine.iter().enumerate() {
                let m = completions
                    .iter()
                    .find(|m| m["taskId"] == id.as_str())
                    .unwrap();
                assert_eq!(
                    m["results"][0]["result"]["content"][0]["text"],
                    (n * 100 + k).to_string()
                );
            }
        }
    });
}

#[test]
fn http_routes_submit_list_read_cancel_and_report() {
    block_on(async {
        let base = format!("http://{}", shared_server().await);
        let http = http();
        let reply = http
            .post(format!("{base}/tasks"))
            .json(&task("over http", vec![execute("return 'h'")]))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 202);
        let body: Value = reply.json().await.unwrap();
        assert_eq!(body["status"], "accepted");
        let id = body["taskId"].as_str().unwrap().to_string();
        env().shared.wait_finished(&id).await.unwrap();

        let got: Value = get_json(&format!("{base}/tasks/{id}")).await;
        assert_eq!(got["task"]["status"], "completed");
        assert_eq!(
            got["task"]["commands"][0]["result"]["content"][0]["text"],
            "\"h\""
        );
        let listed: Value =
            get_json(&format!("{base}/tasks?status=completed&instanceId=inst_1")).await;
        assert!(listed["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == id.as_str()));

        // Errors: one shape, proper codes.
        let check = |status: u16, code: &'static str| {
            move |r: reqwest::Response| async move {
                assert_eq!(r.status(), status);
                let body: Value = r.json().await.unwrap();
                assert_eq!(body["error"]["code"], code, "{body}");
                assert!(body["error"]["message"].as_str().unwrap().len() > 5);
                body
            }
        };
        let body = check(409, "CONFLICT")(
            http.delete(format!("{base}/tasks/{id}"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            body["error"]["message"],
            "Task not found or already completed"
        );
        check(404, "NOT_FOUND")(
            http.get(format!("{base}/tasks/task_0_0"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let body = check(400, "INVALID_ARGUMENTS")(
            http.post(format!("{base}/tasks"))
                .json(&json!({"task_name": "x", "commands": [{"tool_name": "browser_nope", "args": {}}]}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("commands[0].tool_name"));
        check(400, "BAD_REQUEST")(
            http.post(format!("{base}/tasks"))
                .body("{oops")
                .send()
                .await
                .unwrap(),
        )
        .await;
        check(400, "BAD_REQUEST")(
            http.get(format!("{base}/tasks?status=nope"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        check(413, "PAYLOAD_TOO_LARGE")(
            http.post(format!("{base}/tasks"))
                .body(vec![b' '; (1 << 20) + 10])
                .send()
                .await
                .unwrap(),
        )
        .await;
        check(404, "NOT_FOUND")(
            http.delete(format!("{base}/instances/inst_nope"))
                .send()
                .await
                .unwrap(),
        )
        .await;

        let health = http.get(format!("{base}/health")).send().await.unwrap();
        assert_eq!(health.status(), 200);
        let health: Value = health.json().await.unwrap();
        assert_eq!(health["status"], "ok");
        assert!(health["instances"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == "inst_1" && i["status"] == "ready"));

        let _client = Client::connect(shared_server().await).await;
        let metrics = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for needle in [
            "browser_control_command_duration_seconds_bucket{",
            "tool=\"browser_execute\",action=\"evaluate\",outcome=\"success\"",
            "browser_control_tasks{status=\"completed\"}",
            "browser_control_queue_depth{instance=\"inst_1\"}",
        ] {
            assert!(metrics.contains(needle), "{needle} in\n{metrics}");
        }
        let clients: f64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix("browser_control_websocket_clients "))
            .expect("clients gauge")
            .trim()
            .parse()
            .unwrap();
        assert!(clients >= 1.0, "{metrics}");
    });
}

#[test]
fn instances_are_created_used_and_closed() {
    block_on(async {
        let _permit = env().private_browsers.acquire().await.unwrap();
        let addr = shared_server().await;
        let base = format!("http://{addr}");
        let http = http();
        let created = http
            .post(format!("{base}/instances"))
            .json(&json!({"action": "create", "viewport": {"width": 800, "height": 600}}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let created: Value = created.json().await.unwrap();
        let id = created["id"].as_str().unwrap().to_string();
        assert_eq!(created["status"], "ready");
        assert_eq!(created["remote"], false);

        // A task pinned to it sees its viewport; one on inst_1 creates and closes another
        // through the browser_instance tool.
        let mut client = Client::connect(addr).await;
        let mut pinned = task("pinned", vec![execute("return innerWidth")]);
        pinned["instanceId"] = id.clone().into();
        let pinned_id = client.submit(pinned).await;
        let complete = client.until_complete(&pinned_id).await.pop().unwrap();
        assert_eq!(
            complete["results"][0]["result"]["content"][0]["text"],
            "800"
        );

        let listing: Value = get_json(&format!("{base}/instances")).await;
        assert!(listing["instances"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == id.as_str()));

        let tool = |args: Value| cmd("browser_instance", args);
        let mut manage = task(
            "manage",
            vec![
                tool(json!({"action": "list"})),
                tool(json!({"action": "close", "instance_id": id})),
                tool(json!({"action": "close", "instanceId": "inst_1"})),
            ],
        );
        manage["instanceId"] = "inst_1".into();
        let manage_id = client.submit(manage).await;
        let complete = client.until_complete(&manage_id).await.pop().unwrap();
        let list_text = complete["results"][0]["result"]["content"][0]["text"]
            .as_str()
            .unwrap();
        assert!(list_text.contains(&id), "{list_text}");
        assert_eq!(
            complete["results"][1]["result"]["content"][0]["text"],
            format!("Closed {id}")
        );
        // A task cannot close the instance it runs on.
        assert_eq!(complete["results"][2]["status"], "error");
        assert!(complete["results"][2]["error"]
            .as_str()
            .unwrap()
            .contains("runs on it"));

        let reply = client
            .request(
                json!({"type": "task_submit", "task_name": "gone", "instanceId": id,
                       "commands": [execute("return 1")]}),
                "task_submit_response",
            )
            .await;
        assert_eq!(reply["error"], format!("Unknown instance: {id}"));
        let gone = http
            .delete(format!("{base}/instances/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(gone.status(), 404);

        let bad = http
            .post(format!("{base}/instances"))
            .json(&json!({"action": "attach", "endpoint": "localhost:1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 400);
        let bad: Value = bad.json().await.unwrap();
        assert!(bad["error"]["message"]
            .as_str()
            .unwrap()
            .contains("endpoint"));
    });
}

#[test]
fn pages_from_elsewhere_are_refused() {
    block_on(async {
        let addr = shared_server().await;
        let refused = Client::connect_with(addr, "", &[("origin", "https://evil.example")])
            .await
            .err()
            .expect("a foreign origin is refused");
        assert!(refused.starts_with("HTTP 403"), "{refused}");
        assert!(refused.contains("FORBIDDEN_ORIGIN"), "{refused}");
        let local = Client::connect_with(addr, "", &[("origin", "http://localhost:5173")])
            .await
            .expect("a loopback page may connect");
        assert_eq!(local.welcome["type"], "welcome");

        let r = http()
            .post(format!("http://{addr}/tasks"))
            .header("origin", "https://evil.example")
            .json(&task("x", vec![execute("return 1")]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        // A loopback page may read the answers (CORS), after its preflight.
        let preflight = http()
            .request(reqwest::Method::OPTIONS, format!("http://{addr}/tasks"))
            .header("origin", "http://localhost:5173")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
            .await
            .unwrap();
        assert!(preflight.status().is_success(), "{}", preflight.status());
        assert_eq!(
            preflight.headers()["access-control-allow-origin"],
            "http://localhost:5173"
        );
        let listed = http()
            .get(format!("http://{addr}/tasks"))
            .header("origin", "http://localhost:5173")
            .send()
            .await
            .unwrap();
        assert_eq!(listed.status(), 200);
        assert_eq!(
            listed.headers()["access-control-allow-origin"],
            "http://localhost:5173"
        );
        // DNS rebinding: a foreign name resolving to loopback.
        let r = http()
            .get(format!("http://{addr}/tasks"))
            .header("host", "rebound.example")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);

        // An allowed origin passes.
        let server = start_server(
            &env().shared,
            ServerConfig {
                allow_origins: vec!["https://app.example".into()],
                ..loopback_config()
            },
        )
        .await;
        let ok = Client::connect_with(
            server.local_addr(),
            "",
            &[("origin", "https://app.example")],
        )
        .await
        .expect("an allowed origin connects");
        assert_eq!(ok.welcome["type"], "welcome");
    });
}

#[test]
fn off_loopback_a_token_is_required() {
    block_on(async {
        let wildcard = SocketAddr::from(([0, 0, 0, 0], 0));
        let err = browser_control::server::Server::start(
            ServerConfig {
                listen: wildcard,
                ..ServerConfig::default()
            },
            env().shared.clone(),
        )
        .await
        .err()
        .expect("no token, no server");
        assert!(err.to_string().contains("token"), "{err}");

        let server = start_server(
            &env().shared,
            ServerConfig {
                listen: wildcard,
                token: Some("s3cret-token".into()),
                ..ServerConfig::default()
            },
        )
        .await;
        let addr = SocketAddr::from(([127, 0, 0, 1], server.local_addr().port()));
        let refused = Client::connect_with(addr, "", &[]).await.err().unwrap();
        assert!(refused.starts_with("HTTP 401"), "{refused}");
        let wrong = Client::connect_with(addr, "?token=wrong", &[])
            .await
            .err()
            .unwrap();
        assert!(wrong.starts_with("HTTP 401"), "{wrong}");
        let ok = Client::connect_with(addr, "?token=s3cret-token", &[])
            .await
            .unwrap();
        assert_eq!(ok.welcome["type"], "welcome");
        let ok = Client::connect_with(addr, "", &[("authorization", "Bearer s3cret-token")])
            .await
            .unwrap();
        assert_eq!(ok.welcome["type"], "welcome");

        let r = http()
            .get(format!("http://{addr}/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "UNAUTHORIZED");
        let r = http()
            .get(format!("http://{addr}/health"))
            .bearer_auth("s3cret-token")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    });
}

#[test]
fn a_full_queue_rejects_and_positions_are_real() {
    block_on(async {
        let (scheduler, _permit) =
            private_scheduler_with(browser_control::scheduler::SchedulerConfig {
                max_queued: 2,
                ..config(1)
            })
            .await;
        let server = start_server(&scheduler, loopback_config()).await;
        let mut client = Client::connect(server.local_addr()).await;
        let blocker = client.submit(task("blocker", vec![busy(3000)])).await;
        client
            .recv_until(|m| m["taskId"] == blocker && m["status"] == "running")
            .await;
        let mut positions = Vec::new();
        for n in 0..2 {
            let mut message = task(&format!("queued {n}"), vec![execute("return 1")]);
            message["type"] = "task_submit".into();
            let reply = client.request(message, "task_submit_response").await;
            assert_eq!(reply["status"], "accepted", "{reply}");
            positions.push(reply["queuePosition"].as_u64().unwrap());
        }
        assert_eq!(positions, [1, 2]);
        let mut message = task("one too many", vec![execute("return 1")]);
        message["type"] = "task_submit".into();
        let reply = client.request(message, "task_submit_response").await;
        assert_eq!(reply["status"], "rejected");
        assert_eq!(reply["taskId"], "");
        assert!(
            reply["error"].as_str().unwrap().starts_with("Queue full"),
            "{reply}"
        );
        server.shutdown().await;
    });
}

#[test]
fn a_killed_chromium_fails_its_task_and_the_queue_carries_on() {
    block_on(async {
        let (scheduler, _permit) = private_scheduler().await;
        let server = start_server(&scheduler, loopback_config()).await;
        let mut client = Client::connect(server.local_addr()).await;
        client
            .request(
                json!({"type": "subscribe_instance", "instanceId": "inst_1"}),
                "subscribe_ack",
            )
            .await;
        let doomed = client.submit(task("doomed", vec![busy(30_000)])).await;
        let next = client
            .submit(task(
                "next",
                vec![
                    goto("index.html"),
                    execute("return document.title.length > 0"),
                ],
            ))
            .await;
        client
            .recv_until(|m| m["taskId"] == doomed && m["status"] == "running")
            .await;
        let pid = scheduler.instance("inst_1").unwrap().pid().unwrap();
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };

        let messages = client.until_complete(&next).await;
        let doomed_complete = messages
            .iter()
            .find(|m| m["type"] == "task_complete" && m["taskId"] == doomed)
            .expect("the doomed task completes first");
        assert_eq!(doomed_complete["status"], "failed");
        assert_eq!(
            doomed_complete["results"][0]["errorCode"],
            "INSTANCE_DISCONNECTED"
        );
        let failed = messages
            .iter()
            .find(|m| m["taskId"] == doomed && m["status"] == "error")
            .unwrap();
        assert_eq!(failed["errorCode"], "INSTANCE_DISCONNECTED");
        let told: Vec<&str> = of_type(&messages, "instance_status")
            .iter()
            .map(|m| m["status"].as_str().unwrap())
            .collect();
        assert_eq!(told, ["lost", "relaunched"], "{messages:#?}");
        let complete = messages.last().unwrap();
        assert_eq!(complete["status"], "completed", "{complete}");
        assert_eq!(
            complete["results"][1]["result"]["content"][0]["text"],
            "true"
        );
        server.shutdown().await;
    });
}

#[test]
fn a_client_that_stops_reading_is_dropped_without_slowing_others() {
    block_on(async {
        let server = start_server(
            &env().shared,
            ServerConfig {
                limits: SocketLimits {
                    outbound_buffer: 4,
                    ..SocketLimits::default()
                },
                ..loopback_config()
            },
        )
        .await;
        let addr = server.local_addr();
        let mut stalled = Client::connect(addr).await;
        let mut reader = Client::connect(addr).await;
        // 64 results of 256 KiB (16 MiB): far more than the socket buffers of a client that
        // reads nothing (its receive window stays small) and 4 queued messages hold.
        let big = execute("return 'x'.repeat(256 * 1024)");
        let id = stalled.submit(task("big results", vec![big; 64])).await;
        // Queued behind it on the same instance: done means the big task ran to its end.
        let small = reader
            .submit(task("small", vec![execute("return 1")]))
            .await;
        let messages = reader.until_complete(&small).await;
        assert_eq!(messages.last().unwrap()["status"], "completed");
        let big_task = env().shared.tasks().get(&id).await.unwrap();
        assert_eq!(big_task.status.as_str(), "completed");

        // The stalled client's connection was cut before the end of its task.
        let mut completed = false;
        let ended = loop {
            match stalled.try_recv().await {
                Ok(m) => completed |= m["type"] == "task_complete",
                Err(reason) => break reason,
            }
        };
        assert!(!completed, "the stalled client got everything: {ended}");
        assert!(!ended.starts_with("nothing within"), "{ended}");
    });
}

#[test]
fn the_server_pings_and_drops_a_silent_client() {
    block_on(async {
        let server = start_server(
            &env().shared,
            ServerConfig {
                limits: SocketLimits {
                    ping_interval: Duration::from_millis(400),
                    ..SocketLimits::default()
                },
                ..loopback_config()
            },
        )
        .await;
        let mut client = Client::connect(server.local_addr()).await;
        // Reading frames answers pings (the library does it): the connection stays up.
        let mut pings = 0;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while pings < 3 {
            let frame = tokio::time::timeout_at(deadline, client.raw().next())
                .await
                .unwrap_or_else(|_| panic!("only {pings} pings within 20 s"))
                .expect("the connection stays open")
                .expect("a frame");
            pings += usize::from(frame.is_ping());
        }
        let list = client
            .request(json!({"type": "task_list"}), "task_list_response")
            .await;
        assert!(list["tasks"].is_array());

        // A client that reads nothing answers nothing, and is dropped.
        let mut silent = Client::connect(server.local_addr()).await;
        tokio::time::sleep(Duration::from_millis(2000)).await;
        let ended = loop {
            match silent.try_recv().await {
                Ok(_) => continue,
                Err(reason) => break reason,
            }
        };
        assert!(!ended.starts_with("nothing within"), "{ended}");
    });
}

#[test]
fn sigterm_cancels_tasks_closes_chromium_and_exits_0() {
    block_on(async {
        use tokio::io::AsyncBufReadExt;
        let _permit = env().private_browsers.acquire().await.unwrap();
        let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_browser-control"))
            .args(["serve", "--listen", "127.0.0.1:0", "--store", "memory"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the binary starts");
        let mut stdout = tokio::io::BufReader::new(server.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), stdout.next_line())
            .await
            .expect("ready within 60 s")
            .unwrap()
            .expect("a line");
        let addr: SocketAddr = line
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("{line}"))
            .parse()
            .unwrap();

        let health: Value = get_json(&format!("http://{addr}/health")).await;
        let pid = health["instances"][0]["pid"].as_u64().expect("a pid") as u32;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        let profile = String::from_utf8_lossy(&cmdline)
            .split('\0')
            .find_map(|a| {
                a.strip_prefix("--user-data-dir=")
                    .map(std::path::PathBuf::from)
            })
            .expect("a profile folder");
        assert!(profile.exists());

        let mut client = Client::connect(addr).await;
        let id = client.submit(task("interrupted", vec![busy(30_000)])).await;
        client
            .recv_until(|m| m["taskId"] == id && m["status"] == "running")
            .await;
        unsafe { libc::kill(server.id().unwrap() as i32, libc::SIGTERM) };

        let complete = client.until_complete(&id).await.pop().unwrap();
        assert_eq!(complete["status"], "cancelled", "{complete}");
        let ended = client.try_recv().await.unwrap_err();
        assert!(ended.starts_with("closed"), "{ended}");
        let status = tokio::time::timeout(Duration::from_secs(30), server.wait())
            .await
            .expect("exits within 30 s")
            .unwrap();
        assert!(status.success(), "{status}");
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "Chromium {pid} outlived the server"
        );
        assert_eq!(processes_using(&profile), Vec::<u32>::new());
        assert!(!profile.exists(), "{} left behind", profile.display());
    });
}

#[test]
fn a_browser_running_elsewhere_joins_the_pool_and_leaves_it() {
    block_on(async {
        let _permit = env().private_browsers.acquire().await.unwrap();
        let remote = OwnChromium::start();
        let addr = shared_server().await;
        let attached = http()
            .post(format!("http://{addr}/instances"))
            .json(&json!({"action": "attach", "endpoint": remote.http_url()}))
            .send()
            .await
            .unwrap();
        assert_eq!(attached.status(), 201);
        let attached: Value = attached.json().await.unwrap();
        assert_eq!(attached["remote"], true, "{attached}");
        assert_eq!(attached["endpoint"], remote.http_url());
        let id = attached["id"].as_str().unwrap().to_string();

        let mut client = Client::connect(addr).await;
        let mut pinned = task(
            "remote",
            vec![goto("index.html"), execute("return location.pathname")],
        );
        pinned["instanceId"] = id.clone().into();
        let task_id = client.submit(pinned).await;
        let complete = client.until_complete(&task_id).await.pop().unwrap();
        assert_eq!(
            complete["results"][1]["result"]["content"][0]["text"],
            "\"/index.html\""
        );

        let closed = http()
            .delete(format!("http://{addr}/instances/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(closed.status(), 200);
        // Closing an attached instance closes our tab, not the browser we were lent.
        let mut remote = remote;
        assert!(
            remote.child.try_wait().unwrap().is_none(),
            "the remote browser was closed"
        );
        let version = reqwest::get(format!("{}/json/version", remote.http_url()))
            .await
            .unwrap();
        assert_eq!(version.status(), 200);
    });
}
