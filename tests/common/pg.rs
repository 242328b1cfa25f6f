//! PostgreSQL for tests: each test gets its own database on the server named by
//! `BROWSER_CONTROL_TEST_PG` (a `postgres://` URL; `tools/test` provides one through
//! `tools/postgres`), created and dropped with the `psql` client, so tests can run in parallel and
//! leave nothing behind. No crates: `std::process::Command` and `psql`.
//!
//! ```ignore
//! let Some(db) = common::pg::fresh_database() else { return }; // skipped without a server
//! connect(db.url());
//! // dropping `db` drops the database
//! ```

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The server's URL for tests (any database on it; fresh ones are created next to it).
pub const URL_VAR: &str = "BROWSER_CONTROL_TEST_PG";
/// When set (to anything but "" or "0"), a missing `BROWSER_CONTROL_TEST_PG` is an error, not a
/// skip. `tools/test` sets it, so CI fails loudly instead of silently skipping.
pub const REQUIRE_VAR: &str = "BROWSER_CONTROL_REQUIRE_PG";

/// A database that exists until this guard is dropped (`DROP DATABASE ... WITH (FORCE)`, which
/// also ends connections still open to it).
#[derive(Debug)]
pub struct PgDatabase {
    name: String,
    url: String,
    /// The server URL from the environment: the connection used to create and drop.
    admin_url: String,
}

impl PgDatabase {
    /// The URL of this database: the environment's URL with its database part replaced.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name, `bc_test_<pid>_<counter>_<random>`.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // Never panic here (a panic while a failed test unwinds would abort the binary).
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        if let Err(err) = psql(&self.admin_url, &sql) {
            eprintln!("warning: could not drop test database {}: {err}", self.name);
        }
    }
}

/// A new, empty database on the `BROWSER_CONTROL_TEST_PG` server. `None` (the test should
/// return early, i.e. skip) when that variable is unset or empty, unless
/// `BROWSER_CONTROL_REQUIRE_PG` is set: then it panics. Panics when the database cannot be
/// created (no `psql`, server down, a URL that is not `postgres://` or `postgresql://`).
pub fn fresh_database() -> Option<PgDatabase> {
    let admin_url = match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => url.trim().to_string(),
        _ => {
            let required = std::env::var(REQUIRE_VAR).is_ok_and(|v| !v.is_empty() && v != "0");
            if required {
                panic!(
                    "{URL_VAR} is not set but {REQUIRE_VAR} is: this test needs PostgreSQL \
                     (tools/test provides one through tools/postgres)"
                );
            }
            eprintln!("skipped: {URL_VAR} is not set (run tools/test, or point it at a server)");
            return None;
        }
    };
    let name = unique_name();
    let url = with_database(&admin_url, &name).unwrap_or_else(|| {
        panic!("{URL_VAR} must be a postgres:// or postgresql:// URL, got {admin_url:?}")
    });
    let sql = format!("CREATE DATABASE \"{name}\"");
    // CREATE DATABASE fails when someone else is connected to its template: retry briefly.
    let mut attempt = 0;
    loop {
        match psql(&admin_url, &sql) {
            Ok(()) => break,
            Err(err) if attempt < 20 && err.contains("is being accessed by other users") => {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(err) => panic!("could not create test database {name} on {admin_url}: {err}"),
        }
    }
    Some(PgDatabase {
        name,
        url,
        admin_url,
    })
}

/// `bc_test_<pid>_<counter>_<random>`: unique across parallel tests and test binaries, lower
/// case and short enough for PostgreSQL's 63-byte identifiers.
fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let counter = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    hasher.write_u64(counter);
    let random = hasher.finish() as u32;
    format!("bc_test_{}_{counter}_{random:08x}", std::process::id())
}

/// `url` with its database (the path) replaced by `database`, keeping user, host, port and
/// query parameters: `postgres://u@h:5432/postgres?sslmode=disable` ->
/// `postgres://u@h:5432/DATABASE?sslmode=disable`. None when it is not a postgres URL.
fn with_database(url: &str, database: &str) -> Option<String> {
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))?;
    let prefix_len = url.len() - rest.len();
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let after_authority = &rest[authority_len..];
    let path_len = after_authority
        .find(['?', '#'])
        .unwrap_or(after_authority.len());
    let tail = &after_authority[path_len..];
    Some(format!(
        "{}/{database}{tail}",
        &url[..prefix_len + authority_len]
    ))
}

/// The `psql` client: on PATH, else the newest of Debian's /usr/lib/postgresql/*/bin/psql.
fn psql_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| dir.join("psql").is_file()))
        .unwrap_or(false);
    if on_path {
        return PathBuf::from("psql");
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let psql = entry.path().join("bin/psql");
            psql.is_file().then_some((version, psql))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, path)| path)
        .unwrap_or_else(|| PathBuf::from("psql"))
}

/// Runs one SQL command through `psql` on `url`, without prompting for a password.
fn psql(url: &str, sql: &str) -> Result<(), String> {
    let binary = psql_binary();
    let mut command = Command::new(&binary);
    command
        .args([
            "-X",
            "-q",
            "-w",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .stdin(Stdio::null());
    if std::env::var_os("PGCONNECT_TIMEOUT").is_none() {
        command.env("PGCONNECT_TIMEOUT", "10");
    }
    let output = command.output().map_err(|err| {
        format!(
            "could not run {} ({err}); install the PostgreSQL client (Debian: postgresql-client)",
            binary.display()
        )
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "psql exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}
