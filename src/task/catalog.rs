//! What every tool accepts, written once as data: its actions, the fields each action requires
//! or allows, what they mean and which values they take, and the other spellings clients use
//! for them (snake_case and camelCase, and the names of the origin, MoonsurfAI's
//! browser-control, whose docs agents have read). MCP's tool list, REST's `/api/tools` and the
//! task-file JSON Schema are renderings of it, and the parser holds every call to it: a field
//! no action of the catalog lists is an error, and so is a value its schema does not allow.
//! The tests parse each action's example with the typed parser, and compare each action's
//! fields with the ones the typed parser knows, so this description and `action/` cannot drift
//! apart.

use serde_json::{json, Map, Value};

use super::action::Tool;

/// One action of a tool: its name, what it does, its fields, and arguments that run it.
pub struct ActionDoc {
    pub name: &'static str,
    pub description: &'static str,
    /// Required fields. `selector|ref` means one of them (exactly one).
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
    /// Arguments (JSON) that parse; used by the tests and shown in docs.
    pub example: &'static str,
}

/// One argument field a tool's actions may use.
pub struct FieldDoc {
    pub name: &'static str,
    /// The field's JSON Schema, without its description. The parser checks values against it.
    pub schema: fn() -> Value,
    pub description: &'static str,
}

/// A tool as clients see it.
pub struct ToolDoc {
    pub tool: Tool,
    pub description: &'static str,
    /// The action run when `action` is left out: browser_execute evaluates, sleep sleeps (the
    /// origin calls both without an action).
    pub default_action: Option<&'static str>,
    pub actions: &'static [ActionDoc],
    pub fields: &'static [FieldDoc],
}

/// How an alias's value becomes the value of the field it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Convert {
    /// The same value under the canonical name.
    Same,
    /// One value becomes a list of one (`pattern: "*.png"` is `patterns: ["*.png"]`).
    List,
    /// Bytes per second (the origin's throughput) become kbit/s (ours): × 8 / 1000.
    BytesToKbits,
}

/// Another name for a field: accepted where the field is, and read as it.
pub struct AliasDoc {
    pub tool: Tool,
    /// The actions it is accepted for; empty for every action that takes `canonical`.
    pub actions: &'static [&'static str],
    pub alias: &'static str,
    pub canonical: &'static str,
    pub convert: Convert,
    /// The origin's spelling (documented as such), rather than our own second spelling.
    pub origin: bool,
}

const fn same(tool: Tool, alias: &'static str, canonical: &'static str) -> AliasDoc {
    AliasDoc {
        tool,
        actions: &[],
        alias,
        canonical,
        convert: Convert::Same,
        origin: false,
    }
}

const fn origin(
    tool: Tool,
    actions: &'static [&'static str],
    alias: &'static str,
    canonical: &'static str,
    convert: Convert,
) -> AliasDoc {
    AliasDoc {
        tool,
        actions,
        alias,
        canonical,
        convert,
        origin: true,
    }
}

/// Every other spelling of a field. Giving a field and one of its aliases at once is an error.
pub const FIELD_ALIASES: &[AliasDoc] = &[
    // Our own second spellings (snake_case beside camelCase, and the reverse).
    same(Tool::Navigate, "tab_id", "tabId"),
    same(Tool::Interact, "tab_id", "tabId"),
    same(Tool::Content, "tab_id", "tabId"),
    same(Tool::Execute, "tab_id", "tabId"),
    same(Tool::Network, "tab_id", "tabId"),
    same(Tool::Emulate, "tab_id", "tabId"),
    same(Tool::Debug, "tab_id", "tabId"),
    same(Tool::Tab, "tab_id", "tabId"),
    same(Tool::Navigate, "wait_until", "waitUntil"),
    same(Tool::Content, "fullPage", "full_page"),
    same(Tool::Content, "maxLength", "max_length"),
    same(Tool::Instance, "userAgent", "user_agent"),
    same(Tool::Instance, "instanceId", "instance_id"),
    same(Tool::Network, "http_only", "httpOnly"),
    same(Tool::Network, "same_site", "sameSite"),
    same(Tool::Network, "resource_types", "resourceTypes"),
    same(Tool::Emulate, "device_scale_factor", "deviceScaleFactor"),
    same(Tool::Emulate, "user_agent", "userAgent"),
    same(Tool::Emulate, "timezone_id", "timezoneId"),
    same(Tool::Emulate, "timezone", "timezoneId"),
    same(Tool::Emulate, "download_kbps", "downloadKbps"),
    same(Tool::Emulate, "upload_kbps", "uploadKbps"),
    same(Tool::Debug, "prompt_text", "promptText"),
    same(Tool::Debug, "dialog_action", "dialogAction"),
    // The origin's names.
    origin(
        Tool::Content,
        &["pdf"],
        "printBackground",
        "background",
        Convert::Same,
    ),
    origin(Tool::Content, &["pdf"], "format", "paper", Convert::Same),
    origin(
        Tool::Content,
        &["attribute"],
        "attribute",
        "name",
        Convert::Same,
    ),
    origin(Tool::Execute, &[], "expression", "script", Convert::Same),
    origin(Tool::Network, &[], "storageType", "storage", Convert::Same),
    origin(
        Tool::Network,
        &["intercept"],
        "pattern",
        "patterns",
        Convert::List,
    ),
    origin(
        Tool::Network,
        &["intercept"],
        "resourceType",
        "resourceTypes",
        Convert::List,
    ),
    origin(Tool::Emulate, &["device"], "device", "name", Convert::Same),
    origin(
        Tool::Emulate,
        &["offline"],
        "offline",
        "enabled",
        Convert::Same,
    ),
    origin(
        Tool::Emulate,
        &["throttle"],
        "downloadThroughput",
        "downloadKbps",
        Convert::BytesToKbits,
    ),
    origin(
        Tool::Emulate,
        &["throttle"],
        "uploadThroughput",
        "uploadKbps",
        Convert::BytesToKbits,
    ),
    origin(
        Tool::Tab,
        &["close_others"],
        "keepTabId",
        "tabId",
        Convert::Same,
    ),
];

/// Other names of actions: (tool, alias, action).
pub const ACTION_ALIASES: &[(Tool, &str, &str)] = &[
    (Tool::Navigate, "wait", "wait_for"),
    (Tool::Instance, "new", "create"),
];

/// Fields of the origin that have no counterpart here, with what to do instead: refused with
/// that reason rather than with "unknown field". (tool, actions, field, reason)
pub const NOT_SUPPORTED: &[(Tool, &[&str], &str, &str)] = &[
    (
        Tool::Instance,
        &["create"],
        "url",
        "not supported here: open the page with browser_navigate goto (or browser_tab new) once the instance is up",
    ),
    (
        Tool::Instance,
        &["create"],
        "profile",
        "not supported: instances always start with a fresh, temporary profile",
    ),
    (
        Tool::Instance,
        &["create"],
        "extensions",
        "not supported: instances run without extensions (headless Chromium over CDP)",
    ),
    (
        Tool::Instance,
        &["create"],
        "closeOtherTabs",
        "not supported here: a new instance has one tab; use browser_tab close_others",
    ),
    (
        Tool::Content,
        &["screenshot"],
        "clip",
        "not supported: capture one element with selector (or ref), or the whole page with full_page",
    ),
];

/// The longest deadline a command may ask for: an hour.
pub const MAX_TIMEOUT_MS: u64 = 3_600_000;

fn string() -> Value {
    json!({"type": "string"})
}

fn non_empty_string() -> Value {
    json!({"type": "string", "minLength": 1})
}

fn boolean() -> Value {
    json!({"type": "boolean"})
}

fn timeout_ms() -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": MAX_TIMEOUT_MS})
}

fn coordinate() -> Value {
    json!({"type": "number", "minimum": 0, "maximum": 100000})
}

const SELECTOR: FieldDoc = FieldDoc {
    name: "selector",
    schema: non_empty_string,
    description: "Selector of the element (the first match is used): CSS (open shadow roots are searched too), text=Sign in (substring), text=\"Sign in\" (exact), button:has-text(\"Save\"), and >>> to step into an iframe or a shadow root (iframe#pay >>> text=Pay)",
};

/// Where a selector is accepted, so is a ref from `snapshot` (`e12`).
const REF: FieldDoc = FieldDoc {
    name: "ref",
    schema: || json!({"type": "string", "pattern": "^e[0-9]+$"}),
    description: "Element ref from the last browser_snapshot (e.g. e12), instead of selector",
};

/// A selector, or a snapshot ref in its place.
const SELECTOR_OR_REF: &str = "selector|ref";

/// Accepted by every action: the command's own deadline.
const TIMEOUT: FieldDoc = FieldDoc {
    name: "timeout",
    schema: timeout_ms,
    description: "Deadline for this command: a whole number of milliseconds, 1 to 3600000 \
                  (default 30000)",
};

/// Accepted by every action that acts on a page: the tab it acts on.
const TAB_ID: FieldDoc = FieldDoc {
    name: "tabId",
    schema: || json!({"type": ["string", "integer"], "minLength": 1, "minimum": 1}),
    description: "Tab to act on, e.g. tab_2 (or 2) (default: the instance's active tab; see \
                  browser_tab)",
};

/// Accepted by every tool but browser_instance: where to run. REST and MCP take the command's
/// instance from it; in a task, it must be the task's own.
const INSTANCE_ID: FieldDoc = FieldDoc {
    name: "instanceId",
    schema: non_empty_string,
    description: "Instance to run on, e.g. inst_2 (REST and MCP; in a task it must be the task's \
                  instanceId)",
};

pub const TOOLS: &[ToolDoc] = &[
    ToolDoc {
        tool: Tool::Navigate,
        description: "Navigate the page: open a URL, reload, go back or forward, wait for an \
                      element or a JavaScript condition.",
        default_action: None,
        actions: &[
            ActionDoc {
                name: "goto",
                description: "Navigate to a URL and wait for it to load",
                required: &["url"],
                optional: &["waitUntil"],
                example: r#"{"action":"goto","url":"https://example.com","waitUntil":"domcontentloaded"}"#,
            },
            ActionDoc {
                name: "reload",
                description: "Reload the current page",
                required: &[],
                optional: &["waitUntil", "ignoreCache"],
                example: r#"{"action":"reload","waitUntil":"networkidle"}"#,
            },
            ActionDoc {
                name: "back",
                description: "Go back in history",
                required: &[],
                optional: &[],
                example: r#"{"action":"back"}"#,
            },
            ActionDoc {
                name: "forward",
                description: "Go forward in history",
                required: &[],
                optional: &[],
                example: r#"{"action":"forward"}"#,
            },
            ActionDoc {
                name: "wait_for",
                description: "Wait until an element matching the selector is visible, or until \
                              a JavaScript expression is true",
                required: &["selector|expression"],
                optional: &[],
                example: r##"{"action":"wait_for","selector":"#results","timeout":5000}"##,
            },
            ActionDoc {
                name: "sleep",
                description: "Wait a fixed time (no longer than the command's deadline)",
                required: &["duration"],
                optional: &[],
                example: r#"{"action":"sleep","duration":250}"#,
            },
        ],
        fields: &[
            FieldDoc {
                name: "url",
                schema: non_empty_string,
                description: "Absolute URL to open, with its scheme (http, https, file, data or \
                              about:blank)",
            },
            SELECTOR,
            FieldDoc {
                name: "expression",
                schema: non_empty_string,
                description: "JavaScript expression run in the page until it is true (wait_for)",
            },
            FieldDoc {
                name: "waitUntil",
                schema: || json!({"type": "string", "enum": ["load", "domcontentloaded", "networkidle", "domContentLoaded", "networkIdle"]}),
                description: "When the navigation is done: the load event (default), \
                              DOMContentLoaded, or the load event then 500 ms without requests",
            },
            FieldDoc {
                name: "ignoreCache",
                schema: boolean,
                description: "Reload without the cache",
            },
            FieldDoc {
                name: "duration",
                schema: || json!({"type": "number", "minimum": 0, "maximum": MAX_TIMEOUT_MS}),
                description: "Milliseconds to wait",
            },
        ],
    },
    ToolDoc {
        tool: Tool::Interact,
        description: "Interact with the page: click, type into fields, press keys, scroll, choose \
                      options, hover. Elements are checked to be visible, enabled and not covered.",
        default_action: None,
        actions: &[
            ActionDoc {
                name: "click",
                description: "Click the element, or the point x,y of the viewport",
                required: &[],
                optional: &["selector", "ref", "x", "y"],
                example: r##"{"action":"click","selector":"#login"}"##,
            },
            ActionDoc {
                name: "type",
                description: "Focus the field and type text into it (replacing its content)",
                required: &[SELECTOR_OR_REF, "text"],
                optional: &["delay"],
                example: r##"{"action":"type","selector":"#email","text":"me@example.com"}"##,
            },
            ActionDoc {
                name: "keyboard",
                description: "Press a key or chord on the focused element",
                required: &["key"],
                optional: &[],
                example: r#"{"action":"keyboard","key":"Control+A"}"#,
            },
            ActionDoc {
                name: "scroll",
                description: "Scroll the page (or the element under selector) by direction and \
                              amount, or by deltaX/deltaY",
                required: &[],
                optional: &["direction", "amount", "deltaX", "deltaY", "selector", "ref"],
                example: r#"{"action":"scroll","direction":"down","amount":800}"#,
            },
            ActionDoc {
                name: "select",
                description: "Choose an option of a <select> by value (or visible label), by \
                              label, or by index",
                required: &[SELECTOR_OR_REF, "value|label|index"],
                optional: &[],
                example: r##"{"action":"select","selector":"#country","value":"fr"}"##,
            },
            ActionDoc {
                name: "hover",
                description: "Move the mouse over the element",
                required: &[SELECTOR_OR_REF],
                optional: &[],
                example: r#"{"action":"hover","selector":".menu"}"#,
            },
            ActionDoc {
                name: "move",
                description: "Move the mouse to the element's centre, or to the point x,y",
                required: &[],
                optional: &["selector", "ref", "x", "y"],
                example: r#"{"action":"move","x":120,"y":80}"#,
            },
            ActionDoc {
                name: "press",
                description: "Press a key with modifiers held, on whatever has the focus",
                required: &["key"],
                optional: &["modifiers", "ctrl", "alt", "shift", "meta"],
                example: r#"{"action":"press","key":"a","modifiers":["Control"]}"#,
            },
            ActionDoc {
                name: "upload",
                description: "Put files into an <input type=file> (absolute paths that must exist)",
                required: &[SELECTOR_OR_REF, "files"],
                optional: &[],
                example: r##"{"action":"upload","selector":"#file","files":["/etc/hosts"]}"##,
            },
        ],
        fields: &[
            SELECTOR,
            REF,
            FieldDoc {
                name: "x",
                schema: coordinate,
                description: "Viewport x coordinate in CSS pixels (with y, instead of selector)",
            },
            FieldDoc {
                name: "y",
                schema: coordinate,
                description: "Viewport y coordinate in CSS pixels (with x, instead of selector)",
            },
            FieldDoc {
                name: "modifiers",
                schema: || json!({"type": "array", "items": {"type": "string", "enum": ["Control", "Alt", "Shift", "Meta", "control", "ctrl", "alt", "shift", "meta"]}}),
                description: "Modifier keys held during the press",
            },
            FieldDoc {
                name: "ctrl",
                schema: boolean,
                description: "Hold Control during the press",
            },
            FieldDoc {
                name: "alt",
                schema: boolean,
                description: "Hold Alt during the press",
            },
            FieldDoc {
                name: "shift",
                schema: boolean,
                description: "Hold Shift during the press",
            },
            FieldDoc {
                name: "meta",
                schema: boolean,
                description: "Hold Meta (Command) during the press",
            },
            FieldDoc {
                name: "files",
                schema: || json!({"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}}),
                description:
                    "Absolute paths of the files to upload, on the machine running the browser",
            },
            FieldDoc {
                name: "text",
                schema: string,
                description: "Text to type",
            },
            FieldDoc {
                name: "delay",
                schema: || json!({"type": "number", "minimum": 0, "maximum": 10000}),
                description: "Milliseconds between characters (default: the whole text at once)",
            },
            FieldDoc {
                name: "key",
                schema: non_empty_string,
                description: "Key name (Enter, Tab, Escape, ArrowDown, a, …) with optional \
                              modifiers joined by '+', e.g. Control+A or Shift+Tab",
            },
            FieldDoc {
                name: "direction",
                schema: || json!({"type": "string", "enum": ["up", "down", "left", "right"]}),
                description: "Scroll direction",
            },
            FieldDoc {
                name: "amount",
                schema: || json!({"type": "number", "minimum": 0, "maximum": 1000000}),
                description: "Pixels to scroll in direction (default 500)",
            },
            FieldDoc {
                name: "deltaX",
                schema: || json!({"type": "number", "minimum": -1000000, "maximum": 1000000}),
                description: "Pixels to scroll right (negative: left), instead of direction",
            },
            FieldDoc {
                name: "deltaY",
                schema: || json!({"type": "number", "minimum": -1000000, "maximum": 1000000}),
                description: "Pixels to scroll down (negative: up), instead of direction",
            },
            FieldDoc {
                name: "value",
                schema: string,
                description: "Option value, or failing that its visible label",
            },
            FieldDoc {
                name: "label",
                schema: string,
                description: "Visible label of the option",
            },
            FieldDoc {
                name: "index",
                schema: || json!({"type": "integer", "minimum": 0, "maximum": 100000}),
                description: "Position of the option, from 0",
            },
        ],
    },
    ToolDoc {
        tool: Tool::Content,
        description:
            "Read the page: screenshots, text, HTML, a compact DOM of what is in view, or an \
                      accessibility snapshot with element refs.",
        default_action: None,
        actions: &[
            ActionDoc {
                name: "screenshot",
                description:
                    "Capture the viewport, the whole page or one element (PNG, JPEG or WebP)",
                required: &[],
                optional: &["selector", "ref", "full_page", "format", "quality"],
                example: r#"{"action":"screenshot","full_page":true,"format":"jpeg","quality":80}"#,
            },
            ActionDoc {
                name: "get_text",
                description: "The visible text of the element",
                required: &[SELECTOR_OR_REF],
                optional: &[],
                example: r#"{"action":"get_text","selector":"h1"}"#,
            },
            ActionDoc {
                name: "get_html",
                description: "The outer HTML of the element, or of the whole document",
                required: &[],
                optional: &["selector", "ref"],
                example: r#"{"action":"get_html","selector":"main"}"#,
            },
            ActionDoc {
                name: "get",
                description: "The HTML (format html, the default) or the text (format text) of \
                              the element, or of the whole page",
                required: &[],
                optional: &["selector", "ref", "format"],
                example: r#"{"action":"get","format":"text","selector":"h1"}"#,
            },
            ActionDoc {
                name: "get_viewport_dom",
                description: "A compact description of the elements visible in the viewport",
                required: &[],
                optional: &["maxElements", "minSize", "domDepth", "includeHidden"],
                example: r#"{"action":"get_viewport_dom"}"#,
            },
            ActionDoc {
                name: "snapshot",
                description: "An accessibility-tree outline of the page (or of one element): \
                              one line per node, `role \"name\" [ref=e12]`, each interactive \
                              element with a ref that selector-taking actions accept as `ref`",
                required: &[],
                optional: &["selector", "ref", "max_length"],
                example: r#"{"action":"snapshot","max_length":5000}"#,
            },
            ActionDoc {
                name: "pdf",
                description: "Print the page to PDF (base64, as an embedded resource)",
                required: &[],
                optional: &[
                    "paper",
                    "landscape",
                    "background",
                    "scale",
                    "paperWidth",
                    "paperHeight",
                ],
                example: r#"{"action":"pdf","paper":"a4","landscape":true,"background":true}"#,
            },
            ActionDoc {
                name: "attribute",
                description: "The value of an attribute of the element (null when absent)",
                required: &[SELECTOR_OR_REF, "name"],
                optional: &[],
                example: r#"{"action":"attribute","selector":"a.next","name":"href"}"#,
            },
            ActionDoc {
                name: "query",
                description: "Count the elements matching the selector and describe each briefly",
                required: &["selector"],
                optional: &["limit"],
                example: r#"{"action":"query","selector":"li.item","limit":10}"#,
            },
        ],
        fields: &[
            SELECTOR,
            REF,
            FieldDoc {
                name: "full_page",
                schema: boolean,
                description: "Capture the whole scrollable page, not only the viewport",
            },
            FieldDoc {
                name: "max_length",
                schema: || json!({"type": "integer", "minimum": 1, "maximum": 10000000}),
                description: "Largest snapshot in characters (default 20000); a longer one is \
                              cut at a line and says so",
            },
            FieldDoc {
                name: "format",
                schema: || json!({"type": "string", "enum": ["png", "jpeg", "jpg", "webp", "html", "text"]}),
                description: "screenshot: png (default), jpeg or webp; get: html (default) or text",
            },
            FieldDoc {
                name: "quality",
                schema: || json!({"type": "integer", "minimum": 0, "maximum": 100}),
                description: "Compression quality for jpeg and webp, 0 to 100",
            },
            FieldDoc {
                name: "paper",
                schema: || json!({"type": "string", "enum": ["letter", "legal", "tabloid", "a3", "a4", "a5", "Letter", "Legal", "Tabloid", "A3", "A4", "A5"]}),
                description: "Paper size (default letter)",
            },
            FieldDoc {
                name: "landscape",
                schema: boolean,
                description: "Landscape orientation",
            },
            FieldDoc {
                name: "background",
                schema: boolean,
                description: "Print background colours and images",
            },
            FieldDoc {
                name: "scale",
                schema: || json!({"type": "number", "minimum": 0.1, "maximum": 2}),
                description: "Scale of the rendering, 0.1 to 2 (default 1)",
            },
            FieldDoc {
                name: "paperWidth",
                schema: || json!({"type": "number", "minimum": 1, "maximum": 200}),
                description: "Paper width in inches (instead of the paper's)",
            },
            FieldDoc {
                name: "paperHeight",
                schema: || json!({"type": "number", "minimum": 1, "maximum": 200}),
                description: "Paper height in inches (instead of the paper's)",
            },
            FieldDoc {
                name: "name",
                schema: non_empty_string,
                description: "Attribute name",
            },
            FieldDoc {
                name: "limit",
                schema: || json!({"type": "integer", "minimum": 1, "maximum": 10000}),
                description:
                    "Describe at most this many matches (default 50; the count is always exact)",
            },
            FieldDoc {
                name: "maxElements",
                schema: || json!({"type": "integer", "minimum": 1, "maximum": 5000}),
                description: "List at most this many elements (default 250)",
            },
            FieldDoc {
                name: "minSize",
                schema: || json!({"type": "number", "minimum": 0, "maximum": 10000}),
                description: "Leave out elements narrower or lower than this many pixels",
            },
            FieldDoc {
                name: "domDepth",
                schema: || json!({"type": "integer", "minimum": 1, "maximum": 100}),
                description: "Accepted for the origin's calls: the list is flat (every element \
                              at depth 1), so any depth is met",
            },
            FieldDoc {
                name: "includeHidden",
                schema: boolean,
                description: "Only false is supported: the list holds visible elements",
            },
        ],
    },
    ToolDoc {
        tool: Tool::Execute,
        description: "Run JavaScript in the page and return its (JSON) result.",
        default_action: Some("evaluate"),
        actions: &[ActionDoc {
            name: "evaluate",
            description: "Evaluate a script: an expression, or statements with `return`",
            required: &["script"],
            optional: &["awaitPromise"],
            example: r#"{"action":"evaluate","script":"return document.title"}"#,
        }],
        fields: &[
            FieldDoc {
                name: "script",
                schema: non_empty_string,
                description: "JavaScript source; may await promises",
            },
            FieldDoc {
                name: "awaitPromise",
                schema: boolean,
                description: "Accepted for the origin's calls: a promise is always awaited",
            },
        ],
    },
    ToolDoc {
        tool: Tool::Instance,
        description: "Manage browser instances: list them, launch one, close one, or attach a \
                      browser already running elsewhere.",
        default_action: None,
        actions: &[
            ActionDoc {
                name: "list",
                description: "List the instances with their status and queues",
                required: &[],
                optional: &[],
                example: r#"{"action":"list"}"#,
            },
            ActionDoc {
                name: "create",
                description: "Launch a new browser with its own queue",
                required: &[],
                optional: &["viewport", "user_agent", "headless", "args", "mode"],
                example: r#"{"action":"create","viewport":{"width":1280,"height":800}}"#,
            },
            ActionDoc {
                name: "close",
                description: "Close an instance: its queued tasks are cancelled",
                required: &["instance_id"],
                optional: &[],
                example: r#"{"action":"close","instance_id":"inst_2"}"#,
            },
            ActionDoc {
                name: "attach",
                description: "Add a running browser to the pool by its DevTools endpoint",
                required: &["endpoint"],
                optional: &[],
                example: r#"{"action":"attach","endpoint":"http://127.0.0.1:9222"}"#,
            },
        ],
        fields: &[
            FieldDoc {
                name: "viewport",
                schema: || {
                    json!({
                        "type": "object",
                        "properties": {
                            "width": {"type": "integer", "minimum": 100, "maximum": 10000},
                            "height": {"type": "integer", "minimum": 100, "maximum": 10000}
                        },
                        "required": ["width", "height"],
                        "additionalProperties": false
                    })
                },
                description: "Window size in CSS pixels",
            },
            FieldDoc {
                name: "user_agent",
                schema: non_empty_string,
                description: "User-Agent string for the new browser",
            },
            FieldDoc {
                name: "headless",
                schema: boolean,
                description: "Run without a window (default true)",
            },
            FieldDoc {
                name: "args",
                schema: || json!({"type": "array", "items": {"type": "string", "minLength": 1}}),
                description: "Extra Chromium flags, e.g. --lang=fr",
            },
            FieldDoc {
                name: "mode",
                schema: || json!({"type": "string", "enum": ["chromium", "testing", "chrome"]}),
                description: "The origin's browser mode: chromium and testing are what every \
                              instance is (Chromium, fresh profile); chrome is not supported",
            },
            FieldDoc {
                name: "instance_id",
                schema: non_empty_string,
                description: "Id of the instance to close, e.g. inst_2",
            },
            FieldDoc {
                name: "endpoint",
                schema: || json!({"type": "string", "pattern": "^(ws|wss|http|https)://"}),
                description: "DevTools endpoint: ws://… or http://host:port",
            },
        ],
    },
    ToolDoc {
        tool: Tool::Network,
        description: "Cookies, extra request headers, request blocking, and the page's \
                      localStorage / sessionStorage.",
        default_action: None,
        actions: &[
            ActionDoc {
                name: "get_cookies",
                description: "The cookies of the current page's URL (or of urls)",
                required: &[],
                optional: &["urls"],
                example: r#"{"action":"get_cookies"}"#,
            },
            ActionDoc {
                name: "set_cookie",
                description: "Set a cookie for a URL or a domain",
                required: &["name", "value"],
                optional: &[
                    "url", "domain", "path", "secure", "httpOnly", "sameSite", "expires",
                ],
                example: r#"{"action":"set_cookie","name":"session","value":"abc","url":"https://example.com","httpOnly":true,"sameSite":"Lax"}"#,
            },
            ActionDoc {
                name: "clear_cookies",
                description: "Delete every cookie of the browser, or those of one domain",
                required: &[],
                optional: &["domain"],
                example: r#"{"action":"clear_cookies"}"#,
            },
            ActionDoc {
                name: "set_headers",
                description: "Extra headers sent with every request of the page ({} removes them)",
                required: &["headers"],
                optional: &[],
                example: r#"{"action":"set_headers","headers":{"X-Test":"1"}}"#,
            },
            ActionDoc {
                name: "intercept",
                description: "Block or fail requests matching URL patterns or resource types; \
                              enabled=false stops",
                required: &[],
                optional: &["enabled", "patterns", "resourceTypes", "mode"],
                example: r#"{"action":"intercept","patterns":["*.png","*/ads/*"],"resourceTypes":["Image"],"mode":"block"}"#,
            },
            ActionDoc {
                name: "get_storage",
                description: "The items of localStorage or sessionStorage (or one key's value)",
                required: &[],
                optional: &["storage", "key"],
                example: r#"{"action":"get_storage","storage":"local"}"#,
            },
            ActionDoc {
                name: "set_storage",
                description: "Set one item of localStorage or sessionStorage",
                required: &["key", "value"],
                optional: &["storage"],
                example: r#"{"action":"set_storage","storage":"session","key":"theme","value":"dark"}"#,
            },
            ActionDoc {
                name: "clear_storage",
                description: "Remove every item of localStorage or sessionStorage (or both)",
                required: &[],
                optional: &["storage"],
                example: r#"{"action":"clear_storage","storage":"local"}"#,
            },
        ],
        fields: &[
            FieldDoc {
                name: "urls",
                schema: || json!({"type": "array", "items": {"type": "string", "minLength": 1}}),
                description: "URLs whose cookies to return (default: the current page's)",
            },
            FieldDoc {
                name: "name",
                schema: non_empty_string,
                description: "Cookie name",
            },
            FieldDoc {
                name: "value",
                schema: string,
                description: "Cookie or storage value",
            },
            FieldDoc {
                name: "url",
                schema: non_empty_string,
                description: "URL the cookie belongs to (or give domain)",
            },
            FieldDoc {
                name: "domain",
                schema: non_empty_string,
                description: "Cookie domain, e.g. .example.com (clear_cookies: delete only the \
                              cookies of this domain and its subdomains)",
            },
            FieldDoc {
                name: "path",
                schema: string,
                description: "Cookie path",
            },
            FieldDoc {
                name: "secure",
                schema: boolean,
                description: "Send only over https",
            },
            FieldDoc {
                name: "httpOnly",
                schema: boolean,
                description: "Hidden from document.cookie",
            },
            FieldDoc {
                name: "sameSite",
                schema: || json!({"type": "string", "enum": ["Strict", "Lax", "None", "strict", "lax", "none"]}),
                description: "SameSite attribute",
            },
            FieldDoc {
                name: "expires",
                schema: || json!({"type": "number", "minimum": 0, "maximum": 1e11}),
                description: "Expiry in seconds since the Unix epoch (default: a session cookie)",
            },
            FieldDoc {
                name: "headers",
                schema: || json!({"type": "object", "additionalProperties": {"type": "string"}}),
                description: "Header names and values",
            },
            FieldDoc {
                name: "enabled",
                schema: boolean,
                description: "true (default) to start, false to stop",
            },
            FieldDoc {
                name: "patterns",
                schema: || {
                    json!({
                        "type": "array",
                        "items": {
                            "type": ["string", "object"],
                            "minLength": 1,
                            "properties": {
                                "urlPattern": {"type": "string", "minLength": 1},
                                "resourceType": {"type": "string", "minLength": 1}
                            },
                            "required": ["urlPattern"],
                            "additionalProperties": false
                        }
                    })
                },
                description: "URL wildcard patterns (* any characters, ? one), or \
                              {urlPattern, resourceType} rules; a request matching any is \
                              intercepted",
            },
            FieldDoc {
                name: "resourceTypes",
                schema: || json!({"type": "array", "items": {"type": "string", "minLength": 1}}),
                description: "Resource types to intercept: Document, Stylesheet, Image, Media, \
                              Font, Script, TextTrack, XHR, Fetch, Prefetch, EventSource, \
                              WebSocket, Manifest, Ping, Other (any case)",
            },
            FieldDoc {
                name: "mode",
                schema: || json!({"type": "string", "enum": ["block", "fail"]}),
                description:
                    "block (net::ERR_BLOCKED_BY_CLIENT, default) or fail (net::ERR_FAILED)",
            },
            FieldDoc {
                name: "storage",
                schema: || json!({"type": "string", "enum": ["local", "session", "all", "localStorage", "sessionStorage"]}),
                description: "localStorage (default), sessionStorage, or all (both: \
                              get_storage and clear_storage)",
            },
            FieldDoc {
                name: "key",
                schema: non_empty_string,
                description: "Storage key",
            },
        ],
    },
    ToolDoc {
        tool: Tool::Emulate,
        description: "Emulate a device, viewport, user agent, place, time zone or network \
                      conditions for the page.",
        default_action: None,
        actions: &[
            ActionDoc {
                name: "viewport",
                description: "Set the viewport size, pixel ratio and mobile mode",
                required: &["width", "height"],
                optional: &["deviceScaleFactor", "mobile"],
                example: r#"{"action":"viewport","width":390,"height":844,"deviceScaleFactor":3,"mobile":true}"#,
            },
            ActionDoc {
                name: "user_agent",
                description: "Override the User-Agent header and navigator.userAgent (and \
                              navigator.platform)",
                required: &["userAgent"],
                optional: &["platform"],
                example: r#"{"action":"user_agent","userAgent":"MyBot/1.0"}"#,
            },
            ActionDoc {
                name: "geolocation",
                description: "Grant geolocation and report this position",
                required: &["latitude", "longitude"],
                optional: &["accuracy"],
                example: r#"{"action":"geolocation","latitude":48.8584,"longitude":2.2945}"#,
            },
            ActionDoc {
                name: "timezone",
                description: "Override the time zone (IANA id)",
                required: &["timezoneId"],
                optional: &[],
                example: r#"{"action":"timezone","timezoneId":"Asia/Tokyo"}"#,
            },
            ActionDoc {
                name: "device",
                description: "Emulate a device preset: iPhone 15, iPhone 14, iPhone 14 Pro Max, \
                              iPhone SE, Pixel 7, Pixel 7 Pro, Galaxy S23, iPad, iPad Pro, \
                              iPad Mini, Desktop",
                required: &["name"],
                optional: &[],
                example: r#"{"action":"device","name":"Pixel 7"}"#,
            },
            ActionDoc {
                name: "offline",
                description: "Take the page offline (enabled=false brings it back)",
                required: &[],
                optional: &["enabled"],
                example: r#"{"action":"offline","enabled":true}"#,
            },
            ActionDoc {
                name: "throttle",
                description: "Throttle the network: a preset (slow-3g, fast-3g, 4g, wifi, \
                              offline, none) or explicit figures",
                required: &[],
                optional: &["preset", "downloadKbps", "uploadKbps", "latency"],
                example: r#"{"action":"throttle","preset":"slow-3g"}"#,
            },
            ActionDoc {
                name: "reset",
                description: "Undo every emulation: viewport, user agent, touch, geolocation, \
                              time zone, offline and throttling",
                required: &[],
                optional: &[],
                example: r#"{"action":"reset"}"#,
            },
        ],
        fields: &[
            FieldDoc {
                name: "width",
                schema: || json!({"type": "integer", "minimum": 50, "maximum": 10000}),
                description: "Viewport width in CSS pixels",
            },
            FieldDoc {
                name: "height",
                schema: || json!({"type": "integer", "minimum": 50, "maximum": 10000}),
                description: "Viewport height in CSS pixels",
            },
            FieldDoc {
                name: "deviceScaleFactor",
                schema: || json!({"type": "number", "minimum": 0.1, "maximum": 10}),
                description: "Device pixel ratio (default 1)",
            },
            FieldDoc {
                name: "mobile",
                schema: boolean,
                description: "Emulate a mobile device (meta viewport, overlay scrollbars)",
            },
            FieldDoc {
                name: "userAgent",
                schema: non_empty_string,
                description: "User-Agent string",
            },
            FieldDoc {
                name: "platform",
                schema: non_empty_string,
                description: "navigator.platform, e.g. Win32, MacIntel, Linux x86_64",
            },
            FieldDoc {
                name: "latitude",
                schema: || json!({"type": "number", "minimum": -90, "maximum": 90}),
                description: "Latitude in degrees",
            },
            FieldDoc {
                name: "longitude",
                schema: || json!({"type": "number", "minimum": -180, "maximum": 180}),
                description: "Longitude in degrees",
            },
            FieldDoc {
                name: "accuracy",
                schema: || json!({"type": "number", "minimum": 0, "maximum": 10000000}),
                description: "Accuracy in metres (default 10)",
            },
            FieldDoc {
                name: "timezoneId",
                schema: non_empty_string,
                description: "IANA time zone, e.g. Europe/Paris",
            },
            FieldDoc {
                name: "name",
                schema: non_empty_string,
                description: "Device preset (case, spaces and dashes do not matter)",
            },
            FieldDoc {
                name: "enabled",
                schema: boolean,
                description: "true (default) to go offline, false to come back",
            },
            FieldDoc {
                name: "preset",
                schema: || json!({"type": "string", "enum": ["slow-3g", "fast-3g", "4g", "wifi", "offline", "none"]}),
                description: "Network preset; none removes throttling, offline takes the page \
                              offline",
            },
            FieldDoc {
                name: "downloadKbps",
                schema: || json!({"type": "number", "minimum": 0, "maximum": 10000000}),
                description: "Download throughput in kbit/s (0: unlimited)",
            },
            FieldDoc {
                name: "uploadKbps",
                schema: || json!({"type": "number", "minimum": 0, "maximum": 10000000}),
                description: "Upload throughput in kbit/s (0: unlimited)",
            },
            FieldDoc {
                name: "latency",
                schema: || json!({"type": "number", "minimum": 0, "maximum": 600000}),
                description: "Added round-trip latency in ms",
            },
        ],
    },
    ToolDoc {
        tool: Tool::Debug,
        description: "Debugging aids: console messages, dialogs, performance metrics, Chromium \
                      traces, downloads.",
        default_action: None,
        actions: &[
            ActionDoc {
                name: "console",
                description: "Console messages since the page opened (JSON), optionally of one \
                              level, optionally clearing them",
                required: &[],
                optional: &["level", "clear"],
                example: r#"{"action":"console","level":"error","clear":true}"#,
            },
            ActionDoc {
                name: "dialog",
                description: "How the next dialogs are answered (policy: accept, dismiss, or \
                              default: dismiss, but accept beforeunload); dialogAction answers a \
                              dialog open now and the next ones",
                required: &["policy|dialogAction"],
                optional: &["promptText"],
                example: r#"{"action":"dialog","policy":"accept","promptText":"Ada"}"#,
            },
            ActionDoc {
                name: "performance",
                description: "The page's performance metrics (JSON)",
                required: &[],
                optional: &[],
                example: r#"{"action":"performance"}"#,
            },
            ActionDoc {
                name: "trace_start",
                description: "Start a Chromium trace of the tab (Tracing.start)",
                required: &[],
                optional: &["categories"],
                example: r#"{"action":"trace_start","categories":["devtools.timeline"]}"#,
            },
            ActionDoc {
                name: "trace_stop",
                description: "Stop the trace and return it (JSON, as an embedded resource, for \
                              the DevTools Performance panel)",
                required: &[],
                optional: &[],
                example: r#"{"action":"trace_stop"}"#,
            },
            ActionDoc {
                name: "downloads",
                description: "The instance's downloads with state, size and path (JSON), \
                              optionally of one state",
                required: &[],
                optional: &["state"],
                example: r#"{"action":"downloads"}"#,
            },
            ActionDoc {
                name: "download_wait",
                description: "Wait until the latest download (or downloadId's) completes \
                              (error if it is cancelled), within the command's deadline",
                required: &[],
                optional: &["downloadId"],
                example: r#"{"action":"download_wait","timeout":10000}"#,
            },
        ],
        fields: &[
            FieldDoc {
                name: "level",
                schema: || json!({"type": "string", "enum": ["log", "debug", "info", "warning", "warn", "error", "all"]}),
                description: "Only messages of this level (warn is warning; all: every level)",
            },
            FieldDoc {
                name: "clear",
                schema: boolean,
                description: "Empty the buffer after reading",
            },
            FieldDoc {
                name: "policy",
                schema: || json!({"type": "string", "enum": ["accept", "dismiss", "default"]}),
                description: "How dialogs are answered from now on",
            },
            FieldDoc {
                name: "dialogAction",
                schema: || json!({"type": "string", "enum": ["accept", "dismiss"]}),
                description: "Answer the dialog open now (if any), and the next ones, so",
            },
            FieldDoc {
                name: "promptText",
                schema: string,
                description: "Text a prompt() receives when accepted",
            },
            FieldDoc {
                name: "categories",
                schema: || json!({"type": "array", "items": {"type": "string", "minLength": 1}}),
                description: "Trace categories (default: Chromium's own defaults)",
            },
            FieldDoc {
                name: "state",
                schema: || json!({"type": "string", "enum": ["inProgress", "completed", "canceled", "in_progress", "complete", "cancelled", "error"]}),
                description: "Only downloads in this state (in_progress, complete and error are \
                              the origin's words)",
            },
            FieldDoc {
                name: "downloadId",
                schema: non_empty_string,
                description: "The download to wait for: its id (guid) from downloads",
            },
        ],
    },
    ToolDoc {
        tool: Tool::Tab,
        description: "The instance's tabs: list them, open one, close one or all others, choose \
                      the active one. Pages the site opens (window.open, target=_blank) are \
                      tabs too. Every page command acts on the active tab unless it names a tabId.",
        default_action: None,
        actions: &[
            ActionDoc {
                name: "list",
                description: "The tabs with their id, URL, title and which one is active (JSON)",
                required: &[],
                optional: &[],
                example: r#"{"action":"list"}"#,
            },
            ActionDoc {
                name: "new",
                description: "Open a tab (at url, else blank); it becomes the active one",
                required: &[],
                optional: &["url"],
                example: r#"{"action":"new","url":"https://example.com"}"#,
            },
            ActionDoc {
                name: "close",
                description: "Close the tab tabId (default: the active one); the last tab is \
                              replaced by a blank one",
                required: &[],
                optional: &[],
                example: r#"{"action":"close","tabId":"tab_2"}"#,
            },
            ActionDoc {
                name: "close_others",
                description: "Close every tab but tabId (default: the active one)",
                required: &[],
                optional: &[],
                example: r#"{"action":"close_others"}"#,
            },
            ActionDoc {
                name: "activate",
                description: "Make tabId the active tab",
                required: &["tabId"],
                optional: &[],
                example: r#"{"action":"activate","tabId":"tab_1"}"#,
            },
        ],
        fields: &[FieldDoc {
            name: "url",
            schema: non_empty_string,
            description: "Absolute URL to open in the new tab",
        }],
    },
    ToolDoc {
        tool: Tool::Sleep,
        description: "Wait a fixed time: a pause between the commands of a task (no action; \
                      the same as browser_navigate sleep).",
        default_action: Some("sleep"),
        actions: &[ActionDoc {
            name: "sleep",
            description: "Wait duration milliseconds (no longer than the command's deadline)",
            required: &["duration"],
            optional: &[],
            example: r#"{"duration":500}"#,
        }],
        fields: &[FieldDoc {
            name: "duration",
            schema: || json!({"type": "number", "minimum": 0, "maximum": MAX_TIMEOUT_MS}),
            description: "Milliseconds to wait",
        }],
    },
    ToolDoc {
        tool: Tool::External,
        description: "Hand a step to an outside web app (a survey, a game, a payment page): it is \
                      opened with a task_token, reports progress, logs and its result over \
                      WS /api/ws/external-task/{task_token}, and can be sent restart, close, \
                      pause, resume and custom commands. The spec's stage configuration \
                      (external-task.md); the command succeeds with the app's complete data.",
        default_action: Some("external_task"),
        actions: &[ActionDoc {
            name: "external_task",
            description: "Open target_url in a tab, a popup or a screen-sized window and wait \
                          for the app as config says",
            required: &["target_url", "config"],
            optional: &["id", "label", "title", "description", "mandatory"],
            example: r#"{"target_url":"https://survey.example.com/task","config":{"completion_mode":"required","timeout_ms":600000,"timeout_action":"retry","max_retries":2}}"#,
        }],
        fields: &[
            FieldDoc {
                name: "target_url",
                schema: non_empty_string,
                description: "The app's URL; task_token, ws_url, session_id, stage_id and the \
                              custom params are added to its query",
            },
            FieldDoc {
                name: "config",
                schema: external_config_schema,
                description: "The stage's configuration (external-task.md)",
            },
            FieldDoc {
                name: "id",
                schema: non_empty_string,
                description: "The stage's id, given to the app as stage_id (default: step_N)",
            },
            FieldDoc {
                name: "label",
                schema: string,
                description: "Short name of the step, shown on the dashboard",
            },
            FieldDoc {
                name: "title",
                schema: string,
                description: "Title shown to the person doing the step",
            },
            FieldDoc {
                name: "description",
                schema: string,
                description: "What the person is asked to do",
            },
            FieldDoc {
                name: "mandatory",
                schema: boolean,
                description: "A step that is not mandatory may be skipped on timeout without \
                              failing the task (default true)",
            },
        ],
    },
];

/// The JSON Schema of an external step's `config` (closed: a misspelt option is named).
pub fn external_config_schema() -> Value {
    let text = || json!({"type": "string"});
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["completion_mode"],
        "properties": {
            "completion_mode": {"type": "string", "enum": ["required", "optional", "manual"],
                "description": "required: wait for the app's complete; optional: the controller may go on without it; manual: wait for a person's mark as done"},
            "timeout_ms": {"type": "integer", "minimum": 0, "maximum": crate::task::MAX_EXTERNAL_TIMEOUT_MS,
                "description": "How long an attempt may take (0: no timeout)"},
            "timeout_action": {"type": "string", "enum": ["prompt", "skip", "retry", "fail"],
                "description": "On timeout: ask a person (an approval request: retry, skip or fail), skip (not mandatory steps), restart the app, or fail with COMMAND_TIMEOUT"},
            "allow_retry_on_timeout": {"type": "boolean", "description": "Whether the person asked on timeout may choose retry"},
            "max_retries": {"type": "integer", "minimum": 0, "maximum": 1000, "description": "Attempts after the first (0: unlimited)"},
            "try_close_on_complete": {"type": "boolean", "description": "Send close to the app and close its window when it completes"},
            "window_mode": {"type": "string", "enum": ["popup", "fullscreen", "tab"], "description": "A popup of window_width x window_height, a window the size of the screen, or a new tab"},
            "window_width": {"type": "integer", "minimum": 100, "maximum": 10000},
            "window_height": {"type": "integer", "minimum": 100, "maximum": 10000},
            "button_text": text(),
            "button_open_text": text(),
            "reopen_button_text": text(),
            "waiting_message": text(),
            "completed_message": text(),
            "timeout_message": text(),
            "pass_session_id": {"type": "boolean", "description": "Add session_id (the task's id) to the URL"},
            "pass_stage_id": {"type": "boolean", "description": "Add stage_id to the URL"},
            "custom_params": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]},
                "description": "More URL parameters; ${PUBLIC.NAME} (the server's --public NAME=VALUE) and ${session.KEY} (the task's metadata) are filled in"},
            "enable_reverse_control": {"type": "boolean", "description": "Let the controller send commands to the app"},
            "reverse_commands": {"type": "array", "items": {"type": "string", "enum": ["restart", "close", "pause", "resume", "custom"]},
                "description": "The commands the controller may send (default: restart, close, pause, resume)"}
        }
    })
}

/// The fields a `required` entry names: one, or alternatives joined by `|` (`selector|ref`).
pub fn alternatives(entry: &'static str) -> impl Iterator<Item = &'static str> {
    entry.split('|')
}

/// How a `required` entry reads in a description: `selector or ref`.
fn spoken(entry: &str) -> String {
    entry.replace('|', " or ")
}

/// The description of `tool`.
pub fn tool_doc(tool: Tool) -> &'static ToolDoc {
    TOOLS
        .iter()
        .find(|d| d.tool == tool)
        .expect("every tool is described")
}

impl ActionDoc {
    /// Every field the action itself takes (alternatives counted one by one).
    pub fn own_fields(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.required
            .iter()
            .flat_map(|r| alternatives(r))
            .chain(self.optional.iter().copied())
    }
}

impl ToolDoc {
    pub fn action(&self, name: &str) -> Option<&'static ActionDoc> {
        self.actions.iter().find(|a| a.name == name)
    }

    /// The action `name` stands for: its own, or the one it is an alias of (`wait`).
    pub fn resolve_action(&self, name: &str) -> Option<&'static ActionDoc> {
        self.action(name).or_else(|| {
            ACTION_ALIASES
                .iter()
                .find(|(tool, alias, _)| *tool == self.tool && *alias == name)
                .and_then(|(_, _, canonical)| self.action(canonical))
        })
    }

    /// Other names of an action.
    pub fn action_aliases(&self, action: &str) -> impl Iterator<Item = &'static str> + '_ {
        let tool = self.tool;
        let action = action.to_string();
        ACTION_ALIASES
            .iter()
            .filter(move |(t, _, canonical)| *t == tool && *canonical == action)
            .map(|(_, alias, _)| *alias)
    }

    /// The fields every action of this tool accepts: `timeout`; `tabId` for tools that act on
    /// a page; `instanceId` (where to run) for every tool but browser_instance.
    pub fn common(&self) -> &'static [FieldDoc] {
        match self.tool {
            Tool::Instance => std::slice::from_ref(&TIMEOUT),
            Tool::Sleep => {
                const SLEEP: [FieldDoc; 2] = [TIMEOUT, INSTANCE_ID];
                &SLEEP
            }
            // Its wait is config.timeout_ms; the app's window is a tab of its own.
            Tool::External => std::slice::from_ref(&INSTANCE_ID),
            _ => {
                const ALL: [FieldDoc; 3] = [TIMEOUT, TAB_ID, INSTANCE_ID];
                &ALL
            }
        }
    }

    /// Whether `action` takes the field `name` (its own fields and the common ones; aliases
    /// are not names of their own here).
    pub fn accepts(&self, action: &ActionDoc, name: &str) -> bool {
        action.own_fields().any(|f| f == name) || self.common().iter().any(|f| f.name == name)
    }

    /// The aliases `action` accepts: those of its fields, and those meant for it.
    pub fn aliases_for<'a>(
        &'a self,
        action: &'a ActionDoc,
    ) -> impl Iterator<Item = &'static AliasDoc> + 'a {
        FIELD_ALIASES.iter().filter(move |a| {
            a.tool == self.tool
                && if a.actions.is_empty() {
                    self.accepts(action, a.canonical)
                } else {
                    a.actions.contains(&action.name)
                }
        })
    }

    /// Why an origin's field that `action` does not take is not supported, when it is one.
    pub fn not_supported(&self, action: &ActionDoc, field: &str) -> Option<&'static str> {
        NOT_SUPPORTED
            .iter()
            .find(|(tool, actions, name, _)| {
                *tool == self.tool && *name == field && actions.contains(&action.name)
            })
            .map(|(_, _, _, why)| *why)
    }

    /// The description of a field of this tool (its own, or a common one).
    pub fn field(&self, name: &str) -> &'static FieldDoc {
        self.find_field(name)
            .unwrap_or_else(|| panic!("{} has no field {name}", self.tool))
    }

    pub fn find_field(&self, name: &str) -> Option<&'static FieldDoc> {
        self.common()
            .iter()
            .chain(self.fields.iter())
            .find(|f| f.name == name)
    }

    fn property(&self, name: &str) -> Value {
        let field = self.field(name);
        let mut schema = (field.schema)();
        let aliases: Vec<&str> = FIELD_ALIASES
            .iter()
            .filter(|a| a.tool == self.tool && a.canonical == name && a.convert == Convert::Same)
            .map(|a| a.alias)
            .collect();
        schema["description"] = if aliases.is_empty() {
            Value::from(field.description)
        } else {
            Value::from(format!(
                "{} (also accepted as {})",
                field.description,
                aliases.join(", ")
            ))
        };
        schema
    }

    /// A property for an alias in the task-file schema: the schema of its field.
    fn alias_property(&self, alias: &AliasDoc) -> Value {
        let mut schema = match alias.convert {
            Convert::Same => (self.field(alias.canonical).schema)(),
            Convert::List => (self.field(alias.canonical).schema)()
                .get("items")
                .cloned()
                .unwrap_or(json!({})),
            Convert::BytesToKbits => json!({"type": "number", "minimum": 0}),
        };
        let unit = if alias.convert == Convert::BytesToKbits {
            ", in bytes/s"
        } else {
            ""
        };
        schema["description"] = Value::from(format!("Same as {}{unit}", alias.canonical));
        schema
    }

    /// Whether `action` may be left out (the tool has a default action).
    fn action_optional(&self) -> bool {
        self.default_action.is_some()
    }

    /// One object schema for the whole tool, as MCP hosts want it (no top-level `oneOf`: several
    /// hosts reject it). `action` is an enum whose description says what each action requires.
    /// A tool with one action and a default (sleep) has no `action` property at all.
    pub fn input_schema(&self) -> Value {
        let summary = self
            .actions
            .iter()
            .map(|a| {
                let mut line = format!("{}: {}", a.name, a.description);
                let aliases: Vec<&str> = self.action_aliases(a.name).collect();
                if !aliases.is_empty() {
                    line += &format!(" (also {})", aliases.join(", "));
                }
                if !a.required.is_empty() {
                    let required: Vec<String> = a.required.iter().map(|r| spoken(r)).collect();
                    line += &format!(" (requires {})", required.join(", "));
                }
                if !a.optional.is_empty() {
                    line += &format!(" (optional {})", a.optional.join(", "));
                }
                line
            })
            .collect::<Vec<_>>()
            .join("; ");
        let mut properties = Map::new();
        let only_action = self.action_optional() && self.actions.len() == 1;
        if !only_action {
            properties.insert(
                "action".into(),
                json!({
                    "type": "string",
                    "enum": self.actions.iter().map(|a| a.name).collect::<Vec<_>>(),
                    "description": summary,
                }),
            );
        }
        for field in self.fields.iter().chain(self.common()) {
            properties.insert(field.name.into(), self.property(field.name));
        }
        let required: Vec<&str> = if !self.action_optional() {
            vec!["action"]
        } else if only_action {
            // Fields without another spelling: a host that checks `required` would refuse
            // the other one.
            self.actions[0]
                .required
                .iter()
                .filter(|r| !r.contains('|'))
                .filter(|r| {
                    !FIELD_ALIASES
                        .iter()
                        .any(|a| a.tool == self.tool && a.canonical == **r)
                })
                .copied()
                .collect()
        } else {
            Vec::new()
        };
        json!({
            "type": "object",
            "properties": properties,
            "required": required,
        })
    }

    /// The exact schema of one action: its own fields, their aliases, and which are required.
    pub fn action_schema(&self, action: &ActionDoc) -> Value {
        let mut properties = Map::new();
        let names: Vec<&str> = std::iter::once(action.name)
            .chain(self.action_aliases(action.name))
            .collect();
        properties.insert(
            "action".into(),
            if names.len() == 1 {
                json!({"const": action.name, "description": action.description})
            } else {
                json!({"enum": names, "description": action.description})
            },
        );
        let common: Vec<&str> = self.common().iter().map(|f| f.name).collect();
        for name in action.own_fields().chain(common) {
            properties.insert(name.into(), self.property(name));
        }
        for alias in self.aliases_for(action) {
            properties.insert(alias.alias.into(), self.alias_property(alias));
        }
        let mut required = if self.action_optional() {
            vec![]
        } else {
            vec!["action"]
        };
        let mut one_of = Vec::new();
        for entry in action.required {
            let aliased: Vec<&str> = alternatives(entry)
                .flat_map(|name| {
                    std::iter::once(name).chain(
                        self.aliases_for(action)
                            .filter(move |a| a.canonical == name)
                            .map(|a| a.alias),
                    )
                })
                .collect();
            if aliased.len() > 1 {
                one_of.push(json!({
                    "oneOf": aliased
                        .iter()
                        .map(|name| json!({"required": [name]}))
                        .collect::<Vec<_>>()
                }));
            } else {
                required.push(entry);
            }
        }
        let mut schema = json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        });
        if !one_of.is_empty() {
            schema["allOf"] = Value::from(one_of);
        }
        schema
    }

    /// The input schema of a tool that runs one fixed action of this one (MCP's
    /// `browser_snapshot` is `browser_content` `snapshot`): the action's fields, without
    /// `action`. Alternatives (`selector|ref`) are described, not required.
    pub fn fixed_action_input_schema(&self, action: &str) -> Value {
        let action = self
            .action(action)
            .unwrap_or_else(|| panic!("{} has no action {action}", self.tool));
        let mut schema = self.action_schema(action);
        let map = schema.as_object_mut().expect("an object schema");
        let properties = map["properties"].as_object_mut().expect("properties");
        properties.remove("action");
        // As the tools' own input schemas: canonical names (the aliases are still accepted).
        for alias in self.aliases_for(action) {
            properties.remove(alias.alias);
        }
        let required: Vec<&str> = action
            .required
            .iter()
            .filter(|r| !r.contains('|'))
            .copied()
            .collect();
        map.insert("required".into(), json!(required));
        map.remove("allOf");
        schema
    }
}

/// The input schema of MCP's `browser_task`: a whole task, its commands as in a task file. Each
/// command's `args` is described by reference to its tool, so the schema stays one plain
/// object (MCP hosts handle deep `oneOf`s poorly).
pub fn task_tool_input_schema() -> Value {
    let tools: Vec<&str> = TOOLS.iter().map(|d| d.tool.name()).collect();
    json!({
        "type": "object",
        "properties": {
            "task_name": {
                "type": "string",
                "minLength": 1,
                "description": "A name for the task (default: mcp: browser_task)"
            },
            "task_intention": {"type": "string", "description": "What the task is for"},
            "commands": {
                "type": "array",
                "minItems": 1,
                "description": "Commands run in order; after the first failure the rest are skipped",
                "items": {
                    "type": "object",
                    "properties": {
                        "tool_name": {"type": "string", "enum": tools, "description": "The tool"},
                        "args": {
                            "type": "object",
                            "description": "The tool's arguments, exactly as the tool of that \
                                            name takes them: action plus its fields, e.g. \
                                            {\"action\":\"goto\",\"url\":\"https://example.com\"}",
                            "properties": {"action": {"type": "string"}}
                        },
                        "intention": {"type": "string", "description": "Why this command"}
                    },
                    "required": ["tool_name", "args"],
                    "additionalProperties": false
                }
            },
            "metadata": {"type": "object", "description": "Kept with the task as given"}
        },
        "required": ["commands"]
    })
}

/// The top-level fields of a task submission (a `task_submit` message, `POST /tasks`, a task of
/// a task file): the spec's, and `type` (the message's own). Anything else is refused.
pub const TASK_FIELDS: [&str; 8] = [
    "type",
    "task_name",
    "task_intention",
    "commands",
    "instanceId",
    "metadata",
    "priority",
    "approval",
];

/// The fields of one command of a task.
pub const COMMAND_FIELDS: [&str; 3] = ["tool_name", "intention", "args"];

/// JSON Schema of a task file (and of a `task_submit`'s task): every command's `args` is checked
/// against the exact schema of its tool and action.
pub fn task_file_schema() -> Value {
    let commands = TOOLS
        .iter()
        .map(|doc| {
            json!({
                "type": "object",
                "properties": {
                    "tool_name": {"const": doc.tool.name()},
                    "intention": {"type": "string"},
                    "args": {
                        "oneOf": doc.actions.iter().map(|a| doc.action_schema(a)).collect::<Vec<_>>()
                    }
                },
                "required": ["tool_name", "args"],
                "additionalProperties": false
            })
        })
        .collect::<Vec<_>>();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "browser-control task",
        "type": "object",
        "properties": {
            "type": {"const": "task_submit"},
            "task_name": {"type": "string", "minLength": 1},
            "task_intention": {"type": ["string", "null"]},
            "instanceId": {"type": ["string", "null"]},
            "metadata": {"type": ["object", "null"]},
            "commands": {"type": "array", "minItems": 1, "items": {"oneOf": commands}},
            "expect": {"type": "object", "description": "Task files only: what a passing run looks like"}
        },
        "required": ["task_name", "commands"],
        "additionalProperties": false
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::action::{parse_args, serde_only};

    /// Fields the catalog lists that the parser reads itself, not serde: checked and then left
    /// out (they ask for what always happens), or turned into actions of their own.
    const READ_BEFORE_SERDE: [(Tool, &str); 6] = [
        (Tool::Content, "domDepth"),
        (Tool::Content, "includeHidden"),
        (Tool::Execute, "awaitPromise"),
        (Tool::Instance, "mode"),
        (Tool::Debug, "state"),
        (Tool::Debug, "downloadId"),
    ];

    /// A value a field takes, for tests that set fields one by one.
    fn sample(doc: &ToolDoc, example: &Value, field: &str) -> Value {
        if let Some(v) = example.get(field) {
            return v.clone();
        }
        match field {
            "ref" => json!("e1"),
            "index" => json!(0),
            "deltaX" | "deltaY" => json!(100),
            "expression" => json!("document.readyState === 'complete'"),
            "dialogAction" => json!("accept"),
            "label" => json!("France"),
            _ => {
                let schema = (doc.field(field).schema)();
                match schema["type"].as_str() {
                    Some("boolean") => json!(true),
                    Some("integer") | Some("number") => schema["minimum"].clone(),
                    Some("array") => json!([]),
                    _ => json!("x"),
                }
            }
        }
    }

    #[test]
    fn every_tool_is_described_once() {
        for tool in Tool::ALL {
            assert_eq!(TOOLS.iter().filter(|d| d.tool == tool).count(), 1, "{tool}");
        }
    }

    #[test]
    fn every_example_parses_as_its_action() {
        for doc in TOOLS {
            for action in doc.actions {
                let args: Value = serde_json::from_str(action.example).unwrap();
                let parsed = parse_args(doc.tool, &args)
                    .unwrap_or_else(|e| panic!("{} {}: {e:?}", doc.tool, action.name));
                assert_eq!(parsed.action.name(), action.name);
                for field in action.own_fields() {
                    doc.field(field); // panics on an undescribed field
                }
            }
        }
    }

    #[test]
    fn required_fields_are_really_required() {
        for doc in TOOLS {
            for action in doc.actions {
                let args: Value = serde_json::from_str(action.example).unwrap();
                for entry in action.required {
                    // Without any of its alternatives (nor their aliases), the parser names
                    // the first.
                    let mut without = args.clone();
                    for field in alternatives(entry) {
                        without.as_object_mut().unwrap().remove(field);
                    }
                    let err = parse_args(doc.tool, &without).expect_err(entry);
                    let first = alternatives(entry).next().unwrap();
                    assert_eq!(err.field, first, "{} {}: {err:?}", doc.tool, action.name);
                    // Any one alternative alone is enough.
                    for field in alternatives(entry) {
                        let mut with = without.clone();
                        with[field] = sample(doc, &args, field);
                        parse_args(doc.tool, &with).unwrap_or_else(|e| {
                            panic!("{} {} with {field}: {e:?}", doc.tool, action.name)
                        });
                    }
                }
            }
        }
    }

    #[test]
    fn the_catalog_lists_exactly_the_actions_the_parser_knows() {
        for doc in TOOLS {
            // serde's own list, from its error for an action it does not know.
            let err = serde_only(doc.tool, json!({"action": "no_such_action"})).unwrap_err();
            let mut known: Vec<String> = err
                .split('`')
                .skip(1)
                .step_by(2)
                .filter(|s| *s != "no_such_action")
                .map(String::from)
                .collect();
            known.sort();
            let mut described: Vec<&str> = doc.actions.iter().map(|a| a.name).collect();
            if doc.tool == Tool::Sleep {
                // The sleep tool is browser_navigate's sleep.
                described = tool_doc(Tool::Navigate)
                    .actions
                    .iter()
                    .map(|a| a.name)
                    .collect();
            }
            described.sort();
            assert_eq!(known, described, "{}", doc.tool);
        }
    }

    #[test]
    fn each_action_lists_exactly_the_fields_serde_reads() {
        for doc in TOOLS {
            for action in doc.actions {
                let probe = json!({"action": action.name, "zz_probe": 1});
                let mut listed: Vec<&str> = action
                    .own_fields()
                    .filter(|f| *f != "ref")
                    .filter(|f| !doc.common().iter().any(|c| c.name == *f))
                    .filter(|f| !READ_BEFORE_SERDE.contains(&(doc.tool, f)))
                    .collect();
                listed.sort();
                match serde_only(doc.tool, probe) {
                    // A unit variant reads nothing (and so refuses nothing).
                    Ok(()) => assert!(
                        listed.is_empty(),
                        "{} {} lists {listed:?}, which serde does not read",
                        doc.tool,
                        action.name
                    ),
                    Err(e) => {
                        assert!(e.starts_with("unknown field `zz_probe`"), "{e}");
                        let mut read: Vec<&str> =
                            e.split('`').skip(3).step_by(2).collect::<Vec<_>>();
                        read.sort();
                        assert_eq!(read, listed, "{} {}", doc.tool, action.name);
                    }
                }
            }
        }
    }

    #[test]
    fn aliases_stand_for_fields_that_exist() {
        for alias in FIELD_ALIASES {
            let doc = tool_doc(alias.tool);
            assert!(
                doc.find_field(alias.canonical).is_some(),
                "{} alias {} stands for {}, which it lacks",
                alias.tool,
                alias.alias,
                alias.canonical
            );
            for action in alias.actions {
                let action = doc
                    .action(action)
                    .unwrap_or_else(|| panic!("{}: no action {action}", alias.tool));
                assert!(doc.accepts(action, alias.canonical), "{}", alias.alias);
            }
            // An alias is never a field of an action it applies to: it would be ambiguous.
            for action in doc.actions {
                if doc.aliases_for(action).any(|a| std::ptr::eq(a, alias)) {
                    assert!(
                        !doc.accepts(action, alias.alias),
                        "{} {}: {} is both a field and an alias",
                        alias.tool,
                        action.name,
                        alias.alias
                    );
                }
            }
        }
        for (tool, alias, action) in ACTION_ALIASES {
            let doc = tool_doc(*tool);
            assert!(doc.action(action).is_some() && doc.action(alias).is_none());
        }
    }

    #[test]
    fn input_schemas_are_objects_with_an_action_enum() {
        let schema = tool_doc(Tool::Interact).input_schema();
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["required"], json!(["action"]));
        let actions = schema["properties"]["action"]["enum"].as_array().unwrap();
        assert!(actions.contains(&json!("click")));
        assert!(schema["properties"]["action"]["description"]
            .as_str()
            .unwrap()
            .contains("type: Focus the field and type text into it (replacing its content) (requires selector or ref, text)"));
        assert!(schema["properties"]["selector"]["description"].is_string());
        assert_eq!(schema["properties"]["ref"]["pattern"], "^e[0-9]+$");
        let content = tool_doc(Tool::Content).input_schema();
        assert!(content["properties"]["action"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("snapshot")));
        assert_eq!(content["properties"]["max_length"]["type"], "integer");
        assert!(content["properties"]["full_page"]["description"]
            .as_str()
            .unwrap()
            .ends_with("(also accepted as fullPage)"));
        // Tools the origin calls without an action.
        let sleep = tool_doc(Tool::Sleep).input_schema();
        assert!(sleep["properties"].get("action").is_none());
        assert_eq!(sleep["required"], json!(["duration"]));
        let execute = tool_doc(Tool::Execute).input_schema();
        assert_eq!(execute["required"], json!([]));
        assert_eq!(
            execute["properties"]["script"]["description"],
            "JavaScript source; may await promises (also accepted as expression)"
        );
        let navigate = tool_doc(Tool::Navigate).input_schema();
        assert!(navigate["properties"]["action"]["description"]
            .as_str()
            .unwrap()
            .contains("(also wait)"));
        assert_eq!(
            navigate["properties"]["timeout"]["maximum"],
            json!(MAX_TIMEOUT_MS)
        );
    }

    #[test]
    fn selector_or_ref_is_one_of_two_in_action_schemas() {
        let doc = tool_doc(Tool::Interact);
        let schema = doc.action_schema(doc.action("hover").unwrap());
        assert_eq!(schema["required"], json!(["action"]));
        assert_eq!(
            schema["allOf"],
            json!([{"oneOf": [{"required": ["selector"]}, {"required": ["ref"]}]}])
        );
        assert!(schema["properties"]["ref"].is_object());
        let err = parse_args(Tool::Interact, &json!({"action": "hover"})).unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.message.as_str()),
            ("selector", "is required (or ref, from browser_snapshot)")
        );
        // A required field with an alias: either spelling will do.
        let content = tool_doc(Tool::Content);
        let schema = content.action_schema(content.action("attribute").unwrap());
        assert_eq!(
            schema["allOf"][1],
            json!({"oneOf": [{"required": ["name"]}, {"required": ["attribute"]}]})
        );
        assert_eq!(
            schema["properties"]["attribute"]["description"],
            "Same as name"
        );
        let navigate = tool_doc(Tool::Navigate);
        let schema = navigate.action_schema(navigate.action("wait_for").unwrap());
        assert_eq!(
            schema["properties"]["action"]["enum"],
            json!(["wait_for", "wait"])
        );
    }

    #[test]
    fn a_fixed_action_schema_has_its_fields_without_action() {
        let schema = tool_doc(Tool::Content).fixed_action_input_schema("snapshot");
        let mut names: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
        names.sort();
        assert_eq!(
            names,
            [
                "instanceId",
                "max_length",
                "ref",
                "selector",
                "tabId",
                "timeout"
            ]
        );
        assert_eq!(schema["required"], json!([]));
        let task = task_tool_input_schema();
        assert_eq!(task["required"], json!(["commands"]));
        assert_eq!(
            task["properties"]["commands"]["items"]["properties"]["tool_name"]["enum"]
                .as_array()
                .unwrap()
                .len(),
            Tool::ALL.len()
        );
    }

    #[test]
    fn action_schemas_require_their_fields() {
        let doc = tool_doc(Tool::Interact);
        let schema = doc.action_schema(doc.action("type").unwrap());
        assert_eq!(schema["required"], json!(["action", "text"]));
        assert_eq!(schema["properties"]["action"]["const"], "type");
        assert!(schema["properties"]["timeout"].is_object());
        assert!(schema["properties"].get("direction").is_none());
        let file = task_file_schema();
        assert_eq!(file["additionalProperties"], false);
        assert!(file["properties"]["expect"].is_object());
    }

    #[test]
    fn the_readme_shows_every_action_with_its_example_and_every_alias() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
            .expect("README.md");
        for doc in TOOLS {
            assert!(
                readme.contains(&format!("| {} |", doc.tool)),
                "{}",
                doc.tool
            );
            for action in doc.actions {
                assert!(
                    readme.contains(&format!("`{}`", action.example)),
                    "README lacks the example of {} {}: {}",
                    doc.tool,
                    action.name,
                    action.example
                );
            }
        }
        for alias in FIELD_ALIASES.iter().filter(|a| a.origin) {
            assert!(
                readme.contains(&format!("`{}`", alias.alias)),
                "README does not name the alias {}",
                alias.alias
            );
        }
        for (_, alias, _) in ACTION_ALIASES {
            assert!(readme.contains(&format!("`{alias}`")), "{alias}");
        }
    }
}
