//! The origin's documented calls. MoonsurfAI/browser-control, whose specs this server follows,
//! documents its tools with calls agents have read (docs/markdown/tools/*.md, its REST API and
//! task docs). Each test here sends those calls, as the docs write them, to a real server (REST
//! `POST /api/tools/{name}`, the task WebSocket, `POST /tasks`) in front of real Chromium, and
//! checks that each does what the origin's docs say it does: on the page, not only in the answer.
//!
//! The calls run one test at a time on the shared browser (a test's goto must not be another's
//! page); those that change what the page believes about its device, network or tabs run on a
//! private browser.

mod common;

use std::net::SocketAddr;

use base64::Engine;
use browser_control::scheduler::Scheduler;
use common::client::{loopback_config, start_server, Client};
use common::*;
use serde_json::{json, Value};
use tokio::sync::{Mutex, MutexGuard, OnceCell};

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

/// One test at a time on the shared browser.
async fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::const_new(());
    SERIAL.lock().await
}

/// `POST /api/tools/{tool}` with the arguments as the body: (status, answer).
async fn call_at(addr: SocketAddr, tool: &str, args: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/api/tools/{tool}"))
        .json(&args)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// A call that must succeed, as the origin's REST docs answer one: `success: true` and the
/// result.
async fn ok_at(addr: SocketAddr, tool: &str, args: Value) -> Value {
    let (status, body) = call_at(addr, tool, args.clone()).await;
    assert_eq!(status, 200, "{tool} {args}: {body}");
    assert_eq!(body["success"], true, "{body}");
    body
}

async fn ok(tool: &str, args: Value) -> Value {
    ok_at(shared().await, tool, args).await
}

/// A call that must fail: (status, code, message), with `success: false` beside the error.
async fn fails_at(addr: SocketAddr, tool: &str, args: Value) -> (u16, String, String) {
    let (status, body) = call_at(addr, tool, args.clone()).await;
    assert_ne!(status, 200, "{tool} {args} succeeded: {body}");
    assert_eq!(body["success"], false, "{body}");
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

async fn fails(tool: &str, args: Value) -> (u16, String, String) {
    fails_at(shared().await, tool, args).await
}

/// The first text of an answer.
fn text(body: &Value) -> String {
    body["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text in {body}"))
        .to_string()
}

/// The first text of an answer, as the JSON it holds.
fn value(body: &Value) -> Value {
    serde_json::from_str(&text(body)).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// The origin's way to read the page: browser_execute with an expression, no action.
async fn eval_at(addr: SocketAddr, expression: &str) -> Value {
    value(&ok_at(addr, "browser_execute", json!({ "expression": expression })).await)
}

async fn eval(expression: &str) -> Value {
    eval_at(shared().await, expression).await
}

async fn open_at(addr: SocketAddr, page: &str) {
    ok_at(
        addr,
        "browser_navigate",
        json!({"action": "goto", "url": url(page)}),
    )
    .await;
}

async fn open(page: &str) {
    open_at(shared().await, page).await
}

/// A private browser with a server in front of it.
async fn private() -> (Scheduler, tokio::sync::SemaphorePermit<'static>, SocketAddr) {
    let (scheduler, permit) = private_scheduler().await;
    let addr = start_server(&scheduler, loopback_config())
        .await
        .local_addr();
    (scheduler, permit, addr)
}

#[test]
fn rest_answers_say_success_and_take_the_instance_in_the_body() {
    block_on(async {
        let _one = serial().await;
        // docs/markdown/api-reference/rest-api.md: the instance in the body, `success` first.
        let body = ok(
            "browser_navigate",
            json!({"action": "goto", "instanceId": "inst_1", "url": url("origin.html"), "waitUntil": "networkidle"}),
        )
        .await;
        assert_eq!(body["instanceId"], "inst_1");
        assert!(text(&body).contains("HTTP 200"), "{body}");
        let first = body.as_object().unwrap().keys().next().cloned();
        assert_eq!(first.as_deref(), Some("success"));
        // Errors keep their shape, with success: false beside it.
        let (status, code, message) = fails(
            "browser_navigate",
            json!({"action": "goto", "instanceId": "inst_9", "url": url("origin.html")}),
        )
        .await;
        assert_eq!(
            (status, code.as_str()),
            (404, "UNKNOWN_INSTANCE"),
            "{message}"
        );
        let (status, code, _) = fails("nonexistent", json!({})).await;
        assert_eq!((status, code.as_str()), (404, "UNKNOWN_TOOL"));
        let r = reqwest::Client::new()
            .post(format!(
                "http://{}/api/tools/browser_navigate",
                shared().await
            ))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["success"], false, "{body}");
        assert!(body["error"]["message"].is_string(), "{body}");
        // The query and the body must agree.
        let (status, _, message) = fails_at(
            shared().await,
            "browser_navigate",
            json!({"action": "reload", "instanceId": ""}),
        )
        .await;
        assert_eq!(status, 400, "{message}");
        let r = reqwest::Client::new()
            .post(format!(
                "http://{}/api/tools/browser_navigate?instanceId=inst_1",
                shared().await
            ))
            .json(&json!({"action": "reload", "instanceId": "inst_2"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400);
        let body: Value = r.json().await.unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("the body says 'inst_2' and the query 'inst_1'"),
            "{body}"
        );
    });
}

#[test]
fn what_the_probe_found_dropped_is_refused_or_honoured() {
    block_on(async {
        let _one = serial().await;
        let (status, code, message) = fails(
            "browser_navigate",
            json!({"action": "goto", "url": url("origin.html"), "wait_untill": "load"}),
        )
        .await;
        assert_eq!((status, code.as_str()), (400, "INVALID_ARGUMENTS"));
        assert_eq!(
            message,
            "wait_untill: unknown field; did you mean waitUntil?"
        );
        let (status, _, message) = fails(
            "browser_navigate",
            json!({"action": "goto", "url": "not a url"}),
        )
        .await;
        assert_eq!(status, 400);
        assert!(
            message.starts_with("url: 'not a url' is not an absolute URL"),
            "{message}"
        );
        for bad in [
            json!(1.5),
            json!(1e20),
            json!(18446744073709551616.0_f64),
            json!(null),
        ] {
            let (status, _, message) = fails(
                "browser_navigate",
                json!({"action": "wait", "selector": "h1", "timeout": bad}),
            )
            .await;
            assert_eq!(status, 400, "{bad}");
            assert!(message.starts_with("timeout: "), "{bad}: {message}");
        }
    });
}

#[test]
fn navigate_waits_for_a_selector_or_a_javascript_condition() {
    block_on(async {
        let _one = serial().await;
        open("origin.html").await;
        // browser-navigate.md, "Wait for CSS Selector" and "Wait with Timeout".
        let body = ok(
            "browser_navigate",
            json!({"action": "wait", "selector": ".content-loaded", "timeout": 10000}),
        )
        .await;
        assert!(text(&body).contains("is visible"), "{body}");
        // "Wait for API-Loaded Content": until the expression is true.
        ok(
            "browser_navigate",
            json!({"action": "reload", "ignoreCache": true}),
        )
        .await;
        assert_eq!(eval("window.dataLoaded").await, json!(false));
        let body = ok(
            "browser_navigate",
            json!({
                "action": "wait",
                "expression": "window.dataLoaded === true && document.querySelectorAll('.item').length > 5",
                "timeout": 15000
            }),
        )
        .await;
        assert!(text(&body).contains("became true after"), "{body}");
        assert_eq!(
            eval("document.querySelectorAll('.item').length").await,
            json!(6)
        );
        ok(
            "browser_navigate",
            json!({"action": "wait", "expression": "document.readyState === 'complete'"}),
        )
        .await;
        // A condition that never holds ends at its deadline, saying so.
        let (status, code, message) = fails(
            "browser_navigate",
            json!({"action": "wait", "expression": "window.never === true", "timeout": 600}),
        )
        .await;
        assert_eq!((status, code.as_str()), (504, "COMMAND_TIMEOUT"));
        assert!(
            message.contains("waiting for window.never === true"),
            "{message}"
        );
        let (status, _, message) = fails(
            "browser_navigate",
            json!({"action": "wait", "expression": "((", "timeout": 2000}),
        )
        .await;
        assert_eq!(status, 422, "{message}");
        assert!(message.contains("does not compile"), "{message}");
    });
}

#[test]
fn content_reads_as_the_origin_names_its_calls() {
    block_on(async {
        let _one = serial().await;
        open("origin.html").await;
        // browser-content.md, "Get Full HTML", "Get Text Only", "Get Specific Element's Content".
        let html = text(
            &ok(
                "browser_content",
                json!({"action": "get", "format": "html"}),
            )
            .await,
        );
        assert!(html.starts_with("<!DOCTYPE html>"), "{html:.80}");
        let page = text(
            &ok(
                "browser_content",
                json!({"action": "get", "format": "text"}),
            )
            .await,
        );
        assert!(page.contains("The main content."), "{page:.200}");
        assert!(!page.contains("<p"), "{page:.200}");
        let h1 = text(
            &ok(
                "browser_content",
                json!({"action": "get", "selector": "h1"}),
            )
            .await,
        );
        assert_eq!(h1, r#"<h1 id="title">Origin fixture</h1>"#);
        let h1 = text(
            &ok(
                "browser_content",
                json!({"action": "get", "selector": "#main-content", "format": "text"}),
            )
            .await,
        );
        assert_eq!(h1, "The main content.");
        // "Get href" and "Get data attribute": the attribute is named `attribute`.
        let href = ok(
            "browser_content",
            json!({"action": "attribute", "selector": "a.main-link", "attribute": "href"}),
        )
        .await;
        assert_eq!(value(&href), json!("/next.html"));
        let id = ok(
            "browser_content",
            json!({"action": "attribute", "selector": "a.main-link", "attribute": "data-product-id"}),
        )
        .await;
        assert_eq!(value(&id), json!("123"));
        // "Full Page Screenshot": the whole page (4000 px tall), not the viewport.
        let shot = ok(
            "browser_content",
            json!({"action": "screenshot", "fullPage": true}),
        )
        .await;
        let (_, height) = png_size(shot["result"]["content"][0]["data"].as_str().unwrap());
        assert!(height >= 4000, "{height}");
        // PDFs: "With Backgrounds", "Custom Paper Size", and REST's `format: A4`.
        for args in [
            json!({"action": "pdf", "printBackground": true, "landscape": true}),
            json!({"action": "pdf", "paperWidth": 8.5, "paperHeight": 11, "scale": 0.8}),
            json!({"action": "pdf", "format": "A4", "landscape": true}),
        ] {
            let pdf = ok("browser_content", args.clone()).await;
            let resource = &pdf["result"]["content"][1]["resource"];
            assert_eq!(resource["mimeType"], "application/pdf", "{args}");
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(resource["blob"].as_str().unwrap())
                .unwrap();
            assert!(bytes.starts_with(b"%PDF"), "{args}");
        }
        let said = text(
            &ok(
                "browser_content",
                json!({"action": "pdf", "paperWidth": 8.5, "paperHeight": 11, "scale": 0.8}),
            )
            .await,
        );
        assert!(
            said.contains("8.5×11 in") && said.contains("scale 0.8"),
            "{said}"
        );
        // get_viewport_dom "With Limits" and "Filter Small Elements".
        let dom = value(
            &ok(
                "browser_content",
                json!({"action": "get_viewport_dom", "maxElements": 3, "domDepth": 3}),
            )
            .await,
        );
        assert_eq!(dom["elements"].as_array().unwrap().len(), 3, "{dom}");
        assert_eq!(dom["truncated"], true);
        let dom = value(
            &ok(
                "browser_content",
                json!({"action": "get_viewport_dom", "minSize": 70}),
            )
            .await,
        );
        let elements = dom["elements"].as_array().unwrap();
        assert!(!elements.is_empty(), "{dom}");
        for e in elements {
            assert!(
                e["box"][2].as_f64().unwrap() >= 70.0 && e["box"][3].as_f64().unwrap() >= 70.0,
                "{e}"
            );
        }
        assert!(
            elements
                .iter()
                .any(|e| e["text"] == "A banner, wide and low"),
            "{dom}"
        );
    });
}

#[test]
fn interact_does_what_the_origin_says() {
    block_on(async {
        let _one = serial().await;
        open("origin.html").await;
        // browser-interact.md, "Keyboard Shortcut (Ctrl+A)", "Shift+Enter", and REST's
        // `modifiers: ["ctrl"]`: the keys are held.
        ok(
            "browser_interact",
            json!({"action": "click", "selector": "#keys-input"}),
        )
        .await;
        for args in [
            json!({"action": "press", "key": "a", "ctrl": true}),
            json!({"action": "press", "key": "Enter", "shift": true}),
            json!({"action": "press", "key": "c", "meta": true}),
            json!({"action": "press", "instanceId": "inst_1", "key": "a", "modifiers": ["ctrl"]}),
            json!({"action": "press", "key": "Tab"}),
        ] {
            ok("browser_interact", args).await;
        }
        assert_eq!(
            eval("window.keys.join(',')").await,
            json!("Control+a,Shift+Enter,Meta+c,Control+a,Tab")
        );
        // "Scroll Down", "Scroll Up", "Scroll Right": deltas in pixels.
        ok(
            "browser_interact",
            json!({"action": "scroll", "deltaY": 500}),
        )
        .await;
        assert_eq!(eval("Math.round(scrollY)").await, json!(500));
        ok(
            "browser_interact",
            json!({"action": "scroll", "deltaY": -500}),
        )
        .await;
        assert_eq!(eval("Math.round(scrollY)").await, json!(0));
        let body = ok(
            "browser_interact",
            json!({"action": "scroll", "deltaX": 300}),
        )
        .await;
        assert!(text(&body).contains("x=300"), "{body}");
        ok(
            "browser_interact",
            json!({"action": "scroll", "deltaX": -300}),
        )
        .await;
        // "Scroll Within Element": the container scrolls, the page does not.
        let body = ok(
            "browser_interact",
            json!({"action": "scroll", "selector": ".scrollable-container", "deltaY": 200}),
        )
        .await;
        assert!(text(&body).contains("div#box"), "{body}");
        assert_eq!(
            eval("document.getElementById('box').scrollTop").await,
            json!(200)
        );
        // "Select by Label" and "Select by Index": the label, not a value equal to it.
        ok(
            "browser_interact",
            json!({"action": "select", "selector": "#country", "label": "France"}),
        )
        .await;
        assert_eq!(
            eval("document.querySelector('#country').value").await,
            json!("fr")
        );
        ok(
            "browser_interact",
            json!({"action": "select", "selector": "#country", "value": "France"}),
        )
        .await;
        assert_eq!(
            eval("document.querySelector('#country').selectedIndex").await,
            json!(1)
        );
        ok(
            "browser_interact",
            json!({"action": "select", "selector": "#country", "index": 3}),
        )
        .await;
        assert_eq!(
            eval("document.querySelector('#country').value").await,
            json!("de")
        );
        assert_eq!(eval("window.changes").await, json!(3));
        let (status, _, message) = fails(
            "browser_interact",
            json!({"action": "select", "selector": "#country", "label": "Atlantis"}),
        )
        .await;
        assert_eq!(status, 422);
        assert!(message.contains("0: United States"), "{message}");
        // "Custom Delay": one character at a time; without delay, one input.
        ok(
            "browser_interact",
            json!({"action": "type", "selector": "#search", "text": "slow", "delay": 30}),
        )
        .await;
        assert_eq!(eval("window.inputs").await, json!(4));
        ok(
            "browser_interact",
            json!({"action": "type", "selector": "#search", "text": " typing", "delay": 0}),
        )
        .await;
        assert_eq!(eval("window.inputs").await, json!(5));
        assert_eq!(
            eval("document.querySelector('#search').value").await,
            json!("slow typing")
        );
    });
}

#[test]
fn execute_evaluates_an_expression_without_an_action() {
    block_on(async {
        let _one = serial().await;
        open("origin.html").await;
        // browser-execute.md: "Get Page Title", "Return Object", "Fetch API Data".
        let title = ok(
            "browser_execute",
            json!({"instanceId": "inst_1", "expression": "document.title"}),
        )
        .await;
        assert_eq!(value(&title), json!("Origin fixture"));
        assert_eq!(
            eval("({ title: document.title, scrollY: window.scrollY })").await,
            json!({"title": "Origin fixture", "scrollY": 0})
        );
        let fetched = ok(
            "browser_execute",
            json!({"expression": "fetch('origin-dot.svg').then(r => r.status)", "awaitPromise": true}),
        )
        .await;
        assert_eq!(value(&fetched), json!(200));
        assert_eq!(
            eval("(() => { const rows = [1, 2, 3]; return rows.map(r => r * 2); })()").await,
            json!([2, 4, 6])
        );
    });
}

#[test]
fn network_calls_as_the_origin_writes_them() {
    block_on(async {
        let _one = serial().await;
        open("origin.html").await;
        let site = url("");
        // browser-network.md "Clear Specific Domain": only that domain's cookies go.
        for (name, at) in [
            ("theirs", "https://example.com"),
            ("sub", "https://www.example.com"),
            ("ours", site.as_str()),
        ] {
            ok(
                "browser_network",
                json!({"action": "set_cookie", "name": name, "value": "1", "url": at}),
            )
            .await;
        }
        let names = |cookies: Value| -> Vec<String> {
            let mut names: Vec<String> = cookies
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_string())
                .collect();
            names.sort();
            names
        };
        let urls = json!(["https://example.com", "https://www.example.com", site]);
        let all = value(
            &ok(
                "browser_network",
                json!({"action": "get_cookies", "urls": urls}),
            )
            .await,
        );
        assert_eq!(names(all), ["ours", "sub", "theirs"]);
        let said = ok(
            "browser_network",
            json!({"action": "clear_cookies", "domain": "example.com"}),
        )
        .await;
        assert_eq!(text(&said), "Cleared 2 cookie(s) of example.com");
        let left = value(
            &ok(
                "browser_network",
                json!({"action": "get_cookies", "urls": urls}),
            )
            .await,
        );
        assert_eq!(names(left), ["ours"]);
        ok(
            "browser_network",
            json!({"action": "clear_cookies", "domain": "127.0.0.1"}),
        )
        .await;
        // Storage by storageType: session reads sessionStorage, all reads both.
        for (area, key) in [
            ("localStorage", "user_settings"),
            ("sessionStorage", "form_data"),
        ] {
            ok(
                "browser_network",
                json!({"action": "set_storage", "storageType": area, "key": key, "value": "{\"step\":2}"}),
            )
            .await;
        }
        let session = value(
            &ok(
                "browser_network",
                json!({"action": "get_storage", "storageType": "sessionStorage"}),
            )
            .await,
        );
        assert_eq!(session, json!({"form_data": "{\"step\":2}"}));
        let local = value(
            &ok(
                "browser_network",
                json!({"action": "get_storage", "storageType": "local", "key": "user_settings"}),
            )
            .await,
        );
        assert_eq!(local, json!("{\"step\":2}"));
        let both = value(
            &ok(
                "browser_network",
                json!({"action": "get_storage", "storageType": "all"}),
            )
            .await,
        );
        assert_eq!(
            both,
            json!({"localStorage": {"user_settings": "{\"step\":2}"}, "sessionStorage": {"form_data": "{\"step\":2}"}})
        );
        ok(
            "browser_network",
            json!({"action": "clear_storage", "storageType": "all"}),
        )
        .await;
        assert_eq!(
            value(
                &ok(
                    "browser_network",
                    json!({"action": "get_storage", "storageType": "all"})
                )
                .await
            ),
            json!({"localStorage": {}, "sessionStorage": {}})
        );
        // "Block Images to Speed Up Loading": {urlPattern, resourceType} rules.
        ok(
            "browser_network",
            json!({"action": "intercept", "enabled": true, "patterns": [{"urlPattern": "*", "resourceType": "Image"}]}),
        )
        .await;
        open("origin.html").await;
        assert_eq!(eval("window.imgState").await, json!("error"));
        // A script of the page is not an image: it still loads.
        assert_eq!(
            eval("typeof fetch('origin-dot.svg').then").await,
            json!("function")
        );
        ok(
            "browser_network",
            json!({"action": "intercept", "enabled": false}),
        )
        .await;
        open("origin.html").await;
        assert_eq!(eval("window.imgState").await, json!("loaded"));
        // REST's single `pattern` and `resourceType` (lower case).
        ok(
            "browser_network",
            json!({"action": "intercept", "pattern": "*origin-dot*", "resourceType": "image"}),
        )
        .await;
        open("origin.html").await;
        assert_eq!(eval("window.imgState").await, json!("error"));
        ok(
            "browser_network",
            json!({"action": "intercept", "enabled": false}),
        )
        .await;
    });
}

#[test]
fn debug_calls_as_the_origin_writes_them() {
    block_on(async {
        let _one = serial().await;
        ok(
            "browser_debug",
            json!({"action": "console", "level": "all", "clear": true}),
        )
        .await;
        open("origin.html").await;
        // browser-debug.md "Get and Clear Logs" with level all, then "Get Error Logs Only".
        let logs = value(
            &ok(
                "browser_debug",
                json!({"action": "console", "level": "all", "clear": false}),
            )
            .await,
        );
        let levels: Vec<&str> = logs
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["text"].as_str().unwrap_or_default().starts_with("origin"))
            .map(|m| m["level"].as_str().unwrap())
            .collect();
        assert_eq!(levels, ["log", "warning", "error"], "{logs}");
        let errors = value(
            &ok(
                "browser_debug",
                json!({"action": "console", "level": "error"}),
            )
            .await,
        );
        assert!(errors
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["level"] == "error"));
        // "Accept Alert/Confirm": the confirm the click opens is accepted. The answer holds for
        // the task that set it (a REST call is a task of its own), so one task does both.
        let mut client = Client::connect(shared().await).await;
        for (answer, said, seen) in [
            ("accept", "accepted", "confirmed"),
            ("dismiss", "dismissed", "refused"),
        ] {
            let id = client
                .submit(json!({
                    "task_name": format!("dialog {answer}"),
                    "commands": [
                        {"tool_name": "browser_debug", "args": {"action": "dialog", "dialogAction": answer}},
                        {"tool_name": "browser_interact", "args": {"action": "click", "selector": "#delete"}},
                        {"tool_name": "browser_content", "args": {"action": "get", "selector": "#answer", "format": "text"}}
                    ]
                }))
                .await;
            let done = client.until_complete(&id).await.pop().unwrap();
            assert_eq!(done["status"], "completed", "{done}");
            assert_eq!(
                done["results"][0]["result"]["content"][0]["text"],
                format!("No dialog was open; the next dialogs are {said}")
            );
            assert_eq!(
                done["results"][2]["result"]["content"][0]["text"], seen,
                "{done}"
            );
        }
        // "Measure Page Performance": a trace around a navigation.
        ok("browser_debug", json!({"action": "trace_start"})).await;
        let (status, _, message) = fails("browser_debug", json!({"action": "trace_start"})).await;
        assert_eq!(status, 422);
        assert!(message.contains("already running"), "{message}");
        open("origin.html").await;
        ok(
            "browser_navigate",
            json!({"action": "wait", "expression": "document.readyState === 'complete'"}),
        )
        .await;
        let trace = ok("browser_debug", json!({"action": "trace_stop"})).await;
        let resource = &trace["result"]["content"][1]["resource"];
        assert_eq!(resource["mimeType"], "application/json", "{trace}");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(resource["blob"].as_str().unwrap())
            .unwrap();
        let events: Value = serde_json::from_slice(&bytes).expect("a JSON trace");
        assert!(
            events["traceEvents"]
                .as_array()
                .is_some_and(|e| !e.is_empty()),
            "{:.300}",
            String::from_utf8_lossy(&bytes)
        );
        let (status, _, message) = fails("browser_debug", json!({"action": "trace_stop"})).await;
        assert_eq!(status, 422);
        assert!(message.contains("no trace is running"), "{message}");
        // "Download and Verify File": list by state, then wait for the download by its id.
        open("tools.html").await;
        ok(
            "browser_interact",
            json!({"action": "click", "selector": "#dl"}),
        )
        .await;
        let done = value(
            &ok(
                "browser_debug",
                json!({"action": "download_wait", "timeout": 15000}),
            )
            .await,
        );
        assert_eq!(done["state"], "completed", "{done}");
        let complete = value(
            &ok(
                "browser_debug",
                json!({"action": "downloads", "state": "complete"}),
            )
            .await,
        );
        let ours = complete
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["path"] == done["path"])
            .unwrap_or_else(|| panic!("{complete}"))
            .clone();
        assert_eq!(ours["id"], ours["guid"]);
        let in_progress = value(
            &ok(
                "browser_debug",
                json!({"action": "downloads", "state": "in_progress"}),
            )
            .await,
        );
        assert!(in_progress
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["id"] != ours["id"]));
        let waited = value(
            &ok(
                "browser_debug",
                json!({"action": "download_wait", "downloadId": ours["id"], "timeout": 60000}),
            )
            .await,
        );
        assert_eq!(waited["id"], ours["id"]);
        assert_eq!(waited["state"], "completed");
        let (status, _, message) = fails(
            "browser_debug",
            json!({"action": "download_wait", "downloadId": "dl_xyz", "timeout": 30000}),
        )
        .await;
        assert_eq!(status, 422);
        assert!(
            message.contains("no download has the id dl_xyz"),
            "{message}"
        );
    });
}

#[test]
fn emulation_and_tabs_as_the_origin_writes_them() {
    block_on(async {
        let (_scheduler, _permit, addr) = private().await;
        // A page of a phone's width (origin.html is 3000 px wide, which a mobile viewport
        // would zoom out to show).
        open_at(addr, "tools.html").await;
        let eval = |e: &'static str| eval_at(addr, e);
        // browser-emulate.md "iPhone 14", and the REST docs' "Galaxy S23".
        ok_at(
            addr,
            "browser_emulate",
            json!({"action": "device", "device": "iPhone 14"}),
        )
        .await;
        assert_eq!(
            eval("[innerWidth, devicePixelRatio, navigator.userAgent.includes('iPhone')]").await,
            json!([390, 3, true])
        );
        ok_at(
            addr,
            "browser_emulate",
            json!({"action": "device", "device": "Samsung Galaxy S23"}),
        )
        .await;
        assert_eq!(eval("innerWidth").await, json!(360));
        // "Go Offline" / "Go Online": offline: false brings the page back.
        ok_at(
            addr,
            "browser_emulate",
            json!({"action": "offline", "offline": true}),
        )
        .await;
        assert_eq!(eval("navigator.onLine").await, json!(false));
        ok_at(
            addr,
            "browser_emulate",
            json!({"action": "offline", "offline": false}),
        )
        .await;
        assert_eq!(eval("navigator.onLine").await, json!(true));
        // "Custom Throttling" in bytes/s, and the `offline` preset.
        let said = ok_at(
            addr,
            "browser_emulate",
            json!({"action": "throttle", "downloadThroughput": 500000, "uploadThroughput": 250000, "latency": 100}),
        )
        .await;
        assert_eq!(
            text(&said),
            "Network throttled: download 4000 kbit/s, upload 2000 kbit/s, latency 100 ms"
        );
        ok_at(
            addr,
            "browser_emulate",
            json!({"action": "throttle", "preset": "offline"}),
        )
        .await;
        assert_eq!(eval("navigator.onLine").await, json!(false));
        ok_at(
            addr,
            "browser_emulate",
            json!({"action": "throttle", "preset": "none"}),
        )
        .await;
        ok_at(
            addr,
            "browser_emulate",
            json!({"action": "offline", "enabled": false}),
        )
        .await;
        assert_eq!(eval("navigator.onLine").await, json!(true));
        // "With Platform Override".
        ok_at(
            addr,
            "browser_emulate",
            json!({"action": "user_agent", "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Test", "platform": "Win32"}),
        )
        .await;
        assert_eq!(
            eval("[navigator.platform, navigator.userAgent]").await,
            json!(["Win32", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Test"])
        );
        ok_at(addr, "browser_emulate", json!({"action": "reset"})).await;

        // browser-tab.md: numeric tab ids, keepTabId.
        let opened = ok_at(
            addr,
            "browser_tab",
            json!({"action": "new", "url": url("origin.html")}),
        )
        .await;
        assert!(text(&opened).starts_with("Opened tab_2"), "{opened}");
        ok_at(
            addr,
            "browser_tab",
            json!({"action": "activate", "tabId": 1}),
        )
        .await;
        let tabs = value(&ok_at(addr, "browser_tab", json!({"action": "list"})).await);
        let active: Vec<&str> = tabs
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["active"] == true)
            .map(|t| t["tabId"].as_str().unwrap())
            .collect();
        assert_eq!(active, ["tab_1"]);
        let title = ok_at(
            addr,
            "browser_execute",
            json!({"expression": "document.title", "tabId": 2}),
        )
        .await;
        assert_eq!(value(&title), json!("Origin fixture"));
        ok_at(
            addr,
            "browser_tab",
            json!({"action": "close_others", "keepTabId": 2}),
        )
        .await;
        let tabs = value(&ok_at(addr, "browser_tab", json!({"action": "list"})).await);
        assert_eq!(tabs.as_array().unwrap().len(), 1, "{tabs}");
        assert_eq!(tabs[0]["tabId"], "tab_2");
        let (status, _, message) = fails_at(
            addr,
            "browser_tab",
            json!({"action": "close", "tabId": 124}),
        )
        .await;
        assert_eq!(status, 422, "{message}");
        assert!(message.contains("tab_124"), "{message}");
    });
}

#[test]
fn the_origins_tasks_run_over_the_websocket_and_post_tasks() {
    block_on(async {
        let _one = serial().await;
        let addr = shared().await;
        // docs/markdown/tools/sleep.md "Use in a Task", and the spec's client's nulls.
        let mut client = Client::connect(addr).await;
        let started = std::time::Instant::now();
        let task_id = client
            .submit(json!({
                "task_name": "Submit with delay",
                "instanceId": null,
                "commands": [
                    {"tool_name": "browser_navigate", "intention": "Open", "args": {"action": "goto", "url": url("origin.html")}},
                    {"tool_name": "browser_interact", "intention": "Click submit button", "args": {"action": "click", "selector": "#delete"}},
                    {"tool_name": "sleep", "intention": "Wait for server processing", "args": {"duration": 300}},
                    {"tool_name": "browser_content", "intention": "Check result", "args": {"action": "get", "selector": "#answer", "format": "text"}}
                ]
            }))
            .await;
        let messages = client.until_complete(&task_id).await;
        let done = messages.last().unwrap();
        assert_eq!(done["status"], "completed", "{done}");
        assert!(started.elapsed() >= std::time::Duration::from_millis(300));
        assert_eq!(
            done["results"][3]["result"]["content"][0]["text"], "refused",
            "the confirm was dismissed, as by default: {done}"
        );
        // A misspelt field of the task is refused, naming it.
        let reply = client
            .request(
                json!({"type": "task_submit", "task_nmae": "x", "commands": []}),
                "task_submit_response",
            )
            .await;
        assert_eq!(reply["status"], "rejected");
        assert_eq!(
            reply["error"],
            "Invalid task: task_nmae: unknown field; did you mean task_name?"
        );
        // And so is a misspelt field of another message.
        let reply = client
            .request(json!({"type": "task_status", "tskId": task_id}), "error")
            .await;
        assert_eq!(
            reply["message"],
            "Invalid message format: task_status: tskId: unknown field; did you mean taskId?"
        );
        // POST /tasks takes the same task (its `sleep` tool too).
        let r = reqwest::Client::new()
            .post(format!("http://{addr}/tasks"))
            .json(&json!({
                "task_name": "REST sleep",
                "task_intention": "pause",
                "metadata": {"requestId": "req-abc-123"},
                "commands": [{"tool_name": "sleep", "intention": "pause", "args": {"duration": 50}}]
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202);
        // The sleep tool over REST, as the origin's REST docs call it.
        let body = ok("sleep", json!({"duration": 200})).await;
        assert_eq!(text(&body), "Slept 200 ms");
    });
}

#[test]
fn a_task_is_cancelled_with_post_tasks_id_cancel() {
    block_on(async {
        let _one = serial().await;
        let addr = shared().await;
        let r = reqwest::Client::new()
            .post(format!("http://{addr}/tasks"))
            .json(&json!({
                "task_name": "long sleep",
                "commands": [{"tool_name": "sleep", "args": {"duration": 20000, "timeout": 30000}}]
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202);
        let accepted: Value = r.json().await.unwrap();
        let id = accepted["taskId"].as_str().unwrap();
        let r = reqwest::Client::new()
            .post(format!("http://{addr}/tasks/{id}/cancel"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body, json!({"taskId": id, "success": true}));
        let task = env().shared.wait_finished(id).await.unwrap();
        assert_eq!(task.status.as_str(), "cancelled");
        let r = reqwest::Client::new()
            .post(format!("http://{addr}/tasks/task_0_0/cancel"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 404);
    });
}
