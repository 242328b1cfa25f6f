//! browser_navigate: goto, reload, back, forward, wait_for (an element, or a JavaScript
//! condition), sleep.

use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::network::{
    EventLoadingFailed, EventLoadingFinished, EventRequestWillBeSent, EventResponseReceived,
    ResourceType,
};
use chromiumoxide::cdp::browser_protocol::page::{
    EventDomContentEventFired, EventFrameNavigated, EventLoadEventFired,
    EventNavigatedWithinDocument, FrameId, GetNavigationHistoryParams, NavigateParams,
    NavigateToHistoryEntryParams, NavigationType, ReloadParams,
};
use chromiumoxide::listeners::EventStream;
use chromiumoxide::Page;
use futures::{FutureExt, StreamExt};
use tokio::time::Instant;

use super::executor::{cdp_error, helper, lookup_error, Ctx, Probe};
use crate::task::{CommandError, ErrorCode, NavigateAction, ToolResult, WaitUntil};

pub async fn run(ctx: &Ctx<'_>, action: &NavigateAction) -> Result<ToolResult, CommandError> {
    match action {
        NavigateAction::Goto { url, wait_until } => {
            // Subscribed before navigating, so no request of the new page slips past.
            let idle = match wait_until {
                WaitUntil::NetworkIdle => Some(NetworkIdle::watch(&ctx.page).await?),
                _ => None,
            };
            let mut done = goto(ctx, url, *wait_until).await?;
            if let Some(idle) = idle {
                let ms = idle.wait(ctx).await?;
                done.push_text(format!("The network was idle after {ms} ms"));
            }
            Ok(done)
        }
        NavigateAction::Reload {
            wait_until,
            ignore_cache,
        } => {
            let idle = match wait_until {
                WaitUntil::NetworkIdle => Some(NetworkIdle::watch(&ctx.page).await?),
                _ => None,
            };
            let url = reload_or_step(ctx, 0, *wait_until, *ignore_cache).await?;
            let mut done = ToolResult::text(format!("Reloaded {url}"));
            if let Some(idle) = idle {
                let ms = idle.wait(ctx).await?;
                done.push_text(format!("The network was idle after {ms} ms"));
            }
            Ok(done)
        }
        NavigateAction::Back => {
            let url = in_history(ctx, -1, WaitUntil::Load).await?;
            Ok(ToolResult::text(format!("Went back to {url}")))
        }
        NavigateAction::Forward => {
            let url = in_history(ctx, 1, WaitUntil::Load).await?;
            Ok(ToolResult::text(format!("Went forward to {url}")))
        }
        NavigateAction::WaitFor {
            selector: Some(selector),
            ..
        } => wait_for(ctx, selector).await,
        NavigateAction::WaitFor {
            expression: Some(expression),
            ..
        } => wait_until_true(ctx, expression).await,
        NavigateAction::WaitFor { .. } => Err(CommandError::execution(
            "wait_for needs a selector or an expression (checked at validation)",
        )),
        NavigateAction::Sleep { duration } => {
            let wanted = Duration::from_secs_f64(duration / 1000.0);
            if wanted > ctx.remaining() {
                return Err(CommandError::new(
                    ErrorCode::CommandTimeout,
                    format!(
                        "sleep of {duration} ms is longer than the command's {} ms deadline",
                        ctx.budget.as_millis()
                    ),
                ));
            }
            tokio::time::sleep(wanted).await;
            Ok(ToolResult::text(format!("Slept {duration} ms")))
        }
    }
}

/// How long the network must be quiet for `networkidle`.
const IDLE_QUIET: Duration = Duration::from_millis(500);

/// Counts the page's requests in flight, from events subscribed before the navigation.
struct NetworkIdle {
    started: Instant,
    requests: EventStream<EventRequestWillBeSent>,
    finished: EventStream<EventLoadingFinished>,
    failed: EventStream<EventLoadingFailed>,
}

impl NetworkIdle {
    async fn watch(page: &Page) -> Result<Self, CommandError> {
        Ok(NetworkIdle {
            started: Instant::now(),
            requests: listen(page).await?,
            finished: listen(page).await?,
            failed: listen(page).await?,
        })
    }

    /// Waits until no request has been in flight for 500 ms; returns the milliseconds since
    /// the navigation began.
    async fn wait(mut self, ctx: &Ctx<'_>) -> Result<u128, CommandError> {
        let mut inflight: std::collections::HashMap<String, String> = Default::default();
        let done = ctx
            .in_time(async {
                loop {
                    let quiet = async {
                        if inflight.is_empty() {
                            tokio::time::sleep(IDLE_QUIET).await
                        } else {
                            std::future::pending().await
                        }
                    };
                    tokio::select! {
                        biased;
                        Some(ev) = self.requests.next() => {
                            inflight.insert(ev.request_id.inner().clone(), ev.request.url.clone());
                        }
                        Some(ev) = self.finished.next() => {
                            inflight.remove(ev.request_id.inner());
                        }
                        Some(ev) = self.failed.next() => {
                            inflight.remove(ev.request_id.inner());
                        }
                        _ = quiet => return,
                    }
                }
            })
            .await;
        match done {
            Some(()) => Ok(self.started.elapsed().as_millis()),
            None => {
                let urls: Vec<&str> = inflight.values().map(String::as_str).take(5).collect();
                Err(CommandError::new(
                    ErrorCode::CommandTimeout,
                    format!(
                        "the network did not go idle within {} ms: {} request(s) still in flight ({})",
                        ctx.budget.as_millis(),
                        inflight.len(),
                        urls.join(", ")
                    ),
                ))
            }
        }
    }
}

/// Chromium's net error names, said plainly.
fn explain_net_error(code: &str) -> &'static str {
    match code.trim_start_matches("net::") {
        "ERR_NAME_NOT_RESOLVED" => "DNS lookup failed: the host name does not resolve",
        "ERR_CONNECTION_REFUSED" => "connection refused: nothing is listening at that address",
        "ERR_ADDRESS_UNREACHABLE" => "the host is unreachable",
        "ERR_CONNECTION_TIMED_OUT" => "the connection timed out",
        "ERR_CONNECTION_RESET" => "the connection was reset",
        "ERR_INTERNET_DISCONNECTED" => "there is no network connection",
        "ERR_CERT_AUTHORITY_INVALID" | "ERR_CERT_COMMON_NAME_INVALID" => {
            "the TLS certificate is not trusted"
        }
        "ERR_ABORTED" => "the navigation was aborted",
        "ERR_INVALID_URL" => "the URL is not valid",
        "ERR_UNSAFE_PORT" => "Chromium refuses to connect to that port",
        "ERR_FILE_NOT_FOUND" => "the file does not exist",
        _ => "the page could not be loaded",
    }
}

/// Chromium's word for a navigation that another one replaced before it committed.
const SUPERSEDED: &str = "net::ERR_ABORTED";

/// Goes to `url`. A navigation the page starts itself (a script or meta redirect) can reach
/// Chromium just after ours and replace it; ours is then tried once more, as the user asked
/// for this page, not the one the old page wanted.
pub async fn goto(ctx: &Ctx<'_>, url: &str, until: WaitUntil) -> Result<ToolResult, CommandError> {
    match goto_once(ctx, url, until).await {
        Err(Attempt::Superseded(_)) => {
            tracing::debug!("navigation to {url} was superseded by the page's own: trying again");
            goto_once(ctx, url, until)
                .await
                .map_err(Attempt::into_error)
        }
        done => done.map_err(Attempt::into_error),
    }
}

/// How one navigation attempt failed.
enum Attempt {
    /// Another navigation replaced it before it committed.
    Superseded(CommandError),
    Failed(CommandError),
}

impl Attempt {
    fn into_error(self) -> CommandError {
        match self {
            Attempt::Superseded(e) | Attempt::Failed(e) => e,
        }
    }
}

impl From<CommandError> for Attempt {
    fn from(e: CommandError) -> Self {
        Attempt::Failed(e)
    }
}

async fn goto_once(ctx: &Ctx<'_>, url: &str, until: WaitUntil) -> Result<ToolResult, Attempt> {
    // Subscribed before navigating, so the document's response cannot slip past.
    let mut responses = listen::<EventResponseReceived>(&ctx.page).await?;
    let abandoned = AbandonedNavigation::watch(&ctx.page).await?;
    let parsed = match until {
        WaitUntil::DomContentLoaded => Some(DocumentParsed::watch(&ctx.page).await?),
        _ => None,
    };
    let parsed = async move {
        match parsed {
            Some(p) => p.wait().await,
            None => std::future::pending().await,
        }
    };
    // chromiumoxide gives up on a request after its fixed 30 s, whatever our deadline: a load
    // that takes longer is then followed by the page's own load event (the command's deadline
    // still bounds it).
    let mut loaded = listen::<EventLoadEventFired>(&ctx.page).await?;
    // chromiumoxide resolves Page.navigate once the new document has loaded; a navigation that
    // never makes a new document (a 204, a download) it would wait out: race it.
    let navigate = async {
        match ctx.page.execute(NavigateParams::new(url)).await {
            Ok(done) => Ok((done.result.loader_id, done.result.error_text)),
            Err(chromiumoxide::error::CdpError::Timeout) => {
                tracing::debug!("navigation to {url} outlasted chromiumoxide's timer");
                loaded.next().await;
                Ok((None, None))
            }
            Err(e) => Err(cdp_error(&format!("navigation to {url}"), e)),
        }
    };
    let (loader_id, error_text) = tokio::select! {
        biased;
        done = navigate => done?,
        // waitUntil=domcontentloaded: the new document is committed and parsed. chromiumoxide
        // keeps waiting for its load on its own; the next goto waits for that.
        _ = parsed => {
            let mut document = None;
            while let Some(Some(event)) = responses.next().now_or_never() {
                if event.r#type == ResourceType::Document {
                    document = Some(event);
                }
            }
            return Ok(ToolResult::text(match document {
                Some(ev) => format!(
                    "Navigated to {} (HTTP {}; DOMContentLoaded)",
                    ev.response.url, ev.response.status
                ),
                None => format!("Navigated to {url} (DOMContentLoaded)"),
            }));
        }
        error = abandoned.wait() => {
            // The page's navigation slot in chromiumoxide stays taken: start afresh.
            ctx.request_fresh_page();
            let mut why = match error {
                Some(e) => format!("{e} ({})", explain_net_error(&e)),
                None => "the answer was not a page to show".to_string(),
            };
            while let Some(Some(ev)) = responses.next().now_or_never() {
                if ev.r#type != ResourceType::Document {
                    continue;
                }
                let r = &ev.response;
                why = if matches!(r.status, 204 | 205) {
                    format!("HTTP {} {}: no content to show", r.status, r.status_text)
                } else {
                    format!("HTTP {} answered a file to download ({}), not a page", r.status, r.mime_type)
                };
            }
            return Err(Attempt::Failed(CommandError::execution(format!(
                "navigation to {url} did not load a page: {why}; the instance goes on with a blank page"
            ))));
        }
    };
    // An HTTP error answered with an empty body is still an answer: Chromium shows its own
    // error page and says ERR_HTTP_RESPONSE_CODE_FAILURE; report the status like any other.
    let error = error_text.filter(|e| !e.is_empty() && e != "net::ERR_HTTP_RESPONSE_CODE_FAILURE");
    if let Some(error) = error {
        let e = CommandError::execution(format!(
            "cannot load {url}: {error} ({})",
            explain_net_error(&error)
        ));
        return Err(if error == SUPERSEDED {
            Attempt::Superseded(e)
        } else {
            Attempt::Failed(e)
        });
    }
    let mut document = None;
    while let Some(Some(event)) = responses.next().now_or_never() {
        // After chromiumoxide's timer the loader is unknown: the last document is the one.
        let same_load = loader_id.as_ref().is_none_or(|id| id == &event.loader_id);
        if event.r#type == ResourceType::Document && same_load {
            document = Some(event);
        }
    }
    let text = match document {
        Some(ev) => {
            let status_text = if ev.response.status_text.is_empty() {
                String::new()
            } else {
                format!(" {}", ev.response.status_text)
            };
            format!(
                "Navigated to {} (HTTP {}{status_text})",
                ev.response.url, ev.response.status
            )
        }
        // Same-document (#fragment) navigations and about: pages have no HTTP response.
        None => format!("Navigated to {url}"),
    };
    Ok(ToolResult::text(text))
}

/// Resolves once the main frame commits a new document and that document fires
/// DOMContentLoaded.
struct DocumentParsed {
    main_frame: Option<FrameId>,
    committed: EventStream<EventFrameNavigated>,
    parsed: EventStream<EventDomContentEventFired>,
}

impl DocumentParsed {
    async fn watch(page: &Page) -> Result<Self, CommandError> {
        Ok(DocumentParsed {
            main_frame: page.mainframe().await.ok().flatten(),
            committed: listen(page).await?,
            parsed: listen(page).await?,
        })
    }

    async fn wait(mut self) {
        loop {
            let Some(ev) = self.committed.next().await else {
                return std::future::pending().await;
            };
            let main = match &self.main_frame {
                Some(id) => ev.frame.id == *id,
                None => ev.frame.parent_id.is_none(),
            };
            if main {
                break;
            }
        }
        // Events of the old document came before the commit: drop them.
        while let Some(Some(_)) = self.parsed.next().now_or_never() {}
        if self.parsed.next().await.is_none() {
            std::future::pending::<()>().await
        }
    }
}

async fn listen<T: chromiumoxide::cdp::IntoEventKind + Unpin + std::fmt::Debug>(
    page: &Page,
) -> Result<EventStream<T>, CommandError> {
    page.event_listener::<T>()
        .await
        .map_err(|e| cdp_error("subscribing to page events", e))
}

/// Notices when this goto's navigation ends without a page: its document request finished or
/// failed, and no document from it was committed (what Chromium does with a 204 answer or a
/// download). Tied to the request by id, so an earlier load still in flight is not mistaken
/// for it.
struct AbandonedNavigation {
    main_frame: Option<FrameId>,
    requests: EventStream<EventRequestWillBeSent>,
    responses: EventStream<EventResponseReceived>,
    finished: EventStream<EventLoadingFinished>,
    failed: EventStream<EventLoadingFailed>,
    committed: EventStream<EventFrameNavigated>,
}

/// How long a navigation whose request ended may still take to commit (an error page does,
/// just after its request fails) before it counts as abandoned.
const COMMIT_GRACE: Duration = Duration::from_millis(300);

impl AbandonedNavigation {
    async fn watch(page: &Page) -> Result<Self, CommandError> {
        Ok(AbandonedNavigation {
            main_frame: page.mainframe().await.ok().flatten(),
            requests: listen(page).await?,
            responses: listen(page).await?,
            finished: listen(page).await?,
            failed: listen(page).await?,
            committed: listen(page).await?,
        })
    }

    /// Resolves, with the request's network error if it had one, only for an abandoned
    /// navigation; pends forever otherwise.
    async fn wait(mut self) -> Option<String> {
        let Some(main) = self.main_frame.clone() else {
            return std::future::pending().await;
        };
        // A navigation request's id is its loader id: the id a commit of it carries.
        let mut ours: Option<String> = None;
        let mut answered = false;
        let mut committed = false;
        let mut error = None;
        loop {
            // chromiumoxide queues each event on its stream before reading the next one from
            // Chromium, so when a later event is ready an earlier one is too: polling in causal
            // order (request, commit, end) sees them in the order they happened.
            let ended = tokio::select! {
                biased;
                Some(ev) = self.requests.next() => {
                    if ev.r#type == Some(ResourceType::Document) && ev.frame_id.as_ref() == Some(&main) {
                        ours = Some(ev.request_id.inner().clone());
                        answered = false;
                    }
                    false
                }
                Some(ev) = self.responses.next() => {
                    answered |= ours.as_deref() == Some(ev.request_id.inner().as_str());
                    false
                }
                Some(ev) = self.committed.next() => {
                    committed |= is_commit_of(&ev, &main, ours.as_deref());
                    false
                }
                Some(ev) = self.finished.next() => ours.as_deref() == Some(ev.request_id.inner().as_str()),
                Some(ev) = self.failed.next() => {
                    let mine = ours.as_deref() == Some(ev.request_id.inner().as_str());
                    if mine && ev.error_text == SUPERSEDED && !answered {
                        // Replaced by a navigation the page started: not abandoned. chromiumoxide
                        // resolves Page.navigate (with the error) once that one loads.
                        ours = None;
                        continue;
                    }
                    if mine && !ev.error_text.is_empty() {
                        error = Some(ev.error_text.clone());
                    }
                    mine
                }
                else => return std::future::pending().await,
            };
            if !ended || committed {
                continue;
            }
            // Streams are read independently: give a commit sent around the same time, or an
            // error page committing right after, the chance to show up.
            tokio::time::sleep(COMMIT_GRACE).await;
            while let Some(Some(ev)) = self.committed.next().now_or_never() {
                committed |= is_commit_of(&ev, &main, ours.as_deref());
            }
            if !committed {
                return error;
            }
        }
    }
}

fn is_commit_of(ev: &EventFrameNavigated, main: &FrameId, loader: Option<&str>) -> bool {
    ev.frame.id == *main && loader == Some(ev.frame.loader_id.inner().as_str())
}

/// Moves `step` entries through the session history, then waits for the page to load.
async fn in_history(ctx: &Ctx<'_>, step: i64, until: WaitUntil) -> Result<String, CommandError> {
    reload_or_step(ctx, step, until, false).await
}

/// Reload (`step` 0, bypassing the cache with `ignore_cache`) or move `step` entries through
/// the session history, then wait for the page to load. Returns the URL arrived at.
async fn reload_or_step(
    ctx: &Ctx<'_>,
    step: i64,
    until: WaitUntil,
    ignore_cache: bool,
) -> Result<String, CommandError> {
    let history = ctx
        .page
        .execute(GetNavigationHistoryParams::default())
        .await
        .map_err(|e| cdp_error("Page.getNavigationHistory", e))?
        .result;
    let current = history.current_index;
    let target = current + step;
    let entry = usize::try_from(target)
        .ok()
        .and_then(|i| history.entries.get(i))
        .ok_or_else(|| {
            let here = usize::try_from(current)
                .ok()
                .and_then(|i| history.entries.get(i))
                .map(|e| e.url.clone())
                .unwrap_or_default();
            let which = if step < 0 {
                "no previous page"
            } else {
                "no next page"
            };
            CommandError::execution(format!("{which} in this page's history (at {here})"))
        })?;
    let mut loads = ctx
        .page
        .event_listener::<EventLoadEventFired>()
        .await
        .map_err(|e| cdp_error("Page.loadEventFired", e))?;
    let mut parsed = ctx
        .page
        .event_listener::<EventDomContentEventFired>()
        .await
        .map_err(|e| cdp_error("Page.domContentEventFired", e))?;
    let parsed = async move {
        if until == WaitUntil::DomContentLoaded {
            parsed.next().await;
        } else {
            std::future::pending::<()>().await
        }
    };
    let mut in_document = ctx
        .page
        .event_listener::<EventNavigatedWithinDocument>()
        .await
        .map_err(|e| cdp_error("Page.navigatedWithinDocument", e))?;
    // A page restored from the back/forward cache fires no load event: only this.
    let mut navigated = ctx
        .page
        .event_listener::<EventFrameNavigated>()
        .await
        .map_err(|e| cdp_error("Page.frameNavigated", e))?;
    let restored = async move {
        while let Some(ev) = navigated.next().await {
            if ev.frame.parent_id.is_none() && ev.r#type == NavigationType::BackForwardCacheRestore
            {
                return;
            }
        }
        std::future::pending::<()>().await
    };
    if step == 0 {
        let reload = ReloadParams {
            ignore_cache: Some(ignore_cache).filter(|i| *i),
            ..ReloadParams::default()
        };
        ctx.page
            .execute(reload)
            .await
            .map_err(|e| cdp_error("Page.reload", e))?;
    } else {
        ctx.page
            .execute(NavigateToHistoryEntryParams::new(entry.id))
            .await
            .map_err(|e| cdp_error("Page.navigateToHistoryEntry", e))?;
    }
    tokio::select! {
        _ = loads.next() => {}
        _ = parsed => {}
        _ = in_document.next() => {}
        _ = restored => {}
    }
    Ok(entry.url.clone())
}

async fn wait_for(ctx: &Ctx<'_>, selector: &str) -> Result<ToolResult, CommandError> {
    let started = Instant::now();
    let poll = Duration::from_millis(50);
    let mut reason = "the page did not answer".to_string();
    loop {
        // The page watches for up to a second per call (a navigation ends a call early and
        // the next one looks at the new document), finishing before the deadline's margin.
        let wait = ctx
            .remaining()
            .saturating_sub(Duration::from_millis(100))
            .min(Duration::from_secs(1));
        let args = serde_json::json!({ "selector": selector, "wait": wait.as_millis() as u64 });
        let Some(probe) = ctx.in_time(helper::<Probe>(ctx, "visible", args)).await else {
            break;
        };
        let probe = probe?;
        reason = match probe.state.as_str() {
            "ok" => {
                return Ok(ToolResult::text(format!(
                    "'{selector}' is visible ({}) after {} ms",
                    probe.desc.unwrap_or_default(),
                    started.elapsed().as_millis()
                )))
            }
            state @ ("invalid" | "unknown_ref") => {
                return Err(lookup_error(selector, state, probe.detail.as_deref())
                    .expect("a lookup error state"))
            }
            "missing" => "no element matches it".to_string(),
            _ => format!(
                "{} matches it but is not visible",
                probe.desc.unwrap_or_default()
            ),
        };
        // A call that could not wait in the page (the deadline is near) is spaced out here.
        if wait < poll && !ctx.pause(poll).await {
            break;
        }
    }
    Err(CommandError::new(
        ErrorCode::CommandTimeout,
        format!(
            "timed out after {} ms waiting for '{selector}' to be visible: {reason}",
            ctx.budget.as_millis()
        ),
    ))
}

/// Evaluates `expression` in the page, over and over, until it is true (JavaScript's truth:
/// `1`, a non-empty string, an element) or the deadline comes. A promise is awaited. An
/// expression that does not compile fails at once; one that throws is tried again (the page
/// may not have defined what it reads yet), and its last error is said at the deadline.
async fn wait_until_true(ctx: &Ctx<'_>, expression: &str) -> Result<ToolResult, CommandError> {
    use super::executor::{eval_once, EvalFailure, World};
    let started = Instant::now();
    let poll = Duration::from_millis(50);
    let source = serde_json::Value::from(expression);
    // Compiled as an expression inside an async function, so `await` works in it and a
    // syntax error is told from an exception the page throws.
    let check = format!(
        "(async () => {{ let f; try {{ f = new (async () => {{}}).constructor('return (' + {source} + '\\n)'); }} \
         catch (e) {{ return {{ syntax: String(e) }}; }} return {{ value: !!(await f()) }}; }})()"
    );
    let mut last = "it was false".to_string();
    loop {
        let Some(done) = ctx.in_time(eval_once(&ctx.page, &check, World::Page)).await else {
            break;
        };
        match done {
            Ok(answer) => {
                if let Some(syntax) = answer["syntax"].as_str() {
                    return Err(CommandError::execution(format!(
                        "the expression does not compile: {syntax}"
                    )));
                }
                if answer["value"] == serde_json::Value::Bool(true) {
                    return Ok(ToolResult::text(format!(
                        "{expression} became true after {} ms",
                        started.elapsed().as_millis()
                    )));
                }
                last = "it was false".to_string();
            }
            Err(EvalFailure::Thrown(text)) => last = format!("it threw {text}"),
            // Between documents (a navigation): the next document is asked next time.
            Err(EvalFailure::ContextGone(_)) => {}
            Err(EvalFailure::Cdp(e)) => return Err(cdp_error("Runtime.evaluate", e)),
        }
        if !ctx.pause(poll).await {
            break;
        }
    }
    Err(CommandError::new(
        ErrorCode::CommandTimeout,
        format!(
            "timed out after {} ms waiting for {expression} to be true: {last}",
            ctx.budget.as_millis()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::explain_net_error;

    #[test]
    fn net_errors_are_said_plainly() {
        assert!(explain_net_error("net::ERR_NAME_NOT_RESOLVED").starts_with("DNS lookup failed"));
        assert!(explain_net_error("net::ERR_CONNECTION_REFUSED").contains("connection refused"));
        assert!(explain_net_error("ERR_UNSAFE_PORT").contains("refuses"));
        assert_eq!(
            explain_net_error("net::ERR_SOMETHING_NEW"),
            "the page could not be loaded"
        );
    }
}
