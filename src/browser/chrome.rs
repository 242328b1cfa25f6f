//! Finding Chromium and the flags it is started with (see shared/notes/chromium.md).

use std::path::{Path, PathBuf};
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

/// Flags beyond chromiumoxide's defaults. The background-networking family keeps Chromium from
/// opening connections a closed network refuses; the sandbox needs a non-root user.
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
}
