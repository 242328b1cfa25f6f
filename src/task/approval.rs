//! Approval gates: which commands need a person's yes before they run, and the record of each
//! request and its answer. The policy is the operator's (`--policy FILE`); a task may add rules
//! of its own, stricter only. Deciding needs facts about the page for some rules (the element's
//! text, the page's URL): the scheduler gathers them from the browser and asks here.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::action::{Action, DebugAction, InteractAction, NavigateAction, NetworkAction};
use super::strict;

/// What a rule says of the commands it matches. Ordered: the strictest wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Allow,
    Confirm,
    Deny,
}

/// What an unanswered request becomes when its time is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnTimeout {
    #[default]
    Reject,
    Approve,
}

/// Ready-made kinds of commands a rule can name instead of tools and actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// A click on (or Enter in) a submit control or a form.
    FormSubmit,
    Upload,
    Download,
    Evaluate,
    Cookies,
}

/// Which commands a rule is about; every field given must match.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Match {
    pub tool: Option<String>,
    pub action: Option<String>,
    /// A glob (`*` for any run of characters) on the page's URL or on goto's target.
    pub url: Option<String>,
    /// A regular expression on the text of the element acted on.
    pub text: Option<String>,
    pub category: Option<Category>,
    #[serde(skip)]
    url_re: Option<regex::Regex>,
    #[serde(skip)]
    text_re: Option<regex::Regex>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    #[serde(rename = "match")]
    pub matches: Match,
    pub decision: Decision,
    /// How long a person has to answer (`confirm` only); the policy's default otherwise.
    #[serde(skip_serializing_if = "Option::is_none", with = "opt_duration")]
    pub timeout: Option<Duration>,
    pub on_timeout: OnTimeout,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The rules of the operator, or of one task.
#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    pub default: Decision,
    /// How long a `confirm` without its own timeout waits.
    #[serde(with = "opt_duration")]
    pub timeout: Option<Duration>,
    pub rules: Vec<Rule>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            default: Decision::Allow,
            timeout: Some(DEFAULT_TIMEOUT),
            rules: Vec::new(),
        }
    }
}

/// How long a request waits when neither its rule nor the policy says.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// The longest wait a rule may ask for.
const MAX_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

/// Facts about the page a command would act on, for the rules that need them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub url: Option<String>,
    pub element_text: Option<String>,
    pub element_is_submit: bool,
    pub element_in_form: bool,
}

/// Whose rule decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleSource {
    Policy,
    Task,
    /// An external step that timed out with `timeout_action: prompt`.
    #[serde(rename = "external_task")]
    ExternalTask,
}

/// The rule that decided a command, as a request shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleRef {
    pub source: RuleSource,
    /// Its place in its list; `None` for a policy's `default`.
    pub index: Option<usize>,
    pub decision: Decision,
    pub description: String,
}

/// What the policies say of one command.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub decision: Decision,
    pub rule: RuleRef,
    pub timeout: Duration,
    pub on_timeout: OnTimeout,
}

/// A request for a person's yes, kept with its task, and its answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    pub id: String,
    /// The command waiting.
    pub index: usize,
    pub rule: RuleRef,
    /// The page's URL when it was asked, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_url: Option<String>,
    /// The page when it was asked: a base64 PNG.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screenshot: Option<String>,
    pub requested_at: u64,
    pub expires_at: u64,
    pub on_timeout: OnTimeout,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<ApprovalDecision>,
    /// A question with answers of its own rather than yes or no (an external step's timeout:
    /// `retry`, `skip`, `fail`); the answer's `choice` is one of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<String>>,
    /// What the person is asked (an external step's `timeout_message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalDecision {
    pub approved: bool,
    /// The user who answered, or `timeout`.
    pub by: String,
    pub at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_parameters: Option<Map<String, Value>>,
    pub timed_out: bool,
    /// For a request with `choices`: the one chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choice: Option<String>,
}

impl Approval {
    /// The id of the request for command `index` of `task_id`: one per command at most.
    pub fn id_for(task_id: &str, index: usize) -> String {
        format!("appr_{}_{index}", task_id.trim_start_matches("task_"))
    }

    /// `pending`, `approved`, `rejected` or `expired`.
    pub fn status(&self) -> &'static str {
        match &self.decision {
            None => "pending",
            Some(d) if d.timed_out && !d.approved => "expired",
            Some(d) if d.approved => "approved",
            Some(_) => "rejected",
        }
    }
}

/// A policy that could not be read, with where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct PolicyError {
    pub field: String,
    pub message: String,
}

fn bad(field: impl Into<String>, message: impl Into<String>) -> PolicyError {
    PolicyError {
        field: field.into(),
        message: message.into(),
    }
}

impl Policy {
    /// Reads a policy file's text: YAML (JSON is YAML too).
    pub fn parse_file(text: &str) -> Result<Policy, PolicyError> {
        let value: Value =
            serde_yaml_ng::from_str(text).map_err(|e| bad("policy", format!("not YAML: {e}")))?;
        Policy::from_value(&value, "", false)
    }

    /// Reads a policy from JSON. A task's (`task_rules`) may only make things stricter: no
    /// `allow` rule, and its default is `allow` unless it says more.
    pub fn from_value(value: &Value, at: &str, task_rules: bool) -> Result<Policy, PolicyError> {
        let field = |name: &str| {
            if at.is_empty() {
                name.to_string()
            } else {
                format!("{at}.{name}")
            }
        };
        let Value::Object(obj) = value else {
            return Err(bad(
                if at.is_empty() { "policy" } else { at },
                "must be an object",
            ));
        };
        strict::check_keys(obj, &["default", "timeout", "rules"], "an approval policy")
            .map_err(|(f, m)| bad(field(&f), m))?;
        let default = match obj.get("default") {
            None | Some(Value::Null) => Decision::Allow,
            Some(v) => decision(v, &field("default"))?,
        };
        let timeout = match obj.get("timeout") {
            None | Some(Value::Null) => Some(DEFAULT_TIMEOUT),
            Some(v) => Some(duration(v, &field("timeout"))?),
        };
        let rules = match obj.get("rules") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(rules)) => rules
                .iter()
                .enumerate()
                .map(|(i, r)| rule(r, &field(&format!("rules[{i}]")), task_rules))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(bad(field("rules"), "must be a list")),
        };
        Ok(Policy {
            default,
            timeout,
            rules,
        })
    }

    /// Whether any rule needs facts about the page for a command running `action`.
    pub fn needs_facts(&self, action: &Action, tool_name: &str) -> bool {
        self.rules.iter().any(|r| {
            r.matches.needs_facts() && r.matches.matches_static(action, tool_name) != Some(false)
        })
    }

    /// The strictest rule matching, or the default. Without `facts`, rules that need them are
    /// left out (the answer is then what is known before the command is reached).
    fn decide(
        &self,
        source: RuleSource,
        action: &Action,
        tool_name: &str,
        facts: Option<&Facts>,
    ) -> Verdict {
        let mut best: Option<(usize, &Rule)> = None;
        for (i, rule) in self.rules.iter().enumerate() {
            let hit = match (facts, rule.matches.needs_facts()) {
                (None, true) => false,
                (facts, _) => rule.matches.matches(action, tool_name, facts),
            };
            if hit && best.is_none_or(|(_, b)| rule.decision > b.decision) {
                best = Some((i, rule));
            }
        }
        let fallback = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        match best {
            Some((i, rule)) => Verdict {
                decision: rule.decision,
                rule: RuleRef {
                    source,
                    index: Some(i),
                    decision: rule.decision,
                    description: rule.describe(),
                },
                timeout: rule.timeout.unwrap_or(fallback),
                on_timeout: rule.on_timeout,
            },
            None => Verdict {
                decision: self.default,
                rule: RuleRef {
                    source,
                    index: None,
                    decision: self.default,
                    description: format!("default: {}", self.default.as_str()),
                },
                timeout: fallback,
                on_timeout: OnTimeout::Reject,
            },
        }
    }
}

/// The operator's policy and a task's own rules, decided together: the stricter verdict wins
/// (on a tie, the operator's rule is the one named).
pub fn decide(
    policy: &Policy,
    task: Option<&Policy>,
    action: &Action,
    tool_name: &str,
    facts: Option<&Facts>,
) -> Verdict {
    let mine = policy.decide(RuleSource::Policy, action, tool_name, facts);
    match task.map(|t| t.decide(RuleSource::Task, action, tool_name, facts)) {
        Some(theirs) if theirs.decision > mine.decision => theirs,
        _ => mine,
    }
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Confirm => "confirm",
            Decision::Deny => "deny",
        }
    }
}

impl Rule {
    fn describe(&self) -> String {
        if let Some(d) = &self.description {
            return d.clone();
        }
        let m = &self.matches;
        let mut parts = Vec::new();
        if let Some(t) = &m.tool {
            parts.push(format!("tool {t}"));
        }
        if let Some(a) = &m.action {
            parts.push(format!("action {a}"));
        }
        if let Some(u) = &m.url {
            parts.push(format!("url {u}"));
        }
        if let Some(t) = &m.text {
            parts.push(format!("text /{t}/"));
        }
        if let Some(c) = m.category {
            parts.push(format!("category {}", c.as_str()));
        }
        if parts.is_empty() {
            parts.push("every command".into());
        }
        format!("{}: {}", self.decision.as_str(), parts.join(", "))
    }
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::FormSubmit => "form_submit",
            Category::Upload => "upload",
            Category::Download => "download",
            Category::Evaluate => "evaluate",
            Category::Cookies => "cookies",
        }
    }
}

impl Match {
    /// Whether matching needs the page (its URL or the element).
    fn needs_facts(&self) -> bool {
        self.text.is_some() || self.category == Some(Category::FormSubmit) || self.url.is_some()
    }

    /// What the tool and action alone say: `Some(false)` when they rule the command out.
    fn matches_static(&self, action: &Action, tool_name: &str) -> Option<bool> {
        if let Some(tool) = &self.tool {
            if tool != tool_name && tool != action.tool().name() {
                return Some(false);
            }
        }
        if let Some(name) = &self.action {
            if name != action.name() {
                return Some(false);
            }
        }
        if let Some(category) = self.category {
            let hit = match category {
                Category::Upload => {
                    matches!(action, Action::Interact(InteractAction::Upload { .. }))
                }
                Category::Download => matches!(
                    action,
                    Action::Debug(
                        DebugAction::Downloads
                            | DebugAction::DownloadWait
                            | DebugAction::DownloadsIn { .. }
                            | DebugAction::DownloadWaitFor { .. }
                    )
                ),
                Category::Evaluate => matches!(action, Action::Execute(_)),
                Category::Cookies => matches!(
                    action,
                    Action::Network(
                        NetworkAction::GetCookies { .. }
                            | NetworkAction::SetCookie { .. }
                            | NetworkAction::ClearCookies { .. }
                    )
                ),
                Category::FormSubmit => matches!(
                    action,
                    Action::Interact(InteractAction::Click { .. } | InteractAction::Press { .. })
                ),
            };
            if !hit {
                return Some(false);
            }
        }
        None
    }

    fn matches(&self, action: &Action, tool_name: &str, facts: Option<&Facts>) -> bool {
        if self.matches_static(action, tool_name) == Some(false) {
            return false;
        }
        let facts = facts.cloned().unwrap_or_default();
        if self.category == Some(Category::FormSubmit)
            && !(facts.element_is_submit
                || (facts.element_in_form
                    && matches!(action, Action::Interact(InteractAction::Press { .. }))))
        {
            return false;
        }
        if let Some(re) = &self.url_re {
            let target = match action {
                Action::Navigate(NavigateAction::Goto { url, .. }) => Some(url.as_str()),
                _ => None,
            };
            let page = facts.url.as_deref();
            if !target.is_some_and(|u| re.is_match(u)) && !page.is_some_and(|u| re.is_match(u)) {
                return false;
            }
        }
        if let Some(re) = &self.text_re {
            if !facts
                .element_text
                .as_deref()
                .is_some_and(|t| re.is_match(t))
            {
                return false;
            }
        }
        true
    }
}

fn decision(v: &Value, field: &str) -> Result<Decision, PolicyError> {
    match v.as_str() {
        Some("allow") => Ok(Decision::Allow),
        Some("confirm") => Ok(Decision::Confirm),
        Some("deny") => Ok(Decision::Deny),
        _ => Err(bad(field, "must be allow, confirm or deny")),
    }
}

fn duration(v: &Value, field: &str) -> Result<Duration, PolicyError> {
    let d = match v {
        Value::String(s) => humantime::parse_duration(s)
            .map_err(|e| bad(field, format!("not a duration ({e}); e.g. 30s, 5m, 1h")))?,
        Value::Number(n) => n
            .as_u64()
            .map(Duration::from_secs)
            .ok_or_else(|| bad(field, "must be a whole number of seconds or a duration"))?,
        _ => return Err(bad(field, "must be a duration such as 5m")),
    };
    if d.is_zero() || d > MAX_TIMEOUT {
        return Err(bad(field, "must be between 1 s and 7 days"));
    }
    Ok(d)
}

fn rule(v: &Value, at: &str, task_rules: bool) -> Result<Rule, PolicyError> {
    let Value::Object(obj) = v else {
        return Err(bad(at, "must be an object"));
    };
    strict::check_keys(
        obj,
        &["match", "decision", "timeout", "on_timeout", "description"],
        "a rule",
    )
    .map_err(|(f, m)| bad(format!("{at}.{f}"), m))?;
    let decision = match obj.get("decision") {
        None => return Err(bad(format!("{at}.decision"), "is required")),
        Some(v) => decision(v, &format!("{at}.decision"))?,
    };
    if task_rules && decision == Decision::Allow {
        return Err(bad(
            format!("{at}.decision"),
            "a task's rules may only be stricter than the server's: confirm or deny",
        ));
    }
    let timeout = match obj.get("timeout") {
        None | Some(Value::Null) => None,
        Some(v) => Some(duration(v, &format!("{at}.timeout"))?),
    };
    let on_timeout = match obj
        .get("on_timeout")
        .and_then(|v| (!v.is_null()).then_some(v))
    {
        None => OnTimeout::Reject,
        Some(v) => match v.as_str() {
            Some("reject") => OnTimeout::Reject,
            Some("approve") if !task_rules => OnTimeout::Approve,
            Some("approve") => {
                return Err(bad(
                    format!("{at}.on_timeout"),
                    "a task's rules may not approve on timeout",
                ))
            }
            _ => return Err(bad(format!("{at}.on_timeout"), "must be reject or approve")),
        },
    };
    let description = match obj.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(bad(format!("{at}.description"), "must be a string")),
    };
    let matches = match obj.get("match") {
        None | Some(Value::Null) => Match::default(),
        Some(m) => parse_match(m, &format!("{at}.match"))?,
    };
    Ok(Rule {
        matches,
        decision,
        timeout,
        on_timeout,
        description,
    })
}

fn parse_match(v: &Value, at: &str) -> Result<Match, PolicyError> {
    let Value::Object(obj) = v else {
        return Err(bad(at, "must be an object"));
    };
    strict::check_keys(
        obj,
        &["tool", "action", "url", "text", "category"],
        "a match",
    )
    .map_err(|(f, m)| bad(format!("{at}.{f}"), m))?;
    let text_field = |key: &str| -> Result<Option<String>, PolicyError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(_) => Err(bad(format!("{at}.{key}"), "must be a non-empty string")),
        }
    };
    let tool = text_field("tool")?;
    if let Some(t) = &tool {
        let known: Vec<&str> = super::Tool::ALL.iter().map(|t| t.name()).collect();
        if !known.contains(&t.as_str()) {
            let close = strict::did_you_mean(t, known.iter().copied())
                .map(|c| format!("; did you mean {c}?"))
                .unwrap_or_default();
            return Err(bad(
                format!("{at}.tool"),
                format!("unknown tool '{t}'{close}"),
            ));
        }
    }
    let action = text_field("action")?;
    let url = text_field("url")?;
    let text = text_field("text")?;
    let category = match obj.get("category") {
        None | Some(Value::Null) => None,
        Some(v) => Some(serde_json::from_value::<Category>(v.clone()).map_err(|_| {
            bad(
                format!("{at}.category"),
                "must be form_submit, upload, download, evaluate or cookies",
            )
        })?),
    };
    let url_re = url
        .as_deref()
        .map(|glob| {
            let pattern = glob
                .split('*')
                .map(regex::escape)
                .collect::<Vec<_>>()
                .join(".*");
            regex::Regex::new(&format!("^{pattern}$"))
        })
        .transpose()
        .map_err(|e| bad(format!("{at}.url"), e.to_string()))?;
    let text_re = text
        .as_deref()
        .map(|re| regex::RegexBuilder::new(re).size_limit(1 << 20).build())
        .transpose()
        .map_err(|e| {
            bad(
                format!("{at}.text"),
                format!("not a regular expression: {e}"),
            )
        })?;
    Ok(Match {
        tool,
        action,
        url,
        text,
        category,
        url_re,
        text_re,
    })
}

mod opt_duration {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&humantime::format_duration(*d).to_string()),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::validate_submission;
    use serde_json::json;

    fn action(tool: &str, args: Value) -> Action {
        let spec = validate_submission(&json!({
            "task_name": "t",
            "commands": [{ "tool_name": tool, "args": args }]
        }))
        .unwrap();
        spec.commands[0].parsed.action.clone()
    }

    const ISSUE_POLICY: &str = r#"
default: allow
rules:
  - match: { tool: browser_interact, action: click, text: "(?i)pay|delete" }
    decision: confirm
    timeout: 5m
    on_timeout: reject
  - match: { url: "*://*.bank.example/*" }
    decision: deny
  - match: { category: upload }
    decision: confirm
"#;

    #[test]
    fn the_issue_policy_reads_and_decides() {
        let p = Policy::parse_file(ISSUE_POLICY).unwrap();
        assert_eq!(p.rules.len(), 3);
        let click = action(
            "browser_interact",
            json!({"action": "click", "selector": "#pay"}),
        );
        assert!(p.needs_facts(&click, "browser_interact"));
        let pay = Facts {
            element_text: Some("Pay now".into()),
            url: Some("http://shop.test/cart".into()),
            ..Facts::default()
        };
        let v = decide(&p, None, &click, "browser_interact", Some(&pay));
        assert_eq!(v.decision, Decision::Confirm);
        assert_eq!(v.rule.index, Some(0));
        assert_eq!(v.timeout, Duration::from_secs(300));
        let other = Facts {
            element_text: Some("Read more".into()),
            ..pay.clone()
        };
        assert_eq!(
            decide(&p, None, &click, "browser_interact", Some(&other)).decision,
            Decision::Allow
        );
        // Without facts, the text rule cannot match yet.
        assert_eq!(
            decide(&p, None, &click, "browser_interact", None).decision,
            Decision::Allow
        );
        // Deny beats confirm: a pay button on the bank.
        let bank = Facts {
            url: Some("https://www.bank.example/transfer".into()),
            ..pay
        };
        let v = decide(&p, None, &click, "browser_interact", Some(&bank));
        assert_eq!((v.decision, v.rule.index), (Decision::Deny, Some(1)));
        // goto's target is matched before the command runs.
        let goto = action(
            "browser_navigate",
            json!({"action": "goto", "url": "https://x.bank.example/login"}),
        );
        assert_eq!(
            decide(&p, None, &goto, "browser_navigate", Some(&Facts::default())).decision,
            Decision::Deny
        );
        let file = tempfile::NamedTempFile::new().unwrap();
        let upload = action(
            "browser_interact",
            json!({"action": "upload", "selector": "#f", "files": [file.path()]}),
        );
        let v = decide(&p, None, &upload, "browser_interact", None);
        assert_eq!((v.decision, v.rule.index), (Decision::Confirm, Some(2)));
        assert_eq!(v.timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn a_task_may_only_tighten() {
        let p = Policy::default();
        let task = Policy::from_value(
            &json!({"rules": [{"match": {"category": "evaluate"}, "decision": "confirm"}]}),
            "approval",
            true,
        )
        .unwrap();
        let eval = action(
            "browser_execute",
            json!({"action": "evaluate", "script": "1"}),
        );
        let v = decide(&p, Some(&task), &eval, "browser_execute", None);
        assert_eq!(
            (v.decision, v.rule.source),
            (Decision::Confirm, RuleSource::Task)
        );
        let looser = Policy::from_value(
            &json!({"rules": [{"match": {}, "decision": "allow"}]}),
            "approval",
            true,
        )
        .unwrap_err();
        assert_eq!(looser.field, "approval.rules[0].decision");
        // A server that denies evaluate is not loosened by a task's default.
        let strict =
            Policy::parse_file("rules: [{match: {category: evaluate}, decision: deny}]").unwrap();
        assert_eq!(
            decide(&strict, Some(&task), &eval, "browser_execute", None).decision,
            Decision::Deny
        );
    }

    #[test]
    fn misspelt_fields_are_named() {
        let e = Policy::parse_file("rules: [{match: {tol: browser_interact}, decision: confirm}]")
            .unwrap_err();
        assert_eq!(e.field, "rules[0].match.tol");
        assert!(e.message.contains("tool"), "{}", e.message);
        let e = Policy::parse_file("rules: [{match: {tool: browser_interac}, decision: deny}]")
            .unwrap_err();
        assert!(e.message.contains("did you mean browser_interact"), "{e}");
        let e = Policy::parse_file("rules: [{decision: maybe}]").unwrap_err();
        assert_eq!(e.field, "rules[0].decision");
        let e = Policy::parse_file("rules: [{decision: confirm, timeout: 0s}]").unwrap_err();
        assert_eq!(e.field, "rules[0].timeout");
        let e = Policy::parse_file("rules: [{decision: confirm, match: {text: '('}}]").unwrap_err();
        assert_eq!(e.field, "rules[0].match.text");
    }

    #[test]
    fn form_submit_needs_a_submit_control() {
        let p = Policy::parse_file("rules: [{match: {category: form_submit}, decision: confirm}]")
            .unwrap();
        let click = action(
            "browser_interact",
            json!({"action": "click", "selector": "button"}),
        );
        let submit = Facts {
            element_is_submit: true,
            element_in_form: true,
            ..Facts::default()
        };
        assert_eq!(
            decide(&p, None, &click, "browser_interact", Some(&submit)).decision,
            Decision::Confirm
        );
        assert_eq!(
            decide(
                &p,
                None,
                &click,
                "browser_interact",
                Some(&Facts::default())
            )
            .decision,
            Decision::Allow
        );
    }

    #[test]
    fn approval_ids_and_statuses() {
        assert_eq!(Approval::id_for("task_1_7", 2), "appr_1_7_2");
    }
}
