//! browser_instance: list, create, close, attach (answered by the scheduler).

use serde::Deserialize;

use super::{non_empty, ArgsError};

/// Instance management: these act on the scheduler's pool, not on a page.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum InstanceAction {
    List,
    /// Launches a new browser with its own queue.
    Create {
        #[serde(default)]
        viewport: Option<ViewportSize>,
        #[serde(default, alias = "userAgent")]
        user_agent: Option<String>,
        #[serde(default = "default_headless")]
        headless: bool,
        /// Extra Chromium command-line flags, e.g. `--lang=fr`.
        #[serde(default)]
        args: Vec<String>,
    },
    /// Closes an instance: its queued tasks are cancelled, its browser closed.
    Close {
        #[serde(alias = "instanceId")]
        instance_id: String,
    },
    /// Adds an already-running browser (`ws://…` or `http://host:port`) to the pool.
    Attach {
        endpoint: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct ViewportSize {
    pub width: u32,
    pub height: u32,
}

fn default_headless() -> bool {
    true
}

pub(super) fn check(action: &InstanceAction) -> Result<(), ArgsError> {
    match action {
        InstanceAction::Close { instance_id } => non_empty("instance_id", instance_id),
        InstanceAction::Attach { endpoint } => {
            let scheme_ok = ["ws://", "wss://", "http://", "https://"]
                .iter()
                .any(|s| endpoint.starts_with(s));
            if scheme_ok {
                Ok(())
            } else {
                Err(ArgsError::new(
                    "endpoint",
                    "must be a DevTools endpoint: ws://… or http://host:port",
                ))
            }
        }
        InstanceAction::Create {
            viewport: Some(v), ..
        } if !(100..=10_000).contains(&v.width) || !(100..=10_000).contains(&v.height) => Err(
            ArgsError::new("viewport", "width and height must be between 100 and 10000"),
        ),
        _ => Ok(()),
    }
}
