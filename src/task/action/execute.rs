//! browser_execute: evaluate.

use serde::Deserialize;

use super::{non_empty, ArgsError};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ExecuteAction {
    Evaluate { script: String },
}

pub(super) fn check(action: &ExecuteAction) -> Result<(), ArgsError> {
    let ExecuteAction::Evaluate { script } = action;
    non_empty("script", script)
}
