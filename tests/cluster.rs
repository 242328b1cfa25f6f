//! Two real `serve` processes sharing one PostgreSQL database: one queue, one history. A task
//! submitted on one runner is watched on the other; tasks spread over both runners' instances;
//! a runner killed with `kill -9` has its running task failed within the lease, its unbound
//! queued tasks run on the other, its bound ones fail; no task is run twice or lost.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::client::Client;
use common::pg::fresh_database;
use common::serve::ServeProcess;
use common::*;
use serde_json::{json, Value};

const LEASE: &str = "2s";

async fn health(addr: std::net::SocketAddr) -> Value {
    reqwest::get(format!("http://{addr}/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn busy(ms: u64) -> Value {
    execute(&format!(
        "await new Promise(r => setTimeout(r, {ms})); return 'slept'"
    ))
}

fn pinned(name: &str, instance: &str, commands: Vec<Value>) -> Value {
    let mut t = task(name, commands);
    t["instanceId"] = instance.into();
    t
}

async fn runner(url: &str) -> (ServeProcess, String) {
    let serve =
        ServeProcess::start(&["--store", url, "--lease", LEASE, "--max-queued", "1000"]).await;
    let h = health(serve.addr).await;
    let instance = h["instances"][0]["id"].as_str().unwrap().to_string();
    (serve, instance)
}

#[test]
fn two_runners_share_one_queue_and_survive_one_of_them_dying() {
    let Some(db) = fresh_database() else { return };
    block_on(async {
        let _permit = env().private_browsers.acquire().await.unwrap();
        let (mut a, inst_a) = runner(db.url()).await;
        let (mut b, inst_b) = runner(db.url()).await;
        assert_ne!(inst_a, inst_b, "instance ids are unique across the cluster");
        let ha = health(a.addr).await;
        let hb = health(b.addr).await;
        assert_ne!(ha["node"], hb["node"]);
        assert_eq!(hb["cluster"]["nodes"], 2, "{hb}");
        assert_eq!(hb["cluster"]["instances"], 2, "{hb}");

        // Submitted on A, watched on B: every event, in order, once.
        let mut on_a = Client::connect(a.addr).await;
        let mut on_b = Client::connect(b.addr).await;
        let watched = on_a
            .submit(pinned(
                "watched",
                &inst_a,
                vec![
                    busy(700),
                    execute("return 'second'"),
                    execute("return 'third'"),
                ],
            ))
            .await;
        let ack = on_b
            .request(
                json!({"type": "subscribe_task", "taskId": watched}),
                "subscribe_ack",
            )
            .await;
        assert_eq!(ack["taskId"], watched.as_str());
        let seen = on_b.until_complete(&watched).await;
        let progress: Vec<(u64, String)> = seen
            .iter()
            .filter(|m| m["type"] == "task_progress" && m["taskId"] == watched.as_str())
            .map(|m| {
                (
                    m["commandIndex"].as_u64().unwrap(),
                    m["status"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        // The first command may have started before B subscribed.
        let tail: Vec<(u64, String)> = progress
            .iter()
            .skip_while(|(i, _)| *i == 0)
            .cloned()
            .collect();
        assert_eq!(
            tail,
            [
                (1, "running".to_string()),
                (1, "success".into()),
                (2, "running".into()),
                (2, "success".into())
            ],
            "{progress:?}"
        );
        let complete = seen.last().unwrap();
        assert_eq!(complete["status"], "completed", "{complete}");
        assert_eq!(
            complete["results"][2]["result"]["content"][0]["text"],
            "\"third\""
        );
        let on_b_status = on_b
            .request(
                json!({"type": "task_status", "taskId": watched}),
                "task_status_response",
            )
            .await;
        assert_eq!(on_b_status["task"]["instanceId"], inst_a.as_str());

        // Unbound tasks spread over both runners' instances.
        let mut spread = Vec::new();
        for n in 0..12 {
            let client = if n % 2 == 0 { &mut on_a } else { &mut on_b };
            spread.push(
                client
                    .submit(task(&format!("spread {n}"), vec![busy(150)]))
                    .await,
            );
        }
        let mut ran_on = HashMap::new();
        for id in &spread {
            on_a.send(json!({"type": "subscribe_task", "taskId": id}))
                .await;
            let complete = on_a.until_complete(id).await.pop().unwrap();
            assert_eq!(complete["status"], "completed", "{complete}");
            let t = on_a
                .request(
                    json!({"type": "task_status", "taskId": id}),
                    "task_status_response",
                )
                .await;
            *ran_on
                .entry(t["task"]["instanceId"].as_str().unwrap().to_string())
                .or_insert(0) += 1;
        }
        assert_eq!(ran_on.len(), 2, "both instances ran tasks: {ran_on:?}");

        // Both instances busy; then unbound tasks queue on both, one task pinned to A waits.
        let running_a = on_a
            .submit(pinned("running on A", &inst_a, vec![busy(60_000)]))
            .await;
        let running_b = on_b
            .submit(pinned("running on B", &inst_b, vec![busy(2_500)]))
            .await;
        let pinned_a = on_a
            .submit(pinned("pinned to A", &inst_a, vec![execute("return 1")]))
            .await;
        let mut unbound = Vec::new();
        for n in 0..200 {
            unbound.push(
                on_b.submit(task(
                    &format!("unbound {n}"),
                    vec![execute(&format!("return {n}"))],
                ))
                .await,
            );
        }
        on_b.recv_until(|m| m["taskId"] == running_b.as_str() && m["status"] == "running")
            .await;
        on_a.recv_until(|m| m["taskId"] == running_a.as_str() && m["status"] == "running")
            .await;
        let queued_on_a = on_b
            .request(
                json!({"type": "task_list", "instanceId": inst_a, "status": "queued"}),
                "task_list_response",
            )
            .await;
        assert!(
            queued_on_a["tasks"].as_array().unwrap().len() > 1,
            "tasks wait on A: {queued_on_a}"
        );

        a.kill9().await;
        let killed_at = Instant::now();
        for id in [&running_a, &pinned_a] {
            on_b.send(json!({"type": "subscribe_task", "taskId": id}))
                .await;
        }
        // Both ends, in whichever order the lost runner's tasks are resolved.
        let ends = on_b
            .recv_until(|m| m["type"] == "task_complete" && m["taskId"] == running_a.as_str())
            .await;
        let within = killed_at.elapsed();
        let lost = ends.last().unwrap().clone();
        let mut bound = ends
            .iter()
            .find(|m| m["type"] == "task_complete" && m["taskId"] == pinned_a.as_str())
            .cloned();
        assert!(
            within < Duration::from_secs(2 + 2 + 1),
            "the lost runner's task ended after {within:?}"
        );
        assert_eq!(lost["status"], "failed", "{lost}");
        assert_eq!(
            lost["results"][0]["errorCode"], "INSTANCE_DISCONNECTED",
            "{lost}"
        );
        let why = lost["error"]["message"].as_str().unwrap();
        assert!(why.contains("was lost"), "{why}");
        if bound.is_none() {
            bound = on_b.until_complete(&pinned_a).await.pop();
        }
        let bound = bound.unwrap();
        assert_eq!(bound["status"], "failed", "{bound}");

        // Every unbound task ran exactly once, on B when A was gone; none is lost.
        let mut running_seen: HashMap<String, usize> = HashMap::new();
        let mut completes: HashMap<String, usize> = HashMap::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut watcher = Client::connect(b.addr).await;
        for id in &unbound {
            watcher
                .send(json!({"type": "subscribe_task", "taskId": id}))
                .await;
        }
        while completes.len() < unbound.len() {
            assert!(
                Instant::now() < deadline,
                "{} of {} ended",
                completes.len(),
                unbound.len()
            );
            let m = watcher.recv().await;
            let Some(id) = m["taskId"].as_str() else {
                continue;
            };
            match (m["type"].as_str(), m["status"].as_str()) {
                (Some("task_progress"), Some("running")) => {
                    *running_seen.entry(id.into()).or_default() += 1
                }
                (Some("task_complete"), Some(status)) => {
                    assert_eq!(status, "completed", "{m}");
                    *completes.entry(id.into()).or_default() += 1;
                }
                _ => {}
            }
        }
        assert!(
            completes.values().all(|n| *n == 1),
            "one task_complete each"
        );
        assert!(
            running_seen.values().all(|n| *n == 1),
            "no command ran twice: {running_seen:?}"
        );
        // On B's own submitter, every task's task_complete came exactly once too.
        let mut count = 0;
        for id in &unbound {
            let t = on_b
                .request(
                    json!({"type": "task_status", "taskId": id}),
                    "task_status_response",
                )
                .await;
            assert_eq!(t["task"]["status"], "completed", "{t}");
            count += 1;
        }
        assert_eq!(count, 200);
        let after = health(b.addr).await;
        assert_eq!(after["cluster"]["nodes"], 1, "{after}");
        assert!(b.terminate().await.success());
    });
}
