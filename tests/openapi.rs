//! The OpenAPI document (`GET /api/openapi.json`) and Swagger UI (`/api/docs/`), checked by real
//! tools against a real server and browser: the document is valid OpenAPI 3.1
//! (openapi-spec-validator), it names every route the router serves with the methods the router
//! takes, schemathesis finds no 5xx and no answer outside the document against a live `serve`,
//! and Swagger UI, loaded in headless Chromium (driven by our own engine) under its own strict
//! CSP, lists the operations and runs `GET /health` from "Try it out" → "Execute".
//!
//! The checkers come from PyPI through tools/openapi-check (a venv made once, then offline).
//! When they cannot be installed these tests say so and pass, unless
//! BROWSER_CONTROL_REQUIRE_TOOLS=1 (tools/test sets it), when they fail.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use browser_control::server::openapi::{DOCUMENT_PATH, UI_PATH, UI_POLICY};
use common::client::{shared_server, Client};
use common::serve::ServeProcess;
use common::*;
use serde_json::{json, Value};

/// The heavy tests take turns: two cores.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn tools_required() -> bool {
    [
        "BROWSER_CONTROL_REQUIRE_TOOLS",
        "BROWSER_CONTROL_REQUIRE_PG",
    ]
    .iter()
    .any(|name| std::env::var(name).is_ok_and(|v| v == "1"))
}

/// Runs tools/openapi-check; `None` when its checkers cannot be installed here (and that is
/// allowed). Its output is returned whatever its exit status, with that status.
async fn openapi_check(args: &[&str]) -> Option<(bool, String)> {
    let script = project_root().join("tools/openapi-check");
    let install = tokio::process::Command::new(&script)
        .arg("install")
        .output()
        .await
        .expect("tools/openapi-check runs");
    if !install.status.success() {
        let why = String::from_utf8_lossy(&install.stderr).to_string();
        assert!(
            !tools_required(),
            "the OpenAPI checkers could not be installed (BROWSER_CONTROL_REQUIRE_TOOLS=1): {why}"
        );
        eprintln!("SKIPPED: the OpenAPI checkers could not be installed: {why}");
        return None;
    }
    let output = tokio::time::timeout(
        Duration::from_secs(600),
        tokio::process::Command::new(&script)
            .args(args)
            .current_dir(env!("CARGO_TARGET_TMPDIR"))
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("tools/openapi-check ends within 10 minutes")
    .expect("tools/openapi-check runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Some((output.status.success(), text))
}

async fn document(addr: SocketAddr) -> Value {
    let response = reqwest::get(format!("http://{addr}{DOCUMENT_PATH}"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    response.json().await.unwrap()
}

#[test]
fn the_document_is_valid_openapi_3_1() {
    block_on(async {
        let addr = shared_server().await;
        let doc = document(addr).await;
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
        let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("openapi.json");
        std::fs::write(&file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
        let Some((ok, output)) = openapi_check(&["validate", file.to_str().unwrap()]).await else {
            return;
        };
        assert!(ok, "openapi-spec-validator refused the document:\n{output}");
        assert!(output.contains(": OK"), "{output}");

        // The guard's answers and the error shape are shared components.
        let components = &doc["components"];
        for name in [
            "Unauthorized",
            "Forbidden",
            "RateLimited",
            "PayloadTooLarge",
        ] {
            assert!(components["responses"].get(name).is_some(), "{name}");
        }
        assert!(components["responses"]["RateLimited"]["headers"]
            .get("Retry-After")
            .is_some());
        assert_eq!(
            doc["paths"]["/tasks"]["post"]["responses"]["429"]["$ref"],
            "#/components/responses/RateLimited"
        );
        assert_eq!(
            doc["paths"]["/tasks/{id}"]["get"]["responses"]["404"]["content"]["application/json"]
                ["schema"]["$ref"],
            "#/components/schemas/ErrorBody"
        );
        let security: Vec<String> = doc["security"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r.as_object().unwrap().keys().cloned())
            .collect();
        assert!(
            security.contains(&"bearerAuth".to_string())
                && security.contains(&"apiKey".to_string()),
            "{security:?}"
        );
    })
}

/// The route templates `fn router` registers (`.route("…"`, `.route_service("…"`), read from
/// the source of the functions that build it: src/server/mod.rs's `router`, the routers it
/// merges (src/mcp/sse.rs's, and the document's own, whose paths are its constants).
fn routed_paths() -> BTreeSet<String> {
    let source = |file: &str| std::fs::read_to_string(project_root().join(file)).unwrap();
    let body_of = |text: &str, start: &str| -> String {
        let from = text
            .find(start)
            .unwrap_or_else(|| panic!("`{start}` is no longer there: update this test"));
        // The function ends at the first line that is a lone `}` after it.
        let rest = &text[from..];
        let end = rest.find("\n}\n").unwrap_or(rest.len());
        rest[..end].to_string()
    };
    let literals = |body: &str, call: &str| -> Vec<String> {
        body.match_indices(call)
            .map(|(at, _)| {
                let rest = &body[at + call.len()..];
                let rest = rest.trim_start();
                let rest = rest
                    .strip_prefix('"')
                    .unwrap_or_else(|| panic!("{call} without a literal path: {rest:.60}"));
                rest[..rest.find('"').unwrap()].to_string()
            })
            .collect()
    };
    let server = body_of(&source("src/server/mod.rs"), "\nfn router(");
    let sse = body_of(&source("src/mcp/sse.rs"), "pub fn router<S>(");
    let agent = body_of(&source("src/server/agent/mod.rs"), "pub fn router(");
    let external = body_of(&source("src/server/external/mod.rs"), "pub fn router(");
    // Every router merged in must be one this test reads.
    let merged: Vec<&str> = server
        .match_indices(".merge(")
        .map(|(at, _)| at)
        .map(|at| {
            let rest = &server[at + ".merge(".len()..];
            rest[..rest.find('(').unwrap()].trim()
        })
        .collect();
    assert_eq!(
        merged,
        [
            "crate::mcp::sse::router",
            "openapi::router",
            "agent::router",
            "external::router"
        ],
        "fn router merges a router this test does not read: document its routes and add it here"
    );
    for unknown in [".nest(", ".nest_service(", ".fallback(", ".route_layer("] {
        assert!(
            !server.contains(unknown),
            "fn router uses {unknown}: document what it serves and teach this test"
        );
    }
    let mut paths = BTreeSet::new();
    for body in [&server, &sse, &agent, &external] {
        paths.extend(literals(body, ".route("));
        paths.extend(literals(body, ".route_service("));
    }
    assert!(paths.len() >= 17, "too few routes found: {paths:?}");
    // utoipa-swagger-ui's: the document, `/api/docs` (a redirect) and `/api/docs/{*rest}`.
    paths.insert(DOCUMENT_PATH.to_string());
    paths.insert(UI_PATH.trim_end_matches('/').to_string());
    paths.insert(format!("{UI_PATH}{{file}}"));
    paths
}

#[test]
fn every_route_the_router_serves_is_documented_with_its_methods() {
    block_on(async {
        let addr = shared_server().await;
        let doc = document(addr).await;
        let documented: BTreeMap<String, BTreeSet<String>> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(path, item)| {
                let methods = item
                    .as_object()
                    .unwrap()
                    .keys()
                    .filter(|k| {
                        ["get", "post", "put", "delete", "patch", "options", "head"]
                            .contains(&k.as_str())
                    })
                    .map(|m| m.to_uppercase())
                    .collect();
                (path.clone(), methods)
            })
            .collect();
        let routed = routed_paths();
        let documented_paths: BTreeSet<String> = documented.keys().cloned().collect();
        let missing: Vec<_> = routed.difference(&documented_paths).collect();
        assert!(
            missing.is_empty(),
            "routes the router serves that the document does not name: {missing:?} \
             (add #[utoipa::path] to their handlers and list them in src/server/openapi.rs)"
        );
        let unrouted: Vec<_> = documented_paths.difference(&routed).collect();
        assert!(
            unrouted.is_empty(),
            "documented paths the router does not serve: {unrouted:?}"
        );

        // The methods: the router answers a method it does not take with 405 and `Allow`.
        let http = reqwest::Client::new();
        for (path, methods) in &documented {
            if path == "/mcp" {
                // rmcp's service answers every method itself.
                continue;
            }
            let concrete = path
                .replace("{id}", "x")
                .replace("{name}", "browser_navigate")
                .replace("{file}", "index.html");
            let response = http
                .put(format!("http://{addr}{concrete}"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 405, "PUT {path}");
            let allow: BTreeSet<String> = response.headers()["allow"]
                .to_str()
                .unwrap()
                .split(',')
                .map(|m| m.trim().to_uppercase())
                .filter(|m| m != "HEAD")
                .collect();
            assert_eq!(
                &allow, methods,
                "{path}: the router's methods vs the document's"
            );
        }
    })
}

#[test]
fn schemathesis_finds_no_server_error_and_no_answer_outside_the_document() {
    block_on(async {
        let _turn = TURN.lock().await;
        // A server of its own (the real binary, its own Chromium): pages only on loopback, so no
        // generated URL leaves the machine, and short command timeouts.
        let mut server = ServeProcess::start(&[
            "--store",
            "memory",
            "--timeout",
            "5000",
            "--allowed-origins",
            "127.0.0.1;localhost",
        ])
        .await;
        let addr = server.addr;
        // A finished task with a success, an error and a skipped command, for `{id}`; a file of
        // Swagger UI for `{file}`.
        let mut agent = Client::connect(addr).await;
        let id = agent
            .submit(task(
                "for schemathesis",
                vec![
                    execute("return 6 * 7"),
                    content(json!({"action": "get_text", "selector": "#nowhere", "timeout": 500})),
                    execute("return 1"),
                ],
            ))
            .await;
        agent.until_complete(&id).await;
        let config = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("schemathesis.toml");
        std::fs::write(
            &config,
            format!("[parameters]\n\"path.id\" = \"{id}\"\n\"path.file\" = \"swagger-ui.css\"\n"),
        )
        .unwrap();
        let url = format!("http://{addr}{DOCUMENT_PATH}");
        let result = openapi_check(&[
            "fuzz",
            "--config-file",
            config.to_str().unwrap(),
            &url,
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance",
            // The coverage phase trips over a CPython 3.11 AST bug inside hypothesis
            // ("AST constructor recursion depth mismatch"). Stateful follows the document's
            // links (a submitted task read and cancelled by its taskId) and inferred ones.
            "--phases",
            "examples,fuzzing,stateful",
            "--max-examples",
            "100",
            "--seed",
            "7",
            "--workers",
            "2",
            "--request-timeout",
            "60",
            // Not REST, and /sse streams for as long as its session (and its browser) lives.
            "--exclude-tag",
            "mcp",
            // Each would start a browser (or attach to whatever endpoint is generated), or close
            // the server's only one.
            "--exclude-operation-id",
            "createInstance",
            "--exclude-operation-id",
            "closeInstance",
        ])
        .await;
        let status = server.terminate().await;
        let Some((ok, output)) = result else { return };
        assert!(ok, "schemathesis found problems:\n{output}");
        eprintln!("{output}");
        assert!(output.contains("passed"), "{output}");
        assert!(status.success(), "serve exited {status:?}");
    })
}

fn wait_for(selector: &str) -> Value {
    nav(json!({"action": "wait_for", "selector": selector, "timeout": 60000}))
}

fn click(selector: &str) -> Value {
    interact(json!({"action": "click", "selector": selector}))
}

#[test]
fn swagger_ui_lists_the_routes_and_runs_get_health_under_its_policy() {
    block_on(async {
        let _turn = TURN.lock().await;
        let addr = shared_server().await;
        let base = format!("http://{addr}");

        // Its page: the policy, and no inline script for it to refuse.
        let page = reqwest::get(format!("{base}{UI_PATH}")).await.unwrap();
        assert_eq!(page.status(), 200);
        assert_eq!(page.headers()["content-security-policy"], UI_POLICY);
        let html = page.text().await.unwrap();
        assert!(html.contains("swagger-initializer.js"), "{html}");
        for script in html.split("<script").skip(1) {
            let tag = &script[..script.find('>').unwrap()];
            assert!(tag.contains("src="), "an inline script: <script{tag}>");
        }
        let operations: usize = document(addr).await["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|item| item.as_object().unwrap().len())
            .sum();

        let health = "#operations-server-health";
        let viewer = run(
            "Swagger UI",
            vec![
                nav(json!({"action": "goto", "url": format!("{base}/api/docs")})),
                wait_for(health),
                wait_for("#operations-tasks-submitTask"),
                click(&format!("{health} .opblock-summary-control")),
                wait_for(&format!("{health} .try-out__btn")),
                click(&format!("{health} .try-out__btn")),
                wait_for(&format!("{health} button.execute")),
                click(&format!("{health} button.execute")),
                wait_for(&format!("{health} .live-responses-table tr.response .response-col_status")),
                content(json!({"action": "get_text",
                    "selector": format!("{health} .live-responses-table tr.response .response-col_status")})),
                execute(
                    "const reports = await new Promise(resolve => {
                       const seen = [];
                       const observer = new ReportingObserver(
                         rs => seen.push(...rs), {types: ['csp-violation'], buffered: true});
                       observer.observe();
                       setTimeout(() => { seen.push(...observer.takeRecords()); resolve(seen); }, 300);
                     });
                     return {
                       url: location.pathname,
                       operations: document.querySelectorAll('.opblock').length,
                       violations: reports.map(r => r.body.effectiveDirective + ' ' + r.body.blockedURL),
                       styled: getComputedStyle(document.querySelector('.opblock-tag')).display,
                       inline: [...document.querySelectorAll('style')].map(s => s.textContent.slice(0, 300)),
                       samples: reports.map(r => r.body.sample + ' @' + r.body.sourceFile + ':' + r.body.lineNumber),
                     };",
                ),
                content(json!({"action": "screenshot", "fullPage": false})),
            ],
        )
        .await;
        assert_completed(&viewer);
        let status = text_of(&viewer, 9);
        assert!(status.trim().starts_with("200"), "{status}");
        let page: Value = serde_json::from_str(&text_of(&viewer, 10)).unwrap();
        assert_eq!(page["url"], UI_PATH, "{page}");
        assert_eq!(page["operations"], operations, "{page}");
        assert_eq!(page["violations"], json!([]), "CSP refusals: {page}");
        assert_eq!(page["styled"], "flex", "swagger-ui.css applies: {page}");
        let png = image_of(&viewer, 11);
        use base64::Engine;
        let artifact = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("swagger.png");
        std::fs::write(
            &artifact,
            base64::engine::general_purpose::STANDARD
                .decode(png)
                .unwrap(),
        )
        .unwrap();
    })
}
