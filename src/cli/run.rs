//! `browser-control run`: runs task files against Chromium, shows each command pass or fail,
//! saves screenshots and a report, and exits 0 (all as expected), 1 (some not) or 2 (unusable
//! input).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use base64::Engine;
use clap::Args;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::browser_args::BrowserArgs;
use super::junit::{self, CaseReport};
use super::progress::{Mode, Progress};
use super::site::SiteServer;
use super::store_args::StoreArgs;
use super::taskfile::{self, TaskCase};
use crate::events::EventKind;
use crate::scheduler::{Scheduler, SchedulerConfig};
use crate::store::StoreUrl;
use crate::task::{validate_submission, Content, Task};

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Task files (.json, .yaml, .yml) or folders of them, run in name order.
    #[arg(required = true, value_name = "FILE_OR_DIR")]
    pub paths: Vec<PathBuf>,
    /// Where `{{base_url}}` points. Without it, the fixture site is served on a free loopback
    /// port.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// The folder served as the fixture site.
    #[arg(long, value_name = "DIR", default_value = "fixtures/site")]
    pub site: PathBuf,
    /// Where screenshots and report.json go.
    #[arg(long, value_name = "DIR", default_value = "out")]
    pub out: PathBuf,
    /// Also write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// One JSON object per event on stdout instead of progress lines.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub browser: BrowserArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Exit codes, as documented in `--help` and the README.
pub const EXIT_PASS: u8 = 0;
pub const EXIT_FAIL: u8 = 1;
pub const EXIT_UNUSABLE: u8 = 2;

pub async fn run(args: RunArgs) -> ExitCode {
    let started = Instant::now();
    let mode = Mode::detect(args.json);
    let mut progress = Progress::new(mode);

    // Input first: a broken file fails the run before any browser starts.
    let site = match &args.base_url {
        Some(_) => None,
        None => match SiteServer::start(&args.site).await {
            Ok(site) => Some(site),
            Err(e) => return unusable(&progress, &format!("{}: {e}", args.site.display())),
        },
    };
    let base_url = args
        .base_url
        .clone()
        .or_else(|| site.as_ref().map(SiteServer::base_url))
        .unwrap_or_default();
    let cases = match taskfile::load(&args.paths, &base_url) {
        Ok(cases) => cases,
        Err(e) => return unusable(&progress, &e.to_string()),
    };

    let mut retention = args.store.retention();
    retention.keep_finished = retention.keep_finished.max(cases.len());
    let store = match args.store.url(|| Ok(StoreUrl::Memory)) {
        Ok(url) => args.store.open(&url).await,
        Err(e) => Err(e),
    };
    let store = match store {
        Ok(store) => store,
        Err(e) => return unusable(&progress, &format!("{e:#}")),
    };
    let config = SchedulerConfig {
        instances: usize::from(args.browser.instances),
        source: args.browser.source_with(crate::browser::Uploads::Anywhere),
        executor: args.browser.executor(),
        max_queued: cases.len().max(1),
        store,
        retention,
        lease: args.store.lease(),
        capture_on_failure: true,
        panic_on_intention: None,
        user_limits: Default::default(),
        // Nobody answers approvals in a run, and nobody undoes.
        policy: Default::default(),
        checkpoints: crate::scheduler::Checkpoints::Off,
        public_values: args.browser.public_values(),
    };
    let scheduler = match Scheduler::start(config).await {
        Ok(s) => s,
        Err(e) => {
            let what = args.browser.start_failure();
            return unusable(&progress, &format!("{what}: {e:#}"));
        }
    };

    // External steps' apps report to a server of their own.
    let external = cases.iter().any(|c| {
        c.submission["commands"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["tool_name"] == "external_task"))
    });
    let channels = match external {
        true => match crate::server::Server::for_external_apps(scheduler.clone()).await {
            Ok(server) => Some(server),
            Err(e) => {
                scheduler.shutdown().await;
                return unusable(
                    &progress,
                    &format!("cannot serve the external tasks: {e:#}"),
                );
            }
        },
        false => None,
    };
    let finished = drive(&scheduler, &cases, &mut progress).await;
    match channels {
        Some(server) => server.shutdown().await,
        None => scheduler.shutdown().await,
    }
    progress.finish();

    let verdicts: Vec<Verdict> = finished
        .into_iter()
        .map(|(i, task)| Verdict {
            mismatches: cases[i].expect.mismatches(&task),
            failure_shot: task
                .commands
                .iter()
                .enumerate()
                .find_map(|(i, c)| c.failure_screenshot.clone().map(|png| (i, png))),
            case: i,
            task,
        })
        .collect();
    let failed = verdicts.iter().filter(|v| !v.mismatches.is_empty()).count()
        + cases.len().saturating_sub(verdicts.len());

    if let Err(e) = write_outputs(&args, &cases, &verdicts) {
        eprintln!("error: cannot write the report: {e}");
        return ExitCode::from(EXIT_FAIL);
    }
    let summary = format!(
        "{} passed, {failed} failed, {} tasks in {:.1} s; screenshots and report.json in {}",
        verdicts.len() - verdicts.iter().filter(|v| !v.mismatches.is_empty()).count(),
        cases.len(),
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    if mode == Mode::Json {
        progress.json_line(&json!({ "type": "summary", "passed": cases.len() - failed, "failed": failed, "total": cases.len() }));
    } else {
        progress.line(summary);
    }
    ExitCode::from(if failed == 0 { EXIT_PASS } else { EXIT_FAIL })
}

fn unusable(progress: &Progress, reason: &str) -> ExitCode {
    if progress.mode() == Mode::Json {
        progress.json_line(&json!({ "type": "error", "message": reason }));
    }
    eprintln!("error: {reason}");
    ExitCode::from(EXIT_UNUSABLE)
}

/// A finished task and how it measured up to its case's expectation.
struct Verdict {
    case: usize,
    task: Task,
    mismatches: Vec<String>,
    /// The failing command's index and a base64 PNG of the page at that moment.
    failure_shot: Option<(usize, String)>,
}

/// Submits every case, renders events until each has finished (or Ctrl-C cancels them), and
/// returns the final records by case index (failure screenshots included).
async fn drive(
    scheduler: &Scheduler,
    cases: &[TaskCase],
    progress: &mut Progress,
) -> Vec<(usize, Task)> {
    let mut events = scheduler.events().subscribe();
    let mut ids = Vec::new();
    for case in cases {
        let submitted = match validate_submission(&case.submission) {
            Ok(spec) => scheduler.submit(spec).await.map_err(|e| e.to_string()),
            Err(e) => Err(format!("Invalid task: {e}")),
        };
        match submitted {
            Ok(submitted) => {
                progress.track(submitted.task.clone());
                ids.push(submitted.task_id);
            }
            Err(e) => {
                // Validated at load time, so only a full or closing scheduler gets here.
                progress.line(format!(
                    "✗ {} ({}:{}) not run: {e}",
                    case.name,
                    case.file.display(),
                    case.line
                ));
                ids.push(String::new());
            }
        }
    }
    let index_of = |id: &str| ids.iter().position(|i| i == id);
    let mut remaining: HashSet<String> = ids.iter().filter(|i| !i.is_empty()).cloned().collect();
    let mut done = Vec::new();
    let mut interrupt = std::pin::pin!(tokio::signal::ctrl_c());
    let mut interrupted = false;
    while !remaining.is_empty() {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => {
                    progress.on_event(&event);
                    if let EventKind::TaskFinished { task } = &event.kind {
                        if remaining.remove(&task.id) {
                            let i = index_of(&task.id).expect("submitted");
                            verdict_line(progress, &cases[i], task);
                            done.push((i, (**task).clone()));
                        }
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    // Missed events: the store still has every record.
                    for id in remaining.clone() {
                        if let Some(task) = scheduler.tasks().get(&id).await.filter(|t| t.status.is_finished()) {
                            remaining.remove(&id);
                            let i = index_of(&id).expect("submitted");
                            verdict_line(progress, &cases[i], &task);
                            done.push((i, task));
                        }
                    }
                }
                Err(RecvError::Closed) => break,
            },
            _ = &mut interrupt, if !interrupted => {
                interrupted = true;
                progress.line("interrupted: cancelling the remaining tasks");
                scheduler.begin_shutdown();
                for id in &remaining {
                    let _ = scheduler.cancel(id).await;
                }
            }
        }
    }
    done.sort_by_key(|(i, _)| *i);
    done
}

fn verdict_line(progress: &Progress, case: &TaskCase, task: &Task) {
    let mismatches = case.expect.mismatches(task);
    let secs = match (task.started_at, task.completed_at) {
        (Some(s), Some(c)) => c.saturating_sub(s) as f64 / 1000.0,
        _ => 0.0,
    };
    if progress.mode() == Mode::Json {
        progress.json_line(&json!({
            "type": "verdict", "taskId": task.id, "task_name": case.name,
            "file": case.file, "line": case.line, "passed": mismatches.is_empty(), "mismatches": mismatches,
        }));
    } else if mismatches.is_empty() {
        progress.line(format!(
            "PASS {} — {} ({secs:.1} s)",
            case.name, task.status
        ));
    } else {
        progress.line(format!(
            "FAIL {} ({}:{}) — {}",
            case.name,
            case.file.display(),
            case.line,
            mismatches.join("; ")
        ));
    }
}

fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let s = s
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    s.chars().take(60).collect()
}

/// Screenshots under OUT/NN-task-name/cmd-I.png (.jpg, .webp as taken; cmd-I-failure.png: the
/// page when command I failed), PDFs as cmd-I.pdf, OUT/report.json, and the JUnit file.
fn write_outputs(args: &RunArgs, cases: &[TaskCase], verdicts: &[Verdict]) -> std::io::Result<()> {
    std::fs::create_dir_all(&args.out)?;
    let mut report = Vec::new();
    for verdict in verdicts {
        let (i, task) = (verdict.case, &verdict.task);
        let case = &cases[i];
        let folder = args.out.join(format!("{:02}-{}", i + 1, slug(&case.name)));
        let save = |name: String, data: &str| -> std::io::Result<PathBuf> {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(std::io::Error::other)?;
            std::fs::create_dir_all(&folder)?;
            let path = folder.join(name);
            std::fs::write(&path, bytes)?;
            Ok(path)
        };
        let mut shots = Vec::new();
        let mut files = Vec::new();
        for (index, command) in task.commands.iter().enumerate() {
            let Some(result) = &command.result else {
                continue;
            };
            let mut n = 0;
            for item in &result.content {
                let suffix = if n == 0 {
                    String::new()
                } else {
                    format!("-{n}")
                };
                match item {
                    Content::Image { data, mime_type } => {
                        let ext = match mime_type.as_str() {
                            "image/jpeg" => "jpg",
                            "image/webp" => "webp",
                            _ => "png",
                        };
                        shots.push(save(format!("cmd-{index}{suffix}.{ext}"), data)?);
                        n += 1;
                    }
                    Content::Resource { resource } if resource.mime_type == "application/pdf" => {
                        files.push(save(format!("cmd-{index}{suffix}.pdf"), &resource.blob)?);
                        n += 1;
                    }
                    _ => {}
                }
            }
        }
        let failure_screenshot = match &verdict.failure_shot {
            Some((index, data)) => Some(save(format!("cmd-{index}-failure.png"), data)?),
            None => None,
        };
        report.push(json!({
            "file": case.file, "line": case.line, "name": case.name,
            "passed": verdict.mismatches.is_empty(), "mismatches": verdict.mismatches,
            "expectation": case.expect.describe(), "screenshots": shots, "files": files,
            "failure_screenshot": failure_screenshot,
            "task": without_images(task),
        }));
    }
    std::fs::write(
        args.out.join("report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    if let Some(path) = &args.junit {
        let reports: Vec<CaseReport<'_>> = verdicts
            .iter()
            .map(|v| CaseReport {
                file: &cases[v.case].file,
                name: &cases[v.case].name,
                task: &v.task,
                expectation: cases[v.case].expect.describe(),
                mismatches: &v.mismatches,
            })
            .collect();
        write_file(path, &junit::render(&reports)?)?;
    }
    Ok(())
}

fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text)
}

/// The task record with image data replaced by where it was saved: reports stay readable.
fn without_images(task: &Task) -> serde_json::Value {
    let mut value = serde_json::to_value(task).unwrap_or_default();
    if let Some(commands) = value["commands"].as_array_mut() {
        for c in commands {
            if let Some(content) = c["result"]["content"].as_array_mut() {
                for item in content {
                    if item["type"] == "image" {
                        item["data"] = json!("(saved as an image file)");
                    }
                    if item["type"] == "resource" {
                        item["resource"]["blob"] = json!("(saved as a file)");
                    }
                }
            }
        }
    }
    value
}
