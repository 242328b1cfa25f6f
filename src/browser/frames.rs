//! Cross-origin frames, which Chromium runs in their own renderer process (a child target of
//! the page). The page's helpers cannot enter them, so their snapshot is taken by a copy of the
//! helpers running in an isolated world of the frame itself, and their refs lead back there.
//!
//! chromiumoxide gives no handle on a child target's session, so the frame is reached the way
//! CDP allows through the page's own session: `Target.attachToTarget` (not flattened) with the
//! frame's id (an out-of-process frame's target id is its frame id), then
//! `Target.sendMessageToTarget`, whose answers come back as `Target.receivedMessageFromTarget`
//! events on the page's session.
//!
//! Refs inside such a frame are numbered from a base of their own (`e1000001`, `e2000001`, …:
//! one block of a million per frame), so an action can tell by its ref which frame it is for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};

use chromiumoxide::cdp::browser_protocol::target::EventReceivedMessageFromTarget;
use futures::StreamExt;
use serde_json::{json, Value};

use super::executor::{helper, helper_object, release, Ctx};
use crate::task::action::REF_SELECTOR_PREFIX;
use crate::task::{CommandError, ErrorCode};

const HELPERS: &str = include_str!("page_helpers.js");
/// Where the helpers are kept in the frame's isolated world (which the frame's page cannot see).
const KEY: &str = "__browser_control_frame_helpers";
/// Refs of one frame: `base + 1 ..`, `base = slot * BLOCK`.
const BLOCK: u64 = 1_000_000;
/// Frames remembered per page; the oldest are forgotten first.
const MAX_FRAMES: usize = 64;
/// Pages with frames remembered; past it, all are forgotten (their refs then ask for a new
/// snapshot).
const MAX_PAGES: usize = 32;

/// An out-of-process frame the engine has attached to.
#[derive(Debug, Clone)]
struct Frame {
    frame_id: String,
    session: String,
    context: i64,
    /// The page's ref of the `<iframe>` element holding it.
    iframe_ref: String,
    slot: u64,
}

/// Per page (target id): the frames attached to.
static FRAMES: LazyLock<Mutex<HashMap<String, Vec<Frame>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));
/// The next frame's block of refs. Never reused, so a stale ref cannot reach another frame.
static NEXT_SLOT: AtomicU64 = AtomicU64::new(1);

fn page_key(ctx: &Ctx<'_>) -> String {
    ctx.page.target_id().as_ref().to_string()
}

fn frame_error(text: impl std::fmt::Display) -> CommandError {
    CommandError::execution(format!("cross-origin frame: {text}"))
}

/// One CDP command in the frame's session, answered through the page's.
async fn call(
    ctx: &Ctx<'_>,
    session: &str,
    method: &str,
    params: Value,
) -> Result<Value, CommandError> {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut answers = ctx
        .page
        .event_listener::<EventReceivedMessageFromTarget>()
        .await
        .map_err(frame_error)?;
    let message = json!({ "id": id, "method": method, "params": params }).to_string();
    ctx.cdp(
        "Target.sendMessageToTarget",
        json!({ "sessionId": session, "message": message }),
    )
    .await?;
    let wait = async {
        while let Some(event) = answers.next().await {
            if event.session_id.as_ref() != session {
                continue;
            }
            let Ok(answer) = serde_json::from_str::<Value>(&event.message) else {
                continue;
            };
            if answer["id"] == json!(id) {
                return Some(answer);
            }
        }
        None
    };
    let Some(answer) = ctx.in_time(wait).await.flatten() else {
        return Err(CommandError::new(
            ErrorCode::CommandTimeout,
            format!("cross-origin frame: no answer to {method} before the deadline"),
        ));
    };
    if let Some(error) = answer.get("error") {
        return Err(frame_error(format!(
            "{method} failed: {}",
            error["message"].as_str().unwrap_or("unknown error")
        )));
    }
    Ok(answer["result"].clone())
}

/// Runs one helper operation in the frame's isolated world and returns its answer.
async fn run_helper(
    ctx: &Ctx<'_>,
    frame: &Frame,
    op: &str,
    args: &Value,
) -> Result<Value, CommandError> {
    let expression = format!(
        "(globalThis.{KEY} || (globalThis.{KEY} = ({HELPERS})))({}, {args})",
        Value::from(op)
    );
    let answer = call(
        ctx,
        &frame.session,
        "Runtime.evaluate",
        json!({
            "expression": expression,
            "contextId": frame.context,
            "awaitPromise": true,
            "returnByValue": true,
        }),
    )
    .await?;
    if let Some(details) = answer.get("exceptionDetails") {
        return Err(frame_error(
            details["exception"]["description"]
                .as_str()
                .or(details["text"].as_str())
                .unwrap_or("the frame threw"),
        ));
    }
    Ok(answer["result"]["value"].clone())
}

/// The frame held by the `<iframe>` with the page's ref `iframe_ref`, attached to (once per
/// frame document: a frame that navigated is attached to again).
async fn frame_for(ctx: &Ctx<'_>, iframe_ref: &str) -> Result<Frame, CommandError> {
    let selector = format!("{REF_SELECTOR_PREFIX}{iframe_ref}");
    let found = helper_object(ctx, "element", json!({ "selector": selector })).await?;
    let Some(object) = found.objects.get("el").cloned() else {
        return Err(frame_error("its <iframe> element is gone"));
    };
    let node = ctx
        .cdp("DOM.describeNode", json!({ "objectId": object }))
        .await;
    release(ctx, &object).await;
    let frame_id = node?["node"]["frameId"]
        .as_str()
        .map(String::from)
        .ok_or_else(|| frame_error("the element holds no frame"))?;
    let key = page_key(ctx);
    let known = FRAMES
        .lock()
        .unwrap()
        .get(&key)
        .and_then(|frames| frames.iter().find(|f| f.frame_id == frame_id).cloned());
    if let Some(frame) = known {
        // Still the same document (its world alive)?
        let alive = call(
            ctx,
            &frame.session,
            "Runtime.evaluate",
            json!({ "expression": "1", "contextId": frame.context, "returnByValue": true }),
        )
        .await;
        if alive.is_ok_and(|v| v.get("exceptionDetails").is_none()) {
            return Ok(frame);
        }
        forget(&key, &frame.frame_id);
        let _ = ctx
            .cdp(
                "Target.detachFromTarget",
                json!({ "sessionId": frame.session }),
            )
            .await;
    }
    let attached = ctx
        .cdp(
            "Target.attachToTarget",
            json!({ "targetId": frame_id, "flatten": false }),
        )
        .await
        .map_err(|e| frame_error(format!("cannot attach to it ({})", e.message)))?;
    let session = attached["sessionId"]
        .as_str()
        .map(String::from)
        .ok_or_else(|| frame_error("no session"))?;
    let world = call(
        ctx,
        &session,
        "Page.createIsolatedWorld",
        json!({ "frameId": frame_id, "worldName": "browser_control" }),
    )
    .await?;
    let context = world["executionContextId"]
        .as_i64()
        .ok_or_else(|| frame_error("no isolated world"))?;
    let mut table = FRAMES.lock().unwrap();
    // Pages that closed are not told about: keep the table small instead.
    if table.len() >= MAX_PAGES && !table.contains_key(&key) {
        table.clear();
    }
    let frames = table.entry(key).or_default();
    let frame = Frame {
        frame_id,
        session,
        context,
        iframe_ref: iframe_ref.to_string(),
        slot: NEXT_SLOT.fetch_add(1, Ordering::Relaxed),
    };
    frames.push(frame.clone());
    if frames.len() > MAX_FRAMES {
        frames.remove(0);
    }
    Ok(frame)
}

fn forget(key: &str, frame_id: &str) {
    if let Some(frames) = FRAMES.lock().unwrap().get_mut(key) {
        frames.retain(|f| f.frame_id != frame_id);
    }
}

/// Fills the cross-origin frames of a page snapshot in: each placeholder line (tagged
/// `[frame=eN]` by the helpers) becomes that frame's own snapshot, indented in its place, or
/// says why it could not be taken.
pub async fn fill_snapshot(ctx: &Ctx<'_>, snapshot: &str, max: usize) -> String {
    let mut out = String::with_capacity(snapshot.len());
    for line in snapshot.lines() {
        let tagged = line
            .strip_suffix(']')
            .and_then(|l| l.rsplit_once(" [frame="));
        let Some((text, iframe_ref)) = tagged else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let indent = &line[..line.len() - line.trim_start().len()];
        match frame_snapshot(ctx, iframe_ref, max).await {
            Ok(inner) if !inner.trim().is_empty() => {
                for inner_line in inner.lines() {
                    out.push_str(indent);
                    out.push_str(inner_line);
                    out.push('\n');
                }
            }
            Ok(_) => {}
            Err(e) => {
                out.push_str(text);
                out.push_str(&format!(" ({})\n", e.message));
            }
        }
    }
    out
}

async fn frame_snapshot(
    ctx: &Ctx<'_>,
    iframe_ref: &str,
    max: usize,
) -> Result<String, CommandError> {
    let frame = frame_for(ctx, iframe_ref).await?;
    let answer = run_helper(
        ctx,
        &frame,
        "snapshot",
        &json!({ "max": max, "refBase": frame.slot * BLOCK + 1 }),
    )
    .await?;
    if answer["state"] != "ok" {
        return Err(frame_error(format!("snapshot: {}", answer["state"])));
    }
    Ok(answer["snapshot"].as_str().unwrap_or_default().to_string())
}

/// For a helper call whose selector is a ref handed out inside a cross-origin frame: runs it
/// there, with the point of a probe moved to the page's viewport. `None` for any other call.
pub async fn route(ctx: &Ctx<'_>, op: &str, args: &Value) -> Option<Result<Value, CommandError>> {
    let selector = args.get("selector")?.as_str()?;
    let number: u64 = selector
        .strip_prefix(REF_SELECTOR_PREFIX)?
        .strip_prefix('e')?
        .parse()
        .ok()?;
    if number <= BLOCK {
        return None;
    }
    let slot = number / BLOCK;
    let frame = FRAMES
        .lock()
        .unwrap()
        .get(&page_key(ctx))
        .and_then(|frames| frames.iter().find(|f| f.slot == slot).cloned());
    let Some(frame) = frame else {
        return Some(Ok(json!({ "state": "unknown_ref" })));
    };
    Some(Box::pin(in_frame(ctx, &frame, op, args)).await)
}

async fn in_frame(
    ctx: &Ctx<'_>,
    frame: &Frame,
    op: &str,
    args: &Value,
) -> Result<Value, CommandError> {
    let mut answer = match run_helper(ctx, frame, op, args).await {
        Ok(answer) => answer,
        // The frame's document (and its refs) is gone.
        Err(e) if e.message.contains("Cannot find context") || e.message.contains("No session") => {
            forget(&page_key(ctx), &frame.frame_id);
            return Ok(json!({ "state": "unknown_ref" }));
        }
        Err(e) => return Err(e),
    };
    let moves = (op == "probe" || op == "rect") && answer["state"] == "ok";
    if moves {
        let selector = format!("{REF_SELECTOR_PREFIX}{}", frame.iframe_ref);
        let mut ask = json!({ "selector": selector });
        if op == "probe" && args["hit"] == json!(true) {
            ask["at"] = json!([answer["x"], answer["y"]]);
        }
        let origin: Value = helper(ctx, "frame_origin", ask).await?;
        match origin["state"].as_str() {
            Some("ok") => {}
            // Something in the page covers the frame there.
            Some("covered" | "outside") => {
                answer["state"] = origin["state"].clone();
                answer["cover"] = origin["cover"].clone();
                return Ok(answer);
            }
            _ => return Ok(json!({ "state": "unknown_ref" })),
        }
        let n = |v: &Value| v.as_f64().unwrap_or(0.0);
        if op == "probe" {
            answer["x"] = json!(n(&answer["x"]) + n(&origin["x"]));
            answer["y"] = json!(n(&answer["y"]) + n(&origin["y"]));
        } else {
            // The page's document coordinates: the frame's viewport point, moved.
            answer["x"] = json!(n(&answer["vx"]) + n(&origin["x"]) + n(&origin["sx"]));
            answer["y"] = json!(n(&answer["vy"]) + n(&origin["y"]) + n(&origin["sy"]));
        }
    }
    Ok(answer)
}
