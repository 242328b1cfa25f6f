//! The MCP door through real MCP clients: rmcp's client over stdio (the built binary) and over
//! streamable HTTP (a server on port 0), and a hand-written legacy SSE client. Every tool and
//! action runs against the fixture pages.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use browser_control::mcp::McpOptions;
use browser_control::scheduler::Scheduler;
use browser_control::server::ServerConfig;
use common::client::{loopback_config, start_server, PATIENCE};
use common::{block_on, env, png_size, url};
use futures::StreamExt;
use rmcp::model::{CallToolRequestParams, CallToolResult, ProgressNotificationParam};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{json, Value};

/// An MCP client that keeps the progress notifications it receives.
#[derive(Clone, Default)]
struct Client {
    progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
}

impl ClientHandler for Client {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.progress.lock().unwrap().push(params);
    }
}

type Session = RunningService<RoleClient, Client>;

async fn call(session: &Session, tool: &str, args: Value) -> CallToolResult {
    let Value::Object(args) = args else {
        panic!("arguments are an object")
    };
    tokio::time::timeout(
        PATIENCE,
        session.call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(args)),
    )
    .await
    .unwrap_or_else(|_| panic!("{tool} answered within {PATIENCE:?}"))
    .unwrap_or_else(|e| panic!("{tool}: protocol error {e}"))
}

fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Calls `tool` and returns its text, panicking unless it succeeded.
async fn ok(session: &Session, tool: &str, args: Value) -> String {
    let result = call(session, tool, args.clone()).await;
    assert_eq!(
        result.is_error,
        Some(false),
        "{tool} {args}: {}",
        text(&result)
    );
    text(&result)
}

/// Calls `tool` and returns its error text, panicking unless it failed as a tool result.
async fn fails(session: &Session, tool: &str, args: Value) -> String {
    let result = call(session, tool, args.clone()).await;
    assert_eq!(
        result.is_error,
        Some(true),
        "{tool} {args}: {}",
        text(&result)
    );
    text(&result)
}

/// The ref the snapshot gives the line that contains `needle`.
fn ref_of(snapshot: &str, needle: &str) -> String {
    let line = snapshot
        .lines()
        .find(|l| l.contains(needle) && l.contains("[ref="))
        .unwrap_or_else(|| panic!("no line with {needle} and a ref in:\n{snapshot}"));
    let start = line.find("[ref=").unwrap() + 5;
    let end = start + line[start..].find(']').unwrap();
    line[start..end].to_string()
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every task's whole record, oldest first.
async fn all_tasks(scheduler: &Scheduler) -> Vec<browser_control::task::Task> {
    let mut all = Vec::new();
    for summary in scheduler.tasks().list(&Default::default()).await.unwrap() {
        all.extend(scheduler.tasks().get(&summary.id).await);
    }
    all
}

fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // A zombie has exited; only its parent's wait is missing.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

/// The session's own instance, as browser_instance list shows it (the only private one).
async fn own_instance(session: &Session) -> Value {
    let list: Value =
        serde_json::from_str(&ok(session, "browser_instance", json!({"action": "list"})).await)
            .expect("list is JSON");
    let own: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["private"] == true)
        .collect();
    assert_eq!(own.len(), 1, "one private instance in {list}");
    own[0].clone()
}

const ALL_TOOLS: [&str; 13] = [
    "browser_navigate",
    "browser_interact",
    "browser_content",
    "browser_execute",
    "browser_instance",
    "browser_network",
    "browser_emulate",
    "browser_debug",
    "browser_tab",
    "sleep",
    "external_task",
    "browser_snapshot",
    "browser_task",
];

async fn check_tools(session: &Session) {
    let tools = tokio::time::timeout(PATIENCE, session.list_all_tools())
        .await
        .expect("tools/list answered")
        .expect("tools/list");
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ALL_TOOLS);
    let schema = |name: &str| -> Value {
        let tool = tools.iter().find(|t| t.name == name).unwrap();
        Value::Object((*tool.input_schema).clone())
    };
    let navigate = schema("browser_navigate");
    assert_eq!(navigate["type"], "object");
    assert_eq!(navigate["required"], json!(["action"]));
    assert_eq!(
        navigate["properties"]["action"]["enum"],
        json!(["goto", "reload", "back", "forward", "wait_for", "sleep"])
    );
    assert!(navigate["properties"]["action"]["description"]
        .as_str()
        .unwrap()
        .contains("goto: Navigate to a URL and wait for it to load (requires url)"));
    let interact = schema("browser_interact");
    assert_eq!(interact["properties"]["ref"]["pattern"], "^e[0-9]+$");
    assert!(interact["properties"]["action"]["description"]
        .as_str()
        .unwrap()
        .contains("type: Focus the field and type text into it (replacing its content) (requires selector or ref, text)"));
    assert_eq!(
        interact["properties"]["direction"]["enum"],
        json!(["up", "down", "left", "right"])
    );
    let content = schema("browser_content");
    assert!(content["properties"]["action"]["enum"]
        .as_array()
        .unwrap()
        .contains(&json!("snapshot")));
    let snapshot = schema("browser_snapshot");
    assert_eq!(snapshot["properties"]["max_length"]["type"], "integer");
    assert!(snapshot["properties"].get("action").is_none());
    let task = schema("browser_task");
    assert_eq!(task["required"], json!(["commands"]));
    assert_eq!(
        task["properties"]["commands"]["items"]["properties"]["tool_name"]["enum"],
        json!(ALL_TOOLS[..11])
    );
    assert!(schema("browser_instance")["properties"]["action"]["enum"]
        .as_array()
        .unwrap()
        .contains(&json!("attach")));
}

/// Every action of the page tools on the fixture pages, snapshot refs, and bad arguments.
async fn exercise_page_tools(session: &Session) {
    // browser_navigate
    let nav = ok(
        session,
        "browser_navigate",
        json!({"action": "goto", "url": url("playground.html")}),
    )
    .await;
    assert!(nav.contains("(HTTP 200 OK)"), "{nav}");
    // browser_interact, each action, checked through the page
    ok(
        session,
        "browser_interact",
        json!({"action": "select", "selector": "#color", "value": "Green"}),
    )
    .await;
    assert_eq!(
        ok(
            session,
            "browser_content",
            json!({"action": "get_text", "selector": "#color-value"})
        )
        .await,
        "g"
    );
    ok(
        session,
        "browser_interact",
        json!({"action": "type", "selector": "#text-input", "text": "héllo"}),
    )
    .await;
    assert_eq!(
        ok(
            session,
            "browser_content",
            json!({"action": "get_text", "selector": "#typed"})
        )
        .await,
        "héllo"
    );
    ok(
        session,
        "browser_interact",
        json!({"action": "keyboard", "key": "Shift+Tab"}),
    )
    .await;
    assert!(ok(
        session,
        "browser_content",
        json!({"action": "get_text", "selector": "#key-log"})
    )
    .await
    .contains("Shift+Tab"));
    ok(
        session,
        "browser_interact",
        json!({"action": "hover", "selector": "#hover-target"}),
    )
    .await;
    assert_eq!(
        ok(
            session,
            "browser_content",
            json!({"action": "get_text", "selector": "#hover-status"})
        )
        .await,
        "hovered"
    );
    let clicked = ok(
        session,
        "browser_interact",
        json!({"action": "click", "selector": "#counter-btn"}),
    )
    .await;
    assert!(clicked.contains("button#counter-btn"), "{clicked}");
    // The snapshot, and a click by its ref.
    let snapshot = ok(session, "browser_snapshot", json!({})).await;
    assert!(
        snapshot.contains("- heading \"Playground\" [level=1]"),
        "{snapshot}"
    );
    assert!(
        snapshot.contains("- option \"Green\" [selected]"),
        "{snapshot}"
    );
    assert!(snapshot.contains("textbox [ref="), "{snapshot}");
    let button = ref_of(&snapshot, "button \"Clicked 1\"");
    let by_ref = ok(
        session,
        "browser_interact",
        json!({"action": "click", "ref": button}),
    )
    .await;
    assert!(by_ref.contains("button#counter-btn"), "{by_ref}");
    assert_eq!(
        ok(
            session,
            "browser_content",
            json!({"action": "get_text", "ref": button})
        )
        .await,
        "Clicked 2"
    );
    // Refs stay with their element across snapshots; a limit cuts at a line and says so.
    let again = ok(session, "browser_snapshot", json!({"max_length": 120})).await;
    assert!(again.contains("more lines not shown"), "{again}");
    assert!(again.lines().count() < snapshot.lines().count(), "{again}");
    assert_eq!(
        ref_of(
            &ok(session, "browser_snapshot", json!({})).await,
            "button \"Clicked 2\""
        ),
        button
    );
    let scrolled = ok(
        session,
        "browser_interact",
        json!({"action": "scroll", "direction": "down", "amount": 300}),
    )
    .await;
    assert!(scrolled.contains("300"), "{scrolled}");
    // browser_content
    let shot = call(session, "browser_content", json!({"action": "screenshot"})).await;
    assert_eq!(shot.is_error, Some(false));
    let image = shot.content[0].as_image().expect("an image");
    assert_eq!(image.mime_type, "image/png");
    let (w, h) = png_size(&image.data);
    assert!(w > 100 && h > 100, "{w}x{h}");
    let element = call(
        session,
        "browser_content",
        json!({"action": "screenshot", "ref": button}),
    )
    .await;
    assert!(
        element.content[0].as_image().is_some(),
        "{}",
        text(&element)
    );
    assert_eq!(
        ok(
            session,
            "browser_content",
            json!({"action": "get_html", "selector": "h1"})
        )
        .await,
        "<h1>Playground</h1>"
    );
    let dom: Value = serde_json::from_str(
        &ok(
            session,
            "browser_content",
            json!({"action": "get_viewport_dom"}),
        )
        .await,
    )
    .unwrap();
    assert_eq!(dom["title"], "Playground");
    let via_content = ok(
        session,
        "browser_content",
        json!({"action": "snapshot", "selector": "#color"}),
    )
    .await;
    assert!(via_content.contains("combobox"), "{via_content}");
    // browser_navigate's other actions
    ok(
        session,
        "browser_navigate",
        json!({"action": "goto", "url": url("login.html")}),
    )
    .await;
    ok(session, "browser_navigate", json!({"action": "back"})).await;
    assert_eq!(
        ok(
            session,
            "browser_execute",
            json!({"action": "evaluate", "script": "return document.title"})
        )
        .await,
        "\"Playground\""
    );
    ok(session, "browser_navigate", json!({"action": "forward"})).await;
    ok(session, "browser_navigate", json!({"action": "reload"})).await;
    let waited = ok(
        session,
        "browser_navigate",
        json!({"action": "wait_for", "selector": "#email", "timeout": 5000}),
    )
    .await;
    assert!(waited.contains("is visible"), "{waited}");
    assert_eq!(
        ok(
            session,
            "browser_execute",
            json!({"action": "evaluate", "script": "location.pathname"})
        )
        .await,
        "\"/login.html\""
    );
    // The parity tools are on this door too.
    let tabs = ok(session, "browser_tab", json!({"action": "list"})).await;
    assert!(
        tabs.contains("login.html") && tabs.contains("\"active\":true"),
        "{tabs}"
    );
    let emulated = ok(
        session,
        "browser_emulate",
        json!({"action": "viewport", "width": 555, "height": 444}),
    )
    .await;
    assert!(!emulated.is_empty());
    assert_eq!(
        ok(
            session,
            "browser_execute",
            json!({"action": "evaluate", "script": "innerWidth"})
        )
        .await,
        "555"
    );
    ok(session, "browser_emulate", json!({"action": "reset"})).await;
    // A ref from the previous document is gone.
    let stale = fails(
        session,
        "browser_interact",
        json!({"action": "click", "ref": button}),
    )
    .await;
    assert_eq!(
        stale,
        format!("EXECUTION_ERROR: ref {button} not found: take a new snapshot")
    );
    // Bad arguments are tool errors naming the field; the session goes on.
    assert_eq!(
        fails(session, "browser_navigate", json!({"action": "goto"})).await,
        "INVALID_ARGUMENTS: url: is required"
    );
    assert_eq!(
        fails(session, "browser_interact", json!({"action": "click"})).await,
        "INVALID_ARGUMENTS: selector: is required (or ref, from browser_snapshot; or give x and y for a point)"
    );
    assert_eq!(
        fails(
            session,
            "browser_interact",
            json!({"action": "click", "selector": "#a", "ref": "e1"})
        )
        .await,
        "INVALID_ARGUMENTS: ref: give either selector or ref, not both"
    );
    let unknown = fails(session, "browser_navigate", json!({"action": "fly"})).await;
    assert!(
        unknown.starts_with("INVALID_ARGUMENTS: action: unknown action 'fly'"),
        "{unknown}"
    );
    assert_eq!(
        fails(session, "browser_snapshot", json!({"max_length": 0})).await,
        "INVALID_ARGUMENTS: max_length: must be a whole number from 1 to 10000000, not 0"
    );
    let missing = fails(
        session,
        "browser_content",
        json!({"action": "get_text", "selector": "#nope"}),
    )
    .await;
    assert!(
        missing.starts_with("EXECUTION_ERROR: Element not found: #nope"),
        "{missing}"
    );
    let thrown = fails(
        session,
        "browser_execute",
        json!({"action": "evaluate", "script": "throw new Error('boom')"}),
    )
    .await;
    assert!(thrown.contains("boom"), "{thrown}");
    // An unknown tool is a protocol error, and the session goes on.
    let unknown = session
        .call_tool(CallToolRequestParams::new("no_such_tool"))
        .await
        .expect_err("an unknown tool is refused");
    assert!(
        unknown.to_string().contains("unknown tool: no_such_tool"),
        "{unknown}"
    );
    assert_eq!(
        ok(
            session,
            "browser_execute",
            json!({"action": "evaluate", "script": "'still here'"})
        )
        .await,
        "\"still here\""
    );
}

/// browser_task: a batch with one progress notification per command, each outcome listed.
async fn exercise_task(session: &Session, client: &Client) -> Value {
    client.progress.lock().unwrap().clear();
    let result = call(
        session,
        "browser_task",
        json!({
            "task_name": "mcp batch",
            "commands": [
                {"tool_name": "browser_navigate", "args": {"action": "goto", "url": url("login.html")}},
                {"tool_name": "browser_interact", "args": {"action": "type", "selector": "#email", "text": "ada@example.com"}},
                {"tool_name": "browser_content", "args": {"action": "screenshot"}},
                {"tool_name": "browser_content", "args": {"action": "get_text", "selector": "#missing", "timeout": 500}},
                {"tool_name": "browser_execute", "args": {"action": "evaluate", "script": "1"}}
            ]
        }),
    )
    .await;
    assert_eq!(
        result.is_error,
        Some(true),
        "a failed task is an error result"
    );
    let outcome: Value = serde_json::from_str(&text(&result)).expect("the result is JSON");
    assert_eq!(outcome["status"], "failed");
    let statuses: Vec<&str> = outcome["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["success", "success", "success", "error", "skipped"]
    );
    assert_eq!(outcome["results"][3]["errorCode"], "EXECUTION_ERROR");
    assert_eq!(
        outcome["results"][2]["result"]["content"][0]["data"],
        "[image 1]"
    );
    let image = result.content[1]
        .as_image()
        .expect("the screenshot as image content");
    assert_eq!(image.mime_type, "image/png");
    // Progress: one per command. The server sends them in order, before the result; the client
    // runs its handlers concurrently, so they are put back in the order of their progress.
    wait_until("five progress notifications", || {
        client.progress.lock().unwrap().len() >= 5
    })
    .await;
    let progress = client.progress.lock().unwrap().clone();
    let mut seen: Vec<(f64, Option<f64>, String)> = progress
        .iter()
        .map(|p| (p.progress, p.total, p.message.clone().unwrap_or_default()))
        .collect();
    seen.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(seen.len(), 5, "{seen:?}");
    for (i, (done, total, _)) in seen.iter().enumerate() {
        assert_eq!((*done, *total), ((i + 1) as f64, Some(5.0)), "{seen:?}");
    }
    assert_eq!(seen[0].2, "browser_navigate goto: ok");
    assert!(
        seen[3]
            .2
            .starts_with("browser_content get_text: EXECUTION_ERROR: "),
        "{seen:?}"
    );
    assert_eq!(seen[4].2, "browser_execute evaluate: skipped");
    // A batch that completes is a success result.
    let done = call(
        session,
        "browser_task",
        json!({"commands": [{"tool_name": "browser_execute", "args": {"action": "evaluate", "script": "6 * 7"}}]}),
    )
    .await;
    assert_eq!(done.is_error, Some(false), "{}", text(&done));
    let outcome: Value = serde_json::from_str(&text(&done)).unwrap();
    assert_eq!(outcome["results"][0]["result"]["content"][0]["text"], "42");
    // Invalid batches name the field.
    assert_eq!(
        fails(
            session,
            "browser_task",
            json!({"commands": [{"tool_name": "browser_navigate", "args": {"action": "goto"}}]})
        )
        .await,
        "INVALID_ARGUMENTS: commands[0].args.url: is required"
    );
    outcome
}

#[test]
fn stdio_session_runs_every_tool_and_leaves_no_chromium() {
    block_on(async {
        let _permit = env().private_browsers.acquire().await.unwrap();
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_browser-control"));
        command.args(["mcp", "--timeout", "20000"]);
        let (transport, _) = rmcp::transport::TokioChildProcess::builder(command)
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the binary starts");
        let server_pid = transport.id().expect("a pid");
        let client = Client::default();
        let session = tokio::time::timeout(PATIENCE, client.clone().serve(transport))
            .await
            .expect("initialized in time")
            .expect("initialize");
        let info = session.peer_info().expect("server info");
        assert_eq!(info.server_info.as_ref().unwrap().name, "browser-control");
        assert!(info.capabilities.tools.is_some());
        check_tools(&session).await;
        exercise_page_tools(&session).await;

        // browser_instance: the session's own browser, and create / close.
        let own = own_instance(&session).await;
        let pid = own["pid"].as_u64().expect("a launched browser has a pid") as u32;
        let created: Value = serde_json::from_str(
            &ok(
                &session,
                "browser_instance",
                json!({"action": "create", "viewport": {"width": 800, "height": 600}}),
            )
            .await,
        )
        .unwrap();
        let id = created["id"].as_str().unwrap().to_string();
        let created_pid = created["pid"].as_u64().unwrap() as u32;
        assert_ne!(Some(id.as_str()), own["id"].as_str());
        assert_eq!(
            ok(
                &session,
                "browser_execute",
                json!({"action": "evaluate", "script": "innerWidth", "instanceId": id})
            )
            .await,
            "800"
        );
        assert_eq!(
            ok(
                &session,
                "browser_instance",
                json!({"action": "close", "instance_id": id})
            )
            .await,
            format!("Closed {id}")
        );
        let closed = fails(
            &session,
            "browser_execute",
            json!({"action": "evaluate", "script": "1", "instanceId": id}),
        )
        .await;
        assert_eq!(closed, format!("UNKNOWN_INSTANCE: Unknown instance: {id}"));
        wait_until("the closed instance's Chromium to exit", || {
            process_gone(created_pid)
        })
        .await;

        // The host disconnects: the server exits and its Chromium with it.
        session.cancel().await.expect("the session ends");
        wait_until("the MCP server to exit", || process_gone(server_pid)).await;
        wait_until("the session's Chromium to exit", || process_gone(pid)).await;
    });
}

/// Starts a server on port 0 in front of `scheduler`.
async fn server(scheduler: &Scheduler, mcp: McpOptions) -> browser_control::server::Server {
    start_server(
        scheduler,
        ServerConfig {
            mcp,
            ..loopback_config()
        },
    )
    .await
}

async fn http_session(addr: SocketAddr, client: &Client) -> Session {
    let transport =
        rmcp::transport::StreamableHttpClientTransport::from_uri(format!("http://{addr}/mcp"));
    tokio::time::timeout(PATIENCE, client.clone().serve(transport))
        .await
        .expect("initialized in time")
        .expect("initialize")
}

#[test]
fn streamable_http_session_has_its_own_instance_runs_tasks_and_closes_it_at_the_end() {
    block_on(async {
        let _permit = env().private_browsers.acquire().await.unwrap();
        let scheduler = env().shared.clone();
        let server = server(&scheduler, McpOptions::default()).await;
        let addr = server.local_addr();
        let client = Client::default();
        let session = http_session(addr, &client).await;
        check_tools(&session).await;

        // The first browser call starts the session's own instance, kept out of the pool.
        let title = ok(
            &session,
            "browser_execute",
            json!({"action": "evaluate", "script": "1 + 1"}),
        )
        .await;
        assert_eq!(title, "2");
        let own = own_instance(&session).await;
        let id = own["id"].as_str().unwrap().to_string();
        let pid = own["pid"].as_u64().unwrap() as u32;
        assert!(scheduler
            .instances()
            .await
            .iter()
            .any(|i| i.id == id && i.private));

        // Snapshot, click by ref, a batch with progress.
        ok(
            &session,
            "browser_navigate",
            json!({"action": "goto", "url": url("login.html")}),
        )
        .await;
        let snapshot = ok(&session, "browser_snapshot", json!({})).await;
        assert!(
            snapshot.starts_with(&format!(
                "Page URL: {}\nPage title: Login\n",
                url("login.html")
            )),
            "{snapshot}"
        );
        let email = ref_of(&snapshot, "textbox \"Email\"");
        ok(
            &session,
            "browser_interact",
            json!({"action": "type", "ref": email, "text": "ada@example.com"}),
        )
        .await;
        let submit = ref_of(&snapshot, "button \"Sign in\"");
        ok(
            &session,
            "browser_interact",
            json!({"action": "click", "ref": submit}),
        )
        .await;
        ok(
            &session,
            "browser_navigate",
            json!({"action": "wait_for", "selector": "#welcome", "timeout": 10000}),
        )
        .await;
        assert!(ok(
            &session,
            "browser_content",
            json!({"action": "get_text", "selector": "#welcome"})
        )
        .await
        .contains("ada@example.com"));
        exercise_task(&session, &client).await;

        // MCP calls are tasks like any other: listed over HTTP, with their session.
        let tasks: Value = reqwest::get(format!("http://{addr}/tasks?instanceId={id}&status=all"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let names: Vec<&str> = tasks["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert!(
            names.contains(&"mcp: browser_execute evaluate"),
            "{names:?}"
        );
        assert!(names.contains(&"mcp batch"), "{names:?}");
        let listed = all_tasks(&scheduler)
            .await
            .into_iter()
            .find(|t| {
                t.name == "mcp: browser_snapshot" || t.name == "mcp: browser_content snapshot"
            })
            .expect("the snapshot task is in the store");
        assert_eq!(listed.metadata.as_ref().unwrap()["source"], "mcp");

        // A cancelled request cancels its task, and the instance goes on.
        ok(
            &session,
            "browser_navigate",
            json!({"action": "goto", "url": url("login.html")}),
        )
        .await;
        let mut args = serde_json::Map::new();
        args.insert("action".into(), "wait_for".into());
        args.insert("selector".into(), "#never-there".into());
        args.insert("timeout".into(), 60_000.into());
        let request = rmcp::model::ClientRequest::CallToolRequest(rmcp::model::Request::new(
            CallToolRequestParams::new("browser_navigate").with_arguments(args),
        ));
        let handle = session
            .send_cancellable_request(request, rmcp::service::PeerRequestOptions::no_options())
            .await
            .expect("request sent");
        let status_of_wait = || async {
            all_tasks(&scheduler)
                .await
                .into_iter()
                .find(|t| {
                    t.name == "mcp: browser_navigate wait_for"
                        && t.commands[0].args["selector"] == "#never-there"
                })
                .map(|t| t.status.as_str())
        };
        let deadline = Instant::now() + PATIENCE;
        while status_of_wait().await != Some("running") {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for the wait_for task to run"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        handle.cancel(Some("test".into())).await.expect("cancelled");
        while status_of_wait().await != Some("cancelled") {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for the task to be cancelled"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            ok(
                &session,
                "browser_execute",
                json!({"action": "evaluate", "script": "document.title"})
            )
            .await,
            "\"Login\""
        );

        // A page of a foreign origin cannot reach /mcp (the server's guard stands in front).
        let refused = reqwest::Client::new()
            .post(format!("http://{addr}/mcp"))
            .header("Origin", "https://evil.example")
            .header("Content-Type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403);

        // The session ends (DELETE): its instance is closed, its Chromium gone.
        session.cancel().await.expect("the session ends");
        wait_until("the session's instance to close", || {
            scheduler.instance(&id).is_none()
        })
        .await;
        wait_until("the session's Chromium to exit", || process_gone(pid)).await;
        // The server shares the test binary's scheduler: it is left running (shutdown would
        // close the shared browser).
        drop(server);
    });
}

#[test]
fn shared_instance_sessions_use_the_pool() {
    block_on(async {
        let scheduler = env().shared.clone();
        let before = scheduler.instances().await;
        let server = server(
            &scheduler,
            McpOptions {
                shared_instance: true,
            },
        )
        .await;
        let client = Client::default();
        let session = http_session(server.local_addr(), &client).await;
        ok(
            &session,
            "browser_navigate",
            json!({"action": "goto", "url": url("index.html")}),
        )
        .await;
        let ran = all_tasks(&scheduler)
            .await
            .into_iter()
            .filter(|t| t.name == "mcp: browser_navigate goto")
            .map(|t| t.instance_id)
            .collect::<Vec<_>>();
        assert!(ran.contains(&before[0].id), "{ran:?}");
        // (Other tests of this file start private instances on the same scheduler meanwhile.)
        let shared = |all: Vec<browser_control::scheduler::InstanceInfo>| {
            all.into_iter()
                .filter(|i| !i.private)
                .map(|i| i.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            shared(scheduler.instances().await),
            shared(before.clone()),
            "no instance was started"
        );
        let unknown = fails(
            &session,
            "browser_execute",
            json!({"action": "evaluate", "script": "1", "instanceId": "inst_999"}),
        )
        .await;
        assert_eq!(unknown, "UNKNOWN_INSTANCE: Unknown instance: inst_999");
        session.cancel().await.unwrap();
        assert_eq!(shared(scheduler.instances().await), shared(before));
        // The server shares the test binary's scheduler: it is left running (shutdown would
        // close the shared browser).
        drop(server);
    });
}

/// A minimal legacy SSE client: the event stream, and POSTs to the endpoint it names.
struct SseClient {
    base: String,
    endpoint: String,
    events: std::pin::Pin<Box<dyn futures::Stream<Item = (String, String)> + Send>>,
    http: reqwest::Client,
}

impl SseClient {
    async fn connect(addr: SocketAddr) -> SseClient {
        let http = reqwest::Client::new();
        let response = http
            .get(format!("http://{addr}/sse"))
            .header("Accept", "text/event-stream")
            .send()
            .await
            .expect("GET /sse");
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        let mut bytes = response.bytes_stream();
        let events = async_stream::stream! {
            let mut buffer = String::new();
            while let Some(Ok(chunk)) = bytes.next().await {
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let block: String = buffer.drain(..end + 2).collect();
                    let mut event = "message".to_string();
                    let mut data = Vec::new();
                    for line in block.lines() {
                        if let Some(e) = line.strip_prefix("event:") {
                            event = e.trim().to_string();
                        } else if let Some(d) = line.strip_prefix("data:") {
                            data.push(d.strip_prefix(' ').unwrap_or(d).to_string());
                        }
                    }
                    if !data.is_empty() {
                        yield (event, data.join("\n"));
                    }
                }
            }
        };
        let mut client = SseClient {
            base: format!("http://{addr}"),
            endpoint: String::new(),
            events: Box::pin(events),
            http,
        };
        let (event, data) = client.next_event().await;
        assert_eq!(event, "endpoint");
        assert!(data.starts_with("/message?sessionId="), "{data}");
        client.endpoint = data;
        client
    }

    async fn next_event(&mut self) -> (String, String) {
        tokio::time::timeout(PATIENCE, self.events.next())
            .await
            .expect("an event in time")
            .expect("the stream is open")
    }

    async fn post(&self, message: Value) -> u16 {
        self.http
            .post(format!("{}{}", self.base, self.endpoint))
            .json(&message)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Sends a request and returns the response with its id (notifications in between are
    /// skipped).
    async fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        let status = self
            .post(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        assert_eq!(status, 202);
        loop {
            let (event, data) = self.next_event().await;
            assert_eq!(event, "message");
            let message: Value = serde_json::from_str(&data).unwrap();
            if message["id"] == id {
                return message;
            }
        }
    }
}

#[test]
fn legacy_sse_session() {
    block_on(async {
        let _permit = env().private_browsers.acquire().await.unwrap();
        let scheduler = env().shared.clone();
        let server = server(&scheduler, McpOptions::default()).await;
        let addr = server.local_addr();
        let mut sse = SseClient::connect(addr).await;
        let init = sse
            .request(
                1,
                "initialize",
                json!({"protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "sse-test", "version": "1"}}),
            )
            .await;
        assert_eq!(init["result"]["protocolVersion"], "2024-11-05");
        assert_eq!(init["result"]["serverInfo"]["name"], "browser-control");
        assert_eq!(
            sse.post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
                .await,
            202
        );
        let tools = sse.request(2, "tools/list", json!({})).await;
        assert_eq!(
            tools["result"]["tools"].as_array().unwrap().len(),
            ALL_TOOLS.len()
        );
        let goto = sse
            .request(3, "tools/call", json!({"name": "browser_navigate", "arguments": {"action": "goto", "url": url("article.html")}}))
            .await;
        assert_eq!(goto["result"]["isError"], false, "{goto}");
        let snapshot = sse
            .request(
                4,
                "tools/call",
                json!({"name": "browser_snapshot", "arguments": {}}),
            )
            .await;
        let text = snapshot["result"]["content"][0]["text"].as_str().unwrap();
        assert!(
            text.contains("Page URL:") && text.contains("heading"),
            "{text}"
        );
        let bad = sse
            .request(
                5,
                "tools/call",
                json!({"name": "browser_content", "arguments": {"action": "get_text"}}),
            )
            .await;
        assert_eq!(bad["result"]["isError"], true);
        assert_eq!(
            bad["result"]["content"][0]["text"],
            "INVALID_ARGUMENTS: selector: is required (or ref, from browser_snapshot)"
        );
        let own = scheduler
            .instances()
            .await
            .into_iter()
            .filter(|i| i.private)
            .collect::<Vec<_>>();
        assert_eq!(own.len(), 1, "{own:?}");
        let (id, pid) = (own[0].id.clone(), own[0].pid.unwrap());
        // Bad posts: unknown session, not JSON-RPC.
        let http = reqwest::Client::new();
        let unknown = http
            .post(format!("http://{addr}/message?sessionId=nope"))
            .json(&json!({"jsonrpc": "2.0", "method": "ping", "id": 9}))
            .send()
            .await
            .unwrap();
        assert_eq!(unknown.status(), 404);
        assert_eq!(
            http.post(format!("http://{addr}{}", sse.endpoint))
                .body("not json")
                .send()
                .await
                .unwrap()
                .status(),
            400
        );
        // The client goes away: the session ends, its browser is closed.
        drop(sse);
        wait_until("the SSE session's instance to close", || {
            scheduler.instance(&id).is_none()
        })
        .await;
        wait_until("its Chromium to exit", || process_gone(pid)).await;
        wait_until("the SSE session to be forgotten", || {
            server.sse_sessions() == 0
        })
        .await;
        // The server shares the test binary's scheduler: it is left running (shutdown would
        // close the shared browser).
        drop(server);
    });
}

#[test]
fn task_progress_over_stdio_in_shared_mode() {
    // The binary with --shared-instance: a pool started at once, browser_task with progress.
    block_on(async {
        let _permit = env().private_browsers.acquire().await.unwrap();
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_browser-control"));
        command.args(["mcp", "--shared-instance"]);
        let (transport, _) = rmcp::transport::TokioChildProcess::builder(command)
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the binary starts");
        let server_pid = transport.id().unwrap();
        let client = Client::default();
        let session = tokio::time::timeout(PATIENCE, client.clone().serve(transport))
            .await
            .expect("initialized in time")
            .expect("initialize");
        let list: Value = serde_json::from_str(
            &ok(&session, "browser_instance", json!({"action": "list"})).await,
        )
        .unwrap();
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        assert_eq!(list[0]["id"], "inst_1");
        assert!(list[0].get("private").is_none(), "{list}");
        let pid = list[0]["pid"].as_u64().unwrap() as u32;
        exercise_task(&session, &client).await;

        // browser_instance attach: a browser started elsewhere joins the pool, is used, closed.
        let own = common::OwnChromium::start();
        let attached: Value = serde_json::from_str(
            &ok(
                &session,
                "browser_instance",
                json!({"action": "attach", "endpoint": own.http_url()}),
            )
            .await,
        )
        .unwrap();
        assert_eq!(attached["remote"], true, "{attached}");
        let id = attached["id"].as_str().unwrap().to_string();
        assert_eq!(
            ok(
                &session,
                "browser_execute",
                json!({"action": "evaluate", "script": "navigator.webdriver !== undefined", "instanceId": id}),
            )
            .await,
            "true"
        );
        assert_eq!(
            ok(
                &session,
                "browser_instance",
                json!({"action": "close", "instanceId": id})
            )
            .await,
            format!("Closed {id}")
        );
        drop(own);
        session.cancel().await.unwrap();
        wait_until("the MCP server to exit", || process_gone(server_pid)).await;
        wait_until("its Chromium to exit", || process_gone(pid)).await;
    });
}

/// An MCP client that can elicit, and answers every approval request as it is told.
#[derive(Clone)]
struct Approver {
    approve: bool,
}

impl ClientHandler for Approver {
    fn get_info(&self) -> rmcp::model::ClientConfig {
        let mut info = rmcp::model::ClientConfig::default();
        info.capabilities.elicitation = Some(rmcp::model::ElicitationCapability::default());
        info
    }

    async fn create_elicitation(
        &self,
        request: rmcp::model::ElicitRequestParams,
        _context: rmcp::service::RequestContext<RoleClient>,
    ) -> Result<rmcp::model::ElicitResult, rmcp::ErrorData> {
        let rmcp::model::ElicitRequestParams::FormElicitationParams { message, .. } = request
        else {
            panic!("a form is asked for")
        };
        assert!(message.contains("Approve step 1"), "{message}");
        Ok(
            rmcp::model::ElicitResult::new(rmcp::model::ElicitationAction::Accept).with_content(
                json!({"approved": self.approve, "message": "answered in the MCP client"}),
            ),
        )
    }
}

#[test]
fn an_approval_is_asked_through_a_client_that_can_elicit() {
    block_on(async {
        let mut config = common::config(1);
        config.policy = Arc::new(
            browser_control::task::approval::Policy::parse_file(
                "rules: [{match: {category: evaluate}, decision: confirm}]",
            )
            .unwrap(),
        );
        let (scheduler, _permit) = common::private_scheduler_with(config).await;
        let server = server(
            &scheduler,
            McpOptions {
                shared_instance: true,
            },
        )
        .await;
        for approve in [true, false] {
            let client = Approver { approve };
            let transport = rmcp::transport::StreamableHttpClientTransport::from_uri(format!(
                "http://{}/mcp",
                server.local_addr()
            ));
            let session = tokio::time::timeout(PATIENCE, client.serve(transport))
                .await
                .expect("initialized in time")
                .expect("initialize");
            let args = json!({"action": "evaluate", "script": "return 6 * 7"});
            let Value::Object(args) = args else {
                unreachable!()
            };
            let result = tokio::time::timeout(
                PATIENCE,
                session.call_tool(
                    CallToolRequestParams::new("browser_execute".to_string()).with_arguments(args),
                ),
            )
            .await
            .expect("answered in time")
            .expect("a tool result");
            let said = text(&result);
            if approve {
                assert_eq!(result.is_error, Some(false), "{said}");
                assert!(said.contains("42"), "{said}");
            } else {
                assert_eq!(result.is_error, Some(true), "{said}");
                assert!(
                    said.contains("APPROVAL_REJECTED") || said.contains("rejected"),
                    "{said}"
                );
                assert!(said.contains("answered in the MCP client"), "{said}");
            }
            let _ = session.cancel().await;
        }
        server.shutdown().await;
        scheduler.shutdown().await;
    });
}
