//! Closed shadow roots. No script can reach into one (that is what closed means), so the
//! selector engine gets them from CDP: `DOM.describeNode` with `pierce` lists every shadow root
//! of a document, closed ones included, and `DOM.resolveNode` turns each into a handle in the
//! helpers' isolated world, where page_helpers.js keeps them (`closed_roots`) and searches,
//! snapshots and hit-tests them as it does open ones.
//!
//! Describing a whole document costs about 35 µs per node here (110 ms for a page of 3,000
//! elements, about as much as a snapshot of it), so it is not done on every lookup. Two scripts
//! added to each page tell the helpers when it is worth it: one in the page's world wraps
//! `Element.prototype.attachShadow` (a Proxy of the native function: same name, length and
//! behaviour; only its source text reads `function () { [native code] }`) and, when a closed
//! root is made, fires an event with an unguessable name at its document; one in the isolated
//! world counts those events. The helpers compare the count with the one at their last scan,
//! and ask for a scan (`scan_closed`) before a lookup, snapshot or query only when it moved.
//! A lookup that finds nothing in a document never scanned asks too (closed roots declared in
//! HTML, `<template shadowrootmode="closed">`, are made by the parser, not by attachShadow).
//! An ordinary page thus pays nothing, and a page with closed roots one scan per change.
//!
//! Each describe call is limited to 24 levels of the tree (deeper parts are described from
//! where it stopped), so its JSON never nests past serde_json's limit of 128: chromiumoxide
//! would drop an answer it cannot parse, leaving the call to hang.

use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::LazyLock;
use std::time::Duration;

use chromiumoxide::Page;
use serde_json::{json, Value};

use super::executor::RawCommand;
use crate::task::CommandError;

/// chromiumoxide's isolated world (`handler::frame::UTILITY_WORLD_NAME`, not exported): the
/// page helpers' world, where the counting script must run.
const UTILITY_WORLD: &str = "__chromiumoxide_utility_world__";
/// Levels of the tree per `DOM.describeNode` (each level nests the JSON at most 4 deep:
/// children, shadow roots, frame documents).
const DESCRIBE_DEPTH: i64 = 24;
/// Describe calls per scan, and closed roots taken, at most.
const MAX_DESCRIBES: usize = 500;
const MAX_ROOTS: usize = 2000;
/// How long one scan may take before the lookup goes on without it.
const SCAN_BUDGET: Duration = Duration::from_secs(5);
/// Where the resolved roots are kept until the helpers hold them.
const GROUP: &str = "browser_control_closed_roots";

/// The event the page's world fires when a closed root is made: unguessable, so a page can
/// neither listen for it nor fire it.
static SIGNAL_EVENT: LazyLock<String> = LazyLock::new(|| {
    let random = RandomState::new().build_hasher().finish();
    format!("browser-control-closed-{random:016x}")
});

/// Adds the two counting scripts to a page (for its next documents, and its current one).
pub async fn install(page: &Page) -> Result<(), chromiumoxide::error::CdpError> {
    for params in scripts(UTILITY_WORLD) {
        page.execute(RawCommand {
            method: "Page.addScriptToEvaluateOnNewDocument",
            params,
        })
        .await?;
    }
    Ok(())
}

/// The parameters of the two `Page.addScriptToEvaluateOnNewDocument` calls that make a page
/// (or a cross-origin frame's target) count its closed roots, for the helpers in isolated world
/// `world`. Also run in the document already there (`runImmediately`), whose closed roots made
/// before are not counted: its holder says so (`late`), and the helpers then scan it once.
pub(super) fn scripts(world: &str) -> [Value; 2] {
    let name = Value::from(SIGNAL_EVENT.as_str());
    // The page's world: the native attachShadow, wrapped. Everything it uses is taken before
    // the page's own scripts run, so a page redefining dispatchEvent, Reflect or the `mode`
    // getter changes nothing.
    let page_world = format!(
        "(() => {{ const E = globalThis.Element, S = globalThis.ShadowRoot; if (!E || !S) return; \
         const d = Object.getOwnPropertyDescriptor(E.prototype, 'attachShadow'); \
         const m = Object.getOwnPropertyDescriptor(S.prototype, 'mode'); \
         if (!d || typeof d.value !== 'function' || !m || !m.get) return; \
         const mode = m.get, apply = Reflect.apply, fire = EventTarget.prototype.dispatchEvent; \
         const Ev = Event, doc = document, name = {name}; \
         Object.defineProperty(E.prototype, 'attachShadow', {{ ...d, value: new Proxy(d.value, {{ \
           apply(target, self, args) {{ const root = apply(target, self, args); \
             try {{ if (apply(mode, root, []) === 'closed') apply(fire, doc, [new Ev(name)]); }} catch (_) {{}} \
             return root; }} }}) }}); }})()"
    );
    // The helpers' world: counts them, for this document and its same-origin ancestors (whose
    // scans take in this frame's document too).
    let isolated = format!(
        "(() => {{ const key = Symbol.for('browser_control.closed_roots'); \
         if (globalThis[key]) return; \
         globalThis[key] = {{ count: 0, late: document.readyState !== 'loading' }}; \
         document.addEventListener({name}, () => {{ \
           for (let w = window; ; w = w.parent) {{ \
             try {{ const h = w[key]; if (h && typeof h.count === 'number') h.count++; }} catch (_) {{ break; }} \
             if (w === w.parent) break; }} }}, true); }})()"
    );
    [
        json!({ "source": page_world, "runImmediately": true }),
        json!({ "source": isolated, "runImmediately": true, "worldName": world }),
    ]
}

/// Finds the closed shadow roots of the document of the isolated world `context` and hands
/// them to the helpers there (`helpers`: where they are kept, as JavaScript), through `cdp`
/// (the page's session or a frame's). `signal` is the count the helpers saw. Returns how many
/// roots the helpers did not know yet; a scan that fails or runs out of time finds none.
pub(super) async fn scan<F, Fut>(cdp: F, context: i64, helpers: &str, signal: i64) -> usize
where
    F: Fn(&'static str, Value) -> Fut,
    Fut: Future<Output = Result<Value, CommandError>>,
{
    let work = async {
        let document = cdp(
            "Runtime.evaluate",
            json!({ "expression": "document", "contextId": context, "objectGroup": GROUP }),
        )
        .await
        .ok()?;
        let document = document["result"]["objectId"].as_str()?.to_string();
        let mut roots = Vec::new();
        let mut seen = HashSet::new();
        let mut next = vec![json!({ "objectId": document })];
        let mut calls = 0;
        while let Some(mut at) = next.pop() {
            calls += 1;
            if calls > MAX_DESCRIBES || roots.len() >= MAX_ROOTS {
                break;
            }
            at["depth"] = json!(DESCRIBE_DEPTH);
            at["pierce"] = json!(true);
            let Ok(described) = cdp("DOM.describeNode", at).await else {
                continue;
            };
            closed_roots(&described["node"], &mut roots, &mut seen, &mut next);
        }
        let mut handles = Vec::new();
        for root in roots.iter().take(MAX_ROOTS) {
            let resolved = cdp(
                "DOM.resolveNode",
                json!({ "backendNodeId": root, "executionContextId": context, "objectGroup": GROUP }),
            )
            .await;
            if let Some(id) = resolved
                .ok()
                .and_then(|r| r["object"]["objectId"].as_str().map(String::from))
            {
                handles.push(json!({ "objectId": id }));
            }
        }
        let registered = cdp(
            "Runtime.callFunctionOn",
            json!({
                "functionDeclaration": format!(
                    "function (...roots) {{ const h = {helpers}; \
                     return h ? h('closed_roots', {{ signal: {signal} }}, roots) : null; }}"
                ),
                "executionContextId": context,
                "arguments": handles,
                "returnByValue": true,
                "awaitPromise": true,
            }),
        )
        .await;
        Some(
            registered
                .ok()
                .and_then(|r| r["result"]["value"]["added"].as_u64())
                .unwrap_or(0) as usize,
        )
    };
    let added = tokio::time::timeout(SCAN_BUDGET, work).await.ok().flatten();
    let _ = cdp(
        "Runtime.releaseObjectGroup",
        json!({ "objectGroup": GROUP }),
    )
    .await;
    added.unwrap_or(0)
}

/// The closed shadow roots in a described node (backend ids), and where the description
/// stopped short of a node's children (to describe from there).
fn closed_roots(
    node: &Value,
    roots: &mut Vec<i64>,
    seen: &mut HashSet<i64>,
    next: &mut Vec<Value>,
) {
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        let id = n["backendNodeId"].as_i64();
        match n["shadowRootType"].as_str() {
            // The browser's own (inputs, media): never the page's content.
            Some("user-agent") => continue,
            Some("closed") => {
                if let Some(id) = id.filter(|id| seen.insert(*id)) {
                    roots.push(id);
                }
            }
            _ => {}
        }
        let children = n["children"].as_array();
        if children.is_none() && n["childNodeCount"].as_i64().unwrap_or(0) > 0 {
            if let Some(id) = id {
                next.push(json!({ "backendNodeId": id }));
            }
        }
        stack.extend(children.into_iter().flatten());
        stack.extend(n["shadowRoots"].as_array().into_iter().flatten());
        if n["contentDocument"].is_object() {
            stack.push(&n["contentDocument"]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_closed_roots_and_where_to_go_on() {
        let node = json!({
            "backendNodeId": 1, "nodeType": 9, "childNodeCount": 1, "children": [
                { "backendNodeId": 2, "childNodeCount": 2, "children": [
                    { "backendNodeId": 3, "childNodeCount": 0, "shadowRoots": [
                        { "backendNodeId": 4, "shadowRootType": "closed", "childNodeCount": 1, "children": [
                            { "backendNodeId": 5, "childNodeCount": 0, "shadowRoots": [
                                { "backendNodeId": 6, "shadowRootType": "closed", "childNodeCount": 0 }
                            ] }
                        ] }
                    ] },
                    { "backendNodeId": 7, "childNodeCount": 3, "shadowRoots": [
                        { "backendNodeId": 8, "shadowRootType": "open", "childNodeCount": 0 }
                    ] },
                    { "backendNodeId": 9, "childNodeCount": 0, "shadowRoots": [
                        { "backendNodeId": 10, "shadowRootType": "user-agent", "childNodeCount": 2 }
                    ] },
                    { "backendNodeId": 11, "nodeName": "IFRAME", "contentDocument":
                        { "backendNodeId": 12, "childNodeCount": 1, "children": [
                            { "backendNodeId": 13, "shadowRoots": [
                                { "backendNodeId": 14, "shadowRootType": "closed", "childNodeCount": 0 }
                            ] }
                        ] }
                    }
                ] }
            ]
        });
        let (mut roots, mut seen, mut next) = (Vec::new(), HashSet::new(), Vec::new());
        closed_roots(&node, &mut roots, &mut seen, &mut next);
        roots.sort();
        assert_eq!(roots, vec![4, 6, 14]);
        // Node 7 has children the description did not reach; the user-agent root is skipped.
        assert_eq!(next, vec![json!({ "backendNodeId": 7 })]);
        // A root met again (described from a continuation) is taken once.
        closed_roots(&node, &mut roots, &mut seen, &mut Vec::new());
        assert_eq!(roots.len(), 3);
    }
}
