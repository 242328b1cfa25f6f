//! Typed actions: each command's `args` parsed once, before any browser work, into an enum per
//! tool, so the executor never looks up loose JSON at run time.

use serde_json::Value;
use std::fmt;
use std::time::Duration;

/// The tools, by their wire names: the spec's five and the ones added for tool parity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tool {
    Navigate,
    Interact,
    Content,
    Execute,
    Instance,
    Network,
    Emulate,
    Debug,
    Tab,
}

impl Tool {
    pub const ALL: [Tool; 9] = [
        Tool::Navigate,
        Tool::Interact,
        Tool::Content,
        Tool::Execute,
        Tool::Instance,
        Tool::Network,
        Tool::Emulate,
        Tool::Debug,
        Tool::Tab,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Tool::Navigate => "browser_navigate",
            Tool::Interact => "browser_interact",
            Tool::Content => "browser_content",
            Tool::Execute => "browser_execute",
            Tool::Instance => "browser_instance",
            Tool::Network => "browser_network",
            Tool::Emulate => "browser_emulate",
            Tool::Debug => "browser_debug",
            Tool::Tab => "browser_tab",
        }
    }

    pub fn from_name(name: &str) -> Option<Tool> {
        Tool::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

mod content;
mod debug;
mod emulate;
mod execute;
mod instance;
mod interact;
mod navigate;
mod network;
mod tab;

pub use content::*;
pub use debug::*;
pub use emulate::*;
pub use execute::*;
pub use instance::*;
pub use interact::*;
pub use navigate::*;
pub use network::*;
pub use tab::*;

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Navigate(NavigateAction),
    Interact(InteractAction),
    Content(ContentAction),
    Execute(ExecuteAction),
    Instance(InstanceAction),
    Network(NetworkAction),
    Emulate(EmulateAction),
    Debug(DebugAction),
    Tab(TabAction),
}

impl Action {
    pub fn tool(&self) -> Tool {
        match self {
            Action::Navigate(_) => Tool::Navigate,
            Action::Interact(_) => Tool::Interact,
            Action::Content(_) => Tool::Content,
            Action::Execute(_) => Tool::Execute,
            Action::Instance(_) => Tool::Instance,
            Action::Network(_) => Tool::Network,
            Action::Emulate(_) => Tool::Emulate,
            Action::Debug(_) => Tool::Debug,
            Action::Tab(_) => Tool::Tab,
        }
    }

    /// The wire name of the action (`goto`, `click`, ...), for metrics and display.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Navigate(a) => match a {
                NavigateAction::Goto { .. } => "goto",
                NavigateAction::Reload { .. } => "reload",
                NavigateAction::Back => "back",
                NavigateAction::Forward => "forward",
                NavigateAction::WaitFor { .. } => "wait_for",
                NavigateAction::Sleep { .. } => "sleep",
            },
            Action::Interact(a) => match a {
                InteractAction::Click { .. } => "click",
                InteractAction::Type { .. } => "type",
                InteractAction::Keyboard { .. } => "keyboard",
                InteractAction::Scroll { .. } => "scroll",
                InteractAction::Select { .. } => "select",
                InteractAction::Hover { .. } => "hover",
                InteractAction::Move { .. } => "move",
                InteractAction::Press { .. } => "press",
                InteractAction::Upload { .. } => "upload",
            },
            Action::Content(a) => match a {
                ContentAction::Screenshot { .. } => "screenshot",
                ContentAction::GetText { .. } => "get_text",
                ContentAction::GetHtml { .. } => "get_html",
                ContentAction::GetViewportDom => "get_viewport_dom",
                ContentAction::Snapshot { .. } => "snapshot",
                ContentAction::Pdf { .. } => "pdf",
                ContentAction::Attribute { .. } => "attribute",
                ContentAction::Query { .. } => "query",
            },
            Action::Execute(ExecuteAction::Evaluate { .. }) => "evaluate",
            Action::Instance(a) => match a {
                InstanceAction::List => "list",
                InstanceAction::Create { .. } => "create",
                InstanceAction::Close { .. } => "close",
                InstanceAction::Attach { .. } => "attach",
            },
            Action::Network(a) => match a {
                NetworkAction::GetCookies { .. } => "get_cookies",
                NetworkAction::SetCookie { .. } => "set_cookie",
                NetworkAction::ClearCookies => "clear_cookies",
                NetworkAction::SetHeaders { .. } => "set_headers",
                NetworkAction::Intercept { .. } => "intercept",
                NetworkAction::GetStorage { .. } => "get_storage",
                NetworkAction::SetStorage { .. } => "set_storage",
                NetworkAction::ClearStorage { .. } => "clear_storage",
            },
            Action::Emulate(a) => match a {
                EmulateAction::Viewport { .. } => "viewport",
                EmulateAction::UserAgent { .. } => "user_agent",
                EmulateAction::Geolocation { .. } => "geolocation",
                EmulateAction::Timezone { .. } => "timezone",
                EmulateAction::Device { .. } => "device",
                EmulateAction::Offline { .. } => "offline",
                EmulateAction::Throttle { .. } => "throttle",
                EmulateAction::Reset => "reset",
            },
            Action::Debug(a) => match a {
                DebugAction::Console { .. } => "console",
                DebugAction::Dialog { .. } => "dialog",
                DebugAction::Performance => "performance",
                DebugAction::Downloads => "downloads",
                DebugAction::DownloadWait => "download_wait",
            },
            Action::Tab(a) => match a {
                TabAction::List => "list",
                TabAction::New { .. } => "new",
                TabAction::Close => "close",
                TabAction::CloseOthers => "close_others",
                TabAction::Activate => "activate",
            },
        }
    }
}

/// A command's parsed arguments: the action plus the optional per-command deadline
/// (`timeout`, in ms, accepted on every action) and the tab it acts on (`tabId`, accepted on
/// every action of a page; the instance's active tab when absent).
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedArgs {
    pub action: Action,
    pub timeout: Option<Duration>,
    pub tab_id: Option<String>,
}

/// Why a command's `args` could not be used. `field` is relative to `args` (e.g. `url`).
#[derive(Debug, Clone, PartialEq)]
pub struct ArgsError {
    pub field: String,
    pub message: String,
}

impl ArgsError {
    fn new(field: &str, message: impl Into<String>) -> Self {
        ArgsError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// How an element ref from a snapshot is written as a selector: `ref: "e12"` is the selector
/// `aria-ref=e12` (as in Playwright). It is not valid CSS, so it cannot be mistaken for it.
pub const REF_SELECTOR_PREFIX: &str = "aria-ref=";

/// Tools whose `selector` may be given as `ref` (an element of the last snapshot) instead.
pub fn accepts_ref(tool: Tool) -> bool {
    matches!(tool, Tool::Interact | Tool::Content)
}

/// `ref` is another way to write `selector`: it becomes the selector `aria-ref=REF`. Both at
/// once is an error; neither, where a selector is required, says that either will do.
fn ref_as_selector(args: &Value) -> Result<Option<Value>, ArgsError> {
    let Some(reference) = args.get("ref").filter(|r| !r.is_null()) else {
        return Ok(None);
    };
    let Some(reference) = reference.as_str() else {
        return Err(ArgsError::new(
            "ref",
            "must be a string (a ref from browser_snapshot, e.g. e12)",
        ));
    };
    let valid = reference.len() > 1
        && reference.starts_with('e')
        && reference[1..].bytes().all(|b| b.is_ascii_digit());
    if !valid {
        return Err(ArgsError::new(
            "ref",
            format!("'{reference}' is not a snapshot ref (e.g. e12): take a snapshot with browser_snapshot"),
        ));
    }
    if args.get("selector").is_some_and(|s| !s.is_null()) {
        return Err(ArgsError::new(
            "ref",
            "give either selector or ref, not both",
        ));
    }
    let mut args = args.clone();
    let map = args.as_object_mut().expect("checked to be an object");
    map.remove("ref");
    map.insert(
        "selector".into(),
        Value::from(format!("{REF_SELECTOR_PREFIX}{reference}")),
    );
    Ok(Some(args))
}

/// Parses `args` for `tool` into a typed action.
pub fn parse_args(tool: Tool, args: &Value) -> Result<ParsedArgs, ArgsError> {
    if !args.is_object() {
        return Err(ArgsError::new("", "must be an object"));
    }
    if accepts_ref(tool) {
        if let Some(rewritten) = ref_as_selector(args)? {
            return parse_args_inner(tool, &rewritten);
        }
    }
    parse_args_inner(tool, args).map_err(|mut e| {
        if accepts_ref(tool) && e.field == "selector" {
            if e.message == "is required" {
                e.message = "is required (or ref, from browser_snapshot)".into();
            } else if let Some(other) = e.message.strip_prefix("is required (or ") {
                e.message = format!("is required (or ref, from browser_snapshot; or {other}");
            }
        }
        e
    })
}

fn parse_args_inner(tool: Tool, args: &Value) -> Result<ParsedArgs, ArgsError> {
    let Value::Object(map) = args else {
        return Err(ArgsError::new("", "must be an object"));
    };
    match map.get("action") {
        None => return Err(ArgsError::new("action", "is required")),
        Some(Value::String(_)) => {}
        Some(_) => return Err(ArgsError::new("action", "must be a string")),
    }
    let timeout = match map.get("timeout") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_f64() {
            Some(ms) if ms > 0.0 && ms.is_finite() => {
                Some(Duration::from_micros((ms * 1000.0) as u64))
            }
            _ => {
                return Err(ArgsError::new(
                    "timeout",
                    "must be a positive number of milliseconds",
                ))
            }
        },
    };
    let tab_id = match map.get("tabId").or_else(|| map.get("tab_id")) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(_) => {
            return Err(ArgsError::new(
                "tabId",
                "must be a tab id (a non-empty string such as tab_2)",
            ))
        }
    };
    if tab_id.is_some() && tool == Tool::Instance {
        return Err(ArgsError::new(
            "tabId",
            "browser_instance acts on the pool, not on a tab",
        ));
    }
    let action = match tool {
        Tool::Navigate => typed(args, Action::Navigate, tool),
        Tool::Interact => typed(args, Action::Interact, tool),
        Tool::Content => typed(args, Action::Content, tool),
        Tool::Execute => typed(args, Action::Execute, tool),
        Tool::Instance => typed(args, Action::Instance, tool),
        Tool::Network => typed(args, Action::Network, tool),
        Tool::Emulate => typed(args, Action::Emulate, tool),
        Tool::Debug => typed(args, Action::Debug, tool),
        Tool::Tab => typed(args, Action::Tab, tool),
    }?;
    if action == Action::Tab(TabAction::Activate) && tab_id.is_none() {
        return Err(ArgsError::new("tabId", "is required"));
    }
    check_values(&action)?;
    if let (Action::Navigate(NavigateAction::Sleep { duration }), Some(t)) = (&action, timeout) {
        if *duration > t.as_secs_f64() * 1000.0 {
            return Err(ArgsError::new(
                "duration",
                format!(
                    "{duration} ms is longer than the command's timeout ({} ms)",
                    t.as_millis()
                ),
            ));
        }
    }
    Ok(ParsedArgs {
        action,
        timeout,
        tab_id,
    })
}

fn typed<T: serde::de::DeserializeOwned>(
    args: &Value,
    wrap: fn(T) -> Action,
    tool: Tool,
) -> Result<Action, ArgsError> {
    serde_json::from_value::<T>(args.clone())
        .map(wrap)
        .map_err(|e| describe_serde_error(tool, &e.to_string()))
}

/// Enum fields other than `action`, told apart by one of the values they expect:
/// (a value serde lists, the field's name).
const ENUM_FIELDS: [(&str, &str); 8] = [
    ("`up`", "direction"),
    ("`load`", "waitUntil"),
    ("`png`", "format"),
    ("`letter`", "paper"),
    ("`local`", "storage"),
    ("`Strict`", "sameSite"),
    ("`block`", "mode"),
    ("`accept`", "policy"),
];

/// Turns serde's message into one naming the field: serde says "missing field `url`",
/// "unknown variant `gotoo`, expected one of ...", "invalid type: integer `5`, expected a string".
fn describe_serde_error(tool: Tool, message: &str) -> ArgsError {
    let quoted = |m: &str| -> Option<String> {
        let start = m.find('`')? + 1;
        let end = start + m[start..].find('`')?;
        Some(m[start..end].to_string())
    };
    if let Some(rest) = message.strip_prefix("missing field ") {
        let field = quoted(rest).unwrap_or_default();
        return ArgsError::new(&field, "is required");
    }
    if message.starts_with("unknown key") {
        return ArgsError::new("key", message.to_string());
    }
    if message.starts_with("unknown variant") {
        let action = quoted(message).unwrap_or_default();
        let expected = message
            .split_once("expected ")
            .map(|(_, e)| e.to_string())
            .unwrap_or_default();
        if let Some((_, field)) = ENUM_FIELDS.iter().find(|(v, _)| expected.contains(v)) {
            return ArgsError::new(
                field,
                format!("unknown {field} '{action}', expected {expected}"),
            );
        }
        return ArgsError::new(
            "action",
            format!("unknown action '{action}' for {tool}, expected {expected}"),
        );
    }
    // serde does not say which field had the wrong type; name the candidates by its message.
    ArgsError::new("", message.to_string())
}

fn non_empty(field: &str, v: &str) -> Result<(), ArgsError> {
    if v.trim().is_empty() {
        Err(ArgsError::new(field, "must not be empty"))
    } else {
        Ok(())
    }
}

fn in_range(field: &str, v: f64, min: f64, max: f64) -> Result<(), ArgsError> {
    if v.is_finite() && (min..=max).contains(&v) {
        Ok(())
    } else {
        Err(ArgsError::new(
            field,
            format!("must be a number from {min} to {max}"),
        ))
    }
}

/// Checks serde cannot express: non-empty selectors, sane amounts, files that exist, known
/// presets. Each tool's file has its own.
fn check_values(action: &Action) -> Result<(), ArgsError> {
    match action {
        Action::Navigate(a) => navigate::check(a),
        Action::Interact(a) => interact::check(a),
        Action::Content(a) => content::check(a),
        Action::Execute(a) => execute::check(a),
        Action::Instance(a) => instance::check(a),
        Action::Network(a) => network::check(a),
        Action::Emulate(a) => emulate::check(a),
        Action::Debug(a) => debug::check(a),
        Action::Tab(a) => tab::check(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(tool: Tool, args: Value) -> Result<Action, ArgsError> {
        parse_args(tool, &args).map(|p| p.action)
    }

    #[test]
    fn every_action_of_every_tool_parses() {
        let cases = [
            (Tool::Navigate, json!({"action":"goto","url":"http://x"})),
            (Tool::Navigate, json!({"action":"reload"})),
            (Tool::Navigate, json!({"action":"back"})),
            (Tool::Navigate, json!({"action":"forward"})),
            (
                Tool::Navigate,
                json!({"action":"wait_for","selector":"#a","timeout":5000}),
            ),
            (Tool::Interact, json!({"action":"click","selector":"#a"})),
            (
                Tool::Interact,
                json!({"action":"type","selector":"#a","text":"é"}),
            ),
            (
                Tool::Interact,
                json!({"action":"keyboard","key":"Control+A"}),
            ),
            (
                Tool::Interact,
                json!({"action":"scroll","direction":"down","amount":500}),
            ),
            (
                Tool::Interact,
                json!({"action":"select","selector":"#s","value":"Red"}),
            ),
            (Tool::Interact, json!({"action":"hover","selector":"#a"})),
            (Tool::Content, json!({"action":"screenshot"})),
            (Tool::Content, json!({"action":"get_text","selector":"#a"})),
            (Tool::Content, json!({"action":"get_html"})),
            (Tool::Content, json!({"action":"get_viewport_dom"})),
            (
                Tool::Execute,
                json!({"action":"evaluate","script":"return 1"}),
            ),
            (Tool::Instance, json!({"action":"list"})),
            (
                Tool::Instance,
                json!({"action":"create","viewport":{"width":800,"height":600},"user_agent":"bc"}),
            ),
            (
                Tool::Instance,
                json!({"action":"close","instanceId":"inst_2"}),
            ),
            (
                Tool::Instance,
                json!({"action":"attach","endpoint":"http://127.0.0.1:9222"}),
            ),
        ];
        for (tool, args) in cases {
            let action = parse(tool, args.clone()).unwrap_or_else(|e| panic!("{args}: {e:?}"));
            assert_eq!(action.tool(), tool);
            assert_eq!(action.name(), args["action"].as_str().unwrap());
        }
    }

    #[test]
    fn typed_fields_carry_their_values() {
        assert_eq!(
            parse(
                Tool::Interact,
                json!({"action":"scroll","direction":"left"})
            )
            .unwrap(),
            Action::Interact(InteractAction::Scroll {
                direction: ScrollDirection::Left,
                amount: DEFAULT_SCROLL_PX
            })
        );
        assert_eq!(
            parse(
                Tool::Content,
                json!({"action":"screenshot","selector":".p","full_page":true})
            )
            .unwrap(),
            Action::Content(ContentAction::Screenshot {
                selector: Some(".p".into()),
                full_page: true,
                format: ImageFormat::Png,
                quality: None,
            })
        );
        let parsed = parse_args(
            Tool::Navigate,
            &json!({"action":"wait_for","selector":"#a","timeout":250}),
        )
        .unwrap();
        assert_eq!(parsed.timeout, Some(Duration::from_millis(250)));
    }

    #[test]
    fn a_ref_stands_for_a_selector() {
        assert_eq!(
            parse(Tool::Interact, json!({"action": "hover", "ref": "e12"})).unwrap(),
            Action::Interact(InteractAction::Hover {
                selector: "aria-ref=e12".into()
            })
        );
        assert_eq!(
            parse(
                Tool::Content,
                json!({"action": "snapshot", "ref": "e3", "max_length": 100})
            )
            .unwrap(),
            Action::Content(ContentAction::Snapshot {
                selector: Some("aria-ref=e3".into()),
                max_length: Some(100)
            })
        );
        let err = parse(
            Tool::Interact,
            json!({"action": "click", "ref": "e1", "selector": "#a"}),
        )
        .unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.message.as_str()),
            ("ref", "give either selector or ref, not both")
        );
        for bad in [json!("12"), json!("e"), json!("e1x"), json!(12)] {
            let err = parse(Tool::Content, json!({"action": "get_text", "ref": bad})).unwrap_err();
            assert_eq!(err.field, "ref", "{bad}");
        }
        let err = parse(Tool::Content, json!({"action": "get_text"})).unwrap_err();
        assert_eq!(err.message, "is required (or ref, from browser_snapshot)");
        // Navigation takes selectors only.
        let err = parse(Tool::Navigate, json!({"action": "wait_for"})).unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.message.as_str()),
            ("selector", "is required")
        );
        let err = parse(
            Tool::Content,
            json!({"action": "snapshot", "max_length": 0}),
        )
        .unwrap_err();
        assert_eq!(err.field, "max_length");
    }

    #[test]
    fn missing_and_mistyped_fields_are_named() {
        let err = parse(Tool::Navigate, json!({"action":"goto"})).unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.message.as_str()),
            ("url", "is required")
        );

        let err = parse(Tool::Interact, json!({"action":"type","selector":"#a"})).unwrap_err();
        assert_eq!(err.field, "text");

        let err = parse(Tool::Interact, json!({"action":"type","text":"x"})).unwrap_err();
        assert_eq!(err.field, "selector");

        let err = parse(Tool::Navigate, json!({"action":"goto","url":5})).unwrap_err();
        assert!(err.message.contains("expected a string"), "{err:?}");

        let err = parse(Tool::Navigate, json!({"url":"x"})).unwrap_err();
        assert_eq!(err.field, "action");

        let err = parse(Tool::Interact, json!({"action":"keyboard","key":"Entr"})).unwrap_err();
        assert_eq!(err.field, "key");
        assert!(err.message.starts_with("unknown key 'Entr'"), "{err:?}");

        let err = parse(Tool::Instance, json!({"action":"close"})).unwrap_err();
        assert_eq!(err.field, "instance_id");
        let err = parse(
            Tool::Instance,
            json!({"action":"attach","endpoint":"localhost:9222"}),
        )
        .unwrap_err();
        assert_eq!(err.field, "endpoint");
        let err = parse(
            Tool::Instance,
            json!({"action":"create","viewport":{"width":5,"height":600}}),
        )
        .unwrap_err();
        assert_eq!(err.field, "viewport");

        let err = parse(Tool::Navigate, json!({"action":"gotoo"})).unwrap_err();
        assert_eq!(err.field, "action");
        assert!(
            err.message
                .contains("unknown action 'gotoo' for browser_navigate"),
            "{err:?}"
        );
        assert!(err.message.contains("`goto`"), "{err:?}");

        let err = parse(
            Tool::Interact,
            json!({"action":"scroll","direction":"sideways"}),
        )
        .unwrap_err();
        assert_eq!(err.field, "direction");

        let err = parse(
            Tool::Navigate,
            json!({"action":"wait_for","selector":"#a","timeout":-1}),
        )
        .unwrap_err();
        assert_eq!(err.field, "timeout");

        let err = parse(Tool::Content, json!({"action":"get_text","selector":"  "})).unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.message.as_str()),
            ("selector", "must not be empty")
        );

        let err = parse(Tool::Navigate, json!("goto")).unwrap_err();
        assert_eq!(err.message, "must be an object");
    }

    #[test]
    fn new_tools_parse_their_typed_values() {
        assert_eq!(
            parse(
                Tool::Navigate,
                json!({"action":"goto","url":"http://x","waitUntil":"networkidle"})
            )
            .unwrap(),
            Action::Navigate(NavigateAction::Goto {
                url: "http://x".into(),
                wait_until: WaitUntil::NetworkIdle
            })
        );
        assert_eq!(
            parse(Tool::Navigate, json!({"action":"reload"})).unwrap(),
            Action::Navigate(NavigateAction::Reload {
                wait_until: WaitUntil::Load
            })
        );
        assert_eq!(
            parse(
                Tool::Emulate,
                json!({"action":"viewport","width":390,"height":844})
            )
            .unwrap(),
            Action::Emulate(EmulateAction::Viewport {
                width: 390,
                height: 844,
                device_scale_factor: 1.0,
                mobile: false
            })
        );
        assert!(matches!(
            parse(Tool::Network, json!({"action":"set_cookie","name":"a","value":"b","url":"http://x","sameSite":"Lax","httpOnly":true})).unwrap(),
            Action::Network(NetworkAction::SetCookie { same_site: Some(SameSite::Lax), http_only: Some(true), .. })
        ));
        assert!(matches!(
            parse(Tool::Interact, json!({"action":"click","x":10,"y":20})).unwrap(),
            Action::Interact(InteractAction::Click {
                selector: None,
                x: Some(_),
                y: Some(_)
            })
        ));
        assert!(device("iphone-15").is_some());
        assert!(device("pixel7").is_some());
        assert_eq!(throttle_preset("slow-3g"), Some((400.0, 400.0, 2000.0)));
    }

    #[test]
    fn bad_arguments_of_new_tools_are_named() {
        let cases = [
            (
                Tool::Navigate,
                json!({"action":"goto","url":"x","waitUntil":"soon"}),
                "waitUntil",
            ),
            (Tool::Navigate, json!({"action":"sleep"}), "duration"),
            (
                Tool::Navigate,
                json!({"action":"sleep","duration":-5}),
                "duration",
            ),
            (
                Tool::Navigate,
                json!({"action":"sleep","duration":5000,"timeout":1000}),
                "duration",
            ),
            (Tool::Interact, json!({"action":"click"}), "selector"),
            (Tool::Interact, json!({"action":"click","x":5}), "y"),
            (
                Tool::Interact,
                json!({"action":"move","selector":"#a","x":1,"y":2}),
                "selector",
            ),
            (
                Tool::Interact,
                json!({"action":"press","key":"a","modifiers":["Hyper"]}),
                "modifiers[0]",
            ),
            (
                Tool::Interact,
                json!({"action":"upload","selector":"#f","files":[]}),
                "files",
            ),
            (
                Tool::Interact,
                json!({"action":"upload","selector":"#f","files":["/no/such/file.txt"]}),
                "files[0]",
            ),
            (
                Tool::Interact,
                json!({"action":"upload","selector":"#f","files":["relative.txt"]}),
                "files[0]",
            ),
            (
                Tool::Content,
                json!({"action":"screenshot","quality":50}),
                "quality",
            ),
            (
                Tool::Content,
                json!({"action":"screenshot","format":"gif"}),
                "format",
            ),
            (
                Tool::Content,
                json!({"action":"screenshot","format":"jpeg","quality":101}),
                "quality",
            ),
            (
                Tool::Content,
                json!({"action":"pdf","paper":"napkin"}),
                "paper",
            ),
            (
                Tool::Content,
                json!({"action":"attribute","selector":"a"}),
                "name",
            ),
            (
                Tool::Content,
                json!({"action":"query","selector":"a","limit":0}),
                "limit",
            ),
            (
                Tool::Network,
                json!({"action":"set_cookie","name":"a","value":"b"}),
                "url",
            ),
            (
                Tool::Network,
                json!({"action":"set_cookie","name":"a","value":"b","url":"http://x","sameSite":"sometimes"}),
                "sameSite",
            ),
            (
                Tool::Network,
                json!({"action":"set_headers","headers":{"bad header":"x"}}),
                "headers",
            ),
            (Tool::Network, json!({"action":"intercept"}), "patterns"),
            (
                Tool::Network,
                json!({"action":"intercept","resourceTypes":["Pictures"]}),
                "resourceTypes[0]",
            ),
            (
                Tool::Network,
                json!({"action":"intercept","patterns":["*"],"mode":"maybe"}),
                "mode",
            ),
            (
                Tool::Network,
                json!({"action":"get_storage","storage":"cookie"}),
                "storage",
            ),
            (
                Tool::Network,
                json!({"action":"set_storage","key":"k"}),
                "value",
            ),
            (
                Tool::Emulate,
                json!({"action":"viewport","width":10,"height":600}),
                "width",
            ),
            (
                Tool::Emulate,
                json!({"action":"viewport","width":400,"height":600,"deviceScaleFactor":0}),
                "deviceScaleFactor",
            ),
            (
                Tool::Emulate,
                json!({"action":"geolocation","latitude":91,"longitude":0}),
                "latitude",
            ),
            (
                Tool::Emulate,
                json!({"action":"device","name":"Nokia 3310"}),
                "name",
            ),
            (Tool::Emulate, json!({"action":"throttle"}), "preset"),
            (
                Tool::Emulate,
                json!({"action":"throttle","preset":"5g"}),
                "preset",
            ),
            (
                Tool::Emulate,
                json!({"action":"throttle","preset":"4g","latency":5}),
                "preset",
            ),
            (Tool::Emulate, json!({"action":"timezone"}), "timezoneId"),
            (
                Tool::Debug,
                json!({"action":"console","level":"shout"}),
                "level",
            ),
            (
                Tool::Debug,
                json!({"action":"dialog","policy":"ignore"}),
                "policy",
            ),
            (Tool::Debug, json!({"action":"dialog"}), "policy"),
        ];
        for (tool, args, field) in cases {
            let err = parse(tool, args.clone()).expect_err(&args.to_string());
            assert_eq!(err.field, field, "{args}: {err:?}");
        }
        let err = parse(
            Tool::Emulate,
            json!({"action":"device","name":"Nokia 3310"}),
        )
        .unwrap_err();
        assert!(err.message.contains("Pixel 7"), "{err:?}");
        let err = parse(
            Tool::Interact,
            json!({"action":"upload","selector":"#f","files":["/no/such/file.txt"]}),
        )
        .unwrap_err();
        assert!(err.message.contains("/no/such/file.txt"), "{err:?}");
    }
}
