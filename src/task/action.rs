//! Typed actions: each command's `args` parsed once, before any browser work, into an enum per
//! tool, so the executor never looks up loose JSON at run time.

use serde::Deserialize;
use serde_json::Value;
use std::fmt;
use std::time::Duration;

use super::keys::KeyChord;

/// The five tools of the spec, by their wire names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tool {
    Navigate,
    Interact,
    Content,
    Execute,
    Instance,
}

impl Tool {
    pub const ALL: [Tool; 5] = [
        Tool::Navigate,
        Tool::Interact,
        Tool::Content,
        Tool::Execute,
        Tool::Instance,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Tool::Navigate => "browser_navigate",
            Tool::Interact => "browser_interact",
            Tool::Content => "browser_content",
            Tool::Execute => "browser_execute",
            Tool::Instance => "browser_instance",
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

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum NavigateAction {
    Goto { url: String },
    Reload,
    Back,
    Forward,
    WaitFor { selector: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScrollDirection {
    Up,
    Down,
    Left,
    Right,
}

/// Pixels scrolled when a scroll command gives no `amount`.
pub const DEFAULT_SCROLL_PX: f64 = 500.0;

fn default_scroll() -> f64 {
    DEFAULT_SCROLL_PX
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum InteractAction {
    Click {
        selector: String,
    },
    Type {
        selector: String,
        text: String,
    },
    Keyboard {
        key: KeyChord,
    },
    Scroll {
        direction: ScrollDirection,
        #[serde(default = "default_scroll")]
        amount: f64,
    },
    /// `value` matches an option's value or, failing that, its visible label.
    Select {
        selector: String,
        value: String,
    },
    Hover {
        selector: String,
    },
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ContentAction {
    Screenshot {
        #[serde(default)]
        selector: Option<String>,
        #[serde(default)]
        full_page: bool,
    },
    GetText {
        selector: String,
    },
    GetHtml {
        #[serde(default)]
        selector: Option<String>,
    },
    GetViewportDom,
    /// An accessibility-tree outline of the page (or of one element), each interactive
    /// element with a ref (`e12`) that `ref` arguments accept in place of a selector.
    Snapshot {
        #[serde(default)]
        selector: Option<String>,
        #[serde(default)]
        max_length: Option<usize>,
    },
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ExecuteAction {
    Evaluate { script: String },
}

/// Instance management: these act on the scheduler's pool, not on a page.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum InstanceAction {
    List,
    /// Launches a new browser with its own queue.
    Create {
        #[serde(default)]
        viewport: Option<ViewportSize>,
        #[serde(default, alias = "userAgent")]
        user_agent: Option<String>,
        #[serde(default = "default_headless")]
        headless: bool,
        /// Extra Chromium command-line flags, e.g. `--lang=fr`.
        #[serde(default)]
        args: Vec<String>,
    },
    /// Closes an instance: its queued tasks are cancelled, its browser closed.
    Close {
        #[serde(alias = "instanceId")]
        instance_id: String,
    },
    /// Adds an already-running browser (`ws://…` or `http://host:port`) to the pool.
    Attach {
        endpoint: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct ViewportSize {
    pub width: u32,
    pub height: u32,
}

fn default_headless() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Navigate(NavigateAction),
    Interact(InteractAction),
    Content(ContentAction),
    Execute(ExecuteAction),
    Instance(InstanceAction),
}

impl Action {
    pub fn tool(&self) -> Tool {
        match self {
            Action::Navigate(_) => Tool::Navigate,
            Action::Interact(_) => Tool::Interact,
            Action::Content(_) => Tool::Content,
            Action::Execute(_) => Tool::Execute,
            Action::Instance(_) => Tool::Instance,
        }
    }

    /// The wire name of the action (`goto`, `click`, ...), for metrics and display.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Navigate(a) => match a {
                NavigateAction::Goto { .. } => "goto",
                NavigateAction::Reload => "reload",
                NavigateAction::Back => "back",
                NavigateAction::Forward => "forward",
                NavigateAction::WaitFor { .. } => "wait_for",
            },
            Action::Interact(a) => match a {
                InteractAction::Click { .. } => "click",
                InteractAction::Type { .. } => "type",
                InteractAction::Keyboard { .. } => "keyboard",
                InteractAction::Scroll { .. } => "scroll",
                InteractAction::Select { .. } => "select",
                InteractAction::Hover { .. } => "hover",
            },
            Action::Content(a) => match a {
                ContentAction::Screenshot { .. } => "screenshot",
                ContentAction::GetText { .. } => "get_text",
                ContentAction::GetHtml { .. } => "get_html",
                ContentAction::GetViewportDom => "get_viewport_dom",
                ContentAction::Snapshot { .. } => "snapshot",
            },
            Action::Execute(ExecuteAction::Evaluate { .. }) => "evaluate",
            Action::Instance(a) => match a {
                InstanceAction::List => "list",
                InstanceAction::Create { .. } => "create",
                InstanceAction::Close { .. } => "close",
                InstanceAction::Attach { .. } => "attach",
            },
        }
    }
}

/// A command's parsed arguments: the action plus the optional per-command deadline
/// (`timeout`, in ms, accepted on every action).
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedArgs {
    pub action: Action,
    pub timeout: Option<Duration>,
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
        if accepts_ref(tool) && e.field == "selector" && e.message == "is required" {
            e.message = "is required (or ref, from browser_snapshot)".into();
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
    let action = match tool {
        Tool::Navigate => typed(args, Action::Navigate, tool),
        Tool::Interact => typed(args, Action::Interact, tool),
        Tool::Content => typed(args, Action::Content, tool),
        Tool::Execute => typed(args, Action::Execute, tool),
        Tool::Instance => typed(args, Action::Instance, tool),
    }?;
    check_values(&action)?;
    Ok(ParsedArgs { action, timeout })
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
        if expected.contains("`up`") {
            return ArgsError::new(
                "direction",
                format!("unknown direction '{action}', expected {expected}"),
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

/// Checks serde cannot express: non-empty selectors, sane amounts.
fn check_values(action: &Action) -> Result<(), ArgsError> {
    let non_empty = |field: &str, v: &str| {
        if v.trim().is_empty() {
            Err(ArgsError::new(field, "must not be empty"))
        } else {
            Ok(())
        }
    };
    match action {
        Action::Navigate(NavigateAction::Goto { url }) => non_empty("url", url),
        Action::Navigate(NavigateAction::WaitFor { selector })
        | Action::Interact(InteractAction::Click { selector })
        | Action::Interact(InteractAction::Hover { selector })
        | Action::Interact(InteractAction::Type { selector, .. })
        | Action::Interact(InteractAction::Select { selector, .. })
        | Action::Content(ContentAction::GetText { selector }) => non_empty("selector", selector),
        Action::Content(ContentAction::Screenshot {
            selector: Some(selector),
            ..
        })
        | Action::Content(ContentAction::GetHtml {
            selector: Some(selector),
        })
        | Action::Content(ContentAction::Snapshot {
            selector: Some(selector),
            ..
        }) => non_empty("selector", selector),
        Action::Content(ContentAction::Snapshot {
            max_length: Some(0),
            ..
        }) => Err(ArgsError::new(
            "max_length",
            "must be a positive number of characters",
        )),
        Action::Interact(InteractAction::Scroll { amount, .. }) => {
            if amount.is_finite() && *amount >= 0.0 {
                Ok(())
            } else {
                Err(ArgsError::new(
                    "amount",
                    "must be a non-negative number of pixels",
                ))
            }
        }
        Action::Execute(ExecuteAction::Evaluate { script }) => non_empty("script", script),
        Action::Instance(InstanceAction::Close { instance_id }) => {
            non_empty("instance_id", instance_id)
        }
        Action::Instance(InstanceAction::Attach { endpoint }) => {
            let scheme_ok = ["ws://", "wss://", "http://", "https://"]
                .iter()
                .any(|s| endpoint.starts_with(s));
            if scheme_ok {
                Ok(())
            } else {
                Err(ArgsError::new(
                    "endpoint",
                    "must be a DevTools endpoint: ws://… or http://host:port",
                ))
            }
        }
        Action::Instance(InstanceAction::Create {
            viewport: Some(v), ..
        }) if !(100..=10_000).contains(&v.width) || !(100..=10_000).contains(&v.height) => Err(
            ArgsError::new("viewport", "width and height must be between 100 and 10000"),
        ),
        _ => Ok(()),
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
                full_page: true
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
            parse(Tool::Interact, json!({"action": "click", "ref": "e12"})).unwrap(),
            Action::Interact(InteractAction::Click {
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
}
