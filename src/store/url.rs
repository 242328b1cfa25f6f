//! `--store URL`: `memory`, `sqlite://PATH` or `postgres://…`, parsed once at the edge.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq)]
pub enum StoreUrl {
    Memory,
    Sqlite(PathBuf),
    /// The whole URL, as PostgreSQL's clients take it.
    Postgres(String),
}

impl StoreUrl {
    /// The default: `sqlite://` in the user's data folder.
    pub fn default_sqlite() -> anyhow::Result<StoreUrl> {
        Ok(StoreUrl::Sqlite(default_sqlite_path()?))
    }
}

/// `$XDG_DATA_HOME/browser-control/tasks.db`, else `~/.local/share/browser-control/tasks.db`
/// (the XDG base-directory convention).
pub fn default_sqlite_path() -> anyhow::Result<PathBuf> {
    let data = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(dir) if PathBuf::from(&dir).is_absolute() => PathBuf::from(dir),
        _ => {
            let home = std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    anyhow::anyhow!("neither XDG_DATA_HOME nor HOME is set: pass --store")
                })?;
            PathBuf::from(home).join(".local/share")
        }
    };
    Ok(data.join("browser-control").join("tasks.db"))
}

impl FromStr for StoreUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s == "memory" || s == "memory://" {
            return Ok(StoreUrl::Memory);
        }
        if let Some(path) = s.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(
                    "sqlite:// needs a file path, e.g. sqlite:///var/lib/bc/tasks.db".into(),
                );
            }
            return Ok(StoreUrl::Sqlite(PathBuf::from(path)));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(StoreUrl::Postgres(s.to_string()));
        }
        Err(format!(
            "unknown store '{s}': expected memory, sqlite://PATH or postgres://USER@HOST:PORT/DB"
        ))
    }
}

impl fmt::Display for StoreUrl {
    /// Without a password: this is printed at start-up.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUrl::Memory => f.write_str("memory"),
            StoreUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            StoreUrl::Postgres(url) => f.write_str(&redact_password(url)),
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_backend_and_refuses_others() {
        assert_eq!("memory".parse::<StoreUrl>(), Ok(StoreUrl::Memory));
        assert_eq!(
            "sqlite:///tmp/x.db".parse::<StoreUrl>(),
            Ok(StoreUrl::Sqlite("/tmp/x.db".into()))
        );
        assert_eq!(
            "sqlite://rel/x.db".parse::<StoreUrl>(),
            Ok(StoreUrl::Sqlite("rel/x.db".into()))
        );
        assert!(matches!(
            "postgres://u@h:5432/db".parse::<StoreUrl>(),
            Ok(StoreUrl::Postgres(_))
        ));
        let err = "mysql://x".parse::<StoreUrl>().unwrap_err();
        assert!(err.contains("expected memory, sqlite://PATH"), "{err}");
        assert!("sqlite://".parse::<StoreUrl>().is_err());
    }

    #[test]
    fn passwords_are_not_printed() {
        let url: StoreUrl = "postgres://bc:hunter2@db:5432/bc".parse().unwrap();
        assert_eq!(url.to_string(), "postgres://bc:***@db:5432/bc");
        assert_eq!(
            redact_password("postgres://bc@db/bc"),
            "postgres://bc@db/bc"
        );
    }
}
