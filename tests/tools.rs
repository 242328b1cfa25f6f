//! The tools added for parity (browser_network, browser_emulate, browser_debug) and the new
//! actions of the first five, against real Chromium and the fixture pages. Each test checks the
//! effect: the cookie reaches the server, the request is really blocked, the viewport really
//! changes, the downloaded file has the right bytes, the PDF is a PDF.
//!
//! Tests that change what a page believes about its device or network use a private browser,
//! so the shared page stays as the other tests expect it.

mod common;
use base64::Engine;
use browser_control::task::{Content, ErrorCode, Task, TaskStatus};
use common::*;
use serde_json::{json, Value};

fn value_of(task: &Task, index: usize) -> Value {
    let text = text_of(task, index);
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("command {index} gave non-JSON {text:?}: {e}"))
}

fn get_text(selector: &str) -> Value {
    content(json!({"action": "get_text", "selector": selector}))
}
fn network(args: Value) -> Value {
    cmd("browser_network", args)
}
fn emulate(args: Value) -> Value {
    cmd("browser_emulate", args)
}
fn debug(args: Value) -> Value {
    cmd("browser_debug", args)
}

/// The submission's validation error, which must happen before any browser work (the doors
/// validate before they submit).
fn rejected(commands: Vec<Value>) -> String {
    match browser_control::task::validate_submission(&task("rejected", commands)) {
        Err(e) => format!("Invalid task: {e}"),
        Ok(_) => panic!("accepted"),
    }
}

fn decode(b64: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64")
}

// ---------------------------------------------------------------- browser_navigate

#[test]
fn sleep_waits_its_duration_and_is_bounded_by_the_deadline() {
    block_on(async {
        let t = run(
            "sleep",
            vec![nav(json!({"action": "sleep", "duration": 300}))],
        )
        .await;
        assert_completed(&t);
        let c = &t.commands[0];
        let took = c.completed_at.unwrap() - c.started_at.unwrap();
        assert!((300..5000).contains(&took), "slept {took} ms");
        assert_eq!(text_of(&t, 0), "Slept 300 ms");

        let err = rejected(vec![nav(
            json!({"action": "sleep", "duration": 5000, "timeout": 1000}),
        )]);
        assert!(err.contains("commands[0].args.duration"), "{err}");
    });
}

#[test]
fn wait_until_networkidle_waits_for_late_requests_and_domcontentloaded_does_not_wait_for_load() {
    block_on(async {
        let t = run(
            "waitUntil",
            vec![
                nav(json!({"action": "goto", "url": url("netidle.html")})),
                get_text("#late"),
                nav(json!({"action": "goto", "url": url("netidle.html"), "waitUntil": "networkidle"})),
                get_text("#late"),
                nav(json!({"action": "goto", "url": url("slowload.html"), "waitUntil": "domcontentloaded"})),
                execute("return document.readyState"),
                get_text("#title"),
                nav(json!({"action": "goto", "url": url("slowload.html")})),
                execute("return document.readyState"),
                nav(json!({"action": "reload", "waitUntil": "domcontentloaded"})),
                get_text("#title"),
            ],
        )
        .await;
        assert_completed(&t);
        // With the load event only, the late request has not even started.
        assert_eq!(text_of(&t, 1), "waiting");
        assert!(text_of(&t, 2).contains("idle after"), "{}", text_of(&t, 2));
        assert_eq!(text_of(&t, 3), "done");
        // The image holds the load event 3 s: domcontentloaded does not wait for it, the
        // default (load) does.
        assert!(
            text_of(&t, 4).contains("DOMContentLoaded"),
            "{}",
            text_of(&t, 4)
        );
        assert!(text_of(&t, 4).contains("HTTP 200"), "{}", text_of(&t, 4));
        let c = &t.commands[4];
        let took = c.completed_at.unwrap() - c.started_at.unwrap();
        assert!(took < 2500, "domcontentloaded took {took} ms");
        assert_eq!(value_of(&t, 5), "interactive");
        assert_eq!(text_of(&t, 6), "Slow load");
        let c = &t.commands[7];
        let took = c.completed_at.unwrap() - c.started_at.unwrap();
        assert!(took >= 2500, "load took {took} ms");
        assert_eq!(value_of(&t, 8), "complete");
        assert_eq!(text_of(&t, 10), "Slow load");

        let err = rejected(vec![nav(
            json!({"action": "goto", "url": url("tools.html"), "waitUntil": "whenever"}),
        )]);
        assert!(err.contains("commands[0].args.waitUntil"), "{err}");
    });
}

// ---------------------------------------------------------------- browser_content

#[test]
fn attribute_and_query_read_the_dom() {
    block_on(async {
        let t = run(
            "attribute and query",
            vec![
                goto("tools.html"),
                content(json!({"action": "attribute", "selector": "#title", "name": "data-kind"})),
                content(json!({"action": "attribute", "selector": "#next", "name": "href"})),
                content(json!({"action": "attribute", "selector": "#title", "name": "nope"})),
                content(json!({"action": "query", "selector": "li.item"})),
                content(json!({"action": "query", "selector": "li.item", "limit": 1})),
                content(json!({"action": "query", "selector": ".none"})),
                content(json!({"action": "attribute", "selector": "#missing", "name": "id"})),
            ],
        )
        .await;
        assert_eq!(value_of(&t, 1), "fixture");
        assert_eq!(value_of(&t, 2), "article.html");
        assert_eq!(value_of(&t, 3), Value::Null);
        let all = value_of(&t, 4);
        assert_eq!(all["count"], 3, "{all}");
        assert_eq!(all["items"][0]["element"], "li.item");
        assert_eq!(all["items"][0]["text"], "First item");
        assert_eq!(all["items"][0]["visible"], true);
        assert_eq!(all["items"][2]["visible"], false);
        let one = value_of(&t, 5);
        assert_eq!(one["count"], 3);
        assert_eq!(one["items"].as_array().unwrap().len(), 1);
        assert_eq!(value_of(&t, 6)["count"], 0);
        // A missing element is an immediate error naming it.
        assert_eq!(t.status, TaskStatus::Failed);
        let e = error_of(&t, 7);
        assert!(e.message.contains("#missing"), "{}", e.message);
    });
}

#[test]
fn pdf_is_a_pdf_and_screenshots_come_in_jpeg_and_webp() {
    block_on(async {
        let t = run(
            "pdf and formats",
            vec![
                goto("article.html"),
                content(json!({"action": "pdf"})),
                content(
                    json!({"action": "pdf", "paper": "a4", "landscape": true, "background": true}),
                ),
                content(json!({"action": "screenshot", "format": "jpeg", "quality": 50})),
                content(json!({"action": "screenshot", "format": "webp", "quality": 80})),
                content(json!({"action": "screenshot", "format": "jpeg", "quality": 95})),
            ],
        )
        .await;
        assert_completed(&t);
        let pdf = |i: usize| -> (String, Vec<u8>) {
            let result = t.commands[i].result.as_ref().unwrap();
            let blob = result
                .content
                .iter()
                .find_map(|c| match c {
                    Content::Resource { resource } => {
                        assert_eq!(resource.mime_type, "application/pdf");
                        Some(decode(&resource.blob))
                    }
                    _ => None,
                })
                .expect("a PDF resource");
            (result.joined_text(), blob)
        };
        let (text, bytes) = pdf(1);
        assert!(
            bytes.starts_with(b"%PDF-"),
            "{:?}",
            &bytes[..8.min(bytes.len())]
        );
        assert!(text.contains("letter"), "{text}");
        let (text, landscape) = pdf(2);
        assert!(landscape.starts_with(b"%PDF-"));
        assert!(text.contains("a4, landscape"), "{text}");
        // A4 landscape: the page box is wider than tall (842 x 595 points).
        let body = String::from_utf8_lossy(&landscape);
        assert!(
            body.contains("/MediaBox [0 0 841") || body.contains("/MediaBox [0 0 842"),
            "no landscape A4 MediaBox"
        );

        let image = |i: usize| -> (String, Vec<u8>) {
            match &t.commands[i].result.as_ref().unwrap().content[0] {
                Content::Image { data, mime_type } => (mime_type.clone(), decode(data)),
                other => panic!("not an image: {other:?}"),
            }
        };
        let (mime, jpeg) = image(3);
        assert_eq!(mime, "image/jpeg");
        assert!(jpeg.starts_with(&[0xFF, 0xD8, 0xFF]), "JPEG magic");
        let (mime, webp) = image(4);
        assert_eq!(mime, "image/webp");
        assert_eq!(&webp[..4], b"RIFF");
        assert_eq!(&webp[8..12], b"WEBP");
        // Quality is applied: a higher quality makes a larger file.
        let (_, fine) = image(5);
        assert!(
            fine.len() > jpeg.len(),
            "q95 {} <= q50 {}",
            fine.len(),
            jpeg.len()
        );

        let err = rejected(vec![content(
            json!({"action": "screenshot", "quality": 50}),
        )]);
        assert!(err.contains("commands[0].args.quality"), "{err}");
    });
}

// ---------------------------------------------------------------- browser_interact

#[test]
fn press_move_and_click_at_coordinates_reach_the_page() {
    block_on(async {
        let t = run(
            "press, move, click x/y",
            vec![
                goto("tools.html"),
                interact(json!({"action": "press", "key": "a", "modifiers": ["Control"]})),
                interact(json!({"action": "press", "key": "Shift+B"})),
                get_text("#keys"),
                interact(json!({"action": "move", "x": 100, "y": 350})),
                get_text("#mouse"),
                interact(json!({"action": "click", "x": 50, "y": 400})),
                get_text("#click"),
                interact(json!({"action": "move", "selector": "#title"})),
                get_text("#mouse"),
            ],
        )
        .await;
        assert_completed(&t);
        let keys = text_of(&t, 3);
        assert!(keys.contains("ctrl+a"), "{keys}");
        assert!(keys.contains("shift+B"), "{keys}");
        assert_eq!(text_of(&t, 5), "100,350 pad");
        assert_eq!(text_of(&t, 7), "50,400 pad");
        assert!(text_of(&t, 6).contains("x=50, y=400"), "{}", text_of(&t, 6));
        // The title's centre: not on the pad, and not where the mouse was.
        let at = text_of(&t, 9);
        assert!(!at.contains("pad") && at != "100,350", "{at}");

        let err = rejected(vec![interact(json!({"action": "click", "x": 5}))]);
        assert!(err.contains("commands[0].args.y"), "{err}");
        let err = rejected(vec![interact(
            json!({"action": "press", "key": "a", "modifiers": ["Hyper"]}),
        )]);
        assert!(err.contains("commands[0].args.modifiers[0]"), "{err}");
    });
}

#[test]
fn upload_puts_real_files_into_the_input() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let one = dir.path().join("notes.txt");
        std::fs::write(&one, "uploaded content é\n").unwrap();
        let two = dir.path().join("data.csv");
        std::fs::write(&two, "a,b\n1,2\n").unwrap();
        let p = |p: &std::path::Path| p.to_string_lossy().to_string();
        let t = run(
            "upload",
            vec![
                goto("tools.html"),
                interact(json!({"action": "upload", "selector": "#file", "files": [p(&one)]})),
                nav(json!({"action": "wait_for", "selector": "#file-content:not(:empty)", "timeout": 5000})),
                get_text("#file-name"),
                get_text("#file-content"),
                // A hidden multiple input takes several.
                interact(json!({"action": "upload", "selector": "#files", "files": [p(&two), p(&one)]})),
                nav(json!({"action": "wait_for", "selector": "#file-content", "timeout": 5000})),
                get_text("#file-name"),
                interact(json!({"action": "upload", "selector": "#file", "files": [p(&one), p(&two)]})),
            ],
        )
        .await;
        let size = "uploaded content é\n".len();
        assert_eq!(text_of(&t, 3), format!("notes.txt:{size}"));
        assert_eq!(text_of(&t, 4).trim_end(), "uploaded content é");
        assert_eq!(text_of(&t, 7), format!("data.csv:8,notes.txt:{size}"));
        // Two files into a single-file input is refused, naming the element.
        assert_eq!(t.status, TaskStatus::Failed);
        let e = error_of(&t, 8);
        assert!(
            e.message.contains("input#file") && e.message.contains("one file"),
            "{}",
            e.message
        );

        let t = run(
            "upload into a non-file element",
            vec![
                goto("tools.html"),
                interact(json!({"action": "upload", "selector": "#title", "files": [p(&one)]})),
            ],
        )
        .await;
        let e = error_of(&t, 1);
        assert!(
            e.message.contains("not an <input type=file>"),
            "{}",
            e.message
        );

        // A missing file is refused before any browser work, naming the field and the path.
        let err = rejected(vec![interact(
            json!({"action": "upload", "selector": "#file", "files": ["/nonexistent/x.txt"]}),
        )]);
        assert!(err.contains("commands[0].args.files[0]"), "{err}");
        assert!(err.contains("/nonexistent/x.txt"), "{err}");
    });
}

// ---------------------------------------------------------------- browser_network

#[test]
fn cookies_are_really_sent_and_cleared() {
    block_on(async {
        let base = env().site.base_url();
        let t = run(
            "cookies",
            vec![
                network(json!({"action": "clear_cookies"})),
                network(json!({"action": "set_cookie", "name": "flavour", "value": "chocolate", "url": base, "httpOnly": true, "sameSite": "Lax"})),
                goto("echo"),
                get_text("#cookies"),
                network(json!({"action": "get_cookies"})),
                execute("return document.cookie"),
                network(json!({"action": "clear_cookies"})),
                goto("echo"),
                get_text("#cookies"),
                network(json!({"action": "get_cookies"})),
            ],
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 3), "flavour=chocolate");
        let cookies = value_of(&t, 4);
        let c = &cookies[0];
        assert_eq!(
            (c["name"].as_str(), c["value"].as_str()),
            (Some("flavour"), Some("chocolate")),
            "{cookies}"
        );
        assert_eq!(c["httpOnly"], true);
        assert_eq!(c["sameSite"], "Lax");
        // httpOnly: the page's script cannot see it.
        assert_eq!(value_of(&t, 5), "");
        assert_eq!(text_of(&t, 8), "");
        assert_eq!(value_of(&t, 9), json!([]));

        let err = rejected(vec![network(
            json!({"action": "set_cookie", "name": "a", "value": "b"}),
        )]);
        assert!(err.contains("commands[0].args.url"), "{err}");
    });
}

#[test]
fn storage_is_read_written_and_cleared() {
    block_on(async {
        let t = run(
            "storage",
            vec![
                goto("tools.html"),
                network(json!({"action": "clear_storage"})),
                network(json!({"action": "set_storage", "key": "theme", "value": "dark"})),
                network(json!({"action": "set_storage", "storage": "session", "key": "step", "value": "2"})),
                network(json!({"action": "get_storage"})),
                network(json!({"action": "get_storage", "storage": "session", "key": "step"})),
                execute("return [localStorage.getItem('theme'), sessionStorage.getItem('step')]"),
                network(json!({"action": "clear_storage", "storage": "local"})),
                network(json!({"action": "get_storage", "storage": "local"})),
                network(json!({"action": "get_storage", "key": "theme"})),
            ],
        )
        .await;
        assert_completed(&t);
        assert_eq!(value_of(&t, 4), json!({"theme": "dark"}));
        assert_eq!(value_of(&t, 5), "2");
        assert_eq!(value_of(&t, 6), json!(["dark", "2"]));
        assert_eq!(value_of(&t, 8), json!({}));
        assert_eq!(value_of(&t, 9), Value::Null);
    });
}

#[test]
fn extra_headers_are_sent_and_intercepted_requests_are_really_blocked() {
    block_on(async {
        let (scheduler, _permit) = private_scheduler().await;
        let fetch_echo =
            "return fetch('echo').then(r => 'status ' + r.status, e => 'failed: ' + e.message)";
        let t = run_on(
            &scheduler,
            task(
                "headers and interception",
                vec![
                    network(json!({"action": "set_headers", "headers": {"X-Test": "yes", "X-Other": "two"}})),
                    goto("echo"),
                    get_text("#headers"),
                    network(json!({"action": "set_headers", "headers": {}})),
                    goto("tools.html"),
                    network(json!({"action": "intercept", "patterns": ["*/echo*"]})),
                    execute(fetch_echo),
                    // Other requests still go through.
                    execute("return fetch('tools.html').then(r => 'status ' + r.status, e => 'failed')"),
                    network(json!({"action": "intercept", "enabled": false})),
                    execute(fetch_echo),
                    network(json!({"action": "intercept", "resourceTypes": ["Fetch"], "mode": "fail"})),
                    execute("return fetch('tools.html').then(r => 'status ' + r.status, e => 'failed: ' + e.message)"),
                    network(json!({"action": "intercept", "enabled": false})),
                    network(json!({"action": "intercept", "patterns": ["*/echo*"]})),
                    goto("echo"),
                ],
            ),
        )
        .await;
        let headers = text_of(&t, 2);
        assert!(headers.contains("x-test: yes"), "{headers}");
        assert!(headers.contains("x-other: two"), "{headers}");
        assert!(
            value_of(&t, 6).as_str().unwrap().starts_with("failed"),
            "{}",
            text_of(&t, 6)
        );
        assert_eq!(value_of(&t, 7), "status 200");
        assert_eq!(value_of(&t, 9), "status 200");
        assert!(
            value_of(&t, 11).as_str().unwrap().starts_with("failed"),
            "{}",
            text_of(&t, 11)
        );
        // A blocked navigation fails with Chromium's own reason.
        assert_eq!(t.status, TaskStatus::Failed, "{:#}", summary(&t));
        let e = error_of(&t, 14);
        assert!(e.message.contains("ERR_BLOCKED_BY_CLIENT"), "{}", e.message);
    });
}

// ---------------------------------------------------------------- browser_emulate

#[test]
fn emulation_changes_what_the_page_sees() {
    block_on(async {
        let (scheduler, _permit) = private_scheduler().await;
        let t = run_on(
            &scheduler,
            task(
                "emulation",
                vec![
                    goto("tools.html"),
                    emulate(json!({"action": "viewport", "width": 500, "height": 400, "deviceScaleFactor": 2})),
                    execute("return [innerWidth, innerHeight, devicePixelRatio]"),
                    emulate(json!({"action": "device", "name": "iPhone 15"})),
                    execute("return [innerWidth, devicePixelRatio, navigator.userAgent.includes('iPhone'), navigator.maxTouchPoints > 0]"),
                    emulate(json!({"action": "user_agent", "userAgent": "BC-Test/1.0"})),
                    goto("echo"),
                    get_text("#headers"),
                    execute("return navigator.userAgent"),
                    emulate(json!({"action": "timezone", "timezoneId": "Asia/Tokyo"})),
                    execute("return [Intl.DateTimeFormat().resolvedOptions().timeZone, new Date(0).getTimezoneOffset()]"),
                    emulate(json!({"action": "geolocation", "latitude": 48.8584, "longitude": 2.2945})),
                    execute("return await new Promise((ok, no) => navigator.geolocation.getCurrentPosition(p => ok([p.coords.latitude, p.coords.longitude]), e => no(new Error(e.message))))"),
                ],
            ),
        )
        .await;
        assert_completed(&t);
        assert_eq!(value_of(&t, 2), json!([500, 400, 2]));
        assert_eq!(value_of(&t, 4), json!([393, 3, true, true]));
        assert!(
            text_of(&t, 7).contains("user-agent: BC-Test/1.0"),
            "{}",
            text_of(&t, 7)
        );
        assert_eq!(value_of(&t, 8), "BC-Test/1.0");
        assert_eq!(value_of(&t, 10), json!(["Asia/Tokyo", -540]));
        assert_eq!(value_of(&t, 12), json!([48.8584, 2.2945]));

        // Offline, then throttled, then back to normal.
        let fetch_ms = "const t0 = performance.now(); try { await fetch('tools.html?' + Math.random()); } catch (e) { return 'failed'; } return Math.round(performance.now() - t0)";
        let t = run_on(
            &scheduler,
            task(
                "network conditions",
                vec![
                    goto("tools.html"),
                    emulate(json!({"action": "offline"})),
                    execute(fetch_ms),
                    execute("return navigator.onLine"),
                    emulate(json!({"action": "offline", "enabled": false})),
                    execute(fetch_ms),
                    emulate(json!({"action": "throttle", "latency": 600})),
                    execute(fetch_ms),
                    emulate(json!({"action": "throttle", "preset": "none"})),
                    execute(fetch_ms),
                    emulate(json!({"action": "device", "name": "Pixel 7"})),
                    emulate(json!({"action": "timezone", "timezoneId": "Asia/Tokyo"})),
                    emulate(json!({"action": "reset"})),
                    execute("return [innerWidth, devicePixelRatio, navigator.userAgent.includes('Android'), Intl.DateTimeFormat().resolvedOptions().timeZone === 'Asia/Tokyo']"),
                    emulate(json!({"action": "timezone", "timezoneId": "Not/AZone"})),
                ],
            ),
        )
        .await;
        assert_eq!(value_of(&t, 2), "failed");
        assert_eq!(value_of(&t, 3), false);
        assert!(value_of(&t, 5).is_number(), "{}", text_of(&t, 5));
        let slow = value_of(&t, 7).as_i64().unwrap();
        assert!(slow >= 550, "a 600 ms latency fetch took {slow} ms");
        let fast = value_of(&t, 9).as_i64().unwrap();
        assert!(fast < slow, "unthrottled {fast} ms, throttled {slow} ms");
        let reset = value_of(&t, 13);
        assert_eq!(reset[0], json!(1280), "{reset}");
        assert_eq!(reset[1], json!(1), "{reset}");
        assert_eq!(reset[2], json!(false), "{reset}");
        assert_eq!(reset[3], json!(false), "{reset}");
        let e = error_of(&t, 14);
        assert_eq!(e.code, ErrorCode::ExecutionError);
        assert!(e.message.contains("Not/AZone"), "{}", e.message);
        scheduler.shutdown().await;

        let err = rejected(vec![emulate(
            json!({"action": "device", "name": "Nokia 3310"}),
        )]);
        assert!(err.contains("commands[0].args.name"), "{err}");
        assert!(err.contains("iPhone 15"), "{err}");
    });
}

// ---------------------------------------------------------------- browser_debug

#[test]
fn console_messages_carry_level_and_text() {
    block_on(async {
        let t = run(
            "console",
            vec![
                goto("tools.html"),
                debug(json!({"action": "console"})),
                debug(json!({"action": "console", "level": "warning"})),
                debug(json!({"action": "console", "level": "error", "clear": true})),
                debug(json!({"action": "console"})),
                execute("setTimeout(() => { throw new Error('late boom') }, 0); console.info('after clear'); return 1"),
                nav(json!({"action": "sleep", "duration": 200})),
                debug(json!({"action": "console"})),
            ],
        )
        .await;
        assert_completed(&t);
        let all = value_of(&t, 1);
        let has = |list: &Value, level: &str, text: &str| {
            list.as_array()
                .unwrap()
                .iter()
                .any(|m| m["level"] == level && m["text"] == text)
        };
        assert!(has(&all, "log", "hello from tools 42"), "{all}");
        assert!(has(&all, "info", "an info line"), "{all}");
        assert!(has(&all, "warning", "careful: warning line"), "{all}");
        assert!(has(&all, "error", "boom: error line"), "{all}");
        assert!(has(&all, "debug", "debug detail"), "{all}");
        let warnings = value_of(&t, 2);
        assert!(
            warnings
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["level"] == "warning"),
            "{warnings}"
        );
        assert!(has(&warnings, "warning", "careful: warning line"));
        assert!(has(&value_of(&t, 3), "error", "boom: error line"));
        assert_eq!(value_of(&t, 4), json!([]));
        let after = value_of(&t, 7);
        assert!(has(&after, "info", "after clear"), "{after}");
        assert!(has(&after, "error", "Uncaught Error: late boom"), "{after}");
    });
}

#[test]
fn the_dialog_policy_answers_the_next_dialogs() {
    block_on(async {
        let t = run(
            "dialog policy",
            vec![
                goto("tools.html"),
                debug(json!({"action": "dialog", "policy": "accept", "promptText": "Ada"})),
                interact(json!({"action": "click", "selector": "#ask"})),
                get_text("#prompt-answer"),
                debug(json!({"action": "dialog", "policy": "dismiss"})),
                interact(json!({"action": "click", "selector": "#ask"})),
                get_text("#prompt-answer"),
                debug(json!({"action": "dialog", "policy": "default"})),
            ],
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 3), "Ada");
        assert!(
            text_of(&t, 2).contains("was accepted"),
            "{}",
            text_of(&t, 2)
        );
        assert_eq!(text_of(&t, 6), "null");
    });
}

#[test]
fn performance_metrics_describe_the_page() {
    block_on(async {
        let t = run(
            "performance",
            vec![goto("tools.html"), debug(json!({"action": "performance"}))],
        )
        .await;
        assert_completed(&t);
        let m = value_of(&t, 1);
        assert!(m["Nodes"].as_f64().unwrap() > 10.0, "{m}");
        assert!(m["JSHeapUsedSize"].as_f64().unwrap() > 0.0, "{m}");
        assert!(m["Documents"].as_f64().unwrap() >= 1.0, "{m}");
    });
}

#[test]
fn a_download_is_saved_with_the_right_bytes_and_listed() {
    block_on(async {
        let t = run(
            "download",
            vec![
                goto("tools.html"),
                interact(json!({"action": "click", "selector": "#dl"})),
                debug(json!({"action": "download_wait", "timeout": 15000})),
                debug(json!({"action": "downloads"})),
            ],
        )
        .await;
        assert_completed(&t);
        let done = value_of(&t, 2);
        assert_eq!(done["state"], "completed", "{done}");
        assert_eq!(done["suggestedFilename"], "sample.txt");
        let path = done["path"].as_str().unwrap();
        let expected =
            std::fs::read(project_root().join("fixtures/site/files/sample.txt")).unwrap();
        assert_eq!(std::fs::read(path).unwrap(), expected, "{path}");
        let list = value_of(&t, 3);
        assert!(
            list.as_array()
                .unwrap()
                .iter()
                .any(|d| d["path"] == path && d["state"] == "completed"),
            "{list}"
        );

        // With nothing downloading, the wait ends at its deadline with a reason.
        let t = run(
            "no download",
            vec![debug(json!({"action": "download_wait", "timeout": 500}))],
        )
        .await;
        let e = error_of(&t, 0);
        assert_eq!(e.code, ErrorCode::CommandTimeout);
        assert!(e.message.contains("no download began"), "{}", e.message);
    });
}

// ---------------------------------------------------------------- browser_tab

fn tab(args: Value) -> Value {
    cmd("browser_tab", args)
}

/// The instance's tabs, once `count` are open (the site's popups open on their own time).
async fn tabs_when(scheduler: &browser_control::scheduler::Scheduler, count: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let t = run_on(
            scheduler,
            task("list", vec![tab(json!({"action": "list"}))]),
        )
        .await;
        let list = value_of(&t, 0).as_array().unwrap().clone();
        if list.len() == count || std::time::Instant::now() > deadline {
            assert_eq!(list.len(), count, "{list:?}");
            return list;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[test]
fn tabs_open_switch_and_close_and_site_popups_become_tabs() {
    block_on(async {
        let (scheduler, _permit) = private_scheduler().await;
        let t = run_on(
            &scheduler,
            task(
                "popups",
                vec![
                    goto("popup.html"),
                    tab(json!({"action": "list"})),
                    interact(json!({"action": "click", "selector": "#open-blank"})),
                    interact(json!({"action": "click", "selector": "#open-window"})),
                ],
            ),
        )
        .await;
        assert_completed(&t);
        let first = value_of(&t, 1);
        assert_eq!(first.as_array().unwrap().len(), 1, "{first}");
        assert_eq!(first[0]["tabId"], "tab_1");
        assert_eq!(first[0]["active"], true);

        let list = tabs_when(&scheduler, 3).await;
        let id_of = |page: &str| -> String {
            let found = list
                .iter()
                .find(|t| t["url"].as_str().unwrap_or_default().ends_with(page))
                .unwrap_or_else(|| panic!("no tab at {page}: {list:?}"));
            found["tabId"].as_str().unwrap().to_string()
        };
        let article = id_of("article.html");
        let index = id_of("index.html");
        // The opener stays the active tab.
        assert!(
            list.iter()
                .any(|t| t["tabId"] == "tab_1" && t["active"] == true),
            "{list:?}"
        );

        let t = run_on(
            &scheduler,
            task(
                "commands on tabs",
                vec![
                    // A command names its tab...
                    content(json!({"action": "get_text", "selector": "#firstHeading", "tabId": article})),
                    get_text("#title"),
                    // ...or acts on the active one.
                    tab(json!({"action": "activate", "tabId": index})),
                    get_text("#title"),
                    tab(json!({"action": "new", "url": url("tools.html")})),
                    get_text("#title"),
                    tab(json!({"action": "list"})),
                    tab(json!({"action": "close"})),
                    tab(json!({"action": "close_others", "tabId": "tab_1"})),
                    tab(json!({"action": "list"})),
                    tab(json!({"action": "close"})),
                    tab(json!({"action": "list"})),
                    content(json!({"action": "get_text", "selector": "h1", "tabId": "tab_99"})),
                ],
            ),
        )
        .await;
        assert_eq!(text_of(&t, 0), "A Long Article");
        assert_eq!(text_of(&t, 1), "Popups");
        assert_eq!(text_of(&t, 2), format!("{index} is the active tab"));
        assert_eq!(text_of(&t, 3), "Fixture Site");
        assert!(
            text_of(&t, 4).starts_with("Opened tab_4: Navigated to"),
            "{}",
            text_of(&t, 4)
        );
        assert_eq!(text_of(&t, 5), "Tools");
        let four = value_of(&t, 6);
        assert_eq!(four.as_array().unwrap().len(), 4, "{four}");
        assert!(four
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["tabId"] == "tab_4" && t["active"] == true));
        assert!(
            text_of(&t, 7).starts_with("Closed tab_4"),
            "{}",
            text_of(&t, 7)
        );
        let one = value_of(&t, 9);
        assert_eq!(one.as_array().unwrap().len(), 1, "{one}");
        assert_eq!(one[0]["tabId"], "tab_1");
        assert_eq!(one[0]["active"], true);
        // Closing the last tab leaves a fresh blank one.
        let last = value_of(&t, 11);
        assert_eq!(last.as_array().unwrap().len(), 1, "{last}");
        assert_eq!(last[0]["tabId"], "tab_5");
        assert_eq!(last[0]["url"], "about:blank");
        let e = error_of(&t, 12);
        assert!(e.message.contains("unknown tab 'tab_99'"), "{}", e.message);
        scheduler.shutdown().await;

        let err = rejected(vec![tab(json!({"action": "activate"}))]);
        assert!(err.contains("commands[0].args.tabId"), "{err}");
    });
}
