//! Typed actions: each command's `args` parsed once, before any browser work, into an enum per
//! tool, so the executor never looks up loose JSON at run time.

use serde::Deserialize;
use serde_json::Value;
use std::fmt;
use std::time::Duration;

use super::keys::KeyChord;

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

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum NavigateAction {
    Goto {
        url: String,
        #[serde(default, rename = "waitUntil", alias = "wait_until")]
        wait_until: WaitUntil,
    },
    Reload {
        #[serde(default, rename = "waitUntil", alias = "wait_until")]
        wait_until: WaitUntil,
    },
    Back,
    Forward,
    WaitFor {
        selector: String,
    },
    /// Waits `duration` ms (bounded by the command's deadline): a pause in a batch.
    Sleep {
        duration: f64,
    },
}

/// When a goto or reload counts as done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WaitUntil {
    /// The load event (the default).
    #[default]
    Load,
    /// DOMContentLoaded: the document is parsed; images and styles may still load.
    #[serde(alias = "domContentLoaded")]
    DomContentLoaded,
    /// The load event, then no network request in flight for 500 ms.
    #[serde(alias = "networkIdle")]
    NetworkIdle,
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
    /// On an element (`selector`) or at a point of the viewport (`x`, `y`).
    Click {
        #[serde(default)]
        selector: Option<String>,
        #[serde(default)]
        x: Option<f64>,
        #[serde(default)]
        y: Option<f64>,
    },
    /// Moves the mouse to an element's centre or to a point.
    Move {
        #[serde(default)]
        selector: Option<String>,
        #[serde(default)]
        x: Option<f64>,
        #[serde(default)]
        y: Option<f64>,
    },
    /// Presses a key with modifiers held, on whatever has the focus.
    Press {
        key: KeyChord,
        #[serde(default)]
        modifiers: Vec<String>,
    },
    /// Puts files into an `<input type=file>`; every path must exist.
    Upload {
        selector: String,
        files: Vec<String>,
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
        #[serde(default, alias = "fullPage")]
        full_page: bool,
        #[serde(default)]
        format: ImageFormat,
        /// 0 to 100, for jpeg and webp.
        #[serde(default)]
        quality: Option<u32>,
    },
    GetText {
        selector: String,
    },
    GetHtml {
        #[serde(default)]
        selector: Option<String>,
    },
    GetViewportDom,
    /// The page as a PDF (headless only).
    Pdf {
        #[serde(default)]
        paper: Paper,
        #[serde(default)]
        landscape: bool,
        /// Print background colours and images.
        #[serde(default, alias = "printBackground")]
        background: bool,
    },
    /// The value of one attribute of the first element matching `selector`.
    Attribute {
        selector: String,
        name: String,
    },
    /// How many elements match, and a short description of each (up to `limit`).
    Query {
        selector: String,
        #[serde(default = "default_query_limit")]
        limit: u32,
    },
}

fn default_query_limit() -> u32 {
    50
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    #[default]
    Png,
    #[serde(alias = "jpg")]
    Jpeg,
    Webp,
}

impl ImageFormat {
    pub fn mime_type(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Webp => "image/webp",
        }
    }
}

/// Paper sizes for `pdf`, in inches (width, height) as Page.printToPDF takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Paper {
    #[default]
    Letter,
    Legal,
    Tabloid,
    #[serde(alias = "A3")]
    A3,
    #[serde(alias = "A4")]
    A4,
    #[serde(alias = "A5")]
    A5,
}

impl Paper {
    pub fn inches(self) -> (f64, f64) {
        match self {
            Paper::Letter => (8.5, 11.0),
            Paper::Legal => (8.5, 14.0),
            Paper::Tabloid => (11.0, 17.0),
            Paper::A3 => (11.69, 16.54),
            Paper::A4 => (8.27, 11.69),
            Paper::A5 => (5.83, 8.27),
        }
    }
}

/// Which Web Storage area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    #[default]
    #[serde(alias = "localStorage")]
    Local,
    #[serde(alias = "sessionStorage")]
    Session,
}

impl StorageKind {
    pub fn js_name(self) -> &'static str {
        match self {
            StorageKind::Local => "localStorage",
            StorageKind::Session => "sessionStorage",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum SameSite {
    #[serde(alias = "strict")]
    Strict,
    #[serde(alias = "lax")]
    Lax,
    #[serde(alias = "none")]
    None,
}

/// What an intercepted request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InterceptMode {
    /// Fails as blocked by the client (`net::ERR_BLOCKED_BY_CLIENT`).
    #[default]
    Block,
    /// Fails as a network failure (`net::ERR_FAILED`).
    Fail,
}

/// browser_network: cookies, extra headers, request interception, Web Storage.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum NetworkAction {
    /// Cookies visible to the current page (or to `urls`).
    GetCookies {
        #[serde(default)]
        urls: Vec<String>,
    },
    SetCookie {
        name: String,
        value: String,
        #[serde(default)]
        url: Option<String>,
        #[serde(default)]
        domain: Option<String>,
        #[serde(default)]
        path: Option<String>,
        #[serde(default)]
        secure: Option<bool>,
        #[serde(default, rename = "httpOnly", alias = "http_only")]
        http_only: Option<bool>,
        #[serde(default, rename = "sameSite", alias = "same_site")]
        same_site: Option<SameSite>,
        /// Seconds since the Unix epoch; a session cookie without it.
        #[serde(default)]
        expires: Option<f64>,
    },
    ClearCookies,
    /// Extra headers sent with every request of the page; `{}` removes them.
    SetHeaders {
        headers: std::collections::BTreeMap<String, String>,
    },
    /// Blocks or fails the requests matching `patterns` (URL wildcards, `*` and `?`) and/or
    /// `resourceTypes`; `enabled: false` stops.
    Intercept {
        #[serde(default = "default_true")]
        enabled: bool,
        #[serde(default)]
        patterns: Vec<String>,
        #[serde(default, rename = "resourceTypes", alias = "resource_types")]
        resource_types: Vec<String>,
        #[serde(default)]
        mode: InterceptMode,
    },
    GetStorage {
        #[serde(default)]
        storage: StorageKind,
        #[serde(default)]
        key: Option<String>,
    },
    SetStorage {
        #[serde(default)]
        storage: StorageKind,
        key: String,
        value: String,
    },
    ClearStorage {
        #[serde(default)]
        storage: StorageKind,
    },
}

fn default_true() -> bool {
    true
}

/// The resource types Fetch patterns accept, as CDP names them.
pub const RESOURCE_TYPES: [&str; 15] = [
    "Document",
    "Stylesheet",
    "Image",
    "Media",
    "Font",
    "Script",
    "TextTrack",
    "XHR",
    "Fetch",
    "Prefetch",
    "EventSource",
    "WebSocket",
    "Manifest",
    "Ping",
    "Other",
];

/// Network conditions presets: (name, download kbit/s, upload kbit/s, latency ms).
pub const THROTTLE_PRESETS: [(&str, f64, f64, f64); 4] = [
    ("slow-3g", 400.0, 400.0, 2000.0),
    ("fast-3g", 1600.0, 750.0, 562.5),
    ("4g", 9000.0, 9000.0, 170.0),
    ("wifi", 30000.0, 15000.0, 2.0),
];

/// A device preset: viewport, pixel ratio, mobile and touch, user agent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Device {
    pub name: &'static str,
    pub width: u32,
    pub height: u32,
    pub scale: f64,
    pub mobile: bool,
    pub touch: bool,
    pub user_agent: &'static str,
}

pub const DEVICES: [Device; 6] = [
    Device {
        name: "iPhone 15",
        width: 393,
        height: 852,
        scale: 3.0,
        mobile: true,
        touch: true,
        user_agent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    },
    Device {
        name: "iPhone SE",
        width: 375,
        height: 667,
        scale: 2.0,
        mobile: true,
        touch: true,
        user_agent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    },
    Device {
        name: "Pixel 7",
        width: 412,
        height: 915,
        scale: 2.625,
        mobile: true,
        touch: true,
        user_agent: "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
    },
    Device {
        name: "Galaxy S23",
        width: 360,
        height: 780,
        scale: 3.0,
        mobile: true,
        touch: true,
        user_agent: "Mozilla/5.0 (Linux; Android 14; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
    },
    Device {
        name: "iPad",
        width: 820,
        height: 1180,
        scale: 2.0,
        mobile: true,
        touch: true,
        user_agent: "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    },
    Device {
        name: "Desktop",
        width: 1280,
        height: 800,
        scale: 1.0,
        mobile: false,
        touch: false,
        user_agent: "",
    },
];

/// The preset named `name`, ignoring case, spaces and dashes (`iphone-15`, `Pixel7`).
pub fn device(name: &str) -> Option<&'static Device> {
    let norm = |s: &str| {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .collect::<String>()
            .to_lowercase()
    };
    DEVICES.iter().find(|d| norm(d.name) == norm(name))
}

/// browser_emulate: what the page believes about its device, place and network.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum EmulateAction {
    Viewport {
        width: u32,
        height: u32,
        #[serde(
            default = "default_scale",
            rename = "deviceScaleFactor",
            alias = "device_scale_factor"
        )]
        device_scale_factor: f64,
        #[serde(default)]
        mobile: bool,
    },
    UserAgent {
        #[serde(rename = "userAgent", alias = "user_agent")]
        user_agent: String,
    },
    Geolocation {
        latitude: f64,
        longitude: f64,
        #[serde(default = "default_accuracy")]
        accuracy: f64,
    },
    Timezone {
        #[serde(rename = "timezoneId", alias = "timezone_id", alias = "timezone")]
        timezone_id: String,
    },
    /// One of [`DEVICES`], by name.
    Device { name: String },
    Offline {
        #[serde(default = "default_true")]
        enabled: bool,
    },
    /// A preset of [`THROTTLE_PRESETS`], `none`, or explicit figures.
    Throttle {
        #[serde(default)]
        preset: Option<String>,
        #[serde(default, rename = "downloadKbps", alias = "download_kbps")]
        download_kbps: Option<f64>,
        #[serde(default, rename = "uploadKbps", alias = "upload_kbps")]
        upload_kbps: Option<f64>,
        /// Added round-trip latency in ms.
        #[serde(default)]
        latency: Option<f64>,
    },
    /// Undoes every emulation: viewport, user agent, touch, geolocation, time zone, network.
    Reset,
}

fn default_scale() -> f64 {
    1.0
}

fn default_accuracy() -> f64 {
    10.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DialogPolicy {
    /// Dismiss, except beforeunload which is accepted (the engine's default).
    #[default]
    Default,
    Accept,
    Dismiss,
}

/// browser_debug: what the page logged, how dialogs are answered, metrics, downloads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum DebugAction {
    /// Console messages since the page opened, optionally of one level, optionally cleared.
    Console {
        #[serde(default)]
        level: Option<String>,
        #[serde(default)]
        clear: bool,
    },
    /// How the page's next dialogs are answered, until set again.
    Dialog {
        policy: DialogPolicy,
        #[serde(default, rename = "promptText", alias = "prompt_text")]
        prompt_text: Option<String>,
    },
    Performance,
    Downloads,
    /// Waits until a download completes (success) or is cancelled (error).
    DownloadWait,
}

/// browser_tab: the instance's tabs. `close`, `close_others` and `activate` act on the tab named
/// by the command's `tabId` (`activate` requires it; the others default to the active tab).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum TabAction {
    List,
    /// Opens a tab (at `url`, else blank); it becomes the active one.
    New {
        #[serde(default)]
        url: Option<String>,
    },
    Close,
    CloseOthers,
    Activate,
}

/// Console levels, as CDP's console API types them (`warn` is `warning`).
pub const CONSOLE_LEVELS: [&str; 5] = ["log", "debug", "info", "warning", "error"];

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

/// Parses `args` for `tool` into a typed action.
pub fn parse_args(tool: Tool, args: &Value) -> Result<ParsedArgs, ArgsError> {
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

/// An element (`selector`) or a point (`x` and `y`), not both.
fn target(selector: &Option<String>, x: &Option<f64>, y: &Option<f64>) -> Result<(), ArgsError> {
    match (selector, x, y) {
        (Some(s), None, None) => non_empty("selector", s),
        (None, Some(x), Some(y)) => {
            in_range("x", *x, 0.0, 100_000.0)?;
            in_range("y", *y, 0.0, 100_000.0)
        }
        (None, None, None) => Err(ArgsError::new(
            "selector",
            "is required (or give x and y for a point)",
        )),
        (None, Some(_), None) => Err(ArgsError::new("y", "is required with x")),
        (None, None, Some(_)) => Err(ArgsError::new("x", "is required with y")),
        (Some(_), _, _) => Err(ArgsError::new(
            "selector",
            "give either selector or x and y, not both",
        )),
    }
}

/// Checks serde cannot express: non-empty selectors, sane amounts, files that exist, known
/// presets.
fn check_values(action: &Action) -> Result<(), ArgsError> {
    match action {
        Action::Navigate(NavigateAction::Goto { url, .. }) => non_empty("url", url),
        Action::Navigate(NavigateAction::Sleep { duration }) => {
            in_range("duration", *duration, 0.0, 3_600_000.0)
        }
        Action::Navigate(NavigateAction::WaitFor { selector })
        | Action::Interact(InteractAction::Hover { selector })
        | Action::Interact(InteractAction::Type { selector, .. })
        | Action::Interact(InteractAction::Select { selector, .. })
        | Action::Content(ContentAction::GetText { selector }) => non_empty("selector", selector),
        Action::Interact(InteractAction::Click { selector, x, y })
        | Action::Interact(InteractAction::Move { selector, x, y }) => target(selector, x, y),
        Action::Interact(InteractAction::Press { modifiers, .. }) => {
            for (i, m) in modifiers.iter().enumerate() {
                if super::keys::Modifier::parse(m).is_none() {
                    return Err(ArgsError::new(
                        &format!("modifiers[{i}]"),
                        format!("unknown modifier '{m}', expected Control, Alt, Shift or Meta"),
                    ));
                }
            }
            Ok(())
        }
        Action::Interact(InteractAction::Upload { selector, files }) => {
            non_empty("selector", selector)?;
            if files.is_empty() {
                return Err(ArgsError::new("files", "must list at least one file"));
            }
            for (i, file) in files.iter().enumerate() {
                let path = std::path::Path::new(file);
                if !path.is_absolute() {
                    return Err(ArgsError::new(
                        &format!("files[{i}]"),
                        format!("must be an absolute path: '{file}'"),
                    ));
                }
                if !path.is_file() {
                    return Err(ArgsError::new(
                        &format!("files[{i}]"),
                        format!("no such file: {file}"),
                    ));
                }
            }
            Ok(())
        }
        Action::Content(ContentAction::Screenshot {
            selector,
            format,
            quality,
            ..
        }) => {
            if let Some(selector) = selector {
                non_empty("selector", selector)?;
            }
            match (format, quality) {
                (ImageFormat::Png, Some(_)) => Err(ArgsError::new(
                    "quality",
                    "applies to jpeg and webp only, not png",
                )),
                (_, Some(q)) if *q > 100 => Err(ArgsError::new("quality", "must be from 0 to 100")),
                _ => Ok(()),
            }
        }
        Action::Content(ContentAction::GetHtml {
            selector: Some(selector),
        }) => non_empty("selector", selector),
        Action::Content(ContentAction::Attribute { selector, name }) => {
            non_empty("selector", selector)?;
            non_empty("name", name)
        }
        Action::Content(ContentAction::Query { selector, limit }) => {
            non_empty("selector", selector)?;
            if *limit == 0 {
                return Err(ArgsError::new("limit", "must be at least 1"));
            }
            Ok(())
        }
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
        Action::Network(a) => check_network(a),
        Action::Tab(TabAction::New { url: Some(url) }) => non_empty("url", url),
        Action::Emulate(a) => check_emulate(a),
        Action::Debug(DebugAction::Console {
            level: Some(level), ..
        }) => {
            if CONSOLE_LEVELS.contains(&level.as_str()) || level == "warn" {
                Ok(())
            } else {
                Err(ArgsError::new(
                    "level",
                    format!(
                        "unknown level '{level}', expected one of {}",
                        CONSOLE_LEVELS.join(", ")
                    ),
                ))
            }
        }
        _ => Ok(()),
    }
}

fn check_network(action: &NetworkAction) -> Result<(), ArgsError> {
    match action {
        NetworkAction::GetCookies { urls } => {
            for (i, url) in urls.iter().enumerate() {
                non_empty(&format!("urls[{i}]"), url)?;
            }
            Ok(())
        }
        NetworkAction::SetCookie {
            name,
            url,
            domain,
            expires,
            ..
        } => {
            non_empty("name", name)?;
            match (url, domain) {
                (None, None) => {
                    return Err(ArgsError::new("url", "is required (or give domain)"));
                }
                (Some(url), _) => non_empty("url", url)?,
                (None, Some(domain)) => non_empty("domain", domain)?,
            }
            if let Some(expires) = expires {
                in_range("expires", *expires, 0.0, 1e11)?;
            }
            Ok(())
        }
        NetworkAction::SetHeaders { headers } => {
            for name in headers.keys() {
                let token = !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
                if !token {
                    return Err(ArgsError::new(
                        "headers",
                        format!("'{name}' is not a valid header name"),
                    ));
                }
            }
            Ok(())
        }
        NetworkAction::Intercept {
            enabled: true,
            patterns,
            resource_types,
            ..
        } => {
            if patterns.is_empty() && resource_types.is_empty() {
                return Err(ArgsError::new(
                    "patterns",
                    "is required to intercept (or give resourceTypes)",
                ));
            }
            for (i, p) in patterns.iter().enumerate() {
                non_empty(&format!("patterns[{i}]"), p)?;
            }
            for (i, t) in resource_types.iter().enumerate() {
                if resource_type(t).is_none() {
                    return Err(ArgsError::new(
                        &format!("resourceTypes[{i}]"),
                        format!(
                            "unknown resource type '{t}', expected one of {}",
                            RESOURCE_TYPES.join(", ")
                        ),
                    ));
                }
            }
            Ok(())
        }
        NetworkAction::SetStorage { key, .. } => non_empty("key", key),
        _ => Ok(()),
    }
}

/// The CDP name of a resource type, matched without regard to case.
pub fn resource_type(name: &str) -> Option<&'static str> {
    RESOURCE_TYPES
        .iter()
        .find(|t| t.eq_ignore_ascii_case(name))
        .copied()
}

fn check_emulate(action: &EmulateAction) -> Result<(), ArgsError> {
    match action {
        EmulateAction::Viewport {
            width,
            height,
            device_scale_factor,
            ..
        } => {
            in_range("width", f64::from(*width), 50.0, 10_000.0)?;
            in_range("height", f64::from(*height), 50.0, 10_000.0)?;
            in_range("deviceScaleFactor", *device_scale_factor, 0.1, 10.0)
        }
        EmulateAction::UserAgent { user_agent } => non_empty("userAgent", user_agent),
        EmulateAction::Geolocation {
            latitude,
            longitude,
            accuracy,
        } => {
            in_range("latitude", *latitude, -90.0, 90.0)?;
            in_range("longitude", *longitude, -180.0, 180.0)?;
            in_range("accuracy", *accuracy, 0.0, 1e7)
        }
        EmulateAction::Timezone { timezone_id } => non_empty("timezoneId", timezone_id),
        EmulateAction::Device { name } => match device(name) {
            Some(_) => Ok(()),
            None => Err(ArgsError::new(
                "name",
                format!(
                    "unknown device '{name}', expected one of {}",
                    DEVICES.map(|d| d.name).join(", ")
                ),
            )),
        },
        EmulateAction::Throttle {
            preset,
            download_kbps,
            upload_kbps,
            latency,
        } => {
            let explicit = [
                ("downloadKbps", download_kbps),
                ("uploadKbps", upload_kbps),
                ("latency", latency),
            ];
            for (field, v) in explicit {
                if let Some(v) = v {
                    in_range(field, *v, 0.0, 1e7)?;
                }
            }
            let any_explicit = explicit.iter().any(|(_, v)| v.is_some());
            match preset {
                Some(_) if any_explicit => Err(ArgsError::new(
                    "preset",
                    "give either a preset or downloadKbps/uploadKbps/latency, not both",
                )),
                Some(p) if throttle_preset(p).is_none() => Err(ArgsError::new(
                    "preset",
                    format!(
                        "unknown preset '{p}', expected one of {}, none",
                        THROTTLE_PRESETS.map(|t| t.0).join(", ")
                    ),
                )),
                None if !any_explicit => Err(ArgsError::new(
                    "preset",
                    "is required (or give downloadKbps, uploadKbps or latency)",
                )),
                _ => Ok(()),
            }
        }
        EmulateAction::Offline { .. } | EmulateAction::Reset => Ok(()),
    }
}

/// (download kbit/s, upload kbit/s, latency ms) of a preset; `none` (or `off`) is no throttling,
/// all zeros.
pub fn throttle_preset(name: &str) -> Option<(f64, f64, f64)> {
    let name = name.to_ascii_lowercase();
    if name == "none" || name == "off" {
        return Some((0.0, 0.0, 0.0));
    }
    THROTTLE_PRESETS
        .iter()
        .find(|p| p.0 == name)
        .map(|p| (p.1, p.2, p.3))
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
