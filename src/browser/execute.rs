//! browser_execute: evaluate a script in the page.

use super::executor::{eval_once, Ctx, EvalFailure, World};
use crate::task::{CommandError, ExecuteAction, ToolResult};
use std::time::Duration;

pub async fn run(ctx: &Ctx, action: &ExecuteAction) -> Result<ToolResult, CommandError> {
    let ExecuteAction::Evaluate { script } = action;
    let expression = wrap_script(script);
    loop {
        match eval_once(&ctx.page, &expression, World::Page).await {
            Ok(value) => {
                let text = if value == serde_json::json!({ "__bc_undefined": true }) {
                    "undefined".to_string()
                } else {
                    value.to_string()
                };
                return Ok(ToolResult::text(text));
            }
            Err(EvalFailure::Thrown(text)) => return Err(CommandError::execution(text)),
            // No context means the script never started: running it now is running it once.
            Err(EvalFailure::ContextGone(e)) if ctx.remaining() > Duration::from_millis(60) => {
                tracing::debug!("evaluate retried: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(EvalFailure::ContextGone(e)) | Err(EvalFailure::Cdp(e)) => {
                return Err(super::executor::cdp_error("Runtime.evaluate", e))
            }
        }
    }
}

/// `script` is a function body (`return document.title`), or a bare expression (`1 + 2`,
/// `await fetch(...)`). It is compiled as an expression first, then as a body, inside an async
/// function, so `await` works and promises are awaited either way.
fn wrap_script(script: &str) -> String {
    let source = serde_json::Value::from(script.trim().trim_end_matches(';').to_string());
    let body = serde_json::Value::from(script.to_string());
    format!(
        "(() => {{ const AsyncFunction = (async () => {{}}).constructor; let f; \
         try {{ f = new AsyncFunction('return (' + {source} + '\\n)'); }} \
         catch (_) {{ f = new AsyncFunction({body}); }} \
         return f().then(v => v === undefined ? {{ __bc_undefined: true }} : v); }})()"
    )
}
