//! browser_navigate: goto, reload, back, forward, wait_for, sleep.

use serde::Deserialize;

use super::{check_url, in_range, non_empty, ArgsError};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum NavigateAction {
    Goto {
        url: String,
        #[serde(default, rename = "waitUntil")]
        wait_until: WaitUntil,
    },
    Reload {
        #[serde(default, rename = "waitUntil")]
        wait_until: WaitUntil,
        /// Reload bypassing the cache.
        #[serde(default, rename = "ignoreCache")]
        ignore_cache: bool,
    },
    Back,
    Forward,
    /// Until `selector`'s element is visible, or until `expression` is true in the page.
    WaitFor {
        #[serde(default)]
        selector: Option<String>,
        #[serde(default)]
        expression: Option<String>,
    },
    /// Waits `duration` ms (bounded by the command's deadline): a pause in a batch.
    Sleep {
        duration: f64,
    },
}

/// When a goto or reload counts as done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WaitUntil {
    /// The load event (the default).
    #[default]
    Load,
    /// DOMContentLoaded: the document is parsed; images and styles may still load.
    #[serde(alias = "domContentLoaded")]
    DomContentLoaded,
    /// The load event, then no network request in flight for 500 ms.
    #[serde(alias = "networkIdle")]
    NetworkIdle,
}

pub(super) fn check(action: &mut NavigateAction) -> Result<(), ArgsError> {
    match action {
        NavigateAction::Goto { url, .. } => check_url("url", url),
        NavigateAction::Sleep { duration } => in_range("duration", *duration, 0.0, 3_600_000.0),
        NavigateAction::WaitFor {
            selector,
            expression,
        } => match (selector, expression) {
            (Some(selector), None) => non_empty("selector", selector),
            (None, Some(expression)) => non_empty("expression", expression),
            (None, None) => Err(ArgsError::new(
                "selector",
                "is required (or expression, a JavaScript condition to wait for)",
            )),
            (Some(_), Some(_)) => Err(ArgsError::new(
                "expression",
                "give either selector or expression, not both",
            )),
        },
        NavigateAction::Reload { .. } | NavigateAction::Back | NavigateAction::Forward => Ok(()),
    }
}
