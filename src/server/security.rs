//! Who may use the server. A page on some website must not drive the runner through the user's
//! browser: requests carrying a foreign `Origin` are refused, and while bound to loopback a
//! `Host` that is not a loopback name is too (DNS rebinding). Off loopback a token is required.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::redact::redact;

#[derive(Debug, Clone, Default)]
pub struct Access {
    /// Origins allowed besides loopback ones, as browsers send them (`https://app.example`);
    /// `*` allows any.
    pub allow_origins: Vec<String>,
    /// Required from every request when set: `Authorization: Bearer …` or `?token=…`.
    pub token: Option<String>,
    /// Bound to a loopback address: `Host` must then be a loopback name.
    pub loopback: bool,
}

pub async fn guard(
    State(access): State<Arc<Access>>,
    mut request: Request,
    next: Next,
) -> Response {
    match access.check(request.method(), request.headers(), request.uri()) {
        Ok(()) => {
            // Who is calling, for the layers and handlers after this one (rate limits).
            request.extensions_mut().insert(crate::task::User::local());
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
    pub fn check(&self, method: &Method, headers: &HeaderMap, uri: &Uri) -> Result<(), ApiError> {
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
        // A CORS preflight carries no credentials; it only asks which requests may follow.
        let preflight = method == Method::OPTIONS
            && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        if let (Some(token), false) = (&self.token, preflight) {
            let presented = bearer(headers).or_else(|| query_token(uri));
            if !presented.is_some_and(|p| same_secret(&p, token)) {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "UNAUTHORIZED",
                    "A token is required: send the header `Authorization: Bearer <token>` or \
                     add `?token=<token>` to the URL",
                ));
            }
        }
        Ok(())
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
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
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

fn query_token(uri: &Uri) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(uri.query()?).ok()?;
    pairs
        .into_iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v)
}

/// Compares without stopping at the first difference, so timing does not leak the token.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
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
        let uri: Uri = "/".parse().unwrap();
        for ok in [
            "http://localhost:5173",
            "http://127.0.0.1",
            "https://[::1]:8443",
        ] {
            assert!(
                access
                    .check(&Method::GET, &headers(&[(header::ORIGIN, ok)]), &uri)
                    .is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "https://evil.example",
            "null",
            "http://127.0.0.1.evil.example",
        ] {
            let err = access
                .check(&Method::GET, &headers(&[(header::ORIGIN, bad)]), &uri)
                .unwrap_err();
            assert_eq!(err.status, StatusCode::FORBIDDEN, "{bad}");
            assert!(err.message.contains(bad), "{}", err.message);
        }
        // No Origin at all: a program, not a page.
        assert!(access.check(&Method::GET, &HeaderMap::new(), &uri).is_ok());
        let allowed = Access {
            allow_origins: vec!["https://app.example".into()],
            ..Default::default()
        };
        assert!(allowed
            .check(
                &Method::GET,
                &headers(&[(header::ORIGIN, "https://app.example")]),
                &uri
            )
            .is_ok());
    }

    #[test]
    fn a_rebound_host_name_is_refused_on_loopback() {
        let access = Access {
            loopback: true,
            ..Default::default()
        };
        let uri: Uri = "/tasks".parse().unwrap();
        assert!(access
            .check(
                &Method::GET,
                &headers(&[(header::HOST, "localhost:3400")]),
                &uri
            )
            .is_ok());
        let err = access
            .check(
                &Method::GET,
                &headers(&[(header::HOST, "attacker.example:3400")]),
                &uri,
            )
            .unwrap_err();
        assert_eq!(err.code, "FORBIDDEN_HOST");
    }

    #[test]
    fn the_dashboard_served_off_loopback_may_call_home_with_the_token() {
        let access = Access {
            token: Some("s3cret".into()),
            loopback: false,
            ..Default::default()
        };
        let uri: Uri = "/?token=s3cret".parse().unwrap();
        let own = headers(&[
            (header::HOST, "runner.lan:3400"),
            (header::ORIGIN, "http://runner.lan:3400"),
        ]);
        assert!(access.check(&Method::GET, &own, &uri).is_ok());
        // Same origin is no pass without the token.
        let no_token: Uri = "/".parse().unwrap();
        assert_eq!(
            access
                .check(&Method::GET, &own, &no_token)
                .unwrap_err()
                .code,
            "UNAUTHORIZED"
        );
        let other = headers(&[
            (header::HOST, "runner.lan:3400"),
            (header::ORIGIN, "http://runner.lan:8080"),
        ]);
        assert_eq!(
            access.check(&Method::GET, &other, &uri).unwrap_err().code,
            "FORBIDDEN_ORIGIN"
        );
    }

    #[test]
    fn blank_or_padded_tokens_are_refused_without_repeating_them() {
        for bad in ["", "   ", "\t", " s3cret", "s3cret\n", "s3c\u{7}ret"] {
            let err = check_token(bad).unwrap_err();
            assert!(bad.trim().is_empty() || !err.contains(bad.trim()), "{err}");
        }
        assert!(check_token("s3cret-token").is_ok());
    }

    #[test]
    fn a_cors_preflight_needs_no_token() {
        let access = Access {
            token: Some("s3cret".into()),
            ..Default::default()
        };
        let uri: Uri = "/tasks".parse().unwrap();
        let preflight = headers(&[(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")]);
        assert!(access.check(&Method::OPTIONS, &preflight, &uri).is_ok());
        assert!(access.check(&Method::POST, &preflight, &uri).is_err());
        assert!(access
            .check(&Method::OPTIONS, &HeaderMap::new(), &uri)
            .is_err());
    }

    #[test]
    fn the_token_is_taken_from_the_header_or_the_query() {
        let access = Access {
            token: Some("s3cret".into()),
            ..Default::default()
        };
        let plain: Uri = "/tasks".parse().unwrap();
        let err = access
            .check(&Method::GET, &HeaderMap::new(), &plain)
            .unwrap_err();
        assert_eq!(err.status, StatusCode::UNAUTHORIZED);
        assert!(access
            .check(
                &Method::GET,
                &headers(&[(header::AUTHORIZATION, "Bearer s3cret")]),
                &plain
            )
            .is_ok());
        assert!(access
            .check(
                &Method::GET,
                &HeaderMap::new(),
                &"/?token=s3cret".parse().unwrap()
            )
            .is_ok());
        assert!(access
            .check(
                &Method::GET,
                &HeaderMap::new(),
                &"/?token=s3cre".parse().unwrap()
            )
            .is_err());
        assert!(access
            .check(
                &Method::GET,
                &headers(&[(header::AUTHORIZATION, "Bearer nope")]),
                &plain
            )
            .is_err());
    }
}
