//! The `run` door, through the real binary: exit codes, progress output, JSON events,
//! screenshots, report.json and JUnit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod common;
use common::OwnChromium;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn browser_control(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_browser-control"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path.to_string_lossy().to_string()
}

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

#[test]
fn every_fixture_task_meets_its_expectation() {
    let out = tempfile::tempdir().unwrap();
    let junit = out.path().join("junit.xml");
    let run = browser_control(&[
        "run",
        "fixtures/tasks",
        // For the external task template's ${PUBLIC.STUDY_NAME}.
        "--public",
        "STUDY_NAME=template-study",
        "--out",
        out.path().to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let stdout = text(&run.stdout);
    assert_eq!(
        run.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{}",
        text(&run.stderr)
    );

    let report: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("report.json")).unwrap())
            .unwrap();
    assert!(report.len() >= 25, "{} tasks in the report", report.len());
    assert!(report.iter().all(|c| c["passed"] == true));
    // The fixtures include failures that are expected: they still pass.
    let expected_failures = report
        .iter()
        .filter(|c| c["task"]["status"] == "failed")
        .count();
    assert!(
        expected_failures >= 8,
        "{expected_failures} expected failures"
    );
    // Commands after a failing one are skipped.
    assert!(report.iter().any(|c| c["task"]["commands"]
        .as_array()
        .unwrap()
        .iter()
        .any(|cmd| cmd["status"] == "skipped")));

    // Every screenshot command left a PNG file.
    let shots: Vec<PathBuf> = report
        .iter()
        .flat_map(|c| {
            c["screenshots"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| PathBuf::from(p.as_str().unwrap()))
        })
        .collect();
    assert!(shots.len() >= 5, "{shots:?}");
    for shot in &shots {
        let bytes = std::fs::read(shot).unwrap();
        let magic_ok = match shot.extension().and_then(|e| e.to_str()) {
            Some("png") => bytes.starts_with(PNG_MAGIC),
            Some("jpg") => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
            Some("webp") => bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP",
            _ => false,
        };
        assert!(magic_ok, "{}", shot.display());
    }
    assert!(
        shots.iter().any(|s| s.extension().unwrap() == "jpg"),
        "{shots:?}"
    );
    // PDFs are saved as files too.
    let pdfs: Vec<PathBuf> = report
        .iter()
        .flat_map(|c| {
            c["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| PathBuf::from(p.as_str().unwrap()))
        })
        .collect();
    assert!(!pdfs.is_empty());
    for pdf in &pdfs {
        assert!(
            std::fs::read(pdf).unwrap().starts_with(b"%PDF-"),
            "{}",
            pdf.display()
        );
    }

    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.starts_with("<?xml"));
    assert!(
        xml.contains(&format!(
            "<testsuites name=\"browser-control\" tests=\"{}\" failures=\"0\"",
            report.len()
        )),
        "{xml}"
    );
    assert!(!xml.contains("<failure"));
    assert_eq!(xml.matches("<testcase ").count(), report.len());

    // Plain progress (stdout is not a terminal): a line per command and a verdict per task.
    assert!(stdout.contains("✓ 0 browser_navigate goto"), "{stdout}");
    assert!(stdout.contains("PASS Login — completed"), "{stdout}");
    assert!(
        stdout.contains(&format!("{} passed, 0 failed", report.len())),
        "{stdout}"
    );
}

#[test]
fn schema_prints_the_task_file_json_schema_with_every_tool() {
    let out = browser_control(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let schema: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema["title"], "browser-control task");
    let tools: Vec<&str> = schema["properties"]["commands"]["items"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["properties"]["tool_name"]["const"].as_str().unwrap())
        .collect();
    for tool in [
        "browser_tab",
        "browser_network",
        "browser_emulate",
        "browser_debug",
    ] {
        assert!(tools.contains(&tool), "{tool} missing from {tools:?}");
    }
}

#[test]
fn an_unmet_expectation_exits_1_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "unmet.yaml",
        r##"
- task_name: Expects success but the button is missing
  commands:
    - tool_name: browser_navigate
      args: { action: goto, url: "{{base_url}}/index.html" }
    - tool_name: browser_interact
      args: { action: click, selector: "#no-such-button", timeout: 500 }
    - tool_name: browser_content
      args: { action: get_text, selector: "#title" }
- task_name: Passes
  commands:
    - tool_name: browser_navigate
      args: { action: goto, url: "{{base_url}}/index.html" }
"##,
    );
    let junit = dir.path().join("j.xml");
    let run = browser_control(&[
        "run",
        &file,
        "--out",
        dir.path().to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let stdout = text(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("✗ 1 browser_interact click #no-such-button — COMMAND_TIMEOUT"),
        "{stdout}"
    );
    assert!(
        stdout.contains("- 2 browser_content get_text #title — skipped"),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAIL Expects success but the button is missing"),
        "{stdout}"
    );
    assert!(
        stdout.contains("expected completed, got failed at command 1"),
        "{stdout}"
    );
    assert!(stdout.contains("PASS Passes"), "{stdout}");
    assert!(stdout.contains("1 passed, 1 failed"), "{stdout}");
    let xml = std::fs::read_to_string(junit).unwrap();
    assert_eq!(xml.matches("<failure ").count(), 1, "{xml}");

    // The page as it was when the command failed is kept next to the report.
    let report: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    let shot = PathBuf::from(
        report[0]["failure_screenshot"]
            .as_str()
            .expect("failure screenshot"),
    );
    assert_eq!(shot.file_name().unwrap(), "cmd-1-failure.png");
    assert!(std::fs::read(&shot).unwrap().starts_with(PNG_MAGIC));
    assert!(report[1]["failure_screenshot"].is_null());
    assert!(
        stdout.contains("⤷ screenshot of the page when command 1 failed kept"),
        "{stdout}"
    );
}

#[test]
fn json_mode_prints_one_event_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "one.json",
        r#"{"task_name":"One","commands":[
        {"tool_name":"browser_navigate","args":{"action":"goto","url":"{{base_url}}/index.html"}},
        {"tool_name":"browser_execute","args":{"action":"evaluate","script":"return document.title"}}]}"#,
    );
    let run = browser_control(&[
        "run",
        &file,
        "--json",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let events: Vec<Value> = text(&run.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        vec![
            "task_queued",
            "task_started",
            "command_started",
            "command_succeeded",
            "command_started",
            "command_succeeded",
            "task_finished",
            "verdict",
            "summary"
        ],
        "{events:#?}"
    );
    assert_eq!(
        events[5]["result"]["content"][0]["text"],
        "\"Fixture Site\""
    );
    assert_eq!(events[6]["status"], "completed");
    assert_eq!(events[8]["passed"], 1);
    assert!(events[..6]
        .iter()
        .all(|e| e["taskId"] == events[0]["taskId"] && e["instanceId"] == "inst_1"));
}

#[test]
fn unusable_input_exits_2_naming_file_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "broken.yaml", "- task_name: Fine\n  commands:\n    - tool_name: browser_navigate\n      args: { action: reload }\n- task_name: Broken\n  commands:\n    - tool_name: browser_interact\n      args: { action: type, selector: '#q' }\n");
    let run = browser_control(&["run", &file]);
    assert_eq!(run.status.code(), Some(2));
    let stderr = text(&run.stderr);
    assert!(
        stderr.contains(&format!(
            "{file}:5: task \"Broken\": commands[0].args.text: is required"
        )),
        "{stderr}"
    );

    let bad_json = write(dir.path(), "bad.json", "{\n \"task_name\": \"x\",\n}\n");
    let run = browser_control(&["run", &bad_json]);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        text(&run.stderr).contains(&format!("{bad_json}:3: invalid JSON")),
        "{}",
        text(&run.stderr)
    );

    let run = browser_control(&["run", "no/such/file.yaml"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(text(&run.stderr).contains("no/such/file.yaml:0: no such file or folder"));
}

#[test]
fn a_missing_chromium_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "t.json",
        r#"{"task_name":"t","commands":[{"tool_name":"browser_navigate","args":{"action":"reload"}}]}"#,
    );
    let run = browser_control(&["run", &file, "--chrome", "/no/chromium/here"]);
    assert_eq!(run.status.code(), Some(2));
    let stderr = text(&run.stderr);
    assert!(
        stderr.contains("cannot start Chromium: --chrome /no/chromium/here: no such file"),
        "{stderr}"
    );
}

#[test]
fn help_explains_each_subcommand() {
    let help = browser_control(&["--help"]);
    assert!(help.status.success());
    assert!(
        text(&help.stdout).contains("run "),
        "{}",
        text(&help.stdout)
    );
    let run_help = text(&browser_control(&["run", "--help"]).stdout);
    for flag in [
        "--base-url",
        "--junit",
        "--json",
        "--out",
        "--chrome",
        "--timeout",
        "Exit code",
    ] {
        assert!(run_help.contains(flag), "{flag} missing from:\n{run_help}");
    }
}

#[test]
fn attach_runs_tasks_on_an_already_running_browser_and_leaves_it_running() {
    let chromium = OwnChromium::start();
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "t.json",
        r##"{"task_name":"Attached","commands":[
        {"tool_name":"browser_navigate","args":{"action":"goto","url":"{{base_url}}/index.html"}},
        {"tool_name":"browser_content","args":{"action":"get_text","selector":"#title"}}],
        "expect":{"outputs":[{"command":1,"contains":"Fixture Site"}]}}"##,
    );
    let http = chromium
        .ws_url
        .split("/devtools/")
        .next()
        .unwrap()
        .replace("ws://", "http://");
    for endpoint in [chromium.ws_url.clone(), http] {
        let run = browser_control(&[
            "run",
            &file,
            "--attach",
            &endpoint,
            "--out",
            dir.path().to_str().unwrap(),
        ]);
        assert_eq!(
            run.status.code(),
            Some(0),
            "{endpoint}: {}{}",
            text(&run.stdout),
            text(&run.stderr)
        );
        assert!(text(&run.stdout).contains("PASS Attached"));
    }
    let mut chromium = chromium;
    assert!(
        chromium.child.try_wait().unwrap().is_none(),
        "the attached browser was left running"
    );
}

#[test]
fn instances_spread_tasks_over_several_browsers() {
    let dir = tempfile::tempdir().unwrap();
    let task = |name: &str| {
        format!(
            r#"{{"task_name":"{name}","commands":[{{"tool_name":"browser_navigate","args":{{"action":"goto","url":"{{{{base_url}}}}/index.html"}}}},{{"tool_name":"browser_execute","args":{{"action":"evaluate","script":"return new Promise(r => setTimeout(() => r(document.title), 300))"}}}}]}}"#
        )
    };
    let file = write(
        dir.path(),
        "two.json",
        &format!("[{}, {}]", task("A"), task("B")),
    );
    let run = browser_control(&[
        "run",
        &file,
        "--instances",
        "2",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    let report: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    let instances: Vec<&str> = report
        .iter()
        .map(|c| c["task"]["instanceId"].as_str().unwrap())
        .collect();
    assert_eq!(
        instances,
        vec!["inst_1", "inst_2"],
        "the second task goes to the idle instance"
    );
    // Both ran at once: each started before the other finished.
    let (a, b) = (&report[0]["task"], &report[1]["task"]);
    assert!(
        a["startedAt"].as_u64() < b["completedAt"].as_u64()
            && b["startedAt"].as_u64() < a["completedAt"].as_u64(),
        "{a}\n{b}"
    );
}
