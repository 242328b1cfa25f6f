//! The folders a launched instance leaves in the temp dir, and removing those a dead run left.
//!
//! A launched instance has a profile folder `browser-control-profile-<pid>-XXXXXX` and a download
//! folder `browser-control-downloads-<pid>-XXXXXX`, `<pid>` being the process that owns the
//! instance; Chromium adds a singleton folder `org.chromium.Chromium.XXXXXX` (its
//! `SingletonSocket`), which it removes only when it exits cleanly. A run that is killed leaves
//! all three behind: [`remove_leftovers`] removes them at the next start.
//!
//! Everything here is blocking (it scans /proc, waits for processes, removes folders): run it
//! with `tokio::task::spawn_blocking`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::instance::processes_using;

/// Start of a profile folder's name.
pub const PROFILE_PREFIX: &str = "browser-control-profile-";
/// Start of a download folder's name.
pub const DOWNLOADS_PREFIX: &str = "browser-control-downloads-";
/// Starts of Chromium's (and Google Chrome's) singleton folder names in the temp dir.
pub const SINGLETON_PREFIXES: [&str; 2] = ["org.chromium.Chromium.", "com.google.Chrome."];

/// A singleton folder with no `SingletonSocket` yet is left alone while younger than this:
/// Chromium creates the folder a moment before it binds the socket there.
const SINGLETON_GRACE: Duration = Duration::from_secs(10);
/// A folder of ours from before names carried a pid is removed only when nothing uses it and it
/// has not changed for this long (its owner cannot be known).
const UNOWNED_GRACE: Duration = Duration::from_secs(3600);

/// The `tempfile` prefix of this process's folders of one kind ([`PROFILE_PREFIX`] or
/// [`DOWNLOADS_PREFIX`]): the kind, then this process's pid.
pub fn folder_prefix(kind: &str) -> String {
    format!("{kind}{}-", std::process::id())
}

/// Who owns a folder of ours, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Pid(u32),
    /// Named before names carried a pid (`browser-control-profile-XXXXXX`).
    Unknown,
}

/// `Some` when `name` is one of our profile or download folders.
fn owner_of(name: &str) -> Option<Owner> {
    let rest = name
        .strip_prefix(PROFILE_PREFIX)
        .or_else(|| name.strip_prefix(DOWNLOADS_PREFIX))?;
    // tempfile's random part is alphanumeric: a dash after a number means the new names.
    Some(match rest.split_once('-') {
        Some((pid, _)) => match pid.parse::<u32>() {
            Ok(pid) => Owner::Pid(pid),
            Err(_) => Owner::Unknown,
        },
        None => Owner::Unknown,
    })
}

/// Whether `pid` is a live process (a zombie is dead). Without /proc every pid counts as alive,
/// so nothing is removed.
fn pid_alive(pid: u32) -> bool {
    if !Path::new("/proc/self").exists() {
        return true;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/status")) {
        Ok(status) => !status
            .lines()
            .any(|l| l.starts_with("State:") && (l.contains("Z (") || l.contains("X ("))),
        Err(_) => false,
    }
}

/// How long ago `path` last changed (zero when unknown, which counts as "just now").
fn age(path: &Path) -> Duration {
    std::fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or(Duration::ZERO)
}

/// The paths of the Unix sockets bound on this machine (/proc/net/unix), or `None` when they
/// cannot be read.
fn bound_sockets() -> Option<Vec<PathBuf>> {
    let table = std::fs::read_to_string("/proc/net/unix").ok()?;
    Some(
        table
            .lines()
            .skip(1)
            // Num RefCount Protocol Flags Type St Inode [Path]: the fields before the path are
            // numbers, so a bound path starts at the line's first '/' (and may hold spaces).
            .filter_map(|line| line.find('/').map(|at| &line[at..]))
            .map(PathBuf::from)
            .collect(),
    )
}

fn is_singleton_name(name: &str) -> bool {
    SINGLETON_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The singleton folder a profile's `SingletonSocket` link points into, when it is one in the
/// temp dir.
pub fn singleton_of(profile: &Path) -> Option<PathBuf> {
    let target = std::fs::read_link(profile.join("SingletonSocket")).ok()?;
    let folder = target.parent()?;
    let name = folder.file_name()?.to_str()?;
    (is_singleton_name(name) && folder.parent() == Some(std::env::temp_dir().as_path()))
        .then(|| folder.to_path_buf())
}

/// Removes a singleton folder unless a live process has a socket bound in it, or it is a fresh
/// one whose Chromium has not bound its socket yet.
fn remove_singleton_if_unused(folder: &Path, bound: &[PathBuf]) -> bool {
    if bound.iter().any(|socket| socket.starts_with(folder)) {
        return false;
    }
    let socket_made = std::fs::symlink_metadata(folder.join("SingletonSocket")).is_ok();
    if !socket_made && age(folder) < SINGLETON_GRACE {
        return false;
    }
    remove_dir(folder)
}

/// `remove_dir_all` with a few retries (a dying helper may still write into the folder); true
/// when the folder is gone.
fn remove_dir(path: &Path) -> bool {
    for _ in 0..20 {
        match std::fs::remove_dir_all(path) {
            Ok(()) => return true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return true,
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    tracing::warn!("could not remove {}", path.display());
    false
}

/// Waits (up to `patience`) for every process whose command line names `folder` to exit, then
/// SIGKILLs those left and waits for them to go (up to 2 s more).
pub fn end_processes_using(folder: &Path, patience: Duration) {
    let deadline = Instant::now() + patience;
    loop {
        let left = processes_using(folder);
        if left.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            tracing::warn!(
                "killing {} Chromium process(es) still using {}",
                left.len(),
                folder.display()
            );
            for pid in left {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while !processes_using(folder).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Removes a profile folder once nothing uses it, and the singleton folder Chromium left for it
/// when it did not exit cleanly. Chromium's helpers (zygote, renderers, GPU) notice the
/// browser's exit on their own time: they get 2 s, then SIGKILL. Blocking.
pub fn remove_profile(profile: &Path) {
    let singleton = singleton_of(profile);
    end_processes_using(profile, Duration::from_secs(2));
    remove_dir(profile);
    if let (Some(folder), Some(bound)) = (singleton, bound_sockets()) {
        remove_singleton_if_unused(&folder, &bound);
    }
}

/// Removes what dead runs left in the temp dir, and returns what it removed:
/// - our profile and download folders whose owning process is gone (the Chromium processes a run
///   from before `PR_SET_PDEATHSIG` may have left using them are killed first). Folders named
///   before names carried a pid are removed when nothing uses them and they have not changed
///   for an hour;
/// - Chromium singleton folders (`org.chromium.Chromium.*`) in which no live process has its
///   socket bound (one with no `SingletonSocket` yet only when older than 10 s: its Chromium
///   may be starting right now).
///
/// Folders of live processes, this one included, are left alone. Blocking: run it with
/// `tokio::task::spawn_blocking`.
pub fn remove_leftovers() -> Vec<PathBuf> {
    remove_leftovers_in(&std::env::temp_dir())
}

fn remove_leftovers_in(temp: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(temp) else {
        return removed;
    };
    let mut singletons = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let path = entry.path();
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if is_singleton_name(&name) {
            singletons.push(path);
            continue;
        }
        let remove = match owner_of(&name) {
            None => false,
            Some(Owner::Pid(pid)) => {
                let dead = pid != std::process::id() && !pid_alive(pid);
                if dead {
                    end_processes_using(&path, Duration::ZERO);
                }
                dead
            }
            Some(Owner::Unknown) => {
                age(&path) >= UNOWNED_GRACE && processes_using(&path).is_empty()
            }
        };
        if remove && remove_dir(&path) {
            tracing::info!("removed {} (left by a run that ended)", path.display());
            removed.push(path);
        }
    }
    // After the profiles: the processes killed above no longer hold their sockets.
    if let Some(bound) = bound_sockets() {
        for folder in singletons {
            if remove_singleton_if_unused(&folder, &bound) {
                tracing::info!("removed Chromium's {} (unused)", folder.display());
                removed.push(folder);
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_come_from_the_name() {
        assert_eq!(
            owner_of("browser-control-profile-4242-AbC123"),
            Some(Owner::Pid(4242))
        );
        assert_eq!(
            owner_of("browser-control-downloads-7-x9"),
            Some(Owner::Pid(7))
        );
        assert_eq!(
            owner_of("browser-control-profile-AbC123"),
            Some(Owner::Unknown)
        );
        assert_eq!(owner_of("org.chromium.Chromium.AbC123"), None);
        assert_eq!(owner_of("bc-attach-AbC123"), None);
        let prefix = folder_prefix(PROFILE_PREFIX);
        assert_eq!(
            owner_of(&format!("{prefix}Zz9")),
            Some(Owner::Pid(std::process::id()))
        );
    }

    #[test]
    fn this_process_is_alive_and_a_reaped_child_is_not() {
        assert!(pid_alive(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!pid_alive(pid));
    }
}
