//! browser_network: cookies, extra headers, request interception, Web Storage.

use chromiumoxide::cdp::browser_protocol::fetch::{EventRequestPaused, FailRequestParams};
use chromiumoxide::cdp::browser_protocol::network::ErrorReason;
use futures::StreamExt;
use serde_json::{json, Value};

use super::executor::{cdp_error, eval_once, Ctx, EvalFailure, World};
use crate::task::action::resource_type;
use crate::task::{
    CommandError, InterceptMode, InterceptPattern, NetworkAction, SameSite, StorageKind, ToolResult,
};

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
        NetworkAction::ClearCookies { domain: None } => {
            ctx.cdp("Network.clearBrowserCookies", json!({})).await?;
            Ok(ToolResult::text("Cleared every cookie"))
        }
        NetworkAction::ClearCookies {
            domain: Some(domain),
        } => clear_domain_cookies(ctx, domain).await,
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
            let mut values = Vec::new();
            for area in storage.js_names() {
                let script = match key {
                    Some(key) => format!("{area}.getItem({})", Value::from(key.as_str())),
                    None => format!("Object.fromEntries(Object.entries({area}))"),
                };
                values.push((*area, storage_eval(ctx, &script).await?));
            }
            // Both areas (storage all): one object per area, by its name.
            let value = if *storage == StorageKind::All {
                Value::Object(
                    values
                        .into_iter()
                        .map(|(area, v)| (area.to_string(), v))
                        .collect(),
                )
            } else {
                values.pop().map(|(_, v)| v).unwrap_or(Value::Null)
            };
            Ok(ToolResult::text(value.to_string()))
        }
        NetworkAction::SetStorage {
            storage,
            key,
            value,
        } => {
            // One area (validation refuses `all` here).
            let area = storage.js_names()[0];
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
            for area in storage.js_names() {
                storage_eval(ctx, &format!("{area}.clear(), 0")).await?;
            }
            Ok(ToolResult::text(format!(
                "Cleared {} of {}",
                storage.js_names().join(" and "),
                page_origin(ctx).await
            )))
        }
    }
}

/// Deletes the cookies of `domain` and of its subdomains (`example.com` takes `.example.com`
/// and `www.example.com`, not `badexample.com`), whatever page is open.
async fn clear_domain_cookies(ctx: &Ctx<'_>, domain: &str) -> Result<ToolResult, CommandError> {
    let wanted = domain.trim().trim_start_matches('.').to_ascii_lowercase();
    let all = ctx.cdp("Network.getAllCookies", json!({})).await?;
    let mut deleted = 0;
    for cookie in all["cookies"].as_array().into_iter().flatten() {
        let of = cookie["domain"].as_str().unwrap_or_default();
        let bare = of.trim_start_matches('.').to_ascii_lowercase();
        if bare != wanted && !bare.ends_with(&format!(".{wanted}")) {
            continue;
        }
        ctx.cdp(
            "Network.deleteCookies",
            json!({
                "name": cookie["name"],
                "domain": of,
                "path": cookie["path"],
            }),
        )
        .await?;
        deleted += 1;
    }
    Ok(ToolResult::text(format!(
        "Cleared {deleted} cookie(s) of {wanted}"
    )))
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
    patterns: &[InterceptPattern],
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
    // Each URL pattern with each of `resourceTypes` (or with any type); each of the origin's
    // {urlPattern, resourceType} rules as it is.
    let mut fetch_patterns = Vec::new();
    let mut said = Vec::new();
    let crossed = |url: &str, fetch_patterns: &mut Vec<Value>| {
        if resource_types.is_empty() {
            fetch_patterns.push(json!({ "urlPattern": url, "requestStage": "Request" }));
        }
        for t in resource_types {
            let t = resource_type(t).expect("checked at validation");
            fetch_patterns
                .push(json!({ "urlPattern": url, "resourceType": t, "requestStage": "Request" }));
        }
    };
    if patterns.is_empty() {
        crossed("*", &mut fetch_patterns);
        said.push("*".to_string());
    }
    for p in patterns {
        match p {
            InterceptPattern::Url(url) => {
                crossed(url, &mut fetch_patterns);
                said.push(url.clone());
            }
            InterceptPattern::Rule {
                url_pattern,
                resource_type: t,
            } => {
                let mut rule = json!({ "urlPattern": url_pattern, "requestStage": "Request" });
                match t {
                    Some(t) => {
                        let t = resource_type(t).expect("checked at validation");
                        rule["resourceType"] = json!(t);
                        said.push(format!("{url_pattern} ({t})"));
                    }
                    None => said.push(url_pattern.clone()),
                }
                fetch_patterns.push(rule);
            }
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
        said.join(", ")
    )))
}
