//! REST for single tools: `GET /api/tools`, `POST /api/tools/{name}`, and `GET /info`, through
//! a real HTTP client against a server on port 0 in front of real Chromium.

mod common;

use std::net::SocketAddr;

use browser_control::server::ServerConfig;
use common::client::{loopback_config, start_server};
use common::*;
use serde_json::{json, Value};
use tokio::sync::OnceCell;

async fn shared() -> SocketAddr {
    static ADDR: OnceCell<SocketAddr> = OnceCell::const_new();
    *ADDR
        .get_or_init(|| async {
            start_server(&env().shared, loopback_config())
                .await
                .local_addr()
        })
        .await
}

async fn post(path: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("http://{}{path}", shared().await))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

async fn get(path: &str) -> (u16, Value) {
    let r = reqwest::get(format!("http://{}{path}", shared().await))
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

fn text(body: &Value) -> String {
    body["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text result in {body}"))
        .to_string()
}

#[test]
fn api_tools_lists_every_tool_with_its_schema() {
    block_on(async {
        let (status, body) = get("/api/tools").await;
        assert_eq!(status, 200);
        let tools = body["tools"].as_array().unwrap();
        let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
        for name in [
            "browser_navigate",
            "browser_interact",
            "browser_content",
            "browser_execute",
            "browser_instance",
            "browser_network",
            "browser_emulate",
            "browser_debug",
            "browser_tab",
        ] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
        let emulate = tools
            .iter()
            .find(|t| t["name"] == "browser_emulate")
            .unwrap();
        assert_eq!(emulate["inputSchema"]["type"], "object");
        let actions = emulate["inputSchema"]["properties"]["action"]["enum"]
            .as_array()
            .unwrap();
        assert!(actions.contains(&json!("device")), "{actions:?}");
        assert!(emulate["inputSchema"]["properties"]["deviceScaleFactor"].is_object());
        assert!(emulate["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "throttle" && a["example"]["preset"] == "slow-3g"));
    });
}

#[test]
fn a_tool_runs_through_the_scheduler_and_answers_its_result() {
    block_on(async {
        let (status, body) = post(
            "/api/tools/browser_navigate",
            json!({"action": "goto", "url": url("tools.html")}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert!(text(&body).contains("HTTP 200"), "{body}");
        assert!(body["taskId"].as_str().unwrap().starts_with("task_"));
        assert_eq!(body["instanceId"], "inst_1");
        // The task is recorded like any other.
        let (_, task) = get(&format!("/tasks/{}", body["taskId"].as_str().unwrap())).await;
        assert_eq!(task["task"]["status"], "completed", "{task}");

        let (status, body) = post(
            "/api/tools/browser_content?instanceId=inst_1",
            json!({"action": "attribute", "selector": "#title", "name": "data-kind"}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(text(&body), "\"fixture\"");

        let (status, body) = post(
            "/api/tools/browser_content",
            json!({"action": "screenshot", "format": "jpeg", "quality": 40}),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["result"]["content"][0]["mimeType"], "image/jpeg");
    });
}

#[test]
fn errors_carry_the_code_and_a_fitting_status() {
    block_on(async {
        // Bad arguments: refused before any browser work, naming the field.
        let (status, body) = post("/api/tools/browser_navigate", json!({"action": "goto"})).await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["code"], "INVALID_ARGUMENTS");
        assert_eq!(body["error"]["message"], "url: is required");

        let (status, body) = post(
            "/api/tools/browser_emulate",
            json!({"action": "device", "name": "Nokia 3310"}),
        )
        .await;
        assert_eq!(status, 400);
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("name: unknown device 'Nokia 3310'"));

        let (status, body) = post(
            "/api/tools/browser_interact",
            json!({"action": "upload", "selector": "#file", "files": ["/no/such/file"]}),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(
            body["error"]["message"],
            "files[0]: no such file: /no/such/file"
        );

        let (status, body) = post("/api/tools/browser_teleport", json!({"action": "go"})).await;
        assert_eq!(status, 404);
        assert_eq!(body["error"]["code"], "UNKNOWN_TOOL");

        let (status, body) = post(
            "/api/tools/browser_execute?instanceId=inst_42",
            json!({"action": "evaluate", "script": "1"}),
        )
        .await;
        assert_eq!(status, 404);
        assert_eq!(body["error"]["code"], "UNKNOWN_INSTANCE");

        // Failures of the command itself: its code, and a status that says what happened.
        let (status, body) = post(
            "/api/tools/browser_execute",
            json!({"action": "evaluate", "script": "throw new Error('kaput')"}),
        )
        .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["code"], "EXECUTION_ERROR");
        assert!(body["error"]["message"].as_str().unwrap().contains("kaput"));

        let (status, body) = post(
            "/api/tools/browser_navigate",
            json!({"action": "wait_for", "selector": "#never", "timeout": 300}),
        )
        .await;
        assert_eq!(status, 504, "{body}");
        assert_eq!(body["error"]["code"], "COMMAND_TIMEOUT");

        let (status, body) = post("/api/tools/browser_network", json!("get_cookies")).await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["message"], "args: must be an object");
    });
}

#[test]
fn info_describes_the_server_and_its_doors() {
    block_on(async {
        let (status, body) = get("/info").await;
        assert_eq!(status, 200);
        assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(body["endpoints"]["websocket"], "/");
        assert_eq!(body["endpoints"]["mcp"], "/mcp");
        assert_eq!(body["endpoints"]["sse"], "/sse");
        assert_eq!(body["endpoints"]["panel"], "/ws");
        assert_eq!(body["endpoints"]["tools"], "/api/tools");
        assert_eq!(body["tokenRequired"], false);
        assert_eq!(body["tools"].as_array().unwrap().len(), 11);

        // With a token, /info says so, and like every route it needs the token itself.
        let server = start_server(
            &env().shared,
            ServerConfig {
                token: Some("t0ken".into()),
                ..loopback_config()
            },
        )
        .await;
        let addr = server.local_addr();
        let r = reqwest::get(format!("http://{addr}/info")).await.unwrap();
        assert_eq!(r.status(), 401);
        let r = reqwest::Client::new()
            .get(format!("http://{addr}/info"))
            .bearer_auth("t0ken")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["tokenRequired"], true);
        // A foreign page cannot call the tools.
        let r = reqwest::Client::new()
            .post(format!(
                "http://{}/api/tools/browser_execute",
                shared().await
            ))
            .header("origin", "https://evil.example")
            .json(&json!({"action": "evaluate", "script": "1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
    });
}
