//! browser_interact: click, type, keyboard, scroll, select, hover, move, press, upload.

use chromiumoxide::cdp::browser_protocol::input::{
    DispatchKeyEventParams, DispatchKeyEventType, DispatchMouseEventParams, DispatchMouseEventType,
    InsertTextParams, MouseButton,
};
use serde_json::json;

use super::executor::{
    cdp_error, helper, helper_object, not_found, require_ok, wait_actionable, Actionable, Ctx,
};
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
        // ctrl/alt/shift/meta were folded into `modifiers` at validation.
        InteractAction::Press { key, modifiers, .. } => {
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
        InteractAction::Type {
            selector,
            text,
            delay,
        } => type_text(ctx, selector, text, *delay).await,
        InteractAction::Keyboard { key } => {
            press(ctx, key).await?;
            Ok(ToolResult::text(format!("Pressed {key}")))
        }
        InteractAction::Scroll {
            direction,
            selector,
            ..
        } => {
            let (dx, dy) = action.scroll_deltas().expect("a scroll");
            match selector {
                Some(selector) => scroll_element(ctx, selector, dx, dy).await,
                None => scroll(ctx, *direction, dx, dy).await,
            }
        }
        InteractAction::Select {
            selector,
            value,
            label,
            index,
        } => {
            let by = match (value, label, index) {
                (Some(value), _, _) => OptionBy::Value(value),
                (None, Some(label), _) => OptionBy::Label(label),
                (None, None, Some(index)) => OptionBy::Index(*index),
                (None, None, None) => {
                    return Err(CommandError::execution(
                        "select needs a value, a label or an index (checked at validation)",
                    ))
                }
            };
            select(ctx, selector, by).await
        }
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
/// would. The paths were checked to exist at validation; here each must also be a file under
/// the upload roots of the instance's policy, and Chromium is handed its canonical path (what
/// was checked is what it reads). The element is found once, by the helpers' engine (so a
/// `ref` works as a selector does), and used by its object id.
async fn upload(
    ctx: &Ctx<'_>,
    selector: &str,
    files: &[String],
) -> Result<ToolResult, CommandError> {
    let policy = ctx.instance.policy().clone();
    let real: Vec<String> = files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            policy
                .check_upload(f)
                .map(|p| p.to_string_lossy().into_owned())
                .map_err(|why| CommandError::execution(format!("files[{i}]: {why}")))
        })
        .collect::<Result<_, _>>()?;
    let args = json!({ "selector": selector, "element": true });
    let (input, element, found) = loop {
        let found = helper_object(ctx, "file_input", args.clone()).await?;
        let element = found.objects.get("el").cloned();
        let input: FileInput = serde_json::from_value(found.fields.clone()).map_err(|e| {
            CommandError::execution(format!(
                "unexpected answer from the page to file_input: {e} ({})",
                found.fields
            ))
        })?;
        if input.state != "missing" {
            break (input, element, found);
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
    let checked = check_file_input(selector, &input, real.len());
    let (desc, object_id) = match (checked, element) {
        (Ok(desc), Some(id)) => (desc, id),
        (checked, element) => {
            if let Some(id) = &element {
                found.release(ctx, id).await;
            }
            return Err(checked.err().unwrap_or_else(|| not_found(selector)));
        }
    };
    ctx.acting();
    // In the session of the page or of the cross-origin frame the input was found in.
    let set = found
        .cdp(
            ctx,
            "DOM.setFileInputFiles",
            json!({ "files": real, "objectId": object_id }),
        )
        .await;
    found.release(ctx, &object_id).await;
    set?;
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

/// What `file_input` says of the element a selector finds.
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

/// Whether the element `file_input` found can take `count` files; its description if so.
fn check_file_input(
    selector: &str,
    input: &FileInput,
    count: usize,
) -> Result<String, CommandError> {
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
    if count > 1 && !input.multiple {
        return Err(CommandError::execution(format!(
            "{desc} ('{selector}') takes one file (no `multiple` attribute), {count} were given"
        )));
    }
    Ok(desc)
}

async fn mouse(
    ctx: &Ctx<'_>,
    kind: DispatchMouseEventType,
    x: f64,
    y: f64,
    click_count: i64,
) -> Result<(), CommandError> {
    ctx.acting();
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

/// Replaces the field's content with `text`, typed as a person would: the field is focused
/// (after the same waits as a click, minus the hit test) with all its content selected, then
/// each character is a key press (keydown, keypress, input, keyup) when the US keyboard has a
/// key for it, and is inserted as by an input method otherwise (any Unicode goes in: é, 中文,
/// emoji; and tabs and line breaks, which as keys would move the focus or submit a form). The
/// first character replaces the selected content; an empty text deletes it (Backspace). With
/// `delay`, the characters come `delay` ms apart (within the deadline).
async fn type_text(
    ctx: &Ctx<'_>,
    selector: &str,
    text: &str,
    delay: Option<f64>,
) -> Result<ToolResult, CommandError> {
    wait_actionable(ctx, selector, Actionable::INPUT).await?;
    #[derive(serde::Deserialize)]
    struct Focus {
        state: String,
        desc: Option<String>,
        detail: Option<String>,
        #[serde(default)]
        length: usize,
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
    let count = text.chars().count();
    ctx.acting();
    if count == 0 && focus.length > 0 {
        let backspace =
            crate::task::keys::key_definition("Backspace").expect("Backspace is in the layout");
        key_event(ctx, DispatchKeyEventType::RawKeyDown, backspace, 0, None).await?;
        key_event(ctx, DispatchKeyEventType::KeyUp, backspace, 0, None).await?;
    }
    let pause = delay
        .filter(|d| *d > 0.0)
        .map(|d| std::time::Duration::from_secs_f64(d / 1000.0));
    for (i, c) in text.chars().enumerate() {
        if let Some(pause) = pause.filter(|_| i > 0) {
            if !ctx.pause(pause).await {
                return Err(CommandError::new(
                    crate::task::ErrorCode::CommandTimeout,
                    format!(
                        "typed {i} of {count} characters into {desc} ({} ms apart) before the {} ms deadline",
                        delay.unwrap_or_default(),
                        ctx.budget.as_millis()
                    ),
                ));
            }
        }
        type_char(ctx, c).await?;
    }
    Ok(ToolResult::text(format!(
        "Typed {count} characters into {desc}"
    )))
}

/// One character, as a key press when the US keyboard has a key that types it, else inserted.
async fn type_char(ctx: &Ctx<'_>, c: char) -> Result<(), CommandError> {
    let mut buf = [0; 4];
    let text: &str = c.encode_utf8(&mut buf);
    let key = (c.is_ascii_graphic() || c == ' ')
        .then(|| crate::task::keys::key_definition(text))
        .flatten();
    match key {
        Some(def) => {
            key_event(ctx, DispatchKeyEventType::KeyDown, def, 0, Some(text)).await?;
            key_event(ctx, DispatchKeyEventType::KeyUp, def, 0, None).await
        }
        None => ctx
            .page
            .execute(InsertTextParams::new(text))
            .await
            .map(|_| ())
            .map_err(|e| cdp_error("Input.insertText", e)),
    }
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
    ctx.acting();
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

/// Scrolls the page by (dx, dy) px, saying so by direction when one was given.
async fn scroll(
    ctx: &Ctx<'_>,
    direction: Option<ScrollDirection>,
    dx: f64,
    dy: f64,
) -> Result<ToolResult, CommandError> {
    #[derive(serde::Deserialize)]
    struct Scrolled {
        x: i64,
        y: i64,
    }
    ctx.acting();
    let at: Scrolled = helper(ctx, "scroll", json!({ "dx": dx, "dy": dy })).await?;
    let how = match direction {
        Some(direction) => format!(
            "{} {} px",
            format!("{direction:?}").to_lowercase(),
            dx.abs().max(dy.abs())
        ),
        None => format!("by deltaX={dx}, deltaY={dy}"),
    };
    Ok(ToolResult::text(format!(
        "Scrolled {how}; the page is now at x={}, y={}",
        at.x, at.y
    )))
}

/// Scrolls what a mouse wheel over `selector`'s element would: the element if it scrolls,
/// else its nearest ancestor that does (the page, or the frame's document, at last), by
/// (dx, dy) px. The element must be what the pointer reaches at its centre.
async fn scroll_element(
    ctx: &Ctx<'_>,
    selector: &str,
    dx: f64,
    dy: f64,
) -> Result<ToolResult, CommandError> {
    let probe = wait_actionable(ctx, selector, Actionable::HOVER).await?;
    ctx.acting();
    let at: serde_json::Value = helper(
        ctx,
        "scroll_element",
        json!({ "selector": selector, "dx": dx, "dy": dy }),
    )
    .await?;
    let state = at["state"].as_str().unwrap_or("missing");
    require_ok(selector, state, at["detail"].as_str())?;
    Ok(ToolResult::text(format!(
        "Scrolled {} by deltaX={dx}, deltaY={dy} (at {}); it is now at x={}, y={}",
        at["desc"].as_str().unwrap_or("the element"),
        probe.desc.unwrap_or_default(),
        at["x"],
        at["y"]
    )))
}

/// How select picks an option.
enum OptionBy<'a> {
    /// The value, or else the visible label.
    Value(&'a str),
    /// The visible label, exactly (spaces around it aside).
    Label(&'a str),
    /// The position among the options, from 0.
    Index(u32),
}

/// Chooses an option, firing `input` and `change` as a user's choice does, once the `<select>`
/// is actionable (as for typing: attached, visible, enabled).
async fn select(
    ctx: &Ctx<'_>,
    selector: &str,
    by: OptionBy<'_>,
) -> Result<ToolResult, CommandError> {
    wait_actionable(ctx, selector, Actionable::INPUT).await?;
    ctx.acting();
    #[derive(serde::Deserialize)]
    struct Selected {
        state: String,
        desc: Option<String>,
        detail: Option<String>,
        value: Option<String>,
        label: Option<String>,
        index: Option<u32>,
        #[serde(default)]
        options: Vec<String>,
        #[serde(default)]
        labels: Vec<String>,
    }
    let mut args = json!({ "selector": selector });
    match &by {
        OptionBy::Value(value) => args["value"] = json!(value),
        OptionBy::Label(label) => args["label"] = json!(label),
        OptionBy::Index(index) => args["index"] = json!(index),
    }
    let done: Selected = helper(ctx, "select", args).await?;
    let desc = done.desc.clone().unwrap_or_else(|| selector.to_string());
    match done.state.as_str() {
        "ok" => {
            let label = done.label.unwrap_or_default();
            let value = done.value.unwrap_or_default();
            Ok(ToolResult::text(match by {
                OptionBy::Value(_) => {
                    format!("Selected \"{label}\" (value \"{value}\") in {desc}")
                }
                _ => format!(
                    "Selected \"{label}\" (value \"{value}\", index {}) in {desc}",
                    done.index.unwrap_or_default()
                ),
            }))
        }
        "not_select" => Err(CommandError::execution(format!(
            "{desc} ('{selector}') is not a <select> element"
        ))),
        "no_option" => Err(CommandError::execution(match by {
            OptionBy::Value(value) => format!(
                "{desc} has no option with value or label \"{value}\"; its options: {}",
                done.options.join(", ")
            ),
            OptionBy::Label(label) => format!(
                "{desc} has no option with label \"{label}\"; its options: {}",
                done.labels.join(", ")
            ),
            OptionBy::Index(index) => format!(
                "{desc} has no option with index {index}; its options: {}",
                done.labels.join(", ")
            ),
        })),
        state => {
            require_ok(selector, state, done.detail.as_deref())?;
            unreachable!("require_ok fails for every state but ok")
        }
    }
}
