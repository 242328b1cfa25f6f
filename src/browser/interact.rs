//! browser_interact: click, type, keyboard, scroll, select, hover.

use chromiumoxide::cdp::browser_protocol::input::{
    DispatchKeyEventParams, DispatchKeyEventType, DispatchMouseEventParams, DispatchMouseEventType,
    InsertTextParams, MouseButton,
};
use serde_json::json;

use super::executor::{cdp_error, helper, not_found, require_ok, wait_actionable, Actionable, Ctx};
use crate::task::keys::{KeyChord, Modifier};
use crate::task::{CommandError, InteractAction, ScrollDirection, ToolResult};

pub async fn run(ctx: &Ctx<'_>, action: &InteractAction) -> Result<ToolResult, CommandError> {
    match action {
        InteractAction::Click {
            selector: Some(selector),
            ..
        } => {
            let probe = wait_actionable(ctx, selector, Actionable::CLICK).await?;
            click_at(ctx, probe.x, probe.y).await?;
            Ok(ToolResult::text(format!(
                "Clicked {}",
                probe.desc.unwrap_or_default()
            )))
        }
        InteractAction::Click { x, y, .. } => {
            let (x, y) = point(*x, *y)?;
            click_at(ctx, x, y).await?;
            Ok(ToolResult::text(format!("Clicked at x={x}, y={y}")))
        }
        InteractAction::Hover { selector }
        | InteractAction::Move {
            selector: Some(selector),
            ..
        } => {
            let probe = wait_actionable(ctx, selector, Actionable::HOVER).await?;
            mouse(ctx, DispatchMouseEventType::MouseMoved, probe.x, probe.y, 0).await?;
            let verb = if matches!(action, InteractAction::Hover { .. }) {
                "Hovered"
            } else {
                "Moved the mouse to"
            };
            Ok(ToolResult::text(format!(
                "{verb} {}",
                probe.desc.unwrap_or_default()
            )))
        }
        InteractAction::Move { x, y, .. } => {
            let (x, y) = point(*x, *y)?;
            mouse(ctx, DispatchMouseEventType::MouseMoved, x, y, 0).await?;
            Ok(ToolResult::text(format!("Moved the mouse to x={x}, y={y}")))
        }
        InteractAction::Press { key, modifiers } => {
            let mut chord = key.clone();
            for m in modifiers {
                let m = Modifier::parse(m).expect("checked at validation");
                if !chord.modifiers.contains(&m) {
                    chord.modifiers.push(m);
                }
            }
            press(ctx, &chord).await?;
            Ok(ToolResult::text(format!("Pressed {chord}")))
        }
        InteractAction::Upload { selector, files } => upload(ctx, selector, files).await,
        InteractAction::Type { selector, text } => type_text(ctx, selector, text).await,
        InteractAction::Keyboard { key } => {
            press(ctx, key).await?;
            Ok(ToolResult::text(format!("Pressed {key}")))
        }
        InteractAction::Scroll { direction, amount } => scroll(ctx, *direction, *amount).await,
        InteractAction::Select { selector, value } => select(ctx, selector, value).await,
    }
}

/// The point of a click or move by coordinates (validation made sure both are there).
fn point(x: Option<f64>, y: Option<f64>) -> Result<(f64, f64), CommandError> {
    x.zip(y)
        .ok_or_else(|| CommandError::execution("x and y are required without a selector"))
}

async fn click_at(ctx: &Ctx<'_>, x: f64, y: f64) -> Result<(), CommandError> {
    for (kind, clicks) in [
        (DispatchMouseEventType::MouseMoved, 0),
        (DispatchMouseEventType::MousePressed, 1),
        (DispatchMouseEventType::MouseReleased, 1),
    ] {
        mouse(ctx, kind, x, y, clicks).await?;
    }
    Ok(())
}

/// Waits for the `<input type=file>` (it may be hidden, as styled file inputs are), then sets
/// its files with DOM.setFileInputFiles, which fires `input` and `change` as a user's choice
/// would. The paths were checked to exist at validation.
async fn upload(
    ctx: &Ctx<'_>,
    selector: &str,
    files: &[String],
) -> Result<ToolResult, CommandError> {
    #[derive(serde::Deserialize)]
    struct FileInput {
        state: String,
        desc: Option<String>,
        detail: Option<String>,
        #[serde(default)]
        multiple: bool,
        #[serde(default)]
        disabled: bool,
    }
    let input = loop {
        let found: FileInput = helper(ctx, "file_input", json!({ "selector": selector })).await?;
        if found.state != "missing" {
            break found;
        }
        if !ctx.pause(std::time::Duration::from_millis(50)).await {
            return Err(CommandError::new(
                crate::task::ErrorCode::CommandTimeout,
                format!(
                    "waited {} ms for '{selector}': no element matches selector '{selector}'",
                    ctx.budget.as_millis()
                ),
            ));
        }
    };
    let desc = input.desc.clone().unwrap_or_else(|| selector.to_string());
    match input.state.as_str() {
        "ok" => {}
        "not_file" => {
            return Err(CommandError::execution(format!(
                "{desc} ('{selector}') is not an <input type=file>"
            )))
        }
        state => require_ok(selector, state, input.detail.as_deref())?,
    }
    if input.disabled {
        return Err(CommandError::execution(format!(
            "{desc} ('{selector}') is disabled"
        )));
    }
    if files.len() > 1 && !input.multiple {
        return Err(CommandError::execution(format!(
            "{desc} ('{selector}') takes one file (no `multiple` attribute), {} were given",
            files.len()
        )));
    }
    // The element as a remote object, found in the isolated world (same DOM).
    let mut params = json!({
        "expression": format!("document.querySelector({})", serde_json::Value::from(selector)),
        "returnByValue": false,
    });
    if let Ok(Some(context)) = ctx.page.secondary_execution_context().await {
        params["contextId"] = json!(context.inner());
    }
    let found = ctx.cdp("Runtime.evaluate", params).await?;
    let object_id = found["result"]["objectId"]
        .as_str()
        .ok_or_else(|| not_found(selector))?
        .to_string();
    ctx.cdp(
        "DOM.setFileInputFiles",
        json!({ "files": files, "objectId": object_id }),
    )
    .await?;
    let _ = ctx
        .cdp("Runtime.releaseObject", json!({ "objectId": object_id }))
        .await;
    let names: Vec<&str> = files
        .iter()
        .map(|f| {
            std::path::Path::new(f)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or(f)
        })
        .collect();
    Ok(ToolResult::text(format!(
        "Uploaded {} into {desc}",
        names.join(", ")
    )))
}

async fn mouse(
    ctx: &Ctx<'_>,
    kind: DispatchMouseEventType,
    x: f64,
    y: f64,
    click_count: i64,
) -> Result<(), CommandError> {
    let mut params = DispatchMouseEventParams::new(kind, x, y);
    if click_count > 0 {
        params.button = Some(MouseButton::Left);
        params.buttons = Some(1);
        params.click_count = Some(click_count);
    }
    ctx.page
        .execute(params)
        .await
        .map_err(|e| cdp_error("Input.dispatchMouseEvent", e))?;
    Ok(())
}

/// Focuses the field (after the same waits as a click, minus the hit test) and inserts the text
/// as one input: any Unicode goes in, where key events know only a US keyboard.
async fn type_text(ctx: &Ctx<'_>, selector: &str, text: &str) -> Result<ToolResult, CommandError> {
    wait_actionable(ctx, selector, Actionable::INPUT).await?;
    #[derive(serde::Deserialize)]
    struct Focus {
        state: String,
        desc: Option<String>,
        detail: Option<String>,
    }
    let focus: Focus = helper(ctx, "focus", json!({ "selector": selector })).await?;
    let desc = focus.desc.clone().unwrap_or_else(|| selector.to_string());
    match focus.state.as_str() {
        "ok" => {}
        "not_editable" => {
            return Err(CommandError::execution(format!(
                "{desc} ('{selector}') does not accept text: it is not an input, textarea or contenteditable"
            )))
        }
        "unfocused" => {
            return Err(CommandError::execution(format!(
                "{desc} ('{selector}') did not take the focus"
            )))
        }
        state => require_ok(selector, state, focus.detail.as_deref())?,
    }
    ctx.page
        .execute(InsertTextParams::new(text))
        .await
        .map_err(|e| cdp_error("Input.insertText", e))?;
    Ok(ToolResult::text(format!(
        "Typed {} characters into {desc}",
        text.chars().count()
    )))
}

/// Presses a key with its modifiers: modifiers down, key down and up, modifiers up.
async fn press(ctx: &Ctx<'_>, chord: &KeyChord) -> Result<(), CommandError> {
    let mut held = 0;
    for m in &chord.modifiers {
        held |= m.bit();
        let def =
            crate::task::keys::key_definition(m.key_name()).expect("modifiers are in the layout");
        key_event(ctx, DispatchKeyEventType::RawKeyDown, def, held, None).await?;
    }
    let text = chord.text();
    let down = if text.is_some() {
        DispatchKeyEventType::KeyDown
    } else {
        DispatchKeyEventType::RawKeyDown
    };
    key_event(ctx, down, chord.key, held, text.as_deref()).await?;
    key_event(ctx, DispatchKeyEventType::KeyUp, chord.key, held, None).await?;
    for m in chord.modifiers.iter().rev() {
        held &= !m.bit();
        let def =
            crate::task::keys::key_definition(m.key_name()).expect("modifiers are in the layout");
        key_event(ctx, DispatchKeyEventType::KeyUp, def, held, None).await?;
    }
    Ok(())
}

async fn key_event(
    ctx: &Ctx<'_>,
    kind: DispatchKeyEventType,
    def: &chromiumoxide::keys::KeyDefinition,
    modifiers: i64,
    text: Option<&str>,
) -> Result<(), CommandError> {
    let mut params = DispatchKeyEventParams::new(kind);
    params.key = Some(def.key.to_string());
    params.code = Some(def.code.to_string());
    params.windows_virtual_key_code = Some(def.key_code);
    params.native_virtual_key_code = Some(def.key_code);
    params.modifiers = Some(modifiers);
    if let Some(text) = text {
        params.text = Some(text.to_string());
        params.unmodified_text = Some(text.to_string());
    }
    ctx.page
        .execute(params)
        .await
        .map_err(|e| cdp_error("Input.dispatchKeyEvent", e))?;
    Ok(())
}

async fn scroll(
    ctx: &Ctx<'_>,
    direction: ScrollDirection,
    amount: f64,
) -> Result<ToolResult, CommandError> {
    let (dx, dy) = match direction {
        ScrollDirection::Up => (0.0, -amount),
        ScrollDirection::Down => (0.0, amount),
        ScrollDirection::Left => (-amount, 0.0),
        ScrollDirection::Right => (amount, 0.0),
    };
    #[derive(serde::Deserialize)]
    struct Scrolled {
        x: i64,
        y: i64,
    }
    let at: Scrolled = helper(ctx, "scroll", json!({ "dx": dx, "dy": dy })).await?;
    let dir = format!("{direction:?}").to_lowercase();
    Ok(ToolResult::text(format!(
        "Scrolled {dir} {amount} px; the page is now at x={}, y={}",
        at.x, at.y
    )))
}

async fn select(ctx: &Ctx<'_>, selector: &str, value: &str) -> Result<ToolResult, CommandError> {
    wait_actionable(ctx, selector, Actionable::INPUT).await?;
    #[derive(serde::Deserialize)]
    struct Selected {
        state: String,
        desc: Option<String>,
        detail: Option<String>,
        value: Option<String>,
        label: Option<String>,
        #[serde(default)]
        options: Vec<String>,
    }
    let done: Selected = helper(
        ctx,
        "select",
        json!({ "selector": selector, "value": value }),
    )
    .await?;
    let desc = done.desc.clone().unwrap_or_else(|| selector.to_string());
    match done.state.as_str() {
        "ok" => Ok(ToolResult::text(format!(
            "Selected \"{}\" (value \"{}\") in {desc}",
            done.label.unwrap_or_default(),
            done.value.unwrap_or_default()
        ))),
        "not_select" => Err(CommandError::execution(format!(
            "{desc} ('{selector}') is not a <select> element"
        ))),
        "no_option" => Err(CommandError::execution(format!(
            "{desc} has no option with value or label \"{value}\"; its options: {}",
            done.options.join(", ")
        ))),
        state => {
            require_ok(selector, state, done.detail.as_deref())?;
            unreachable!("require_ok fails for every state but ok")
        }
    }
}
