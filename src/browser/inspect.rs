//! Page facts for the approval gate: where a command would run and what the element it acts
//! on is, read fast and never failing, before the command runs.

use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::executor::{helper, side_ctx, Ctx, Executor};
use super::instance::BrowserInstance;
use crate::task::{Action, InteractAction, ParsedArgs};

/// How long inspecting may take, all told.
pub const INSPECT_BUDGET: Duration = Duration::from_secs(2);

/// What the scheduler knows of a command's page and element before running it. Fields it
/// could not learn are left empty (`None`, `false`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageFacts {
    /// The URL of the page the command would run on.
    pub url: Option<String>,
    /// The visible text of the element the command acts on (trimmed, at most 500 characters;
    /// a field's value, or its aria-label or title; a submit input's value). `None` when the
    /// command acts on no element by selector, or it is not on the page now.
    pub element_text: Option<String>,
    /// The element submits a form: a `<button>` of type submit (or none) in a form, an
    /// `<input type=submit|image>`.
    pub element_is_submit: bool,
    /// The element is inside a form (or names one with `form=`).
    pub element_in_form: bool,
}

/// The selector of the element a command acts on, if it acts on one by selector.
pub fn element_selector(action: &Action) -> Option<&str> {
    let Action::Interact(action) = action else {
        return None;
    };
    match action {
        InteractAction::Click { selector, .. }
        | InteractAction::Move { selector, .. }
        | InteractAction::Scroll { selector, .. } => selector.as_deref(),
        InteractAction::Upload { selector, .. }
        | InteractAction::Type { selector, .. }
        | InteractAction::Select { selector, .. }
        | InteractAction::Hover { selector } => Some(selector),
        InteractAction::Press { .. } | InteractAction::Keyboard { .. } => None,
    }
}

#[derive(Debug, serde::Deserialize)]
struct Facts {
    state: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    submit: bool,
    #[serde(default, rename = "inForm")]
    in_form: bool,
}

impl Executor {
    /// The facts of the page `args` would run on (its `tab_id`'s, or the active tab's) and of
    /// the element it acts on, looked up now with the commands' selector engine (no waiting
    /// for it to appear). Best effort within [`INSPECT_BUDGET`]: never fails.
    pub async fn inspect(
        &self,
        instance: &BrowserInstance,
        args: &ParsedArgs,
        cancel: &CancellationToken,
    ) -> PageFacts {
        let facts = std::sync::Mutex::new(PageFacts::default());
        let work = async {
            let Ok(ctx) = side_ctx(instance, args.tab_id.as_deref(), INSPECT_BUDGET).await else {
                return;
            };
            let url = page_url(&ctx).await;
            facts.lock().unwrap().url = url;
            let Some(selector) = element_selector(&args.action) else {
                return;
            };
            let found = ctx
                .in_time(helper::<Facts>(
                    &ctx,
                    "facts",
                    json!({ "selector": selector }),
                ))
                .await;
            if let Some(Ok(found)) = found {
                if found.state == "ok" {
                    let mut facts = facts.lock().unwrap();
                    facts.element_text = found.text;
                    facts.element_is_submit = found.submit;
                    facts.element_in_form = found.in_form;
                }
            }
        };
        tokio::select! {
            biased;
            _ = cancel.cancelled() => {}
            _ = instance.lost() => {}
            _ = tokio::time::timeout(INSPECT_BUDGET, work) => {}
        }
        facts.into_inner().unwrap()
    }
}

/// The page's URL: chromiumoxide's record of its main frame, or the page's own word.
async fn page_url(ctx: &Ctx<'_>) -> Option<String> {
    if let Some(Ok(Some(url))) = ctx.in_time(ctx.page.url()).await {
        return Some(url);
    }
    let answer = ctx
        .in_time(super::executor::eval_once(
            &ctx.page,
            "location.href",
            super::executor::World::Page,
        ))
        .await;
    match answer {
        Some(Ok(serde_json::Value::String(url))) => Some(url),
        _ => None,
    }
}
