//! browser_debug: console, dialogs, performance, traces, downloads.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{non_empty, serde_typed, ArgsError, Tool};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DialogPolicy {
    /// Dismiss, except beforeunload which is accepted (the engine's default).
    #[default]
    Default,
    Accept,
    Dismiss,
}

/// The state of a download, as the instance records it (Chromium's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownloadState {
    InProgress,
    Completed,
    Canceled,
}

impl DownloadState {
    /// The state as downloads list it: `inProgress`, `completed`, `canceled`.
    pub fn as_str(self) -> &'static str {
        match self {
            DownloadState::InProgress => "inProgress",
            DownloadState::Completed => "completed",
            DownloadState::Canceled => "canceled",
        }
    }

    /// Ours, and the origin's (`in_progress`, `complete`, `error`: Chromium cancels a download
    /// that fails).
    pub fn parse(name: &str) -> Option<DownloadState> {
        Some(match name {
            "inProgress" | "in_progress" => DownloadState::InProgress,
            "completed" | "complete" => DownloadState::Completed,
            "canceled" | "cancelled" | "error" => DownloadState::Canceled,
            _ => return None,
        })
    }
}

/// browser_debug: what the page logged, how dialogs are answered, metrics, traces, downloads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum DebugAction {
    /// Console messages since the page opened, optionally of one level, optionally cleared.
    Console {
        #[serde(default)]
        level: Option<String>,
        #[serde(default)]
        clear: bool,
    },
    /// How the page's next dialogs are answered, until set again (`policy`); or, the origin's
    /// `dialogAction`, the answer to the dialog open now as well as to the next ones.
    Dialog {
        #[serde(default)]
        policy: Option<DialogPolicy>,
        #[serde(default, rename = "dialogAction")]
        dialog_action: Option<DialogPolicy>,
        #[serde(default, rename = "promptText")]
        prompt_text: Option<String>,
    },
    Performance,
    /// Starts a Chromium trace of the tab (Tracing.start), of `categories` or the defaults.
    TraceStart {
        #[serde(default)]
        categories: Vec<String>,
    },
    /// Ends the trace and returns it.
    TraceStop,
    Downloads,
    /// Waits until a download completes (success) or is cancelled (error).
    DownloadWait,
    /// `downloads` of one state.
    #[serde(skip)]
    DownloadsIn {
        state: DownloadState,
    },
    /// `download_wait` for one download, by its id (guid).
    #[serde(skip)]
    DownloadWaitFor {
        download_id: String,
    },
}

/// Console levels, as CDP's console API types them (`warn` is `warning`; `all` is no filter).
pub const CONSOLE_LEVELS: [&str; 5] = ["log", "debug", "info", "warning", "error"];

/// Reads the arguments: `downloads` with a `state` and `download_wait` with a `downloadId`
/// are actions of their own for the engine.
pub(super) fn parse(map: &Map<String, Value>) -> Result<DebugAction, ArgsError> {
    let action = map
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match (action, map.get("state"), map.get("downloadId")) {
        ("downloads", Some(state), _) => {
            let name = state.as_str().unwrap_or_default();
            let state = DownloadState::parse(name).ok_or_else(|| {
                ArgsError::new(
                    "state",
                    format!("unknown state '{name}', expected inProgress, completed or canceled"),
                )
            })?;
            Ok(DebugAction::DownloadsIn { state })
        }
        ("download_wait", _, Some(id)) => Ok(DebugAction::DownloadWaitFor {
            download_id: id.as_str().unwrap_or_default().trim().to_string(),
        }),
        _ => {
            let mut map = map.clone();
            map.remove("state");
            map.remove("downloadId");
            serde_typed(&map, Tool::Debug)
        }
    }
}

pub(super) fn check(action: &mut DebugAction) -> Result<(), ArgsError> {
    match action {
        DebugAction::Console { level, .. } => {
            if level.as_deref() == Some("all") {
                *level = None;
            }
            match level.as_deref() {
                None => Ok(()),
                Some(l) if CONSOLE_LEVELS.contains(&l) || l == "warn" => Ok(()),
                Some(l) => Err(ArgsError::new(
                    "level",
                    format!(
                        "unknown level '{l}', expected one of {}, all",
                        CONSOLE_LEVELS.join(", ")
                    ),
                )),
            }
        }
        DebugAction::Dialog {
            policy,
            dialog_action,
            ..
        } => match (policy, dialog_action) {
            (None, None) => Err(ArgsError::new(
                "policy",
                "is required (or dialogAction, to answer the dialog open now)",
            )),
            (Some(_), Some(_)) => Err(ArgsError::new(
                "dialogAction",
                "give either policy or dialogAction, not both",
            )),
            (None, Some(DialogPolicy::Default)) => {
                Err(ArgsError::new("dialogAction", "must be accept or dismiss"))
            }
            _ => Ok(()),
        },
        DebugAction::TraceStart { categories } => {
            for (i, c) in categories.iter().enumerate() {
                non_empty(&format!("categories[{i}]"), c)?;
            }
            Ok(())
        }
        DebugAction::DownloadWaitFor { download_id } => non_empty("downloadId", download_id),
        _ => Ok(()),
    }
}
