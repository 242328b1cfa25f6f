//! What `serve` holds stays bounded, and what it prints and answers stays clean, through the
//! real binary: a client that stops reading costs at most its byte bound; no token reaches the
//! log; every HTTP error has the one JSON shape and a too-large body always gets a clean 413;
//! subscriptions and MCP sessions and their instances do not pile up over many cycles.

mod common;

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::client::{Client, PATIENCE};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// The real `browser-control serve`, its stderr (the log) kept.
struct Serve {
    child: Child,
    addr: SocketAddr,
    pid: u32,
    token: Option<String>,
    log: Arc<Mutex<String>>,
    log_reader: Option<JoinHandle<()>>,
    _data: tempfile::TempDir,
}

impl Serve {
    /// `serve --listen 127.0.0.1:0 --store memory` plus `args`.
    async fn start(args: &[&str]) -> Serve {
        let data = tempfile::tempdir().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_browser-control"));
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env("XDG_DATA_HOME", data.path())
            .env_remove("BROWSER_CONTROL_TOKEN")
            .env_remove("BROWSER_CONTROL_STORE")
            .env_remove("BROWSER_CONTROL_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if !args.contains(&"--store") {
            command.args(["--store", "memory"]);
        }
        let mut child = command.spawn().expect("the binary starts");
        let pid = child.id().expect("a pid");
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let log_reader = {
            let log = log.clone();
            tokio::spawn(async move {
                while let Ok(Some(line)) = stderr.next_line().await {
                    let mut log = log.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            })
        };
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(90), stdout.next_line())
            .await
            .expect("serve is ready within 90 s")
            .unwrap()
            .unwrap_or_else(|| {
                panic!(
                    "serve {args:?} exited before listening: {}",
                    log.lock().unwrap()
                )
            });
        let addr = line
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("{line}"))
            .parse()
            .unwrap();
        tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
        let token = args
            .iter()
            .position(|a| *a == "--token")
            .map(|i| args[i + 1].to_string());
        Serve {
            child,
            addr,
            pid,
            token,
            log,
            log_reader: Some(log_reader),
            _data: data,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A request with the token (when the server has one) in the header.
    fn request(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        let request = http.request(method, self.url(path));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// A gauge or counter of `/metrics`, summed over its labels.
    async fn metric(&self, http: &reqwest::Client, name: &str) -> f64 {
        let text = self
            .request(http, reqwest::Method::GET, "/metrics")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGTERM, its exit, and its whole log.
    async fn stop(mut self) -> String {
        unsafe { libc::kill(self.pid as i32, libc::SIGTERM) };
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("serve exits within 60 s of SIGTERM")
            .unwrap();
        assert!(status.success(), "{status}: {}", self.log());
        if let Some(reader) = self.log_reader.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), reader).await;
        }
        self.log()
    }
}

/// A field of /proc/PID/status in KiB (`VmRSS`, `VmHWM`: the peak).
fn proc_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {status}"))
}

async fn wait_until<F: std::future::Future<Output = bool>>(
    what: &str,
    mut done: impl FnMut() -> F,
) {
    let deadline = Instant::now() + PATIENCE;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// POST /tasks; the accepted task's id.
async fn submit(serve: &Serve, http: &reqwest::Client, task: Value) -> String {
    let response = serve
        .request(http, reqwest::Method::POST, "/tasks")
        .json(&task)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    body["taskId"].as_str().unwrap().to_string()
}

/// A task's status from the list (a summary: no results, however large they are).
async fn status_of(serve: &Serve, http: &reqwest::Client, id: &str) -> String {
    let list: Value = serve
        .request(http, reqwest::Method::GET, "/tasks?status=all")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id)
        .map(|t| t["status"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

fn evaluate(script: &str) -> Value {
    json!({"tool_name": "browser_execute", "args": {"action": "evaluate", "script": script}})
}

/// A page of noise (PNG does not compress it), about 5 MB per full-page screenshot as base64.
const NOISE_PAGE: &str = "document.body.innerHTML = ''; document.body.style.margin = '0'; \
    const c = document.createElement('canvas'); c.width = 1000; c.height = 1000; \
    document.body.appendChild(c); const g = c.getContext('2d'); \
    const img = g.createImageData(1000, 1000); const a = new Uint32Array(img.data.buffer); \
    let x = 2463534242; for (let i = 0; i < a.length; i++) { x ^= x << 13; x ^= x >>> 17; \
    x ^= x << 5; a[i] = x | 0xff000000; } g.putImageData(img, 0, 0); return 'ready';";

fn screenshots(count: usize) -> Value {
    let mut commands = vec![evaluate(NOISE_PAGE)];
    for _ in 0..count {
        commands.push(json!({"tool_name": "browser_content",
                             "args": {"action": "screenshot", "full_page": true}}));
    }
    json!({"task_name": "large results", "task_intention": "limits", "commands": commands})
}

/// A WebSocket client that subscribes to `inst_1` and then reads nothing more, with a small
/// receive buffer so that the kernel holds little of what the server sends it.
async fn stalled_subscriber(addr: SocketAddr) -> tokio_tungstenite::WebSocketStream<TcpStream> {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), stream)
        .await
        .expect("the WebSocket opens");
    let welcome = next_text(&mut ws).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    ws.send(Message::Text(
        json!({"type": "subscribe_instance", "instanceId": "inst_1"})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let ack = next_text(&mut ws).await;
    assert_eq!(ack["type"], "subscribe_ack", "{ack}");
    ws
}

async fn next_text<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> Value
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let frame = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("a message in time")
            .expect("the connection is open")
            .expect("a frame");
        if let Message::Text(text) = frame {
            return serde_json::from_str(text.as_str()).unwrap();
        }
    }
}

/// Submits `task` over a WebSocket that takes messages of any size, and reads everything
/// until its task_complete: when this returns, the task's end has been told to every client.
async fn run_reading(addr: SocketAddr, task: Value) -> usize {
    use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
    let config = WebSocketConfig::default()
        .max_message_size(None)
        .max_frame_size(None);
    let (mut ws, _) =
        tokio_tungstenite::connect_async_with_config(format!("ws://{addr}/"), Some(config), false)
            .await
            .unwrap();
    assert_eq!(next_text(&mut ws).await["type"], "welcome");
    let mut submit = task;
    submit["type"] = "task_submit".into();
    ws.send(Message::Text(submit.to_string().into()))
        .await
        .unwrap();
    let mut bytes = 0;
    loop {
        let message = next_text(&mut ws).await;
        bytes += message.to_string().len();
        if message["type"] == "task_complete" {
            assert_eq!(message["status"], "completed", "{}", message["results"][0]);
            return bytes;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_costs_at_most_its_byte_bound() {
    const CAP: usize = 4 << 20;
    const SHOTS: usize = 12;
    const STALLED: usize = 4;
    let store = tempfile::tempdir().unwrap();
    let store_url = format!("sqlite://{}/tasks.db", store.path().display());
    let cap = CAP.to_string();
    let serve = Serve::start(&[
        "--max-outbound-bytes",
        &cap,
        "--ping-interval",
        "300",
        "--store",
        &store_url,
    ])
    .await;
    let http = reqwest::Client::new();

    // The same task once with a client that reads: the baseline includes what its large
    // results cost anyway (the record, the store, the encoders, one client's copy).
    let told = run_reading(serve.addr, screenshots(SHOTS)).await;
    assert!(
        told > SHOTS * (3 << 20),
        "the screenshots are large: {told} bytes"
    );
    let baseline = proc_kib(serve.pid, "VmHWM");

    let mut stalled = Vec::new();
    for _ in 0..STALLED {
        stalled.push(stalled_subscriber(serve.addr).await);
    }
    let id = submit(&serve, &http, screenshots(SHOTS)).await;
    let mut peak_held = 0f64;
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        peak_held = peak_held.max(serve.metric(&http, "browser_control_outbound_bytes").await);
        let status = status_of(&serve, &http, &id).await;
        if status == "completed" {
            break;
        }
        assert!(
            Instant::now() < deadline && !["failed", "cancelled"].contains(&status.as_str()),
            "the task ended {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let peak = proc_kib(serve.pid, "VmHWM");

    // Every stalled subscriber was cut off before the end of the task.
    for mut ws in stalled {
        let mut completed = false;
        loop {
            match tokio::time::timeout(PATIENCE, ws.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => {
                    completed |= text.as_str().contains("\"task_complete\"");
                }
                Ok(Some(Ok(_))) => {}
                Ok(None | Some(Err(_))) => break,
                Err(_) => panic!("a stalled subscriber is still connected"),
            }
        }
        assert!(!completed, "a stalled subscriber got the whole task");
    }
    let log = serve.log();
    let cut = log
        .lines()
        .filter(|l| l.contains("too slow: ") && l.contains("bytes were waiting to be written"))
        .count();
    assert_eq!(
        cut, STALLED,
        "one `too slow` line per stalled client:\n{log}"
    );
    // Each held at most the limit behind the two messages being written (screenshots of
    // about 4 MB): about 30 MiB for the four. Without the byte bound, every screenshot of the
    // task, four times over (about 185 MiB, and the server's peak 88 MiB higher).
    let bound = (STALLED * (CAP + 2 * (5 << 20))) as f64;
    eprintln!(
        "VmHWM: {} MiB after the warm-up, {} MiB after the stalled run; {:.1} MiB held for \
         clients at most",
        baseline / 1024,
        peak / 1024,
        peak_held / 1048576.0
    );
    assert!(
        peak_held <= bound,
        "{peak_held} bytes held for clients at once"
    );
    wait_until("nothing to be held for clients", || async {
        serve.metric(&http, "browser_control_outbound_bytes").await == 0.0
    })
    .await;
    let grew_mib = peak.saturating_sub(baseline) / 1024;
    assert!(grew_mib < 48, "the server grew by {grew_mib} MiB");
    serve.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_reaches_the_log() {
    const TOKEN: &str = "Zq7-sekrit-4242";
    const WRONG: &str = "Wr0ng-guess-1717";
    let serve = Serve::start(&["--token", TOKEN, "--log", "debug"]).await;
    let http = reqwest::Client::new();
    let get = |path: String| {
        let url = serve.url(&path);
        let http = http.clone();
        async move { http.get(url).send().await.unwrap().status().as_u16() }
    };
    // Accepted, with the token in the query.
    assert_eq!(get(format!("/info?token={TOKEN}")).await, 200);
    assert_eq!(get(format!("/tasks?status=all&token={TOKEN}")).await, 200);
    // Accepted by the guard, refused by the router.
    assert_eq!(get(format!("/nope?token={TOKEN}")).await, 404);
    // Refused: a wrong token, none, a foreign page carrying the right one, a rebinding Host.
    assert_eq!(get(format!("/info?token={WRONG}")).await, 401);
    assert_eq!(get(format!("/info?apiKey={TOKEN}")).await, 401);
    let foreign = http
        .get(serve.url(&format!("/tasks?token={TOKEN}")))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    let rebound = http
        .get(serve.url(&format!("/?token={TOKEN}")))
        .header("Host", "attacker.example")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
    for (name, value) in [
        ("Authorization", format!("Bearer {WRONG}")),
        ("X-API-Key", TOKEN.to_string()),
        ("Authorization", format!("Basic {TOKEN}")),
    ] {
        let r = http
            .get(serve.url("/health"))
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    // The WebSocket doors and the MCP ones, accepted and refused.
    let client = Client::connect_with(serve.addr, &format!("?token={TOKEN}"), &[])
        .await
        .expect("the token in the query lets the task socket in");
    drop(client);
    let refused = Client::connect_with(
        serve.addr,
        &format!("?token={TOKEN}"),
        &[("origin", "https://evil.example")],
    )
    .await
    .err()
    .unwrap();
    assert!(refused.starts_with("HTTP 403"), "{refused}");
    let (panel, _) = tokio_tungstenite::connect_async(format!(
        "ws://{}/ws?taskId=task_1_x&token={TOKEN}",
        serve.addr
    ))
    .await
    .expect("the panel stream connects");
    drop(panel);
    let mut sse = http
        .get(serve.url(&format!("/sse?token={TOKEN}")))
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 200);
    let first = tokio::time::timeout(PATIENCE, sse.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let endpoint = String::from_utf8_lossy(&first).to_string();
    assert!(endpoint.contains("/message?sessionId="), "{endpoint}");
    let path = endpoint
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap()
        .to_string();
    let posted = http
        .post(serve.url(&path))
        .header("Content-Type", "application/json")
        .body("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}")
        .send()
        .await
        .unwrap();
    assert!(posted.status().is_success(), "{}", posted.status());
    drop(sse);
    let mcp = http
        .post(serve.url(&format!("/mcp?token={WRONG}")))
        .header("Accept", "application/json, text/event-stream")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(mcp.status(), 401);
    // A body too large, with the token in the URL.
    let big = http
        .post(serve.url(&format!("/tasks?token={TOKEN}")))
        .header("Content-Type", "application/json")
        .body(vec![b' '; 2 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);

    let log = serve.stop().await;
    assert!(
        log.contains("refused"),
        "refusals are logged at this level:\n{log}"
    );
    assert!(log.contains("[redacted]"), "{log}");
    for secret in [TOKEN, WRONG] {
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(secret)).collect();
        assert!(
            lines.is_empty(),
            "{secret} is in the log:\n{}",
            lines.join("\n")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blank_token_is_refused_at_start() {
    for (args, env) in [
        (vec!["--token", "   "], None),
        (vec![], Some("  \t ")),
        (vec!["--token", " padded-secret-99 "], None),
    ] {
        let started = Instant::now();
        let mut command = Command::new(env!("CARGO_BIN_EXE_browser-control"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--store", "memory"])
            .args(&args)
            .env_remove("BROWSER_CONTROL_TOKEN")
            .kill_on_drop(true);
        if let Some(value) = env {
            command.env("BROWSER_CONTROL_TOKEN", value);
        }
        let output = tokio::time::timeout(Duration::from_secs(60), command.output())
            .await
            .expect("refused within 60 s")
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("--token: the token"), "{stderr}");
        assert!(!stderr.contains("padded-secret-99"), "{stderr}");
        assert!(output.stdout.is_empty(), "it never listened");
        // Refused before any browser starts.
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }
}

/// The JSON error of a response, checking its shape.
async fn error_of(response: reqwest::Response, status: u16) -> (String, String) {
    assert_eq!(
        response.status().as_u16(),
        status,
        "{:?}",
        response.headers()
    );
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = response.json().await.expect("a JSON body");
    let error = body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(error.len(), 2, "{body}");
    (
        error["code"].as_str().unwrap().to_string(),
        error["message"].as_str().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_has_the_shape_and_large_bodies_get_a_clean_413() {
    let serve = Serve::start(&[]).await;
    let http = reqwest::Client::new();
    let put = http.put(serve.url("/tasks")).send().await.unwrap();
    assert!(put.headers().contains_key("allow"));
    let (code, message) = error_of(put, 405).await;
    assert_eq!(code, "METHOD_NOT_ALLOWED");
    assert!(
        message.contains("PUT") && message.contains("/tasks"),
        "{message}"
    );
    let (code, _) = error_of(http.delete(serve.url("/info")).send().await.unwrap(), 405).await;
    assert_eq!(code, "METHOD_NOT_ALLOWED");
    let (code, message) =
        error_of(http.get(serve.url("/nope?x=1")).send().await.unwrap(), 404).await;
    assert_eq!(code, "NOT_FOUND");
    assert!(message.contains("/nope"), "{message}");
    let (code, _) = error_of(
        http.post(serve.url("/tasks"))
            .body("{not json")
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_eq!(code, "BAD_REQUEST");
    let (code, _) = error_of(
        http.post(serve.url("/mcp"))
            .header("Accept", "application/json, text/event-stream")
            .header("Content-Type", "text/plain")
            .body("{}")
            .send()
            .await
            .unwrap(),
        415,
    )
    .await;
    assert_eq!(code, "UNSUPPORTED_MEDIA_TYPE");
    let (code, _) = error_of(
        http.post(serve.url("/mcp"))
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        406,
    )
    .await;
    assert_eq!(code, "NOT_ACCEPTABLE");
    let (code, _) = error_of(
        http.post(serve.url("/message?sessionId=nope"))
            .body("{}")
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    assert_eq!(code, "NOT_FOUND");
    let (code, _) = error_of(http.get(serve.url("/ws")).send().await.unwrap(), 400).await;
    assert_eq!(code, "BAD_REQUEST");

    // 10 MB bodies, again and again, on one kept-alive connection and on fresh ones, with a
    // length and chunked: every one a 413 in the shape, never a reset.
    let ten_mb = vec![b'x'; 10 << 20];
    for round in 0..4 {
        let response = http
            .post(serve.url("/tasks"))
            .header("Content-Type", "application/json")
            .body(ten_mb.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        let (code, message) = error_of(response, 413).await;
        assert_eq!(code, "PAYLOAD_TOO_LARGE");
        assert!(message.contains("the limit is 1048576 bytes"), "{message}");
        let fresh = reqwest::Client::new()
            .post(serve.url("/api/tools/browser_navigate"))
            .body(ten_mb.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("round {round}, fresh: {e}"));
        error_of(fresh, 413).await;
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            (0..40).map(|_| Ok(vec![b'y'; 256 << 10])).collect();
        let chunked = http
            .post(serve.url("/tasks"))
            .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
            .send()
            .await
            .unwrap_or_else(|e| panic!("round {round}, chunked: {e}"));
        let (code, message) = error_of(chunked, 413).await;
        assert_eq!(code, "PAYLOAD_TOO_LARGE");
        assert!(message.contains("more than 1048576 bytes"), "{message}");
    }
    // A client that waits for `100 Continue` is told at once, and the connection closes.
    let mut raw = TcpStream::connect(serve.addr).await.unwrap();
    raw.write_all(
        b"POST /tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
          Content-Length: 10485760\r\nExpect: 100-continue\r\n\r\n",
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, raw.read_to_end(&mut answer))
        .await
        .expect("answered and closed")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"PAYLOAD_TOO_LARGE\""), "{answer}");
    // Still serving.
    let health = http.get(serve.url("/info")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    serve.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_to_finished_tasks_and_closed_instances_do_not_pile_up() {
    let serve = Serve::start(&[]).await;
    let http = reqwest::Client::new();
    // Finished tasks, cheaply: queued behind a long one, then cancelled.
    let mut owner = Client::connect(serve.addr).await;
    let busy = owner
        .submit(json!({"task_name": "busy", "commands": [
            evaluate("await new Promise(r => setTimeout(r, 60000)); return 1")]}))
        .await;
    let mut ids = Vec::new();
    for i in 0..150 {
        ids.push(
            owner
                .submit(json!({"task_name": format!("t{i}"), "commands": [evaluate("return 1")]}))
                .await,
        );
    }
    for id in ids.iter().chain([&busy]) {
        let reply = owner
            .request(
                json!({"type": "task_cancel", "taskId": id}),
                "task_cancel_response",
            )
            .await;
        assert_eq!(reply["success"], true, "{reply}");
    }
    for id in ids.iter().chain([&busy]) {
        owner.until_complete(id).await;
    }
    // The submitter's own subscriptions ended with its tasks.
    let held = || async { serve.metric(&http, "browser_control_subscriptions").await };
    wait_until("the submitter's subscriptions to end", || async {
        held().await == 0.0
    })
    .await;

    // Another client subscribes to every finished task, round after round.
    let mut reader = Client::connect(serve.addr).await;
    let mut sizes = Vec::new();
    for _ in 0..4 {
        for id in &ids {
            reader
                .send(json!({"type": "subscribe_task", "taskId": id}))
                .await;
            let ack = reader.recv().await;
            assert_eq!(ack["type"], "subscribe_ack", "{ack}");
            let complete = reader.recv().await;
            assert_eq!(complete["type"], "task_complete", "{complete}");
            assert_eq!(complete["taskId"], id.as_str());
        }
        sizes.push(held().await);
    }
    assert!(
        sizes.iter().all(|s| *s == sizes[0] && *s <= 64.0),
        "{sizes:?}"
    );

    // Instances subscribed to and closed, cycle after cycle.
    for _ in 0..2 {
        let created: Value = http
            .post(serve.url("/instances"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = created["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{created}"))
            .to_string();
        let ack = reader
            .request(
                json!({"type": "subscribe_instance", "instanceId": id}),
                "subscribe_ack",
            )
            .await;
        assert_eq!(ack["instanceId"], id.as_str());
        assert_eq!(held().await, sizes[0] + 1.0);
        let closed = http
            .delete(serve.url(&format!("/instances/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(closed.status(), 200);
        let status = reader.recv_until(|m| m["type"] == "instance_status").await;
        assert_eq!(status.last().unwrap()["status"], "closed");
        wait_until("the instance subscription to end", || async {
            held().await == sizes[0]
        })
        .await;
    }
    drop(reader);
    drop(owner);
    wait_until("every subscription to go with its connection", || async {
        held().await == 0.0
    })
    .await;
    serve.stop().await;
}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"limits","version":"1"}}}"#;

/// Opens a streamable HTTP MCP session by hand: its `Mcp-Session-Id`, or the refusal.
async fn open_http_session(
    serve: &Serve,
    http: &reqwest::Client,
) -> Result<String, reqwest::Response> {
    let response = http
        .post(serve.url("/mcp"))
        .header("Accept", "application/json, text/event-stream")
        .header("Content-Type", "application/json")
        .body(INITIALIZE)
        .send()
        .await
        .unwrap();
    if response.status() != 200 {
        return Err(response);
    }
    let id = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    let body = response.text().await.unwrap();
    assert!(body.contains("\"serverInfo\""), "{body}");
    let initialized = http
        .post(serve.url("/mcp"))
        .header("Accept", "application/json, text/event-stream")
        .header("Content-Type", "application/json")
        .header("Mcp-Session-Id", &id)
        .header("MCP-Protocol-Version", "2025-06-18")
        .body(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        .send()
        .await
        .unwrap();
    assert!(
        initialized.status().is_success(),
        "{}",
        initialized.status()
    );
    Ok(id)
}

async fn close_http_session(serve: &Serve, http: &reqwest::Client, id: &str) {
    let deleted = http
        .delete(serve.url("/mcp"))
        .header("Mcp-Session-Id", id)
        .header("MCP-Protocol-Version", "2025-06-18")
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_sessions_are_capped_and_do_not_pile_up() {
    let serve = Serve::start(&["--max-mcp-sessions", "3"]).await;
    let http = reqwest::Client::new();
    let open = || async { serve.metric(&http, "browser_control_mcp_sessions").await };
    for _ in 0..25 {
        let id = open_http_session(&serve, &http)
            .await
            .expect("a place is free");
        close_http_session(&serve, &http, &id).await;
        let mut sse = http.get(serve.url("/sse")).send().await.unwrap();
        assert_eq!(sse.status(), 200);
        tokio::time::timeout(PATIENCE, sse.chunk())
            .await
            .unwrap()
            .unwrap();
        drop(sse);
    }
    wait_until("every session to be gone", || async { open().await == 0.0 }).await;

    // Three places: two HTTP sessions and one SSE stream fill them.
    let a = open_http_session(&serve, &http).await.expect("a place");
    let _b = open_http_session(&serve, &http).await.expect("a place");
    let mut sse = http.get(serve.url("/sse")).send().await.unwrap();
    tokio::time::timeout(PATIENCE, sse.chunk())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(open().await, 3.0);
    let refused = open_http_session(&serve, &http)
        .await
        .expect_err("no place left");
    let (code, message) = error_of(refused, 503).await;
    assert_eq!(code, "TOO_MANY_SESSIONS");
    assert!(
        message.contains("the limit is 3 (--max-mcp-sessions)"),
        "{message}"
    );
    let (code, _) = error_of(http.get(serve.url("/sse")).send().await.unwrap(), 503).await;
    assert_eq!(code, "TOO_MANY_SESSIONS");
    // One ends: a place is free again.
    close_http_session(&serve, &http, &a).await;
    wait_until("the place to be given back", || async {
        open().await == 2.0
    })
    .await;
    open_http_session(&serve, &http)
        .await
        .expect("the freed place");
    drop(sse);
    serve.stop().await;
}

type McpSession = rmcp::service::RunningService<rmcp::RoleClient, ()>;

async fn call_tool(session: &McpSession, tool: &str, args: Value) -> (bool, String) {
    use rmcp::model::CallToolRequestParams;
    let Value::Object(args) = args else {
        unreachable!()
    };
    let result = tokio::time::timeout(
        PATIENCE,
        session.call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(args)),
    )
    .await
    .expect("answered in time")
    .expect("no protocol error");
    let text = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n");
    (result.is_error == Some(true), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_an_mcp_session_adds_are_capped_and_go_with_it() {
    use rmcp::ServiceExt;
    let serve = Serve::start(&["--shared-instance", "--max-mcp-instances", "1"]).await;
    let http = reqwest::Client::new();
    let instances = || async {
        let list: Value = http
            .get(serve.url("/instances"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        list["instances"].as_array().unwrap().len()
    };
    assert_eq!(instances().await, 1);
    for _ in 0..3 {
        let transport = rmcp::transport::StreamableHttpClientTransport::from_uri(serve.url("/mcp"));
        let session = tokio::time::timeout(PATIENCE, ().serve(transport))
            .await
            .unwrap()
            .expect("initialize");
        let (failed, text) =
            call_tool(&session, "browser_instance", json!({"action": "create"})).await;
        assert!(!failed, "{text}");
        assert_eq!(instances().await, 2);
        let (failed, text) =
            call_tool(&session, "browser_instance", json!({"action": "create"})).await;
        assert!(failed, "{text}");
        assert!(text.starts_with("LIMIT_REACHED: "), "{text}");
        assert!(text.contains("--max-mcp-instances"), "{text}");
        let (failed, text) = call_tool(
            &session,
            "browser_task",
            json!({"commands": [{"tool_name": "browser_instance", "args": {"action": "create"}}]}),
        )
        .await;
        assert!(failed && text.starts_with("LIMIT_REACHED: "), "{text}");
        assert_eq!(instances().await, 2);
        // The session ends: what it added goes with it.
        session.cancel().await.unwrap();
        wait_until("the session's instance to be closed", || async {
            instances().await == 1
        })
        .await;
    }
    serve.stop().await;
}
