//! browser_instance: list, create, close, attach (answered by the scheduler).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{non_empty, serde_typed, ArgsError, Tool};

/// Instance management: these act on the scheduler's pool, not on a page.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum InstanceAction {
    List,
    /// Launches a new browser with its own queue.
    Create {
        #[serde(default)]
        viewport: Option<ViewportSize>,
        #[serde(default)]
        user_agent: Option<String>,
        #[serde(default = "default_headless")]
        headless: bool,
        /// Extra Chromium command-line flags, e.g. `--lang=fr`.
        #[serde(default)]
        args: Vec<String>,
    },
    /// Closes an instance: its queued tasks are cancelled, its browser closed.
    Close {
        instance_id: String,
    },
    /// Adds an already-running browser (`ws://…` or `http://host:port`) to the pool.
    Attach {
        endpoint: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewportSize {
    pub width: u32,
    pub height: u32,
}

fn default_headless() -> bool {
    true
}

/// Reads the arguments. The origin's `mode` names the kind of browser: `chromium` and
/// `testing` (a fresh temporary profile) are what every instance is, so they are checked and
/// left out; `chrome` (the user's own Chrome and profiles) is not something this server runs.
pub(super) fn parse(map: &Map<String, Value>) -> Result<InstanceAction, ArgsError> {
    let mut map = map.clone();
    if let Some(mode) = map.remove("mode") {
        if mode == "chrome" {
            return Err(ArgsError::new(
                "mode",
                "chrome (your own Chrome with its profiles) is not supported: instances are                  Chromium with a fresh temporary profile (mode chromium or testing)",
            ));
        }
    }
    serde_typed(&map, Tool::Instance)
}

pub(super) fn check(action: &mut InstanceAction) -> Result<(), ArgsError> {
    match action {
        InstanceAction::Close { instance_id } => non_empty("instance_id", instance_id),
        InstanceAction::Attach { endpoint } => {
            let scheme_ok = url::Url::parse(endpoint).is_ok_and(|u| {
                ["ws", "wss", "http", "https"].contains(&u.scheme()) && u.host().is_some()
            });
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
