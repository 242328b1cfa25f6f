//! Validation of a submitted task, before any browser work. Every error names the field,
//! with the command index, e.g. `commands[2].args.url: is required`.

use serde_json::{Map, Value};
use std::fmt;

use super::action::{parse_args, ParsedArgs, Tool};
use super::id::{command_id, new_task_id, now_ms};
use super::model::{CommandStatus, Task, TaskCommand, TaskStatus};
use super::user::{Door, User};
use super::{catalog, strict};

/// A submission that passed validation: what a task is made from.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    pub name: String,
    pub intention: String,
    pub instance_id: Option<String>,
    pub commands: Vec<CommandSpec>,
    pub metadata: Option<Map<String, Value>>,
    /// Higher runs first (-100 to 100, default 0).
    pub priority: i32,
    /// The task's own approval rules, checked (see [`crate::task::approval::Policy`]).
    pub approval: Option<Value>,
    /// The agent API's: set by that door, not by a submission's fields.
    pub conversation_id: Option<String>,
    pub context: Option<Map<String, Value>>,
}

/// The priorities a task may have.
pub const PRIORITIES: std::ops::RangeInclusive<i64> = -100..=100;

#[derive(Debug, Clone)]
pub struct CommandSpec {
    pub tool: Tool,
    pub intention: String,
    pub args: Value,
    pub parsed: ParsedArgs,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ValidationError {
    /// Path of the offending field, e.g. `task_name` or `commands[1].args.selector`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ValidationError {
    ValidationError {
        field: field.into(),
        message: message.into(),
    }
}

fn optional_string(
    obj: &Map<String, Value>,
    key: &str,
    field: &str,
) -> Result<Option<String>, ValidationError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        // A NUL character is no text anyone means, and PostgreSQL's text cannot hold one.
        Some(Value::String(s)) if s.contains('\0') => {
            Err(invalid(field, "must not contain a NUL character"))
        }
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(field, "must be a string")),
    }
}

/// Validates a submission: the body of `task_submit` or `POST /tasks`, or a task from a task
/// file (its `expect` taken out). Only the spec's fields are accepted (see
/// [`catalog::TASK_FIELDS`]): a misspelt one is an error naming it, with what was meant.
/// `null` for an optional field is as good as leaving it out (the spec's own client sends
/// `"instanceId": null`).
pub fn validate_submission(value: &Value) -> Result<TaskSpec, ValidationError> {
    let Value::Object(obj) = value else {
        return Err(invalid("task", "must be a JSON object"));
    };
    strict::check_keys(obj, &catalog::TASK_FIELDS, "a task")
        .map_err(|(field, message)| invalid(field, message))?;
    match obj.get("type") {
        None | Some(Value::Null) => {}
        Some(Value::String(t)) if t == "task_submit" => {}
        Some(_) => return Err(invalid("type", "must be \"task_submit\" when given")),
    }
    let name = optional_string(obj, "task_name", "task_name")?
        .ok_or_else(|| invalid("task_name", "is required"))?;
    if name.trim().is_empty() {
        return Err(invalid("task_name", "must not be empty"));
    }
    let intention = optional_string(obj, "task_intention", "task_intention")?.unwrap_or_default();
    let instance_id = optional_string(obj, "instanceId", "instanceId")?.filter(|s| !s.is_empty());
    let metadata = match obj.get("metadata") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(_) => return Err(invalid("metadata", "must be an object")),
    };
    let commands = match obj.get("commands") {
        None | Some(Value::Null) => return Err(invalid("commands", "is required")),
        Some(Value::Array(a)) if a.is_empty() => {
            return Err(invalid("commands", "must contain at least one command"))
        }
        Some(Value::Array(a)) => a,
        Some(_) => return Err(invalid("commands", "must be an array")),
    };
    let commands = commands
        .iter()
        .enumerate()
        .map(|(i, c)| validate_command(i, c))
        .collect::<Result<Vec<_>, _>>()?;
    let instance_id = instance_of_commands(instance_id, &commands)?;
    let priority = priority_of(obj.get("priority"), "priority")?;
    let approval = approval_of(obj.get("approval"), "approval")?;
    Ok(TaskSpec {
        name,
        intention,
        instance_id,
        commands,
        metadata,
        priority,
        approval,
        conversation_id: None,
        context: None,
    })
}

/// A priority: an integer in [`PRIORITIES`]; none is 0.
pub fn priority_of(value: Option<&Value>, field: &str) -> Result<i32, ValidationError> {
    match value {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(p) if PRIORITIES.contains(&p) => Ok(p as i32),
            _ => Err(invalid(
                field,
                format!(
                    "must be a whole number from {} to {}",
                    PRIORITIES.start(),
                    PRIORITIES.end()
                ),
            )),
        },
        Some(_) => Err(invalid(field, "must be a whole number")),
    }
}

/// A task's own approval rules: checked now, kept as given.
pub fn approval_of(value: Option<&Value>, field: &str) -> Result<Option<Value>, ValidationError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            crate::task::approval::Policy::from_value(v, field, true)
                .map_err(|e| invalid(e.field, e.message))?;
            Ok(Some(v.clone()))
        }
    }
}

/// A command may say where it runs (`args.instanceId`, as REST and MCP calls do), but a task
/// runs on one instance: every command that says must say the task's (which it sets, when the
/// task gives none).
fn instance_of_commands(
    task: Option<String>,
    commands: &[CommandSpec],
) -> Result<Option<String>, ValidationError> {
    let mut chosen = task.clone();
    for (i, command) in commands.iter().enumerate() {
        if command.tool == Tool::Instance {
            // browser_instance's own instanceId is the instance it closes.
            continue;
        }
        let Some(id) = command.args.get("instanceId").and_then(Value::as_str) else {
            continue;
        };
        match &chosen {
            None => chosen = Some(id.to_string()),
            Some(existing) if existing == id => {}
            Some(existing) => {
                let whose = if task.is_some() {
                    "the task's instanceId"
                } else {
                    "an earlier command's"
                };
                return Err(invalid(
                    format!("commands[{i}].args.instanceId"),
                    format!("'{id}' is not {whose} ('{existing}'): a task runs on one instance"),
                ));
            }
        }
    }
    Ok(chosen)
}

/// Parses a command's arguments again (an approver changed them): the error's field is
/// within `args`.
pub fn reparse_command(tool_name: &str, args: &Value) -> Result<ParsedArgs, ValidationError> {
    let tool = Tool::from_name(tool_name)
        .ok_or_else(|| invalid("", format!("unknown tool '{tool_name}'")))?;
    parse_args(tool, args).map_err(|e| invalid(e.field, e.message))
}

fn validate_command(index: usize, value: &Value) -> Result<CommandSpec, ValidationError> {
    let at = |field: &str| format!("commands[{index}].{field}");
    let Value::Object(obj) = value else {
        return Err(invalid(format!("commands[{index}]"), "must be an object"));
    };
    strict::check_keys(obj, &catalog::COMMAND_FIELDS, "a command")
        .map_err(|(field, message)| invalid(at(&field), message))?;
    let tool_name = optional_string(obj, "tool_name", &at("tool_name"))?
        .ok_or_else(|| invalid(at("tool_name"), "is required"))?;
    let tool = Tool::from_name(&tool_name).ok_or_else(|| {
        let known: Vec<&str> = Tool::ALL.iter().map(|t| t.name()).collect();
        let close = strict::did_you_mean(&tool_name, known.iter().copied())
            .map(|c| format!("; did you mean {c}?"))
            .unwrap_or_default();
        invalid(
            at("tool_name"),
            format!(
                "unknown tool '{tool_name}', expected one of {}{close}",
                known.join(", ")
            ),
        )
    })?;
    let intention = optional_string(obj, "intention", &at("intention"))?.unwrap_or_default();
    let args = match obj.get("args") {
        None | Some(Value::Null) => return Err(invalid(at("args"), "is required")),
        Some(args) => args,
    };
    let parsed = parse_args(tool, args).map_err(|e| {
        let field = if e.field.is_empty() {
            at("args")
        } else {
            at(&format!("args.{}", e.field))
        };
        invalid(field, e.message)
    })?;
    Ok(CommandSpec {
        tool,
        intention,
        args: args.clone(),
        parsed,
    })
}

impl Task {
    /// A new queued task with fresh ids, all its commands pending.
    pub fn new(spec: TaskSpec, instance_id: String) -> Task {
        let id = new_task_id();
        let commands = spec
            .commands
            .into_iter()
            .enumerate()
            .map(|(i, c)| TaskCommand {
                id: command_id(&id, i),
                tool_name: c.tool.name().to_string(),
                intention: c.intention,
                args: c.args,
                parsed: c.parsed,
                status: CommandStatus::Pending,
                started_at: None,
                completed_at: None,
                result: None,
                error: None,
                failure_screenshot: None,
                external: None,
            })
            .collect();
        Task {
            id,
            instance_id,
            name: spec.name,
            intention: spec.intention,
            commands,
            status: TaskStatus::Queued,
            current_command_index: 0,
            created_at: now_ms(),
            started_at: None,
            completed_at: None,
            error: None,
            requested_instance: spec.instance_id,
            metadata: spec.metadata,
            owner: User::LOCAL.to_string(),
            door: Door::Cli,
            priority: spec.priority,
            conversation_id: spec.conversation_id,
            context: spec.context,
            approval: spec.approval,
            approvals: Vec::new(),
            undos: Vec::new(),
            journal: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(value: Value) -> String {
        validate_submission(&value).unwrap_err().to_string()
    }

    #[test]
    fn a_nul_character_in_a_name_is_refused() {
        let msg = err(json!({
            "task_name": "a\u{0}b",
            "commands": [{ "tool_name": "browser_navigate", "args": { "action": "reload" } }]
        }));
        assert_eq!(msg, "task_name: must not contain a NUL character");
    }

    #[test]
    fn the_protocol_clients_submission_is_valid() {
        // As the protocol document's own client sends it: no intentions, instanceId null.
        let spec = validate_submission(&json!({
            "type": "task_submit",
            "task_name": "Login",
            "instanceId": null,
            "commands": [
                { "tool_name": "browser_navigate", "args": { "action": "goto", "url": "https://example.com" } },
                { "tool_name": "browser_interact", "args": { "action": "click", "selector": "#login" } }
            ]
        }))
        .unwrap();
        assert_eq!(spec.name, "Login");
        assert_eq!(spec.intention, "");
        assert_eq!(spec.instance_id, None);
        assert_eq!(spec.commands.len(), 2);
        assert_eq!(spec.commands[1].intention, "");
        assert_eq!(spec.commands[1].tool, Tool::Interact);
    }

    #[test]
    fn metadata_is_kept_as_given() {
        let meta = json!({"requestId": "req-abc-123", "retryCount": 0, "nested": {"a": [1, null]}});
        let spec = validate_submission(&json!({
            "task_name": "t", "metadata": meta,
            "commands": [{ "tool_name": "browser_navigate", "args": { "action": "reload" } }]
        }))
        .unwrap();
        let task = Task::new(spec, "inst_1".into());
        assert_eq!(Value::Object(task.metadata.clone().unwrap()), meta);
        let wire = serde_json::to_value(&task).unwrap();
        assert_eq!(wire["metadata"], meta);
        assert_eq!(wire["status"], "queued");
        assert_eq!(wire["commands"][0]["id"], format!("{}_cmd_0", task.id));
        assert_eq!(wire["commands"][0]["status"], "pending");
        assert_eq!(wire["commands"][0]["tool_name"], "browser_navigate");
        assert_eq!(wire["instanceId"], "inst_1");
        assert_eq!(wire["currentCommandIndex"], 0);
    }

    #[test]
    fn each_rule_names_its_field() {
        let ok_cmd = json!({ "tool_name": "browser_navigate", "args": { "action": "reload" } });
        assert_eq!(err(json!([])), "task: must be a JSON object");
        assert_eq!(err(json!({"commands": [ok_cmd]})), "task_name: is required");
        assert_eq!(
            err(json!({"task_name": " ", "commands": [ok_cmd]})),
            "task_name: must not be empty"
        );
        assert_eq!(
            err(json!({"task_name": 3, "commands": [ok_cmd]})),
            "task_name: must be a string"
        );
        assert_eq!(err(json!({"task_name": "t"})), "commands: is required");
        assert_eq!(
            err(json!({"task_name": "t", "commands": []})),
            "commands: must contain at least one command"
        );
        assert_eq!(
            err(json!({"task_name": "t", "commands": {}})),
            "commands: must be an array"
        );
        assert_eq!(
            err(json!({"task_name": "t", "commands": [ok_cmd], "metadata": 1})),
            "metadata: must be an object"
        );
        assert_eq!(
            err(json!({"task_name": "t", "commands": [ok_cmd, {"args": {}}]})),
            "commands[1].tool_name: is required"
        );
        let e = err(
            json!({"task_name": "t", "commands": [ok_cmd, ok_cmd, {"tool_name": "browser_fly", "args": {}}]}),
        );
        assert!(
            e.starts_with("commands[2].tool_name: unknown tool 'browser_fly'"),
            "{e}"
        );
        assert_eq!(
            err(json!({"task_name": "t", "commands": [{"tool_name": "browser_navigate"}]})),
            "commands[0].args: is required"
        );
        assert_eq!(
            err(
                json!({"task_name": "t", "commands": [ok_cmd, {"tool_name": "browser_navigate", "args": {"action": "goto"}}]})
            ),
            "commands[1].args.url: is required"
        );
        assert_eq!(
            err(
                json!({"task_name": "t", "commands": [{"tool_name": "browser_interact", "args": {"action": "type", "selector": "#a"}}]})
            ),
            "commands[0].args.text: is required"
        );
        let e = err(
            json!({"task_name": "t", "commands": [{"tool_name": "browser_interact", "args": {"action": "teleport"}}]}),
        );
        assert!(
            e.starts_with(
                "commands[0].args.action: unknown action 'teleport' for browser_interact"
            ),
            "{e}"
        );
        assert_eq!(
            err(
                json!({"task_name": "t", "commands": [{"tool_name": "browser_navigate", "intention": 5, "args": {"action": "reload"}}]})
            ),
            "commands[0].intention: must be a string"
        );
    }

    #[test]
    fn unknown_fields_of_a_task_and_of_a_command_are_named() {
        let ok_cmd = json!({ "tool_name": "browser_navigate", "args": { "action": "reload" } });
        assert_eq!(
            err(json!({"task_nmae": "t", "commands": [ok_cmd]})),
            "task_nmae: unknown field; did you mean task_name?"
        );
        assert_eq!(
            err(json!({"task_name": "t", "instance_id": "inst_1", "commands": [ok_cmd]})),
            "instance_id: unknown field; did you mean instanceId?"
        );
        assert_eq!(
            err(json!({"task_name": "t", "prority": 1, "commands": [ok_cmd]})),
            "prority: unknown field; did you mean priority?"
        );
        assert_eq!(
            err(json!({"task_name": "t", "commands": [
                {"tool_name": "browser_navigate", "intension": "x", "args": {"action": "reload"}}
            ]})),
            "commands[0].intension: unknown field; did you mean intention?"
        );
        assert_eq!(
            err(json!({"task_name": "t", "commands": [
                {"tool_name": "browser_navigate", "args": {"action": "goto", "url": "http://x", "wait_untill": "load"}}
            ]})),
            "commands[0].args.wait_untill: unknown field; did you mean waitUntil?"
        );
        assert_eq!(
            err(json!({"task_name": "t", "commands": [{"tool_name": "browser_navgate", "args": {}}]})),
            "commands[0].tool_name: unknown tool 'browser_navgate', expected one of browser_navigate, browser_interact, browser_content, browser_execute, browser_instance, browser_network, browser_emulate, browser_debug, browser_tab, sleep, external_task; did you mean browser_navigate?"
        );
        assert_eq!(
            err(json!({"type": "task_list", "task_name": "t", "commands": [ok_cmd]})),
            "type: must be \"task_submit\" when given"
        );
        // The spec's extras and nulls for what is optional are fine.
        let spec = validate_submission(&json!({
            "type": "task_submit", "task_name": "t", "task_intention": null, "instanceId": null,
            "metadata": null,
            "commands": [{"tool_name": "browser_navigate", "intention": null, "args": {"action": "reload"}}]
        }))
        .unwrap();
        assert_eq!((spec.intention.as_str(), spec.instance_id), ("", None));
    }

    #[test]
    fn a_commands_instance_is_the_tasks() {
        let goto = |instance: &str| json!({"tool_name": "browser_navigate", "args": {"action": "goto", "url": "http://x", "instanceId": instance}});
        let spec = validate_submission(
            &json!({"task_name": "t", "commands": [goto("inst_2"), goto("inst_2")]}),
        )
        .unwrap();
        assert_eq!(spec.instance_id.as_deref(), Some("inst_2"));
        let spec = validate_submission(
            &json!({"task_name": "t", "instanceId": "inst_2", "commands": [goto("inst_2")]}),
        )
        .unwrap();
        assert_eq!(spec.instance_id.as_deref(), Some("inst_2"));
        assert_eq!(
            err(json!({"task_name": "t", "instanceId": "inst_1", "commands": [goto("inst_2")]})),
            "commands[0].args.instanceId: 'inst_2' is not the task's instanceId ('inst_1'): a task runs on one instance"
        );
        assert_eq!(
            err(json!({"task_name": "t", "commands": [goto("inst_1"), goto("inst_2")]})),
            "commands[1].args.instanceId: 'inst_2' is not an earlier command's ('inst_1'): a task runs on one instance"
        );
        // browser_instance's instanceId is the instance it closes, not where the task runs.
        let spec = validate_submission(&json!({"task_name": "t", "commands": [
            {"tool_name": "browser_instance", "args": {"action": "close", "instanceId": "inst_3"}}
        ]}))
        .unwrap();
        assert_eq!(spec.instance_id, None);
    }

    /// Found by fuzzing (fuzz/seeds/task_message/regress-empty-field-name.json): a field named ""
    /// was refused as `: unknown field`, an error that named no field.
    #[test]
    fn a_field_with_an_empty_name_is_named() {
        let ok_cmd = json!({ "tool_name": "browser_navigate", "args": { "action": "reload" } });
        for task in [
            json!({"type": "task_submit", "": 0}),
            json!({"task_name": "t", "commands": [{"tool_name": "browser_navigate", "": 0, "args": {"action": "reload"}}]}),
            json!({"task_name": "t", "commands": [ok_cmd, {"tool_name": "browser_navigate", "args": {"action": "reload", "": 0}}]}),
        ] {
            let e = validate_submission(&task).unwrap_err();
            assert!(e.message.starts_with("unknown field"), "{e}");
            assert!(
                !e.field.is_empty() && !e.field.ends_with('.') && !e.field.ends_with("args"),
                "the error does not name the field: {e}"
            );
        }
    }
}
