//! browser_debug: console messages, the dialog policy, performance metrics, downloads.

use serde_json::{json, Map, Value};

use super::executor::Ctx;
use crate::task::{CommandError, DebugAction, DialogPolicy, ErrorCode, ToolResult};

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
            policy,
            prompt_text,
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
        DebugAction::Downloads => {
            let list = ctx.instance.downloads().list.lock().unwrap().clone();
            Ok(ToolResult::text(json!(list).to_string()))
        }
        DebugAction::DownloadWait => download_wait(ctx).await,
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
        Some(d) if d.state == "completed" => Ok(ToolResult::text(
            json!({
                "state": d.state,
                "url": d.url,
                "suggestedFilename": d.suggested_filename,
                "path": d.path,
                "bytes": d.received_bytes,
            })
            .to_string(),
        )),
        Some(d) => Err(CommandError::execution(format!(
            "the download of {} ended as {}",
            d.url, d.state
        ))),
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
