//! external_task's browser side: the app's window (a tab, a popup of a given size, or a window
//! the size of the screen), opened and closed. The waiting is the scheduler's.

use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::target::CreateTargetParams;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::executor::{bounded, eval_once, RawCommand, World};
use super::{BrowserInstance, Executor};
use crate::task::{CommandError, WindowMode};

/// What opening or closing the window may take.
const WINDOW_BUDGET: Duration = Duration::from_secs(15);

impl Executor {
    /// Opens `url` as `mode` says; returns the new tab's id (it becomes the active tab). The
    /// URL policy applies as to any navigation the engine starts.
    pub async fn open_app_window(
        &self,
        instance: &BrowserInstance,
        url: &str,
        mode: WindowMode,
        size: (u32, u32),
        cancel: &CancellationToken,
    ) -> Result<String, CommandError> {
        if let Err(why) = instance.policy().check_navigation(url) {
            return Err(CommandError::execution(format!(
                "opening {url} refused: {why}"
            )));
        }
        instance.settle().await;
        bounded(
            instance,
            cancel,
            WINDOW_BUDGET,
            "opening the app's window",
            async {
                let (width, height) = match mode {
                    WindowMode::Tab => (None, None),
                    WindowMode::Popup => (Some(size.0), Some(size.1)),
                    WindowMode::Fullscreen => {
                        let (w, h) = screen_size(instance).await;
                        (Some(w), Some(h))
                    }
                };
                let mut params = CreateTargetParams::new(url);
                if mode != WindowMode::Tab {
                    params.new_window = Some(true);
                    params.width = width.map(i64::from);
                    params.height = height.map(i64::from);
                }
                let tab = instance.open_target(params).await?;
                if mode == WindowMode::Fullscreen {
                    fullscreen(instance, &tab).await;
                }
                Ok(tab)
            },
        )
        .await
    }

    /// Closes the app's window (it may have closed itself already).
    pub async fn close_app_window(&self, instance: &BrowserInstance, tab: &str) {
        let open = instance.tabs().await.iter().any(|(id, _, _)| id == tab);
        if open {
            let closing = instance.close_tab(tab);
            if tokio::time::timeout(WINDOW_BUDGET, closing).await.is_err() {
                tracing::warn!(tab, "the app's window did not close within 15 s");
            }
        }
    }
}

/// The screen's size as the instance's pages see it (headless Chromium's default otherwise).
async fn screen_size(instance: &BrowserInstance) -> (u32, u32) {
    let fallback = (1280, 800);
    let Ok((page, _)) = instance.page().await else {
        return fallback;
    };
    let read = eval_once(
        &page,
        "JSON.stringify([screen.width, screen.height])",
        World::Page,
    );
    match tokio::time::timeout(Duration::from_secs(3), read).await {
        Ok(Ok(value)) => value
            .as_str()
            .and_then(|s| serde_json::from_str::<(u32, u32)>(s).ok())
            .filter(|(w, h)| *w >= 100 && *h >= 100)
            .unwrap_or(fallback),
        _ => fallback,
    }
}

/// Asks the window manager for full screen (best effort: the window already has its size).
async fn fullscreen(instance: &BrowserInstance, tab: &str) {
    let Some(target) = instance
        .tabs()
        .await
        .into_iter()
        .find(|(id, _, _)| id == tab)
        .map(|(_, page, _)| page.target_id().inner().clone())
    else {
        return;
    };
    let window = instance
        .browser_execute(RawCommand {
            method: "Browser.getWindowForTarget",
            params: json!({ "targetId": target }),
        })
        .await;
    if let Ok(window) = window {
        let _ = instance
            .browser_execute(RawCommand {
                method: "Browser.setWindowBounds",
                params: json!({
                    "windowId": window["windowId"],
                    "bounds": {"windowState": "fullscreen"}
                }),
            })
            .await;
    }
}
