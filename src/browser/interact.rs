//! browser_interact: click, type, keyboard, scroll, select, hover, move, press, upload.

use chromiumoxide::cdp::browser_protocol::input::{
    DispatchKeyEventParams, DispatchKeyEventType, DispatchMouseEventParams, DispatchMouseEventType,
    InsertTextParams, MouseButton,
};
use serde_json::json;

use super::executor::{
    cdp_error, helper, helper_object, not_found, release, require_ok, wait_actionable, Actionable,
    Ctx,
};
use super::executor::{eval_once, EvalFailure, World};
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
            value: Some(value),
            ..
        } => select(ctx, selector, value).await,
        InteractAction::Select {
            selector,
            label,
            index,
            ..
        } => {
            let by = match (label, index) {
                (Some(label), _) => OptionBy::Label(label),
                (None, Some(index)) => OptionBy::Index(*index),
                (None, None) => {
                    return Err(CommandError::execution(
                        "select needs a value, a label or an index (checked at validation)",
                    ))
                }
            };
            select_by(ctx, selector, by).await
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
    let (input, element) = loop {
        let found = helper_object(ctx, "file_input", args.clone()).await?;
        let element = found.objects.get("el").cloned();
        let input: FileInput = serde_json::from_value(found.fields.clone()).map_err(|e| {
            CommandError::execution(format!(
                "unexpected answer from the page to file_input: {e} ({})",
                found.fields
            ))
        })?;
        if input.state != "missing" {
            break (input, element);
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
                release(ctx, id).await;
            }
            return Err(checked.err().unwrap_or_else(|| not_found(selector)));
        }
    };
    let set = ctx
        .cdp(
            "DOM.setFileInputFiles",
            json!({ "files": real, "objectId": object_id }),
        )
        .await;
    release(ctx, &object_id).await;
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
/// as one input: any Unicode goes in, where key events know only a US keyboard. With `delay`,
/// one character at a time, `delay` ms apart (within the deadline).
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
    match delay.filter(|d| *d > 0.0 && count > 1) {
        None => {
            ctx.page
                .execute(InsertTextParams::new(text))
                .await
                .map_err(|e| cdp_error("Input.insertText", e))?;
        }
        Some(delay) => {
            let pause = std::time::Duration::from_secs_f64(delay / 1000.0);
            for (i, c) in text.chars().enumerate() {
                if i > 0 && !ctx.pause(pause).await {
                    return Err(CommandError::new(
                        crate::task::ErrorCode::CommandTimeout,
                        format!(
                            "typed {i} of {count} characters into {desc} ({delay} ms apart) before the {} ms deadline",
                            ctx.budget.as_millis()
                        ),
                    ));
                }
                ctx.page
                    .execute(InsertTextParams::new(c.to_string()))
                    .await
                    .map_err(|e| cdp_error("Input.insertText", e))?;
            }
        }
    }
    Ok(ToolResult::text(format!(
        "Typed {count} characters into {desc}"
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

/// Runs `expression` in the isolated world (the page's DOM, pristine globals), or the page's
/// own while that world is not there yet.
async fn eval_isolated(ctx: &Ctx<'_>, expression: &str) -> Result<serde_json::Value, CommandError> {
    let world = match ctx.page.secondary_execution_context().await {
        Ok(Some(context)) => World::Isolated(context),
        _ => World::Page,
    };
    eval_once(&ctx.page, expression, world)
        .await
        .map_err(|e| match e {
            EvalFailure::Thrown(text) => CommandError::execution(text),
            EvalFailure::Cdp(e) | EvalFailure::ContextGone(e) => cdp_error("Runtime.evaluate", e),
        })
}

/// The element found at a viewport point, through open shadow roots and into same-origin
/// frames (what a pointer there reaches), as JavaScript: `at(x, y)`.
const ELEMENT_AT: &str = "const at = (x, y) => { let doc = document; for (;;) { \
    let el = doc.elementFromPoint(x, y); \
    while (el && el.shadowRoot) { const inner = el.shadowRoot.elementFromPoint(x, y); \
    if (!inner || inner === el) break; el = inner; } \
    if (!el || (el.tagName !== 'IFRAME' && el.tagName !== 'FRAME')) return el; \
    let inner = null; try { inner = el.contentDocument; } catch (_) {} if (!inner) return el; \
    const r = el.getBoundingClientRect(); const cs = el.ownerDocument.defaultView.getComputedStyle(el); \
    x -= r.left + el.clientLeft + (parseFloat(cs.paddingLeft) || 0); \
    y -= r.top + el.clientTop + (parseFloat(cs.paddingTop) || 0); doc = inner; } }; \
    const up = (n) => n.parentElement || (n.getRootNode && n.getRootNode().host) || null; \
    const describe = (el) => { if (!el || !el.tagName) return String(el); \
    let s = el.tagName.toLowerCase(); if (el.id) s += '#' + el.id; return s; };";

/// Scrolls what a mouse wheel over `selector`'s element would: the element if it scrolls,
/// else its nearest ancestor that does (the page, at last), by (dx, dy) px.
async fn scroll_element(
    ctx: &Ctx<'_>,
    selector: &str,
    dx: f64,
    dy: f64,
) -> Result<ToolResult, CommandError> {
    let probe = wait_actionable(ctx, selector, Actionable::HOVER).await?;
    let expression = format!(
        "(() => {{ {ELEMENT_AT} \
         const scrolls = (n) => {{ const s = getComputedStyle(n); \
           const y = /(auto|scroll|overlay)/.test(s.overflowY) && n.scrollHeight > n.clientHeight; \
           const x = /(auto|scroll|overlay)/.test(s.overflowX) && n.scrollWidth > n.clientWidth; \
           return ({dy} !== 0 && y) || ({dx} !== 0 && x); }}; \
         let n = at({x}, {y}); \
         while (n && n !== document.documentElement && n !== document.body && !scrolls(n)) n = up(n); \
         const target = n && n !== document.documentElement && n !== document.body ? n : document.scrollingElement; \
         target.scrollBy({{ left: {dx}, top: {dy}, behavior: 'instant' }}); \
         return {{ desc: target === document.scrollingElement ? 'the page' : describe(target), \
           x: Math.round(target.scrollLeft), y: Math.round(target.scrollTop) }}; }})()",
        x = probe.x,
        y = probe.y,
    );
    let at = eval_isolated(ctx, &expression).await?;
    Ok(ToolResult::text(format!(
        "Scrolled {} by deltaX={dx}, deltaY={dy} (at {}); it is now at x={}, y={}",
        at["desc"].as_str().unwrap_or("the element"),
        probe.desc.unwrap_or_default(),
        at["x"],
        at["y"]
    )))
}

/// How select picks an option other than by value.
enum OptionBy<'a> {
    /// The visible label, exactly (spaces around it aside).
    Label(&'a str),
    /// The position among the options, from 0.
    Index(u32),
}

/// Chooses an option by label or index, firing `input` and `change` as a user's choice does.
/// The `<select>` is the one found at its own centre once actionable (so refs and any selector
/// the engine takes reach it).
async fn select_by(
    ctx: &Ctx<'_>,
    selector: &str,
    by: OptionBy<'_>,
) -> Result<ToolResult, CommandError> {
    let reach = Actionable {
        hit: true,
        enabled: true,
        stable: false,
    };
    let probe = wait_actionable(ctx, selector, reach).await?;
    let (kind, wanted) = match &by {
        OptionBy::Label(label) => ("label", serde_json::Value::from(*label)),
        OptionBy::Index(index) => ("index", serde_json::Value::from(*index)),
    };
    let expression = format!(
        "(() => {{ {ELEMENT_AT} \
         const el = at({x}, {y}); const select = el && (el.tagName === 'SELECT' ? el : el.closest('select')); \
         if (!select) return {{ state: 'not_select', desc: describe(el) }}; \
         const options = [...select.options]; const wanted = {wanted}; \
         const match = {kind:?} === 'index' ? options[wanted] \
           : options.find((o) => o.label.trim() === String(wanted).trim() || o.text.trim() === String(wanted).trim()); \
         if (!match) return {{ state: 'no_option', desc: describe(select), \
           options: options.map((o, i) => i + ': ' + o.label) }}; \
         if (!select.multiple) select.value = match.value; match.selected = true; \
         select.dispatchEvent(new Event('input', {{ bubbles: true, composed: true }})); \
         select.dispatchEvent(new Event('change', {{ bubbles: true }})); \
         return {{ state: 'ok', desc: describe(select), value: match.value, label: match.label, \
           index: options.indexOf(match) }}; }})()",
        x = probe.x,
        y = probe.y,
    );
    let done = eval_isolated(ctx, &expression).await?;
    let desc = done["desc"].as_str().unwrap_or(selector).to_string();
    let what = match by {
        OptionBy::Label(label) => format!("label \"{label}\""),
        OptionBy::Index(index) => format!("index {index}"),
    };
    match done["state"].as_str() {
        Some("ok") => Ok(ToolResult::text(format!(
            "Selected \"{}\" (value \"{}\", index {}) in {desc}",
            done["label"].as_str().unwrap_or_default(),
            done["value"].as_str().unwrap_or_default(),
            done["index"]
        ))),
        Some("not_select") => Err(CommandError::execution(format!(
            "{desc} ('{selector}') is not a <select> element"
        ))),
        _ => {
            let options: Vec<&str> = done["options"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|o| o.as_str())
                .collect();
            Err(CommandError::execution(format!(
                "{desc} has no option with {what}; its options: {}",
                options.join(", ")
            )))
        }
    }
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
