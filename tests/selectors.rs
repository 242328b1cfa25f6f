//! The selector engine (src/browser/page_helpers.js) reaching where users need it: text
//! selectors, open and closed shadow roots, same-origin frames and cross-origin frames (nested
//! ones too) by `>>>` path and by snapshot ref. Real Chromium, fixture pages on loopback (a
//! cross-origin frame is the same server under `localhost` instead of `127.0.0.1`: another
//! site, so its own renderer process), the shared browser instance, or a private one where
//! refs from one task's snapshot are used by the next task.

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
fn viewport_dom() -> Value {
    content(json!({"action": "get_viewport_dom"}))
}

/// The ref on the first snapshot line containing `needle` (`e1000002`).
fn ref_of(snapshot: &str, needle: &str) -> String {
    let line = snapshot
        .lines()
        .find(|l| l.contains(needle) && l.contains("[ref="))
        .unwrap_or_else(|| panic!("no line with {needle:?} and a ref in:\n{snapshot}"));
    let start = line.find("[ref=").unwrap() + 5;
    line[start..].split(']').next().unwrap().to_string()
}

/// The viewport DOM's element whose text is `text`.
fn dom_element(dom: &Value, text: &str) -> Value {
    dom["elements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["text"] == text)
        .unwrap_or_else(|| panic!("no {text:?} in {dom}"))
        .clone()
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
                // The explicit path: host >>> inside (typing replaces the field's content).
                type_in("login-box >>> input", "ada lovelace"),
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
/// snapshot, its elements get refs (numbered in a block of their own, from e1000001 for the
/// first such frame of the process), and those refs are typed into, clicked, read and
/// screenshotted. A private browser: the refs of the first task are used by the second.
#[test]
fn cross_origin_frame_by_ref_from_a_snapshot() {
    block_on(async {
        let (scheduler, _permit) = private_scheduler().await;
        let t = run_on(
            &scheduler,
            task(
                "cross-origin snapshot",
                vec![goto("frames-cross.html"), snapshot()],
            ),
        )
        .await;
        let snap = text_of(&t, 1);
        assert!(snap.contains("iframe \"Other origin\""), "{snap}");
        assert!(!snap.contains("not included"), "{snap}");
        let card = ref_of(&snap, "textbox \"Card\"");
        let pay = ref_of(&snap, "button \"Pay now\"");
        assert!(
            card.len() >= 8 && card.ends_with("000001"),
            "{card}: its own block"
        );
        let t = run_on(
            &scheduler,
            task(
                "cross-origin refs",
                vec![
                    interact(json!({"action": "type", "ref": card, "text": "77"})),
                    click_ref(&pay),
                    snapshot(),
                    content(json!({"action": "screenshot", "ref": pay})),
                    content(json!({"action": "get_text", "ref": pay})),
                    interact(json!({"action": "hover", "ref": pay})),
                ],
            ),
        )
        .await;
        assert_completed(&t);
        let clicked = text_of(&t, 1);
        assert!(
            clicked.contains("button#pay-btn in iframe#other"),
            "{clicked}"
        );
        let after = text_of(&t, 2);
        assert!(after.contains("paid 77"), "{after}");
        let (w, h) = png_size(&image_of(&t, 3));
        assert!(w > 20 && h > 10 && w < 300, "{w}x{h}");
        assert_eq!(text_of(&t, 4), "Pay now");
    });
}

/// A `>>>` path enters a cross-origin frame for every action that takes a selector: the part
/// after `>>>` is looked for in the frame's own process.
#[test]
fn cross_origin_frame_by_path() {
    block_on(async {
        let t = run(
            "cross-origin path",
            vec![
                goto("frames-cross.html"),
                nav(json!({"action": "wait_for", "selector": "#other >>> #pay-btn", "timeout": 5000})),
                type_in("#other >>> #card", "1111"),
                // Typing replaces the content, in a frame too.
                type_in("iframe#other >>> input", "55"),
                click("iframe#other >>> text=Pay now"),
                get_text("#other >>> #pay-status"),
                interact(json!({"action": "hover", "selector": "#other >>> button:has-text('Pay')"})),
                content(json!({"action": "attribute", "selector": "#other >>> #card", "name": "id"})),
                content(json!({"action": "query", "selector": "#other >>> button"})),
                content(json!({"action": "get_html", "selector": "#other >>> #pay-btn"})),
                content(json!({"action": "screenshot", "selector": "#other >>> #pay-btn"})),
                interact(json!({"action": "select", "selector": "#other >>> #plan", "label": "Yearly"})),
                get_text("#other >>> #plan"),
                interact(json!({"action": "select", "selector": "#other >>> #plan", "value": "m"})),
                get_text("#other >>> #plan"),
                viewport_dom(),
                content(json!({"action": "snapshot", "selector": "#other >>> body"})),
                // What the frame does not have is waited for, then a timeout naming the path.
                interact(json!({"action": "click", "selector": "#other >>> #nope", "timeout": 800})),
            ],
        )
        .await;
        assert!(text_of(&t, 1).contains("is visible"), "{}", text_of(&t, 1));
        assert!(
            text_of(&t, 4).contains("button#pay-btn in iframe#other"),
            "{}",
            text_of(&t, 4)
        );
        assert_eq!(text_of(&t, 5), "paid 55");
        assert!(
            text_of(&t, 6).contains("in iframe#other"),
            "{}",
            text_of(&t, 6)
        );
        assert_eq!(text_of(&t, 7), "\"card\"");
        let query: Value = serde_json::from_str(&text_of(&t, 8)).unwrap();
        assert_eq!(query["count"], 1, "{query}");
        assert!(
            text_of(&t, 9).starts_with("<button id=\"pay-btn\""),
            "{}",
            text_of(&t, 9)
        );
        let (w, h) = png_size(&image_of(&t, 10));
        assert!(w > 20 && h > 10 && w < 300, "{w}x{h}");
        assert!(
            text_of(&t, 11).contains("select#plan in iframe#other"),
            "{}",
            text_of(&t, 11)
        );
        assert_eq!(text_of(&t, 12), "y");
        assert_eq!(text_of(&t, 14), "m");
        let dom: Value = serde_json::from_str(&text_of(&t, 15)).unwrap();
        let pay = dom_element(&dom, "Pay now");
        assert_eq!(pay["selector"], "#other >>> #pay-btn", "{pay}");
        let frame = dom["elements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["tag"] == "iframe")
            .unwrap_or_else(|| panic!("{dom}"))
            .clone();
        // In the page's viewport: inside the frame's box, not at the frame's own origin.
        let (fx, fy) = (
            frame["box"][0].as_i64().unwrap(),
            frame["box"][1].as_i64().unwrap(),
        );
        let (px, py) = (
            pay["box"][0].as_i64().unwrap(),
            pay["box"][1].as_i64().unwrap(),
        );
        assert!(px > fx && py > fy, "{pay} in {frame}");
        let part = text_of(&t, 16);
        assert!(part.contains("button \"Pay now\" [ref=e"), "{part}");
        let e = error_of(&t, 17);
        assert_eq!(e.code, ErrorCode::CommandTimeout, "{e}");
        assert!(e.message.contains("#other >>> #nope"), "{e}");
    });
}

/// upload, select (by value, label and index) and scroll inside a cross-origin frame, by path
/// and by ref.
#[test]
fn cross_origin_frame_upload_select_scroll() {
    block_on(async {
        let sample = project_root().join("fixtures/site/files/sample.txt");
        let sample = sample.to_str().unwrap();
        let size = std::fs::metadata(sample).unwrap().len();
        let (scheduler, _permit) = private_scheduler().await;
        let t = run_on(
            &scheduler,
            task(
                "cross-origin tools by path",
                vec![
                    goto("frames-cross-tools.html"),
                    interact(json!({"action": "upload", "selector": "#tools >>> #file", "files": [sample]})),
                    get_text("#tools >>> #file-out"),
                    interact(json!({"action": "select", "selector": "#tools >>> #plan", "index": 2})),
                    get_text("#tools >>> #plan-out"),
                    interact(json!({"action": "select", "selector": "#tools >>> #plan", "label": "Yearly"})),
                    get_text("#tools >>> #plan-out"),
                    interact(json!({"action": "select", "selector": "#tools >>> #plan", "value": "m"})),
                    get_text("#tools >>> #plan-out"),
                    interact(json!({"action": "scroll", "selector": "#tools >>> #box", "deltaY": 200})),
                    get_text("#tools >>> #box-out"),
                    snapshot(),
                ],
            ),
        )
        .await;
        assert_completed(&t);
        assert!(
            text_of(&t, 1).contains("input#file in iframe#tools"),
            "{}",
            text_of(&t, 1)
        );
        assert_eq!(text_of(&t, 2), format!("sample.txt:{size}"));
        assert!(
            text_of(&t, 3).contains("\"Lifetime\" (value \"l\", index 2)"),
            "{}",
            text_of(&t, 3)
        );
        assert_eq!(text_of(&t, 4), "change:l");
        assert_eq!(text_of(&t, 6), "change:y");
        assert_eq!(text_of(&t, 8), "change:m");
        let scrolled = text_of(&t, 9);
        assert!(scrolled.contains("div#box in iframe#tools"), "{scrolled}");
        assert!(scrolled.contains("it is now at x=0, y=200"), "{scrolled}");
        assert_eq!(text_of(&t, 10), "200");
        let snap = text_of(&t, 11);
        let file = ref_of(&snap, "\"Attachment\"");
        let plan = ref_of(&snap, "combobox \"Plan\"");
        let t = run_on(
            &scheduler,
            task(
                "cross-origin tools by ref",
                vec![
                    interact(json!({"action": "upload", "ref": file, "files": [sample, sample]})),
                    interact(json!({"action": "select", "ref": plan, "label": "Lifetime"})),
                    get_text("#tools >>> #plan-out"),
                    interact(json!({"action": "select", "ref": plan, "index": 1})),
                    get_text("#tools >>> #plan-out"),
                    interact(json!({"action": "upload", "ref": file, "files": [sample]})),
                    get_text("#tools >>> #file-out"),
                ],
            ),
        )
        .await;
        // Two files into a single-file input is refused, naming it.
        let e = error_of(&t, 0);
        assert!(e.message.contains("input#file in iframe#tools"), "{e}");
        assert!(e.message.contains("takes one file"), "{e}");
        let t = run_on(
            &scheduler,
            task(
                "cross-origin tools by ref, again",
                vec![
                    interact(json!({"action": "select", "ref": plan, "label": "Lifetime"})),
                    get_text("#tools >>> #plan-out"),
                    interact(json!({"action": "select", "ref": plan, "index": 1})),
                    get_text("#tools >>> #plan-out"),
                    interact(json!({"action": "upload", "ref": file, "files": [sample]})),
                    get_text("#tools >>> #file-out"),
                    snapshot(),
                ],
            ),
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 1), "change:l");
        assert_eq!(text_of(&t, 3), "change:y");
        assert_eq!(text_of(&t, 5), format!("sample.txt:{size}"));
        let snap = text_of(&t, 6);
        let scroll_box = ref_of(&snap, "region \"Scroll box\"");
        let t = run_on(
            &scheduler,
            task(
                "cross-origin scroll by ref",
                vec![
                    interact(json!({"action": "scroll", "ref": scroll_box, "direction": "up", "amount": 150})),
                    get_text("#tools >>> #box-out"),
                ],
            ),
        )
        .await;
        assert_completed(&t);
        assert!(
            text_of(&t, 0).contains("it is now at x=0, y=50"),
            "{}",
            text_of(&t, 0)
        );
        assert_eq!(text_of(&t, 1), "50");
    });
}

/// A cross-origin frame inside a cross-origin frame (127.0.0.1 in localhost in 127.0.0.1):
/// walked in the snapshot and the viewport DOM, its elements acted on by ref and by path.
#[test]
fn nested_cross_origin_frames() {
    block_on(async {
        let (scheduler, _permit) = private_scheduler().await;
        let t = run_on(
            &scheduler,
            task(
                "nested frames",
                vec![
                    goto("frames-nested.html"),
                    nav(json!({"action": "wait_for", "selector": "#outer >>> #inner >>> #pay-btn", "timeout": 5000})),
                    snapshot(),
                    viewport_dom(),
                    type_in("#outer >>> #inner >>> #card", "42"),
                    click("#outer >>> #inner >>> text=Pay now"),
                    get_text("#outer >>> #inner >>> #pay-status"),
                    click("#outer >>> #outer-btn"),
                    get_text("#outer >>> #outer-out"),
                    content(json!({"action": "screenshot", "selector": "#outer >>> #inner >>> #pay-btn"})),
                ],
            ),
        )
        .await;
        assert_completed(&t);
        let snap = text_of(&t, 2);
        assert!(!snap.contains("not included"), "{snap}");
        assert!(snap.contains("iframe \"Outer\""), "{snap}");
        assert!(snap.contains("iframe \"Inner\""), "{snap}");
        let outer_btn = ref_of(&snap, "button \"Outer button\"");
        let card = ref_of(&snap, "textbox \"Card\"");
        let pay = ref_of(&snap, "button \"Pay now\"");
        // Each frame has its own block of refs.
        assert_ne!(&outer_btn[..2], &card[..2], "{outer_btn} {card}");
        // The inner frame's lines are indented below the outer frame's.
        let indent = |needle: &str| {
            let line = snap.lines().find(|l| l.contains(needle)).unwrap();
            line.len() - line.trim_start().len()
        };
        assert!(indent("Pay now") > indent("iframe \"Inner\""), "{snap}");
        assert!(
            indent("iframe \"Inner\"") > indent("iframe \"Outer\""),
            "{snap}"
        );
        let dom: Value = serde_json::from_str(&text_of(&t, 3)).unwrap();
        let dom_pay = dom_element(&dom, "Pay now");
        assert_eq!(
            dom_pay["selector"], "#outer >>> #inner >>> #pay-btn",
            "{dom_pay}"
        );
        let dom_outer = dom_element(&dom, "Outer button");
        assert_eq!(
            dom_outer["selector"], "#outer >>> #outer-btn",
            "{dom_outer}"
        );
        // The inner frame is below the outer frame's button, in page coordinates.
        assert!(
            dom_pay["box"][1].as_i64().unwrap() > dom_outer["box"][1].as_i64().unwrap() + 20,
            "{dom_pay} {dom_outer}"
        );
        assert!(
            text_of(&t, 5).contains("button#pay-btn in iframe#inner"),
            "{}",
            text_of(&t, 5)
        );
        assert_eq!(text_of(&t, 6), "paid 42");
        assert_eq!(text_of(&t, 8), "outer clicked");
        let (w, h) = png_size(&image_of(&t, 9));
        assert!(w > 20 && h > 10 && w < 300, "{w}x{h}");
        let t = run_on(
            &scheduler,
            task(
                "nested frames by ref",
                vec![
                    interact(json!({"action": "type", "ref": card, "text": "31"})),
                    click_ref(&pay),
                    get_text("#outer >>> #inner >>> #pay-status"),
                    content(json!({"action": "get_text", "ref": outer_btn})),
                ],
            ),
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 2), "paid 31");
        assert_eq!(text_of(&t, 3), "Outer button");
    });
}

/// Closed shadow roots (made by a script, declared in HTML, nested, and one made after the
/// load) are reached by CSS, text selectors and `>>>` paths, shown in snapshots with refs, and
/// listed in the viewport DOM.
#[test]
fn closed_shadow_roots_are_reached() {
    block_on(async {
        let (scheduler, _permit) = private_scheduler().await;
        let t = run_on(
            &scheduler,
            task(
                "closed roots",
                vec![
                    goto("closed-shadow.html"),
                    snapshot(),
                    type_in("#secret-input", "ada"),
                    click("text=Reveal"),
                    get_text("#out"),
                    click("#deep-btn"),
                    get_text("#out"),
                    click("#declared-btn"),
                    get_text("#out"),
                    click("secret-box >>> inner-box >>> button"),
                    get_text("#out"),
                    // Made 400 ms after the load: waited for, then clicked.
                    nav(json!({"action": "wait_for", "selector": "#late-btn", "timeout": 5000})),
                    click("text=Late"),
                    get_text("#out"),
                    content(json!({"action": "query", "selector": "button"})),
                    viewport_dom(),
                ],
            ),
        )
        .await;
        assert_completed(&t);
        let snap = text_of(&t, 1);
        assert!(snap.contains("textbox \"Secret\" [ref="), "{snap}");
        assert!(snap.contains("button \"Reveal\" [ref="), "{snap}");
        assert!(snap.contains("button \"Deep\" [ref="), "{snap}");
        assert!(snap.contains("button \"Declared\" [ref="), "{snap}");
        assert_eq!(text_of(&t, 4), "ada");
        assert_eq!(text_of(&t, 6), "deep");
        assert_eq!(text_of(&t, 8), "declared");
        assert_eq!(text_of(&t, 10), "deep");
        assert_eq!(text_of(&t, 13), "late");
        let query: Value = serde_json::from_str(&text_of(&t, 14)).unwrap();
        assert_eq!(query["count"], 4, "{query}");
        let dom: Value = serde_json::from_str(&text_of(&t, 15)).unwrap();
        let reveal = dom_element(&dom, "Reveal");
        let reveal_path = reveal["selector"].as_str().unwrap().to_string();
        assert!(reveal_path.contains(" >>> "), "{reveal}");
        let secret = ref_of(&snap, "textbox \"Secret\"");
        let deep = ref_of(&snap, "button \"Deep\"");
        let t = run_on(
            &scheduler,
            task(
                "closed roots by ref",
                vec![
                    interact(json!({"action": "type", "ref": secret, "text": "by ref"})),
                    click(&reveal_path),
                    get_text("#out"),
                    click_ref(&deep),
                    get_text("#out"),
                ],
            ),
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 2), "by ref");
        assert_eq!(text_of(&t, 4), "deep");
    });
}

/// A closed root declared in HTML is made by the parser, which no script hears of: the first
/// lookup that misses scans for it, and snapshots show it from then on.
#[test]
fn declared_closed_root_is_found_by_a_lookup() {
    block_on(async {
        let t = run(
            "declared closed root",
            vec![
                goto("closed-declared.html"),
                content(json!({"action": "get_text", "selector": "text=\"Declared\""})),
                content(json!({"action": "query", "selector": "#declared-btn"})),
                snapshot(),
                click("#declared-btn"),
                get_text("#out"),
            ],
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 1), "Declared");
        let query: Value = serde_json::from_str(&text_of(&t, 2)).unwrap();
        assert_eq!(query["count"], 1, "{query}");
        assert!(
            text_of(&t, 3).contains("button \"Declared\" [ref="),
            "{}",
            text_of(&t, 3)
        );
        assert_eq!(text_of(&t, 5), "declared");
    });
}

/// A tree far deeper than one CDP description reaches (300 elements, then 21 closed roots
/// inside one another): the scan goes on from where each description stopped, and no answer
/// is too deeply nested for the CDP client to read.
#[test]
fn closed_root_at_the_bottom_of_a_deep_tree() {
    block_on(async {
        let t = run(
            "deep closed root",
            vec![
                goto("closed-deep.html"),
                click("#bottom-btn"),
                get_text("#out"),
                snapshot(),
            ],
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 2), "bottom");
        assert!(
            text_of(&t, 3).contains("button \"Bottom\" [ref="),
            "{}",
            text_of(&t, 3)
        );
    });
}
