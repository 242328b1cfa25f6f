//! browser_navigate: goto, reload, back, forward, wait_for, sleep.

use serde::Deserialize;

use super::{in_range, non_empty, ArgsError};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum NavigateAction {
    Goto {
        url: String,
        #[serde(default, rename = "waitUntil", alias = "wait_until")]
        wait_until: WaitUntil,
    },
    Reload {
        #[serde(default, rename = "waitUntil", alias = "wait_until")]
        wait_until: WaitUntil,
    },
    Back,
    Forward,
    WaitFor {
        selector: String,
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

pub(super) fn check(action: &NavigateAction) -> Result<(), ArgsError> {
    match action {
        NavigateAction::Goto { url, .. } => non_empty("url", url),
        NavigateAction::Sleep { duration } => in_range("duration", *duration, 0.0, 3_600_000.0),
        NavigateAction::WaitFor { selector } => non_empty("selector", selector),
        NavigateAction::Reload { .. } | NavigateAction::Back | NavigateAction::Forward => Ok(()),
    }
}
