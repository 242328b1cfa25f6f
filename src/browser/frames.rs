//! Where the page helpers run: the page itself (its top document and same-origin frames), or a
//! cross-origin frame, which Chromium runs in its own renderer process (a child target of the
//! page). The page's helpers cannot enter those, so a copy of the helpers runs in an isolated
//! world of the frame itself. A frame is reached by a snapshot ref handed out there, or by a
//! `>>>` path: the page's helpers answer `cross_origin` with the `<iframe>`s the path entered
//! (by ref) and the rest of the path, which is then looked for in each of those frames, and so
//! on for a cross-origin frame inside one. Every helper call also goes through the closed
//! shadow root scans of shadow.rs, in the page and in frames alike.
//!
//! chromiumoxide gives no handle on a child target's session, so a frame is reached the way
//! CDP allows through the page's own session: `Target.attachToTarget` (not flattened) with the
//! frame's id (an out-of-process frame's target id is its frame id; nested ones too), then
//! `Target.sendMessageToTarget`, whose answers come back as `Target.receivedMessageFromTarget`
//! events on the page's session.
//!
//! Refs inside such a frame are numbered from a base of their own (`e1000001`, `e2000001`, …:
//! one block of a million per frame), so an action can tell by its ref which frame it is for,
//! and a frame's `<iframe>` ref tells where that element lives (the page, or another frame).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};

use chromiumoxide::cdp::browser_protocol::target::EventReceivedMessageFromTarget;
use futures::future::BoxFuture;
use futures::StreamExt;
use serde_json::{json, Value};

use super::executor::{helpers_global, page_helper, page_object, Ctx, HelperObject};
use super::shadow;
use crate::task::action::REF_SELECTOR_PREFIX;
use crate::task::{CommandError, ErrorCode};

const HELPERS: &str = include_str!("page_helpers.js");
/// The isolated world the helpers run in, in a frame.
const FRAME_WORLD: &str = "browser_control";
/// Where the helpers are kept in the frame's isolated world (which the frame's page cannot see).
const KEY: &str = "__browser_control_frame_helpers";
/// Refs of one frame: `base + 1 ..`, `base = slot * BLOCK`.
const BLOCK: u64 = 1_000_000;
/// Frames remembered per page; the oldest are forgotten first.
const MAX_FRAMES: usize = 64;
/// Pages with frames remembered; past it, all are forgotten (their refs then ask for a new
/// snapshot).
const MAX_PAGES: usize = 32;
/// Cross-origin frames inside cross-origin frames, at most (a page framing itself endlessly
/// stops there).
const MAX_DEPTH: usize = 8;

/// An out-of-process frame the engine has attached to.
#[derive(Debug, Clone)]
pub(super) struct Frame {
    frame_id: String,
    session: String,
    context: i64,
    /// The ref of the `<iframe>` element holding it, in the page or in the frame around it.
    iframe_ref: String,
    /// That element, described (`iframe#pay`).
    desc: String,
    slot: u64,
}

/// Where a helper runs.
#[derive(Debug, Clone)]
pub(super) enum Place {
    Page,
    Frame(Frame),
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

fn state(answer: &Value) -> &str {
    answer["state"].as_str().unwrap_or_default()
}

/// One CDP command in a frame's session, answered through the page's.
pub(super) async fn call(
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

/// A CDP command at a place: the page's session, or the frame's.
async fn place_cdp(
    ctx: &Ctx<'_>,
    place: &Place,
    method: &'static str,
    params: Value,
) -> Result<Value, CommandError> {
    match place {
        Place::Page => ctx.cdp(method, params).await,
        Place::Frame(frame) => call(ctx, &frame.session, method, params).await,
    }
}

/// The expression that runs helper `op` in the frame's isolated world (installing the helpers
/// there first if need be), with the frame's ref base.
fn frame_expression(frame: &Frame, op: &str, args: &Value) -> String {
    let mut args = args.clone();
    if let Value::Object(map) = &mut args {
        map.insert("refBase".into(), json!(frame.slot * BLOCK + 1));
    }
    format!(
        "(globalThis.{KEY} || (globalThis.{KEY} = ({HELPERS})))({}, {args})",
        Value::from(op)
    )
}

/// Whether a frame's error says its document (and world) is gone.
fn frame_gone(e: &CommandError) -> bool {
    e.message.contains("Cannot find context") || e.message.contains("No session")
}

/// Runs one helper operation in the frame's isolated world and returns its answer.
async fn run_helper(
    ctx: &Ctx<'_>,
    frame: &Frame,
    op: &str,
    args: &Value,
) -> Result<Value, CommandError> {
    let answer = call(
        ctx,
        &frame.session,
        "Runtime.evaluate",
        json!({
            "expression": frame_expression(frame, op, args),
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

/// One helper operation at a place, as it answers. A frame whose document is gone answers
/// `unknown_ref` (its refs, and the path's frame, are gone with it).
async fn raw(ctx: &Ctx<'_>, place: &Place, op: &str, args: &Value) -> Result<Value, CommandError> {
    match place {
        Place::Page => page_helper(ctx, op, args).await,
        Place::Frame(frame) => match run_helper(ctx, frame, op, args).await {
            Err(e) if frame_gone(&e) => {
                forget(&page_key(ctx), &frame.frame_id);
                Ok(json!({ "state": "unknown_ref" }))
            }
            done => done,
        },
    }
}

/// [`raw`], keeping the answer in the place's world (see [`HelperObject`]).
async fn raw_object(
    ctx: &Ctx<'_>,
    place: &Place,
    op: &str,
    args: &Value,
) -> Result<HelperObject, CommandError> {
    let Place::Frame(frame) = place else {
        return page_object(ctx, op, args).await;
    };
    let answer = call(
        ctx,
        &frame.session,
        "Runtime.evaluate",
        json!({
            "expression": frame_expression(frame, op, args),
            "contextId": frame.context,
            "awaitPromise": true,
            "returnByValue": false,
        }),
    )
    .await;
    let answer = match answer {
        Err(e) if frame_gone(&e) => {
            forget(&page_key(ctx), &frame.frame_id);
            return Ok(HelperObject {
                fields: json!({ "state": "unknown_ref" }),
                objects: HashMap::new(),
                session: Some(frame.session.clone()),
            });
        }
        done => done?,
    };
    if let Some(details) = answer.get("exceptionDetails") {
        return Err(frame_error(
            details["exception"]["description"]
                .as_str()
                .or(details["text"].as_str())
                .unwrap_or("the frame threw"),
        ));
    }
    let Some(id) = answer["result"]["objectId"].as_str().map(String::from) else {
        return Err(frame_error(format!(
            "unexpected answer to {op}: {}",
            answer["result"]
        )));
    };
    let props = call(
        ctx,
        &frame.session,
        "Runtime.getProperties",
        json!({ "objectId": id, "ownProperties": true }),
    )
    .await;
    let _ = call(
        ctx,
        &frame.session,
        "Runtime.releaseObject",
        json!({ "objectId": id }),
    )
    .await;
    Ok(HelperObject::from_properties(
        &props?,
        Some(frame.session.clone()),
    ))
}

/// Hands the closed shadow roots of the place's document to its helpers (shadow.rs); how many
/// were new.
async fn scan_closed(ctx: &Ctx<'_>, place: &Place, signal: i64) -> usize {
    let (context, helpers) = match place {
        Place::Page => match ctx.page.secondary_execution_context().await {
            Ok(Some(context)) => (*context.inner(), helpers_global()),
            _ => return 0,
        },
        Place::Frame(frame) => (frame.context, format!("globalThis.{KEY}")),
    };
    shadow::scan(
        |method, params| place_cdp(ctx, place, method, params),
        context,
        &helpers,
        signal,
    )
    .await
}

/// Whether an answer asks for a closed-root scan first: `Some(must_rerun, signal)`.
fn scan_wanted(answer: &Value) -> Option<(bool, i64)> {
    let signal = answer["signal"].as_i64().unwrap_or(0);
    if state(answer) == "scan_closed" {
        Some((true, signal))
    } else if answer["closedScan"] == json!(true) {
        Some((false, signal))
    } else {
        None
    }
}

fn scanned(args: &Value) -> Value {
    let mut args = args.clone();
    if let Value::Object(map) = &mut args {
        map.insert("scanned".into(), Value::Bool(true));
    }
    args
}

/// One helper operation at a place, after the closed-root scan it asks for: before it (the
/// page made closed roots since the last scan), or when it found nothing in a document never
/// scanned (then run again only if the scan found roots).
async fn direct(
    ctx: &Ctx<'_>,
    place: &Place,
    op: &str,
    args: &Value,
) -> Result<Value, CommandError> {
    let answer = raw(ctx, place, op, args).await?;
    let Some((must, signal)) = scan_wanted(&answer) else {
        return Ok(answer);
    };
    let added = scan_closed(ctx, place, signal).await;
    if !must && added == 0 {
        return Ok(answer);
    }
    raw(ctx, place, op, &scanned(args)).await
}

/// [`direct`] for [`raw_object`].
async fn direct_object(
    ctx: &Ctx<'_>,
    place: &Place,
    op: &str,
    args: &Value,
) -> Result<HelperObject, CommandError> {
    let found = raw_object(ctx, place, op, args).await?;
    let Some((must, signal)) = scan_wanted(&found.fields) else {
        return Ok(found);
    };
    let added = scan_closed(ctx, place, signal).await;
    if !must && added == 0 {
        return Ok(found);
    }
    release_all(ctx, &found).await;
    raw_object(ctx, place, op, &scanned(args)).await
}

async fn release_all(ctx: &Ctx<'_>, found: &HelperObject) {
    for id in found.objects.values() {
        found.release(ctx, id).await;
    }
}

/// The slot of a ref handed out in a cross-origin frame (`aria-ref=e1000002`, possibly followed
/// by a path); `None` for the page's refs and for other selectors.
fn frame_slot(selector: &str) -> Option<u64> {
    let digits: String = selector
        .strip_prefix(REF_SELECTOR_PREFIX)?
        .strip_prefix('e')?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let number: u64 = digits.parse().ok()?;
    (number > BLOCK).then_some(number / BLOCK)
}

fn frame_by_slot(ctx: &Ctx<'_>, slot: u64) -> Option<Frame> {
    FRAMES
        .lock()
        .unwrap()
        .get(&page_key(ctx))
        .and_then(|frames| frames.iter().find(|f| f.slot == slot).cloned())
}

/// Where a ref (`e12`) was handed out; `None` when that frame is forgotten.
fn place_of_ref(ctx: &Ctx<'_>, reference: &str) -> Option<Place> {
    match frame_slot(&format!("{REF_SELECTOR_PREFIX}{reference}")) {
        None => Some(Place::Page),
        Some(slot) => frame_by_slot(ctx, slot).map(Place::Frame),
    }
}

/// Where a helper call's selector leads first: the frame its ref was handed out in, else the
/// page. `None`: the ref's frame is forgotten.
fn start_of(ctx: &Ctx<'_>, args: &Value) -> Option<Place> {
    match args["selector"].as_str().and_then(frame_slot) {
        None => Some(Place::Page),
        Some(slot) => frame_by_slot(ctx, slot).map(Place::Frame),
    }
}

/// Runs helper `op` where its selector leads (see the module's doc), with the point of a probe
/// and the box of a rect moved to the page's viewport and document.
pub(super) async fn answer(ctx: &Ctx<'_>, op: &str, args: Value) -> Result<Value, CommandError> {
    match start_of(ctx, &args) {
        None => Ok(json!({ "state": "unknown_ref" })),
        Some(place) => run_at(ctx, &place, op, &args, 0).await,
    }
}

/// [`answer`], keeping the answer where the element was found (for CDP commands taking it).
pub(super) async fn object(
    ctx: &Ctx<'_>,
    op: &str,
    args: Value,
) -> Result<HelperObject, CommandError> {
    match start_of(ctx, &args) {
        None => Ok(HelperObject {
            fields: json!({ "state": "unknown_ref" }),
            objects: HashMap::new(),
            session: None,
        }),
        Some(place) => object_at(ctx, &place, op, &args, 0).await,
    }
}

fn run_at<'a>(
    ctx: &'a Ctx<'a>,
    place: &'a Place,
    op: &'a str,
    args: &'a Value,
    depth: usize,
) -> BoxFuture<'a, Result<Value, CommandError>> {
    Box::pin(async move {
        let mut answer = direct(ctx, place, op, args).await?;
        if let Place::Frame(frame) = place {
            answer = to_page(ctx, frame, op, args, answer).await?;
        }
        if state(&answer) != "cross_origin" {
            return Ok(answer);
        }
        if depth >= MAX_DEPTH {
            return Err(frame_error(format!(
                "more than {MAX_DEPTH} cross-origin frames inside one another"
            )));
        }
        let rest = answer["rest"].as_str().unwrap_or_default().to_string();
        let mut inner = args.clone();
        inner["selector"] = json!(rest);
        if let Value::Object(map) = &mut inner {
            map.remove("scanned");
        }
        let mut failed = None;
        let mut merged: Option<Value> = None;
        for iframe_ref in answer["frames"]
            .as_str()
            .unwrap_or_default()
            .split_whitespace()
        {
            let frame = match frame_for(ctx, iframe_ref).await {
                Ok(frame) => frame,
                Err(e) => {
                    failed.get_or_insert(e);
                    continue;
                }
            };
            let found = run_at(ctx, &Place::Frame(frame), op, &inner, depth + 1).await?;
            if op == "query" && state(&found) == "ok" {
                merged = Some(match merged.take() {
                    None => found,
                    Some(all) => merge_queries(all, &found, args["limit"].as_u64()),
                });
            } else if state(&found) != "missing" {
                return Ok(found);
            }
        }
        if let Some(all) = merged {
            return Ok(all);
        }
        match failed {
            Some(e) => Err(e),
            None if op == "query" => Ok(json!({ "state": "ok", "count": 0, "items": [] })),
            None => Ok(json!({ "state": "missing" })),
        }
    })
}

fn merge_queries(mut all: Value, more: &Value, limit: Option<u64>) -> Value {
    let count = all["count"].as_u64().unwrap_or(0) + more["count"].as_u64().unwrap_or(0);
    all["count"] = json!(count);
    if let (Some(items), Some(extra)) = (all["items"].as_array_mut(), more["items"].as_array()) {
        items.extend(extra.iter().cloned());
        items.truncate(limit.unwrap_or(u64::MAX) as usize);
    }
    all
}

fn object_at<'a>(
    ctx: &'a Ctx<'a>,
    place: &'a Place,
    op: &'a str,
    args: &'a Value,
    depth: usize,
) -> BoxFuture<'a, Result<HelperObject, CommandError>> {
    Box::pin(async move {
        let mut found = direct_object(ctx, place, op, args).await?;
        if let (Place::Frame(frame), Value::Object(fields)) = (place, &mut found.fields) {
            if let Some(Value::String(desc)) = fields.get_mut("desc") {
                *desc = in_frame_desc(desc, frame);
            }
        }
        if state(&found.fields) != "cross_origin" {
            return Ok(found);
        }
        if depth >= MAX_DEPTH {
            return Err(frame_error(format!(
                "more than {MAX_DEPTH} cross-origin frames inside one another"
            )));
        }
        let rest = found.fields["rest"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let mut inner = args.clone();
        inner["selector"] = json!(rest);
        if let Value::Object(map) = &mut inner {
            map.remove("scanned");
        }
        let mut failed = None;
        for iframe_ref in found.fields["frames"]
            .as_str()
            .unwrap_or_default()
            .split_whitespace()
        {
            let frame = match frame_for(ctx, iframe_ref).await {
                Ok(frame) => frame,
                Err(e) => {
                    failed.get_or_insert(e);
                    continue;
                }
            };
            let inside = object_at(ctx, &Place::Frame(frame), op, &inner, depth + 1).await?;
            if state(&inside.fields) != "missing" {
                return Ok(inside);
            }
            release_all(ctx, &inside).await;
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(HelperObject {
                fields: json!({ "state": "missing" }),
                objects: HashMap::new(),
                session: None,
            }),
        }
    })
}

/// An element's description, with the frame it is in.
fn in_frame_desc(desc: &str, frame: &Frame) -> String {
    if desc == "the page" {
        format!("the document of {}", frame.desc)
    } else {
        format!("{desc} in {}", frame.desc)
    }
}

/// The frame held by the `<iframe>` with ref `iframe_ref` (in the page, or in the cross-origin
/// frame its number says), attached to (once per frame document: a frame that navigated is
/// attached to again).
async fn frame_for(ctx: &Ctx<'_>, iframe_ref: &str) -> Result<Frame, CommandError> {
    let Some(parent) = place_of_ref(ctx, iframe_ref) else {
        return Err(frame_error(
            "the frame around it is gone: take a new snapshot",
        ));
    };
    let key = page_key(ctx);
    // The frame this element held last time, if its document is still there.
    let held = FRAMES
        .lock()
        .unwrap()
        .get(&key)
        .and_then(|frames| frames.iter().find(|f| f.iframe_ref == iframe_ref).cloned());
    if let Some(frame) = held {
        if alive(ctx, &frame).await {
            return Ok(frame);
        }
    }
    let selector = format!("{REF_SELECTOR_PREFIX}{iframe_ref}");
    let found = raw_object(
        ctx,
        &parent,
        "element",
        &json!({ "selector": selector, "scanned": true }),
    )
    .await?;
    let Some(object) = found.objects.get("el").cloned() else {
        return Err(frame_error("its <iframe> element is gone"));
    };
    let desc = found.fields["desc"]
        .as_str()
        .unwrap_or("iframe")
        .to_string();
    let node = found
        .cdp(ctx, "DOM.describeNode", json!({ "objectId": object }))
        .await;
    found.release(ctx, &object).await;
    let frame_id = node?["node"]["frameId"]
        .as_str()
        .map(String::from)
        .ok_or_else(|| frame_error("the element holds no frame"))?;
    let known = FRAMES
        .lock()
        .unwrap()
        .get(&key)
        .and_then(|frames| frames.iter().find(|f| f.frame_id == frame_id).cloned());
    if let Some(frame) = known {
        if alive(ctx, &frame).await {
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
        .map_err(|e| frame_error(format!("cannot attach to {desc} ({})", e.message)))?;
    let session = attached["sessionId"]
        .as_str()
        .map(String::from)
        .ok_or_else(|| frame_error("no session"))?;
    let world = call(
        ctx,
        &session,
        "Page.createIsolatedWorld",
        json!({ "frameId": frame_id, "worldName": FRAME_WORLD }),
    )
    .await?;
    let context = world["executionContextId"]
        .as_i64()
        .ok_or_else(|| frame_error("no isolated world"))?;
    // The frame counts its closed shadow roots from now on (shadow.rs); without it, its
    // snapshots look for them every time.
    for params in shadow::scripts(FRAME_WORLD) {
        let _ = call(
            ctx,
            &session,
            "Page.addScriptToEvaluateOnNewDocument",
            params,
        )
        .await;
    }
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
        desc,
        slot: NEXT_SLOT.fetch_add(1, Ordering::Relaxed),
    };
    frames.push(frame.clone());
    if frames.len() > MAX_FRAMES {
        frames.remove(0);
    }
    Ok(frame)
}

/// Whether the frame's document (its world) is still the one attached to.
async fn alive(ctx: &Ctx<'_>, frame: &Frame) -> bool {
    let answer = call(
        ctx,
        &frame.session,
        "Runtime.evaluate",
        json!({ "expression": "1", "contextId": frame.context, "returnByValue": true }),
    )
    .await;
    answer.is_ok_and(|v| v.get("exceptionDetails").is_none())
}

fn forget(key: &str, frame_id: &str) {
    if let Some(frames) = FRAMES.lock().unwrap().get_mut(key) {
        frames.retain(|f| f.frame_id != frame_id);
    }
}

/// Where a frame's viewport starts in the page's.
enum Origin {
    /// In the page's viewport, and the page's scroll offset.
    At { x: f64, y: f64, sx: f64, sy: f64 },
    /// Something covers the frame at the point asked about (`covered`), or the point is off
    /// the page (`outside`).
    Blocked { state: Value, cover: Value },
    /// The frame's `<iframe>` (or one around it) is gone.
    Gone,
}

/// Where `frame`'s viewport starts in the page's viewport, through the frames around it. With
/// `at` (a point in the frame's viewport), each frame around it must be what a click there
/// reaches. Unless `still`, each `<iframe>` is brought into view first.
fn origin_in_page<'a>(
    ctx: &'a Ctx<'a>,
    frame: &'a Frame,
    at: Option<(f64, f64)>,
    still: bool,
) -> BoxFuture<'a, Result<Origin, CommandError>> {
    Box::pin(async move {
        let Some(parent) = place_of_ref(ctx, &frame.iframe_ref) else {
            return Ok(Origin::Gone);
        };
        let mut ask = json!({
            "selector": format!("{REF_SELECTOR_PREFIX}{}", frame.iframe_ref),
            "scanned": true,
            "noScroll": still,
        });
        if let Some((x, y)) = at {
            ask["at"] = json!([x, y]);
        }
        let o = raw(ctx, &parent, "frame_origin", &ask).await?;
        match state(&o) {
            "ok" => {}
            "covered" | "outside" => {
                return Ok(Origin::Blocked {
                    state: o["state"].clone(),
                    cover: o["cover"].clone(),
                })
            }
            _ => return Ok(Origin::Gone),
        }
        let n = |v: &Value| v.as_f64().unwrap_or(0.0);
        let (x, y) = (n(&o["x"]), n(&o["y"]));
        match &parent {
            Place::Page => Ok(Origin::At {
                x,
                y,
                sx: n(&o["sx"]),
                sy: n(&o["sy"]),
            }),
            Place::Frame(around) => {
                let point = at.map(|(ax, ay)| (ax + x, ay + y));
                Ok(match origin_in_page(ctx, around, point, still).await? {
                    Origin::At {
                        x: ox,
                        y: oy,
                        sx,
                        sy,
                    } => Origin::At {
                        x: x + ox,
                        y: y + oy,
                        sx,
                        sy,
                    },
                    other => other,
                })
            }
        }
    })
}

/// A frame's answer, for the page: its element described as in the frame, and the point of a
/// probe (viewport) or the box of a rect (document) moved into the page's coordinates, the
/// page checked not to cover the frame at a probe's point when it must be hit.
async fn to_page(
    ctx: &Ctx<'_>,
    frame: &Frame,
    op: &str,
    args: &Value,
    mut answer: Value,
) -> Result<Value, CommandError> {
    if let Some(desc) = answer["desc"].as_str() {
        answer["desc"] = json!(in_frame_desc(desc, frame));
    }
    for item in answer["items"].as_array_mut().into_iter().flatten() {
        if let Some(element) = item["element"].as_str() {
            item["element"] = json!(in_frame_desc(element, frame));
        }
    }
    let moves = (op == "probe" || op == "rect") && state(&answer) == "ok";
    if !moves {
        return Ok(answer);
    }
    let n = |v: &Value| v.as_f64().unwrap_or(0.0);
    let at =
        (op == "probe" && args["hit"] == json!(true)).then(|| (n(&answer["x"]), n(&answer["y"])));
    match origin_in_page(ctx, frame, at, false).await? {
        Origin::At { x, y, sx, sy } => {
            if op == "probe" {
                answer["x"] = json!(n(&answer["x"]) + x);
                answer["y"] = json!(n(&answer["y"]) + y);
            } else {
                // The page's document coordinates: the frame's viewport point, moved.
                answer["x"] = json!(n(&answer["vx"]) + x + sx);
                answer["y"] = json!(n(&answer["vy"]) + y + sy);
            }
            Ok(answer)
        }
        Origin::Blocked { state, cover } => {
            answer["state"] = state;
            answer["cover"] = cover;
            Ok(answer)
        }
        Origin::Gone => Ok(json!({ "state": "unknown_ref" })),
    }
}

/// Fills the cross-origin frames of a snapshot in: each placeholder line (tagged `[frame=eN]`
/// by the helpers) becomes that frame's own snapshot, indented in its place (and so on for the
/// frames inside it), or says why it could not be taken.
pub async fn fill_snapshot(ctx: &Ctx<'_>, snapshot: &str, max: usize) -> String {
    fill_snapshot_at(ctx, snapshot, max, 0).await
}

fn fill_snapshot_at<'a>(
    ctx: &'a Ctx<'a>,
    snapshot: &'a str,
    max: usize,
    depth: usize,
) -> BoxFuture<'a, String> {
    Box::pin(async move {
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
            let inner = if depth >= MAX_DEPTH {
                Err(frame_error(format!(
                    "more than {MAX_DEPTH} cross-origin frames inside one another"
                )))
            } else {
                frame_snapshot(ctx, iframe_ref, max).await
            };
            match inner {
                Ok(inner) if !inner.trim().is_empty() => {
                    let inner = if inner.contains(" [frame=") {
                        fill_snapshot_at(ctx, &inner, max, depth + 1).await
                    } else {
                        inner
                    };
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
    })
}

async fn frame_snapshot(
    ctx: &Ctx<'_>,
    iframe_ref: &str,
    max: usize,
) -> Result<String, CommandError> {
    let frame = frame_for(ctx, iframe_ref).await?;
    let place = Place::Frame(frame);
    let answer = direct(ctx, &place, "snapshot", &json!({ "max": max })).await?;
    if state(&answer) != "ok" {
        return Err(frame_error(format!("snapshot: {}", answer["state"])));
    }
    Ok(answer["snapshot"].as_str().unwrap_or_default().to_string())
}

/// Fills the cross-origin frames of a viewport DOM in: each placeholder (`{frame, selector}`,
/// after its `<iframe>`'s own entry) becomes the frame's visible elements (and those of the
/// frames inside it), their boxes in the page's viewport and their selectors a `>>>` path from
/// the page. At most `limit` elements in all.
pub(super) async fn fill_viewport_dom(ctx: &Ctx<'_>, answer: &mut Value, limit: usize) {
    let Some(elements) = answer["elements"].as_array() else {
        return;
    };
    if !elements.iter().any(|e| e.get("frame").is_some()) {
        return;
    }
    let n = |v: &Value| v.as_f64().unwrap_or(0.0);
    let view = (
        n(&answer["viewport"]["width"]),
        n(&answer["viewport"]["height"]),
    );
    let mut out = Vec::new();
    for e in elements.clone() {
        match e["frame"].as_str() {
            Some(iframe_ref) => {
                let prefix = e["selector"].as_str().unwrap_or_default();
                expand_frame(ctx, iframe_ref, prefix, limit, view, 1, &mut out).await;
            }
            None => out.push(e),
        }
    }
    if out.len() > limit {
        out.truncate(limit);
        answer["truncated"] = json!(true);
    }
    answer["elements"] = Value::Array(out);
}

fn expand_frame<'a>(
    ctx: &'a Ctx<'a>,
    iframe_ref: &'a str,
    prefix: &'a str,
    limit: usize,
    view: (f64, f64),
    depth: usize,
    out: &'a mut Vec<Value>,
) -> BoxFuture<'a, ()> {
    Box::pin(async move {
        if depth > MAX_DEPTH || out.len() >= limit {
            return;
        }
        let Ok(frame) = frame_for(ctx, iframe_ref).await else {
            return;
        };
        let place = Place::Frame(frame.clone());
        let Ok(inner) = direct(ctx, &place, "viewport_dom", &json!({ "limit": limit })).await
        else {
            return;
        };
        let Ok(Origin::At { x, y, .. }) = origin_in_page(ctx, &frame, None, true).await else {
            return;
        };
        let n = |v: &Value| v.as_f64().unwrap_or(0.0);
        for mut e in inner["elements"].as_array().cloned().unwrap_or_default() {
            let selector = format!(
                "{prefix} >>> {}",
                e["selector"].as_str().unwrap_or_default()
            );
            if let Some(nested) = e["frame"].as_str() {
                expand_frame(ctx, nested, &selector, limit, view, depth + 1, out).await;
                continue;
            }
            let b = &e["box"];
            let (left, top, width, height) = (n(&b[0]) + x, n(&b[1]) + y, n(&b[2]), n(&b[3]));
            let b = b.clone();
            // In the page's viewport too, not only the frame's.
            if left + width <= 0.0 || top + height <= 0.0 || left >= view.0 || top >= view.1 {
                continue;
            }
            e["box"] = json!([left.round() as i64, top.round() as i64, b[2], b[3]]);
            e["selector"] = json!(selector);
            out.push(e);
        }
    })
}
