//! browser_execute: evaluate (the default: the origin calls browser_execute without an action,
//! and names the script `expression`).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{non_empty, serde_typed, ArgsError, Tool};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum ExecuteAction {
    Evaluate { script: String },
}

/// Reads the arguments. The origin's `awaitPromise` asks for what always happens (promises
/// are awaited), so it is checked (a boolean) and left out.
pub(super) fn parse(map: &Map<String, Value>) -> Result<ExecuteAction, ArgsError> {
    let mut map = map.clone();
    map.remove("awaitPromise");
    serde_typed(&map, Tool::Execute)
}

pub(super) fn check(action: &mut ExecuteAction) -> Result<(), ArgsError> {
    let ExecuteAction::Evaluate { script } = action;
    non_empty("script", script)
}
