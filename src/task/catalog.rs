//! What every tool accepts, written once as data: its actions, the fields each action requires
//! or allows, and what they mean. MCP's tool list, REST's `/api/tools` and the task-file JSON
//! Schema are renderings of it. The tests parse each action's example with the typed parser, so
//! this description and `action.rs` cannot drift apart.

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
                optional: &[],
                example: r#"{"action":"goto","url":"https://example.com"}"#,
            },
            ActionDoc {
                name: "reload",
                description: "Reload the current page",
                required: &[],
                optional: &[],
                example: r#"{"action":"reload"}"#,
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
        ],
        fields: &[
            FieldDoc {
                name: "url",
                schema: non_empty_string,
                description: "Absolute URL to open (http, https, file, data or about:blank)",
            },
            SELECTOR,
        ],
    },
    ToolDoc {
        tool: Tool::Interact,
        description: "Interact with the page: click, type into fields, press keys, scroll, choose \
                      options, hover. Elements are checked to be visible, enabled and not covered.",
        actions: &[
            ActionDoc {
                name: "click",
                description: "Click the element",
                required: &[SELECTOR_OR_REF],
                optional: &[],
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
        ],
        fields: &[
            SELECTOR,
            REF,
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
                description: "Capture a PNG of the viewport, the whole page or one element",
                required: &[],
                optional: &["selector", "ref", "full_page"],
                example: r#"{"action":"screenshot","full_page":true}"#,
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

    fn field(&self, name: &str) -> &'static FieldDoc {
        if name == TIMEOUT.name {
            return &TIMEOUT;
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
        for field in self.fields.iter().chain([&TIMEOUT]) {
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
        for name in action
            .required
            .iter()
            .flat_map(|r| alternatives(r))
            .chain(action.optional.iter().copied())
            .chain([TIMEOUT.name])
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
        let schema = doc.action_schema(doc.action("click").unwrap());
        assert_eq!(schema["required"], json!(["action"]));
        assert_eq!(
            schema["allOf"],
            json!([{"oneOf": [{"required": ["selector"]}, {"required": ["ref"]}]}])
        );
        assert!(schema["properties"]["ref"].is_object());
        let err = parse_args(Tool::Interact, &json!({"action": "click"})).unwrap_err();
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
        assert_eq!(names, ["max_length", "ref", "selector", "timeout"]);
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
}
