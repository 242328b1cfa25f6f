//! `--junit FILE`: a JUnit XML report, one testsuite per task file, one testcase per task.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use quick_xml::events::BytesText;
use quick_xml::Writer;

use crate::task::{CommandStatus, Task};

/// A task's verdict, as the report shows it.
pub struct CaseReport<'a> {
    pub file: &'a Path,
    pub name: &'a str,
    pub task: &'a Task,
    pub expectation: String,
    /// Empty when the task met its expectation.
    pub mismatches: &'a [String],
}

fn seconds(task: &Task) -> String {
    let ms = match (task.started_at, task.completed_at) {
        (Some(s), Some(c)) => c.saturating_sub(s),
        _ => 0,
    };
    format!("{:.3}", ms as f64 / 1000.0)
}

/// What each command did, one line each: the testcase's system-out.
fn transcript(task: &Task) -> String {
    let mut out = String::new();
    for (i, c) in task.commands.iter().enumerate() {
        let detail = match c.status {
            CommandStatus::Success => c
                .result
                .as_ref()
                .map(|r| {
                    let text = r.joined_text();
                    if text.is_empty() {
                        format!("{} image(s)", r.images().count())
                    } else {
                        crate::task::clip(&text.replace('\n', " "), 200)
                    }
                })
                .unwrap_or_default(),
            CommandStatus::Error => c.error.as_ref().map(|e| e.to_string()).unwrap_or_default(),
            _ => String::new(),
        };
        out.push_str(&format!(
            "{i} {} [{}] {detail}\n",
            c.describe(),
            c.status.as_str()
        ));
    }
    out
}

pub fn render(cases: &[CaseReport<'_>]) -> io::Result<String> {
    let mut by_file: BTreeMap<PathBuf, Vec<&CaseReport<'_>>> = BTreeMap::new();
    for case in cases {
        by_file
            .entry(case.file.to_path_buf())
            .or_default()
            .push(case);
    }
    let failures = cases.iter().filter(|c| !c.mismatches.is_empty()).count();
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    writer
        .create_element("testsuites")
        .with_attribute(("name", "browser-control"))
        .with_attribute(("tests", cases.len().to_string().as_str()))
        .with_attribute(("failures", failures.to_string().as_str()))
        .write_inner_content(|w| {
            for (file, cases) in &by_file {
                let failed = cases.iter().filter(|c| !c.mismatches.is_empty()).count();
                let file_name = file.display().to_string();
                w.create_element("testsuite")
                    .with_attribute(("name", file_name.as_str()))
                    .with_attribute(("tests", cases.len().to_string().as_str()))
                    .with_attribute(("failures", failed.to_string().as_str()))
                    .write_inner_content(|w| {
                        for case in cases {
                            let case_el = w
                                .create_element("testcase")
                                .with_attribute(("name", case.name))
                                .with_attribute(("classname", file_name.as_str()))
                                .with_attribute(("time", seconds(case.task).as_str()));
                            case_el.write_inner_content(|w| {
                                if !case.mismatches.is_empty() {
                                    let message = case.mismatches.join("; ");
                                    w.create_element("failure")
                                        .with_attribute(("message", message.as_str()))
                                        .with_attribute(("type", case.expectation.as_str()))
                                        .write_text_content(BytesText::new(&message))?;
                                }
                                w.create_element("system-out")
                                    .write_text_content(BytesText::new(&transcript(case.task)))?;
                                Ok(())
                            })?;
                        }
                        Ok(())
                    })?;
            }
            Ok(())
        })?;
    let body = String::from_utf8(writer.into_inner()).map_err(io::Error::other)?;
    Ok(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}\n"
    ))
}
