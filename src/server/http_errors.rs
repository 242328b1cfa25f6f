//! Every HTTP error in the one shape, `{"error": {"code", "message"}}`, including those the
//! router and its libraries answer themselves (no route, wrong method, a body too large or of
//! the wrong type), and request bodies read so that no answer is lost to a reset connection.

use std::time::Duration;

use axum::body::BodyDataStream;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use super::error::ApiError;

/// How much of a body over the limit is still read (and thrown away) so that the client, still
/// sending, reads the 413 instead of a reset connection. Past this, the connection is closed.
pub const DRAIN_BYTES: u64 = 64 << 20;
/// How long such a body may take to arrive.
const DRAIN_TIME: Duration = Duration::from_secs(30);
/// The most of an error body read to reshape it (they are one line of text).
const ERROR_BODY_BYTES: usize = 16 << 10;

/// The code of an error answered without one of ours.
pub fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "BAD_REQUEST",
        StatusCode::UNAUTHORIZED => "UNAUTHORIZED",
        StatusCode::FORBIDDEN => "FORBIDDEN",
        StatusCode::NOT_FOUND => "NOT_FOUND",
        StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
        StatusCode::NOT_ACCEPTABLE => "NOT_ACCEPTABLE",
        StatusCode::REQUEST_TIMEOUT => "REQUEST_TIMEOUT",
        StatusCode::CONFLICT => "CONFLICT",
        StatusCode::GONE => "GONE",
        StatusCode::LENGTH_REQUIRED => "LENGTH_REQUIRED",
        StatusCode::PAYLOAD_TOO_LARGE => "PAYLOAD_TOO_LARGE",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "UNSUPPORTED_MEDIA_TYPE",
        StatusCode::UNPROCESSABLE_ENTITY => "UNPROCESSABLE_ENTITY",
        StatusCode::TOO_MANY_REQUESTS => "TOO_MANY_REQUESTS",
        StatusCode::NOT_IMPLEMENTED => "NOT_IMPLEMENTED",
        StatusCode::BAD_GATEWAY => "BAD_GATEWAY",
        StatusCode::SERVICE_UNAVAILABLE => "UNAVAILABLE",
        StatusCode::GATEWAY_TIMEOUT => "GATEWAY_TIMEOUT",
        s if s.is_server_error() => "INTERNAL_ERROR",
        _ => "BAD_REQUEST",
    }
}

/// Outermost layer: an error answer that is not JSON (axum's 404 and 405, rejections of
/// extractors, rmcp's transport errors) is rewritten in the one shape, its status and headers
/// (`Allow`, `WWW-Authenticate`, …) kept.
pub async fn shape_errors(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    let status = response.status();
    let failed = status.is_client_error() || status.is_server_error();
    let agent = path == "/api/agent" || path.starts_with("/api/agent/");
    if failed && agent && is_json(response.headers()) {
        return envelope(response).await;
    }
    if !failed || is_json(response.headers()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, ERROR_BODY_BYTES)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = match status {
        StatusCode::NOT_FOUND if text.is_empty() => {
            format!("No route for {method} {path}: GET /info lists the routes")
        }
        // The router adds `Allow` after this layer: the header says which methods it takes.
        StatusCode::METHOD_NOT_ALLOWED => {
            format!("{path} does not take {method}: the Allow header lists what it takes")
        }
        _ if text.is_empty() => status
            .canonical_reason()
            .unwrap_or("Request failed")
            .to_string(),
        _ => text,
    };
    // Redacted on the way out, like every error's message.
    let error = ApiError::new(status, code_for(status), message);
    let shaped = error.into_response();
    let shaped = if agent {
        envelope(shaped).await
    } else {
        shaped
    };
    // The new body's own headers; the others (Allow, WWW-Authenticate, Connection) stay.
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::TRANSFER_ENCODING);
    let (shaped_parts, body) = shaped.into_parts();
    for (name, value) in &shaped_parts.headers {
        parts.headers.insert(name.clone(), value.clone());
    }
    Response::from_parts(parts, body)
}

/// The agent API's errors carry `success: false` beside `error` (its envelope), whoever
/// answered them (the guard, the rate limiter, the router).
async fn envelope(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, ERROR_BODY_BYTES * 16).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let body = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(mut map)) if map.contains_key("error") => {
            map.insert("success".into(), serde_json::Value::Bool(false));
            let mut out = serde_json::Map::new();
            out.insert("success".into(), serde_json::Value::Bool(false));
            out.extend(map.into_iter().filter(|(k, _)| k != "success"));
            Bytes::from(serde_json::Value::Object(out).to_string())
        }
        _ => bytes,
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| {
            let essence = c.split(';').next().unwrap_or("").trim();
            essence.eq_ignore_ascii_case("application/json") || essence.ends_with("+json")
        })
}

/// Reads a request's body before anything else sees it, up to `limit` bytes (the body the
/// handlers get is the same bytes). A body over the limit is answered 413, after reading the
/// rest of it (up to [`DRAIN_BYTES`]) so that a client still sending reads the answer; beyond
/// that, or when the client waits for `100 Continue`, the 413 goes at once and the connection
/// is closed. Every refusal of later layers (a missing token, an unknown route) thus finds the
/// body read, too.
pub async fn read_body(State(limit): State<usize>, request: Request, next: Next) -> Response {
    let declared = declared_length(request.headers());
    let has_body = declared.is_some_and(|n| n > 0)
        || (declared.is_none() && request.headers().contains_key(header::TRANSFER_ENCODING));
    if !has_body {
        return next.run(request).await;
    }
    let limit64 = limit as u64;
    if let Some(length) = declared {
        if length > limit64 {
            let message = too_large(Some(length), limit);
            let expects_continue = request
                .headers()
                .get(header::EXPECT)
                .and_then(|e| e.to_str().ok())
                .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"));
            if expects_continue || length > DRAIN_BYTES {
                return closing(message);
            }
            return match drain(request.into_body().into_data_stream(), DRAIN_BYTES).await {
                Drained::All => message.into_response(),
                Drained::Partly => closing(message),
            };
        }
    }
    let (parts, body) = request.into_parts();
    let mut stream = body.into_data_stream();
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError::bad_request(format!("the request body could not be read: {e}"))
            })?;
            if buffer.len() + chunk.len() > limit {
                return Err(too_large(None, limit));
            }
            buffer.extend_from_slice(&chunk);
        }
        Ok(())
    })
    .await;
    match read {
        Ok(Ok(())) => {}
        Ok(Err(error)) if error.status == StatusCode::PAYLOAD_TOO_LARGE => {
            return match drain(stream, DRAIN_BYTES).await {
                Drained::All => error.into_response(),
                Drained::Partly => closing(error),
            };
        }
        Ok(Err(error)) => return closing(error),
        Err(_) => {
            return closing(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "REQUEST_TIMEOUT",
                format!(
                    "the request body did not arrive within {} s",
                    DRAIN_TIME.as_secs()
                ),
            ))
        }
    }
    next.run(Request::from_parts(parts, Body::from(Bytes::from(buffer))))
        .await
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn too_large(length: Option<u64>, limit: usize) -> ApiError {
    let size = match length {
        Some(n) => format!("{n} bytes"),
        None => format!("more than {limit} bytes"),
    };
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        format!(
            "Message too large: the body has {size}, the limit is {limit} bytes \
             (--max-message-bytes)"
        ),
    )
}

/// An answer after which the connection is closed: the rest of the request is not read.
fn closing(error: ApiError) -> Response {
    let mut response = error.into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

enum Drained {
    All,
    /// Too much, too slow, or broken: the connection should close.
    Partly,
}

/// Reads and drops the rest of a body, up to `cap` bytes and [`DRAIN_TIME`].
async fn drain(mut stream: BodyDataStream, cap: u64) -> Drained {
    let mut read = 0u64;
    let all = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(chunk) = stream.next().await {
            let Ok(chunk) = chunk else { return false };
            read += chunk.len() as u64;
            if read > cap {
                return false;
            }
        }
        true
    })
    .await;
    match all {
        Ok(true) => Drained::All,
        _ => Drained::Partly,
    }
}
