//! Task files for `run`: JSON or YAML, one task or a list per file, in the spec's submit format
//! plus an optional `expect` block saying what a passing run looks like.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::task::{validate_submission, ErrorCode, Task, TaskStatus};

/// A task file entry that could not be used: which file, which line, why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}:{line}: {reason}", file.display())]
pub struct InputError {
    pub file: PathBuf,
    pub line: usize,
    pub reason: String,
}

/// What a task must end as for the run to count it as passing. Absent: it must complete.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    #[serde(default = "completed")]
    pub status: TaskStatus,
    /// Index of the command that fails (with `status: failed`).
    #[serde(default)]
    pub failed_command: Option<usize>,
    #[serde(default)]
    pub error_code: Option<ErrorCode>,
    #[serde(default)]
    pub error_contains: Option<String>,
    #[serde(default)]
    pub outputs: Vec<OutputCheck>,
}

fn completed() -> TaskStatus {
    TaskStatus::Completed
}

impl Default for Expectation {
    fn default() -> Self {
        Expectation {
            status: TaskStatus::Completed,
            failed_command: None,
            error_code: None,
            error_contains: None,
            outputs: Vec::new(),
        }
    }
}

/// A substring the text of a command's result must contain.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputCheck {
    pub command: usize,
    pub contains: String,
}

/// One task of a file, ready to submit.
#[derive(Debug, Clone)]
pub struct TaskCase {
    pub file: PathBuf,
    pub line: usize,
    pub name: String,
    /// The submit body, `{{base_url}}` substituted, `expect` removed.
    pub submission: Value,
    pub expect: Expectation,
}

impl Expectation {
    /// Why `task` does not meet the expectation; empty when it does.
    pub fn mismatches(&self, task: &Task) -> Vec<String> {
        let mut out = Vec::new();
        if task.status != self.status {
            let why = task
                .error
                .as_ref()
                .map(|e| {
                    let at = e
                        .command_id
                        .as_ref()
                        .and_then(|id| id.rsplit('_').next())
                        .map(|i| format!(" at command {i}"))
                        .unwrap_or_default();
                    format!("{at}: {}: {}", e.code, e.message)
                })
                .unwrap_or_default();
            out.push(format!(
                "expected {}, got {}{why}",
                self.status, task.status
            ));
        }
        let failed = task.commands.iter().position(|c| c.error.is_some());
        if let Some(expected) = self.failed_command {
            if failed != Some(expected) {
                let got = failed.map_or("no command".to_string(), |i| format!("command {i}"));
                out.push(format!("expected command {expected} to fail, {got} failed"));
            }
        }
        let error = failed.and_then(|i| task.commands[i].error.as_ref());
        if let Some(code) = self.error_code {
            if error.map(|e| e.code) != Some(code) {
                let got = error.map_or("no error".to_string(), |e| e.code.to_string());
                out.push(format!("expected error {code}, got {got}"));
            }
        }
        if let Some(fragment) = &self.error_contains {
            match error {
                Some(e) if e.message.contains(fragment.as_str()) => {}
                Some(e) => out.push(format!(
                    "expected the error to contain \"{fragment}\", it says \"{}\"",
                    e.message
                )),
                None => out.push(format!("expected an error containing \"{fragment}\", none")),
            }
        }
        for check in &self.outputs {
            let text = task
                .commands
                .get(check.command)
                .and_then(|c| c.result.as_ref())
                .map(|r| r.joined_text());
            match text {
                Some(t) if t.contains(&check.contains) => {}
                Some(t) => out.push(format!(
                    "expected command {} to output \"{}\", it gave \"{}\"",
                    check.command,
                    check.contains,
                    crate::task::clip(&t, 200)
                )),
                None => out.push(format!(
                    "expected command {} to output \"{}\", it has no result",
                    check.command, check.contains
                )),
            }
        }
        out
    }

    /// One line describing the expectation, for reports.
    pub fn describe(&self) -> String {
        match (self.status, self.failed_command, self.error_code) {
            (TaskStatus::Failed, Some(i), Some(code)) => {
                format!("expected to fail at command {i} with {code}")
            }
            (TaskStatus::Failed, Some(i), None) => format!("expected to fail at command {i}"),
            (status, _, _) => format!("expected {status}"),
        }
    }
}

/// Expands files and folders (recursively, by name) into task files.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found).map_err(|e| InputError {
                file: path.clone(),
                line: 0,
                reason: format!("cannot read folder: {e}"),
            })?;
            found.sort();
            if found.is_empty() {
                return Err(InputError {
                    file: path.clone(),
                    line: 0,
                    reason: "no .json, .yaml or .yml task files in this folder".into(),
                });
            }
            files.extend(found);
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            return Err(InputError {
                file: path.clone(),
                line: 0,
                reason: "no such file or folder".into(),
            });
        }
    }
    Ok(files)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("json" | "yaml" | "yml")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

/// Loads every task of every file; the first unusable one stops the run before any browser work.
pub fn load(paths: &[PathBuf], base_url: &str) -> Result<Vec<TaskCase>, InputError> {
    let mut cases = Vec::new();
    for file in collect_files(paths)? {
        cases.extend(load_file(&file, base_url)?);
    }
    Ok(cases)
}

pub fn load_file(file: &Path, base_url: &str) -> Result<Vec<TaskCase>, InputError> {
    let error = |line: usize, reason: String| InputError {
        file: file.to_path_buf(),
        line,
        reason,
    };
    let text = std::fs::read_to_string(file).map_err(|e| error(0, format!("cannot read: {e}")))?;
    let is_json = file.extension().and_then(|e| e.to_str()) == Some("json");
    let document: Value = if is_json {
        serde_json::from_str(&text).map_err(|e| error(e.line(), format!("invalid JSON: {e}")))?
    } else {
        serde_yaml_ng::from_str(&text).map_err(|e| {
            let line = e.location().map_or(0, |l| l.line());
            error(line, format!("invalid YAML: {e}"))
        })?
    };
    let tasks = match document {
        Value::Array(items) => items,
        Value::Object(_) => vec![document],
        _ => return Err(error(1, "expected a task object or a list of tasks".into())),
    };
    if tasks.is_empty() {
        return Err(error(1, "the file holds no tasks".into()));
    }
    // `{{task_dir}}`: the task file's folder, absolute, for files a task uploads.
    let task_dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .canonicalize()
        .map(|p| p.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut search_from = 0;
    tasks
        .into_iter()
        .enumerate()
        .map(|(i, mut task)| {
            let name = task["task_name"].as_str().unwrap_or_default().to_string();
            let line = line_of(&text, &name, &mut search_from);
            let label = if name.is_empty() {
                format!("task {i}")
            } else {
                format!("task \"{name}\"")
            };
            let expect = match task.as_object_mut().and_then(|o| o.remove("expect")) {
                None | Some(Value::Null) => Expectation::default(),
                Some(v) => serde_json::from_value(v)
                    .map_err(|e| error(line, format!("{label}: expect: {e}")))?,
            };
            substitute(&mut task, "{{base_url}}", base_url.trim_end_matches('/'));
            substitute(&mut task, "{{task_dir}}", &task_dir);
            stages_as_commands(&mut task).map_err(|e| error(line, format!("{label}: {e}")))?;
            let spec =
                validate_submission(&task).map_err(|e| error(line, format!("{label}: {e}")))?;
            if let Some(i) = expect.failed_command {
                if i >= spec.commands.len() {
                    return Err(error(
                        line,
                        format!(
                            "{label}: expect.failed_command is {i} but the task has {} commands",
                            spec.commands.len()
                        ),
                    ));
                }
            }
            if let Some(check) = expect
                .outputs
                .iter()
                .find(|c| c.command >= spec.commands.len())
            {
                return Err(error(
                    line,
                    format!(
                        "{label}: expect.outputs names command {} but the task has {} commands",
                        check.command,
                        spec.commands.len()
                    ),
                ));
            }
            Ok(TaskCase {
                file: file.to_path_buf(),
                line,
                name: if name.is_empty() { label } else { name },
                submission: task,
                expect,
            })
        })
        .collect()
}

/// Steps written in the external-task spec's YAML stage form (`id`, `type: external_task`,
/// `label`, `title`, `description`, `mandatory`, `target_url`, `config`) become commands of the
/// `external_task` tool: the stage's fields are its arguments, its title (or label) its
/// intention.
fn stages_as_commands(task: &mut Value) -> Result<(), String> {
    let Some(commands) = task.get_mut("commands").and_then(Value::as_array_mut) else {
        return Ok(());
    };
    for (i, command) in commands.iter_mut().enumerate() {
        let Some(stage) = command.as_object_mut() else {
            continue;
        };
        let Some(kind) = stage.remove("type") else {
            continue;
        };
        if kind != "external_task" {
            return Err(format!(
                "commands[{i}].type: '{}' is not a stage type this runner knows (external_task); a command is {{tool_name, intention?, args}}",
                kind.as_str().unwrap_or_default()
            ));
        }
        if stage.contains_key("tool_name") || stage.contains_key("args") {
            return Err(format!(
                "commands[{i}]: a stage (type: external_task) has its fields at the top level, not tool_name and args"
            ));
        }
        let intention = ["title", "label"]
            .iter()
            .find_map(|k| stage.get(*k).and_then(Value::as_str))
            .unwrap_or("External task")
            .to_string();
        let args = Value::Object(std::mem::take(stage));
        *command = serde_json::json!({
            "tool_name": "external_task",
            "intention": intention,
            "args": args,
        });
    }
    Ok(())
}

/// The 1-based line where `name` next appears (tasks are found in order), or 1.
fn line_of(text: &str, name: &str, from: &mut usize) -> usize {
    if name.is_empty() {
        return 1;
    }
    match text[*from..].find(name) {
        Some(pos) => {
            let at = *from + pos;
            *from = at + name.len();
            text[..at].matches('\n').count() + 1
        }
        None => 1,
    }
}

/// Replaces `placeholder` (`{{base_url}}`, `{{task_dir}}`) in every string of the task.
fn substitute(value: &mut Value, placeholder: &str, by: &str) {
    match value {
        Value::String(s) if s.contains(placeholder) => {
            *s = s.replace(placeholder, by);
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| substitute(v, placeholder, by)),
        Value::Object(map) => map
            .values_mut()
            .for_each(|v| substitute(v, placeholder, by)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn yaml_list_with_expectations_and_base_url() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "t.yaml",
            r##"
- task_name: First
  commands:
    - tool_name: browser_navigate
      args: { action: goto, url: "{{base_url}}/login.html" }
- task_name: Second
  expect:
    status: failed
    failed_command: 0
    error_code: EXECUTION_ERROR
    error_contains: overlay
    outputs: []
  commands:
    - tool_name: browser_interact
      args: { action: click, selector: "#covered-btn" }
"##,
        );
        let cases = load_file(&file, "http://127.0.0.1:8080/").unwrap();
        assert_eq!(cases.len(), 2);
        assert_eq!(
            cases[0].submission["commands"][0]["args"]["url"],
            "http://127.0.0.1:8080/login.html"
        );
        assert_eq!(cases[0].expect, Expectation::default());
        assert_eq!((cases[0].line, cases[1].line), (2, 6));
        assert_eq!(cases[1].expect.status, TaskStatus::Failed);
        assert_eq!(cases[1].expect.error_code, Some(ErrorCode::ExecutionError));
        assert!(cases[1].submission.get("expect").is_none());
    }

    #[test]
    fn unusable_input_names_file_line_and_reason() {
        let dir = tempfile::tempdir().unwrap();
        let bad_json = write(
            dir.path(),
            "bad.json",
            "{\n  \"task_name\": \"x\",\n  \"commands\": [\n}\n",
        );
        let e = load_file(&bad_json, "http://h").unwrap_err();
        assert_eq!(e.line, 4);
        assert!(e.reason.starts_with("invalid JSON"), "{e}");

        let bad_yaml = write(
            dir.path(),
            "bad.yaml",
            "task_name: x\ncommands: [\n  - : :\n",
        );
        let e = load_file(&bad_yaml, "http://h").unwrap_err();
        assert!(e.reason.starts_with("invalid YAML"), "{e}");
        assert!(e.line >= 2, "{e}");

        let invalid = write(dir.path(), "invalid.yaml", "- task_name: ok\n  commands:\n    - tool_name: browser_navigate\n      args: { action: reload }\n- task_name: Broken\n  commands:\n    - tool_name: browser_navigate\n      args: { action: goto }\n");
        let e = load_file(&invalid, "http://h").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}:5: task \"Broken\": commands[0].args.url: is required",
                invalid.display()
            )
        );

        let wrong_expect = write(
            dir.path(),
            "x.json",
            r#"{"task_name":"t","expect":{"statuz":"failed"},"commands":[{"tool_name":"browser_navigate","args":{"action":"reload"}}]}"#,
        );
        let e = load_file(&wrong_expect, "http://h").unwrap_err();
        assert!(e.reason.contains("unknown field `statuz`"), "{e}");

        let out_of_range = write(
            dir.path(),
            "y.json",
            r#"{"task_name":"t","expect":{"status":"failed","failed_command":3},"commands":[{"tool_name":"browser_navigate","args":{"action":"reload"}}]}"#,
        );
        let e = load_file(&out_of_range, "http://h").unwrap_err();
        assert!(
            e.reason
                .contains("failed_command is 3 but the task has 1 commands"),
            "{e}"
        );

        let missing = load(&[dir.path().join("nope.yaml")], "http://h").unwrap_err();
        assert_eq!(missing.reason, "no such file or folder");
    }

    #[test]
    fn folders_expand_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        let task = r#"{"task_name":"t","commands":[{"tool_name":"browser_navigate","args":{"action":"reload"}}]}"#;
        write(dir.path(), "b.json", task);
        write(dir.path(), "a.yml", task);
        write(dir.path(), "notes.txt", "ignored");
        let files = collect_files(&[dir.path().to_path_buf()]).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, vec!["a.yml", "b.json"]);
    }

    #[test]
    fn task_dir_becomes_the_task_files_absolute_folder() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "upload.yaml",
            "task_name: Up\ncommands:\n  - tool_name: browser_interact\n    args: { action: upload, selector: '#f', files: ['{{task_dir}}/upload.yaml'] }\n",
        );
        let cases = load_file(&file, "http://h").unwrap();
        let files = &cases[0].submission["commands"][0]["args"]["files"][0];
        let expected = dir.path().canonicalize().unwrap().join("upload.yaml");
        assert_eq!(files.as_str().unwrap(), expected.to_str().unwrap());
    }
}
