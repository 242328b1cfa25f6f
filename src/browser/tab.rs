//! browser_tab: list, open, close and switch the instance's tabs. Pages the site opens
//! (window.open, target=_blank) become tabs too.

use serde_json::{json, Value};

use super::executor::{Ctx, RawCommand};
use crate::task::{CommandError, TabAction, ToolResult, WaitUntil};

pub async fn run(
    ctx: &Ctx<'_>,
    action: &TabAction,
    tab_id: Option<&str>,
) -> Result<ToolResult, CommandError> {
    let instance = ctx.instance;
    match action {
        TabAction::List => Ok(ToolResult::text(list(ctx).await?.to_string())),
        TabAction::New { url } => {
            let tab = instance.new_tab().await?;
            let mut said = format!("Opened {tab}");
            if let Some(url) = url {
                let on_tab = ctx.for_tab(&tab).await?;
                let went = super::navigate::goto(&on_tab, url, WaitUntil::Load).await?;
                said = format!("{said}: {}", went.joined_text());
            }
            Ok(ToolResult::text(format!("{said}; it is the active tab")))
        }
        TabAction::Close => {
            let tab = tab_id
                .map(String::from)
                .unwrap_or_else(|| instance.active_tab());
            instance.close_tab(&tab).await?;
            Ok(ToolResult::text(format!(
                "Closed {tab}; the active tab is {}",
                instance.active_tab()
            )))
        }
        TabAction::CloseOthers => {
            let keep = tab_id
                .map(String::from)
                .unwrap_or_else(|| instance.active_tab());
            let mut closed = Vec::new();
            for (tab, _, _) in instance.tabs().await {
                if tab != keep {
                    instance.close_tab(&tab).await?;
                    closed.push(tab);
                }
            }
            instance.activate_tab(&keep).await?;
            Ok(ToolResult::text(if closed.is_empty() {
                format!("{keep} was the only tab")
            } else {
                format!("Closed {}; {keep} is the active tab", closed.join(", "))
            }))
        }
        TabAction::Activate => {
            let tab = tab_id.expect("activate requires tabId (checked at validation)");
            let page = instance.activate_tab(tab).await?;
            let _ = page
                .execute(RawCommand {
                    method: "Page.bringToFront",
                    params: json!({}),
                })
                .await;
            Ok(ToolResult::text(format!("{tab} is the active tab")))
        }
    }
}

/// `[{tabId, url, title, active}]`, the site's popups included, in the order they opened.
async fn list(ctx: &Ctx<'_>) -> Result<Value, CommandError> {
    let tabs = ctx.instance.tabs().await;
    let targets = ctx
        .instance
        .browser_execute(RawCommand {
            method: "Target.getTargets",
            params: json!({}),
        })
        .await?;
    let infos = targets["targetInfos"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let info = |target: &str| infos.iter().find(|i| i["targetId"] == target).cloned();
    Ok(Value::from(
        tabs.iter()
            .map(|(tab, page, active)| {
                let i = info(page.target_id().inner()).unwrap_or(Value::Null);
                json!({
                    "tabId": tab,
                    "url": i["url"],
                    "title": i["title"],
                    "active": active,
                })
            })
            .collect::<Vec<_>>(),
    ))
}
