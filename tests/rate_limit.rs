//! Rate limits through real clients: REST requests over the limit get 429 with `Retry-After` in
//! the one error shape and pass again once it has passed; task WebSocket submits past the limit
//! are rejected with the reason; /health, /metrics and WebSocket connects are never counted;
//! the flags are refused with their reason by the real binary. (Per-user and per-IP keys are
//! unit tests in src/server/rate_limit.rs: this branch has one user and one address.)

mod common;

use std::num::NonZeroU32;
use std::process::Command;
use std::time::{Duration, Instant};

use browser_control::server::rate_limit::{RateLimit, RateLimitConfig};
use browser_control::server::ServerConfig;
use common::client::{loopback_config, start_server, Client};
use common::*;
use serde_json::{json, Value};

/// A server with this limit per user and per IP. Servers in front of the shared scheduler are
/// never shut down (that would stop the scheduler under the other tests): like
/// `shared_server`'s, they live until the process ends.
fn limited(rate: &str, burst: u32) -> ServerConfig {
    let rate: RateLimit = rate.parse().unwrap();
    ServerConfig {
        rate_limit: RateLimitConfig {
            per_user: Some(rate),
            per_ip: Some(rate),
            burst: NonZeroU32::new(burst),
        },
        ..loopback_config()
    }
}

/// The error shape of a 429, its `Retry-After` checked; returns the message.
async fn refused(response: reqwest::Response) -> (u64, String) {
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in whole seconds");
    assert!(retry_after >= 1);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "RATE_LIMITED", "{body}");
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    let message = body["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.starts_with("Rate limit exceeded: ")
            && message.ends_with(&format!("retry in {retry_after} s")),
        "{message}"
    );
    (retry_after, message)
}

/// `/health` answers itself: 200, or 503 while the shared instance is busy with another test's
/// task, never 429.
async fn assert_health_answers(http: &reqwest::Client, base: &str) {
    let health = http.get(format!("{base}/health")).send().await.unwrap();
    assert!(matches!(health.status().as_u16(), 200 | 503), "{health:?}");
    let body: Value = health.json().await.unwrap();
    assert!(body["status"].is_string(), "{body}");
}

#[test]
fn rest_requests_over_the_limit_get_429_with_retry_after_until_it_passes() {
    block_on(async {
        let server = start_server(&env().shared, limited("2/sec", 2)).await;
        let base = format!("http://{}", server.local_addr());
        let http = reqwest::Client::new();
        // The burst passes, the next one does not. A slow machine may have refilled one cell
        // meanwhile (one every 500 ms): then the request after it is refused instead.
        let start = Instant::now();
        for _ in 0..2 {
            let ok = http.get(format!("{base}/tasks")).send().await.unwrap();
            assert_eq!(ok.status(), 200);
        }
        let mut over = http.get(format!("{base}/tasks")).send().await.unwrap();
        if over.status() == 200 {
            assert!(start.elapsed() >= Duration::from_millis(500));
            over = http.get(format!("{base}/instances")).send().await.unwrap();
        }
        let (retry_after, message) = refused(over).await;
        assert_eq!(retry_after, 1, "a cell is back within 500 ms: {message}");
        assert!(
            message.contains("user local is over 2/sec per user (burst 2"),
            "{message}"
        );
        // After the wait it said (not a blind long sleep), the next request passes.
        tokio::time::sleep(Duration::from_secs(retry_after)).await;
        let again = http.get(format!("{base}/tasks")).send().await.unwrap();
        assert_eq!(again.status(), 200, "{:?}", again.text().await);
    });
}

#[test]
fn every_rest_route_counts_but_monitoring_never_does() {
    block_on(async {
        // One cell back a minute: nothing refills during the test, however slow the machine.
        let server = start_server(&env().shared, limited("1/min", 1)).await;
        let base = format!("http://{}", server.local_addr());
        let http = reqwest::Client::new();
        // Monitoring is never counted, however often it polls.
        for _ in 0..20 {
            assert_health_answers(&http, &base).await;
            let metrics = http.get(format!("{base}/metrics")).send().await.unwrap();
            assert_eq!(metrics.status(), 200);
        }
        let ok = http.get(format!("{base}/info")).send().await.unwrap();
        assert_eq!(ok.status(), 200);
        // Every REST route counts: a list, a submit, a tool call, MCP, an unknown route.
        let (retry_after, message) =
            refused(http.get(format!("{base}/tasks")).send().await.unwrap()).await;
        assert!((1..=60).contains(&retry_after), "{message}");
        assert!(
            message.contains("user local is over 1/min per user (burst 1"),
            "{message}"
        );
        let submit = http
            .post(format!("{base}/tasks"))
            .json(&task("limited", vec![execute("return 1")]))
            .send()
            .await
            .unwrap();
        refused(submit).await;
        let tool = http
            .post(format!("{base}/api/tools/browser_execute"))
            .json(&json!({"action": "evaluate", "script": "return 1"}))
            .send()
            .await
            .unwrap();
        refused(tool).await;
        let mcp = http
            .post(format!("{base}/mcp"))
            .header("accept", "application/json, text/event-stream")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
            .send()
            .await
            .unwrap();
        refused(mcp).await;
        let nowhere = http.get(format!("{base}/nowhere")).send().await.unwrap();
        refused(nowhere).await;
        // A page the server accepts can read the refusal (CORS headers on the 429).
        let page = http
            .get(format!("{base}/tasks"))
            .header("origin", "http://localhost:5173")
            .send()
            .await
            .unwrap();
        assert_eq!(
            page.headers()
                .get("access-control-allow-origin")
                .map(|v| v.to_str().unwrap()),
            Some("http://localhost:5173")
        );
        refused(page).await;
        // Monitoring still answers while the rest is refused, and counts the refusals.
        assert_health_answers(&http, &base).await;
        let metrics = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let refusals: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix("browser_control_rate_limited_total{limit=\"user\"} "))
            .unwrap_or_else(|| panic!("no rate_limited counter in:\n{metrics}"))
            .trim()
            .parse()
            .unwrap();
        assert_eq!(refusals, 6, "{metrics}");
    });
}

#[test]
fn websocket_submits_past_the_limit_are_rejected_with_the_reason() {
    block_on(async {
        // One cell back every 30 s: nothing refills during the test.
        let server = start_server(&env().shared, limited("2/min", 2)).await;
        let addr = server.local_addr();
        let mut client = Client::connect(addr).await;
        let mut accepted = Vec::new();
        for n in 0..2 {
            let id = client
                .submit(task(&format!("within {n}"), vec![execute("return 1")]))
                .await;
            accepted.push(id);
        }
        let mut message = task("past the limit", vec![execute("return 1")]);
        message["type"] = "task_submit".into();
        let reply = client.request(message, "task_submit_response").await;
        assert_eq!(reply["status"], "rejected", "{reply}");
        assert_eq!(reply["taskId"], "", "{reply}");
        let error = reply["error"].as_str().unwrap();
        assert!(
            error.starts_with("Rate limit exceeded: user local is over 2/min per user")
                && error.contains("retry in ")
                && error.ends_with(" s"),
            "{error}"
        );
        let wait: u64 = error
            .rsplit_once("retry in ")
            .and_then(|(_, rest)| rest.strip_suffix(" s"))
            .and_then(|n| n.parse().ok())
            .expect("the wait in seconds");
        assert!((1..=30).contains(&wait), "{error}");
        // The accepted ones run to their end; the connection stays usable, and other
        // messages are not counted.
        for id in &accepted {
            let end = client.until_complete(id).await;
            assert_eq!(end.last().unwrap()["status"], "completed", "{end:?}");
        }
        let list = client
            .request(json!({"type": "task_list"}), "task_list_response")
            .await;
        assert!(list["tasks"].is_array(), "{list}");
        // The same user's REST requests share the count, and a new WebSocket connects (a
        // connect is not counted) but its submit is rejected too.
        let rest = reqwest::get(format!("http://{addr}/tasks")).await.unwrap();
        refused(rest).await;
        let mut second = Client::connect(addr).await;
        assert_eq!(second.welcome["type"], "welcome");
        let mut message = task("also past", vec![execute("return 1")]);
        message["type"] = "task_submit".into();
        let reply = second.request(message, "task_submit_response").await;
        assert_eq!(reply["status"], "rejected", "{reply}");
    });
}

#[test]
fn without_a_limit_nothing_is_refused() {
    block_on(async {
        let server = start_server(&env().shared, loopback_config()).await;
        let base = format!("http://{}", server.local_addr());
        let http = reqwest::Client::new();
        for _ in 0..50 {
            let ok = http.get(format!("{base}/tasks")).send().await.unwrap();
            assert_eq!(ok.status(), 200);
        }
    });
}

fn serve(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_browser-control"));
    command
        .arg("serve")
        .args(args)
        .env_remove("BROWSER_CONTROL_RATE_LIMIT")
        .env_remove("BROWSER_CONTROL_IP_RATE_LIMIT")
        .env_remove("BROWSER_CONTROL_RATE_BURST");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("the binary runs")
}

#[test]
fn the_binary_refuses_bad_rates_before_starting_anything() {
    for (args, env, says) in [
        (&["--rate-limit", "0/min"][..], &[][..], "the count is 0"),
        (&["--rate-limit", "abc"][..], &[][..], "not a rate"),
        (
            &["--rate-limit", "100/week"][..],
            &[][..],
            "unknown unit `week`",
        ),
        (
            &["--rate-limit", "1e20/min"][..],
            &[][..],
            "the count `1e20` is not a whole number",
        ),
        (
            &[][..],
            &[("BROWSER_CONTROL_RATE_LIMIT", "10/fortnight")][..],
            "unknown unit `fortnight`",
        ),
        (
            &["--rate-burst", "4"][..],
            &[][..],
            "--rate-burst without a rate",
        ),
        // An empty variable is an unset one.
        (
            &["--rate-burst", "4"][..],
            &[("BROWSER_CONTROL_RATE_LIMIT", "")][..],
            "--rate-burst without a rate",
        ),
    ] {
        let out = serve(args, env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?} {env:?}: {stderr}");
        assert!(out.stdout.is_empty(), "nothing started: {args:?}");
    }
    let help = String::from_utf8_lossy(&serve(&["--help"], &[]).stdout).to_string();
    for flag in [
        "--rate-limit <RATE>",
        "--ip-rate-limit <RATE|off>",
        "--rate-burst <N>",
        "BROWSER_CONTROL_RATE_LIMIT",
        "per node",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}
