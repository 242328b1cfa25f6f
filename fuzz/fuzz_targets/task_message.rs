//! The task WebSocket's client message, as `task_socket` handles a text frame: parsed by
//! `server::protocol::parse`, and a `task_submit` validated by `task::validate_submission`
//! into the task the scheduler would queue. Any input must end in `Ok` or an error, never a
//! panic; and a valid submission must survive what the store does with it (written as JSON
//! text, read back, its arguments parsed again to the same action).
#![no_main]

use browser_control::server::protocol::{self, ClientMessage};
use browser_control::task::action::parse_args;
use browser_control::task::{validate_submission, Task, Tool};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Whether some object in `value` has a key for which `pred` holds.
fn has_key(value: &Value, pred: &dyn Fn(&str) -> bool) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(k, v)| pred(k) || has_key(v, pred)),
        Value::Array(items) => items.iter().any(|v| has_key(v, pred)),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    // A WebSocket text frame is UTF-8 (tungstenite refuses anything else).
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let message = match protocol::parse(text) {
        Ok(message) => message,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let ClientMessage::TaskSubmit(submission) = message else {
        return;
    };
    let spec = match validate_submission(&submission) {
        Ok(spec) => spec,
        Err(e) => {
            // The error names the field (a regression seed, regress-empty-field-name.json, was
            // once refused as `: unknown field`). A path ending in '.' names nothing, unless a
            // key itself ends with '.'.
            let unnamed = e.field.is_empty()
                || (e.field.ends_with('.') && !has_key(&submission, &|k: &str| k.ends_with('.')));
            assert!(!unnamed, "a validation error names no field: {e}");
            let _ = format!("Invalid task: {e}");
            return;
        }
    };
    let task = Task::new(spec, "inst_1".into());
    let wire = serde_json::to_string(&task).expect("a task serialises");
    let _: Value = serde_json::from_str(&wire).expect("a serialised task parses back");
    for command in &task.commands {
        let stored = serde_json::to_string(&command.args).expect("args serialise");
        let read_back: Value = serde_json::from_str(&stored).expect("stored args parse back");
        let tool = Tool::from_name(&command.tool_name).expect("a validated tool has a name");
        let again = parse_args(tool, &read_back)
            .unwrap_or_else(|e| panic!("stored args no longer parse: {}: {}", e.field, e.message));
        assert_eq!(again, command.parsed, "stored args parse to another action");
        let _ = command.describe();
    }
});
