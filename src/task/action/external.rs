//! external_task: a step done by a web application we did not write (a survey, a game, a
//! payment page), which reports back over a token WebSocket (external-task.md). Its arguments
//! are the spec's stage configuration, in the spec's own spellings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{check_url, ArgsError};

/// One external step, as the spec's YAML stage writes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalTask {
    /// The stage's id (`stage_id` for the app); `step_N` when absent.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// A step that is not mandatory may be skipped on timeout without failing the task.
    #[serde(default = "yes")]
    pub mandatory: bool,
    pub target_url: String,
    pub config: ExternalConfig,
}

fn yes() -> bool {
    true
}

/// The stage's `config`. Defaults are the spec template's values.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalConfig {
    pub completion_mode: CompletionMode,
    /// 0: no timeout.
    #[serde(default)]
    pub timeout_ms: u64,
    #[serde(default)]
    pub timeout_action: TimeoutAction,
    /// Whether a person asked on timeout (`prompt`) is offered "retry".
    #[serde(default = "yes")]
    pub allow_retry_on_timeout: bool,
    /// Attempts after the first (0: unlimited).
    #[serde(default = "three")]
    pub max_retries: u32,
    #[serde(default = "yes")]
    pub try_close_on_complete: bool,
    #[serde(default)]
    pub window_mode: WindowMode,
    #[serde(default = "width")]
    pub window_width: u32,
    #[serde(default = "height")]
    pub window_height: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button_open_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reopen_button_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_message: Option<String>,
    #[serde(default = "yes")]
    pub pass_session_id: bool,
    #[serde(default = "yes")]
    pub pass_stage_id: bool,
    /// Extra URL parameters; `${PUBLIC.NAME}` and `${session.KEY}` are filled in.
    #[serde(default)]
    pub custom_params: BTreeMap<String, Value>,
    #[serde(default)]
    pub enable_reverse_control: bool,
    /// The commands the controller may send (with reverse control on): all four by default.
    #[serde(default = "all_commands")]
    pub reverse_commands: Vec<ReverseCommand>,
}

fn three() -> u32 {
    3
}
fn width() -> u32 {
    1200
}
fn height() -> u32 {
    800
}
fn all_commands() -> Vec<ReverseCommand> {
    vec![
        ReverseCommand::Restart,
        ReverseCommand::Close,
        ReverseCommand::Pause,
        ReverseCommand::Resume,
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CompletionMode {
    /// Waits for the app's `complete`.
    Required,
    /// The controller may go on without it (recorded as incomplete).
    Optional,
    /// Waits for a person's "mark as done".
    Manual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeoutAction {
    /// Asks a person: retry, skip or fail.
    #[default]
    Prompt,
    Skip,
    Retry,
    Fail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowMode {
    #[default]
    Popup,
    Fullscreen,
    Tab,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReverseCommand {
    Restart,
    Close,
    Pause,
    Resume,
    Custom,
}

impl ReverseCommand {
    pub fn parse(name: &str) -> Option<ReverseCommand> {
        serde_json::from_value(Value::from(name)).ok()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReverseCommand::Restart => "restart",
            ReverseCommand::Close => "close",
            ReverseCommand::Pause => "pause",
            ReverseCommand::Resume => "resume",
            ReverseCommand::Custom => "custom",
        }
    }
}

/// Where a `${...}` placeholder takes its value from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placeholder {
    /// `${PUBLIC.NAME}`: the server's `--public NAME=VALUE`.
    Public(String),
    /// `${session.KEY}`: the task's `metadata.KEY`.
    Session(String),
}

/// The longest wait a step may ask for: a week.
pub const MAX_EXTERNAL_TIMEOUT_MS: u64 = 7 * 24 * 3600 * 1000;

impl ExternalTask {
    /// The app's `stage_id`.
    pub fn stage_id(&self, index: usize) -> String {
        self.id.clone().unwrap_or_else(|| format!("step_{index}"))
    }

    /// Every placeholder of `custom_params`, with the parameter it is in.
    pub fn placeholders(&self) -> Vec<(String, Placeholder)> {
        let mut found = Vec::new();
        for (name, value) in &self.config.custom_params {
            if let Value::String(text) = value {
                for p in scan(text).into_iter().flatten() {
                    found.push((name.clone(), p));
                }
            }
        }
        found
    }

    /// The URL the app is opened at: `target_url` with `task_token`, `ws_url`, `session_id`
    /// and `stage_id` (as the config says) and the custom parameters, placeholders filled by
    /// `fill` (which says why one cannot be).
    pub fn opened_url(
        &self,
        token: &str,
        ws_url: &str,
        session_id: &str,
        stage_id: &str,
        fill: &dyn Fn(&Placeholder) -> Option<String>,
    ) -> Result<String, String> {
        let mut url = url::Url::parse(self.target_url.trim()).map_err(|e| e.to_string())?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("task_token", token);
            query.append_pair("ws_url", ws_url);
            if self.config.pass_session_id {
                query.append_pair("session_id", session_id);
            }
            if self.config.pass_stage_id {
                query.append_pair("stage_id", stage_id);
            }
            for (name, value) in &self.config.custom_params {
                let text = match value {
                    Value::String(s) => {
                        fill_in(s, fill).map_err(|p| format!("config.custom_params.{name}: {p}"))?
                    }
                    other => other.to_string(),
                };
                query.append_pair(name, &text);
            }
        }
        Ok(url.into())
    }
}

/// `text` with each placeholder replaced; the first that cannot be filled, named.
fn fill_in(text: &str, fill: &dyn Fn(&Placeholder) -> Option<String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map(|e| start + e)
            .ok_or_else(|| "an unclosed ${".to_string())?;
        let inner = &rest[start + 2..end];
        let placeholder = placeholder(inner)?;
        let value = fill(&placeholder).ok_or_else(|| unknown_value(&placeholder))?;
        out.push_str(&value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Why a placeholder has no value.
pub fn unknown_value(p: &Placeholder) -> String {
    match p {
        Placeholder::Public(name) => format!(
            "${{PUBLIC.{name}}} has no value: the server was not started with --public {name}=VALUE"
        ),
        Placeholder::Session(key) => {
            format!("${{session.{key}}} has no value: the task's metadata has no {key}")
        }
    }
}

fn placeholder(inner: &str) -> Result<Placeholder, String> {
    let (space, name) = inner.split_once('.').unwrap_or((inner, ""));
    let name_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match space {
        "PUBLIC" if name_ok => Ok(Placeholder::Public(name.to_string())),
        "session" if name_ok => Ok(Placeholder::Session(name.to_string())),
        _ => Err(format!(
            "unknown placeholder ${{{inner}}}: use ${{PUBLIC.NAME}} (the server's --public values) or ${{session.KEY}} (the task's metadata)"
        )),
    }
}

/// The placeholders of one text; an error for one that is not one.
fn scan(text: &str) -> Result<Vec<Placeholder>, String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let end = rest[start..]
            .find('}')
            .map(|e| start + e)
            .ok_or_else(|| "an unclosed ${".to_string())?;
        found.push(placeholder(&rest[start + 2..end])?);
        rest = &rest[end + 1..];
    }
    Ok(found)
}

/// The value of `${session.KEY}` in the task's metadata: strings as they are, numbers and
/// booleans written out.
pub fn metadata_value(metadata: Option<&Map<String, Value>>, key: &str) -> Option<String> {
    match metadata?.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

/// A stage `config` on its own (a standalone external task's), checked as the tool's is:
/// `(field, message)` on error.
pub fn parse_config(value: &Value) -> Result<ExternalConfig, (String, String)> {
    let schema = crate::task::catalog::external_config_schema();
    crate::task::strict::check_value(&schema, value)
        .map_err(|(path, m)| (format!("config{path}"), m))?;
    serde_json::from_value(value.clone()).map_err(|e| ("config".to_string(), e.to_string()))
}

pub(super) fn parse(map: &Map<String, Value>) -> Result<ExternalTask, ArgsError> {
    let mut map = map.clone();
    map.remove("action");
    let step: ExternalTask = serde_json::from_value(Value::Object(map)).map_err(|e| {
        let message = e.to_string();
        match message.strip_prefix("missing field `") {
            Some(rest) => ArgsError::new(rest.split('`').next().unwrap_or(""), "is required"),
            None => ArgsError::new("config", message),
        }
    })?;
    check_url("target_url", &step.target_url)?;
    for (name, value) in &step.config.custom_params {
        if let Value::String(text) = value {
            scan(text).map_err(|m| ArgsError::new(&format!("config.custom_params.{name}"), m))?;
        }
    }
    if step.config.reverse_commands.is_empty() && step.config.enable_reverse_control {
        return Err(ArgsError::new(
            "config.reverse_commands",
            "lists no command: leave it out for all four (restart, close, pause, resume)",
        ));
    }
    Ok(step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(config: Value) -> Result<ExternalTask, ArgsError> {
        let Value::Object(map) = json!({"target_url": "http://127.0.0.1:9/app", "config": config})
        else {
            unreachable!()
        };
        parse(&map)
    }

    #[test]
    fn placeholders_are_read_and_filled() {
        let s = step(json!({"completion_mode": "required", "custom_params": {
            "study": "${PUBLIC.STUDY_NAME}", "who": "p-${session.participant_number}", "n": 3
        }}))
        .unwrap();
        assert_eq!(
            s.placeholders(),
            vec![
                (
                    "study".to_string(),
                    Placeholder::Public("STUDY_NAME".into())
                ),
                (
                    "who".to_string(),
                    Placeholder::Session("participant_number".into())
                ),
            ]
        );
        let fill = |p: &Placeholder| match p {
            Placeholder::Public(n) if n == "STUDY_NAME" => Some("Memory".to_string()),
            Placeholder::Session(k) if k == "participant_number" => Some("42".to_string()),
            _ => None,
        };
        let url = s
            .opened_url(
                "tok",
                "ws://127.0.0.1:1/api/ws/external-task/tok",
                "task_1",
                "s1",
                &fill,
            )
            .unwrap();
        let parsed = url::Url::parse(&url).unwrap();
        let q: BTreeMap<String, String> = parsed.query_pairs().into_owned().collect();
        assert_eq!(q["task_token"], "tok");
        assert_eq!(q["session_id"], "task_1");
        assert_eq!(q["stage_id"], "s1");
        assert_eq!(q["study"], "Memory");
        assert_eq!(q["who"], "p-42");
        assert_eq!(q["n"], "3");
        let none = |_: &Placeholder| None;
        let err = s.opened_url("t", "w", "a", "b", &none).unwrap_err();
        assert!(err.contains("config.custom_params.study"), "{err}");
        assert!(err.contains("--public STUDY_NAME"), "{err}");
    }

    #[test]
    fn an_unknown_placeholder_is_named() {
        let err =
            step(json!({"completion_mode": "required", "custom_params": {"x": "${user.name}"}}))
                .unwrap_err();
        assert_eq!(err.field, "config.custom_params.x");
        assert!(
            err.message.contains("unknown placeholder ${user.name}"),
            "{}",
            err.message
        );
    }

    #[test]
    fn defaults_are_the_spec_templates() {
        let s = step(json!({"completion_mode": "manual"})).unwrap();
        assert_eq!(s.config.timeout_ms, 0);
        assert_eq!(s.config.timeout_action, TimeoutAction::Prompt);
        assert_eq!(s.config.max_retries, 3);
        assert_eq!(s.config.window_mode, WindowMode::Popup);
        assert_eq!((s.config.window_width, s.config.window_height), (1200, 800));
        assert!(!s.config.enable_reverse_control);
        assert_eq!(s.config.reverse_commands.len(), 4);
        assert!(s.mandatory);
        assert_eq!(s.stage_id(2), "step_2");
    }
}
