//! PLACEHOLDER until branch `checkpoint` lands: page facts for the approval gate.

use tokio_util::sync::CancellationToken;

use super::{BrowserInstance, Executor};
use crate::task::ParsedArgs;

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageFacts {
    pub url: Option<String>,
    pub element_text: Option<String>,
    pub element_is_submit: bool,
    pub element_in_form: bool,
}

impl Executor {
    pub async fn inspect(
        &self,
        _instance: &BrowserInstance,
        _args: &ParsedArgs,
        _cancel: &CancellationToken,
    ) -> PageFacts {
        PageFacts::default()
    }
}
