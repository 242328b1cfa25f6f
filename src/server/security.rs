//! Who may use the server. A page on some website must not drive the runner through the user's
//! browser: requests carrying a foreign `Origin` are refused, and while bound to loopback a
//! `Host` that is not a loopback name is too (DNS rebinding). Then the credential becomes the
//! request's [`User`] (src/auth), which every handler finds in the request's extensions. Off
//! loopback some authentication is required.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::redact::redact;
use crate::auth::{Authenticator, Source};
use crate::task::User;

pub struct Access {
    /// Origins allowed besides loopback ones, as browsers send them (`https://app.example`);
    /// `*` allows any.
    pub allow_origins: Vec<String>,
    /// Who the caller is, from their credential.
    pub auth: Authenticator,
    /// Bound to a loopback address: `Host` must then be a loopback name.
    pub loopback: bool,
}

impl Default for Access {
    fn default() -> Self {
        Access {
            allow_origins: Vec::new(),
            auth: Authenticator::none(),
            loopback: false,
        }
    }
}

/// Files that hold no one's data and that pages load without a way to add a credential: the
/// dashboard's script and style (its page is fetched with `?token=`, their URLs are not), the
/// API document and Swagger UI's files. The Origin and Host checks still apply to them.
pub fn is_public_asset(method: &Method, path: &str) -> bool {
    method == Method::GET
        && (matches!(
            path,
            "/dashboard.js" | "/dashboard.css" | "/api/openapi.json" | "/api/docs"
        ) || path.starts_with("/api/docs/"))
}

pub async fn guard(
    State(access): State<Arc<Access>>,
    mut request: Request,
    next: Next,
) -> Response {
    let uri = request.uri();
    // The external app's socket and client library: another origin, no credential, a live
    // token (checked by the route). The Host check still applies.
    if super::external::is_app_request(request.method(), uri.path(), uri.query()) {
        return match access.check_host(request.headers()) {
            Ok(()) => next.run(request).await,
            Err(refusal) => refusal.into_response(),
        };
    }
    let checked = match access.check(request.headers()) {
        Ok(()) if is_public_asset(request.method(), request.uri().path()) => {
            return next.run(request).await;
        }
        Ok(()) => {
            access
                .user(request.method(), request.headers(), request.uri())
                .await
        }
        Err(refusal) => Err(refusal),
    };
    match checked {
        Ok(user) => {
            request.extensions_mut().insert(user);
            next.run(request).await
        }
        Err(refusal) => {
            let uri = request.uri().to_string();
            tracing::warn!(
                method = %request.method(),
                uri = %redact(&uri),
                "refused: {}",
                redact(&refusal.message)
            );
            refusal.into_response()
        }
    }
}

/// Why a token cannot be used, if it cannot: a blank one (`--token "   "`) would let in any
/// request sending those spaces, and surrounding white space does not survive a header. The
/// message never repeats the token.
pub fn check_token(token: &str) -> Result<(), String> {
    if token.trim().is_empty() {
        return Err("the token is blank: give one that is not only spaces, or none".into());
    }
    if token.trim() != token {
        return Err(
            "the token starts or ends with white space, which an Authorization header cannot \
             carry: remove it"
                .into(),
        );
    }
    if token.chars().any(char::is_control) {
        return Err("the token has control characters: use printable ones".into());
    }
    Ok(())
}

impl Access {
    pub fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("(not text)");
            if !self.origin_allowed(origin) && !same_origin(origin, headers) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "FORBIDDEN_ORIGIN",
                    format!(
                        "Origin {origin} is not allowed: only pages served from loopback may use \
                         this server (start it with --allow-origin {origin} to allow that one)"
                    ),
                ));
            }
        }
        self.check_host(headers)
    }

    /// On a loopback bind, the Host must be a loopback name (DNS rebinding).
    pub fn check_host(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        if self.loopback {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            if !is_loopback_host(strip_port(host)) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "FORBIDDEN_HOST",
                    format!(
                        "Host {host} is not a loopback name, and this server is bound to loopback"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The user the request's credential names (the local user when there is no auth).
    pub async fn user(
        &self,
        method: &Method,
        headers: &HeaderMap,
        uri: &Uri,
    ) -> Result<User, ApiError> {
        // A CORS preflight carries no credentials; it only asks which requests may follow.
        let preflight = method == Method::OPTIONS
            && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        if preflight {
            return Ok(User::local());
        }
        let presented = match (bearer(headers), api_key(headers), query_token(uri)) {
            (Some(b), _, _) => Some((b, Source::Bearer)),
            (None, Some(k), _) => Some((k, Source::ApiKeyHeader)),
            (None, None, Some(q)) => Some((q, Source::Query)),
            (None, None, None) => None,
        };
        self.auth
            .authenticate(presented.as_ref().map(|(c, s)| (c.as_str(), *s)))
            .await
            .map_err(|refused| ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", refused.0))
    }

    pub fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.trim_end_matches('/');
        if self
            .allow_origins
            .iter()
            .any(|a| a == "*" || a.trim_end_matches('/').eq_ignore_ascii_case(origin))
        {
            return true;
        }
        // `null` (file://, sandboxed frames) and anything unparsable are foreign.
        let Some((scheme, rest)) = origin.split_once("://") else {
            return false;
        };
        matches!(scheme, "http" | "https") && is_loopback_host(strip_port(rest))
    }
}

/// A page this server served itself (the dashboard): its Origin names the Host it asked. On
/// loopback the Host check below still applies, and off loopback the token does, so a
/// rebinding page gains nothing from it.
fn same_origin(origin: &str, headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let origin = origin.trim_end_matches('/');
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|authority| authority.eq_ignore_ascii_case(host))
}

/// CORS for the pages `check` lets through (loopback and `--allow-origin` ones), so their
/// scripts can read the HTTP routes' answers.
pub fn cors(access: Arc<Access>) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origin.to_str().is_ok_and(|o| access.origin_allowed(o))
        }))
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::HeaderName::from_static("x-api-key"),
        ])
}

/// `localhost`, `127.0.0.1:3400` → `127.0.0.1`, `[::1]:80` → `::1`.
fn strip_port(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.split(':').next().unwrap_or(authority)
}

fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

fn api_key(headers: &HeaderMap) -> Option<String> {
    Some(headers.get("x-api-key")?.to_str().ok()?.trim().to_string())
}

fn query_token(uri: &Uri) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(uri.query()?).ok()?;
    pairs
        .into_iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn loopback_origins_pass_and_others_are_refused() {
        let access = Access {
            loopback: true,
            ..Default::default()
        };
        for ok in [
            "http://localhost:5173",
            "http://127.0.0.1",
            "https://[::1]:8443",
        ] {
            assert!(
                access.check(&headers(&[(header::ORIGIN, ok)])).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "https://evil.example",
            "null",
            "http://127.0.0.1.evil.example",
        ] {
            let err = access
                .check(&headers(&[(header::ORIGIN, bad)]))
                .unwrap_err();
            assert_eq!(err.status, StatusCode::FORBIDDEN, "{bad}");
            assert!(err.message.contains(bad), "{}", err.message);
        }
        // No Origin at all: a program, not a page.
        assert!(access.check(&HeaderMap::new()).is_ok());
        let allowed = Access {
            allow_origins: vec!["https://app.example".into()],
            ..Default::default()
        };
        assert!(allowed
            .check(&headers(&[(header::ORIGIN, "https://app.example")]))
            .is_ok());
    }

    #[test]
    fn a_rebound_host_name_is_refused_on_loopback() {
        let access = Access {
            loopback: true,
            ..Default::default()
        };
        assert!(access
            .check(&headers(&[(header::HOST, "localhost:3400")]))
            .is_ok());
        let err = access
            .check(&headers(&[(header::HOST, "attacker.example:3400")]))
            .unwrap_err();
        assert_eq!(err.code, "FORBIDDEN_HOST");
    }

    #[test]
    fn blank_or_padded_tokens_are_refused_without_repeating_them() {
        for bad in ["", "   ", "\t", " s3cret", "s3cret\n", "s3c\u{7}ret"] {
            let err = check_token(bad).unwrap_err();
            assert!(bad.trim().is_empty() || !err.contains(bad.trim()), "{err}");
        }
        assert!(check_token("s3cret-token").is_ok());
    }

    fn with_token() -> Access {
        let config = crate::auth::AuthConfig {
            token: Some("s3cret".into()),
            ..Default::default()
        };
        let accounts: Arc<dyn crate::store::Accounts> = Arc::new(
            crate::store::memory::MemoryStore::new(crate::store::Retention::default()),
        );
        Access {
            auth: Authenticator::new(&config, accounts).unwrap(),
            ..Default::default()
        }
    }

    async fn admitted(access: &Access, method: Method, headers: &HeaderMap, uri: &str) -> bool {
        let uri: Uri = uri.parse().unwrap();
        access.check(headers).is_ok() && access.user(&method, headers, &uri).await.is_ok()
    }

    #[tokio::test]
    async fn the_dashboard_served_off_loopback_may_call_home_with_the_token() {
        let access = with_token();
        let own = headers(&[
            (header::HOST, "runner.lan:3400"),
            (header::ORIGIN, "http://runner.lan:3400"),
        ]);
        assert!(admitted(&access, Method::GET, &own, "/?token=s3cret").await);
        // Same origin is no pass without the token.
        let err = access
            .user(&Method::GET, &own, &"/".parse().unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.code, "UNAUTHORIZED");
        let other = headers(&[
            (header::HOST, "runner.lan:3400"),
            (header::ORIGIN, "http://runner.lan:8080"),
        ]);
        assert_eq!(access.check(&other).unwrap_err().code, "FORBIDDEN_ORIGIN");
    }

    #[tokio::test]
    async fn a_cors_preflight_needs_no_token() {
        let access = with_token();
        let preflight = headers(&[(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")]);
        assert!(admitted(&access, Method::OPTIONS, &preflight, "/tasks").await);
        assert!(!admitted(&access, Method::POST, &preflight, "/tasks").await);
        assert!(!admitted(&access, Method::OPTIONS, &HeaderMap::new(), "/tasks").await);
    }

    #[tokio::test]
    async fn the_token_is_taken_from_the_header_or_the_query() {
        let access = with_token();
        let none = HeaderMap::new();
        assert!(!admitted(&access, Method::GET, &none, "/tasks").await);
        let good = headers(&[(header::AUTHORIZATION, "Bearer s3cret")]);
        assert!(admitted(&access, Method::GET, &good, "/tasks").await);
        assert!(admitted(&access, Method::GET, &none, "/?token=s3cret").await);
        assert!(!admitted(&access, Method::GET, &none, "/?token=s3cre").await);
        let bad = headers(&[(header::AUTHORIZATION, "Bearer nope")]);
        assert!(!admitted(&access, Method::GET, &bad, "/tasks").await);
    }
}
