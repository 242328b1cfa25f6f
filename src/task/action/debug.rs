//! browser_debug: console, dialog policy, performance, downloads.

use serde::Deserialize;

use super::ArgsError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DialogPolicy {
    /// Dismiss, except beforeunload which is accepted (the engine's default).
    #[default]
    Default,
    Accept,
    Dismiss,
}

/// browser_debug: what the page logged, how dialogs are answered, metrics, downloads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum DebugAction {
    /// Console messages since the page opened, optionally of one level, optionally cleared.
    Console {
        #[serde(default)]
        level: Option<String>,
        #[serde(default)]
        clear: bool,
    },
    /// How the page's next dialogs are answered, until set again.
    Dialog {
        policy: DialogPolicy,
        #[serde(default, rename = "promptText", alias = "prompt_text")]
        prompt_text: Option<String>,
    },
    Performance,
    Downloads,
    /// Waits until a download completes (success) or is cancelled (error).
    DownloadWait,
}

/// Console levels, as CDP's console API types them (`warn` is `warning`).
pub const CONSOLE_LEVELS: [&str; 5] = ["log", "debug", "info", "warning", "error"];

pub(super) fn check(action: &DebugAction) -> Result<(), ArgsError> {
    match action {
        DebugAction::Console {
            level: Some(level), ..
        } => {
            if CONSOLE_LEVELS.contains(&level.as_str()) || level == "warn" {
                Ok(())
            } else {
                Err(ArgsError::new(
                    "level",
                    format!(
                        "unknown level '{level}', expected one of {}",
                        CONSOLE_LEVELS.join(", ")
                    ),
                ))
            }
        }
        _ => Ok(()),
    }
}
