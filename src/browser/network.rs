//! browser_network: cookies, extra headers, request interception, Web Storage.

use chromiumoxide::cdp::browser_protocol::fetch::{EventRequestPaused, FailRequestParams};
use chromiumoxide::cdp::browser_protocol::network::ErrorReason;
use futures::StreamExt;
use serde_json::{json, Value};

use super::executor::{cdp_error, eval_once, Ctx, EvalFailure, World};
use crate::task::action::resource_type;
use crate::task::{CommandError, InterceptMode, NetworkAction, SameSite, ToolResult};

pub async fn run(ctx: &Ctx<'_>, action: &NetworkAction) -> Result<ToolResult, CommandError> {
    match action {
        NetworkAction::GetCookies { urls } => {
            let params = if urls.is_empty() {
                json!({})
            } else {
                json!({ "urls": urls })
            };
            let answer = ctx.cdp("Network.getCookies", params).await?;
            let cookies: Vec<Value> = answer["cookies"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|c| {
                    json!({
                        "name": c["name"], "value": c["value"], "domain": c["domain"],
                        "path": c["path"], "expires": c["expires"], "httpOnly": c["httpOnly"],
                        "secure": c["secure"], "session": c["session"], "sameSite": c["sameSite"],
                    })
                })
                .collect();
            Ok(ToolResult::text(Value::from(cookies).to_string()))
        }
        NetworkAction::SetCookie {
            name,
            value,
            url,
            domain,
            path,
            secure,
            http_only,
            same_site,
            expires,
        } => {
            let mut params = json!({ "name": name, "value": value });
            let fields: [(&str, Option<Value>); 7] = [
                ("url", url.as_ref().map(|v| json!(v))),
                ("domain", domain.as_ref().map(|v| json!(v))),
                ("path", path.as_ref().map(|v| json!(v))),
                ("secure", secure.map(Value::from)),
                ("httpOnly", http_only.map(Value::from)),
                (
                    "sameSite",
                    same_site.map(|s| {
                        json!(match s {
                            SameSite::Strict => "Strict",
                            SameSite::Lax => "Lax",
                            SameSite::None => "None",
                        })
                    }),
                ),
                ("expires", expires.map(Value::from)),
            ];
            for (key, v) in fields {
                if let Some(v) = v {
                    params[key] = v;
                }
            }
            let answer = ctx.cdp("Network.setCookie", params).await?;
            // Older Chromiums answer `success: false` for a cookie they refuse.
            if answer["success"] == json!(false) {
                return Err(CommandError::execution(format!(
                    "Chromium refused the cookie '{name}' (check url/domain, and that \
                     sameSite=None comes with secure)"
                )));
            }
            let at = url.as_deref().or(domain.as_deref()).unwrap_or_default();
            Ok(ToolResult::text(format!("Set cookie {name} for {at}")))
        }
        NetworkAction::ClearCookies => {
            ctx.cdp("Network.clearBrowserCookies", json!({})).await?;
            Ok(ToolResult::text("Cleared every cookie"))
        }
        NetworkAction::SetHeaders { headers } => {
            ctx.cdp("Network.setExtraHTTPHeaders", json!({ "headers": headers }))
                .await?;
            let names: Vec<&str> = headers.keys().map(String::as_str).collect();
            Ok(ToolResult::text(if names.is_empty() {
                "Removed the extra headers".to_string()
            } else {
                format!("Every request now carries {}", names.join(", "))
            }))
        }
        NetworkAction::Intercept {
            enabled,
            patterns,
            resource_types,
            mode,
        } => intercept(ctx, *enabled, patterns, resource_types, *mode).await,
        NetworkAction::GetStorage { storage, key } => {
            let area = storage.js_name();
            let script = match key {
                Some(key) => format!("{area}.getItem({})", Value::from(key.as_str())),
                None => format!("Object.fromEntries(Object.entries({area}))"),
            };
            let value = storage_eval(ctx, &script).await?;
            Ok(ToolResult::text(value.to_string()))
        }
        NetworkAction::SetStorage {
            storage,
            key,
            value,
        } => {
            let area = storage.js_name();
            let script = format!(
                "{area}.setItem({}, {}), {area}.length",
                Value::from(key.as_str()),
                Value::from(value.as_str())
            );
            let count = storage_eval(ctx, &script).await?;
            Ok(ToolResult::text(format!(
                "Set {area}[{key:?}]; it now holds {count} item(s)"
            )))
        }
        NetworkAction::ClearStorage { storage } => {
            let area = storage.js_name();
            storage_eval(ctx, &format!("{area}.clear(), 0")).await?;
            Ok(ToolResult::text(format!(
                "Cleared {area} of {}",
                page_origin(ctx).await
            )))
        }
    }
}

/// Runs a storage expression in the isolated world (same storage, pristine globals).
async fn storage_eval(ctx: &Ctx<'_>, script: &str) -> Result<Value, CommandError> {
    let world = match ctx.page.secondary_execution_context().await {
        Ok(Some(context)) => World::Isolated(context),
        _ => World::Page,
    };
    match eval_once(&ctx.page, script, world).await {
        Ok(v) => Ok(v),
        // An opaque origin (about:blank, data:) has no storage: say so.
        Err(EvalFailure::Thrown(text)) => Err(CommandError::execution(format!(
            "the page's storage is not available ({text}); open a page of the site first"
        ))),
        Err(EvalFailure::Cdp(e)) | Err(EvalFailure::ContextGone(e)) => {
            Err(cdp_error("Runtime.evaluate", e))
        }
    }
}

async fn page_origin(ctx: &Ctx<'_>) -> String {
    match eval_once(&ctx.page, "location.origin", World::Page).await {
        Ok(Value::String(s)) => s,
        _ => "the page".into(),
    }
}

/// Fetch.enable with one pattern per (URL pattern, resource type) pair, and a task that fails
/// every request Chromium pauses: only matching ones are paused. `enabled: false` undoes it.
async fn intercept(
    ctx: &Ctx<'_>,
    enabled: bool,
    patterns: &[String],
    resource_types: &[String],
    mode: InterceptMode,
) -> Result<ToolResult, CommandError> {
    let previous = ctx.state.intercept.lock().unwrap().take();
    if let Some(task) = previous {
        task.abort();
    }
    if !enabled {
        ctx.cdp("Fetch.disable", json!({})).await?;
        return Ok(ToolResult::text("Interception is off"));
    }
    let urls: Vec<&str> = if patterns.is_empty() {
        vec!["*"]
    } else {
        patterns.iter().map(String::as_str).collect()
    };
    let mut fetch_patterns = Vec::new();
    for url in &urls {
        if resource_types.is_empty() {
            fetch_patterns.push(json!({ "urlPattern": url, "requestStage": "Request" }));
        }
        for t in resource_types {
            let t = resource_type(t).expect("checked at validation");
            fetch_patterns
                .push(json!({ "urlPattern": url, "resourceType": t, "requestStage": "Request" }));
        }
    }
    // Listening before enabling, so no paused request is missed.
    let mut paused = ctx
        .page
        .event_listener::<EventRequestPaused>()
        .await
        .map_err(|e| cdp_error("Fetch.requestPaused", e))?;
    ctx.cdp("Fetch.enable", json!({ "patterns": fetch_patterns }))
        .await?;
    let reason = match mode {
        InterceptMode::Block => ErrorReason::BlockedByClient,
        InterceptMode::Fail => ErrorReason::Failed,
    };
    let page = ctx.page.clone();
    let task = tokio::spawn(async move {
        while let Some(ev) = paused.next().await {
            let fail = FailRequestParams::new(ev.request_id.clone(), reason.clone());
            let answered =
                tokio::time::timeout(std::time::Duration::from_secs(10), page.execute(fail)).await;
            if !matches!(answered, Ok(Ok(_))) {
                tracing::debug!("could not fail intercepted request {}", ev.request.url);
            }
        }
    });
    *ctx.state.intercept.lock().unwrap() = Some(task);
    let what = match mode {
        InterceptMode::Block => "Blocking",
        InterceptMode::Fail => "Failing",
    };
    let types = if resource_types.is_empty() {
        String::new()
    } else {
        format!(" of type {}", resource_types.join(", "))
    };
    Ok(ToolResult::text(format!(
        "{what} requests matching {}{types}",
        urls.join(", ")
    )))
}
