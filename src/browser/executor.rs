//! The one executor: turns a typed action into CDP calls on an instance's page, under the
//! command's deadline, racing cancellation and the instance breaking. It knows no wire format.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use chromiumoxide::cdp::js_protocol::runtime::{EvaluateParams, ExecutionContextId, RemoteObject};
use chromiumoxide::error::CdpError;
use chromiumoxide::Page;
use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::{sleep, timeout, Instant};
use tokio_util::sync::CancellationToken;

use super::instance::{BrowserInstance, PageState};
use super::{content, debug, emulate, execute, interact, navigate, network, tab};
use crate::events::DialogRecord;
use crate::task::action::REF_SELECTOR_PREFIX;
use crate::task::{
    Action, CommandError, DebugAction, ErrorCode, NavigateAction, ParsedArgs, TabAction,
    ToolResult, WaitUntil,
};

/// What running one command came to.
#[derive(Debug)]
pub struct Outcome {
    /// `None` when the command was cancelled before it finished.
    pub result: Option<Result<ToolResult, CommandError>>,
    /// Dialogs the page opened while the command ran, already answered.
    pub dialogs: Vec<DialogRecord>,
}

#[derive(Debug, Clone)]
pub struct Executor {
    /// The deadline of a command that gives no `timeout` of its own.
    pub default_timeout: Duration,
}

impl Default for Executor {
    fn default() -> Self {
        Executor {
            default_timeout: Duration::from_secs(30),
        }
    }
}

/// What a tool's code gets: the page, its state, the instance and the command's deadline.
pub struct Ctx<'a> {
    pub page: Page,
    pub state: Arc<PageState>,
    pub instance: &'a BrowserInstance,
    helpers: Arc<InstalledHelpers>,
    pub deadline: Instant,
    pub budget: Duration,
    fresh_page: Arc<AtomicBool>,
}

impl<'a> Ctx<'a> {
    /// Runs a CDP command given by name on the page's session and returns its JSON result.
    /// For commands chromiumoxide has no type for, or whose typed builder would only add noise.
    pub async fn cdp(&self, method: &'static str, params: Value) -> Result<Value, CommandError> {
        self.page
            .execute(RawCommand { method, params })
            .await
            .map(|r| r.result)
            .map_err(|e| cdp_error(method, e))
    }

    /// The same command's context on the page of another tab (same deadline).
    pub async fn for_tab(&self, tab: &str) -> Result<Ctx<'a>, CommandError> {
        let (page, helpers, state) = self.instance.page_with_state(Some(tab)).await?;
        Ok(Ctx {
            page,
            state,
            instance: self.instance,
            helpers,
            deadline: self.deadline,
            budget: self.budget,
            fresh_page: self.fresh_page.clone(),
        })
    }

    /// Whether some step asked for the page to be replaced ([`Self::request_fresh_page`]).
    pub(super) fn wants_fresh_page(&self) -> bool {
        self.fresh_page.load(Ordering::Relaxed)
    }

    /// Asks for the page to be replaced once the command ends: it was left unusable.
    pub fn request_fresh_page(&self) {
        self.fresh_page.store(true, Ordering::Relaxed);
    }

    /// Time left before the deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Runs `work` unless the deadline comes first (`None`). Ends a little before the deadline,
    /// so a waiting loop can still say what it was waiting for before the executor's own
    /// deadline cuts the command off with a bare "exceeded its deadline".
    pub async fn in_time<T>(&self, work: impl std::future::Future<Output = T>) -> Option<T> {
        let until = self
            .deadline
            .checked_sub(DEADLINE_MARGIN)
            .unwrap_or(self.deadline);
        tokio::time::timeout_at(until, work).await.ok()
    }

    /// Waits before the next attempt of a polling loop: `poll`, or less when the deadline is
    /// nearer, so the last attempt comes just before it. `false` when no time is left.
    pub async fn pause(&self, poll: Duration) -> bool {
        let left = self.remaining().saturating_sub(DEADLINE_MARGIN * 2);
        if left.is_zero() {
            return false;
        }
        sleep(poll.min(left)).await;
        true
    }
}

/// A context for work outside a command (checkpoints, inspection): the page of `tab` (the
/// active tab when `None`), a deadline `budget` from now.
pub(super) async fn side_ctx<'a>(
    instance: &'a BrowserInstance,
    tab: Option<&str>,
    budget: Duration,
) -> Result<Ctx<'a>, CommandError> {
    let (page, helpers, state) = instance.page_with_state(tab).await?;
    Ok(Ctx {
        page,
        state,
        instance,
        helpers,
        deadline: Instant::now() + budget,
        budget,
        fresh_page: Arc::new(AtomicBool::new(false)),
    })
}

/// Runs `work` against cancellation, the instance breaking and `budget`: what every browser
/// call outside [`Executor::run`] is bounded by.
pub(super) async fn bounded<T>(
    instance: &BrowserInstance,
    cancel: &CancellationToken,
    budget: Duration,
    what: &str,
    work: impl std::future::Future<Output = Result<T, CommandError>>,
) -> Result<T, CommandError> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(CommandError::new(ErrorCode::Cancelled, format!("{what} was cancelled"))),
        error = instance.broken() => Err(error),
        done = timeout(budget, work) => done.unwrap_or_else(|_| Err(timed_out(budget, what))),
    }
}

/// How long before the command's deadline a waiting loop stops, to report its own reason.
const DEADLINE_MARGIN: Duration = Duration::from_millis(30);

impl Executor {
    /// Runs one browser action (browser_instance actions belong to the scheduler).
    pub async fn run(
        &self,
        instance: &BrowserInstance,
        args: &ParsedArgs,
        cancel: &CancellationToken,
    ) -> Outcome {
        // Repairs an earlier command left for after its answer (a page stuck in a script, an
        // unfinished navigation) are finished first, before this command's deadline starts.
        // Not cancellable: a repair dropped halfway would leave the page broken.
        instance.settle().await;
        if !matches!(
            args.action,
            Action::Debug(
                DebugAction::DownloadWait
                    | DebugAction::Downloads
                    | DebugAction::DownloadsIn { .. }
                    | DebugAction::DownloadWaitFor { .. }
            )
        ) {
            *instance.downloads().since.lock().unwrap() = std::time::Instant::now();
        }
        // Navigations the engine starts are checked against the URL policy before any is sent.
        if let Some(url) = navigation_target(&args.action) {
            if let Err(why) = instance.policy().check_navigation(url) {
                return Outcome {
                    result: Some(Err(CommandError::execution(format!(
                        "navigation to {url} refused: {why}"
                    )))),
                    dialogs: instance.take_dialogs(),
                };
            }
        }
        let blocked_from = instance.blocked_count();
        let budget = args.timeout.unwrap_or(self.default_timeout);
        let deadline = Instant::now() + budget;
        let fresh_page = Arc::new(AtomicBool::new(false));
        let goto = matches!(args.action, Action::Navigate(NavigateAction::Goto { .. }));
        let work = async {
            // First, so a page whose renderer crashed earlier is replaced before the command
            // and the crash is not blamed on it; from then on, a crash or a lost browser ends
            // the command.
            let (page, helpers, state) = instance.page_with_state(args.tab_id.as_deref()).await?;
            let ctx = Ctx {
                page,
                state,
                instance,
                helpers,
                deadline,
                budget,
                fresh_page: fresh_page.clone(),
            };
            if goto && ctx.state.load_pending.swap(false, Ordering::Relaxed) {
                finish_pending_load(&ctx).await;
            }
            let done = tokio::select! {
                biased;
                error = instance.broken() => Err(error),
                done = dispatch(&ctx, &args.action, args.tab_id.as_deref()) => done,
            };
            if done.is_ok() {
                match &args.action {
                    Action::Navigate(NavigateAction::Goto {
                        wait_until: WaitUntil::DomContentLoaded,
                        ..
                    }) => ctx.state.load_pending.store(true, Ordering::Relaxed),
                    Action::Debug(DebugAction::Dialog { .. }) => {
                        *ctx.state.dialogs_owner.lock().unwrap() = instance.session();
                    }
                    _ => {}
                }
            }
            done
        };
        let mut result = tokio::select! {
            biased;
            _ = cancel.cancelled() => None,
            done = timeout(budget, work) => Some(done.unwrap_or_else(|_| Err(timed_out(budget, "the command")))),
        };
        // A command that timed out or was cancelled may have left a script running or a
        // navigation pending. The repair starts now and runs after the answer: the next
        // command (or task) waits for it, so this one still ends at its deadline.
        let unfinished = match &result {
            None => true,
            Some(Err(e)) => e.code == ErrorCode::CommandTimeout,
            Some(Ok(_)) => false,
        };
        let navigates = goto || matches!(args.action, Action::Tab(TabAction::New { url: Some(_) }));
        let tab = match &args.action {
            // A new tab is the active one once opened.
            Action::Tab(TabAction::New { .. }) => None,
            _ => args.tab_id.as_deref(),
        };
        if fresh_page.load(Ordering::Relaxed) || (unfinished && navigates) {
            instance.after_unfinished(tab, true);
        } else if unfinished {
            instance.after_unfinished(tab, false);
        }
        // Pages, popups and frames the URL policy stopped while the command ran.
        let blocked: Vec<String> = instance
            .blocked_since(blocked_from)
            .into_iter()
            .filter(|b| b.document)
            .map(|b| format!("{} (request for {})", b.reason, b.url))
            .collect();
        if !blocked.is_empty() {
            match &mut result {
                Some(Ok(done)) => done.push_text(format!("Blocked: {}", blocked.join("; "))),
                Some(Err(e)) => e.message = format!("{}; {}", e.message, blocked.join("; ")),
                None => {}
            }
        }
        Outcome {
            result,
            dialogs: instance.take_dialogs(),
        }
    }
}

/// A goto that returned at DOMContentLoaded left chromiumoxide waiting for that document's
/// load event, and chromiumoxide holds every later Page.navigate of the page until it comes
/// (or 30 s pass): on a page whose image never loads, the next goto would hang. Stopping the
/// load does not end that wait (no load event follows), but any new document's load does: so
/// when the page has still not loaded, it is first sent to about:blank by the page itself,
/// which chromiumoxide does not hold up. That blank page takes the old one's history entry.
async fn finish_pending_load(ctx: &Ctx<'_>) {
    let state = ctx
        .in_time(eval_once(&ctx.page, "document.readyState", World::Page))
        .await;
    if matches!(&state, Some(Ok(Value::String(s))) if s == "complete") {
        return;
    }
    let Ok(mut loads) = ctx
        .page
        .event_listener::<chromiumoxide::cdp::browser_protocol::page::EventLoadEventFired>()
        .await
    else {
        return;
    };
    let left = ctx
        .in_time(eval_once(
            &ctx.page,
            "location.replace('about:blank')",
            World::Page,
        ))
        .await;
    if matches!(left, Some(Ok(_))) {
        let waited = tokio::time::timeout(Duration::from_secs(2), loads.next());
        let _ = ctx.in_time(waited).await;
    }
}

/// The URL a command makes the engine navigate to, checked against the URL policy.
fn navigation_target(action: &Action) -> Option<&str> {
    match action {
        Action::Navigate(NavigateAction::Goto { url, .. }) => Some(url),
        Action::Tab(TabAction::New { url: Some(url) }) => Some(url),
        _ => None,
    }
}

async fn dispatch(
    ctx: &Ctx<'_>,
    action: &Action,
    tab_id: Option<&str>,
) -> Result<ToolResult, CommandError> {
    match action {
        Action::Navigate(a) => navigate::run(ctx, a).await,
        Action::Interact(a) => interact::run(ctx, a).await,
        Action::Content(a) => content::run(ctx, a).await,
        Action::Execute(a) => execute::run(ctx, a).await,
        Action::Network(a) => network::run(ctx, a).await,
        Action::Emulate(a) => emulate::run(ctx, a).await,
        Action::Debug(a) => debug::run(ctx, a).await,
        Action::Tab(a) => tab::run(ctx, a, tab_id).await,
        Action::Instance(_) => Err(CommandError::execution(
            "browser_instance actions are answered by the scheduler, not a page",
        )),
        Action::External(_) => Err(CommandError::execution(
            "external_task steps are run by the scheduler, which waits for the app",
        )),
    }
}

/// Any CDP command, by name, with JSON parameters and a JSON result.
#[derive(Debug, Clone)]
pub struct RawCommand {
    pub method: &'static str,
    pub params: Value,
}

impl serde::Serialize for RawCommand {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.params.serialize(s)
    }
}

impl chromiumoxide::types::Method for RawCommand {
    fn identifier(&self) -> chromiumoxide::types::MethodId {
        self.method.into()
    }
}

impl chromiumoxide::types::Command for RawCommand {
    type Response = Value;
}

pub fn timed_out(budget: Duration, what: &str) -> CommandError {
    CommandError::new(
        ErrorCode::CommandTimeout,
        format!("{what} exceeded its {} ms deadline", budget.as_millis()),
    )
}

/// A CDP failure as a command error, naming the call that failed.
pub fn cdp_error(call: &str, e: CdpError) -> CommandError {
    CommandError::execution(format!("{call} failed: {e}"))
}

/// Errors after which a read can simply be tried again: the page was between documents.
fn is_context_gone(e: &CdpError) -> bool {
    is_context_gone_text(&e.to_string())
}

/// The text of a thrown exception, e.g. `Error: boom`.
pub fn exception_text(
    details: &chromiumoxide::cdp::js_protocol::runtime::ExceptionDetails,
) -> String {
    let from_object = details.exception.as_ref().and_then(|ex: &RemoteObject| {
        ex.description
            .as_ref()
            .map(|d| d.lines().next().unwrap_or_default().to_string())
            .or_else(|| {
                ex.value.as_ref().map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
            })
    });
    from_object.unwrap_or_else(|| details.text.clone())
}

pub enum EvalFailure {
    /// The page had no JavaScript context (mid-navigation): nothing ran.
    ContextGone(CdpError),
    Cdp(CdpError),
    /// The expression threw; the text of the exception.
    Thrown(String),
}

/// Which JavaScript world an expression runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    /// The page's own: where user scripts belong.
    Page,
    /// A context of chromiumoxide's isolated utility world: same DOM, its own pristine globals,
    /// so a page that redefines `requestAnimationFrame` or `querySelector` cannot fool or stall
    /// our helpers.
    Isolated(ExecutionContextId),
}

/// Evaluates `expression` (awaiting promises) and returns its JSON value.
///
/// chromiumoxide fails any page command after 30 s, whatever its handler's request timeout
/// (its command future has a fixed timer), and a script awaiting something longer is a normal
/// command here, whose deadline is ours. So in the page's world the promise is also kept in the
/// page (one slot, under an unguessable name, emptied once it settles), and when
/// chromiumoxide gives up on the call it is awaited again there, by a new call, as long as the
/// command's own deadline allows.
pub async fn eval_once(page: &Page, expression: &str, world: World) -> Result<Value, EvalFailure> {
    if !matches!(world, World::Page) {
        return evaluate(page, expression, world).await;
    }
    let key = &*STASH_KEY;
    let kept = format!(
        "((p) => {{ try {{ if (p && typeof p.then === 'function') {{ \
         Object.defineProperty(globalThis, {key}, {{ value: p, writable: true, configurable: true }}); \
         const done = () => {{ if (globalThis[{key}] === p) delete globalThis[{key}]; }}; \
         p.then(done, done); }} }} catch (_) {{}} return p; }})(({expression}\n))"
    );
    match evaluate(page, &kept, world).await {
        Err(EvalFailure::Cdp(CdpError::Timeout)) => {}
        done => return done,
    }
    // Still pending after chromiumoxide's 30 s: await the kept promise again (the caller's
    // deadline ends this loop). A promise that settled in between is gone: say so.
    let again = format!(
        "(globalThis[{key}] && typeof globalThis[{key}].then === 'function') \
         ? globalThis[{key}] : {{ __bc_lost: true }}"
    );
    loop {
        match evaluate(page, &again, world).await {
            Err(EvalFailure::Cdp(CdpError::Timeout)) => continue,
            Ok(v) if v == serde_json::json!({ "__bc_lost": true }) => {
                return Err(EvalFailure::Thrown(
                    "the script's result was lost when it settled just as chromiumoxide's 30 s \
                     limit passed; run it again"
                        .into(),
                ))
            }
            done => return done,
        }
    }
}

/// One Runtime.evaluate, awaiting promises, returning by value.
async fn evaluate(page: &Page, expression: &str, world: World) -> Result<Value, EvalFailure> {
    let mut builder = EvaluateParams::builder()
        .expression(expression)
        .return_by_value(true)
        .await_promise(true)
        // A user's script runs as if the user acted (it may open popups, go fullscreen);
        // our helpers only read and focus, and the flag costs a tenth of a millisecond.
        .user_gesture(matches!(world, World::Page));
    if let World::Isolated(context) = world {
        builder = builder.context_id(context);
    }
    let params = builder.build().expect("expression is set");
    let response = page.execute(params).await.map_err(|e| {
        if is_context_gone(&e) {
            EvalFailure::ContextGone(e)
        } else {
            EvalFailure::Cdp(e)
        }
    })?;
    let returns = response.result;
    if let Some(details) = returns.exception_details {
        return Err(EvalFailure::Thrown(exception_text(&details)));
    }
    Ok(returns.result.value.unwrap_or(Value::Null))
}

/// Where a page-world evaluation keeps its pending promise (see [`eval_once`]).
static STASH_KEY: LazyLock<String> = LazyLock::new(|| {
    let random = RandomState::new().build_hasher().finish();
    serde_json::to_string(&format!("__browser_control_pending_{random:016x}")).expect("a string")
});

const HELPERS: &str = include_str!("page_helpers.js");

/// Where page_helpers.js is kept in an isolated context's global object. Unguessable, so a
/// page cannot shadow it with a named element (`<embed name=...>` shows in every world).
static HELPERS_KEY: LazyLock<String> = LazyLock::new(|| {
    let random = RandomState::new().build_hasher().finish();
    serde_json::to_string(&format!("__browser_control_helpers_{random:016x}")).expect("a string")
});

/// The isolated context of a page that page_helpers.js was last installed in. Per page, so
/// instances do not undo each other's installs.
#[derive(Debug, Default)]
pub struct InstalledHelpers(Mutex<Option<ExecutionContextId>>);

/// Runs one of page_helpers.js's operations and decodes its answer. Retried while the page is
/// between documents, so only for operations that are safe to run twice.
pub async fn helper<T: DeserializeOwned>(
    ctx: &Ctx<'_>,
    op: &str,
    args: Value,
) -> Result<T, CommandError> {
    // A ref handed out inside a cross-origin frame is answered there (frames.rs).
    if let Some(answer) = super::frames::route(ctx, op, &args).await {
        let value = answer?;
        return serde_json::from_value(value.clone()).map_err(|e| {
            CommandError::execution(format!(
                "unexpected answer from the frame to {op}: {e} ({value})"
            ))
        });
    }
    let call = format!("({}, {args})", Value::from(op));
    // Snapshot refs live in the isolated world's copy of the helpers: a snapshot, or a lookup
    // by ref, waits for that world rather than running once in the page's (where they would be
    // lost, and seen by the page).
    let needs_isolated = op == "snapshot"
        || args
            .get("selector")
            .and_then(Value::as_str)
            .is_some_and(|s| s.starts_with(REF_SELECTOR_PREFIX));
    let value = loop {
        if needs_isolated && !matches!(ctx.page.secondary_execution_context().await, Ok(Some(_))) {
            if ctx.remaining() < Duration::from_millis(60) {
                return Err(CommandError::execution(
                    "the page's isolated script world did not appear in time",
                ));
            }
            sleep(Duration::from_millis(10)).await;
            continue;
        }
        match helper_once(ctx, &call).await {
            Err(EvalFailure::ContextGone(e)) => {
                if ctx.remaining() < Duration::from_millis(60) {
                    return Err(cdp_error("Runtime.evaluate", e));
                }
                // Between documents: the next one usually has its context within milliseconds.
                sleep(Duration::from_millis(10)).await;
            }
            Err(EvalFailure::Cdp(e)) => return Err(cdp_error("Runtime.evaluate", e)),
            Err(EvalFailure::Thrown(text)) => return Err(CommandError::execution(text)),
            Ok(v) => break v,
        }
    };
    serde_json::from_value(value.clone()).map_err(|e| {
        CommandError::execution(format!(
            "unexpected answer from the page to {op}: {e} ({value})"
        ))
    })
}

/// One helper call (`call` is its argument list), in one round trip. The ~10 KB source goes
/// along only into a context that has not seen it yet, and stays there for later calls.
async fn helper_once(ctx: &Ctx<'_>, call: &str) -> Result<Value, EvalFailure> {
    let key = &*HELPERS_KEY;
    // Asked on every call (chromiumoxide answers from memory): the context changes with each
    // new document, and its ids are only unique within one renderer process.
    let Ok(Some(context)) = ctx.page.secondary_execution_context().await else {
        // The isolated world is not created yet: the page's, where nothing may be left behind.
        return eval_once(&ctx.page, &format!("({HELPERS}){call}"), World::Page).await;
    };
    let world = World::Isolated(context);
    if *ctx.helpers.0.lock().unwrap() == Some(context) {
        // `false` (never a helper's answer) when the helpers are missing, as in a new context
        // that reuses an old id: then nothing ran, and installing runs the operation once.
        let short = format!("((h) => h ? h{call} : false)(globalThis[{key}])");
        let value = eval_once(&ctx.page, &short, world).await?;
        if value != Value::Bool(false) {
            return Ok(value);
        }
    }
    let install = format!("(globalThis[{key}] = ({HELPERS})){call}");
    let value = eval_once(&ctx.page, &install, world).await?;
    *ctx.helpers.0.lock().unwrap() = Some(context);
    Ok(value)
}

/// A helper's answer kept in the page: its plain fields as JSON, and the objects among them
/// (elements) as remote object ids, to hand to CDP commands that take one. The caller
/// releases the ids it got ([`release`]).
#[derive(Debug)]
pub struct HelperObject {
    pub fields: Value,
    pub objects: std::collections::HashMap<String, String>,
}

/// Runs one of page_helpers.js's operations in the isolated world (where refs live) and keeps
/// its answer in the page, so that an element it found is resolved once and then used by id
/// (not looked up again with another engine). Retried while the page is between documents.
pub async fn helper_object(
    ctx: &Ctx<'_>,
    op: &str,
    args: Value,
) -> Result<HelperObject, CommandError> {
    let call = format!("({}, {args})", Value::from(op));
    let key = &*HELPERS_KEY;
    let answer = loop {
        let context = match ctx.page.secondary_execution_context().await {
            Ok(Some(context)) => context,
            _ => {
                if ctx.remaining() < Duration::from_millis(60) {
                    return Err(CommandError::execution(
                        "the page's isolated script world did not appear in time",
                    ));
                }
                sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let evaluate = |expression: String| {
            ctx.cdp(
                "Runtime.evaluate",
                serde_json::json!({
                    "expression": expression,
                    "contextId": context.inner(),
                    "awaitPromise": true,
                    "returnByValue": false,
                }),
            )
        };
        let installed = *ctx.helpers.0.lock().unwrap() == Some(context);
        let mut answer = if installed {
            evaluate(format!("((h) => h ? h{call} : false)(globalThis[{key}])")).await
        } else {
            Ok(serde_json::json!({ "result": { "type": "boolean", "value": false } }))
        };
        // `false`: the helpers are missing (not installed yet, or a new context reusing an old
        // id): install them, which runs the operation once.
        if matches!(&answer, Ok(v) if v["result"]["value"] == Value::Bool(false)) {
            answer = evaluate(format!("(globalThis[{key}] = ({HELPERS})){call}")).await;
            if answer.is_ok() {
                *ctx.helpers.0.lock().unwrap() = Some(context);
            }
        }
        match answer {
            Err(e)
                if is_context_gone_text(&e.message)
                    && ctx.remaining() > Duration::from_millis(60) =>
            {
                sleep(Duration::from_millis(10)).await;
            }
            Err(e) => return Err(e),
            Ok(v) => break v,
        }
    };
    if let Some(details) = answer.get("exceptionDetails") {
        let text = details["exception"]["description"]
            .as_str()
            .or(details["text"].as_str())
            .unwrap_or("the page threw")
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        return Err(CommandError::execution(text));
    }
    let Some(id) = answer["result"]["objectId"].as_str().map(String::from) else {
        return Err(CommandError::execution(format!(
            "unexpected answer from the page to {op}: {}",
            answer["result"]
        )));
    };
    let props = ctx
        .cdp(
            "Runtime.getProperties",
            serde_json::json!({ "objectId": id, "ownProperties": true }),
        )
        .await;
    release(ctx, &id).await;
    let mut fields = serde_json::Map::new();
    let mut objects = std::collections::HashMap::new();
    for prop in props?["result"].as_array().into_iter().flatten() {
        let Some(name) = prop["name"].as_str() else {
            continue;
        };
        let value = &prop["value"];
        if let Some(object) = value["objectId"].as_str() {
            objects.insert(name.to_string(), object.to_string());
        } else if let Some(v) = value.get("value") {
            fields.insert(name.to_string(), v.clone());
        }
    }
    Ok(HelperObject {
        fields: Value::Object(fields),
        objects,
    })
}

/// Lets the page forget a remote object it kept for us.
pub async fn release(ctx: &Ctx<'_>, object_id: &str) {
    let _ = ctx
        .cdp(
            "Runtime.releaseObject",
            serde_json::json!({ "objectId": object_id }),
        )
        .await;
}

fn is_context_gone_text(text: &str) -> bool {
    text.contains("Cannot find context with specified id")
        || text.contains("Execution context was destroyed")
        || text.contains("Inspected target navigated or closed")
}

/// A helper's answer about one element.
#[derive(Debug, serde::Deserialize)]
pub struct Probe {
    pub state: String,
    #[serde(default)]
    pub desc: Option<String>,
    #[serde(default)]
    pub cover: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub x: f64,
    #[serde(default)]
    pub y: f64,
}

pub fn not_found(selector: &str) -> CommandError {
    CommandError::execution(format!(
        "Element not found: {selector} (no element matches selector '{selector}')"
    ))
}

/// Errors every element lookup shares: a selector that does not parse, or matches nothing.
pub fn lookup_error(selector: &str, state: &str, detail: Option<&str>) -> Option<CommandError> {
    match state {
        "invalid" => Some(CommandError::execution(format!(
            "invalid selector '{selector}': {}",
            detail.unwrap_or("not a CSS selector")
        ))),
        "missing" => Some(not_found(selector)),
        // A ref (`aria-ref=e12`) that the last snapshot of this document did not hand out, or
        // whose element has left the page.
        "unknown_ref" => Some(CommandError::execution(format!(
            "ref {} not found: take a new snapshot",
            selector
                .strip_prefix(REF_SELECTOR_PREFIX)
                .unwrap_or(selector)
        ))),
        _ => None,
    }
}

/// What a click, hover, type or select needs of its element before acting.
#[derive(Debug, Clone, Copy)]
pub struct Actionable {
    /// The element must be the one hit at its centre (click, hover).
    pub hit: bool,
    /// The element must not be disabled (click, type, select).
    pub enabled: bool,
    /// The element must keep the same box for two frames: the mouse acts at a point, so a
    /// moving target would be missed (click, hover).
    pub stable: bool,
}

impl Actionable {
    pub const CLICK: Actionable = Actionable {
        hit: true,
        enabled: true,
        stable: true,
    };
    /// Hovering a disabled element is fine (tooltips); being covered is not.
    pub const HOVER: Actionable = Actionable {
        hit: true,
        enabled: false,
        stable: true,
    };
    /// Typing and selecting: focus goes to the element itself, not to a point, so neither a
    /// hit test nor two frames of stillness (as Playwright's fill).
    pub const INPUT: Actionable = Actionable {
        hit: false,
        enabled: true,
        stable: false,
    };
}

/// How long an element that exists but is covered, disabled or moving may take to become
/// actionable before that is an error rather than something to wait out.
const BLOCKED_GRACE: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(50);

/// Waits until `selector`'s element is attached, visible, enabled and (when asked) stable and
/// hit at its centre; returns the probe with the point to act on. A missing or hidden element
/// is waited for until the deadline; one that is there but blocked for `BLOCKED_GRACE`.
pub async fn wait_actionable(
    ctx: &Ctx<'_>,
    selector: &str,
    need: Actionable,
) -> Result<Probe, CommandError> {
    let args = serde_json::json!({
        "selector": selector,
        "hit": need.hit,
        "enabled": need.enabled,
        "stable": need.stable,
    });
    let mut blocked_since: Option<Instant> = None;
    let mut reason = "the page did not answer".to_string();
    let mut blocked = false;
    loop {
        let Some(probe) = ctx
            .in_time(helper::<Probe>(ctx, "probe", args.clone()))
            .await
        else {
            break;
        };
        let probe = probe?;
        if let Some(e) = lookup_error(selector, &probe.state, probe.detail.as_deref()) {
            if probe.state == "invalid" || probe.state == "unknown_ref" {
                return Err(e);
            }
        }
        let desc = probe.desc.clone().unwrap_or_else(|| selector.to_string());
        reason = match probe.state.as_str() {
            "ok" => return Ok(probe),
            "missing" => {
                blocked_since = None;
                format!("no element matches selector '{selector}'")
            }
            "hidden" => {
                blocked_since = None;
                format!("{desc} ('{selector}') is not visible")
            }
            "disabled" => format!("{desc} ('{selector}') is disabled"),
            "unstable" => format!("{desc} ('{selector}') keeps moving"),
            "covered" => format!(
                "{desc} ('{selector}') is covered by {} at its centre, which would receive the click",
                probe.cover.as_deref().unwrap_or("another element")
            ),
            "outside" => format!("{desc} ('{selector}') is outside the viewport"),
            other => format!("{desc} ('{selector}') is not actionable ({other})"),
        };
        blocked = matches!(
            probe.state.as_str(),
            "disabled" | "unstable" | "covered" | "outside"
        );
        if blocked {
            let since = *blocked_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= BLOCKED_GRACE {
                return Err(CommandError::execution(reason));
            }
        }
        if !ctx.pause(POLL).await {
            break;
        }
    }
    // Out of time: a blocked element is an error about the element, anything else a timeout.
    let code = if blocked {
        ErrorCode::ExecutionError
    } else {
        ErrorCode::CommandTimeout
    };
    Err(CommandError::new(
        code,
        format!(
            "waited {} ms for '{selector}': {reason}",
            ctx.budget.as_millis()
        ),
    ))
}

/// For reads that do not wait: the element must exist now.
pub fn require_ok(selector: &str, state: &str, detail: Option<&str>) -> Result<(), CommandError> {
    match lookup_error(selector, state, detail) {
        Some(e) => Err(e),
        None if state == "ok" => Ok(()),
        None => Err(CommandError::execution(format!(
            "'{selector}': element is {state}"
        ))),
    }
}
