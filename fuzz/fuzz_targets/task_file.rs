//! A task file for `run`, as `cli::taskfile::load_file` reads it: JSON or YAML text, one task
//! or a list, each with an optional `expect` block, `{{base_url}}` and `{{task_dir}}`
//! substituted, every task validated. `load_file` reads from a path, so the input is written to
//! a file in a temp folder kept for the whole run: its first byte picks the extension (even:
//! `.json`, odd: `.yaml`), the rest is the file's text. Any input must load or give a
//! `file:line: reason` error, never panic; a loaded task must be a valid submission, and its
//! expectation must be checkable against the task it makes.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use browser_control::cli::taskfile::load_file;
use browser_control::task::{validate_submission, Task};
use libfuzzer_sys::fuzz_target;

/// In /dev/shm when there is one: on ext4, rewriting a file on disk flushes it at every close
/// (auto_da_alloc), which made this target 100 times slower.
fn folder() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("browser-control-fuzz-")
            .tempdir_in("/dev/shm")
            .or_else(|_| {
                tempfile::Builder::new()
                    .prefix("browser-control-fuzz-")
                    .tempdir()
            })
            .expect("a temp folder for the task files");
        // A static is never dropped: remove the folder when libFuzzer exits (tools/fuzz
        // removes what a crash leaves).
        extern "C" fn remove() {
            if let Some(dir) = DIR.get() {
                let _ = std::fs::remove_dir_all(dir.path());
            }
        }
        unsafe { libc::atexit(remove) };
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, text)) = data.split_first() else {
        return;
    };
    let name = if kind % 2 == 0 {
        "task.json"
    } else {
        "task.yaml"
    };
    let file: PathBuf = folder().path().join(name);
    std::fs::write(&file, text).expect("the task file is written");
    // Lines as YAML counts them (an upper bound for JSON's): a lone CR, NEL, LS and PS break
    // lines too.
    let breaks = text.iter().filter(|&&b| b == b'\n' || b == b'\r').count()
        + String::from_utf8_lossy(text)
            .chars()
            .filter(|c| matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}'))
            .count();
    let lines = breaks + 1;
    match load_file(&file, "http://127.0.0.1:8080/") {
        Err(e) => {
            let _ = e.to_string();
            // A parser's error at the end of the text may name the line after the last one.
            assert!(
                e.line <= lines + 1,
                "error line {} of a {lines}-line file: {e}",
                e.line
            );
        }
        Ok(cases) => {
            assert!(!cases.is_empty(), "a file that loads holds a task");
            for case in cases {
                assert!(
                    (1..=lines).contains(&case.line),
                    "task line {} of a {lines}-line file",
                    case.line
                );
                assert!(case.submission.get("expect").is_none(), "expect is removed");
                let spec = validate_submission(&case.submission).unwrap_or_else(|e| {
                    panic!("a loaded task is no longer a valid submission: {e}")
                });
                let task = Task::new(spec, "inst_1".into());
                let _ = case.expect.mismatches(&task);
                let _ = case.expect.describe();
            }
        }
    }
});
