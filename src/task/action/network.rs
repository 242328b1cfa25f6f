//! browser_network: cookies, extra headers, interception, Web Storage.

use serde::Deserialize;

use super::default_true;
use super::{check_url, in_range, non_empty, ArgsError};

/// Which Web Storage area: one, or both (`all`, the origin's, for reading and clearing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    #[default]
    #[serde(alias = "localStorage")]
    Local,
    #[serde(alias = "sessionStorage")]
    Session,
    All,
}

impl StorageKind {
    /// The areas, by their JavaScript names.
    pub fn js_names(self) -> &'static [&'static str] {
        match self {
            StorageKind::Local => &["localStorage"],
            StorageKind::Session => &["sessionStorage"],
            StorageKind::All => &["localStorage", "sessionStorage"],
        }
    }
}

/// One interception rule: a URL pattern alone (crossed with `resourceTypes`), or the origin's
/// `{urlPattern, resourceType}`, a pattern with its own type.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum InterceptPattern {
    Url(String),
    Rule {
        #[serde(rename = "urlPattern")]
        url_pattern: String,
        #[serde(default, rename = "resourceType")]
        resource_type: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum SameSite {
    #[serde(alias = "strict")]
    Strict,
    #[serde(alias = "lax")]
    Lax,
    #[serde(alias = "none")]
    None,
}

/// What an intercepted request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InterceptMode {
    /// Fails as blocked by the client (`net::ERR_BLOCKED_BY_CLIENT`).
    #[default]
    Block,
    /// Fails as a network failure (`net::ERR_FAILED`).
    Fail,
}

/// browser_network: cookies, extra headers, request interception, Web Storage.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum NetworkAction {
    /// Cookies visible to the current page (or to `urls`).
    GetCookies {
        #[serde(default)]
        urls: Vec<String>,
    },
    SetCookie {
        name: String,
        value: String,
        #[serde(default)]
        url: Option<String>,
        #[serde(default)]
        domain: Option<String>,
        #[serde(default)]
        path: Option<String>,
        #[serde(default)]
        secure: Option<bool>,
        #[serde(default, rename = "httpOnly")]
        http_only: Option<bool>,
        #[serde(default, rename = "sameSite")]
        same_site: Option<SameSite>,
        /// Seconds since the Unix epoch; a session cookie without it.
        #[serde(default)]
        expires: Option<f64>,
    },
    /// Every cookie of the browser, or those of `domain` (and its subdomains).
    ClearCookies {
        #[serde(default)]
        domain: Option<String>,
    },
    /// Extra headers sent with every request of the page; `{}` removes them.
    SetHeaders {
        headers: std::collections::BTreeMap<String, String>,
    },
    /// Blocks or fails the requests matching `patterns` (URL wildcards, `*` and `?`) and/or
    /// `resourceTypes`; `enabled: false` stops.
    Intercept {
        #[serde(default = "default_true")]
        enabled: bool,
        #[serde(default)]
        patterns: Vec<InterceptPattern>,
        #[serde(default, rename = "resourceTypes")]
        resource_types: Vec<String>,
        #[serde(default)]
        mode: InterceptMode,
    },
    GetStorage {
        #[serde(default)]
        storage: StorageKind,
        #[serde(default)]
        key: Option<String>,
    },
    SetStorage {
        #[serde(default)]
        storage: StorageKind,
        key: String,
        value: String,
    },
    ClearStorage {
        #[serde(default)]
        storage: StorageKind,
    },
}

/// The resource types Fetch patterns accept, as CDP names them.
pub const RESOURCE_TYPES: [&str; 15] = [
    "Document",
    "Stylesheet",
    "Image",
    "Media",
    "Font",
    "Script",
    "TextTrack",
    "XHR",
    "Fetch",
    "Prefetch",
    "EventSource",
    "WebSocket",
    "Manifest",
    "Ping",
    "Other",
];

pub(super) fn check(action: &mut NetworkAction) -> Result<(), ArgsError> {
    match action {
        NetworkAction::GetCookies { urls } => {
            for (i, url) in urls.iter().enumerate() {
                check_url(&format!("urls[{i}]"), url)?;
            }
            Ok(())
        }
        NetworkAction::ClearCookies {
            domain: Some(domain),
        } => non_empty("domain", domain),
        NetworkAction::SetCookie {
            name,
            url,
            domain,
            expires,
            ..
        } => {
            non_empty("name", name)?;
            match (url, domain) {
                (None, None) => {
                    return Err(ArgsError::new("url", "is required (or give domain)"));
                }
                (Some(url), _) => check_url("url", url)?,
                (None, Some(domain)) => non_empty("domain", domain)?,
            }
            if let Some(expires) = expires {
                in_range("expires", *expires, 0.0, 1e11)?;
            }
            Ok(())
        }
        NetworkAction::SetHeaders { headers } => {
            for name in headers.keys() {
                let token = !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
                if !token {
                    return Err(ArgsError::new(
                        "headers",
                        format!("'{name}' is not a valid header name"),
                    ));
                }
            }
            Ok(())
        }
        NetworkAction::Intercept {
            enabled: true,
            patterns,
            resource_types,
            ..
        } => {
            if patterns.is_empty() && resource_types.is_empty() {
                return Err(ArgsError::new(
                    "patterns",
                    "is required to intercept (or give resourceTypes)",
                ));
            }
            for (i, p) in patterns.iter().enumerate() {
                match p {
                    InterceptPattern::Url(p) => non_empty(&format!("patterns[{i}]"), p)?,
                    InterceptPattern::Rule {
                        url_pattern,
                        resource_type: rule_type,
                    } => {
                        non_empty(&format!("patterns[{i}].urlPattern"), url_pattern)?;
                        if let Some(t) = rule_type {
                            if resource_type(t).is_none() {
                                return Err(ArgsError::new(
                                    &format!("patterns[{i}].resourceType"),
                                    unknown_type(t),
                                ));
                            }
                        }
                    }
                }
            }
            for (i, t) in resource_types.iter().enumerate() {
                if resource_type(t).is_none() {
                    return Err(ArgsError::new(
                        &format!("resourceTypes[{i}]"),
                        unknown_type(t),
                    ));
                }
            }
            Ok(())
        }
        NetworkAction::SetStorage { key, storage, .. } => {
            if *storage == StorageKind::All {
                return Err(ArgsError::new(
                    "storage",
                    "all is for get_storage and clear_storage; set one area (local or session)",
                ));
            }
            non_empty("key", key)
        }
        _ => Ok(()),
    }
}

fn unknown_type(t: &str) -> String {
    format!(
        "unknown resource type '{t}', expected one of {}",
        RESOURCE_TYPES.join(", ")
    )
}

/// The CDP name of a resource type, matched without regard to case.
pub fn resource_type(name: &str) -> Option<&'static str> {
    RESOURCE_TYPES
        .iter()
        .find(|t| t.eq_ignore_ascii_case(name))
        .copied()
}
