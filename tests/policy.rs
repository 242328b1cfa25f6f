//! The URL policy and the upload roots, against real Chromium: schemes refused by default and
//! file: allowed with the flag; origins blocked on goto, on a popup, on a redirect from an
//! allowed page and on a subresource (the blocked server never hears the request); an
//! allowed-origins list; uploads only from under the upload roots; upload by ref.

mod common;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use browser_control::browser::{BrowserSource, LaunchOptions, OriginRule, Policy, Uploads};
use browser_control::scheduler::{Scheduler, SchedulerConfig};
use browser_control::task::{ErrorCode, TaskStatus};
use common::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A loopback HTTP server that records the request line of every request it gets. It answers
/// `/redirect?to=URL` with a 302 to URL, and anything else with a small page.
struct Recorder {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Recorder {
    async fn start() -> Recorder {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).to_string();
                    let line = head.lines().next().unwrap_or_default().to_string();
                    log.lock().unwrap().push(line.clone());
                    let path = line.split(' ').nth(1).unwrap_or("/");
                    let answer = match path.strip_prefix("/redirect?to=") {
                        Some(to) => format!(
                            "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        ),
                        None => {
                            let body = "<!doctype html><title>Recorder</title><link rel=icon href=\"data:,\"><h1 id=\"title\">recorded</h1>";
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                                body.len()
                            )
                        }
                    };
                    let _ = socket.write_all(answer.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Recorder { port, seen, task }
    }

    fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn scheduler_with(policy: Policy) -> (Scheduler, tokio::sync::SemaphorePermit<'static>) {
    private_scheduler_with(SchedulerConfig {
        source: BrowserSource::Launch(LaunchOptions {
            policy: Some(Arc::new(policy)),
            ..LaunchOptions::default()
        }),
        ..config(1)
    })
    .await
}

fn goto_url(url: &str) -> Value {
    nav(json!({ "action": "goto", "url": url, "timeout": 5000 }))
}

fn tab_new(url: &str) -> Value {
    cmd("browser_tab", json!({ "action": "new", "url": url }))
}

fn get_text(selector: &str) -> Value {
    content(json!({"action": "get_text", "selector": selector}))
}

/// The error of a one-command task.
async fn refused(scheduler: &Scheduler, command: Value) -> browser_control::task::CommandError {
    let t = run_on(scheduler, task("refused", vec![command])).await;
    assert_eq!(t.status, TaskStatus::Failed, "{:#}", summary(&t));
    error_of(&t, 0)
}

#[test]
fn schemes_other_than_web_ones_are_refused_by_default() {
    block_on(async {
        let shared = &env().shared;
        for (url, says) in [
            ("file:///etc/passwd", "--allow-file-urls"),
            ("FILE:///etc/", "--allow-file-urls"),
            ("chrome://version", "refuses chrome: URLs"),
            ("chrome://history", "refuses chrome: URLs"),
            (
                "view-source:file:///etc/passwd",
                "refuses view-source: URLs",
            ),
        ] {
            for command in [goto_url(url), tab_new(url)] {
                let e = refused(shared, command).await;
                assert_eq!(e.code, ErrorCode::ExecutionError, "{url}: {e}");
                assert!(e.message.contains(says), "{url}: {}", e.message);
                assert!(e.message.contains("refused"), "{url}: {}", e.message);
            }
        }
        // Web, about: and data: URLs go on working.
        let t = run(
            "allowed schemes",
            vec![
                goto("index.html"),
                goto_url("about:blank"),
                goto_url("data:text/html,<h1 id=t>data page</h1>"),
                get_text("#t"),
            ],
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 3), "data page");
    });
}

#[test]
fn file_urls_open_with_the_flag_and_an_allowed_list_blocks_the_rest() {
    block_on(async {
        let other = Recorder::start().await;
        let site = env().site.base_url();
        let (scheduler, _permit) = scheduler_with(Policy {
            allow_file_urls: true,
            allowed_origins: OriginRule::parse_list(&site).unwrap(),
            ..Policy::default()
        })
        .await;
        let t = run_on(
            &scheduler,
            task(
                "file",
                vec![goto_url("file:///etc/passwd"), get_text("body")],
            ),
        )
        .await;
        assert_completed(&t);
        assert!(text_of(&t, 1).contains("root:"), "{}", text_of(&t, 1));

        let e = refused(&scheduler, goto_url(&format!("{}/page", other.origin()))).await;
        assert_eq!(e.code, ErrorCode::ExecutionError);
        assert!(
            e.message
                .contains(&format!("not in --allowed-origins {site}")),
            "{}",
            e.message
        );
        // A subresource of an allowed page, from elsewhere, never leaves the browser.
        let t = run_on(
            &scheduler,
            task(
                "fetch elsewhere",
                vec![
                    goto("index.html"),
                    execute(&format!(
                        "return fetch('{}/data').then(() => 'fetched', e => 'failed: ' + e.message)",
                        other.origin()
                    )),
                ],
            ),
        )
        .await;
        assert_completed(&t);
        assert!(text_of(&t, 1).contains("failed"), "{}", text_of(&t, 1));
        assert_eq!(other.seen(), Vec::<String>::new());
        scheduler.shutdown().await;
    });
}

#[test]
fn a_blocked_origin_is_never_requested() {
    block_on(async {
        let blocked = Recorder::start().await;
        let allowed = Recorder::start().await;
        let rule = blocked.origin();
        let (scheduler, _permit) = scheduler_with(Policy {
            blocked_origins: OriginRule::parse_list(&rule).unwrap(),
            ..Policy::default()
        })
        .await;
        let target = format!("{}/secret", blocked.origin());

        // goto: refused before anything is sent, naming the rule.
        let e = refused(&scheduler, goto_url(&target)).await;
        assert_eq!(e.code, ErrorCode::ExecutionError);
        assert!(
            e.message
                .contains(&format!("it matches --blocked-origins {rule}")),
            "{}",
            e.message
        );
        // Spelled differently, the same origin is still caught (by Chromium's own reading).
        let sneaky = format!("http://0x7f.0.0.1:{}/sneaky", blocked.port);
        let e = refused(&scheduler, goto_url(&sneaky)).await;
        assert_eq!(e.code, ErrorCode::ExecutionError);
        assert!(e.message.contains("--blocked-origins"), "{}", e.message);

        // A redirect from an allowed page.
        let redirect = format!("{}/redirect?to={target}", allowed.origin());
        let e = refused(&scheduler, goto_url(&redirect)).await;
        assert_eq!(e.code, ErrorCode::ExecutionError, "{e}");
        assert!(e.message.contains("--blocked-origins"), "{}", e.message);
        assert_eq!(allowed.seen().len(), 1, "{:?}", allowed.seen());

        // A popup the page opens, and a new tab.
        let t = run_on(
            &scheduler,
            task(
                "popup",
                vec![
                    goto("index.html"),
                    execute(&format!("window.open('{target}'); return 'opened'")),
                    nav(json!({"action": "sleep", "duration": 500})),
                    cmd("browser_tab", json!({"action": "list"})),
                ],
            ),
        )
        .await;
        assert_completed(&t);
        let said = t.commands[1..3]
            .iter()
            .map(|c| c.result.as_ref().unwrap().joined_text())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(said.contains("--blocked-origins"), "{said}");
        let e = refused(&scheduler, tab_new(&target)).await;
        assert!(e.message.contains("--blocked-origins"), "{}", e.message);

        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            blocked.seen(),
            Vec::<String>::new(),
            "the blocked server heard nothing"
        );
        let instance = scheduler.instance("inst_1").unwrap();
        assert!(instance.sizes().blocked >= 3, "{:?}", instance.sizes());
        scheduler.shutdown().await;
    });
}

#[test]
fn uploads_come_only_from_under_the_upload_roots_and_work_by_ref() {
    block_on(async {
        let root = tempfile::tempdir().unwrap();
        let inside = root.path().join("inside.txt");
        std::fs::write(&inside, "from the upload root\n").unwrap();
        let second = root.path().join("second.txt");
        std::fs::write(&second, "second file, by ref\n").unwrap();
        let outside = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(outside.path(), "secret\n").unwrap();
        let link = root.path().join("link.txt");
        std::os::unix::fs::symlink(outside.path(), &link).unwrap();
        let (scheduler, _permit) = scheduler_with(Policy {
            uploads: Policy::upload_roots(&[root.path().to_path_buf()]).unwrap(),
            ..Policy::default()
        })
        .await;
        let p = |p: &std::path::Path| p.to_string_lossy().to_string();
        for file in [p(outside.path()), p(&link), "/etc/passwd".to_string()] {
            let t = run_on(
                &scheduler,
                task(
                    "outside",
                    vec![
                        goto("tools.html"),
                        interact(json!({"action": "upload", "selector": "#file", "files": [file]})),
                    ],
                ),
            )
            .await;
            let e = error_of(&t, 1);
            assert_eq!(e.code, ErrorCode::ExecutionError);
            assert!(
                e.message.contains("files[0]") && e.message.contains("outside the upload folders"),
                "{}",
                e.message
            );
        }

        // Inside the root, by selector and by the ref a snapshot gave.
        let t = run_on(
            &scheduler,
            task(
                "inside",
                vec![
                    goto("tools.html"),
                    interact(json!({"action": "upload", "selector": "#file", "files": [p(&inside)]})),
                    nav(json!({"action": "wait_for", "selector": "#file-content:not(:empty)", "timeout": 5000})),
                    get_text("#file-content"),
                    content(json!({"action": "snapshot"})),
                ],
            ),
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 3).trim_end(), "from the upload root");
        let snapshot = text_of(&t, 4);
        let line = snapshot
            .lines()
            // The file input, showing the file it holds as a browser shows it.
            .find(|l| l.contains("[ref=") && l.contains("fakepath"))
            .unwrap_or_else(|| panic!("no file input with a ref in:\n{snapshot}"));
        let reference = line
            .split("[ref=")
            .nth(1)
            .and_then(|r| r.split(']').next())
            .unwrap()
            .to_string();
        let t = run_on(
            &scheduler,
            task(
                "by ref",
                vec![
                    execute("document.getElementById('file-content').textContent = ''; return 1"),
                    interact(json!({
                        "action": "upload",
                        "selector": format!("aria-ref={reference}"),
                        "files": [p(&second)],
                    })),
                    nav(json!({"action": "wait_for", "selector": "#file-content:not(:empty)", "timeout": 5000})),
                    get_text("#file-content"),
                ],
            ),
        )
        .await;
        assert_completed(&t);
        assert!(
            text_of(&t, 1).contains("Uploaded second.txt into input#file"),
            "{}",
            text_of(&t, 1)
        );
        assert_eq!(text_of(&t, 3).trim_end(), "second file, by ref");

        // No root at all: uploads are off, and the message says how to turn them on.
        let off = Policy {
            uploads: Uploads::Under(Vec::new()),
            ..Policy::default()
        };
        let e = off.check_upload(&p(&inside)).unwrap_err();
        assert!(e.contains("--upload-root"), "{e}");
        scheduler.shutdown().await;
    });
}
