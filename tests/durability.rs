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
