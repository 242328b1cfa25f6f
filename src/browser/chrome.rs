//! Finding Chromium, the command line it is started with, and starting it so that it dies with
//! this process (see shared/notes/chromium.md).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// Names tried on PATH, in order, when neither `--chrome` nor `CHROME` says where Chromium is.
pub const CHROME_NAMES: [&str; 3] = ["chromium", "chromium-browser", "google-chrome"];

/// How to start a browser instance.
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    /// `--chrome PATH`; when unset, `CHROME` then [`CHROME_NAMES`] on PATH.
    pub chrome: Option<PathBuf>,
    pub headless: bool,
    pub viewport: (u32, u32),
    pub user_agent: Option<String>,
    /// Extra command-line flags, e.g. `--lang=fr`.
    pub extra_args: Vec<String>,
    pub launch_timeout: Duration,
    /// The URL and upload policy; `None`: the process's ([`super::policy::process_default`]).
    pub policy: Option<std::sync::Arc<super::policy::Policy>>,
}

impl Default for LaunchOptions {
    fn default() -> Self {
        LaunchOptions {
            chrome: None,
            headless: true,
            viewport: (1280, 720),
            user_agent: None,
            extra_args: Vec::new(),
            launch_timeout: Duration::from_secs(20),
            policy: None,
        }
    }
}

/// Where an instance's browser comes from.
#[derive(Debug, Clone)]
pub enum BrowserSource {
    Launch(LaunchOptions),
    /// An already-running browser's DevTools endpoint: `ws://…` or `http://host:port`.
    Attach(String),
}

#[derive(Debug, thiserror::Error)]
pub enum FindError {
    #[error("--chrome {0}: no such file")]
    FlagMissing(PathBuf),
    #[error("CHROME={0}: no such file")]
    EnvMissing(PathBuf),
    #[error(
        "Chromium not found: tried --chrome, the CHROME environment variable and {names} on PATH. \
         Install it with `sudo tools/install-chromium` (Debian's chromium package), or pass \
         --chrome PATH",
        names = CHROME_NAMES.join(", ")
    )]
    NotFound,
}

/// Resolves the Chromium binary: the flag, then `CHROME`, then the usual names on PATH.
pub fn find_chrome(flag: Option<&Path>) -> Result<PathBuf, FindError> {
    if let Some(path) = flag {
        return if path.exists() {
            Ok(path.to_path_buf())
        } else {
            Err(FindError::FlagMissing(path.to_path_buf()))
        };
    }
    if let Some(env) = std::env::var_os("CHROME").filter(|v| !v.is_empty()) {
        let path = PathBuf::from(env);
        if path.exists() {
            return Ok(path);
        }
        // A bare name is looked up on PATH, as a shell would.
        return which::which(&path).map_err(|_| FindError::EnvMissing(path));
    }
    CHROME_NAMES
        .iter()
        .find_map(|name| which::which(name).ok())
        .ok_or(FindError::NotFound)
}

/// Flags beyond [`BASE_FLAGS`], exactly as Chromium gets them (with their two dashes). The
/// background-networking family keeps Chromium from opening connections a closed network refuses.
pub fn extra_flags(options: &LaunchOptions) -> Vec<String> {
    let mut flags: Vec<String> = [
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-features=Translate,MediaRouter,OptimizationHints",
        "--no-default-browser-check",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(ua) = &options.user_agent {
        flags.push(format!("--user-agent={ua}"));
    }
    flags.extend(options.extra_args.iter().cloned());
    flags
}

/// Chromium's sandbox cannot start as root: only then is `--no-sandbox` used.
pub fn needs_no_sandbox() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// The flags chromiumoxide 0.9's launcher passed by default (its `DEFAULT_ARGS`, from
/// puppeteer's launcher), kept now that we start Chromium ourselves.
pub const BASE_FLAGS: [&str; 25] = [
    "--disable-background-networking",
    "--enable-features=NetworkService,NetworkServiceInProcess",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-breakpad",
    "--disable-client-side-phishing-detection",
    "--disable-component-extensions-with-background-pages",
    "--disable-default-apps",
    "--disable-dev-shm-usage",
    "--disable-features=TranslateUI",
    "--disable-hang-monitor",
    "--disable-ipc-flooding-protection",
    "--disable-popup-blocking",
    "--disable-prompt-on-repost",
    "--disable-renderer-backgrounding",
    "--disable-sync",
    "--force-color-profile=srgb",
    "--metrics-recording-only",
    "--no-first-run",
    "--enable-automation",
    "--password-store=basic",
    "--use-mock-keychain",
    "--enable-blink-features=IdleDetection",
    "--lang=en_US",
    "--disable-extensions",
];

/// Switches whose value is a comma-separated list: Chromium reads only the last occurrence, so
/// every occurrence is merged into one.
const LIST_SWITCHES: [&str; 4] = [
    "enable-features",
    "disable-features",
    "enable-blink-features",
    "disable-blink-features",
];

/// Chromium's whole command line (without the program) for a launched instance with its
/// profile in `profile`: [`BASE_FLAGS`], the window, sandbox and headless flags, [`extra_flags`]
/// (the caller's extra arguments included), then the profile folder and
/// `--remote-debugging-port=0`, which the caller cannot override (the instance removes that
/// folder, and reads the port Chromium picked from its stderr).
pub fn command_line(options: &LaunchOptions, profile: &Path) -> Vec<String> {
    let (width, height) = options.viewport;
    let mut flags: Vec<String> = BASE_FLAGS.iter().map(|s| s.to_string()).collect();
    flags.push(format!("--window-size={width},{height}"));
    if needs_no_sandbox() {
        flags.push("--no-sandbox".into());
        flags.push("--disable-setuid-sandbox".into());
    }
    if options.headless {
        flags.extend(["--headless", "--hide-scrollbars", "--mute-audio"].map(String::from));
    }
    flags.extend(extra_flags(options));
    flags.push(format!("--user-data-dir={}", profile.display()));
    flags.push("--remote-debugging-port=0".into());
    merge_flags(flags)
}

/// One switch per name, in the order names first appear: a later value replaces an earlier one
/// (as Chromium itself would read them), except for [`LIST_SWITCHES`], whose values are joined.
/// Arguments that are not `--switches` (a URL to open) keep their order, after the switches.
pub fn merge_flags(flags: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut switches: Vec<(String, Option<String>)> = Vec::new();
    let mut positional = Vec::new();
    for flag in flags {
        let Some(body) = flag.strip_prefix("--").filter(|b| !b.is_empty()) else {
            positional.push(flag);
            continue;
        };
        let (name, value) = match body.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None => (body.to_string(), None),
        };
        match switches.iter_mut().find(|(n, _)| *n == name) {
            Some((_, old)) if LIST_SWITCHES.contains(&name.as_str()) => {
                let mut items: Vec<String> = old
                    .iter()
                    .chain(value.iter())
                    .flat_map(|v| v.split(','))
                    .filter(|item| !item.is_empty())
                    .map(String::from)
                    .collect();
                let mut seen = std::collections::HashSet::new();
                items.retain(|item| seen.insert(item.clone()));
                *old = Some(items.join(","));
            }
            Some((_, old)) => *old = value,
            None => switches.push((name, value)),
        }
    }
    switches
        .into_iter()
        .map(|(name, value)| match value {
            Some(value) => format!("--{name}={value}"),
            None => format!("--{name}"),
        })
        .chain(positional)
        .collect()
}

/// The executable as chromiumoxide's launcher ran it: symlinks resolved (Chromium's sandbox
/// helpers are found next to the real binary), except for snap's launcher.
pub fn resolve_executable(chrome: &Path) -> PathBuf {
    match std::fs::canonicalize(chrome) {
        Ok(real) if !real.ends_with("snap") => real,
        _ => std::path::absolute(chrome).unwrap_or_else(|_| chrome.to_path_buf()),
    }
}

/// Spawns `command` so that the child is SIGKILLed when this process dies, however it dies
/// (`kill -9` included): `PR_SET_PDEATHSIG(SIGKILL)` is set in the child between fork and exec.
///
/// The parent death signal fires when the *thread* that forked the child exits, not when the
/// process does. Tokio may run the caller on a thread that ends long before the process: a
/// blocking-pool thread (retired after 10 s idle), a worker that `block_in_place` handed to the
/// blocking pool, or a thread that called `Runtime::block_on` (a test's thread). So no caller
/// forks: every spawn is handed to one dedicated `chromium-spawner` std thread, started on first
/// use and never ended (its channel's sender lives in a static), which does nothing but fork.
/// It enters the caller's runtime while spawning, so the child is reaped by that runtime as
/// any `tokio::process::Child` is. The child also checks, after `prctl`, that its parent is still
/// this process: had we died between fork and `prctl`, no signal would ever come.
pub async fn spawn_tied(
    mut command: tokio::process::Command,
) -> std::io::Result<tokio::process::Child> {
    let parent = std::process::id();
    // SAFETY: the hook runs in the forked child before exec and only makes two system calls
    // (prctl, getppid); it allocates nothing, takes no lock and builds its errors from raw codes.
    unsafe {
        command.pre_exec(move || {
            if prctl(
                PR_SET_PDEATHSIG,
                nix::sys::signal::Signal::SIGKILL as std::ffi::c_ulong,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            if std::os::unix::process::parent_id() != parent {
                return Err(std::io::Error::from_raw_os_error(
                    nix::errno::Errno::ESRCH as i32,
                ));
            }
            Ok(())
        });
    }
    let runtime = tokio::runtime::Handle::current();
    let (reply, answer) = tokio::sync::oneshot::channel();
    spawner()?
        .send(Box::new(move || {
            let _entered = runtime.enter();
            // When the caller gave up waiting, the child is dropped here, which kills it
            // (callers set kill_on_drop).
            let _ = reply.send(command.spawn());
        }))
        .map_err(|_| std::io::Error::other("the Chromium spawner thread is gone"))?;
    answer
        .await
        .map_err(|_| std::io::Error::other("the Chromium spawner thread dropped the request"))?
}

type SpawnJob = Box<dyn FnOnce() + Send>;

const PR_SET_PDEATHSIG: std::ffi::c_int = 1;

extern "C" {
    /// glibc's (and musl's) prctl(2), declared here rather than pulling in a crate for it.
    fn prctl(option: std::ffi::c_int, ...) -> std::ffi::c_int;
}

/// The dedicated spawner thread's queue, starting the thread on first use.
fn spawner() -> std::io::Result<std::sync::mpsc::Sender<SpawnJob>> {
    static SPAWNER: Mutex<Option<std::sync::mpsc::Sender<SpawnJob>>> = Mutex::new(None);
    let mut spawner = SPAWNER.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(sender) = spawner.as_ref() {
        return Ok(sender.clone());
    }
    let (sender, jobs) = std::sync::mpsc::channel::<SpawnJob>();
    std::thread::Builder::new()
        .name("chromium-spawner".into())
        .spawn(move || {
            // Ends only when every sender is gone, and the static keeps one: never.
            for job in jobs {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
        })?;
    *spawner = Some(sender.clone());
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_and_must_exist() {
        let missing = Path::new("/definitely/not/chromium");
        let err = find_chrome(Some(missing)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--chrome /definitely/not/chromium: no such file"
        );
        let sh = Path::new("/bin/sh");
        assert_eq!(find_chrome(Some(sh)).unwrap(), sh);
    }

    #[test]
    fn not_found_says_how_to_install() {
        let msg = FindError::NotFound.to_string();
        assert!(msg.contains("tools/install-chromium"), "{msg}");
        assert!(
            msg.contains("chromium, chromium-browser, google-chrome"),
            "{msg}"
        );
    }

    #[test]
    fn flags_keep_chromium_off_the_network() {
        let flags = extra_flags(&LaunchOptions {
            user_agent: Some("bc-test".into()),
            ..Default::default()
        });
        for f in [
            "--disable-background-networking",
            "--disable-quic",
            "--disable-gpu",
        ] {
            assert!(flags.iter().any(|x| x == f), "{f}");
        }
        assert!(flags.iter().any(|x| x == "--user-agent=bc-test"));
    }

    #[test]
    fn the_command_line_has_one_of_each_switch_with_two_dashes() {
        let options = LaunchOptions {
            extra_args: vec![
                "--lang=fr".into(),
                "--disable-features=Foo".into(),
                "--user-data-dir=/elsewhere".into(),
            ],
            ..Default::default()
        };
        let line = command_line(&options, Path::new("/tmp/browser-control-profile-1-x"));
        for flag in [
            "--disable-gpu",
            "--disable-background-networking",
            "--headless",
        ] {
            assert_eq!(
                line.iter().filter(|f| *f == flag).count(),
                1,
                "{flag}: {line:?}"
            );
        }
        assert!(line.iter().all(|f| !f.starts_with("---")), "{line:?}");
        let named = |name: &str| -> Vec<&String> {
            line.iter()
                .filter(|f| f.starts_with(&format!("--{name}=")))
                .collect()
        };
        assert_eq!(named("lang"), ["--lang=fr"]);
        assert_eq!(
            named("disable-features"),
            ["--disable-features=TranslateUI,Translate,MediaRouter,OptimizationHints,Foo"]
        );
        // The instance's own profile folder wins: it is the one removed at the end.
        assert_eq!(
            named("user-data-dir"),
            ["--user-data-dir=/tmp/browser-control-profile-1-x"]
        );
        assert_eq!(
            named("remote-debugging-port"),
            ["--remote-debugging-port=0"]
        );
        assert_eq!(named("window-size"), ["--window-size=1280,720"]);
    }

    #[test]
    fn merging_keeps_positional_arguments_last() {
        let merged = merge_flags(
            [
                "--a",
                "about:blank",
                "--b=1",
                "--a",
                "--b=2",
                "--enable-features=X,Y",
                "--enable-features=Y,Z",
            ]
            .map(String::from),
        );
        assert_eq!(
            merged,
            ["--a", "--b=2", "--enable-features=X,Y,Z", "about:blank"]
        );
    }
}
