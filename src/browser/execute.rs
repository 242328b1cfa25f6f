//! browser_execute: evaluate a script in the page.

use super::executor::{eval_once, Ctx, EvalFailure, World};
use crate::task::{CommandError, ExecuteAction, ToolResult};
use std::time::Duration;

pub async fn run(ctx: &Ctx<'_>, action: &ExecuteAction) -> Result<ToolResult, CommandError> {
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
    let source = script.trim().trim_end_matches(';');
    let body = serde_json::Value::from(script.to_string());
    if starts_with_statement(source) {
        // Certainly a body: written into the expression itself rather than compiled by
        // `AsyncFunction` at run time, so V8's cache compiles a repeated script once. (The
        // newlines keep a trailing `//` comment from swallowing the closing brace.)
        return format!(
            "(async function () {{\n{script}\n}})()\
             .then(v => v === undefined ? {{ __bc_undefined: true }} : v)"
        );
    }
    let source = serde_json::Value::from(source.to_string());
    format!(
        "(() => {{ const AsyncFunction = (async () => {{}}).constructor; let f; \
         try {{ f = new AsyncFunction('return (' + {source} + '\\n)'); }} \
         catch (_) {{ f = new AsyncFunction({body}); }} \
         return f().then(v => v === undefined ? {{ __bc_undefined: true }} : v); }})()"
    )
}

/// Whether `source` starts with a keyword that no expression can start with (`return 1`),
/// so `return (source)` is certainly not valid JavaScript.
fn starts_with_statement(source: &str) -> bool {
    const KEYWORDS: [&str; 10] = [
        "return", "var", "const", "if", "for", "while", "do", "switch", "try", "throw",
    ];
    KEYWORDS.iter().any(|keyword| {
        source.strip_prefix(keyword).is_some_and(|rest| {
            // A whole word only: `returned` or `do$` are identifiers. Any non-ASCII character
            // may continue an identifier.
            rest.chars().next().is_none_or(|c| {
                c.is_ascii() && !(c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '\\'))
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::starts_with_statement;

    #[test]
    fn statements_are_told_from_expressions() {
        for statement in [
            "return 1",
            "return",
            "if(a) b",
            "const x = 1; x",
            "throw e",
            "do{}while(0)",
        ] {
            assert!(starts_with_statement(statement), "{statement}");
        }
        for expression in [
            "1 + 2",
            "returned",
            "return_value",
            "do$",
            "forπ",
            "iffy()",
            "r\\u0065turn",
            "this",
            "",
        ] {
            assert!(!starts_with_statement(expression), "{expression}");
        }
    }
}
