//! What every tool accepts, written once as data: its actions, the fields each action requires
//! or allows, and what they mean. MCP's tool list, REST's `/api/tools` and the task-file JSON
//! Schema are renderings of it. The tests parse each action's example with the typed parser, so
//! this description and `action/` cannot drift apart.

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
    /// The field's JSON Schema, without its description.
    pub schema: fn() -> Value,
    pub description: &'static str,
}

/// A tool as clients see it.
pub struct ToolDoc {
    pub tool: Tool,
    pub description: &'static str,
    pub actions: &'static [ActionDoc],
    pub fields: &'static [FieldDoc],
}

fn string() -> Value {
    json!({"type": "string"})
}

fn non_empty_string() -> Value {
    json!({"type": "string", "minLength": 1})
}

fn boolean() -> Value {
    json!({"type": "boolean"})
}

fn positive_ms() -> Value {
    json!({"type": "number", "exclusiveMinimum": 0})
}

const SELECTOR: FieldDoc = FieldDoc {
    name: "selector",
    schema: non_empty_string,
    description: "CSS selector of the element (the first match is used)",
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
    schema: positive_ms,
    description: "Deadline for this command in milliseconds (default 30000)",
};

/// Accepted by every action that acts on a page: the tab it acts on.
const TAB_ID: FieldDoc = FieldDoc {
    name: "tabId",
    schema: non_empty_string,
    description: "Tab to act on, e.g. tab_2 (default: the instance's active tab; see browser_tab)",
};

pub const TOOLS: &[ToolDoc] = &[
    ToolDoc {
        tool: Tool::Navigate,
        description:
            "Navigate the page: open a URL, reload, go back or forward, wait for an element.",
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
                optional: &["waitUntil"],
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
                description: "Wait until an element matching the selector is visible",
                required: &["selector"],
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
                description: "Absolute URL to open (http, https, file, data or about:blank)",
            },
            SELECTOR,
            FieldDoc {
                name: "waitUntil",
                schema: || json!({"type": "string", "enum": ["load", "domcontentloaded", "networkidle"]}),
                description: "When the navigation is done: the load event (default), \
                              DOMContentLoaded, or the load event then 500 ms without requests",
            },
            FieldDoc {
                name: "duration",
                schema: || json!({"type": "number", "minimum": 0}),
                description: "Milliseconds to wait",
            },
        ],
    },
    ToolDoc {
        tool: Tool::Interact,
        description: "Interact with the page: click, type into fields, press keys, scroll, choose \
                      options, hover. Elements are checked to be visible, enabled and not covered.",
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
                optional: &[],
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
                description: "Scroll the page",
                required: &["direction"],
                optional: &["amount"],
                example: r#"{"action":"scroll","direction":"down","amount":800}"#,
            },
            ActionDoc {
                name: "select",
                description: "Choose an option of a <select> by value or visible label",
                required: &[SELECTOR_OR_REF, "value"],
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
                optional: &["modifiers"],
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
                schema: || json!({"type": "number", "minimum": 0}),
                description: "Viewport x coordinate in CSS pixels (with y, instead of selector)",
            },
            FieldDoc {
                name: "y",
                schema: || json!({"type": "number", "minimum": 0}),
                description: "Viewport y coordinate in CSS pixels (with x, instead of selector)",
            },
            FieldDoc {
                name: "modifiers",
                schema: || json!({"type": "array", "items": {"type": "string", "enum": ["Control", "Alt", "Shift", "Meta"]}}),
                description: "Modifier keys held during the press",
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
                schema: || json!({"type": "number", "minimum": 0}),
                description: "Pixels to scroll (default 500)",
            },
            FieldDoc {
                name: "value",
                schema: string,
                description: "Option value, or failing that its visible label",
            },
        ],
    },
    ToolDoc {
        tool: Tool::Content,
        description:
            "Read the page: screenshots, text, HTML, a compact DOM of what is in view, or an \
                      accessibility snapshot with element refs.",
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
                name: "get_viewport_dom",
                description: "A compact description of the elements visible in the viewport",
                required: &[],
                optional: &[],
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
                optional: &["paper", "landscape", "background"],
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
                schema: || json!({"type": "integer", "minimum": 1}),
                description: "Largest snapshot in characters (default 20000); a longer one is \
                              cut at a line and says so",
            },
            FieldDoc {
                name: "format",
                schema: || json!({"type": "string", "enum": ["png", "jpeg", "webp"]}),
                description: "Image format (default png)",
            },
            FieldDoc {
                name: "quality",
                schema: || json!({"type": "integer", "minimum": 0, "maximum": 100}),
                description: "Compression quality for jpeg and webp, 0 to 100",
            },
            FieldDoc {
                name: "paper",
                schema: || json!({"type": "string", "enum": ["letter", "legal", "tabloid", "a3", "a4", "a5"]}),
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
                name: "name",
                schema: non_empty_string,
                description: "Attribute name",
            },
            FieldDoc {
                name: "limit",
                schema: || json!({"type": "integer", "minimum": 1}),
                description:
                    "Describe at most this many matches (default 50; the count is always exact)",
            },
        ],
    },
    ToolDoc {
        tool: Tool::Execute,
        description: "Run JavaScript in the page and return its (JSON) result.",
        actions: &[ActionDoc {
            name: "evaluate",
            description: "Evaluate a script: an expression, or statements with `return`",
            required: &["script"],
            optional: &[],
            example: r#"{"action":"evaluate","script":"return document.title"}"#,
        }],
        fields: &[FieldDoc {
            name: "script",
            schema: non_empty_string,
            description: "JavaScript source; may await promises",
        }],
    },
    ToolDoc {
        tool: Tool::Instance,
        description: "Manage browser instances: list them, launch one, close one, or attach a \
                      browser already running elsewhere.",
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
                optional: &["viewport", "user_agent", "headless", "args"],
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
                        "required": ["width", "height"]
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
                schema: || json!({"type": "array", "items": {"type": "string"}}),
                description: "Extra Chromium flags, e.g. --lang=fr",
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
                description: "Delete every cookie of the browser",
                required: &[],
                optional: &[],
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
                description: "Remove every item of localStorage or sessionStorage",
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
                description: "Cookie domain, e.g. .example.com",
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
                schema: || json!({"type": "string", "enum": ["Strict", "Lax", "None"]}),
                description: "SameSite attribute",
            },
            FieldDoc {
                name: "expires",
                schema: || json!({"type": "number", "minimum": 0}),
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
                schema: || json!({"type": "array", "items": {"type": "string", "minLength": 1}}),
                description: "URL wildcard patterns (* any characters, ? one); a request matching \
                              any of them is intercepted",
            },
            FieldDoc {
                name: "resourceTypes",
                schema: || json!({"type": "array", "items": {"type": "string", "enum": crate::task::action::RESOURCE_TYPES}}),
                description: "Resource types to intercept (Document, Script, Image, XHR, Fetch, …)",
            },
            FieldDoc {
                name: "mode",
                schema: || json!({"type": "string", "enum": ["block", "fail"]}),
                description:
                    "block (net::ERR_BLOCKED_BY_CLIENT, default) or fail (net::ERR_FAILED)",
            },
            FieldDoc {
                name: "storage",
                schema: || json!({"type": "string", "enum": ["local", "session"]}),
                description: "localStorage (default) or sessionStorage",
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
                description: "Override the User-Agent header and navigator.userAgent",
                required: &["userAgent"],
                optional: &[],
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
                description: "Emulate a device preset: iPhone 15, iPhone SE, Pixel 7, Galaxy \
                              S23, iPad, Desktop",
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
                description: "Throttle the network: a preset (slow-3g, fast-3g, 4g, wifi, none) \
                              or explicit figures",
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
                schema: || json!({"type": "number", "minimum": 0}),
                description: "Accuracy in metres (default 10)",
            },
            FieldDoc {
                name: "timezoneId",
                schema: non_empty_string,
                description: "IANA time zone, e.g. Europe/Paris",
            },
            FieldDoc {
                name: "name",
                schema: || json!({"type": "string", "enum": ["iPhone 15", "iPhone SE", "Pixel 7", "Galaxy S23", "iPad", "Desktop"]}),
                description: "Device preset",
            },
            FieldDoc {
                name: "enabled",
                schema: boolean,
                description: "true (default) to go offline, false to come back",
            },
            FieldDoc {
                name: "preset",
                schema: || json!({"type": "string", "enum": ["slow-3g", "fast-3g", "4g", "wifi", "none"]}),
                description: "Network preset; none removes throttling",
            },
            FieldDoc {
                name: "downloadKbps",
                schema: || json!({"type": "number", "minimum": 0}),
                description: "Download throughput in kbit/s (0: unlimited)",
            },
            FieldDoc {
                name: "uploadKbps",
                schema: || json!({"type": "number", "minimum": 0}),
                description: "Upload throughput in kbit/s (0: unlimited)",
            },
            FieldDoc {
                name: "latency",
                schema: || json!({"type": "number", "minimum": 0}),
                description: "Added round-trip latency in ms",
            },
        ],
    },
    ToolDoc {
        tool: Tool::Debug,
        description: "Debugging aids: console messages, the dialog policy, performance \
                      metrics, downloads.",
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
                description: "How the next dialogs are answered: accept, dismiss, or default \
                              (dismiss, but accept beforeunload)",
                required: &["policy"],
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
                name: "downloads",
                description: "The instance's downloads with state, size and path (JSON)",
                required: &[],
                optional: &[],
                example: r#"{"action":"downloads"}"#,
            },
            ActionDoc {
                name: "download_wait",
                description: "Wait until the latest download completes (error if it is \
                              cancelled), within the command's deadline",
                required: &[],
                optional: &[],
                example: r#"{"action":"download_wait","timeout":10000}"#,
            },
        ],
        fields: &[
            FieldDoc {
                name: "level",
                schema: || json!({"type": "string", "enum": ["log", "debug", "info", "warning", "error"]}),
                description: "Only messages of this level (warn is accepted for warning)",
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
                name: "promptText",
                schema: string,
                description: "Text a prompt() receives when accepted",
            },
        ],
    },
    ToolDoc {
        tool: Tool::Tab,
        description: "The instance's tabs: list them, open one, close one or all others, choose \
                      the active one. Pages the site opens (window.open, target=_blank) are \
                      tabs too. Every page command acts on the active tab unless it names a tabId.",
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
            description: "URL to open in the new tab",
        }],
    },
];

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

impl ToolDoc {
    pub fn action(&self, name: &str) -> Option<&'static ActionDoc> {
        self.actions.iter().find(|a| a.name == name)
    }

    /// The fields every action of this tool accepts: `timeout`, and `tabId` for tools that
    /// act on a page.
    fn common(&self) -> &'static [FieldDoc] {
        if self.tool == Tool::Instance {
            std::slice::from_ref(&TIMEOUT)
        } else {
            const BOTH: [FieldDoc; 2] = [TIMEOUT, TAB_ID];
            &BOTH
        }
    }

    fn field(&self, name: &str) -> &'static FieldDoc {
        if let Some(common) = self.common().iter().find(|f| f.name == name) {
            return common;
        }
        self.fields
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("{} has no field {name}", self.tool))
    }

    fn property(&self, name: &str) -> Value {
        let field = self.field(name);
        let mut schema = (field.schema)();
        schema["description"] = Value::from(field.description);
        schema
    }

    /// One object schema for the whole tool, as MCP hosts want it (no top-level `oneOf`: several
    /// hosts reject it). `action` is an enum whose description says what each action requires.
    pub fn input_schema(&self) -> Value {
        let summary = self
            .actions
            .iter()
            .map(|a| {
                let mut line = format!("{}: {}", a.name, a.description);
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
        properties.insert(
            "action".into(),
            json!({
                "type": "string",
                "enum": self.actions.iter().map(|a| a.name).collect::<Vec<_>>(),
                "description": summary,
            }),
        );
        for field in self.fields.iter().chain(self.common()) {
            properties.insert(field.name.into(), self.property(field.name));
        }
        json!({
            "type": "object",
            "properties": properties,
            "required": ["action"],
        })
    }

    /// The exact schema of one action: its own fields, and which are required.
    pub fn action_schema(&self, action: &ActionDoc) -> Value {
        let mut properties = Map::new();
        properties.insert(
            "action".into(),
            json!({"const": action.name, "description": action.description}),
        );
        let common: Vec<&str> = self.common().iter().map(|f| f.name).collect();
        for name in action
            .required
            .iter()
            .flat_map(|r| alternatives(r))
            .chain(action.optional.iter().copied())
            .chain(common)
        {
            properties.insert(name.into(), self.property(name));
        }
        let mut required = vec!["action"];
        let mut one_of = Vec::new();
        for entry in action.required {
            if entry.contains('|') {
                one_of.push(json!({
                    "oneOf": alternatives(entry)
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
}

impl ToolDoc {
    /// The input schema of a tool that runs one fixed action of this one (MCP's
    /// `browser_snapshot` is `browser_content` `snapshot`): the action's fields, without
    /// `action`. Alternatives (`selector|ref`) are described, not required.
    pub fn fixed_action_input_schema(&self, action: &str) -> Value {
        let action = self
            .action(action)
            .unwrap_or_else(|| panic!("{} has no action {action}", self.tool));
        let mut schema = self.action_schema(action);
        let map = schema.as_object_mut().expect("an object schema");
        map["properties"]
            .as_object_mut()
            .expect("properties")
            .remove("action");
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
                            "properties": {"action": {"type": "string"}},
                            "required": ["action"]
                        },
                        "intention": {"type": "string", "description": "Why this command"}
                    },
                    "required": ["tool_name", "args"]
                }
            }
        },
        "required": ["commands"]
    })
}

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
                "required": ["tool_name", "args"]
            })
        })
        .collect::<Vec<_>>();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "browser-control task",
        "type": "object",
        "properties": {
            "task_name": {"type": "string", "minLength": 1},
            "task_intention": {"type": "string"},
            "instanceId": {"type": "string"},
            "metadata": {"type": "object"},
            "commands": {"type": "array", "minItems": 1, "items": {"oneOf": commands}}
        },
        "required": ["task_name", "commands"]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::action::parse_args;

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
                for field in action
                    .required
                    .iter()
                    .flat_map(|r| alternatives(r))
                    .chain(action.optional.iter().copied())
                {
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
                    // Without any of its alternatives, the parser names the first.
                    let mut without = args.clone();
                    for field in alternatives(entry) {
                        without.as_object_mut().unwrap().remove(field);
                    }
                    let err = parse_args(doc.tool, &without).expect_err(entry);
                    let first = alternatives(entry).next().unwrap();
                    assert_eq!(err.field, first, "{} {}", doc.tool, action.name);
                    // Any one alternative alone is enough.
                    for field in alternatives(entry) {
                        let mut with = without.clone();
                        let value = match field {
                            "ref" => json!("e1"),
                            _ => args[first].clone(),
                        };
                        with[field] = value;
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
            let err = parse_args(doc.tool, &json!({"action": "no_such_action"})).unwrap_err();
            let mut known: Vec<String> = err
                .message
                .split('`')
                .skip(1)
                .step_by(2)
                .filter(|s| *s != "no_such_action")
                .map(String::from)
                .collect();
            known.sort();
            let mut described: Vec<&str> = doc.actions.iter().map(|a| a.name).collect();
            described.sort();
            assert_eq!(known, described, "{}", doc.tool);
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
    }

    #[test]
    fn a_fixed_action_schema_has_its_fields_without_action() {
        let schema = tool_doc(Tool::Content).fixed_action_input_schema("snapshot");
        let mut names: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
        names.sort();
        assert_eq!(names, ["max_length", "ref", "selector", "tabId", "timeout"]);
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
    }

    #[test]
    fn the_readme_shows_every_action_with_its_example() {
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
    }
}
