//! browser_tab: list, new, close, close_others, activate.

use serde::Deserialize;

use super::{check_url, ArgsError};

/// browser_tab: the instance's tabs. `close`, `close_others` and `activate` act on the tab named
/// by the command's `tabId` (`activate` requires it; the others default to the active tab).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum TabAction {
    List,
    /// Opens a tab (at `url`, else blank); it becomes the active one.
    New {
        #[serde(default)]
        url: Option<String>,
    },
    Close,
    CloseOthers,
    Activate,
}

pub(super) fn check(action: &mut TabAction) -> Result<(), ArgsError> {
    match action {
        TabAction::New { url: Some(url) } => check_url("url", url),
        _ => Ok(()),
    }
}
