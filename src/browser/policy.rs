//! What a browser instance may be pointed at and handed: the URL policy (which schemes a goto
//! or a new tab may use, and the allowed and blocked origin lists, as playwright-mcp's
//! `--allowed-origins` / `--blocked-origins`) and the folders `upload` may take files from.
//!
//! Navigations the engine starts (goto, a new tab's URL) are checked before anything is sent
//! to Chromium. With an origin list, every request of the browser (popups, redirects, frames,
//! subresources) is also paused through the CDP Fetch domain and failed with
//! `ERR_BLOCKED_BY_CLIENT` when it breaks the policy, so it never reaches its server.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// Schemes a goto or a new tab may use, besides `file` (with [`Policy::allow_file_urls`]).
pub const ALLOWED_SCHEMES: [&str; 4] = ["http", "https", "about", "data"];

/// The URL and upload policy of an instance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    /// `--allow-file-urls`: goto and new tabs may open `file:` URLs.
    pub allow_file_urls: bool,
    /// `--allowed-origins`: when not empty, only these origins may be requested.
    pub allowed_origins: Vec<OriginRule>,
    /// `--blocked-origins`: never requested; evaluated before the allowed list.
    pub blocked_origins: Vec<OriginRule>,
    /// Where `upload` may take files from.
    pub uploads: Uploads,
}

/// Where `upload` may take files from.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Uploads {
    /// Any file the server can read: the library's default, and `run`'s (task files are the
    /// user's own, as trusted as a script).
    #[default]
    Anywhere,
    /// Only files under these folders (canonical paths); none at all when empty.
    Under(Vec<PathBuf>),
}

/// One entry of an origin list.
#[derive(Debug, Clone, PartialEq)]
pub struct OriginRule {
    /// As the user wrote it, for error messages.
    text: String,
    /// `None`: any of http, https, ws, wss.
    scheme: Option<String>,
    /// Lower case; `*.example.com` is kept as `.example.com` (subdomains only).
    host: String,
    port: PortRule,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum PortRule {
    Any,
    /// The scheme's default port (an origin written without a port).
    Default,
    Exact(u16),
}

impl OriginRule {
    /// Reads one entry: `https://example.com:8443` (that origin only), `http://localhost:*` (any
    /// port), `example.com` or `example.com:8080` (any scheme; any port when none is given),
    /// `*.example.com` (its subdomains). A trailing `/` is ignored.
    pub fn parse(text: &str) -> Result<OriginRule, String> {
        let original = text.trim();
        let bad = |why: &str| Err(format!("'{original}' is not an origin: {why}"));
        let mut rest = original.trim_end_matches('/');
        let scheme = match rest.split_once("://") {
            Some((scheme, after)) => {
                let scheme = scheme.to_ascii_lowercase();
                if !matches!(scheme.as_str(), "http" | "https" | "ws" | "wss") {
                    return bad("the scheme must be http, https, ws or wss");
                }
                rest = after;
                Some(scheme)
            }
            None => None,
        };
        if rest.contains(['/', '?', '#', '@']) {
            return bad("an origin has no path, query or user");
        }
        let (host, port) = split_host_port(rest);
        let host = host.to_ascii_lowercase();
        let host = match host.strip_prefix("*.") {
            Some(base) => format!(".{base}"),
            None => host,
        };
        if host.is_empty() || host.contains('*') {
            return bad("no host (a `*` may only start it, as in *.example.com)");
        }
        let port = match port {
            None if scheme.is_some() => PortRule::Default,
            None => PortRule::Any,
            Some("*") => PortRule::Any,
            Some(p) => match p.parse::<u16>() {
                Ok(p) => PortRule::Exact(p),
                Err(_) => return bad("the port must be a number or *"),
            },
        };
        Ok(OriginRule {
            text: original.to_string(),
            scheme,
            host,
            port,
        })
    }

    /// Reads a `;`-separated list (playwright-mcp's form); `,` separates too.
    pub fn parse_list(text: &str) -> Result<Vec<OriginRule>, String> {
        text.split([';', ','])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(OriginRule::parse)
            .collect()
    }

    fn matches(&self, url: &ParsedUrl) -> bool {
        let Some(host) = url.host.as_deref() else {
            return false;
        };
        if let Some(scheme) = &self.scheme {
            if *scheme != url.scheme {
                return false;
            }
        }
        let host_ok = match self.host.strip_prefix('.') {
            Some(base) => host.ends_with(&self.host) && host.len() > base.len() + 1,
            None => host == self.host,
        };
        let port = url.port_or_default();
        let port_ok = match self.port {
            PortRule::Any => true,
            PortRule::Exact(p) => port == Some(p),
            PortRule::Default => port == self.scheme.as_deref().and_then(default_port),
        };
        host_ok && port_ok
    }
}

impl std::fmt::Display for OriginRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for OriginRule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OriginRule::parse(s)
    }
}

/// What the policy needs of a URL, read as Chromium reads it (surrounding spaces and control
/// characters dropped, tabs and newlines removed, any number of slashes or backslashes after a
/// special scheme, user info skipped, host in lower case).
#[derive(Debug, Clone, PartialEq)]
struct ParsedUrl {
    scheme: String,
    host: Option<String>,
    port: Option<u16>,
}

impl ParsedUrl {
    fn parse(url: &str) -> Option<ParsedUrl> {
        let cleaned: String = url
            .trim_matches(|c: char| c <= ' ')
            .chars()
            .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
            .collect();
        let (scheme, rest) = cleaned.split_once(':')?;
        let mut chars = scheme.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
        if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) {
            return None;
        }
        let scheme = scheme.to_ascii_lowercase();
        if !matches!(scheme.as_str(), "http" | "https" | "ws" | "wss" | "ftp") {
            return Some(ParsedUrl {
                scheme,
                host: None,
                port: None,
            });
        }
        let rest = rest.trim_start_matches(['/', '\\']);
        let authority = rest.split(['/', '\\', '?', '#']).next().unwrap_or_default();
        let authority = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        let (host, port) = split_host_port(authority);
        let port = match port {
            Some("") | None => None,
            Some(p) => Some(p.parse::<u16>().ok()?),
        };
        Some(ParsedUrl {
            scheme,
            host: Some(host.to_ascii_lowercase()),
            port,
        })
    }

    fn port_or_default(&self) -> Option<u16> {
        self.port.or_else(|| default_port(&self.scheme))
    }

    fn origin(&self) -> String {
        match (&self.host, self.port) {
            (Some(host), Some(port)) => format!("{}://{host}:{port}", self.scheme),
            (Some(host), None) => format!("{}://{host}", self.scheme),
            (None, _) => format!("{}:", self.scheme),
        }
    }
}

/// `chrome://crash` and `chrome://kill`, the two debug URLs that only end the tab's own
/// renderer (what crash handling is tested with). They show nothing and read nothing, unlike
/// every other chrome: page (versions and command lines, history, settings, downloads), which
/// stay refused.
fn is_renderer_debug_url(url: &str) -> bool {
    let url = url.trim().to_ascii_lowercase();
    matches!(
        url.trim_end_matches('/'),
        "chrome://crash" | "chrome://kill"
    )
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        "ftp" => Some(21),
        _ => None,
    }
}

/// `host:port`, `[v6]:port`, or a host alone.
fn split_host_port(authority: &str) -> (&str, Option<&str>) {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => {
                let port = authority[end + 1..].strip_prefix(':');
                (&authority[..=end], port)
            }
            None => (authority, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    }
}

impl Policy {
    /// Whether requests must be watched (an origin list is set).
    pub fn watches_requests(&self) -> bool {
        !self.allowed_origins.is_empty() || !self.blocked_origins.is_empty()
    }

    /// May the engine navigate to `url` (goto, a new tab)? The error says which rule refuses it.
    pub fn check_navigation(&self, url: &str) -> Result<(), String> {
        let Some(parsed) = ParsedUrl::parse(url) else {
            return Err(format!("'{url}' is not an absolute URL"));
        };
        match parsed.scheme.as_str() {
            "file" if self.allow_file_urls => Ok(()),
            "file" => Err(
                "the URL policy refuses file: URLs (local files); start browser-control with \
                 --allow-file-urls to allow them"
                    .to_string(),
            ),
            scheme if ALLOWED_SCHEMES.contains(&scheme) => self.check_origin(&parsed),
            "chrome" if is_renderer_debug_url(url) => Ok(()),
            scheme => Err(format!(
                "the URL policy refuses {scheme}: URLs (allowed: {}; file: with --allow-file-urls)",
                ALLOWED_SCHEMES.join(", ")
            )),
        }
    }

    /// May the browser send this request (any request, seen through the Fetch domain)? Only
    /// network requests are judged: `data:`, `blob:` and the like stay inside the browser.
    pub fn check_request(&self, url: &str) -> Result<(), String> {
        match ParsedUrl::parse(url) {
            Some(parsed) if parsed.scheme == "file" && !self.allow_file_urls => {
                Err("the URL policy refuses file: URLs (local files)".to_string())
            }
            Some(parsed) if parsed.host.is_some() => self.check_origin(&parsed),
            _ => Ok(()),
        }
    }

    fn check_origin(&self, url: &ParsedUrl) -> Result<(), String> {
        if url.host.is_none() {
            return Ok(());
        }
        if let Some(rule) = self.blocked_origins.iter().find(|r| r.matches(url)) {
            return Err(format!(
                "the URL policy blocks {}: it matches --blocked-origins {rule}",
                url.origin()
            ));
        }
        if !self.allowed_origins.is_empty() && !self.allowed_origins.iter().any(|r| r.matches(url))
        {
            let list: Vec<&str> = self
                .allowed_origins
                .iter()
                .map(|r| r.text.as_str())
                .collect();
            return Err(format!(
                "the URL policy blocks {}: it is not in --allowed-origins {}",
                url.origin(),
                list.join(";")
            ));
        }
        Ok(())
    }

    /// The file `upload` may hand to the page for `path`: its canonical path (symlinks and `..`
    /// resolved, so what is checked is what Chromium reads), when it is a regular file under an
    /// upload root.
    pub fn check_upload(&self, path: &str) -> Result<PathBuf, String> {
        let real = std::fs::canonicalize(path).map_err(|e| format!("{path}: {e}"))?;
        if !real.is_file() {
            return Err(format!("{path} is not a regular file"));
        }
        match &self.uploads {
            Uploads::Anywhere => Ok(real),
            Uploads::Under(roots) if roots.is_empty() => Err(format!(
                "uploads are off: {path} was refused; start browser-control with \
                 --upload-root DIR to allow the files under DIR"
            )),
            Uploads::Under(roots) => {
                if roots.iter().any(|root| real.starts_with(root)) {
                    Ok(real)
                } else {
                    let list: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
                    Err(format!(
                        "{path} is outside the upload folders (--upload-root {})",
                        list.join(", ")
                    ))
                }
            }
        }
    }

    /// Upload roots from `--upload-root` folders, made canonical (each must exist).
    pub fn upload_roots(dirs: &[PathBuf]) -> Result<Uploads, String> {
        dirs.iter()
            .map(|d| {
                let real = std::fs::canonicalize(d)
                    .map_err(|e| format!("--upload-root {}: {e}", d.display()))?;
                if real.is_dir() {
                    Ok(real)
                } else {
                    Err(format!("--upload-root {}: not a folder", d.display()))
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Uploads::Under)
    }
}

/// The policy of instances that name none: attached browsers (which have no launch options)
/// and launched ones whose [`super::LaunchOptions::policy`] is `None`. The command line sets it
/// once at start ([`set_process_default`]); until then, [`Policy::default`].
static PROCESS_DEFAULT: RwLock<Option<Arc<Policy>>> = RwLock::new(None);

pub fn process_default() -> Arc<Policy> {
    PROCESS_DEFAULT
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_default()
}

pub fn set_process_default(policy: Arc<Policy>) {
    *PROCESS_DEFAULT.write().unwrap_or_else(|e| e.into_inner()) = Some(policy);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allowed: &str, blocked: &str) -> Policy {
        Policy {
            allowed_origins: OriginRule::parse_list(allowed).unwrap(),
            blocked_origins: OriginRule::parse_list(blocked).unwrap(),
            ..Policy::default()
        }
    }

    #[test]
    fn schemes_by_default() {
        let p = Policy::default();
        for ok in [
            "http://example.com/",
            "https://example.com/a?b#c",
            "about:blank",
            "data:text/html,<p>hi",
            "HTTP://EXAMPLE.COM",
        ] {
            assert_eq!(p.check_navigation(ok), Ok(()), "{ok}");
        }
        for (refused, says) in [
            ("file:///etc/passwd", "--allow-file-urls"),
            ("  FILE:///etc/passwd", "--allow-file-urls"),
            ("fi\tle:///etc/passwd", "--allow-file-urls"),
            ("chrome://version", "refuses chrome: URLs"),
            ("chrome://crash/../version", "refuses chrome: URLs"),
            ("chrome://history", "refuses chrome: URLs"),
            (
                "view-source:file:///etc/passwd",
                "refuses view-source: URLs",
            ),
            ("javascript:alert(1)", "refuses javascript: URLs"),
            ("not a url", "not an absolute URL"),
        ] {
            let e = p.check_navigation(refused).unwrap_err();
            assert!(e.contains(says), "{refused}: {e}");
        }
        let files = Policy {
            allow_file_urls: true,
            ..Policy::default()
        };
        assert_eq!(files.check_navigation("file:///etc/passwd"), Ok(()));
        assert!(files.check_navigation("chrome://version").is_err());
        assert_eq!(p.check_navigation("chrome://kill"), Ok(()));
        assert_eq!(p.check_navigation("chrome://crash/"), Ok(()));
    }

    #[test]
    fn origin_lists_as_playwright_mcp_has_them() {
        let p = policy("", "http://localhost:*;https://evil.example");
        assert!(p.check_navigation("http://localhost:3000/x").is_err());
        assert!(p.check_navigation("http://LOCALHOST/").is_err());
        assert!(p.check_navigation("https://evil.example/").is_err());
        assert!(p.check_navigation("https://evil.example:443/").is_err());
        // Only the given origin: another port or scheme is another origin.
        assert_eq!(p.check_navigation("https://evil.example:8443/"), Ok(()));
        assert_eq!(p.check_navigation("https://localhost/"), Ok(()));
        assert_eq!(p.check_navigation("http://127.0.0.1:3000/"), Ok(()));
        let e = p.check_navigation("http://user@localhost:9/").unwrap_err();
        assert_eq!(
            e,
            "the URL policy blocks http://localhost:9: it matches --blocked-origins http://localhost:*"
        );

        // Blocked before allowed; with an allowed list, the rest is blocked.
        let p = policy("127.0.0.1;*.example.com", "127.0.0.1:6666");
        assert_eq!(p.check_navigation("http://127.0.0.1:5000/"), Ok(()));
        assert_eq!(p.check_navigation("https://a.b.example.com/"), Ok(()));
        assert!(p.check_navigation("https://example.com/").is_err());
        assert!(p.check_navigation("http://127.0.0.1:6666/").is_err());
        let e = p.check_navigation("http://localhost:5000/").unwrap_err();
        assert!(
            e.contains("not in --allowed-origins 127.0.0.1;*.example.com"),
            "{e}"
        );
        // about: and data: have no origin to judge.
        assert_eq!(p.check_navigation("about:blank"), Ok(()));
        assert_eq!(p.check_request("data:image/png;base64,AA"), Ok(()));
        assert!(p.check_request("ws://localhost:1/").is_err());
        // Backslashes and extra slashes reach the same host, as Chromium reads them.
        assert!(p.check_request("http:\\\\localhost:5000\\x").is_err());
    }

    #[test]
    fn bad_rules_are_refused() {
        for bad in ["ftp://x", "http://x/path", "http://x:port", "*", "http://*"] {
            assert!(OriginRule::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(OriginRule::parse_list(" a.com ; b.com ;").unwrap().len(), 2);
        let v6 = OriginRule::parse("http://[::1]:*").unwrap();
        assert!(v6.matches(&ParsedUrl::parse("http://[::1]:8080/").unwrap()));
    }

    #[test]
    fn uploads_stay_under_their_roots() {
        let root = tempfile::tempdir().unwrap();
        let inside = root.path().join("in.txt");
        std::fs::write(&inside, "x").unwrap();
        let outside = tempfile::NamedTempFile::new().unwrap();
        let p = Policy {
            uploads: Policy::upload_roots(&[root.path().to_path_buf()]).unwrap(),
            ..Policy::default()
        };
        let real_inside = std::fs::canonicalize(&inside).unwrap();
        assert_eq!(p.check_upload(inside.to_str().unwrap()), Ok(real_inside));
        let e = p
            .check_upload(outside.path().to_str().unwrap())
            .unwrap_err();
        assert!(e.contains("outside the upload folders"), "{e}");
        // `..` and symlinks are resolved before the check.
        let sneaky = format!(
            "{}/../{}",
            root.path().display(),
            outside.path().file_name().unwrap().to_str().unwrap()
        );
        assert!(p.check_upload(&sneaky).is_err());
        let link = root.path().join("link");
        std::os::unix::fs::symlink(outside.path(), &link).unwrap();
        assert!(p.check_upload(link.to_str().unwrap()).is_err());
        assert!(p.check_upload(root.path().to_str().unwrap()).is_err());
        let off = Policy {
            uploads: Uploads::Under(Vec::new()),
            ..Policy::default()
        };
        let e = off.check_upload(inside.to_str().unwrap()).unwrap_err();
        assert!(e.contains("--upload-root"), "{e}");
        assert!(Policy::upload_roots(&[PathBuf::from("/no/such/dir")]).is_err());
    }
}
