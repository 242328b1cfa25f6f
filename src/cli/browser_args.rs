//! The browser options `run`, `serve` and `mcp` share.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use crate::browser::policy::set_process_default;
use crate::browser::{BrowserSource, Executor, LaunchOptions, OriginRule, Policy, Uploads};

#[derive(Debug, Clone, Args)]
pub struct BrowserArgs {
    /// Chromium binary (else $CHROME, else chromium / chromium-browser / google-chrome on PATH).
    #[arg(long, value_name = "PATH")]
    pub chrome: Option<PathBuf>,
    /// Use an already-running browser instead of starting one: its DevTools endpoint, as
    /// ws://HOST:PORT/devtools/browser/ID or http://HOST:PORT.
    #[arg(long, value_name = "ENDPOINT", conflicts_with = "chrome")]
    pub attach: Option<String>,
    /// Deadline of a command that sets no `timeout` of its own, in ms.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub timeout: u64,
    /// Browser instances to start, each with its own queue; a task without an instanceId
    /// goes to the least-loaded one.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub instances: u16,
    /// Let goto and new tabs open file: URLs (local files). Off by default: only http, https,
    /// about and data URLs may be opened.
    #[arg(long)]
    pub allow_file_urls: bool,
    /// Origins the browser may request, `;`-separated (repeatable): https://example.com:8443
    /// (that origin), http://localhost:* (any port), example.com (any scheme and port),
    /// *.example.com (its subdomains). Every other request is blocked. Default: all.
    #[arg(long = "allowed-origins", value_name = "ORIGINS", value_parser = parse_origins)]
    pub allowed_origins: Vec<OriginList>,
    /// Origins the browser must never request, in the same forms; checked before
    /// --allowed-origins.
    #[arg(long = "blocked-origins", value_name = "ORIGINS", value_parser = parse_origins)]
    pub blocked_origins: Vec<OriginList>,
    /// A folder `upload` may take files from (repeatable). Without one, `serve` and `mcp`
    /// refuse every upload, and `run` (whose task files are the user's own) takes any file.
    #[arg(long = "upload-root", value_name = "DIR", value_parser = parse_upload_root)]
    pub upload_roots: Vec<PathBuf>,
    /// A value external steps may pass to their app as ${PUBLIC.NAME} (repeatable), e.g.
    /// --public STUDY_NAME=memory. Public: it ends up in the app's URL.
    #[arg(long = "public", value_name = "NAME=VALUE", value_parser = parse_public)]
    pub public: Vec<(String, String)>,
}

/// One `--public NAME=VALUE`.
fn parse_public(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| "expected NAME=VALUE".to_string())?;
    let name = name.trim();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!("'{name}' is not a name (letters, digits, _ and -)"));
    }
    Ok((name.to_string(), value.to_string()))
}

/// One `--allowed-origins` / `--blocked-origins` value.
#[derive(Debug, Clone)]
pub struct OriginList(pub Vec<OriginRule>);

fn parse_origins(text: &str) -> Result<OriginList, String> {
    OriginRule::parse_list(text).map(OriginList)
}

/// An existing folder, as its canonical path (what uploads are compared with).
fn parse_upload_root(text: &str) -> Result<PathBuf, String> {
    match Policy::upload_roots(&[PathBuf::from(text)])? {
        Uploads::Under(mut roots) => Ok(roots.remove(0)),
        Uploads::Anywhere => unreachable!("upload_roots gives folders"),
    }
}

impl BrowserArgs {
    /// Where browsers come from, for `serve` and `mcp`: without `--upload-root`, uploads are
    /// refused.
    pub fn source(&self) -> BrowserSource {
        self.source_with(Uploads::Under(Vec::new()))
    }

    /// Where browsers come from, `without_roots` being the upload policy when no
    /// `--upload-root` is given. The policy is also made the process's default, which attached
    /// browsers (`--attach`, `browser_instance attach`) follow.
    pub fn source_with(&self, without_roots: Uploads) -> BrowserSource {
        let policy = Arc::new(self.policy(without_roots));
        set_process_default(policy.clone());
        match &self.attach {
            Some(endpoint) => BrowserSource::Attach(endpoint.clone()),
            None => BrowserSource::Launch(LaunchOptions {
                chrome: self.chrome.clone(),
                policy: Some(policy),
                ..LaunchOptions::default()
            }),
        }
    }

    /// The URL and upload policy the flags describe.
    pub fn policy(&self, without_roots: Uploads) -> Policy {
        let flatten =
            |lists: &[OriginList]| lists.iter().flat_map(|l| l.0.iter().cloned()).collect();
        Policy {
            allow_file_urls: self.allow_file_urls,
            allowed_origins: flatten(&self.allowed_origins),
            blocked_origins: flatten(&self.blocked_origins),
            uploads: if self.upload_roots.is_empty() {
                without_roots
            } else {
                Uploads::Under(self.upload_roots.clone())
            },
        }
    }

    /// The `--public` values, by name (the last one given wins).
    pub fn public_values(&self) -> std::collections::BTreeMap<String, String> {
        self.public.iter().cloned().collect()
    }

    pub fn executor(&self) -> Executor {
        Executor {
            default_timeout: Duration::from_millis(self.timeout),
        }
    }

    /// What to say when the browsers cannot be had.
    pub fn start_failure(&self) -> &'static str {
        if self.attach.is_some() {
            "cannot attach to the browser"
        } else {
            "cannot start Chromium"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        browser: BrowserArgs,
    }

    #[test]
    fn policy_flags() {
        let dir = tempfile::tempdir().unwrap();
        let cli = Cli::try_parse_from([
            "x",
            "--allow-file-urls",
            "--allowed-origins",
            "https://a.example;http://localhost:*",
            "--allowed-origins",
            "b.example",
            "--blocked-origins",
            "http://localhost:6666",
            "--upload-root",
            dir.path().to_str().unwrap(),
        ])
        .unwrap();
        let p = cli.browser.policy(Uploads::Anywhere);
        assert!(p.allow_file_urls);
        assert_eq!(p.allowed_origins.len(), 3);
        assert_eq!(p.blocked_origins.len(), 1);
        assert_eq!(
            p.uploads,
            Uploads::Under(vec![std::fs::canonicalize(dir.path()).unwrap()])
        );

        let plain = Cli::try_parse_from(["x"]).unwrap().browser;
        assert_eq!(
            plain.policy(Uploads::Under(vec![])),
            Policy {
                uploads: Uploads::Under(vec![]),
                ..Policy::default()
            }
        );
        for bad in [
            ["x", "--allowed-origins", "http://x/path"],
            ["x", "--upload-root", "/no/such/folder"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }
}
