//! Credentials out of anything that may be printed: log lines, error messages. One function,
//! [`redact`], used wherever a URI, a header or a URL given by a client is written out.
//!
//! What it hides (the value becomes `[redacted]`):
//! - query and form parameters whose name is a credential's: `token`, `apiKey`, `api_key`,
//!   `access_token`, `password`, `secret`, `key`, … (`?token=abc&x=1` → `?token=[redacted]&x=1`);
//! - header lines and JSON members of `Authorization`, `Proxy-Authorization`, `X-API-Key` and the
//!   names above (`Authorization: Bearer abc`, `"x-api-key": "abc"`);
//! - `Bearer abc` anywhere;
//! - the password of a URL's user information (`postgres://bc:pw@db/bc` → `bc:[redacted]@`).

use std::borrow::Cow;

pub const REDACTED: &str = "[redacted]";

/// `text` with every credential it shows replaced by `[redacted]`.
pub fn redact(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out = String::new();
    // Bytes before `copied` are in `out` already.
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b':' && bytes[i..].starts_with(b"://") {
            if let Some((start, end)) = userinfo_password(bytes, i + 3) {
                out.push_str(&text[copied..start]);
                out.push_str(REDACTED);
                copied = end;
                i = end;
                continue;
            }
            i += 3;
            continue;
        }
        if !is_name_byte(b) || (i > 0 && is_name_byte(bytes[i - 1])) {
            i += 1;
            continue;
        }
        let end = i + bytes[i..].iter().take_while(|b| is_name_byte(**b)).count();
        let name = &text[i..end];
        let quoted = i > 0 && matches!(bytes[i - 1], b'"' | b'\'');
        if let Some((start, stop)) = secret_value(bytes, name, end, quoted) {
            out.push_str(&text[copied..start]);
            out.push_str(REDACTED);
            copied = stop;
            i = stop;
            continue;
        }
        i = end;
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// A parameter (`name=value`) that holds a credential.
fn is_secret_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [
        "token", "apikey", "api_key", "api-key", "password", "passwd", "secret",
    ]
    .iter()
    .any(|part| lower.contains(part))
        || matches!(
            lower.as_str(),
            "key" | "auth" | "authorization" | "proxy-authorization" | "sig" | "signature"
        )
}

/// A header (`Name: value`) that holds a credential.
fn is_secret_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "authorization" | "proxy-authorization" | "x-api-key" | "x-auth-token" | "cookie"
    )
}

/// Where the value of `name` (which ends at `after`) is, when it is a credential: after `=` for
/// a parameter, after `:` for a header line or a quoted JSON member; `Bearer`'s next word.
fn secret_value(bytes: &[u8], name: &str, after: usize, quoted: bool) -> Option<(usize, usize)> {
    let mut k = after;
    if name.eq_ignore_ascii_case("bearer") {
        // `Bearer abc`: one space, then the credential.
        if bytes.get(k) != Some(&b' ') {
            return None;
        }
        k += 1;
        while bytes.get(k) == Some(&b' ') {
            k += 1;
        }
        return value_span(bytes, k, None);
    }
    let closing_quote = quoted && matches!(bytes.get(k), Some(b'"' | b'\''));
    if closing_quote {
        k += 1;
    }
    while bytes.get(k) == Some(&b' ') {
        k += 1;
    }
    let separator = *bytes.get(k)?;
    let secret = match separator {
        b'=' => is_secret_param(name),
        b':' => is_secret_header(name) || (closing_quote && is_secret_param(name)),
        _ => false,
    };
    if !secret {
        return None;
    }
    k += 1;
    while bytes.get(k) == Some(&b' ') {
        k += 1;
    }
    let quote = match bytes.get(k) {
        Some(q @ (b'"' | b'\'')) => {
            k += 1;
            Some(*q)
        }
        _ => None,
    };
    // A scheme before the credential stays: `Bearer [redacted]`, `Basic [redacted]`.
    for scheme in [&b"bearer "[..], b"basic ", b"token "] {
        if bytes.len() >= k + scheme.len()
            && bytes[k..k + scheme.len()].eq_ignore_ascii_case(scheme)
        {
            k += scheme.len();
            break;
        }
    }
    value_span(bytes, k, quote)
}

/// From `start` to the end of the value: its closing quote, else the first byte that ends a
/// parameter or a word. Empty values are left alone.
fn value_span(bytes: &[u8], start: usize, quote: Option<u8>) -> Option<(usize, usize)> {
    let len = match quote {
        Some(q) => bytes[start.min(bytes.len())..]
            .iter()
            .take_while(|b| **b != q)
            .count(),
        None => bytes[start.min(bytes.len())..]
            .iter()
            .take_while(|b| {
                !b.is_ascii_whitespace()
                    && !matches!(
                        b,
                        b'&' | b'#'
                            | b'"'
                            | b'\''
                            | b'`'
                            | b','
                            | b';'
                            | b')'
                            | b'}'
                            | b']'
                            | b'>'
                            | b'<'
                    )
            })
            .count(),
    };
    (len > 0).then_some((start, start + len))
}

/// The password in `user:password@` right after `://` (at `start`), if the authority has one.
fn userinfo_password(bytes: &[u8], start: usize) -> Option<(usize, usize)> {
    let authority = bytes[start..]
        .iter()
        .take_while(|b| {
            !b.is_ascii_whitespace() && !matches!(b, b'/' | b'?' | b'#' | b'"' | b'\'' | b'>')
        })
        .count();
    let authority = &bytes[start..start + authority];
    let at = authority.iter().rposition(|b| *b == b'@')?;
    let colon = authority[..at].iter().position(|b| *b == b':')?;
    (colon + 1 < at).then_some((start + colon + 1, start + at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_credentials_are_hidden_and_the_rest_kept() {
        assert_eq!(redact("/sse?token=s3cret&x=1"), "/sse?token=[redacted]&x=1");
        assert_eq!(
            redact("GET /?apiKey=abc#frag"),
            "GET /?apiKey=[redacted]#frag"
        );
        assert_eq!(
            redact("/message?sessionId=42&api_key=abc&access_token=def"),
            "/message?sessionId=42&api_key=[redacted]&access_token=[redacted]"
        );
        assert_eq!(
            redact("uri=/ws?taskId=t&token=%20x"),
            "uri=/ws?taskId=t&token=[redacted]"
        );
        // Nothing to hide: the same text, not copied.
        assert!(matches!(redact("/tasks?status=all"), Cow::Borrowed(_)));
        assert_eq!(redact("token=&x=1"), "token=&x=1");
    }

    #[test]
    fn headers_and_bearer_credentials_are_hidden() {
        assert_eq!(
            redact("Authorization: Bearer s3cret"),
            "Authorization: Bearer [redacted]"
        );
        assert_eq!(redact("x-api-key: abc def"), "x-api-key: [redacted] def");
        assert_eq!(
            redact(r#"{"authorization": "Basic dXNlcjpwdw==", "host": "h"}"#),
            r#"{"authorization": "Basic [redacted]", "host": "h"}"#
        );
        assert_eq!(
            redact(r#"{"x-api-key": "abc", "token": "t 1"}"#),
            r#"{"x-api-key": "[redacted]", "token": "[redacted]"}"#
        );
        assert_eq!(redact("sent bearer abc."), "sent bearer [redacted]");
    }

    #[test]
    fn url_passwords_are_hidden() {
        assert_eq!(
            redact("store postgres://bc:pw@db:5432/bc opened"),
            "store postgres://bc:[redacted]@db:5432/bc opened"
        );
        assert_eq!(redact("ws://host:9222/devtools"), "ws://host:9222/devtools");
        assert_eq!(redact("http://user@host/"), "http://user@host/");
    }

    #[test]
    fn words_that_only_look_like_names_stay() {
        // A field named in a validation message is not a credential's value.
        assert_eq!(
            redact("commands[0].args.token: is required"),
            "commands[0].args.token: is required"
        );
        assert_eq!(redact("the token is blank"), "the token is blank");
        // Placeholders in instructions are no credentials.
        let hint = "send `Authorization: Bearer <token>` or add `?token=<token>` to the URL";
        assert_eq!(redact(hint), hint);
        assert_eq!(redact("`?token=abc` then"), "`?token=[redacted]` then");
        assert_eq!(redact("monkey=1"), "monkey=1");
        assert_eq!(redact("naïve ?token=é&x"), "naïve ?token=[redacted]&x");
    }
}
