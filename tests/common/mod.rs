//! Shared test harness: one tokio runtime, one fixture server and one shared browser instance
//! per test binary (Chromium is heavy on two cores), plus private schedulers for tests that kill
//! or close their browser. Everything started here is cleaned up at process exit.
#![allow(dead_code)]

pub mod client;
pub mod pg;
pub mod serve;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use browser_control::browser::{BrowserSource, Executor, LaunchOptions};
use browser_control::cli::site::SiteServer;
use browser_control::scheduler::{Scheduler, SchedulerConfig, SubmitError, Submitted};
use browser_control::task::{validate_submission, Task};
use serde_json::{json, Value};
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;

pub struct Env {
    pub rt: Runtime,
    pub site: SiteServer,
    pub shared: Scheduler,
    /// Caps the private browsers alive at once, next to the shared one.
    pub private_browsers: Semaphore,
}

/// Every scheduler a test started: at exit they stop relaunching, then their browsers die.
static SCHEDULERS: Mutex<Vec<Scheduler>> = Mutex::new(Vec::new());

/// Statics are never dropped, so the harness cleans up at process exit: stop relaunches, then
/// kill every Chromium this process started (relaunched ones included) and remove its profile.
extern "C" fn cleanup_at_exit() {
    if let Ok(schedulers) = SCHEDULERS.lock() {
        schedulers.iter().for_each(Scheduler::begin_shutdown);
    }
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for pid in entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()) {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Field 4 of /proc/PID/stat, after the parenthesised command name, is the parent pid.
        let ppid = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.split(' ').nth(1)?.parse::<u32>().ok());
        if ppid != Some(me) {
            continue;
        }
        let cmdline = String::from_utf8_lossy(
            &std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default(),
        )
        .to_string();
        let profile = cmdline
            .split('\0')
            .find_map(|arg| arg.strip_prefix("--user-data-dir="))
            .map(PathBuf::from);
        let Some(profile) = profile else { continue };
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        std::thread::sleep(Duration::from_millis(50));
        let _ = std::fs::remove_dir_all(profile);
    }
}

pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn config(instances: usize) -> SchedulerConfig {
    SchedulerConfig {
        instances,
        source: BrowserSource::Launch(LaunchOptions::default()),
        executor: Executor {
            default_timeout: Duration::from_secs(20),
        },
        ..SchedulerConfig::default()
    }
}

pub fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
            .with_test_writer()
            .try_init();
        unsafe { libc::atexit(cleanup_at_exit) };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (site, shared) = rt.block_on(async {
            let site = SiteServer::start(&project_root().join("fixtures/site"))
                .await
                .expect("fixture server");
            let shared = Scheduler::start(config(1))
                .await
                .expect("shared Chromium starts");
            (site, shared)
        });
        register_cleanup(&shared);
        Env {
            rt,
            site,
            shared,
            private_browsers: Semaphore::new(2),
        }
    })
}

pub fn register_cleanup(scheduler: &Scheduler) {
    SCHEDULERS.lock().unwrap().push(scheduler.clone());
}

/// Runs a test body on the shared runtime.
pub fn block_on<F: Future>(f: F) -> F::Output {
    env().rt.block_on(f)
}

pub fn url(page: &str) -> String {
    format!("{}/{page}", env().site.base_url())
}

pub fn cmd(tool: &str, args: Value) -> Value {
    json!({ "tool_name": tool, "intention": "", "args": args })
}

pub fn nav(args: Value) -> Value {
    cmd("browser_navigate", args)
}
pub fn interact(args: Value) -> Value {
    cmd("browser_interact", args)
}
pub fn content(args: Value) -> Value {
    cmd("browser_content", args)
}
pub fn execute(script: &str) -> Value {
    cmd(
        "browser_execute",
        json!({ "action": "evaluate", "script": script }),
    )
}
pub fn goto(page: &str) -> Value {
    nav(json!({ "action": "goto", "url": url(page) }))
}

pub fn task(name: &str, commands: Vec<Value>) -> Value {
    json!({ "task_name": name, "task_intention": "test", "commands": commands })
}

/// Why a JSON submission was not accepted: it did not validate, or the scheduler refused it.
#[derive(Debug, PartialEq)]
pub enum Refused {
    Invalid(String),
    Scheduler(SubmitError),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Invalid(e) => write!(f, "Invalid task: {e}"),
            Refused::Scheduler(e) => write!(f, "{e}"),
        }
    }
}

/// What every door does with a submission: validate at the edge, then submit.
pub trait SubmitJson {
    fn submit_json(&self, submission: &Value) -> impl Future<Output = Result<Submitted, Refused>>;
}

impl SubmitJson for Scheduler {
    async fn submit_json(&self, submission: &Value) -> Result<Submitted, Refused> {
        let spec = validate_submission(submission).map_err(|e| Refused::Invalid(e.to_string()))?;
        self.submit(spec).await.map_err(Refused::Scheduler)
    }
}

/// Submits to `scheduler` and waits (generously) for the task to finish.
pub async fn run_on(scheduler: &Scheduler, submission: Value) -> Task {
    let submitted = scheduler
        .submit_json(&submission)
        .await
        .expect("task accepted");
    tokio::time::timeout(
        Duration::from_secs(120),
        scheduler.wait_finished(&submitted.task_id),
    )
    .await
    .expect("task finished within 120 s")
    .expect("task record kept")
}

/// Runs a task on the shared instance.
pub async fn run(name: &str, commands: Vec<Value>) -> Task {
    run_on(&env().shared, task(name, commands)).await
}

/// The text of command `index`'s result, panicking with the task if it did not succeed.
pub fn text_of(task: &Task, index: usize) -> String {
    match &task.commands[index].result {
        Some(r) => r.joined_text(),
        None => panic!("command {index} has no result: {:#?}", summary(task)),
    }
}

/// A compact view of a task for assertion messages.
pub fn summary(task: &Task) -> Value {
    json!({
        "status": task.status,
        "error": task.error,
        "commands": task.commands.iter().map(|c| json!({
            "status": c.status,
            "error": c.error,
            "text": c.result.as_ref().map(|r| r.joined_text().chars().take(300).collect::<String>()),
        })).collect::<Vec<_>>(),
    })
}

pub fn assert_completed(task: &Task) {
    assert_eq!(
        task.status,
        browser_control::task::TaskStatus::Completed,
        "{:#}",
        summary(task)
    );
}

/// A private scheduler with its own browser, for tests that break or close it.
pub async fn private_scheduler() -> (Scheduler, tokio::sync::SemaphorePermit<'static>) {
    let permit = env().private_browsers.acquire().await.expect("semaphore");
    let scheduler = Scheduler::start(config(1))
        .await
        .expect("private Chromium starts");
    register_cleanup(&scheduler);
    (scheduler, permit)
}

pub fn processes_using(profile: &Path) -> Vec<u32> {
    browser_control::browser::instance::processes_using(profile)
}

/// A private scheduler started from `config` (its own browser), holding a semaphore permit.
pub async fn private_scheduler_with(
    config: SchedulerConfig,
) -> (Scheduler, tokio::sync::SemaphorePermit<'static>) {
    let permit = env().private_browsers.acquire().await.expect("semaphore");
    let scheduler = Scheduler::start(config)
        .await
        .expect("private Chromium starts");
    register_cleanup(&scheduler);
    (scheduler, permit)
}

/// The error of command `index`, panicking with the task if it has none.
pub fn error_of(task: &Task, index: usize) -> browser_control::task::CommandError {
    match &task.commands[index].error {
        Some(e) => e.clone(),
        None => panic!("command {index} has no error: {:#}", summary(task)),
    }
}

/// The statuses of a task's commands, as their wire names.
pub fn statuses(task: &Task) -> Vec<&'static str> {
    task.commands.iter().map(|c| c.status.as_str()).collect()
}

/// The only image of command `index`'s result, base64.
pub fn image_of(task: &Task, index: usize) -> String {
    let result = task.commands[index]
        .result
        .as_ref()
        .unwrap_or_else(|| panic!("command {index} has no result: {:#}", summary(task)));
    let images: Vec<&str> = result.images().collect();
    assert_eq!(images.len(), 1, "one image in {:#}", summary(task));
    images[0].to_string()
}

/// Width and height from a base64 PNG's IHDR chunk, after checking the PNG signature.
pub fn png_size(base64_png: &str) -> (u32, u32) {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(base64_png)
        .expect("valid base64");
    assert!(bytes.len() > 33, "PNG too short: {} bytes", bytes.len());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "first chunk is IHDR");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (width, height)
}

/// A Chromium the test starts itself (to attach to), stopped and its profile removed on drop.
pub struct OwnChromium {
    pub child: std::process::Child,
    pub profile: tempfile::TempDir,
    pub ws_url: String,
}

impl OwnChromium {
    pub fn start() -> OwnChromium {
        let profile = tempfile::Builder::new()
            .prefix("bc-attach-")
            .tempdir()
            .unwrap();
        let mut child = std::process::Command::new(
            browser_control::browser::find_chrome(None).expect("Chromium installed"),
        )
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-port=0",
            "about:blank",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("chromium starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads stderr to the end, so Chromium never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in
                std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok)
            {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(url.trim().to_string());
                    }
                }
            }
        });
        let ws_url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("Chromium printed its DevTools URL");
        assert!(ws_url.starts_with("ws://127.0.0.1:"), "{ws_url}");
        OwnChromium {
            child,
            profile,
            ws_url,
        }
    }

    /// `http://127.0.0.1:PORT`, from the ws:// URL.
    pub fn http_url(&self) -> String {
        let host_port = self
            .ws_url
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .unwrap();
        format!("http://{host_port}")
    }
}

impl Drop for OwnChromium {
    /// Ends Chromium as a user would (SIGTERM lets it take its helpers down), then makes sure
    /// no helper still uses the profile before removing it: a helper outliving a SIGKILLed
    /// browser can write into the profile after it is removed.
    fn drop(&mut self) {
        let profile = self.profile.path().to_path_buf();
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        while std::time::Instant::now() < deadline && !processes_using(&profile).is_empty() {
            std::thread::sleep(Duration::from_millis(20));
        }
        for pid in processes_using(&profile) {
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
        for _ in 0..50 {
            match std::fs::remove_dir_all(&profile) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => break,
            }
        }
    }
}
