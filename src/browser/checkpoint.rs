//! PLACEHOLDER until branch `checkpoint` lands.

use tokio_util::sync::CancellationToken;

use super::{BrowserInstance, Executor};
use crate::task::CommandError;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreReport {
    pub restored: Vec<String>,
    pub not_restored: Vec<String>,
    pub url: String,
}

impl Executor {
    pub async fn checkpoint(
        &self,
        _instance: &BrowserInstance,
        _tab_id: Option<&str>,
        _cancel: &CancellationToken,
    ) -> Result<Checkpoint, CommandError> {
        Err(CommandError::execution("checkpoints are not built yet"))
    }

    pub async fn restore(
        &self,
        _instance: &BrowserInstance,
        _checkpoint: &Checkpoint,
        _cancel: &CancellationToken,
    ) -> Result<RestoreReport, CommandError> {
        Err(CommandError::execution("checkpoints are not built yet"))
    }
}
