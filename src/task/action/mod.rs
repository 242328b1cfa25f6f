//! Typed actions: each command's `args` parsed once, before any browser work, into an enum per
//! tool, so the executor never looks up loose JSON at run time.
//!
//! Parsing is strict, and held to the catalog (src/task/catalog.rs): a field no action lists is
//! an error naming it (with the closest known name), every value is checked against its
//! field's schema, and the other spellings the catalog lists (snake_case, the origin's names)
//! are read as the field they stand for. Only then does serde build the typed action.

use serde_json::{Map, Value};
use std::fmt;
use std::time::Duration;

use super::catalog::{self, ActionDoc, Convert, ToolDoc};
use super::strict;

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
    /// The origin's `sleep`: a pause, as a tool of its own (browser_navigate sleep).
    Sleep,
    /// A step done by an outside web app (external-task.md).
    External,
}

impl Tool {
    pub const ALL: [Tool; 11] = [
        Tool::Navigate,
        Tool::Interact,
        Tool::Content,
        Tool::Execute,
        Tool::Instance,
        Tool::Network,
        Tool::Emulate,
        Tool::Debug,
        Tool::Tab,
        Tool::Sleep,
        Tool::External,
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
            Tool::Sleep => "sleep",
            Tool::External => "external_task",
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
mod external;
mod instance;
mod interact;
mod navigate;
mod network;
mod tab;

pub use content::*;
pub use debug::*;
pub use emulate::*;
pub use execute::*;
pub use external::*;
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
    /// Run by the scheduler (it waits for the app), with the browser opening its window.
    External(Box<ExternalTask>),
}

impl Action {
    /// The tool that runs the action. The `sleep` tool's pause is browser_navigate's `sleep`
    /// action (one engine for both), so it says browser_navigate; a command keeps the name of
    /// the tool it was given with.
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
            Action::External(_) => Tool::External,
        }
    }

    /// Whether the action may change the page's or the browser's state (what an undo
    /// checkpoint is kept for): reads, waits and the pool's management do not.
    pub fn changes_state(&self) -> bool {
        match self {
            Action::Navigate(a) => !matches!(
                a,
                NavigateAction::WaitFor { .. } | NavigateAction::Sleep { .. }
            ),
            Action::Interact(a) => !matches!(
                a,
                InteractAction::Hover { .. }
                    | InteractAction::Move { .. }
                    | InteractAction::Scroll { .. }
            ),
            Action::Execute(_) => true,
            Action::Network(a) => matches!(
                a,
                NetworkAction::SetCookie { .. }
                    | NetworkAction::ClearCookies { .. }
                    | NetworkAction::SetStorage { .. }
                    | NetworkAction::ClearStorage { .. }
            ),
            Action::Tab(a) => !matches!(a, TabAction::List),
            // It opens a window of its own; the page commands act on is left as it was.
            Action::External(_) => false,
            Action::Content(_) | Action::Instance(_) | Action::Emulate(_) | Action::Debug(_) => {
                false
            }
        }
    }

    /// The wire name of the action (`goto`, `click`, ...), for metrics and display. An alias
    /// (`wait`, `new`) is named by the action it stands for.
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
                ContentAction::Get { .. } => "get",
                ContentAction::GetViewportDom { .. } => "get_viewport_dom",
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
                NetworkAction::ClearCookies { .. } => "clear_cookies",
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
                DebugAction::TraceStart { .. } => "trace_start",
                DebugAction::TraceStop => "trace_stop",
                DebugAction::Downloads | DebugAction::DownloadsIn { .. } => "downloads",
                DebugAction::DownloadWait | DebugAction::DownloadWaitFor { .. } => "download_wait",
            },
            Action::Tab(a) => match a {
                TabAction::List => "list",
                TabAction::New { .. } => "new",
                TabAction::Close => "close",
                TabAction::CloseOthers => "close_others",
                TabAction::Activate => "activate",
            },
            Action::External(_) => "external_task",
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

/// Why a command's `args` could not be used. `field` is relative to `args` (e.g. `url`), and
/// is the name the client wrote (an alias, when it used one).
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
/// once is an error.
fn ref_as_selector(map: &mut Map<String, Value>) -> Result<(), ArgsError> {
    let Some(reference) = map.remove("ref") else {
        return Ok(());
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
    if map.contains_key("selector") {
        return Err(ArgsError::new(
            "ref",
            "give either selector or ref, not both",
        ));
    }
    map.insert(
        "selector".into(),
        Value::from(format!("{REF_SELECTOR_PREFIX}{reference}")),
    );
    Ok(())
}

/// The arguments of one command, checked against the catalog and put in canonical spelling:
/// what serde reads, plus what every action shares.
struct Prepared {
    /// `action` and the action's own fields, canonical names only.
    map: Map<String, Value>,
    timeout: Option<Duration>,
    tab_id: Option<String>,
    /// (canonical, as written) for every field given by an alias.
    renamed: Vec<(String, String)>,
}

impl Prepared {
    /// The name the client wrote for the field the parser calls `field` (`attribute` for
    /// `name`), keeping any path inside it (`patterns[1]`).
    fn as_written(&self, field: &str) -> String {
        let head_len = field.find(['[', '.']).unwrap_or(field.len());
        let (head, rest) = field.split_at(head_len);
        match self.renamed.iter().find(|(canonical, _)| canonical == head) {
            Some((_, written)) => format!("{written}{rest}"),
            None => field.to_string(),
        }
    }
}

/// Parses `args` for `tool` into a typed action.
pub fn parse_args(tool: Tool, args: &Value) -> Result<ParsedArgs, ArgsError> {
    let Value::Object(given) = args else {
        return Err(ArgsError::new("", "must be an object"));
    };
    let prepared = prepare(tool, given)?;
    let action = typed_action(tool, &prepared).map_err(|mut e| {
        if accepts_ref(tool) && e.field == "selector" {
            if e.message == "is required" {
                e.message = "is required (or ref, from browser_snapshot)".into();
            } else if let Some(other) = e.message.strip_prefix("is required (or ") {
                e.message = format!("is required (or ref, from browser_snapshot; or {other}");
            }
        }
        e.field = prepared.as_written(&e.field);
        e
    })?;
    if action == Action::Tab(TabAction::Activate) && prepared.tab_id.is_none() {
        return Err(ArgsError::new("tabId", "is required"));
    }
    let timeout = prepared.timeout;
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
        tab_id: prepared.tab_id,
    })
}

/// The catalog's check of one command's arguments: the action is known, every field is one the
/// action takes (or an alias of one), every value fits its field's schema.
fn prepare(tool: Tool, given: &Map<String, Value>) -> Result<Prepared, ArgsError> {
    let doc = catalog::tool_doc(tool);
    // A field given as null is a mistake to say, not a field to ignore: leave it out instead.
    if let Some((key, _)) = given.iter().find(|(_, v)| v.is_null()) {
        return Err(ArgsError::new(
            key,
            "must not be null (leave the field out for its default)",
        ));
    }
    let action_name = match given.get("action") {
        None => match doc.default_action {
            Some(default) => default.to_string(),
            None => return Err(ArgsError::new("action", "is required")),
        },
        Some(Value::String(name)) => name.clone(),
        Some(_) => return Err(ArgsError::new("action", "must be a string")),
    };
    let action = doc.resolve_action(&action_name).ok_or_else(|| {
        let known: Vec<&str> = doc.actions.iter().map(|a| a.name).collect();
        let all_names = known
            .iter()
            .copied()
            .chain(doc.actions.iter().flat_map(|a| doc.action_aliases(a.name)));
        let close = strict::did_you_mean(&action_name, all_names)
            .map(|c| format!("; did you mean {c}?"))
            .unwrap_or_default();
        let listed: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
        ArgsError::new(
            "action",
            format!(
                "unknown action '{action_name}' for {tool}, expected one of {}{close}",
                listed.join(", ")
            ),
        )
    })?;
    let mut prepared = Prepared {
        map: Map::new(),
        timeout: None,
        tab_id: None,
        renamed: Vec::new(),
    };
    let aliases: Vec<_> = doc.aliases_for(action).collect();
    let mut canonical = Map::new();
    for (key, value) in given {
        if key == "action" {
            continue;
        }
        if doc.accepts(action, key) {
            if canonical.contains_key(key) {
                let alias = prepared
                    .renamed
                    .iter()
                    .find(|(c, _)| c == key)
                    .map(|(_, w)| w.clone())
                    .unwrap_or_default();
                return Err(ArgsError::new(
                    key,
                    format!("give either {key} or {alias}, not both"),
                ));
            }
            canonical.insert(key.clone(), value.clone());
            continue;
        }
        if let Some(alias) = aliases.iter().find(|a| a.alias == key) {
            if let Some(written) = prepared
                .renamed
                .iter()
                .find(|(c, _)| c == alias.canonical)
                .map(|(_, w)| w.clone())
                .or_else(|| {
                    given
                        .contains_key(alias.canonical)
                        .then(|| alias.canonical.to_string())
                })
            {
                return Err(ArgsError::new(
                    key,
                    format!("give either {key} or {written}, not both"),
                ));
            }
            let value = match alias.convert {
                Convert::Same => value.clone(),
                Convert::List => Value::Array(vec![value.clone()]),
                Convert::BytesToKbits => match value.as_f64() {
                    Some(bytes) if value.is_number() => {
                        serde_json::Number::from_f64(bytes * 8.0 / 1000.0)
                            .map(Value::Number)
                            .unwrap_or_else(|| value.clone())
                    }
                    _ => value.clone(),
                },
            };
            canonical.insert(alias.canonical.to_string(), value);
            prepared
                .renamed
                .push((alias.canonical.to_string(), key.clone()));
            continue;
        }
        if let Some(why) = doc.not_supported(action, key) {
            return Err(ArgsError::new(key, why));
        }
        return Err(ArgsError::new(
            &crate::task::strict::field_name(key),
            unknown_field(doc, action, key),
        ));
    }
    // Values, against each field's schema (aliases by the field they stand for).
    for (key, value) in &canonical {
        let schema = (doc.field(key).schema)();
        if let Err((path, message)) = strict::check_value(&schema, value) {
            return Err(ArgsError::new(
                &prepared.as_written(&format!("{key}{path}")),
                message,
            ));
        }
    }
    if let Some(timeout) = canonical.remove("timeout") {
        let ms = timeout.as_u64().expect("checked against the schema");
        prepared.timeout = Some(Duration::from_millis(ms));
    }
    if let Some(tab) = canonical.remove("tabId") {
        prepared.tab_id = Some(match tab {
            // The origin numbers tabs; ours are tab_N, the same N.
            Value::Number(n) => format!("tab_{n}"),
            Value::String(s) => s.trim().to_string(),
            _ => unreachable!("checked against the schema"),
        });
    }
    if tool == Tool::Instance && prepared.tab_id.is_some() {
        return Err(ArgsError::new(
            "tabId",
            "browser_instance acts on the pool, not on a tab",
        ));
    }
    // Where to run: read by the doors (REST, MCP) and by task validation, not by the action.
    if tool != Tool::Instance {
        canonical.remove("instanceId");
    }
    if accepts_ref(tool) {
        ref_as_selector(&mut canonical)?;
    }
    canonical.insert("action".into(), Value::from(action.name));
    prepared.map = canonical;
    Ok(prepared)
}

/// Says that `key` is not a field of `action`: with the closest field it takes, or the other
/// actions of the tool that take it, or the fields it does take.
fn unknown_field(doc: &ToolDoc, action: &ActionDoc, key: &str) -> String {
    let mut known: Vec<&str> = action.own_fields().filter(|f| *f != "ref").collect();
    known.extend(doc.aliases_for(action).map(|a| a.alias));
    known.extend(doc.common().iter().map(|f| f.name));
    if let Some(close) = strict::did_you_mean(key, known.iter().copied()) {
        return format!("unknown field; did you mean {close}?");
    }
    let elsewhere: Vec<&str> = doc
        .actions
        .iter()
        .filter(|other| {
            other.name != action.name
                && (other.own_fields().any(|f| f == key)
                    || doc.aliases_for(other).any(|a| a.alias == key))
        })
        .map(|other| other.name)
        .collect();
    let what = if doc.actions.len() == 1 {
        doc.tool.to_string()
    } else {
        format!("{} {}", doc.tool, action.name)
    };
    if !elsewhere.is_empty() {
        return format!(
            "unknown field for {what} (it is a field of {} {})",
            doc.tool,
            elsewhere.join(", ")
        );
    }
    let own: Vec<&str> = action.own_fields().collect();
    if own.is_empty() {
        format!("unknown field; {what} takes no fields but timeout")
    } else {
        format!("unknown field; {what} takes {}", own.join(", "))
    }
}

fn typed_action(tool: Tool, prepared: &Prepared) -> Result<Action, ArgsError> {
    let map = &prepared.map;
    let mut action = match tool {
        Tool::Navigate => typed(map, Action::Navigate, tool),
        Tool::Interact => typed(map, Action::Interact, tool),
        Tool::Content => content::parse(map).map(Action::Content),
        Tool::Execute => execute::parse(map).map(Action::Execute),
        Tool::Instance => instance::parse(map).map(Action::Instance),
        Tool::Network => typed(map, Action::Network, tool),
        Tool::Emulate => typed(map, Action::Emulate, tool),
        Tool::Debug => debug::parse(map).map(Action::Debug),
        Tool::Tab => typed(map, Action::Tab, tool),
        // The pause is browser_navigate's sleep: one engine for both.
        Tool::Sleep => typed(map, Action::Navigate, tool),
        Tool::External => external::parse(map).map(|s| Action::External(Box::new(s))),
    }?;
    check_values(&mut action)?;
    Ok(action)
}

fn typed<T: serde::de::DeserializeOwned>(
    map: &Map<String, Value>,
    wrap: fn(T) -> Action,
    tool: Tool,
) -> Result<Action, ArgsError> {
    serde_typed(map, tool).map(wrap)
}

/// The typed action serde reads from the prepared arguments.
fn serde_typed<T: serde::de::DeserializeOwned>(
    map: &Map<String, Value>,
    tool: Tool,
) -> Result<T, ArgsError> {
    serde_json::from_value::<T>(Value::Object(map.clone()))
        .map_err(|e| describe_serde_error(tool, &e.to_string()))
}

/// Enum fields other than `action`, told apart by one of the values they expect:
/// (a value serde lists, the field's name).
const ENUM_FIELDS: [(&str, &str); 10] = [
    ("`up`", "direction"),
    ("`load`", "waitUntil"),
    ("`png`", "format"),
    ("`html`", "format"),
    ("`letter`", "paper"),
    ("`local`", "storage"),
    ("`Strict`", "sameSite"),
    ("`block`", "mode"),
    ("`accept`", "policy"),
    ("`inProgress`", "state"),
];

/// Turns serde's message into one naming the field: serde says "missing field `url`",
/// "unknown variant `gotoo`, expected one of ...", "invalid type: integer `5`, expected a string".
/// (The catalog's checks come first, so these are mostly what only serde knows.)
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
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let field = quoted(rest).unwrap_or_default();
        return ArgsError::new(&field, format!("unknown field for {tool}"));
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

/// The URL schemes a page can be navigated to. (Which of them a server allows is its URL
/// policy's business, at run time; this only refuses what is not a URL at all.)
const NAVIGABLE_SCHEMES: [&str; 8] = [
    "http",
    "https",
    "file",
    "data",
    "about",
    "blob",
    "chrome",
    "view-source",
];

/// An absolute URL with a scheme a page can be opened at: `not a url`, `example.com` and
/// `localhost:3000` are refused with what was probably meant.
fn check_url(field: &str, url: &str) -> Result<(), ArgsError> {
    non_empty(field, url)?;
    let url = url.trim();
    let looks_like_host = !url.contains(char::is_whitespace)
        && url
            .split(['/', ':'])
            .next()
            .is_some_and(|host| host.contains('.') || host == "localhost");
    match url::Url::parse(url) {
        Ok(parsed) if NAVIGABLE_SCHEMES.contains(&parsed.scheme()) => Ok(()),
        Ok(parsed) => {
            let hint = if looks_like_host {
                format!(" (did you mean http://{url}?)")
            } else {
                String::new()
            };
            Err(ArgsError::new(
                field,
                format!(
                    "'{url}' has the scheme '{}:', which is not one a page opens at (http, https, file, data, about, …){hint}",
                    parsed.scheme()
                ),
            ))
        }
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            let hint = if looks_like_host {
                format!(" (did you mean https://{url}?)")
            } else {
                String::new()
            };
            Err(ArgsError::new(
                field,
                format!("'{url}' is not an absolute URL: it needs a scheme, e.g. https://example.com/{hint}"),
            ))
        }
        Err(e) => Err(ArgsError::new(
            field,
            format!("'{url}' is not a valid URL: {e}"),
        )),
    }
}

/// Checks serde cannot express: non-empty selectors, sane amounts, files that exist, known
/// presets; and the spellings folded into one (press's `ctrl` into its modifiers). Each tool's
/// file has its own.
fn check_values(action: &mut Action) -> Result<(), ArgsError> {
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
        Action::External(_) => Ok(()),
    }
}

/// serde's own reading of `value` as `tool`'s action enum, without the catalog's checks: for
/// tests that compare what serde knows with what the catalog says.
#[cfg(test)]
pub(crate) fn serde_only(tool: Tool, value: Value) -> Result<(), String> {
    fn read<T: serde::de::DeserializeOwned>(value: Value) -> Result<(), String> {
        serde_json::from_value::<T>(value)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
    match tool {
        Tool::Navigate | Tool::Sleep => read::<NavigateAction>(value),
        Tool::Interact => read::<InteractAction>(value),
        Tool::Content => read::<ContentAction>(value),
        Tool::Execute => read::<ExecuteAction>(value),
        Tool::Instance => read::<InstanceAction>(value),
        Tool::Network => read::<NetworkAction>(value),
        Tool::Emulate => read::<EmulateAction>(value),
        Tool::Debug => read::<DebugAction>(value),
        Tool::Tab => read::<TabAction>(value),
        // One action, named as the tool: anything else is an unknown variant, as serde says.
        Tool::External => {
            let mut value = value;
            if let Some(map) = value.as_object_mut() {
                match map.remove("action") {
                    Some(Value::String(a)) if a != "external_task" => {
                        return Err(format!("unknown variant `{a}`, expected `external_task`"))
                    }
                    _ => {}
                }
            }
            read::<ExternalTask>(value)
        }
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
        let scroll = parse(
            Tool::Interact,
            json!({"action":"scroll","direction":"left"}),
        )
        .unwrap();
        assert_eq!(
            scroll,
            Action::Interact(InteractAction::Scroll {
                direction: Some(ScrollDirection::Left),
                amount: None,
                delta_x: None,
                delta_y: None,
                selector: None,
            })
        );
        let Action::Interact(scroll) = scroll else {
            unreachable!()
        };
        assert_eq!(scroll.scroll_deltas(), Some((-DEFAULT_SCROLL_PX, 0.0)));
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
            (
                "selector",
                "is required (or expression, a JavaScript condition to wait for)"
            )
        );
        let err = parse(Tool::Navigate, json!({"action": "wait_for", "ref": "e1"})).unwrap_err();
        assert_eq!(err.field, "ref");
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
        assert_eq!(
            (err.field.as_str(), err.message.as_str()),
            ("url", "must be a string, not 5")
        );

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
        assert_eq!(
            (err.field.as_str(), err.message.as_str()),
            (
                "viewport.width",
                "must be a whole number from 100 to 10000, not 5"
            )
        );

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
                wait_until: WaitUntil::Load,
                ignore_cache: false
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
                json!({"action":"goto","url":"http://x","waitUntil":"soon"}),
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

    fn error(tool: Tool, args: Value) -> (String, String) {
        let e = parse_args(tool, &args).expect_err(&args.to_string());
        (e.field, e.message)
    }

    #[test]
    fn unknown_fields_are_refused_with_what_was_meant() {
        assert_eq!(
            error(
                Tool::Navigate,
                json!({"action":"goto","url":"http://x","wait_untill":"load"})
            ),
            (
                "wait_untill".into(),
                "unknown field; did you mean waitUntil?".into()
            )
        );
        assert_eq!(
            error(Tool::Emulate, json!({"action":"offline","ofline":false})),
            (
                "ofline".into(),
                "unknown field; did you mean offline?".into()
            )
        );
        assert_eq!(
            error(Tool::Navigate, json!({"action":"back","url":"http://x"})),
            (
                "url".into(),
                "unknown field for browser_navigate back (it is a field of browser_navigate goto)"
                    .into()
            )
        );
        assert_eq!(
            error(
                Tool::Content,
                json!({"action":"get_text","selector":"h1","colour":1})
            ),
            (
                "colour".into(),
                "unknown field; browser_content get_text takes selector, ref".into()
            )
        );
        assert_eq!(
            error(
                Tool::Navigate,
                json!({"action":"goto","url":"http://x","timout":5})
            )
            .1,
            "unknown field; did you mean timeout?"
        );
        // Unit actions too, and the common fields are not a free-for-all.
        assert_eq!(
            error(Tool::Navigate, json!({"action":"reload","selector":"#a"})).0,
            "selector"
        );
        assert_eq!(
            error(
                Tool::Instance,
                json!({"action":"list","instanceId":"inst_1"})
            )
            .0,
            "instanceId"
        );
        // Fields of objects inside arguments.
        assert_eq!(
            error(
                Tool::Network,
                json!({"action":"intercept","patterns":[{"urlPattern":"*","resourceTyp":"Image"}]})
            ),
            (
                "patterns[0].resourceTyp".into(),
                "unknown field; did you mean resourceType?".into()
            )
        );
        assert_eq!(
            error(Tool::Navigate, json!({"action":"gotoo"})).1,
            "unknown action 'gotoo' for browser_navigate, expected one of `goto`, `reload`, `back`, `forward`, `wait_for`, `sleep`; did you mean goto?"
        );
    }

    #[test]
    fn the_fields_the_probe_found_dropped_now_mean_what_they_say() {
        // offline: false means online, not offline.
        assert_eq!(
            parse(Tool::Emulate, json!({"action":"offline","offline":false})).unwrap(),
            Action::Emulate(EmulateAction::Offline { enabled: false })
        );
        let Action::Interact(InteractAction::Press {
            modifiers, ctrl, ..
        }) = parse(
            Tool::Interact,
            json!({"action":"press","key":"a","ctrl":true}),
        )
        .unwrap()
        else {
            panic!("a press")
        };
        assert_eq!((modifiers, ctrl), (vec!["Control".to_string()], false));
        assert_eq!(
            parse(
                Tool::Network,
                json!({"action":"get_storage","storageType":"session"})
            )
            .unwrap(),
            Action::Network(NetworkAction::GetStorage {
                storage: StorageKind::Session,
                key: None
            })
        );
        assert_eq!(
            parse(
                Tool::Network,
                json!({"action":"clear_cookies","domain":"example.com"})
            )
            .unwrap(),
            Action::Network(NetworkAction::ClearCookies {
                domain: Some("example.com".into())
            })
        );
    }

    #[test]
    fn null_is_not_a_value_for_an_argument() {
        for args in [
            json!({"action":"wait_for","selector":"#a","timeout":null}),
            json!({"action":"goto","url":null}),
        ] {
            let (field, message) = error(Tool::Navigate, args);
            assert!(["timeout", "url"].contains(&field.as_str()));
            assert_eq!(
                message,
                "must not be null (leave the field out for its default)"
            );
        }
    }

    #[test]
    fn values_that_cannot_be_right_are_refused_with_the_field_named() {
        let timeouts = [
            json!(1.5),
            json!(1e20),
            json!(18446744073709551616.0),
            json!(0),
            json!(-1),
            json!("5000"),
            json!(3_600_001),
        ];
        for bad in timeouts {
            let (field, message) = error(
                Tool::Navigate,
                json!({"action":"wait_for","selector":"#a","timeout":bad}),
            );
            assert_eq!(field, "timeout", "{bad}");
            assert!(
                message.starts_with("must be a whole number from 1 to 3600000"),
                "{bad}: {message}"
            );
        }
        let parsed = parse_args(
            Tool::Navigate,
            &json!({"action":"wait_for","selector":"#a","timeout":3_600_000}),
        )
        .unwrap();
        assert_eq!(parsed.timeout, Some(Duration::from_secs(3600)));
        let urls = [
            ("not a url", "is not an absolute URL"),
            ("example.com/path", "did you mean https://example.com/path?"),
            ("localhost:3000", "did you mean http://localhost:3000?"),
            ("http://", "is not a valid URL"),
            ("mailto:me@example.com", "not one a page opens at"),
        ];
        for (url, said) in urls {
            let (field, message) = error(Tool::Navigate, json!({"action":"goto","url":url}));
            assert_eq!(field, "url", "{url}");
            assert!(message.contains(said), "{url}: {message}");
        }
        for url in [
            "https://example.com",
            "about:blank",
            "data:text/html,<p>hi</p>",
            "file:///tmp/x.html",
            "http://127.0.0.1:8080/a?b#c",
        ] {
            parse(Tool::Navigate, json!({"action":"goto","url":url})).expect(url);
        }
        assert_eq!(
            error(Tool::Tab, json!({"action":"new","url":"nowhere"})).0,
            "url"
        );
        let others = [
            (
                Tool::Content,
                json!({"action":"screenshot","format":"jpeg","quality":50.5}),
                "quality",
            ),
            (Tool::Interact, json!({"action":"click","x":-1,"y":5}), "x"),
            (Tool::Interact, json!({"action":"click","x":5,"y":1e9}), "y"),
            (
                Tool::Interact,
                json!({"action":"scroll","direction":"down","amount":1e12}),
                "amount",
            ),
            (
                Tool::Interact,
                json!({"action":"type","selector":"#a","text":"x","delay":-3}),
                "delay",
            ),
            (Tool::Sleep, json!({"duration":1e20}), "duration"),
            (Tool::Sleep, json!({"duration":"500"}), "duration"),
            (
                Tool::Emulate,
                json!({"action":"viewport","width":390.5,"height":844}),
                "width",
            ),
            (
                Tool::Content,
                json!({"action":"snapshot","max_length":1.5}),
                "max_length",
            ),
            (Tool::Content, json!({"action":"pdf","scale":3}), "scale"),
            (
                Tool::Content,
                json!({"action":"get_viewport_dom","maxElements":0}),
                "maxElements",
            ),
            (
                Tool::Emulate,
                json!({"action":"throttle","latency":1e9}),
                "latency",
            ),
            (
                Tool::Emulate,
                json!({"action":"throttle","downloadThroughput":-1}),
                "downloadThroughput",
            ),
            (
                Tool::Interact,
                json!({"action":"select","selector":"#s","index":-1}),
                "index",
            ),
            (Tool::Tab, json!({"action":"activate","tabId":0}), "tabId"),
            (Tool::Tab, json!({"action":"activate","tabId":1.5}), "tabId"),
        ];
        for (tool, args, field) in others {
            assert_eq!(error(tool, args.clone()).0, field, "{args}");
        }
    }

    #[test]
    fn both_spellings_work_and_not_both_at_once() {
        for args in [
            json!({"action":"goto","url":"http://x","waitUntil":"networkidle"}),
            json!({"action":"goto","url":"http://x","wait_until":"networkidle"}),
        ] {
            assert_eq!(
                parse(Tool::Navigate, args).unwrap(),
                Action::Navigate(NavigateAction::Goto {
                    url: "http://x".into(),
                    wait_until: WaitUntil::NetworkIdle
                })
            );
        }
        assert_eq!(
            parse_args(Tool::Tab, &json!({"action":"activate","tab_id":"tab_3"}))
                .unwrap()
                .tab_id
                .as_deref(),
            Some("tab_3")
        );
        assert_eq!(
            error(
                Tool::Content,
                json!({"action":"screenshot","fullPage":true,"full_page":false})
            )
            .1,
            "give either fullPage or full_page, not both"
        );
        assert_eq!(
            error(
                Tool::Emulate,
                json!({"action":"timezone","timezone":"UTC","timezone_id":"UTC"})
            )
            .1,
            "give either timezone_id or timezone, not both"
        );
        // An error in an alias names the alias, as it was written.
        assert_eq!(
            error(
                Tool::Emulate,
                json!({"action":"device","device":"Nokia 3310"})
            )
            .0,
            "device"
        );
        assert_eq!(
            error(
                Tool::Content,
                json!({"action":"attribute","selector":"a","attribute":""})
            ),
            ("attribute".into(), "must not be empty".into())
        );
    }

    #[test]
    fn the_origins_documented_calls_parse_as_they_mean() {
        // Calls as MoonsurfAI/browser-control's tool docs write them, with what they become.
        let calls: Vec<(Tool, Value, &str)> = vec![
            (
                Tool::Navigate,
                json!({"action":"wait","selector":"#main-content"}),
                "wait_for",
            ),
            (
                Tool::Navigate,
                json!({"action":"wait","expression":"document.readyState === 'complete'","timeout":5000}),
                "wait_for",
            ),
            (
                Tool::Navigate,
                json!({"action":"reload","ignoreCache":true}),
                "reload",
            ),
            (
                Tool::Navigate,
                json!({"action":"goto","instanceId":"inst_1","url":"https://example.com","waitUntil":"networkidle"}),
                "goto",
            ),
            (
                Tool::Content,
                json!({"action":"screenshot","fullPage":true}),
                "screenshot",
            ),
            (
                Tool::Content,
                json!({"action":"pdf","printBackground":true,"landscape":true}),
                "pdf",
            ),
            (
                Tool::Content,
                json!({"action":"pdf","paperWidth":8.5,"paperHeight":11,"scale":0.8}),
                "pdf",
            ),
            (
                Tool::Content,
                json!({"action":"pdf","format":"A4","landscape":true}),
                "pdf",
            ),
            (
                Tool::Content,
                json!({"action":"get","format":"html"}),
                "get",
            ),
            (
                Tool::Content,
                json!({"action":"get","selector":"#main-content","format":"text"}),
                "get",
            ),
            (
                Tool::Content,
                json!({"action":"attribute","selector":"a.main-link","attribute":"href"}),
                "attribute",
            ),
            (
                Tool::Content,
                json!({"action":"get_viewport_dom","maxElements":100,"domDepth":3}),
                "get_viewport_dom",
            ),
            (
                Tool::Content,
                json!({"action":"get_viewport_dom","minSize":20}),
                "get_viewport_dom",
            ),
            (
                Tool::Interact,
                json!({"action":"press","key":"Enter","shift":true}),
                "press",
            ),
            (
                Tool::Interact,
                json!({"action":"press","key":"a","modifiers":["ctrl"]}),
                "press",
            ),
            (
                Tool::Interact,
                json!({"action":"scroll","deltaY":-500}),
                "scroll",
            ),
            (
                Tool::Interact,
                json!({"action":"scroll","selector":".scrollable-container","deltaY":200}),
                "scroll",
            ),
            (
                Tool::Interact,
                json!({"action":"select","selector":"#country","label":"United States"}),
                "select",
            ),
            (
                Tool::Interact,
                json!({"action":"select","selector":"#country","index":2}),
                "select",
            ),
            (
                Tool::Interact,
                json!({"action":"type","selector":"#search","text":"q","delay":0}),
                "type",
            ),
            (
                Tool::Execute,
                json!({"expression":"document.title"}),
                "evaluate",
            ),
            (
                Tool::Execute,
                json!({"expression":"fetch('/api').then(r => r.json())","awaitPromise":true}),
                "evaluate",
            ),
            (Tool::Instance, json!({"action":"new"}), "create"),
            (
                Tool::Instance,
                json!({"action":"new","mode":"chromium","headless":true}),
                "create",
            ),
            (
                Tool::Instance,
                json!({"action":"close","instanceId":"inst_2"}),
                "close",
            ),
            (
                Tool::Network,
                json!({"action":"get_storage","storageType":"localStorage","key":"user_settings"}),
                "get_storage",
            ),
            (
                Tool::Network,
                json!({"action":"clear_storage","storageType":"all"}),
                "clear_storage",
            ),
            (
                Tool::Network,
                json!({"action":"clear_cookies","domain":"example.com"}),
                "clear_cookies",
            ),
            (
                Tool::Network,
                json!({"action":"intercept","enabled":true,"patterns":[{"urlPattern":"*","resourceType":"Image"}]}),
                "intercept",
            ),
            (
                Tool::Network,
                json!({"action":"intercept","pattern":"*.png","resourceType":"image"}),
                "intercept",
            ),
            (
                Tool::Emulate,
                json!({"action":"device","device":"iPhone 14"}),
                "device",
            ),
            (
                Tool::Emulate,
                json!({"action":"device","device":"Samsung Galaxy S23"}),
                "device",
            ),
            (
                Tool::Emulate,
                json!({"action":"offline","offline":true}),
                "offline",
            ),
            (
                Tool::Emulate,
                json!({"action":"throttle","downloadThroughput":500000,"uploadThroughput":250000,"latency":100}),
                "throttle",
            ),
            (
                Tool::Emulate,
                json!({"action":"throttle","preset":"offline"}),
                "throttle",
            ),
            (
                Tool::Emulate,
                json!({"action":"user_agent","userAgent":"Mozilla/5.0","platform":"Win32"}),
                "user_agent",
            ),
            (
                Tool::Debug,
                json!({"action":"dialog","dialogAction":"accept","promptText":"My answer"}),
                "dialog",
            ),
            (
                Tool::Debug,
                json!({"action":"console","level":"all","clear":true}),
                "console",
            ),
            (
                Tool::Debug,
                json!({"action":"trace_start","categories":["devtools.timeline"]}),
                "trace_start",
            ),
            (Tool::Debug, json!({"action":"trace_stop"}), "trace_stop"),
            (
                Tool::Debug,
                json!({"action":"downloads","state":"in_progress"}),
                "downloads",
            ),
            (
                Tool::Debug,
                json!({"action":"download_wait","downloadId":"abc123","timeout":60000}),
                "download_wait",
            ),
            (Tool::Tab, json!({"action":"close","tabId":124}), "close"),
            (
                Tool::Tab,
                json!({"action":"close_others","keepTabId":123}),
                "close_others",
            ),
            (Tool::Sleep, json!({"duration":2000}), "sleep"),
        ];
        for (tool, args, name) in calls {
            let parsed = parse_args(tool, &args).unwrap_or_else(|e| panic!("{args}: {e:?}"));
            assert_eq!(parsed.action.name(), name, "{args}");
        }
        // What they mean, where it is not only a name.
        let p = |tool, args: Value| parse_args(tool, &args).unwrap();
        assert_eq!(
            p(Tool::Tab, json!({"action":"close","tabId":124}))
                .tab_id
                .as_deref(),
            Some("tab_124")
        );
        assert_eq!(
            p(
                Tool::Tab,
                json!({"action":"close_others","keepTabId":"tab_3"})
            )
            .tab_id
            .as_deref(),
            Some("tab_3")
        );
        assert_eq!(
            p(
                Tool::Emulate,
                json!({"action":"throttle","downloadThroughput":500000,"uploadThroughput":250000})
            )
            .action,
            Action::Emulate(EmulateAction::Throttle {
                preset: None,
                download_kbps: Some(4000.0),
                upload_kbps: Some(2000.0),
                latency: None
            })
        );
        assert_eq!(
            p(
                Tool::Network,
                json!({"action":"intercept","pattern":"*.png","resourceType":"image"})
            )
            .action,
            Action::Network(NetworkAction::Intercept {
                enabled: true,
                patterns: vec![InterceptPattern::Url("*.png".into())],
                resource_types: vec!["image".into()],
                mode: InterceptMode::Block
            })
        );
        assert_eq!(
            p(Tool::Debug, json!({"action":"console","level":"all"})).action,
            Action::Debug(DebugAction::Console {
                level: None,
                clear: false
            })
        );
        assert_eq!(
            p(
                Tool::Debug,
                json!({"action":"downloads","state":"complete"})
            )
            .action,
            Action::Debug(DebugAction::DownloadsIn {
                state: DownloadState::Completed
            })
        );
        assert_eq!(
            p(Tool::Sleep, json!({"duration":500})).action,
            Action::Navigate(NavigateAction::Sleep { duration: 500.0 })
        );
        assert_eq!(
            p(Tool::Execute, json!({"expression":"1 + 1"})).action,
            Action::Execute(ExecuteAction::Evaluate {
                script: "1 + 1".into()
            })
        );
    }

    #[test]
    fn the_origins_fields_without_a_counterpart_say_so() {
        let cases = [
            (
                Tool::Instance,
                json!({"action":"new","url":"https://example.com"}),
                "url",
                "browser_navigate goto",
            ),
            (
                Tool::Instance,
                json!({"action":"new","mode":"chrome","profile":"Default"}),
                "profile",
                "temporary profile",
            ),
            (
                Tool::Instance,
                json!({"action":"new","mode":"chrome"}),
                "mode",
                "not supported",
            ),
            (
                Tool::Content,
                json!({"action":"screenshot","clip":{"x":0,"y":0,"width":10,"height":10}}),
                "clip",
                "selector",
            ),
            (
                Tool::Content,
                json!({"action":"get_viewport_dom","includeHidden":true}),
                "includeHidden",
                "not supported",
            ),
            (
                Tool::Network,
                json!({"action":"set_storage","storageType":"all","key":"k","value":"v"}),
                "storageType",
                "one area",
            ),
            (
                Tool::Debug,
                json!({"action":"dialog","dialogAction":"accept","policy":"accept"}),
                "dialogAction",
                "not both",
            ),
        ];
        for (tool, args, field, said) in cases {
            let (f, message) = error(tool, args.clone());
            assert_eq!(f, field, "{args}: {message}");
            assert!(message.contains(said), "{args}: {message}");
        }
    }
}
