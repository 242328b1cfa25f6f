//! Strict reading of what clients send: every field must be one the receiver knows, and every
//! value must fit the field's JSON Schema. A misspelt field is named with the closest known one
//! (`wait_untill: unknown field; did you mean waitUntil?`), so a typo is an error, not a field
//! silently left out.

use serde_json::{Map, Value};

/// The known name closest to `unknown`, when one is close enough to be what was meant. Case,
/// `_` and `-` do not count (`wait_until` is one edit from `waitUntil`'s spelling, not eight).
pub fn did_you_mean<'a>(
    unknown: &str,
    known: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let wanted = norm(unknown);
    let allowed = match wanted.chars().count() {
        0..=2 => 0,
        3..=4 => 1,
        5..=8 => 2,
        _ => 3,
    };
    known
        .into_iter()
        .map(|k| (strsim::damerau_levenshtein(&wanted, &norm(k)), k))
        .filter(|(d, _)| *d <= allowed)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// `unknown field; did you mean X?`, or `unknown field` with the known names listed.
pub fn unknown_field_message<'a>(
    field: &str,
    known: impl IntoIterator<Item = &'a str> + Clone,
    what: &str,
) -> String {
    match did_you_mean(field, known.clone()) {
        Some(close) => format!("unknown field; did you mean {close}?"),
        None => {
            let list: Vec<&str> = known.into_iter().collect();
            format!("unknown field; {what} takes {}", list.join(", "))
        }
    }
}

/// How a key is named in an error: as it is, or `""` for the empty one (so the error still
/// names a field).
pub fn field_name(key: &str) -> String {
    if key.is_empty() {
        "\"\"".to_string()
    } else {
        key.to_string()
    }
}

/// Checks the keys of a JSON object against the names a receiver knows. `null` values count as
/// given (callers decide whether a null is allowed).
pub fn check_keys(
    object: &Map<String, Value>,
    known: &[&str],
    what: &str,
) -> Result<(), (String, String)> {
    for key in object.keys() {
        if !known.contains(&key.as_str()) {
            return Err((
                field_name(key),
                unknown_field_message(key, known.iter().copied(), what),
            ));
        }
    }
    Ok(())
}

/// Checks `value` against the subset of JSON Schema the catalog writes: `type` (one or a list),
/// `enum`, `const`, `minimum`, `maximum`, `exclusiveMinimum`, `minLength`, `minItems`,
/// `maxItems`, `items`, `properties` / `required` / `additionalProperties`, `oneOf` / `anyOf`.
/// (`pattern` is left to the parser, which says more about what it expects.) The error is the
/// message for the field, and the path inside it (`[2]`, `.width`) when the fault is deeper.
pub fn check_value(schema: &Value, value: &Value) -> Result<(), (String, String)> {
    check_at(schema, value, String::new())
}

fn fail(path: String, message: impl Into<String>) -> Result<(), (String, String)> {
    Err((path, message.into()))
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn is_type(value: &Value, kind: &str) -> bool {
    match kind {
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        // A whole number as JSON writes it (`5`, not `5.0`, `1e3` or 2^64).
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.as_f64().is_some_and(f64::is_finite),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "null" => value.is_null(),
        _ => true,
    }
}

fn spoken_type(kind: &str) -> &str {
    match kind {
        "string" => "a string",
        "boolean" => "true or false",
        "integer" => "a whole number",
        "number" => "a number",
        "array" => "an array",
        "object" => "an object",
        other => other,
    }
}

/// `a whole number from 1 to 3600000`, `a number of at least 0`, … for range errors.
fn range_words(schema: &Value, kind: &str) -> String {
    let lo = schema
        .get("minimum")
        .or_else(|| schema.get("exclusiveMinimum"));
    let exclusive = schema.get("minimum").is_none() && schema.get("exclusiveMinimum").is_some();
    let hi = schema.get("maximum");
    let what = spoken_type(kind);
    match (lo, hi) {
        (Some(lo), Some(hi)) => format!("{what} from {lo} to {hi}"),
        (Some(lo), None) if exclusive => format!("{what} greater than {lo}"),
        (Some(lo), None) => format!("{what} of at least {lo}"),
        (None, Some(hi)) => format!("{what} of at most {hi}"),
        (None, None) => what.to_string(),
    }
}

fn check_at(schema: &Value, value: &Value, path: String) -> Result<(), (String, String)> {
    if let Some(alternatives) = schema.get("oneOf").or_else(|| schema.get("anyOf")) {
        let alternatives = alternatives.as_array().map(Vec::as_slice).unwrap_or(&[]);
        let mut of_its_type = None;
        let mut kinds = Vec::new();
        for alternative in alternatives {
            match check_at(alternative, value, path.clone()) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    let kind = alternative.get("type").and_then(Value::as_str);
                    if kind.is_some_and(|k| is_type(value, k)) {
                        of_its_type.get_or_insert(e);
                    }
                    kinds.extend(kind.map(spoken_type));
                }
            }
        }
        // The fault inside the alternative of the value's own type, else what would do.
        return match of_its_type {
            Some(e) => Err(e),
            None => fail(
                path,
                format!("must be {}, not {}", kinds.join(" or "), type_name(value)),
            ),
        };
    }
    let kinds: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !kinds.is_empty() && !kinds.iter().any(|k| is_type(value, k)) {
        let wanted: Vec<&str> = kinds.iter().map(|k| spoken_type(k)).collect();
        let wanted = wanted.join(" or ");
        // A range too, when the type has one: `must be a whole number from 1 to 3600000`.
        let wanted = match kinds.as_slice() {
            [kind @ ("integer" | "number")] => range_words(schema, kind),
            _ => wanted,
        };
        let got = match value {
            Value::Number(n) => format!("not {n}"),
            Value::String(s) if s.chars().count() <= 40 => format!("not the string {s:?}"),
            other => format!("not {}", type_name(other)),
        };
        return fail(path, format!("must be {wanted}, {got}"));
    }
    if let Some(Value::Array(allowed)) = schema.get("enum") {
        if !allowed.contains(value) {
            let list: Vec<String> = allowed.iter().map(|v| format!("`{}`", plain(v))).collect();
            return fail(
                path,
                format!("'{}' is not one of {}", plain(value), list.join(", ")),
            );
        }
    }
    if let Some(constant) = schema.get("const") {
        if constant != value {
            return fail(path, format!("must be {constant}"));
        }
    }
    if let Some(n) = value.as_f64().filter(|_| value.is_number()) {
        let kind = if kinds.contains(&"integer") {
            "integer"
        } else {
            "number"
        };
        let below = schema
            .get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|lo| n < lo)
            || schema
                .get("exclusiveMinimum")
                .and_then(Value::as_f64)
                .is_some_and(|lo| n <= lo);
        let above = schema
            .get("maximum")
            .and_then(Value::as_f64)
            .is_some_and(|hi| n > hi);
        if below || above {
            return fail(
                path,
                format!("must be {}, not {value}", range_words(schema, kind)),
            );
        }
    }
    if let Value::String(s) = value {
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
            if (s.trim().chars().count() as u64) < min {
                return fail(path, "must not be empty");
            }
        }
    }
    if let Value::Array(items) = value {
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
            if (items.len() as u64) < min {
                return fail(path, format!("must list at least {min} item(s)"));
            }
        }
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
            if (items.len() as u64) > max {
                return fail(path, format!("must list at most {max} item(s)"));
            }
        }
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                check_at(item_schema, item, format!("{path}[{i}]"))?;
            }
        }
    }
    if let Value::Object(map) = value {
        let properties = schema.get("properties").and_then(Value::as_object);
        if let Some(Value::Array(required)) = schema.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                if !map.contains_key(name) {
                    return fail(format!("{path}.{name}"), "is required");
                }
            }
        }
        if let Some(properties) = properties {
            let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
            for (key, item) in map {
                match properties.get(key) {
                    Some(item_schema) => check_at(item_schema, item, format!("{path}.{key}"))?,
                    None if closed => {
                        let known: Vec<&str> = properties.keys().map(String::as_str).collect();
                        return fail(
                            format!("{path}.{key}"),
                            unknown_field_message(key, known.iter().copied(), "it"),
                        );
                    }
                    None => {}
                }
            }
        } else if let Some(Value::Object(extra)) = schema.get("additionalProperties") {
            let extra = Value::Object(extra.clone());
            for (key, item) in map {
                check_at(&extra, item, format!("{path}.{key}"))?;
            }
        }
    }
    Ok(())
}

/// A JSON value as it reads in a message: strings without their quotes.
fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_close_name_is_suggested() {
        let known = ["url", "waitUntil", "timeout", "tabId"];
        assert_eq!(did_you_mean("wait_untill", known), Some("waitUntil"));
        assert_eq!(did_you_mean("wait_until", known), Some("waitUntil"));
        assert_eq!(did_you_mean("timout", known), Some("timeout"));
        assert_eq!(did_you_mean("TabID", known), Some("tabId"));
        assert_eq!(did_you_mean("uri", known), Some("url"));
        assert_eq!(did_you_mean("wait", known), None);
        assert_eq!(did_you_mean("colour", known), None);
        assert_eq!(
            unknown_field_message("wait_untill", known, "goto"),
            "unknown field; did you mean waitUntil?"
        );
        assert_eq!(
            unknown_field_message("colour", known, "goto"),
            "unknown field; goto takes url, waitUntil, timeout, tabId"
        );
    }

    #[test]
    fn values_are_checked_against_their_schema() {
        let timeout = json!({"type": "integer", "minimum": 1, "maximum": 3600000});
        assert!(check_value(&timeout, &json!(5000)).is_ok());
        for bad in [
            json!(1.5),
            json!(null),
            json!(1e20),
            json!(18446744073709551616.0),
            json!(0),
            json!("5000"),
        ] {
            let (path, message) = check_value(&timeout, &bad).expect_err(&bad.to_string());
            assert_eq!(path, "");
            assert!(
                message.starts_with("must be a whole number from 1 to 3600000"),
                "{bad}: {message}"
            );
        }
        let (_, message) = check_value(&timeout, &json!(1.5)).unwrap_err();
        assert_eq!(message, "must be a whole number from 1 to 3600000, not 1.5");
        let enumerated = json!({"type": "string", "enum": ["load", "networkidle"]});
        assert_eq!(
            check_value(&enumerated, &json!("soon")).unwrap_err().1,
            "'soon' is not one of `load`, `networkidle`"
        );
        let list =
            json!({"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}});
        assert_eq!(
            check_value(&list, &json!(["a", " "])).unwrap_err(),
            ("[1]".to_string(), "must not be empty".to_string())
        );
        let object = json!({
            "type": "object",
            "properties": {"urlPattern": {"type": "string"}, "resourceType": {"type": "string"}},
            "required": ["urlPattern"],
            "additionalProperties": false
        });
        assert_eq!(
            check_value(&object, &json!({"urlPatern": "*"}))
                .unwrap_err()
                .0,
            ".urlPattern"
        );
        assert_eq!(
            check_value(&object, &json!({"urlPattern": "*", "resourceTyp": "Image"})).unwrap_err(),
            (
                ".resourceTyp".to_string(),
                "unknown field; did you mean resourceType?".to_string()
            )
        );
        let either = json!({"oneOf": [{"type": "string"}, object]});
        assert!(check_value(&either, &json!("*.png")).is_ok());
        assert!(check_value(&either, &json!({"urlPattern": "*"})).is_ok());
        assert_eq!(
            check_value(&either, &json!(5)).unwrap_err().1,
            "must be a string or an object, not an integer"
        );
    }
}
