//! Checkpoints for undo and page facts for the approval gate, on real Chromium through the
//! library API: one browser instance and one fixture server for the file's tests, which take
//! turns on its page.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use browser_control::browser::checkpoint::NEVER_RESTORED;
use browser_control::browser::{
    BrowserInstance, BrowserSource, Checkpoint, Executor, LaunchOptions, PageFacts,
};
use browser_control::cli::site::SiteServer;
use browser_control::task::action::parse_args;
use browser_control::task::Tool;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

struct Env {
    rt: tokio::runtime::Runtime,
    site: SiteServer,
    instance: BrowserInstance,
    /// The tests share the page: one at a time.
    turn: tokio::sync::Mutex<()>,
}

/// The browser's pid and profile, for the exit handler (statics are never dropped).
static LAUNCHED: OnceLock<(u32, PathBuf)> = OnceLock::new();

extern "C" fn kill_browser_at_exit() {
    if let Some((pid, profile)) = LAUNCHED.get() {
        unsafe { libc::kill(*pid as i32, libc::SIGKILL) };
        std::thread::sleep(Duration::from_millis(50));
        let _ = std::fs::remove_dir_all(profile);
    }
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (site, instance) = rt.block_on(async {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/site");
            let site = SiteServer::start(&root).await.expect("fixture server");
            let instance = BrowserInstance::start(
                "checkpoint",
                BrowserSource::Launch(LaunchOptions::default()),
            )
            .await
            .expect("Chromium starts");
            (site, instance)
        });
        if let (Some(pid), Some(profile)) = (instance.pid(), instance.profile_dir()) {
            let _ = LAUNCHED.set((pid, profile));
            unsafe { libc::atexit(kill_browser_at_exit) };
        }
        Env {
            rt,
            site,
            instance,
            turn: tokio::sync::Mutex::new(()),
        }
    })
}

fn executor() -> Executor {
    Executor {
        default_timeout: Duration::from_secs(15),
    }
}

/// The fixture site at 127.0.0.1 (origin A).
fn url_a(page: &str) -> String {
    format!("{}/{page}", env().site.base_url())
}

/// The same server by another name: another origin (B).
fn url_b(page: &str) -> String {
    url_a(page).replace("127.0.0.1", "localhost")
}

async fn goto(url: &str) {
    let args = parse_args(Tool::Navigate, &json!({"action": "goto", "url": url})).unwrap();
    let outcome = executor()
        .run(&env().instance, &args, &CancellationToken::new())
        .await;
    outcome
        .result
        .expect("not cancelled")
        .unwrap_or_else(|e| panic!("goto {url}: {e:?}"));
}

/// Runs a script in the active page and returns its JSON value.
async fn eval(script: &str) -> Value {
    let (page, _) = env().instance.page().await.unwrap();
    page.evaluate(script)
        .await
        .unwrap_or_else(|e| panic!("{script}: {e}"))
        .value()
        .cloned()
        .unwrap_or(Value::Null)
}

async fn cdp(method: &'static str, params: Value) -> Value {
    let (page, _) = env().instance.page().await.unwrap();
    page.execute(browser_control::browser::executor::RawCommand { method, params })
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"))
        .result
}

/// The fields of a cookie a restore must give back, in a stable order.
fn cookies_of(checkpoint: &Checkpoint) -> Vec<Value> {
    let mut cookies: Vec<Value> = checkpoint
        .cookies
        .iter()
        .map(|c| {
            json!({
                "name": c["name"], "value": c["value"], "domain": c["domain"],
                "path": c["path"], "httpOnly": c["httpOnly"], "secure": c["secure"],
                "sameSite": c["sameSite"], "session": c["session"],
                "expires": c["expires"].as_f64().map(|e| e.round() as i64),
            })
        })
        .collect();
    cookies.sort_by_key(|c| c.to_string());
    cookies
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn restore_puts_cookies_storage_and_url_back_exactly() {
    let env = env();
    env.rt.block_on(async {
        let _turn = env.turn.lock().await;
        let cancel = CancellationToken::new();
        let ex = executor();
        let start = url_a("checkpoint.html?step=a");
        goto(&start).await;
        cdp("Network.clearBrowserCookies", json!({})).await;
        eval(
            "localStorage.clear(); sessionStorage.clear();
             document.cookie = 'keep=1; path=/';
             document.cookie = 'change=old; path=/';
             document.cookie = 'lasting=yes; path=/; max-age=86400';
             localStorage.setItem('keep', '1'); localStorage.setItem('change', 'old');
             localStorage.setItem('gone', 'x');
             sessionStorage.setItem('s_keep', '1'); sessionStorage.setItem('s_change', 'old');
             sessionStorage.setItem('s_gone', 'x'); true",
        )
        .await;
        // An httpOnly cookie, which document.cookie can neither see nor set.
        cdp(
            "Network.setCookie",
            json!({"name": "secret", "value": "s1", "url": start, "httpOnly": true}),
        )
        .await;

        // A host-only cookie of another origin, which must come back host-only.
        cdp(
            "Network.setCookie",
            json!({"name": "other", "value": "o1", "url": url_b("index.html")}),
        )
        .await;

        let saved = ex.checkpoint(&env.instance, None, &cancel).await.unwrap();
        assert_eq!(saved.url, start);
        assert_eq!(saved.origin.as_deref(), Some(env.site.base_url().as_str()));
        assert_eq!(
            saved.local_storage,
            pairs(&[("change", "old"), ("gone", "x"), ("keep", "1")])
        );
        assert_eq!(
            saved.session_storage,
            pairs(&[("s_change", "old"), ("s_gone", "x"), ("s_keep", "1")])
        );
        let names: Vec<&str> = saved
            .cookies
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        for name in ["keep", "change", "lasting", "secret"] {
            assert!(names.contains(&name), "{name} not in {names:?}");
        }
        let secret = saved
            .cookies
            .iter()
            .find(|c| c["name"] == "secret")
            .unwrap();
        assert_eq!(secret["httpOnly"], true);
        // It is small and serde-able.
        let text = serde_json::to_string(&saved).unwrap();
        assert_eq!(serde_json::from_str::<Checkpoint>(&text).unwrap(), saved);

        // The page changes everything, then leaves for another origin, which sets its own.
        eval(
            "document.cookie = 'added=1; path=/';
             document.cookie = 'change=new; path=/';
             document.cookie = 'keep=; path=/; max-age=0';
             localStorage.setItem('added', '1'); localStorage.setItem('change', 'new');
             localStorage.removeItem('gone');
             sessionStorage.setItem('s_added', '1'); sessionStorage.setItem('s_change', 'new');
             sessionStorage.removeItem('s_gone'); true",
        )
        .await;
        cdp(
            "Network.setCookie",
            json!({"name": "secret", "value": "s2", "url": start, "httpOnly": true}),
        )
        .await;
        goto(&url_b("index.html")).await;
        eval("localStorage.setItem('b', '1'); document.cookie = 'b=1; path=/'; true").await;

        let report = ex.restore(&env.instance, &saved, &cancel).await.unwrap();
        assert_eq!(
            report.restored,
            vec!["url", "cookies", "localStorage", "sessionStorage"],
            "{report:?}"
        );
        assert_eq!(report.url, start);
        assert_eq!(
            report.not_restored,
            NEVER_RESTORED.map(String::from).to_vec(),
            "nothing failed, so only what is never restored: {report:?}"
        );
        assert!(report.not_restored.iter().any(|n| n.contains("IndexedDB")));

        // What the page holds now is the checkpoint, taken again and read by the page itself.
        let again = ex.checkpoint(&env.instance, None, &cancel).await.unwrap();
        assert_eq!(again.url, saved.url);
        assert_eq!(again.origin, saved.origin);
        assert_eq!(cookies_of(&again), cookies_of(&saved));
        assert_eq!(again.local_storage, saved.local_storage);
        assert_eq!(again.session_storage, saved.session_storage);
        assert_eq!(eval("location.href").await, json!(start));
        let seen = eval("document.cookie.split('; ').sort().join('; ')").await;
        assert_eq!(seen, json!("change=old; keep=1; lasting=yes"));
        assert_eq!(eval("localStorage.getItem('added')").await, Value::Null);
        assert_eq!(eval("sessionStorage.getItem('s_gone')").await, json!("x"));
        let other = again.cookies.iter().find(|c| c["name"] == "other").unwrap();
        assert_eq!(other["domain"], "localhost", "{other}");

        // From another page of the same origin (storage written there, then the saved URL
        // loaded), and from the saved page itself with only its storage changed (a reload).
        for elsewhere in [url_a("index.html#x"), start.clone()] {
            goto(&elsewhere).await;
            eval("localStorage.setItem('keep', 'changed'); sessionStorage.clear(); true").await;
            let report = ex.restore(&env.instance, &saved, &cancel).await.unwrap();
            assert_eq!(
                report.restored,
                vec!["url", "cookies", "localStorage", "sessionStorage"],
                "from {elsewhere}: {report:?}"
            );
            let again = ex.checkpoint(&env.instance, None, &cancel).await.unwrap();
            assert_eq!(again.local_storage, saved.local_storage, "from {elsewhere}");
            assert_eq!(
                again.session_storage, saved.session_storage,
                "from {elsewhere}"
            );
            assert_eq!(again.url, start);
        }
    });
}

#[test]
fn a_checkpoint_of_about_blank_has_no_storage_and_restores() {
    let env = env();
    env.rt.block_on(async {
        let _turn = env.turn.lock().await;
        let cancel = CancellationToken::new();
        let ex = executor();
        goto("about:blank").await;
        let saved = ex.checkpoint(&env.instance, None, &cancel).await.unwrap();
        assert_eq!(saved.url, "about:blank");
        assert_eq!(saved.origin, None);
        assert!(saved.local_storage.is_empty() && saved.session_storage.is_empty());

        goto(&url_a("checkpoint.html")).await;
        let report = ex.restore(&env.instance, &saved, &cancel).await.unwrap();
        assert_eq!(report.url, "about:blank");
        assert_eq!(report.restored, vec!["url", "cookies"], "{report:?}");
        assert_eq!(eval("location.href").await, json!("about:blank"));
    });
}

fn interact(args: Value) -> browser_control::task::ParsedArgs {
    parse_args(Tool::Interact, &args).unwrap()
}

#[test]
fn inspect_tells_the_url_and_the_element_a_command_acts_on() {
    let env = env();
    env.rt.block_on(async {
        let _turn = env.turn.lock().await;
        let cancel = CancellationToken::new();
        let ex = executor();
        let page = url_a("checkpoint.html");
        goto(&page).await;
        let facts = |args: Value| {
            let args = interact(args);
            let ex = ex.clone();
            let cancel = cancel.clone();
            async move { ex.inspect(&env.instance, &args, &cancel).await }
        };

        let pay = facts(json!({"action": "click", "selector": "#checkout button#pay"})).await;
        assert_eq!(
            pay,
            PageFacts {
                url: Some(page.clone()),
                element_text: Some("Pay now".into()),
                element_is_submit: true,
                element_in_form: true,
            }
        );
        // The commands' own engine: text= selectors work too.
        let by_text = facts(json!({"action": "click", "selector": "text=\"Pay now\""})).await;
        assert_eq!(by_text, pay);

        let link = facts(json!({"action": "click", "selector": "#more"})).await;
        assert_eq!(link.element_text.as_deref(), Some("Read the terms"));
        assert!(!link.element_is_submit && !link.element_in_form, "{link:?}");

        let help = facts(json!({"action": "click", "selector": "#help"})).await;
        assert!(!help.element_is_submit && help.element_in_form, "{help:?}");
        let send = facts(json!({"action": "click", "selector": "#send"})).await;
        assert_eq!(send.element_text.as_deref(), Some("Send order"));
        assert!(send.element_is_submit);
        let outside = facts(json!({"action": "click", "selector": "#outside"})).await;
        assert_eq!(outside.element_text.as_deref(), Some("Outside"));
        assert!(!outside.element_is_submit && !outside.element_in_form);

        // An empty field says what it is for.
        let card = facts(json!({"action": "type", "selector": "#card", "text": "4242"})).await;
        assert_eq!(card.element_text.as_deref(), Some("Card number"));
        assert!(card.element_in_form && !card.element_is_submit);

        // A command on no element: the URL only.
        let key = facts(json!({"action": "keyboard", "key": "Enter"})).await;
        assert_eq!(
            key,
            PageFacts {
                url: Some(page.clone()),
                ..PageFacts::default()
            }
        );

        // A missing element is not waited for.
        let started = Instant::now();
        let missing = facts(json!({"action": "click", "selector": "#nowhere"})).await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(missing.url, Some(page.clone()));
        assert_eq!(missing.element_text, None);
        assert!(!missing.element_is_submit);
        // Nor is a selector that does not parse an error.
        let invalid = facts(json!({"action": "click", "selector": "##"})).await;
        assert_eq!(invalid.element_text, None);
    });
}

#[test]
fn a_restore_whose_page_does_not_load_says_what_is_not_back() {
    let env = env();
    env.rt.block_on(async {
        let _turn = env.turn.lock().await;
        let cancel = CancellationToken::new();
        let ex = executor();
        goto(&url_a("checkpoint.html")).await;
        let mut saved = ex.checkpoint(&env.instance, None, &cancel).await.unwrap();
        // A page of an origin where nothing listens any more.
        saved.url = "http://127.0.0.1:9/gone.html".into();
        saved.origin = Some("http://127.0.0.1:9".into());
        saved.local_storage = vec![("k".into(), "v".into())];
        let report = ex.restore(&env.instance, &saved, &cancel).await.unwrap();
        assert_eq!(report.restored, vec!["cookies"], "{report:?}");
        let failed = &report.not_restored[NEVER_RESTORED.len()..];
        assert!(
            failed
                .iter()
                .any(|n| n.starts_with("localStorage and sessionStorage of http://127.0.0.1:9")),
            "{failed:?}"
        );
        assert!(
            failed
                .iter()
                .any(|n| n.starts_with("url: cannot load http://127.0.0.1:9/gone.html")),
            "{failed:?}"
        );
        // The instance goes on working.
        goto(&url_a("checkpoint.html")).await;
        assert_eq!(eval("document.title").await, json!("Checkpoint"));
    });
}
