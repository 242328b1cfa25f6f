//! Users on every door: a JWT user and an API-key user on one server in front of real
//! Chromium. Each sees only their own tasks and instances; the other's ids answer as unknown
//! ones; an admin sees both. Refused credentials say why; the audit trail says who did what.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use browser_control::auth::keys;
use browser_control::server::{Server, ServerConfig};
use common::client::{loopback_config, start_server, Client, PATIENCE};
use common::*;
use futures::StreamExt;
use serde_json::{json, Value};

const SECRET: &str = "an HS256 secret of at least 32 bytes, for tests";

fn jwt(claims: Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn in_an_hour() -> u64 {
    now_secs() + 3600
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

struct Users {
    server: Server,
    /// ann signs in with a JWT.
    ann: String,
    /// bob uses an API key.
    bob: String,
    /// An admin's JWT.
    root: String,
}

async fn users() -> Users {
    let scheduler = &env().shared;
    let (bob, record) = keys::mint("bob", false).unwrap();
    scheduler.accounts().add_key(&record).await.unwrap();
    let mut config = ServerConfig {
        api_keys: true,
        ..loopback_config()
    };
    config.jwt.secret = Some(SECRET.into());
    config.mcp.shared_instance = true;
    let server = start_server(scheduler, config).await;
    Users {
        server,
        ann: jwt(json!({"sub": "ann", "exp": in_an_hour()}), SECRET),
        bob,
        root: jwt(
            json!({"sub": "root", "exp": in_an_hour(), "role": ["ops", "admin"]}),
            SECRET,
        ),
    }
}

/// An HTTP request with `credential` as a bearer token; the status and the JSON body.
async fn http(
    addr: SocketAddr,
    method: reqwest::Method,
    path: &str,
    credential: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, format!("http://{addr}{path}"));
    if let Some(credential) = credential {
        request = request.bearer_auth(credential);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get(addr: SocketAddr, path: &str, credential: &str) -> (u16, Value) {
    http(addr, reqwest::Method::GET, path, Some(credential), None).await
}

async fn ws(addr: SocketAddr, credential: &str) -> Client {
    Client::connect_with(addr, &format!("?token={credential}"), &[])
        .await
        .expect("the WebSocket connects")
}

fn ids(listing: &Value) -> Vec<String> {
    listing
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect()
}

/// What answers about `id` say, with the id itself taken out: another user's task must read
/// exactly as a task that does not exist.
fn without(answer: &Value, id: &str) -> String {
    answer.to_string().replace(id, "ID")
}

#[test]
fn each_user_sees_and_controls_only_their_own_tasks_on_every_door() {
    block_on(async {
        let u = users().await;
        let addr = u.server.local_addr();
        let page = url("index.html");

        // ann over the task WebSocket, bob over REST.
        let mut ann = ws(addr, &u.ann).await;
        let anns = ann
            .submit(task("ann's", vec![goto("index.html"), execute("1 + 1")]))
            .await;
        ann.until_complete(&anns).await;
        let (status, reply) = http(
            addr,
            reqwest::Method::POST,
            "/tasks",
            Some(&u.bob),
            Some(task("bob's", vec![execute("2 + 2")])),
        )
        .await;
        assert_eq!(status, 202, "{reply}");
        let bobs = reply["taskId"].as_str().unwrap().to_string();
        let mut bob = ws(addr, &u.bob).await;
        let done = bob
            .request(
                json!({"type": "subscribe_task", "taskId": bobs}),
                "subscribe_ack",
            )
            .await;
        assert_eq!(done["taskId"], bobs.as_str());
        bob.until_complete(&bobs).await;

        // Listings: each their own, the admin both.
        let listed = ann
            .request(json!({"type": "task_list"}), "task_list_response")
            .await;
        assert!(ids(&listed["tasks"]).contains(&anns));
        assert!(!ids(&listed["tasks"]).contains(&bobs), "{listed}");
        let (_, listed) = get(addr, "/tasks", &u.bob).await;
        assert!(ids(&listed["tasks"]).contains(&bobs));
        assert!(!ids(&listed["tasks"]).contains(&anns), "{listed}");
        let (_, all) = get(addr, "/tasks", &u.root).await;
        assert!(ids(&all["tasks"]).contains(&anns) && ids(&all["tasks"]).contains(&bobs));
        let (_, record) = get(addr, &format!("/tasks/{anns}"), &u.root).await;
        assert_eq!(record["task"]["owner"], "ann", "{record}");
        assert_eq!(record["task"]["door"], "websocket", "{record}");
        let (_, record) = get(addr, &format!("/tasks/{bobs}"), &u.bob).await;
        assert_eq!(
            (&record["task"]["owner"], &record["task"]["door"]),
            (&json!("bob"), &json!("rest"))
        );

        // bob asks about ann's task on every door: the answers are those for an unknown id.
        let nobody = "task_1_nobody";
        for (message, reply) in [
            ("task_status", "task_status_response"),
            ("task_cancel", "task_cancel_response"),
        ] {
            let theirs = bob
                .request(json!({"type": message, "taskId": anns}), reply)
                .await;
            let unknown = bob
                .request(json!({"type": message, "taskId": nobody}), reply)
                .await;
            assert_eq!(
                without(&theirs, &anns),
                without(&unknown, nobody),
                "{message}"
            );
            assert!(theirs.get("task").is_none_or(Value::is_null), "{theirs}");
        }
        let theirs = bob
            .request(json!({"type": "subscribe_task", "taskId": anns}), "error")
            .await;
        let unknown = bob
            .request(json!({"type": "subscribe_task", "taskId": nobody}), "error")
            .await;
        assert_eq!(without(&theirs, &anns), without(&unknown, nobody));
        for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
            let theirs = http(
                addr,
                method.clone(),
                &format!("/tasks/{anns}"),
                Some(&u.bob),
                None,
            )
            .await;
            let unknown = http(
                addr,
                method.clone(),
                &format!("/tasks/{nobody}"),
                Some(&u.bob),
                None,
            )
            .await;
            assert_eq!(theirs.0, 404, "{method} {theirs:?}");
            assert_eq!(without(&theirs.1, &anns), without(&unknown.1, nobody));
        }
        let (status, _) = http(
            addr,
            reqwest::Method::POST,
            &format!("/tasks/{anns}/cancel"),
            Some(&u.bob),
            None,
        )
        .await;
        assert_eq!(status, 404);

        // The panel stream: ann's panel shows her task at once; bob's shows nothing.
        let mut own_panel = Client::panel_with(addr, &anns, &u.ann).await;
        let first = own_panel.recv().await;
        assert_eq!(first["type"], "step_update", "{first}");
        let mut other_panel = Client::panel_with(addr, &anns, &u.bob).await;
        let silent = tokio::time::timeout(Duration::from_secs(2), other_panel.try_recv()).await;
        assert!(silent.is_err(), "bob's panel of ann's task said {silent:?}");

        // An instance subscription hears only one's own tasks.
        let inst = record["task"]["instanceId"].as_str().unwrap().to_string();
        let ack = bob
            .request(
                json!({"type": "subscribe_instance", "instanceId": inst}),
                "subscribe_ack",
            )
            .await;
        assert_eq!(ack["instanceId"], inst.as_str());
        let anns2 = ann.submit(task("ann's second", vec![execute("3")])).await;
        ann.until_complete(&anns2).await;
        let bobs2 = bob.submit(task("bob's second", vec![execute("4")])).await;
        let heard = bob.until_complete(&bobs2).await;
        assert!(
            heard.iter().all(|m| m["taskId"] != anns2.as_str()),
            "bob heard ann's task: {heard:#?}"
        );
        assert!(
            heard.iter().any(|m| m["type"] == "task_progress"),
            "{heard:#?}"
        );

        // /api/tools runs as the caller.
        let (status, ran) = http(
            addr,
            reqwest::Method::POST,
            "/api/tools/browser_navigate",
            Some(&u.bob),
            Some(json!({"action": "goto", "url": page})),
        )
        .await;
        assert_eq!(status, 200, "{ran}");
        let tool_task = ran["taskId"].as_str().unwrap().to_string();
        assert_eq!(
            get(addr, &format!("/tasks/{tool_task}"), &u.ann).await.0,
            404
        );
        assert_eq!(
            get(addr, &format!("/tasks/{tool_task}"), &u.bob).await.0,
            200
        );

        // MCP over streamable HTTP: the session's tasks are its user's.
        let transport = rmcp::transport::StreamableHttpClientTransport::from_config(
            rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
                format!("http://{addr}/mcp"),
            )
            .auth_header(u.ann.clone()),
        );
        let session = tokio::time::timeout(
            PATIENCE,
            rmcp::ServiceExt::serve(rmcp::model::ClientConfig::default(), transport),
        )
        .await
        .expect("MCP initializes in time")
        .expect("MCP initializes");
        let result = session
            .call_tool(
                rmcp::model::CallToolRequestParams::new("browser_execute").with_arguments(
                    json!({"action": "evaluate", "script": "6 * 7"})
                        .as_object()
                        .unwrap()
                        .clone(),
                ),
            )
            .await
            .unwrap();
        assert_ne!(result.is_error, Some(true), "{result:?}");
        let (_, listed) = get(addr, "/tasks", &u.ann).await;
        let via_mcp: Vec<&Value> = listed["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["name"].as_str().is_some_and(|n| n.starts_with("mcp:")))
            .collect();
        assert_eq!(via_mcp.len(), 1, "{listed}");
        let (_, listed) = get(addr, "/tasks", &u.bob).await;
        assert!(listed["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| !t["name"].as_str().unwrap().starts_with("mcp:")));
        session.cancel().await.unwrap();

        // The legacy SSE transport: only the user who opened a session may post to it.
        let stream = reqwest::Client::new()
            .get(format!("http://{addr}/sse"))
            .bearer_auth(&u.ann)
            .send()
            .await
            .unwrap();
        assert_eq!(stream.status(), 200);
        let mut events = stream.bytes_stream();
        let mut text = String::new();
        while !text.contains("sessionId=") || !text.contains("\n\n") {
            let chunk = tokio::time::timeout(PATIENCE, events.next())
                .await
                .expect("the endpoint event comes")
                .unwrap()
                .unwrap();
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        let endpoint = text
            .lines()
            .find_map(|l| l.strip_prefix("data: "))
            .unwrap()
            .to_string();
        let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});
        let (status, refused) = http(
            addr,
            reqwest::Method::POST,
            &endpoint,
            Some(&u.bob),
            Some(ping.clone()),
        )
        .await;
        assert_eq!(status, 404, "{refused}");
        let posted = reqwest::Client::new()
            .post(format!("http://{addr}{endpoint}"))
            .bearer_auth(&u.ann)
            .json(&ping)
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), 202);
        drop(events);

        // The admin reads the audit trail; others may not.
        let (status, _) = get(addr, "/api/audit", &u.bob).await;
        assert_eq!(status, 403);
        let (status, audit) = get(addr, "/api/audit?user=ann", &u.root).await;
        assert_eq!(status, 200, "{audit}");
        let entries = audit["entries"].as_array().unwrap();
        assert!(entries.iter().all(|e| e["user"] == "ann"), "{audit}");
        assert!(
            entries.iter().any(|e| e["action"] == "task_submitted"
                && e["target"] == anns.as_str()
                && e["door"] == "websocket"),
            "{audit}"
        );
        drop(u);
    });
}

#[test]
fn instances_a_user_creates_are_theirs() {
    block_on(async {
        let _permit = env().private_browsers.acquire().await.unwrap();
        let u = users().await;
        let addr = u.server.local_addr();
        let (status, created) = http(
            addr,
            reqwest::Method::POST,
            "/instances",
            Some(&u.ann),
            Some(json!({"action": "create"})),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_string();
        assert_eq!(created["owner"], "ann");
        assert_eq!(
            created["private"], true,
            "a user's instance is theirs alone"
        );

        let listed = |who: &str| {
            let who = who.to_string();
            async move {
                let (_, listed) = get(addr, "/instances", &who).await;
                ids(&listed["instances"])
            }
        };
        assert!(listed(&u.ann).await.contains(&id));
        assert!(
            !listed(&u.bob).await.contains(&id),
            "bob sees ann's instance"
        );
        assert!(listed(&u.root).await.contains(&id));

        // bob can neither close it nor send tasks to it: it is unknown to him.
        let (status, refused) = http(
            addr,
            reqwest::Method::DELETE,
            &format!("/instances/{id}"),
            Some(&u.bob),
            None,
        )
        .await;
        assert_eq!(status, 404, "{refused}");
        let mut submission = task("onto ann's", vec![execute("1")]);
        submission["instanceId"] = json!(id);
        let (status, refused) = http(
            addr,
            reqwest::Method::POST,
            "/tasks",
            Some(&u.bob),
            Some(submission.clone()),
        )
        .await;
        assert_eq!(status, 404, "{refused}");
        assert_eq!(refused["error"]["code"], "UNKNOWN_INSTANCE");
        let mut bob = ws(addr, &u.bob).await;
        let refused = bob
            .request(
                json!({"type": "subscribe_instance", "instanceId": id}),
                "error",
            )
            .await;
        assert!(refused["message"]
            .as_str()
            .unwrap()
            .contains("Unknown instance"));
        // Nor can bob's tasks close it with browser_instance.
        let closing = bob
            .submit(task(
                "close ann's",
                vec![cmd(
                    "browser_instance",
                    json!({"action": "close", "instanceId": id}),
                )],
            ))
            .await;
        let end = bob.until_complete(&closing).await;
        let complete = end.last().unwrap();
        assert_eq!(complete["status"], "failed", "{complete}");

        // ann's tasks run there; ann closes it.
        let (status, ran) = http(
            addr,
            reqwest::Method::POST,
            "/tasks",
            Some(&u.ann),
            Some(submission),
        )
        .await;
        assert_eq!(status, 202, "{ran}");
        let (status, _) = http(
            addr,
            reqwest::Method::DELETE,
            &format!("/instances/{id}"),
            Some(&u.ann),
            None,
        )
        .await;
        assert_eq!(status, 200);
        let (_, audit) = get(addr, "/api/audit?user=ann", &u.root).await;
        let actions: Vec<&str> = audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["target"] == id.as_str())
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(actions, ["instance_created", "instance_closed"], "{audit}");
        drop(u);
    });
}

#[test]
fn refused_credentials_say_why() {
    block_on(async {
        let u = users().await;
        let addr = u.server.local_addr();
        let expired = jwt(json!({"sub": "ann", "exp": now_secs() - 600}), SECRET);
        let forged = jwt(
            json!({"sub": "ann", "exp": in_an_hour()}),
            "another secret, also at least 32 bytes long",
        );
        let early = jwt(
            json!({"sub": "ann", "exp": in_an_hour(), "nbf": now_secs() + 600}),
            SECRET,
        );
        let (revoked, record) = keys::mint("carol", false).unwrap();
        let accounts = env().shared.accounts();
        accounts.add_key(&record).await.unwrap();
        assert_eq!(get(addr, "/tasks", &revoked).await.0, 200);
        accounts
            .revoke_key(&record.id, browser_control::task::now_ms())
            .await
            .unwrap();
        let unknown = keys::mint("dave", false).unwrap().0;
        for (credential, says) in [
            (expired.as_str(), "expired"),
            (forged.as_str(), "signature"),
            (early.as_str(), "not valid yet"),
            (revoked.as_str(), "revoked"),
            (unknown.as_str(), "Unknown API key"),
            ("not-a-jwt", "not a JWT"),
        ] {
            let (status, body) = get(addr, "/tasks", credential).await;
            assert_eq!(status, 401, "{says}: {body}");
            assert_eq!(body["error"]["code"], "UNAUTHORIZED");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.contains(says), "{says}: {message}");
            assert!(
                !message.contains(credential),
                "the message repeats the credential"
            );
        }
        // No credential at all, on every door.
        let (status, body) = http(addr, reqwest::Method::GET, "/tasks", None, None).await;
        assert_eq!(status, 401, "{body}");
        assert!(Client::connect_with(addr, "", &[]).await.is_err());
        let (status, _) = http(addr, reqwest::Method::GET, "/health", None, None).await;
        assert_eq!(status, 401, "loopback is no exception once auth is on");
        // What pages load without a way to add a credential holds no one's data: it is public.
        for asset in [
            "/dashboard.js",
            "/dashboard.css",
            "/api/openapi.json",
            "/api/docs/",
        ] {
            let response = reqwest::get(format!("http://{addr}{asset}")).await.unwrap();
            assert_eq!(response.status(), 200, "{asset}");
        }
        // X-API-Key works as well as the bearer header.
        let (bob, record) = keys::mint("erin", false).unwrap();
        accounts.add_key(&record).await.unwrap();
        let response = reqwest::Client::new()
            .get(format!("http://{addr}/tasks"))
            .header("X-API-Key", &bob)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        drop(u);
    });
}

/// The real binary, every credential kind, every door, logging at debug: the log holds none
/// of the credentials. Keys are made and revoked with `browser-control keys` beside it.
#[test]
fn credentials_never_reach_the_log() {
    block_on(async {
        let _permit = env().private_browsers.acquire().await.unwrap();
        let dir = std::env::temp_dir().join(format!("bc-users-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = format!("sqlite://{}", dir.join("tasks.db").display());
        let keys_cmd = |args: &[&str]| {
            let output = std::process::Command::new(env!("CARGO_BIN_EXE_browser-control"))
                .arg("keys")
                .args(args)
                .args(["--store", &store])
                .output()
                .unwrap();
            (
                output.status.code(),
                String::from_utf8_lossy(&output.stdout).to_string(),
                String::from_utf8_lossy(&output.stderr).to_string(),
            )
        };
        let (code, key, said) = keys_cmd(&["create", "--user", "carol"]);
        assert_eq!(code, Some(0), "{said}");
        let key = key.trim().to_string();
        assert!(key.starts_with("bck_"), "{key}");
        let key_id = said
            .split_whitespace()
            .find(|w| w.starts_with("key_"))
            .unwrap()
            .to_string();
        let token = "a-shared-token-for-the-log-test";
        let jwt = jwt(json!({"sub": "dora", "exp": in_an_hour()}), SECRET);
        let wrong_key = keys::mint("nobody", false).unwrap().0;
        let wrong_jwt = jwt_with_other_secret();
        let log = dir.join("serve.log");
        let mut server = common::serve::ServeProcess::start_logged(
            &[
                "--store",
                &store,
                "--jwt-secret",
                SECRET,
                "--token",
                token,
                "--log",
                "debug,chromiumoxide=off,hyper=off,h2=off,reqwest=off",
            ],
            &log,
        )
        .await;
        let addr = server.addr;

        // Every door, with each credential in the header and in the query.
        for credential in [&key, &jwt, &token.to_string()] {
            assert_eq!(get(addr, "/tasks", credential).await.0, 200);
            let (status, _) = http(
                addr,
                reqwest::Method::GET,
                &format!("/tasks?token={credential}"),
                None,
                None,
            )
            .await;
            assert_eq!(status, 200);
            let mut client = ws(addr, credential).await;
            let id = client.submit(task("logged", vec![execute("1")])).await;
            client.until_complete(&id).await;
            let mut panel = Client::panel_with(addr, &id, credential).await;
            assert_eq!(panel.recv().await["type"], "step_update");
        }
        for wrong in [&wrong_key, &wrong_jwt] {
            assert_eq!(get(addr, "/tasks", wrong).await.0, 401);
            let (status, _) = http(
                addr,
                reqwest::Method::GET,
                &format!("/tasks?token={wrong}"),
                None,
                None,
            )
            .await;
            assert_eq!(status, 401);
            assert!(Client::connect_with(addr, &format!("?token={wrong}"), &[])
                .await
                .is_err());
        }
        // `keys list` shows ids, never keys; a revoked key is refused, saying so.
        let (code, listed, _) = keys_cmd(&["list"]);
        assert_eq!(code, Some(0));
        assert!(
            listed.contains(&key_id) && listed.contains("carol"),
            "{listed}"
        );
        assert!(!listed.contains(&key), "{listed}");
        let (code, _, said) = keys_cmd(&["revoke", &key_id]);
        assert_eq!(code, Some(0), "{said}");
        let (status, body) = get(addr, "/tasks", &key).await;
        assert_eq!(status, 401);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("revoked"),
            "{body}"
        );
        let (code, _, said) = keys_cmd(&["revoke", &key_id]);
        assert_eq!(code, Some(1), "revoked twice: {said}");

        let status = server.terminate().await;
        assert!(status.success(), "{status}");
        let logged = std::fs::read_to_string(&log).unwrap();
        assert!(logged.contains("refused"), "the log is at debug: {logged}");
        for secret in [&key, &jwt, &token.to_string(), &wrong_key, &wrong_jwt] {
            assert!(
                !logged.contains(secret.as_str()),
                "the log shows a credential:\n{logged}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    });
}

fn jwt_with_other_secret() -> String {
    jwt(
        json!({"sub": "mallory", "exp": in_an_hour()}),
        "not the server's secret, but 32 bytes or more",
    )
}

/// The per-user limit counts each user apart: ann over hers is refused (429 with Retry-After
/// on REST, `rejected` on the WebSocket) while bob, from the same address, goes on.
#[test]
fn rate_limits_count_each_user_apart() {
    block_on(async {
        let scheduler = &env().shared;
        let (bob, record) = keys::mint("bob", false).unwrap();
        scheduler.accounts().add_key(&record).await.unwrap();
        let mut config = ServerConfig {
            api_keys: true,
            ..loopback_config()
        };
        config.jwt.secret = Some(SECRET.into());
        config.rate_limit.per_user = Some("3/min".parse().unwrap());
        let server = start_server(scheduler, config).await;
        let addr = server.local_addr();
        let ann = jwt(json!({"sub": "ann", "exp": in_an_hour()}), SECRET);
        for _ in 0..3 {
            assert_eq!(get(addr, "/tasks", &ann).await.0, 200);
        }
        let refused = reqwest::Client::new()
            .get(format!("http://{addr}/tasks"))
            .bearer_auth(&ann)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 429);
        let wait: u64 = refused.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["code"], "RATE_LIMITED");
        assert!(
            body["error"]["message"].as_str().unwrap().contains("ann"),
            "{body}"
        );
        let mut ann_ws = ws(addr, &ann).await;
        let reply = ann_ws
            .request(
                json!({"type": "task_submit", "task_name": "over", "commands": [execute("1")]}),
                "task_submit_response",
            )
            .await;
        assert_eq!(reply["status"], "rejected", "{reply}");
        assert!(
            reply["error"].as_str().unwrap().contains("Rate limit"),
            "{reply}"
        );
        // bob has his own allowance.
        assert_eq!(get(addr, "/tasks", &bob).await.0, 200);
        let mut bob_ws = ws(addr, &bob).await;
        let id = bob_ws.submit(task("bob's", vec![execute("1")])).await;
        bob_ws.until_complete(&id).await;
    });
}

/// What one user may hold: `max_queued` waiting tasks (then QUEUE_FULL, while another user
/// still queues) and `max_instances` instances of their own (then 429 LIMIT_REACHED, before
/// any browser starts).
#[test]
fn each_user_holds_at_most_their_share() {
    block_on(async {
        let mut config = common::config(1);
        config.user_limits = browser_control::scheduler::UserLimits {
            max_instances: 1,
            max_queued: 2,
        };
        let (scheduler, _permit) = private_scheduler_with(config).await;
        let (bob, record) = keys::mint("bob", false).unwrap();
        scheduler.accounts().add_key(&record).await.unwrap();
        let mut server_config = ServerConfig {
            api_keys: true,
            ..loopback_config()
        };
        server_config.jwt.secret = Some(SECRET.into());
        let server = start_server(&scheduler, server_config).await;
        let addr = server.local_addr();
        let ann = jwt(json!({"sub": "ann", "exp": in_an_hour()}), SECRET);

        let mut ann_ws = ws(addr, &ann).await;
        // One runs (it sleeps), two wait: ann's share of the queue.
        let running = ann_ws
            .submit(task(
                "long",
                vec![nav(json!({"action": "sleep", "duration": 3000}))],
            ))
            .await;
        let first = ann_ws
            .recv_until(|m| m["type"] == "task_progress" && m["taskId"] == running.as_str())
            .await;
        assert!(!first.is_empty());
        for n in 0..2 {
            ann_ws
                .submit(task(&format!("waits {n}"), vec![execute("1")]))
                .await;
        }
        let refused = ann_ws
            .request(
                json!({"type": "task_submit", "task_name": "one too many", "commands": [execute("1")]}),
                "task_submit_response",
            )
            .await;
        assert_eq!(refused["status"], "rejected", "{refused}");
        assert!(
            refused["error"]
                .as_str()
                .unwrap()
                .contains("Too many queued tasks: ann"),
            "{refused}"
        );
        let mut bob_ws = ws(addr, &bob).await;
        let bobs = bob_ws.submit(task("bob's", vec![execute("2")])).await;
        bob_ws.until_complete(&bobs).await;

        // Instances: one of her own, then refused without starting a browser.
        let (status, created) =
            http(addr, reqwest::Method::POST, "/instances", Some(&ann), None).await;
        assert_eq!(status, 201, "{created}");
        let (status, refused) =
            http(addr, reqwest::Method::POST, "/instances", Some(&ann), None).await;
        assert_eq!(status, 429, "{refused}");
        assert_eq!(refused["error"]["code"], "LIMIT_REACHED");
        assert_eq!(
            scheduler.instances().await.len(),
            2,
            "no third browser started"
        );
        server.shutdown().await;
    });
}
