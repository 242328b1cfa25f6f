//! browser_debug: console messages, dialogs, performance metrics, Chromium traces, downloads.

use base64::Engine;
use chromiumoxide::cdp::browser_protocol::tracing::EventTracingComplete;
use futures::StreamExt;
use serde_json::{json, Map, Value};

use super::executor::{cdp_error, Ctx};
use crate::task::{
    CommandError, Content, DebugAction, DialogPolicy, DownloadState, EmbeddedResource, ErrorCode,
    ToolResult,
};

pub async fn run(ctx: &Ctx<'_>, action: &DebugAction) -> Result<ToolResult, CommandError> {
    match action {
        DebugAction::Console { level, clear } => {
            let level = level
                .as_deref()
                .map(|l| if l == "warn" { "warning" } else { l });
            let mut console = ctx.state.console.lock().unwrap();
            let messages: Vec<Value> = console
                .iter()
                .filter(|m| level.is_none_or(|l| m.level == l))
                .map(|m| json!(m))
                .collect();
            if *clear {
                console.clear();
            }
            Ok(ToolResult::text(Value::from(messages).to_string()))
        }
        DebugAction::Dialog {
            policy: Some(policy),
            prompt_text,
            ..
        } => {
            *ctx.state.dialogs.lock().unwrap() = (*policy, prompt_text.clone());
            let said = match policy {
                DialogPolicy::Default => {
                    "Dialogs are dismissed (beforeunload accepted), as by default".to_string()
                }
                DialogPolicy::Accept => match prompt_text {
                    Some(text) => format!("Dialogs are accepted; prompts receive {text:?}"),
                    None => "Dialogs are accepted".to_string(),
                },
                DialogPolicy::Dismiss => "Dialogs are dismissed, beforeunload too".to_string(),
            };
            Ok(ToolResult::text(said))
        }
        DebugAction::Dialog {
            dialog_action,
            prompt_text,
            ..
        } => {
            let answer = dialog_action.unwrap_or(DialogPolicy::Accept);
            answer_dialog(ctx, answer, prompt_text.clone()).await
        }
        DebugAction::TraceStart { categories } => trace_start(ctx, categories).await,
        DebugAction::TraceStop => trace_stop(ctx).await,
        DebugAction::Performance => {
            ctx.cdp("Performance.enable", json!({})).await?;
            let answer = ctx.cdp("Performance.getMetrics", json!({})).await?;
            let mut metrics = Map::new();
            for m in answer["metrics"].as_array().into_iter().flatten() {
                if let Some(name) = m["name"].as_str() {
                    metrics.insert(name.to_string(), m["value"].clone());
                }
            }
            Ok(ToolResult::text(Value::Object(metrics).to_string()))
        }
        DebugAction::Downloads => Ok(ToolResult::text(downloads(ctx, None).to_string())),
        DebugAction::DownloadsIn { state } => {
            Ok(ToolResult::text(downloads(ctx, Some(*state)).to_string()))
        }
        DebugAction::DownloadWait => download_wait(ctx).await,
        DebugAction::DownloadWaitFor { download_id } => download_wait_for(ctx, download_id).await,
    }
}

/// The origin's `dialogAction`: answers the dialog open now, if one is, and the next ones the
/// same way (the policy). The engine answers dialogs as they open, so one is open now only
/// while the engine is holding it; without one, the policy is what counts.
async fn answer_dialog(
    ctx: &Ctx<'_>,
    answer: DialogPolicy,
    prompt_text: Option<String>,
) -> Result<ToolResult, CommandError> {
    *ctx.state.dialogs.lock().unwrap() = (answer, prompt_text.clone());
    let accept = answer == DialogPolicy::Accept;
    let mut params = json!({ "accept": accept });
    if let (true, Some(text)) = (accept, &prompt_text) {
        params["promptText"] = json!(text);
    }
    let verb = if accept { "accepted" } else { "dismissed" };
    let open_now = match ctx.cdp("Page.handleJavaScriptDialog", params).await {
        Ok(_) => format!("The open dialog was {verb}; "),
        // "No dialog is showing": nothing to answer now.
        Err(_) => "No dialog was open; ".to_string(),
    };
    let prompt = match (accept, &prompt_text) {
        (true, Some(text)) => format!(" (prompts receive {text:?})"),
        _ => String::new(),
    };
    Ok(ToolResult::text(format!(
        "{open_now}the next dialogs are {verb}{prompt}"
    )))
}

/// Tracing.start on the tab, its trace kept by Chromium until trace_stop.
async fn trace_start(ctx: &Ctx<'_>, categories: &[String]) -> Result<ToolResult, CommandError> {
    let mut params = json!({ "transferMode": "ReturnAsStream" });
    if !categories.is_empty() {
        params["traceConfig"] = json!({ "includedCategories": categories });
    }
    ctx.cdp("Tracing.start", params).await.map_err(|e| {
        if e.message.contains("already") {
            CommandError::execution(
                "a trace is already running on this tab: stop it with trace_stop",
            )
        } else {
            e
        }
    })?;
    let which = if categories.is_empty() {
        "Chromium's default categories".to_string()
    } else {
        categories.join(", ")
    };
    Ok(ToolResult::text(format!(
        "Tracing started ({which}); trace_stop ends it and returns the trace"
    )))
}

/// Tracing.end, then the trace read from its stream: JSON (the Trace Event Format that the
/// DevTools Performance panel and Perfetto open), as an embedded resource.
async fn trace_stop(ctx: &Ctx<'_>) -> Result<ToolResult, CommandError> {
    let mut complete = ctx
        .page
        .event_listener::<EventTracingComplete>()
        .await
        .map_err(|e| cdp_error("Tracing.tracingComplete", e))?;
    ctx.cdp("Tracing.end", json!({})).await.map_err(|e| {
        if e.message.to_lowercase().contains("not started") {
            CommandError::execution("no trace is running on this tab: start one with trace_start")
        } else {
            e
        }
    })?;
    let Some(Some(done)) = ctx.in_time(complete.next()).await else {
        return Err(CommandError::new(
            ErrorCode::CommandTimeout,
            format!(
                "the trace was not handed over within {} ms",
                ctx.budget.as_millis()
            ),
        ));
    };
    let handle = done
        .stream
        .as_ref()
        .map(|s| s.inner().clone())
        .ok_or_else(|| CommandError::execution("Chromium ended the trace without its data"))?;
    let mut trace = Vec::new();
    loop {
        let chunk = ctx
            .cdp("IO.read", json!({ "handle": handle, "size": 1 << 20 }))
            .await?;
        let data = chunk["data"].as_str().unwrap_or_default();
        if chunk["base64Encoded"] == json!(true) {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|e| CommandError::execution(format!("the trace is not base64: {e}")))?;
            trace.extend(bytes);
        } else {
            trace.extend(data.as_bytes());
        }
        if chunk["eof"] == json!(true) || data.is_empty() {
            break;
        }
    }
    let _ = ctx.cdp("IO.close", json!({ "handle": handle })).await;
    let events = serde_json::from_slice::<Value>(&trace)
        .ok()
        .and_then(|t| t["traceEvents"].as_array().map(Vec::len));
    let lost = if done.data_loss_occurred {
        " (Chromium reports that some data was lost)"
    } else {
        ""
    };
    Ok(ToolResult {
        content: vec![
            Content::Text {
                text: format!(
                    "Trace of {} bytes{}{lost}; open it in the DevTools Performance panel",
                    trace.len(),
                    events.map(|n| format!(", {n} events")).unwrap_or_default()
                ),
            },
            Content::Resource {
                resource: EmbeddedResource {
                    uri: format!("trace://{}/trace.json", ctx.instance.id()),
                    mime_type: "application/json".into(),
                    blob: base64::engine::general_purpose::STANDARD.encode(&trace),
                },
            },
        ],
    })
}

/// The instance's downloads (of one state), each also under the origin's name for its id.
fn downloads(ctx: &Ctx<'_>, state: Option<DownloadState>) -> Value {
    let list = ctx.instance.downloads().list.lock().unwrap().clone();
    Value::from(
        list.iter()
            .filter(|d| state.is_none_or(|s| d.state == s.as_str()))
            .map(|d| {
                let mut item = json!(d);
                item["id"] = json!(d.guid);
                item
            })
            .collect::<Vec<_>>(),
    )
}

/// Waits for the download `id` (a guid from downloads) to finish, however long ago it began.
async fn download_wait_for(ctx: &Ctx<'_>, id: &str) -> Result<ToolResult, CommandError> {
    let downloads = ctx.instance.downloads();
    if downloads.dir.is_none() {
        return Err(CommandError::execution(
            "downloads are not tracked on an attached browser (it saves files on its own machine)",
        ));
    }
    let known = || {
        downloads
            .list
            .lock()
            .unwrap()
            .iter()
            .find(|d| d.guid == id)
            .cloned()
    };
    if known().is_none() {
        let ids: Vec<String> = downloads
            .list
            .lock()
            .unwrap()
            .iter()
            .map(|d| format!("{} ({})", d.guid, d.suggested_filename))
            .collect();
        return Err(CommandError::execution(format!(
            "no download has the id {id}; the instance's downloads: {}",
            if ids.is_empty() {
                "none".to_string()
            } else {
                ids.join(", ")
            }
        )));
    }
    let mut changed = downloads.changed.subscribe();
    let waited = ctx
        .in_time(async {
            loop {
                if let Some(d) = known().filter(|d| d.state != "inProgress") {
                    let mut list = downloads.list.lock().unwrap();
                    if let Some(entry) = list.iter_mut().find(|e| e.guid == id) {
                        entry.awaited = true;
                    }
                    return d;
                }
                if changed.changed().await.is_err() {
                    return std::future::pending().await;
                }
            }
        })
        .await;
    match waited {
        Some(d) => ended(&d),
        None => {
            let how_far = known()
                .map(|d| {
                    format!(
                        "{} is still in progress ({} of {} bytes)",
                        d.suggested_filename, d.received_bytes, d.total_bytes
                    )
                })
                .unwrap_or_else(|| "it is no longer listed".into());
            Err(CommandError::new(
                ErrorCode::CommandTimeout,
                format!(
                    "waited {} ms for download {id} to finish: {how_far}",
                    ctx.budget.as_millis()
                ),
            ))
        }
    }
}

/// Waits until a download begun since the previous command started (the click that starts it),
/// and not reported by an earlier download_wait, has finished: completed is a success (with its
/// path and size), canceled an error. With none, waits for one to begin.
async fn download_wait(ctx: &Ctx<'_>) -> Result<ToolResult, CommandError> {
    let downloads = ctx.instance.downloads();
    if downloads.dir.is_none() {
        return Err(CommandError::execution(
            "downloads are not tracked on an attached browser (it saves files on its own machine)",
        ));
    }
    let since = *downloads.since.lock().unwrap();
    let mut changed = downloads.changed.subscribe();
    let waited = ctx
        .in_time(async {
            loop {
                {
                    let mut list = downloads.list.lock().unwrap();
                    let done = list
                        .iter_mut()
                        .find(|d| !d.awaited && d.began >= since && d.state != "inProgress");
                    if let Some(d) = done {
                        d.awaited = true;
                        return d.clone();
                    }
                }
                if changed.changed().await.is_err() {
                    return std::future::pending().await;
                }
            }
        })
        .await;
    match waited {
        Some(d) => ended(&d),
        None => {
            let pending = downloads
                .list
                .lock()
                .unwrap()
                .iter()
                .find(|d| !d.awaited && d.began >= since)
                .cloned();
            let why = match pending {
                Some(d) => format!(
                    "{} is still in progress ({} of {} bytes)",
                    d.suggested_filename, d.received_bytes, d.total_bytes
                ),
                None => "no download began since the previous command".to_string(),
            };
            Err(CommandError::new(
                ErrorCode::CommandTimeout,
                format!(
                    "waited {} ms for a download to finish: {why}",
                    ctx.budget.as_millis()
                ),
            ))
        }
    }
}

/// What `download_wait` answers for a download that ended: its file, or why it has none.
fn ended(d: &super::instance::Download) -> Result<ToolResult, CommandError> {
    if d.state != "completed" {
        return Err(CommandError::execution(format!(
            "the download of {} ended as {}",
            d.url, d.state
        )));
    }
    Ok(ToolResult::text(
        json!({
            "id": d.guid,
            "state": d.state,
            "url": d.url,
            "suggestedFilename": d.suggested_filename,
            "path": d.path,
            "bytes": d.received_bytes,
        })
        .to_string(),
    ))
}
