//! Latency of the executor's hot path against one raw CDP round trip.
//!
//! `cargo run --release --example eval_latency [N]` starts one browser instance, loads a small
//! page and measures, N times (default 1000) after a warm-up of 100, interleaved so that load
//! from other processes hits all three alike:
//!   raw       page.execute(Runtime.evaluate "1+1")
//!   evaluate  Executor::run of browser_execute evaluate `return 1+1`
//!   get_text  Executor::run of browser_content get_text `h1`
//! and prints p50/p99 in microseconds, with the deltas of the last two from raw.

use std::time::{Duration, Instant};

use browser_control::browser::{BrowserInstance, BrowserSource, Executor, LaunchOptions};
use browser_control::task::action::parse_args;
use browser_control::task::{ParsedArgs, Tool};
use chromiumoxide::cdp::js_protocol::runtime::EvaluateParams;
use serde_json::json;
use tokio_util::sync::CancellationToken;

const WARMUP: usize = 100;
const PAGE: &str = "data:text/html,<title>latency</title><h1>Hello latency</h1><p>body</p>";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = match std::env::args().nth(1) {
        Some(arg) => arg.parse()?,
        None => 1000,
    };
    let instance =
        BrowserInstance::start("latency", BrowserSource::Launch(LaunchOptions::default())).await?;
    let result = measure(&instance, n).await;
    instance.close().await;
    result
}

async fn measure(instance: &BrowserInstance, n: usize) -> anyhow::Result<()> {
    let executor = Executor::default();
    let cancel = CancellationToken::new();
    let parse = |tool, args| parse_args(tool, &args).map_err(|e| anyhow::anyhow!("{e:?}"));
    let goto = parse(Tool::Navigate, json!({ "action": "goto", "url": PAGE }))?;
    let evaluate = parse(
        Tool::Execute,
        json!({ "action": "evaluate", "script": "return 1+1" }),
    )?;
    let get_text = parse(
        Tool::Content,
        json!({ "action": "get_text", "selector": "h1" }),
    )?;
    let (page, _) = instance
        .page()
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;

    let text = |args: &ParsedArgs| {
        let executor = &executor;
        let cancel = &cancel;
        let args = args.clone();
        async move {
            match executor.run(instance, &args, cancel).await.result {
                Some(Ok(result)) => Ok(format!("{result:?}")),
                other => Err(anyhow::anyhow!("{} failed: {other:?}", args.action.name())),
            }
        }
    };
    text(&goto).await?;
    // Checked once, so a fast path that answers wrongly cannot pass for a fast one.
    let answer = text(&evaluate).await?;
    anyhow::ensure!(answer.contains("\"2\""), "evaluate answered {answer}");
    let answer = text(&get_text).await?;
    anyhow::ensure!(
        answer.contains("Hello latency"),
        "get_text answered {answer}"
    );

    let mut samples: [Vec<Duration>; 3] = Default::default();
    for i in 0..WARMUP + n {
        let start = Instant::now();
        page.execute(EvaluateParams::new("1+1")).await?;
        let raw = start.elapsed();

        let start = Instant::now();
        let outcome = executor.run(instance, &evaluate, &cancel).await;
        let eval = start.elapsed();
        anyhow::ensure!(
            matches!(outcome.result, Some(Ok(_))),
            "evaluate: {outcome:?}"
        );

        let start = Instant::now();
        let outcome = executor.run(instance, &get_text, &cancel).await;
        let text = start.elapsed();
        anyhow::ensure!(
            matches!(outcome.result, Some(Ok(_))),
            "get_text: {outcome:?}"
        );

        if i >= WARMUP {
            for (s, d) in samples.iter_mut().zip([raw, eval, text]) {
                s.push(d);
            }
        }
    }

    let stats: Vec<(f64, f64)> = samples
        .iter_mut()
        .map(|s| {
            s.sort();
            (percentile(s, 0.50), percentile(s, 0.99))
        })
        .collect();
    println!("N = {n} (after {WARMUP} warm-up), microseconds");
    println!(
        "{:<10} {:>9} {:>9} {:>12} {:>12}",
        "", "p50", "p99", "p50 - raw", "p99 - raw"
    );
    for (name, (p50, p99)) in ["raw", "evaluate", "get_text"].iter().zip(&stats) {
        println!(
            "{name:<10} {p50:>9.1} {p99:>9.1} {:>12.1} {:>12.1}",
            p50 - stats[0].0,
            p99 - stats[0].1
        );
    }
    Ok(())
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e6
}
