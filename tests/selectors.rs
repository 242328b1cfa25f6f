//! The selector engine (src/browser/page_helpers.js) reaching where users need it: text
//! selectors, open shadow roots, and same-origin frames by `>>>` path and by snapshot ref.
//! Real Chromium, fixture pages on loopback, the shared browser instance.

mod common;
use browser_control::task::ErrorCode;
use common::*;
use serde_json::{json, Value};

fn click(selector: &str) -> Value {
    interact(json!({"action": "click", "selector": selector}))
}
fn click_ref(reference: &str) -> Value {
    interact(json!({"action": "click", "ref": reference}))
}
fn type_in(selector: &str, text: &str) -> Value {
    interact(json!({"action": "type", "selector": selector, "text": text}))
}
fn get_text(selector: &str) -> Value {
    content(json!({"action": "get_text", "selector": selector}))
}
fn snapshot() -> Value {
    content(json!({"action": "snapshot"}))
}

#[test]
fn text_selectors_exact_substring_and_has_text() {
    block_on(async {
        let t = run(
            "text selectors",
            vec![
                goto("selectors.html"),
                // Substring, case-insensitive: the first button whose text contains it.
                click("text=sign IN"),
                get_text("#status"),
                // Quoted: the whole text, whitespace squashed, case kept.
                click("text=\"Sign in\""),
                get_text("#status"),
                // The icon's text is part of the button's.
                click("text='G Sign in with Google'"),
                get_text("#status"),
                // :has-text on the element itself, and on an ancestor of the target.
                click("button:has-text(\"delete\")"),
                get_text("#status"),
                click(".row:has-text('Draft') button"),
                get_text("#status"),
                // A regular expression; the deepest element holding the text.
                get_text("text=/^final$/i"),
                content(json!({"action": "query", "selector": "button:has-text(\"sign in\")"})),
                nav(
                    json!({"action": "wait_for", "selector": "text=Shadow login", "timeout": 3000}),
                ),
            ],
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 2), "google");
        assert!(
            text_of(&t, 3).contains("button#signin"),
            "{}",
            text_of(&t, 3)
        );
        assert_eq!(text_of(&t, 4), "signin");
        assert_eq!(text_of(&t, 6), "google");
        assert_eq!(text_of(&t, 8), "delete");
        assert_eq!(text_of(&t, 10), "save");
        assert_eq!(text_of(&t, 11), "Final");
        let query: Value = serde_json::from_str(&text_of(&t, 12)).unwrap();
        assert_eq!(query["count"], 2, "{query}");

        // Text that is nowhere is waited for, then a timeout naming the selector; a quoted text
        // does not match a longer one.
        let t = run(
            "text missing",
            vec![
                goto("selectors.html"),
                interact(json!({"action": "click", "selector": "text=\"Sign\"", "timeout": 600})),
            ],
        )
        .await;
        let e = error_of(&t, 1);
        assert_eq!(e.code, ErrorCode::CommandTimeout, "{e}");
        assert!(e.message.contains("text=\"Sign\""), "{e}");
    });
}

#[test]
fn shadow_dom_input_is_typed_into() {
    block_on(async {
        let t = run(
            "shadow",
            vec![
                goto("selectors.html"),
                // A plain CSS selector reaches into the open shadow root.
                type_in("#shadow-user", "ada"),
                click("#shadow-go"),
                get_text("#shadow-out"),
                // The explicit path: host >>> inside.
                type_in("login-box >>> input", " lovelace"),
                click("login-box >>> text=Go"),
                get_text("#shadow-out"),
                snapshot(),
                content(json!({"action": "get_viewport_dom"})),
                // A selector path through the shadow root that matches nothing is missing.
                interact(
                    json!({"action": "click", "selector": "login-box >>> #nope", "timeout": 500}),
                ),
            ],
        )
        .await;
        assert_eq!(text_of(&t, 3), "ada");
        assert_eq!(text_of(&t, 6), "ada lovelace");
        let snap = text_of(&t, 7);
        assert!(snap.contains("textbox \"User name\" [ref="), "{snap}");
        assert!(snap.contains("button \"Go\" [ref="), "{snap}");
        // Slotted light-DOM content shows where the slot renders it.
        assert!(snap.contains("Shadow login"), "{snap}");
        let dom: Value = serde_json::from_str(&text_of(&t, 8)).unwrap();
        let go = dom["elements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["text"] == "Go")
            .unwrap_or_else(|| panic!("{dom}"));
        assert!(go["selector"].as_str().unwrap().contains(" >>> "), "{go}");
        assert_eq!(error_of(&t, 9).code, ErrorCode::CommandTimeout);
    });
}

#[test]
fn same_origin_frame_by_path() {
    block_on(async {
        let t = run(
            "frame path",
            vec![
                goto("frames.html"),
                type_in("#pay >>> #card", "4242"),
                click("iframe#pay >>> text=Pay now"),
                get_text("#pay >>> #pay-status"),
                content(json!({"action": "get_viewport_dom"})),
                content(json!({"action": "screenshot", "selector": "#pay >>> #pay-btn"})),
                interact(json!({"action": "select", "selector": "#pay >>> #plan", "label": "Yearly"})),
                execute("return document.getElementById('pay').contentDocument.getElementById('plan').value"),
                interact(json!({"action": "select", "selector": "#pay >>> select", "value": "m"})),
                execute("return document.getElementById('pay').contentDocument.getElementById('plan').value"),
                // Without the path, the frame's button is not the page's.
                interact(json!({"action": "click", "selector": "#pay-btn", "timeout": 500})),
            ],
        )
        .await;
        assert!(
            text_of(&t, 2).contains("button#pay-btn in iframe#pay"),
            "{}",
            text_of(&t, 2)
        );
        assert_eq!(text_of(&t, 3), "paid 4242");
        let dom: Value = serde_json::from_str(&text_of(&t, 4)).unwrap();
        let pay = dom["elements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["text"] == "Pay now")
            .unwrap_or_else(|| panic!("{dom}"));
        assert_eq!(pay["selector"], "#pay >>> #pay-btn", "{pay}");
        // In top-level coordinates: below the frame's top edge, not at the frame's own origin.
        assert!(pay["box"][1].as_i64().unwrap() > 100, "{pay}");
        let (w, h) = png_size(&image_of(&t, 5));
        assert!(w > 20 && h > 10 && w < 300, "{w}x{h}");
        assert!(text_of(&t, 6).contains("select#plan"), "{}", text_of(&t, 6));
        assert_eq!(text_of(&t, 7), "\"y\"");
        assert_eq!(text_of(&t, 9), "\"m\"");
        assert_eq!(error_of(&t, 10).code, ErrorCode::CommandTimeout);
    });
}

#[test]
fn same_origin_frame_by_ref_from_a_snapshot() {
    block_on(async {
        // A new document starts its refs afresh: e1 is the outer button, e2 and e3 the frame's
        // input and button. One task, so no other test's goto comes in between.
        let t = run(
            "frame ref",
            vec![
                goto("frames.html"),
                snapshot(),
                interact(json!({"action": "type", "ref": "e2", "text": "99"})),
                click_ref("e3"),
                get_text("#pay >>> #pay-status"),
            ],
        )
        .await;
        let snap = text_of(&t, 1);
        assert!(snap.contains("iframe \"Payment\""), "{snap}");
        assert!(snap.contains("textbox \"Card\" [ref=e2]"), "{snap}");
        assert!(snap.contains("button \"Pay now\" [ref=e3]"), "{snap}");
        assert_completed(&t);
        assert_eq!(text_of(&t, 4), "paid 99");
    });
}

/// A frame from another origin (localhost vs 127.0.0.1: its own renderer process) is in the
/// snapshot, its elements get refs (numbered from e1000001, the first such frame's block), and
/// those refs are typed into and clicked. A `>>>` path cannot enter it.
#[test]
fn cross_origin_frame_by_ref_from_a_snapshot() {
    block_on(async {
        let t = run(
            "cross-origin frame",
            vec![
                goto("frames-cross.html"),
                snapshot(),
                interact(json!({"action": "type", "ref": "e1000001", "text": "77"})),
                click_ref("e1000002"),
                snapshot(),
                content(json!({"action": "screenshot", "ref": "e1000002"})),
                content(json!({"action": "get_text", "ref": "e1000002"})),
                interact(
                    json!({"action": "click", "selector": "#other >>> #pay-btn", "timeout": 2000}),
                ),
            ],
        )
        .await;
        let snap = text_of(&t, 1);
        assert!(snap.contains("iframe \"Other origin\""), "{snap}");
        assert!(snap.contains("textbox \"Card\" [ref=e1000001]"), "{snap}");
        assert!(snap.contains("button \"Pay now\" [ref=e1000002]"), "{snap}");
        assert!(
            text_of(&t, 3).contains("button#pay-btn"),
            "{}",
            text_of(&t, 3)
        );
        let after = text_of(&t, 4);
        assert!(after.contains("paid 77"), "{after}");
        let (w, h) = png_size(&image_of(&t, 5));
        assert!(w > 20 && h > 10 && w < 300, "{w}x{h}");
        assert_eq!(text_of(&t, 6), "Pay now");
        let e = error_of(&t, 7);
        assert_eq!(e.code, ErrorCode::ExecutionError, "{e}");
        assert!(e.message.contains("cross-origin"), "{e}");
    });
}
