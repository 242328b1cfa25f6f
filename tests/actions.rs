//! Every action of every tool against the fixture pages, on the shared browser instance.
//! Each task starts with its own goto: the page is shared by all tests of this binary.

mod common;
use browser_control::task::{ErrorCode, TaskStatus};
use common::*;
use serde_json::{json, Value};

/// The JSON value an evaluate command returned.
fn value_of(task: &browser_control::task::Task, index: usize) -> Value {
    let text = text_of(task, index);
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("command {index} gave non-JSON {text:?}: {e}"))
}

fn wait_for(selector: &str, timeout: u64) -> Value {
    nav(json!({"action": "wait_for", "selector": selector, "timeout": timeout}))
}
fn get_text(selector: &str) -> Value {
    content(json!({"action": "get_text", "selector": selector}))
}
fn click(selector: &str) -> Value {
    interact(json!({"action": "click", "selector": selector}))
}
fn type_in(selector: &str, text: &str) -> Value {
    interact(json!({"action": "type", "selector": selector, "text": text}))
}
fn key(key: &str) -> Value {
    interact(json!({"action": "keyboard", "key": key}))
}

// ---------------------------------------------------------------- browser_navigate

#[test]
fn goto_reports_the_url_and_http_status() {
    block_on(async {
        let t = run(
            "goto",
            vec![goto("index.html"), goto("nope.html"), get_text("#title")],
        )
        .await;
        let ok = text_of(&t, 0);
        assert!(ok.contains(&url("index.html")), "{ok}");
        assert!(ok.contains("HTTP 200"), "{ok}");
        let missing = text_of(&t, 1);
        assert!(missing.contains(&url("nope.html")), "{missing}");
        assert!(missing.contains("HTTP 404"), "{missing}");
        // A 404 is a page like any other: the task goes on, and #title is not on it.
        assert_eq!(t.status, TaskStatus::Failed);
        assert_eq!(statuses(&t), ["success", "success", "error"]);
    });
}

#[test]
fn reload_resets_page_state() {
    block_on(async {
        let t = run(
            "reload",
            vec![
                goto("playground.html"),
                type_in("#text-input", "abc"),
                get_text("#typed"),
                nav(json!({"action": "reload"})),
                get_text("#typed"),
                execute("return document.getElementById('counter-btn').textContent"),
            ],
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 2), "abc");
        assert_eq!(
            text_of(&t, 3),
            format!("Reloaded {}", url("playground.html"))
        );
        assert_eq!(text_of(&t, 4), "");
        assert_eq!(value_of(&t, 5), "Clicked 0");
    });
}

#[test]
fn back_and_forward_walk_the_history() {
    block_on(async {
        let title = "return document.title";
        let t = run(
            "history",
            vec![
                goto("index.html"),
                goto("playground.html"),
                nav(json!({"action": "back"})),
                execute(title),
                nav(json!({"action": "forward"})),
                execute(title),
                nav(json!({"action": "back"})),
                get_text("#title"),
            ],
        )
        .await;
        assert_completed(&t);
        assert_eq!(
            text_of(&t, 2),
            format!("Went back to {}", url("index.html"))
        );
        assert_eq!(value_of(&t, 3), "Fixture Site");
        assert_eq!(
            text_of(&t, 4),
            format!("Went forward to {}", url("playground.html"))
        );
        assert_eq!(value_of(&t, 5), "Playground");
        assert_eq!(text_of(&t, 7), "Fixture Site");
    });
}

#[test]
fn wait_for_an_element_that_appears_later() {
    block_on(async {
        let t = run(
            "product",
            vec![
                goto("product.html"),
                nav(json!({"action": "wait_for", "selector": ".product-details"})),
                get_text(".product-title"),
                get_text(".product-price"),
            ],
        )
        .await;
        assert_completed(&t);
        let waited = text_of(&t, 1);
        assert!(
            waited.starts_with("'.product-details' is visible (div.product-details)"),
            "{waited}"
        );
        assert_eq!(text_of(&t, 2), "Mechanical Keyboard");
        assert_eq!(text_of(&t, 3), "$129.00");
    });
}

// ---------------------------------------------------------------- browser_interact

#[test]
fn click_twice_counts_two() {
    block_on(async {
        let t = run(
            "click",
            vec![
                goto("playground.html"),
                click("#counter-btn"),
                click("#counter-btn"),
                get_text("#counter-btn"),
            ],
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 1), "Clicked button#counter-btn");
        assert_eq!(text_of(&t, 3), "Clicked 2");
    });
}

#[test]
fn click_waits_for_a_moving_button_to_stop() {
    block_on(async {
        let t = run(
            "moving",
            vec![
                goto("moving.html"),
                click("#moving-btn"),
                get_text("#caught"),
                execute("return getComputedStyle(document.getElementById('moving-btn')).left"),
            ],
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 2), "caught");
        assert_eq!(
            value_of(&t, 3),
            "300px",
            "clicked after it stopped at its final place"
        );
    });
}

#[test]
fn hover_fires_mouseenter() {
    block_on(async {
        let t = run(
            "hover",
            vec![
                goto("playground.html"),
                get_text("#hover-status"),
                interact(json!({"action": "hover", "selector": "#hover-target"})),
                get_text("#hover-status"),
            ],
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 1), "idle");
        assert_eq!(text_of(&t, 2), "Hovered div#hover-target");
        assert_eq!(text_of(&t, 3), "hovered");
    });
}

#[test]
fn type_unicode_text_exactly() {
    block_on(async {
        let text = "Café 中文 🎉";
        let t = run(
            "unicode",
            vec![
                goto("playground.html"),
                type_in("#text-input", text),
                get_text("#typed"),
                get_text("#text-input"),
            ],
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 1), "Typed 9 characters into input#text-input");
        assert_eq!(text_of(&t, 2), text);
        assert_eq!(text_of(&t, 3), text);
    });
}

#[test]
fn type_appends_to_existing_text() {
    block_on(async {
        let t = run(
            "append",
            vec![
                goto("playground.html"),
                type_in("#text-input", "abc"),
                click("#counter-btn"),
                type_in("#text-input", "def"),
                get_text("#typed"),
            ],
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 4), "abcdef");
    });
}

#[test]
fn enter_submits_the_search() {
    block_on(async {
        let t = run(
            "search",
            vec![
                goto("search.html"),
                type_in("#searchInput", "rust lang"),
                key("Enter"),
                wait_for("#firstHeading", 10_000),
                get_text("#firstHeading"),
                execute("return location.pathname + location.search"),
            ],
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 2), "Pressed Enter");
        assert_eq!(text_of(&t, 4), "Results for rust lang");
        assert_eq!(value_of(&t, 5), "/results.html?q=rust%20lang");
    });
}

#[test]
fn key_names_are_case_insensitive() {
    block_on(async {
        let t = run(
            "enter lower-case",
            vec![
                goto("search.html"),
                type_in("#searchInput", "lower"),
                key("enter"),
                wait_for("#firstHeading", 10_000),
                get_text("#firstHeading"),
            ],
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 2), "Pressed Enter");
        assert_eq!(text_of(&t, 4), "Results for lower");
    });
}

#[test]
fn select_all_then_type_replaces_the_text() {
    block_on(async {
        let t = run(
            "select all",
            vec![
                goto("playground.html"),
                type_in("#text-input", "old text"),
                key("Control+A"),
                type_in("#text-input", "new"),
                get_text("#text-input"),
                get_text("#typed"),
            ],
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 2), "Pressed Control+A");
        assert_eq!(text_of(&t, 4), "new");
        assert_eq!(text_of(&t, 5), "new");
    });
}

#[test]
fn tab_moves_the_focus() {
    block_on(async {
        let active = "return document.activeElement.id";
        let t = run(
            "tab",
            vec![
                goto("playground.html"),
                type_in("#text-input", "x"),
                execute(active),
                key("Tab"),
                execute(active),
                key("Shift+Tab"),
                execute(active),
            ],
        )
        .await;
        assert_completed(&t);
        assert_eq!(value_of(&t, 2), "text-input");
        assert_eq!(value_of(&t, 4), "counter-btn");
        assert_eq!(value_of(&t, 6), "text-input");
    });
}

#[test]
fn named_keys_reach_the_page() {
    block_on(async {
        let t = run(
            "keys",
            vec![
                goto("playground.html"),
                key("Escape"),
                key("ArrowDown"),
                key("ESC"),
                get_text("#key-log"),
                execute("return scrollY"),
            ],
        )
        .await;
        assert_completed(&t);
        let log: Vec<String> = text_of(&t, 4).lines().map(String::from).collect();
        assert_eq!(log, ["Escape", "ArrowDown", "Escape"]);
        assert_eq!(value_of(&t, 5), 0, "a key press does not scroll");
    });
}

#[test]
fn scroll_in_every_direction() {
    block_on(async {
        let at = "return scrollX + ',' + scrollY";
        let scroll = |direction: &str, amount: Option<u32>| {
            let mut args = json!({"action": "scroll", "direction": direction});
            if let Some(a) = amount {
                args["amount"] = json!(a);
            }
            interact(args)
        };
        let t = run(
            "scroll",
            vec![
                goto("playground.html"),
                scroll("down", Some(300)),
                execute(at),
                scroll("up", Some(100)),
                execute(at),
                scroll("right", Some(250)),
                execute(at),
                scroll("left", Some(50)),
                execute(at),
                scroll("down", None),
                execute(at),
                get_text("#scroll-pos"),
                scroll("up", Some(100_000)),
                execute(at),
            ],
        )
        .await;
        assert_completed(&t);
        assert_eq!(
            text_of(&t, 1),
            "Scrolled down 300 px; the page is now at x=0, y=300"
        );
        assert_eq!(value_of(&t, 2), "0,300");
        assert_eq!(value_of(&t, 4), "0,200");
        assert_eq!(value_of(&t, 6), "250,200");
        assert_eq!(value_of(&t, 8), "200,200");
        assert_eq!(value_of(&t, 10), "200,700", "default amount is 500 px");
        assert_eq!(text_of(&t, 11), "200,700", "the page's scroll listener ran");
        assert_eq!(value_of(&t, 13), "200,0", "scrolling stops at the top");
    });
}

#[test]
fn select_by_value_and_by_label() {
    block_on(async {
        let select = |value: &str| {
            interact(json!({"action": "select", "selector": "#color", "value": value}))
        };
        let t = run(
            "select",
            vec![
                goto("playground.html"),
                select("g"),
                get_text("#color-value"),
                get_text("#events"),
                select("Blue"),
                get_text("#color-value"),
                get_text("#color"),
            ],
        )
        .await;
        assert_completed(&t);
        assert_eq!(
            text_of(&t, 1),
            "Selected \"Green\" (value \"g\") in select#color"
        );
        assert_eq!(text_of(&t, 2), "g");
        let events: Vec<String> = text_of(&t, 3).lines().map(String::from).collect();
        assert_eq!(events, ["input:g", "change:g"]);
        assert_eq!(
            text_of(&t, 4),
            "Selected \"Blue\" (value \"b\") in select#color"
        );
        assert_eq!(text_of(&t, 5), "b");
        assert_eq!(text_of(&t, 6), "b");
    });
}

#[test]
fn select_a_missing_option_lists_the_options() {
    block_on(async {
        let t = run(
            "select missing",
            vec![
                goto("playground.html"),
                interact(json!({"action": "select", "selector": "#color", "value": "purple"})),
            ],
        )
        .await;
        assert_eq!(t.status, TaskStatus::Failed);
        let e = error_of(&t, 1);
        assert_eq!(e.code, ErrorCode::ExecutionError);
        assert_eq!(
            e.message,
            "select#color has no option with value or label \"purple\"; its options: r (Red), g (Green), b (Blue)"
        );
    });
}

// ---------------------------------------------------------------- browser_content

/// Decodes a PNG in the page and reports its size, the colour at (x, y) and how many
/// distinct colours it has.
fn decode_in_page(png: &str, x: u32, y: u32) -> Value {
    execute(&format!(
        "const img = new Image(); img.src = 'data:image/png;base64,{png}'; await img.decode(); \
         const c = document.createElement('canvas'); c.width = img.width; c.height = img.height; \
         const g = c.getContext('2d'); g.drawImage(img, 0, 0); \
         const d = g.getImageData(0, 0, c.width, c.height).data; const colours = new Set(); \
         for (let i = 0; i < d.length; i += 4) colours.add(d[i] + ',' + d[i+1] + ',' + d[i+2]); \
         const p = g.getImageData({x}, {y}, 1, 1).data; \
         return {{ size: img.width + 'x' + img.height, at: p[0] + ',' + p[1] + ',' + p[2], colours: colours.size }}"
    ))
}

#[test]
fn viewport_screenshot_is_a_1280x720_png() {
    block_on(async {
        let t = run(
            "shot",
            vec![goto("index.html"), content(json!({"action": "screenshot"}))],
        )
        .await;
        assert_completed(&t);
        assert_eq!(png_size(&image_of(&t, 1)), (1280, 720));
        assert_eq!(t.commands[1].result.as_ref().unwrap().joined_text(), "");
    });
}

#[test]
fn full_page_screenshot_covers_the_page_and_keeps_the_viewport() {
    block_on(async {
        let t = run(
            "full page",
            vec![
                goto("article.html"),
                content(json!({"action": "screenshot", "full_page": true})),
                execute("return innerWidth + 'x' + innerHeight"),
                execute("return document.documentElement.scrollHeight"),
                content(json!({"action": "screenshot"})),
            ],
        )
        .await;
        assert_completed(&t);
        let (w, h) = png_size(&image_of(&t, 1));
        let page_height = value_of(&t, 3).as_u64().unwrap() as u32;
        assert_eq!(w, 1280);
        assert!(h > 720, "full page is taller than the viewport: {h}");
        assert_eq!(h, page_height);
        assert_eq!(value_of(&t, 2), "1280x720", "the viewport is unchanged");
        assert_eq!(png_size(&image_of(&t, 4)), (1280, 720));
    });
}

#[test]
fn element_screenshot_below_the_fold_is_the_element() {
    block_on(async {
        let t = run(
            "element shot",
            vec![
                goto("article.html"),
                content(json!({"action": "screenshot", "selector": "#footer-badge"})),
                execute("return innerWidth + 'x' + innerHeight"),
            ],
        )
        .await;
        assert_completed(&t);
        let png = image_of(&t, 1);
        assert_eq!(png_size(&png), (150, 80));
        assert_eq!(value_of(&t, 2), "1280x720");
        // Chromium decodes the PNG: the badge is green (#27ae60) with white text, not blank.
        let check = run(
            "decode",
            vec![goto("index.html"), decode_in_page(&png, 5, 70)],
        )
        .await;
        assert_completed(&check);
        let seen = value_of(&check, 1);
        assert_eq!(seen["size"], "150x80");
        assert_eq!(seen["at"], "39,174,96", "{seen}");
        assert!(
            seen["colours"].as_u64().unwrap() > 2,
            "text is drawn: {seen}"
        );
    });
}

#[test]
fn element_screenshot_of_a_missing_element_fails() {
    block_on(async {
        let t = run(
            "shot missing",
            vec![
                goto("index.html"),
                content(json!({"action": "screenshot", "selector": "#nope"})),
            ],
        )
        .await;
        let e = error_of(&t, 1);
        assert_eq!(e.code, ErrorCode::ExecutionError);
        assert!(e.message.contains("#nope"), "{e}");
    });
}

#[test]
fn get_text_and_get_html() {
    block_on(async {
        let t = run(
            "text and html",
            vec![
                goto("index.html"),
                get_text("#title"),
                content(json!({"action": "get_html", "selector": "#title"})),
                content(json!({"action": "get_html"})),
                get_text("#pages li:nth-child(2)"),
            ],
        )
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 1), "Fixture Site");
        assert_eq!(text_of(&t, 2), "<h1 id=\"title\">Fixture Site</h1>");
        let html = text_of(&t, 3);
        assert!(
            html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"),
            "{}",
            &html[..80]
        );
        assert!(html.contains("<title>Fixture Site</title>"));
        assert!(html.trim_end().ends_with("</html>"));
        assert_eq!(text_of(&t, 4), "Dashboard");
    });
}

/// Checks the shape of a get_viewport_dom answer; returns its elements' selectors.
fn check_viewport_dom(dom: &Value, page: &str, title: &str) -> Vec<String> {
    assert_eq!(dom["url"], url(page), "{dom}");
    assert_eq!(dom["title"], title);
    assert_eq!(dom["viewport"]["width"], 1280);
    assert_eq!(dom["viewport"]["height"], 720);
    let elements = dom["elements"].as_array().expect("elements");
    assert!(!elements.is_empty());
    for e in elements {
        assert!(e["tag"].as_str().is_some_and(|t| !t.is_empty()), "{e}");
        assert!(e["role"].is_string(), "{e}");
        assert!(e["text"].is_string(), "{e}");
        assert!(e["selector"].as_str().is_some_and(|s| !s.is_empty()), "{e}");
        let b = e["box"].as_array().expect("box");
        assert_eq!(b.len(), 4, "{e}");
        let (top, height) = (b[1].as_i64().unwrap(), b[3].as_i64().unwrap());
        assert!(top < 720 && top + height > 0, "in the viewport: {e}");
    }
    elements
        .iter()
        .map(|e| e["selector"].as_str().unwrap().to_string())
        .collect()
}

fn count_matches(selectors: &[String]) -> Value {
    execute(&format!(
        "return {}.map(s => document.querySelectorAll(s).length)",
        Value::from(selectors.to_vec())
    ))
}

#[test]
fn viewport_dom_lists_what_is_visible_with_unique_selectors() {
    block_on(async {
        for (page, title) in [
            ("index.html", "Fixture Site"),
            ("playground.html", "Playground"),
        ] {
            let t = run(
                "viewport dom",
                vec![goto(page), content(json!({"action": "get_viewport_dom"}))],
            )
            .await;
            assert_completed(&t);
            let dom: Value = serde_json::from_str(&text_of(&t, 1)).expect("JSON");
            let selectors = check_viewport_dom(&dom, page, title);
            let elements = dom["elements"].as_array().unwrap();
            let find = |text: &str| elements.iter().find(|e| e["text"] == text).cloned();
            if page == "index.html" {
                let h1 = find("Fixture Site").expect("the heading");
                assert_eq!(
                    (h1["tag"].as_str(), h1["role"].as_str()),
                    (Some("h1"), Some("heading"))
                );
                assert_eq!(h1["selector"], "#title");
                let login = find("Login").expect("the Login link");
                assert_eq!(
                    (login["role"].as_str(), login["href"].as_str()),
                    (Some("link"), Some("login.html"))
                );
            } else {
                let button = find("Clicked 0").expect("the counter");
                assert_eq!(
                    (button["tag"].as_str(), button["role"].as_str()),
                    (Some("button"), Some("button"))
                );
                assert_eq!(button["selector"], "#counter-btn");
                let select = elements
                    .iter()
                    .find(|e| e["selector"] == "#color")
                    .expect("the select");
                assert_eq!(select["role"], "combobox");
            }
            let counts = run("count", vec![goto(page), count_matches(&selectors)]).await;
            assert_completed(&counts);
            let counts = value_of(&counts, 1);
            let counts = counts.as_array().unwrap();
            assert_eq!(counts.len(), selectors.len());
            for (selector, n) in selectors.iter().zip(counts) {
                assert_eq!(n, 1, "{selector} matches exactly one element");
            }
        }
    });
}

#[test]
fn viewport_dom_leaves_out_what_is_below_the_fold() {
    block_on(async {
        let t = run(
            "article dom",
            vec![
                goto("article.html"),
                content(json!({"action": "get_viewport_dom"})),
                content(json!({"action": "get_html"})),
            ],
        )
        .await;
        assert_completed(&t);
        let text = text_of(&t, 1);
        let dom: Value = serde_json::from_str(&text).expect("JSON");
        check_viewport_dom(&dom, "article.html", "Article");
        let elements = dom["elements"].as_array().unwrap();
        assert!(elements.iter().any(|e| e["text"] == "A Long Article"));
        assert!(elements.iter().any(|e| e["text"] == "Section 1"));
        for below in ["Section 20", "Section 40", "END", "Bottom of the article."] {
            assert!(
                !elements.iter().any(|e| e["text"] == below),
                "{below} is below the fold"
            );
        }
        let html = text_of(&t, 2);
        assert!(
            text.len() * 3 < html.len(),
            "viewport DOM {} bytes vs HTML {} bytes",
            text.len(),
            html.len()
        );
    });
}

// ---------------------------------------------------------------- browser_execute

#[test]
fn evaluate_values() {
    block_on(async {
        let t = run("evaluate", vec![
            goto("index.html"),
            execute("return document.title"),
            execute("1 + 2"),
            execute("return {a: 1, b: [true, null], c: 'x'}"),
            execute("return new Promise(r => setTimeout(() => r('late'), 100))"),
            execute("await new Promise(r => setTimeout(r, 10)), document.querySelectorAll('li').length"),
            execute("return undefined"),
            execute("void 0"),
            execute("document.getElementById('title').textContent;"),
            execute("const n = 20; return n * 2"),
            execute("return arguments.length + 5 // a trailing comment"),
        ])
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 1), "\"Fixture Site\"");
        assert_eq!(text_of(&t, 2), "3");
        assert_eq!(
            value_of(&t, 3),
            json!({"a": 1, "b": [true, null], "c": "x"})
        );
        assert_eq!(value_of(&t, 4), "late");
        assert_eq!(value_of(&t, 5), 18);
        assert_eq!(text_of(&t, 6), "undefined");
        assert_eq!(text_of(&t, 7), "undefined");
        assert_eq!(value_of(&t, 8), "Fixture Site");
        assert_eq!(value_of(&t, 9), 40);
        assert_eq!(value_of(&t, 10), 5);
    });
}

#[test]
fn evaluate_errors() {
    block_on(async {
        let t = run(
            "throw",
            vec![goto("index.html"), execute("throw new Error('boom here')")],
        )
        .await;
        let e = error_of(&t, 1);
        assert_eq!(e.code, ErrorCode::ExecutionError);
        assert!(e.message.contains("boom here"), "{e}");
        assert_eq!(statuses(&t), ["success", "error"]);

        let t = run("syntax", vec![goto("index.html"), execute("return (1 +")]).await;
        let e = error_of(&t, 1);
        assert_eq!(e.code, ErrorCode::ExecutionError);
        assert!(e.message.contains("SyntaxError"), "{e}");

        let t = run(
            "rejected",
            vec![
                goto("index.html"),
                execute("return Promise.reject(new TypeError('nope'))"),
            ],
        )
        .await;
        let e = error_of(&t, 1);
        assert_eq!(e.code, ErrorCode::ExecutionError);
        assert!(e.message.contains("TypeError: nope"), "{e}");
    });
}

#[test]
fn iframe_outer_text_and_child_document() {
    block_on(async {
        let t = run("iframe", vec![
            goto("iframe.html"),
            get_text("#outer-title"),
            execute("return document.getElementById('child-frame').contentDocument.getElementById('inner-text').textContent"),
            execute("const d = document.getElementById('child-frame').contentDocument; d.getElementById('inner-btn').click(); return d.getElementById('inner-status').textContent"),
        ])
        .await;
        assert_completed(&t);
        assert_eq!(text_of(&t, 1), "Outer page");
        assert_eq!(value_of(&t, 2), "Inside the frame");
        assert_eq!(value_of(&t, 3), "clicked");
    });
}

#[test]
fn browser_instance_list_shows_the_pool_and_this_task() {
    block_on(async {
        let t = run(
            "instances",
            vec![cmd("browser_instance", json!({"action": "list"}))],
        )
        .await;
        assert_completed(&t);
        let list: Value = serde_json::from_str(&text_of(&t, 0)).expect("JSON list");
        let list = list.as_array().expect("an array");
        assert_eq!(list.len(), 1, "{list:?}");
        assert_eq!(list[0]["id"], "inst_1");
        assert_eq!(list[0]["status"], "ready");
        assert_eq!(list[0]["runningTaskId"], t.id.as_str());
        assert!(list[0]["pid"].as_u64().is_some_and(|p| p > 1));
    });
}
