//! A supervised browser instance: one Chromium (launched or attached), one page, the handler
//! loop that drives them, and the watchers that notice a dead browser, a crashed renderer and
//! dialogs that would otherwise block the page.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, Context};
use chromiumoxide::cdp::browser_protocol::browser::{
    CloseParams as BrowserCloseParams, EventDownloadProgress, EventDownloadWillBegin,
    SetDownloadBehaviorBehavior, SetDownloadBehaviorParams,
};
use chromiumoxide::cdp::browser_protocol::fetch::EventRequestPaused;
use chromiumoxide::cdp::browser_protocol::inspector::EventTargetCrashed;
use chromiumoxide::cdp::browser_protocol::network::ResourceType;
use chromiumoxide::cdp::browser_protocol::page::{
    DialogType, EventJavascriptDialogOpening, HandleJavaScriptDialogParams, StopLoadingParams,
};
use chromiumoxide::cdp::js_protocol::runtime::{
    EvaluateParams, EventConsoleApiCalled, EventExceptionThrown, TerminateExecutionParams,
};
use chromiumoxide::handler::viewport::Viewport;
use chromiumoxide::handler::HandlerConfig;
use chromiumoxide::{Browser, Page};
use futures::StreamExt;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::timeout;

use super::chrome::{
    command_line, find_chrome, resolve_executable, spawn_tied, BrowserSource, LaunchOptions,
};
use super::executor::{InstalledHelpers, RawCommand};
use super::leftovers::{folder_prefix, DOWNLOADS_PREFIX, PROFILE_PREFIX};
use super::policy::{process_default, Policy};
use crate::events::DialogRecord;
use crate::task::{CommandError, DialogPolicy, ErrorCode};

/// Deadline for the housekeeping calls the instance makes on its own (new page, close, probes).
const HOUSEKEEPING: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq)]
pub enum Health {
    Alive,
    /// The page's renderer crashed; the browser lives and a fresh page replaces it.
    PageCrashed,
    /// The browser is gone (process died, connection closed): the instance must be relaunched.
    Lost(String),
}

/// One tab: its page and what watches it.
struct PageSlot {
    tab_id: String,
    page: Page,
    helpers: Arc<InstalledHelpers>,
    state: Arc<PageState>,
    watchers: Vec<JoinHandle<()>>,
    /// Its renderer crashed: replaced before the next command.
    crashed: Arc<std::sync::atomic::AtomicBool>,
}

/// The instance's tabs, in the order they opened, and which one commands act on by default.
#[derive(Default)]
struct Tabs {
    slots: Vec<PageSlot>,
    active: String,
    opened: u64,
    /// Targets of tabs we closed, newest last: chromiumoxide may still list them for a moment,
    /// and they must not come back as popups. At most [`CLOSED_CAP`], and only while listed.
    closed: std::collections::VecDeque<String>,
}

/// Closed targets remembered: far more than chromiumoxide lists after their close.
const CLOSED_CAP: usize = 64;

impl Tabs {
    fn next_id(&mut self) -> String {
        self.opened += 1;
        format!("tab_{}", self.opened)
    }

    fn remember_closed(&mut self, target: String) {
        if self.closed.len() >= CLOSED_CAP {
            self.closed.pop_front();
        }
        self.closed.push_back(target);
    }

    fn active_slot(&self) -> Option<&PageSlot> {
        self.slots
            .iter()
            .find(|s| s.tab_id == self.active)
            .or(self.slots.last())
    }
}

/// At most this many console messages are kept per page (the oldest go first).
const CONSOLE_CAP: usize = 1000;

/// One console message (or uncaught exception, as level `error`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConsoleMessage {
    pub level: String,
    pub text: String,
    /// Milliseconds since the Unix epoch.
    pub timestamp: f64,
}

/// The page's network conditions, kept so offline and throttle do not undo each other.
#[derive(Debug, Clone, Copy, Default)]
pub struct NetConditions {
    pub offline: bool,
    pub latency_ms: f64,
    pub download_kbps: f64,
    pub upload_kbps: f64,
}

/// What the tools keep per page: its console, its dialog policy, its interception, its network
/// conditions. A fresh page (after a crash or an unfinished goto) starts with none of it.
#[derive(Debug, Default)]
pub struct PageState {
    pub console: Mutex<std::collections::VecDeque<ConsoleMessage>>,
    pub dialogs: Mutex<(DialogPolicy, Option<String>)>,
    /// The `session` of the task that set the dialog policy (see [`BrowserInstance::begin_task`]).
    pub dialogs_owner: Mutex<Option<String>>,
    pub intercept: Mutex<Option<JoinHandle<()>>>,
    pub network: Mutex<NetConditions>,
    /// A goto that returned at DOMContentLoaded left chromiumoxide waiting for this page's load
    /// (it runs one Page.navigate at a time per page): the next goto stops that load first.
    pub load_pending: std::sync::atomic::AtomicBool,
    /// The page opened more than [`STORM_DIALOGS`] dialogs within a second: it blocks any
    /// navigation away from it, so it is replaced before the next command.
    pub dialog_storm: std::sync::atomic::AtomicBool,
}

impl Drop for PageState {
    fn drop(&mut self) {
        if let Some(task) = self.intercept.lock().unwrap().take() {
            task.abort();
        }
    }
}

/// One download of the instance.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Download {
    pub guid: String,
    pub url: String,
    pub suggested_filename: String,
    /// inProgress, completed or canceled.
    pub state: String,
    pub received_bytes: f64,
    pub total_bytes: f64,
    /// Where the file is (or will be) saved.
    pub path: Option<String>,
    /// Already reported by a download_wait.
    #[serde(skip)]
    pub awaited: bool,
    #[serde(skip)]
    pub began: std::time::Instant,
}

/// Downloads kept in the list: beyond it, the oldest finished ones go first.
pub const DOWNLOADS_CAP: usize = 50;

/// Dialog records kept between two commands' collections: a page that opens a dialog every few
/// milliseconds while the instance is idle must not grow the list. Later ones are counted.
const DIALOGS_CAP: usize = 50;

/// Dialogs within one second that make a page a dialog storm (see [`PageState::dialog_storm`]).
const STORM_DIALOGS: usize = 50;

/// Requests the URL policy blocked, remembered for the commands' results.
const BLOCKED_CAP: usize = 100;

/// The instance's downloads, in the order they began; `changed` ticks on every update.
#[derive(Debug)]
pub struct Downloads {
    pub list: Mutex<Vec<Download>>,
    pub changed: watch::Sender<u64>,
    /// Folder files are saved in (removed when the instance ends); `None` when attached.
    pub dir: Option<PathBuf>,
    /// When the last command other than download_wait and downloads started: download_wait
    /// waits for downloads begun since (the click that starts one comes before it).
    pub since: Mutex<std::time::Instant>,
}

/// The dialogs answered since the last collection, at most [`DIALOGS_CAP`] of them.
#[derive(Debug, Default)]
struct DialogLog {
    kept: Vec<DialogRecord>,
    /// Answered beyond the cap: reported as one summary line.
    more: usize,
}

/// A request the URL policy failed before it left the browser.
#[derive(Debug, Clone)]
pub struct BlockedRequest {
    /// Increases by one per blocked request, for the instance's whole life.
    pub seq: u64,
    pub url: String,
    /// The rule that refused it, as [`Policy::check_request`] says.
    pub reason: String,
    /// A document (a page, popup or frame navigation) rather than a subresource.
    pub document: bool,
}

#[derive(Debug, Default)]
struct BlockedLog {
    next: u64,
    recent: std::collections::VecDeque<BlockedRequest>,
}

/// Repair left for after a command that did not finish: the answer goes out first, and the
/// next command (or task) waits for this before it starts.
enum Pending {
    /// Checking in the background whether the page answers (stopping its script and loading
    /// if not); `false`: it still does not, replace it.
    Check(JoinHandle<bool>),
    /// Replace the page (a goto that did not finish leaves chromiumoxide's navigation slot
    /// of the page taken).
    Replace,
}

/// Sizes of the instance's bounded collections, for tests and diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    pub tabs: usize,
    pub closed_tabs: usize,
    pub downloads: usize,
    pub dialogs: usize,
    pub blocked: usize,
}

pub struct BrowserInstance {
    id: String,
    source: BrowserSource,
    /// Shared with the request watcher, which answers paused requests on the browser session.
    browser: Arc<Browser>,
    /// The Chromium process, when this instance launched it (taken when it is closed).
    child: tokio::sync::Mutex<Option<Child>>,
    tabs: Mutex<Tabs>,
    health: watch::Sender<Health>,
    dialogs: Arc<Mutex<DialogLog>>,
    handler: JoinHandle<()>,
    pid: Option<u32>,
    profile: Mutex<Option<tempfile::TempDir>>,
    downloads: Arc<Downloads>,
    download_dir: Mutex<Option<tempfile::TempDir>>,
    download_watcher: Mutex<Option<JoinHandle<()>>>,
    policy: Arc<Policy>,
    blocked: Arc<Mutex<BlockedLog>>,
    request_watcher: Mutex<Option<JoinHandle<()>>>,
    pending: Mutex<Vec<(String, Pending)>>,
    /// The `session` of the task running now (its metadata's), set by `begin_task`.
    session: Mutex<Option<String>>,
}

impl std::fmt::Debug for BrowserInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserInstance")
            .field("id", &self.id)
            .field("pid", &self.pid)
            .finish()
    }
}

impl BrowserInstance {
    /// Starts (or attaches to) a browser and opens the instance's page.
    pub async fn start(id: impl Into<String>, source: BrowserSource) -> anyhow::Result<Self> {
        let id = id.into();
        let (browser, handler, profile, child) = match &source {
            BrowserSource::Launch(options) => {
                let launched = launch(options).await?;
                (
                    launched.browser,
                    launched.handler,
                    Some(launched.profile),
                    Some(launched.child),
                )
            }
            BrowserSource::Attach(endpoint) => {
                // The same handler settings as a launched browser (our deadlines govern, not
                // chromiumoxide's 30 s request timeout), minus the viewport: an attached
                // browser keeps its own, as with chromiumoxide's plain connect.
                let config = handler_config(None);
                let (browser, handler) = timeout(
                    HOUSEKEEPING,
                    Browser::connect_with_config(endpoint.clone(), config),
                )
                .await
                .map_err(|_| anyhow!("no answer from DevTools endpoint {endpoint} within 10 s"))?
                .with_context(|| format!("cannot attach to DevTools endpoint {endpoint}"))?;
                (browser, handler, None, None)
            }
        };
        let pid = child.as_ref().and_then(Child::id);
        let policy = match &source {
            BrowserSource::Launch(options) => options.policy.clone(),
            BrowserSource::Attach(_) => None,
        }
        .unwrap_or_else(process_default);
        let browser = Arc::new(browser);

        let (health, _) = watch::channel(Health::Alive);
        let handler = spawn_handler_loop(handler, health.clone());
        // Downloads go to a folder of the instance's own (only for browsers we launched: an
        // attached browser saves on its own machine, where our folder does not exist).
        let download_dir = match &source {
            BrowserSource::Launch(_) => Some(
                tempfile::Builder::new()
                    .prefix(&folder_prefix(DOWNLOADS_PREFIX))
                    .tempdir()
                    .context("cannot create a download folder")?,
            ),
            BrowserSource::Attach(_) => None,
        };
        let downloads = Arc::new(Downloads {
            list: Mutex::new(Vec::new()),
            changed: watch::channel(0).0,
            dir: download_dir.as_ref().map(|d| d.path().to_path_buf()),
            since: Mutex::new(std::time::Instant::now()),
        });
        let download_watcher = match &downloads.dir {
            Some(dir) => match watch_downloads(&browser, dir, downloads.clone()).await {
                Ok(task) => Some(task),
                Err(e) => {
                    tracing::warn!("downloads will not be tracked: {e:#}");
                    None
                }
            },
            None => None,
        };
        let instance = BrowserInstance {
            id,
            source,
            browser,
            child: tokio::sync::Mutex::new(child),
            tabs: Mutex::new(Tabs::default()),
            health,
            dialogs: Arc::new(Mutex::new(DialogLog::default())),
            handler,
            pid,
            profile: Mutex::new(profile),
            downloads,
            download_dir: Mutex::new(download_dir),
            download_watcher: Mutex::new(download_watcher),
            policy,
            blocked: Arc::new(Mutex::new(BlockedLog::default())),
            request_watcher: Mutex::new(None),
            pending: Mutex::new(Vec::new()),
            session: Mutex::new(None),
        };
        if instance.policy.watches_requests() {
            let watcher = watch_requests(
                instance.browser.clone(),
                instance.policy.clone(),
                instance.blocked.clone(),
            )
            .await;
            match watcher {
                Ok(task) => *instance.request_watcher.lock().unwrap() = Some(task),
                Err(e) => {
                    // Origin lists that cannot be enforced must not be silently ignored.
                    instance.close().await;
                    return Err(e.context("cannot enforce the URL policy's origin lists"));
                }
            }
        }
        if let Err(e) = instance.open_page(None).await {
            instance.close().await;
            return Err(e);
        }
        Ok(instance)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The browser process id, when this instance launched it.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    pub fn profile_dir(&self) -> Option<PathBuf> {
        self.profile
            .lock()
            .unwrap()
            .as_ref()
            .map(|p| p.path().to_path_buf())
    }

    pub fn health(&self) -> Health {
        self.health.borrow().clone()
    }

    /// Resolves when the browser is lost or the page's renderer crashes, with a reason that
    /// fails the command in flight.
    pub async fn broken(&self) -> CommandError {
        let mut rx = self.health.subscribe();
        let health = rx
            .wait_for(|h| *h != Health::Alive)
            .await
            .map(|h| h.clone())
            .unwrap_or(Health::Lost("instance closed".into()));
        match health {
            Health::PageCrashed => CommandError::new(
                ErrorCode::InstanceDisconnected,
                "the page's renderer crashed",
            ),
            Health::Lost(reason) => CommandError::new(
                ErrorCode::InstanceDisconnected,
                format!("browser disconnected: {reason}"),
            ),
            Health::Alive => unreachable!("waited for a health other than Alive"),
        }
    }

    /// Resolves when the browser is lost (not when a page crashes: the next command replaces
    /// a crashed page). What an idle worker watches.
    pub async fn lost(&self) {
        let mut rx = self.health.subscribe();
        let _ = rx.wait_for(|h| matches!(h, Health::Lost(_))).await;
    }

    /// The instance's downloads.
    pub fn downloads(&self) -> &Arc<Downloads> {
        &self.downloads
    }

    /// Runs a CDP command on the browser's own session (Browser.* commands), under `deadline`.
    pub async fn browser_execute<C: chromiumoxide::types::Command>(
        &self,
        cmd: C,
    ) -> Result<C::Response, CommandError> {
        self.browser
            .execute(cmd)
            .await
            .map(|r| r.result)
            .map_err(|e| CommandError::execution(format!("browser command failed: {e}")))
    }

    /// The page of tab `tab` (the active tab when `None`), replacing crashed pages first, with
    /// where the executor's helpers are installed in it and the tools' state for it. Pages the
    /// site opened (window.open, target=_blank) become tabs first, so they can be named.
    pub async fn page_with_state(
        &self,
        tab: Option<&str>,
    ) -> Result<(Page, Arc<InstalledHelpers>, Arc<PageState>), CommandError> {
        self.ready().await?;
        if tab.is_some_and(|t| !self.has_tab(t)) {
            self.adopt_popups().await;
        }
        let tabs = self.tabs.lock().unwrap();
        let slot = match tab {
            Some(id) => tabs.slots.iter().find(|s| s.tab_id == id).ok_or_else(|| {
                let open: Vec<&str> = tabs.slots.iter().map(|s| s.tab_id.as_str()).collect();
                CommandError::execution(format!(
                    "unknown tab '{id}'; the open tabs are {}",
                    open.join(", ")
                ))
            })?,
            None => tabs.active_slot().ok_or_else(|| {
                CommandError::new(ErrorCode::InstanceDisconnected, "instance closed")
            })?,
        };
        Ok((slot.page.clone(), slot.helpers.clone(), slot.state.clone()))
    }

    /// The active tab's page, replacing crashed pages first, with where the executor's helpers
    /// are installed in it.
    pub async fn page(&self) -> Result<(Page, Arc<InstalledHelpers>), CommandError> {
        let (page, helpers, _) = self.page_with_state(None).await?;
        Ok((page, helpers))
    }

    /// Fails when the browser is lost; replaces every page whose renderer crashed.
    async fn ready(&self) -> Result<(), CommandError> {
        match self.health() {
            Health::Lost(reason) => Err(CommandError::new(
                ErrorCode::InstanceDisconnected,
                format!("browser disconnected: {reason}"),
            )),
            Health::PageCrashed => {
                let crashed: Vec<String> = self
                    .tabs
                    .lock()
                    .unwrap()
                    .slots
                    .iter()
                    .filter(|s| s.crashed.load(std::sync::atomic::Ordering::Relaxed))
                    .map(|s| s.tab_id.clone())
                    .collect();
                let crashed = if crashed.is_empty() {
                    vec![self.active_tab()]
                } else {
                    crashed
                };
                for tab in crashed {
                    self.open_page(Some(&tab)).await.map_err(|e| {
                        CommandError::new(
                            ErrorCode::InstanceDisconnected,
                            format!("cannot replace the crashed page: {e:#}"),
                        )
                    })?;
                }
                Ok(())
            }
            Health::Alive => Ok(()),
        }
    }

    fn has_tab(&self, id: &str) -> bool {
        self.tabs
            .lock()
            .unwrap()
            .slots
            .iter()
            .any(|s| s.tab_id == id)
    }

    /// The id of the active tab.
    pub fn active_tab(&self) -> String {
        let tabs = self.tabs.lock().unwrap();
        tabs.active.clone()
    }

    /// Dialogs answered since the last call: at most [`DIALOGS_CAP`], then one line saying how
    /// many more there were.
    pub fn take_dialogs(&self) -> Vec<DialogRecord> {
        let log = std::mem::take(&mut *self.dialogs.lock().unwrap());
        let mut kept = log.kept;
        if log.more > 0 {
            let last = kept.last().cloned();
            kept.push(DialogRecord {
                kind: last.as_ref().map_or("alert".into(), |d| d.kind.clone()),
                message: format!("… and {} more dialogs like it", log.more),
                accepted: last.is_some_and(|d| d.accepted),
            });
        }
        kept
    }

    /// The URL and upload policy this instance enforces.
    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    /// How many requests the URL policy has blocked so far (a cursor for [`Self::blocked_since`]).
    pub fn blocked_count(&self) -> u64 {
        self.blocked.lock().unwrap().next
    }

    /// The requests blocked since `cursor` (those still remembered).
    pub fn blocked_since(&self, cursor: u64) -> Vec<BlockedRequest> {
        let log = self.blocked.lock().unwrap();
        log.recent
            .iter()
            .filter(|b| b.seq >= cursor)
            .cloned()
            .collect()
    }

    /// The sizes of what the instance keeps: each is bounded.
    pub fn sizes(&self) -> Sizes {
        let tabs = self.tabs.lock().unwrap();
        let dialogs = self.dialogs.lock().unwrap();
        Sizes {
            tabs: tabs.slots.len(),
            closed_tabs: tabs.closed.len(),
            downloads: self.downloads.list.lock().unwrap().len(),
            dialogs: dialogs.kept.len(),
            blocked: self.blocked.lock().unwrap().recent.len(),
        }
    }

    /// Called when a task starts on this instance, before its first command: finishes any
    /// repair an earlier command left pending (so the task starts on a page that answers),
    /// forgets dialogs answered while no task ran, and resets each tab's dialog policy to the
    /// default unless the task belongs to the same `session` (its metadata's `session`, which
    /// MCP sets per MCP session) as the task that set it. A policy set by one task therefore
    /// never answers another client's dialogs.
    pub async fn begin_task(&self, metadata: Option<&serde_json::Map<String, serde_json::Value>>) {
        let session = metadata
            .and_then(|m| m.get("session"))
            .and_then(|v| v.as_str())
            .map(String::from);
        self.settle().await;
        *self.dialogs.lock().unwrap() = DialogLog::default();
        let states: Vec<Arc<PageState>> = self
            .tabs
            .lock()
            .unwrap()
            .slots
            .iter()
            .map(|s| s.state.clone())
            .collect();
        for state in states {
            let mut owner = state.dialogs_owner.lock().unwrap();
            if session.is_none() || *owner != session {
                *state.dialogs.lock().unwrap() = (DialogPolicy::Default, None);
                *owner = None;
            }
        }
        *self.session.lock().unwrap() = session;
    }

    /// The `session` of the running task (see [`Self::begin_task`]).
    pub fn session(&self) -> Option<String> {
        self.session.lock().unwrap().clone()
    }

    /// After a command that did not finish (timed out, cancelled) or left its page unusable:
    /// starts the repair now, in the background, so the command's answer is not held up by
    /// it; the next command or task waits for it ([`Self::settle`]). With `replace`, the page
    /// is replaced (after a goto that did not finish: chromiumoxide runs one Page.navigate at
    /// a time per page and holds the next until the previous one's load completes, and
    /// Chromium holds a page's renderer-bound commands while a navigation is pending). Else it
    /// is checked: a page that does not answer is stopped (script and loading), then replaced
    /// if it still does not.
    pub fn after_unfinished(&self, tab: Option<&str>, replace: bool) {
        if matches!(self.health(), Health::Lost(_)) {
            return;
        }
        let (tab, page) = {
            let tabs = self.tabs.lock().unwrap();
            let slot = match tab {
                Some(id) => tabs.slots.iter().find(|s| s.tab_id == id),
                None => tabs.active_slot(),
            };
            match slot {
                Some(slot) => (slot.tab_id.clone(), slot.page.clone()),
                None => return,
            }
        };
        let id = self.id.clone();
        let pending = if replace {
            // A hung script would keep a core busy until the old renderer goes away.
            tokio::spawn(async move {
                let _ = timeout(
                    Duration::from_secs(1),
                    page.execute(TerminateExecutionParams::default()),
                )
                .await;
            });
            Pending::Replace
        } else {
            Pending::Check(tokio::spawn(async move { unstick(&id, &page).await }))
        };
        self.pending.lock().unwrap().push((tab, pending));
    }

    /// Finishes the repairs [`Self::after_unfinished`] started: waits for the checks, and
    /// replaces the pages that need it. Quick when there is nothing to do.
    pub async fn settle(&self) {
        let mut pending = std::mem::take(&mut *self.pending.lock().unwrap());
        // A page in a dialog storm answers reads, but no navigation can leave it.
        let storms: Vec<String> = self
            .tabs
            .lock()
            .unwrap()
            .slots
            .iter()
            .filter(|s| {
                s.state
                    .dialog_storm
                    .load(std::sync::atomic::Ordering::Relaxed)
            })
            .map(|s| s.tab_id.clone())
            .collect();
        pending.extend(storms.into_iter().map(|tab| (tab, Pending::Replace)));
        for (tab, repair) in pending {
            let replace = match repair {
                Pending::Replace => true,
                Pending::Check(check) => {
                    !matches!(timeout(Duration::from_secs(5), check).await, Ok(Ok(true)))
                }
            };
            if !replace || matches!(self.health(), Health::Lost(_)) || !self.has_tab(&tab) {
                continue;
            }
            tracing::info!(instance = %self.id, tab = %tab, "replacing a page left unusable");
            if let Err(e) = self.open_page(Some(&tab)).await {
                tracing::warn!(instance = %self.id, "cannot replace the page: {e:#}");
            }
        }
    }

    /// Opens a fresh page as tab `tab` (closing the page it had; the tab keeps its id and
    /// place), or as a new tab, which becomes the active one. Starts its watchers.
    async fn open_page(&self, tab: Option<&str>) -> anyhow::Result<String> {
        let old = tab.and_then(|id| {
            let mut tabs = self.tabs.lock().unwrap();
            let at = tabs.slots.iter().position(|s| s.tab_id == id)?;
            Some((at, tabs.slots.remove(at)))
        });
        let (place, old) = match old {
            Some((at, slot)) => (Some(at), Some(slot)),
            None => (None, None),
        };
        if let Some(old) = &old {
            old.watchers.iter().for_each(JoinHandle::abort);
            let target = old.page.target_id().inner().clone();
            self.tabs.lock().unwrap().remember_closed(target);
            let page = old.page.clone();
            // A hung or crashed page may never answer its close: do not wait for it.
            tokio::spawn(async move {
                let _ = timeout(HOUSEKEEPING, page.close()).await;
            });
        }
        let page = timeout(HOUSEKEEPING, self.browser.new_page("about:blank"))
            .await
            .map_err(|_| anyhow!("Chromium did not open a page within 10 s"))?
            .context("Chromium could not open a page")?;
        let tab_id = match &old {
            Some(old) => old.tab_id.clone(),
            None => self.tabs.lock().unwrap().next_id(),
        };
        let slot = self.watch_page(page, tab_id.clone()).await?;
        {
            let mut tabs = self.tabs.lock().unwrap();
            match place {
                Some(at) => {
                    let at = at.min(tabs.slots.len());
                    tabs.slots.insert(at, slot);
                }
                None => {
                    tabs.slots.push(slot);
                    tabs.active = tab_id.clone();
                }
            }
        }
        self.health.send_if_modified(|h| {
            let crashed = *h == Health::PageCrashed;
            if crashed {
                *h = Health::Alive;
            }
            crashed
        });
        Ok(tab_id)
    }

    /// A tab for `page`, with its dialog, crash and console watchers running.
    async fn watch_page(&self, page: Page, tab_id: String) -> anyhow::Result<PageSlot> {
        let state = Arc::new(PageState::default());
        let crashed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watchers = vec![
            watch_dialogs(&page, self.dialogs.clone(), state.clone()).await?,
            watch_crash(&page, self.health.clone(), crashed.clone()).await?,
            watch_console(&page, state.clone()).await?,
        ];
        Ok(PageSlot {
            tab_id,
            page,
            helpers: Arc::default(),
            state,
            watchers,
            crashed,
        })
    }

    /// Adds the pages the instance's tabs opened (window.open, target=_blank) as tabs, and
    /// forgets tabs whose page is gone (window.close()).
    pub async fn adopt_popups(&self) {
        let pages = match timeout(HOUSEKEEPING, self.browser.pages()).await {
            Ok(Ok(pages)) => pages,
            _ => return,
        };
        let live: std::collections::HashSet<String> = pages
            .iter()
            .map(|p| p.target_id().inner().clone())
            .collect();
        let mut ours: std::collections::HashSet<String> = {
            let mut tabs = self.tabs.lock().unwrap();
            // A closed target chromiumoxide no longer lists cannot come back.
            tabs.closed.retain(|t| live.contains(t));
            let before = tabs.slots.len();
            tabs.slots.retain(|s| {
                let alive = live.contains(s.page.target_id().inner());
                if !alive {
                    s.watchers.iter().for_each(JoinHandle::abort);
                }
                alive
            });
            if tabs.slots.len() != before && !tabs.slots.iter().any(|s| s.tab_id == tabs.active) {
                tabs.active = tabs
                    .slots
                    .last()
                    .map(|s| s.tab_id.clone())
                    .unwrap_or_default();
            }
            tabs.slots
                .iter()
                .map(|s| s.page.target_id().inner().clone())
                .chain(tabs.closed.iter().cloned())
                .collect()
        };
        // Openers first: a popup of a popup is adopted once its opener is.
        loop {
            let found: Vec<&Page> = pages
                .iter()
                .filter(|p| !ours.contains(p.target_id().inner()))
                .filter(|p| {
                    p.opener_id()
                        .as_ref()
                        .is_some_and(|o| ours.contains(o.inner()))
                })
                .collect();
            if found.is_empty() {
                break;
            }
            for page in found {
                ours.insert(page.target_id().inner().clone());
                let tab_id = self.tabs.lock().unwrap().next_id();
                match self.watch_page(page.clone(), tab_id).await {
                    Ok(slot) => self.tabs.lock().unwrap().slots.push(slot),
                    Err(e) => tracing::warn!("cannot watch a page the site opened: {e:#}"),
                }
            }
        }
        if self.tabs.lock().unwrap().slots.is_empty() {
            let _ = self.open_page(None).await;
        }
    }

    /// The tabs as `(tab id, page, active)`, after adopting the pages the site opened.
    pub async fn tabs(&self) -> Vec<(String, Page, bool)> {
        self.adopt_popups().await;
        let tabs = self.tabs.lock().unwrap();
        tabs.slots
            .iter()
            .map(|s| (s.tab_id.clone(), s.page.clone(), s.tab_id == tabs.active))
            .collect()
    }

    /// Opens a new tab (it becomes the active one); returns its id.
    pub async fn new_tab(&self) -> Result<String, CommandError> {
        self.open_page(None)
            .await
            .map_err(|e| CommandError::execution(format!("cannot open a tab: {e:#}")))
    }

    /// Opens `params` (a new window or tab at a URL) as a new tab, which becomes the active one;
    /// returns its id. For the external step's window.
    pub async fn open_target(
        &self,
        params: chromiumoxide::cdp::browser_protocol::target::CreateTargetParams,
    ) -> Result<String, CommandError> {
        let page = timeout(HOUSEKEEPING, self.browser.new_page(params))
            .await
            .map_err(|_| CommandError::execution("Chromium did not open a window within 10 s"))?
            .map_err(|e| CommandError::execution(format!("cannot open a window: {e}")))?;
        let tab_id = self.tabs.lock().unwrap().next_id();
        let slot = self
            .watch_page(page, tab_id.clone())
            .await
            .map_err(|e| CommandError::execution(format!("cannot watch the window: {e:#}")))?;
        let mut tabs = self.tabs.lock().unwrap();
        tabs.slots.push(slot);
        tabs.active = tab_id.clone();
        Ok(tab_id)
    }

    /// Makes `tab` the one commands act on by default.
    pub async fn activate_tab(&self, tab: &str) -> Result<Page, CommandError> {
        let (page, _, _) = self.page_with_state(Some(tab)).await?;
        self.tabs.lock().unwrap().active = tab.to_string();
        Ok(page)
    }

    /// Closes `tab`. The instance always keeps a tab: closing the last one leaves a fresh blank
    /// one. When the active tab closes, the last remaining one becomes active.
    pub async fn close_tab(&self, tab: &str) -> Result<(), CommandError> {
        self.page_with_state(Some(tab)).await?;
        let removed = {
            let mut tabs = self.tabs.lock().unwrap();
            let at = tabs.slots.iter().position(|s| s.tab_id == tab);
            let removed = at.map(|i| tabs.slots.remove(i));
            if let Some(slot) = &removed {
                let target = slot.page.target_id().inner().clone();
                tabs.remember_closed(target);
            }
            if tabs.active == tab {
                tabs.active = tabs
                    .slots
                    .last()
                    .map(|s| s.tab_id.clone())
                    .unwrap_or_default();
            }
            removed
        };
        if let Some(slot) = removed {
            slot.watchers.iter().for_each(JoinHandle::abort);
            let _ = timeout(HOUSEKEEPING, slot.page.close()).await;
        }
        if self.tabs.lock().unwrap().slots.is_empty() {
            self.open_page(None)
                .await
                .map_err(|e| CommandError::execution(format!("cannot open a tab: {e:#}")))?;
        }
        Ok(())
    }

    /// Closes the browser (or, when attached, only this instance's page) and removes the
    /// profile folder. Leaves no process behind; safe to call twice.
    pub async fn close(&self) {
        let slots = std::mem::take(&mut self.tabs.lock().unwrap().slots);
        for slot in slots {
            slot.watchers.iter().for_each(JoinHandle::abort);
            if matches!(self.source, BrowserSource::Attach(_)) {
                let _ = timeout(Duration::from_secs(3), slot.page.close()).await;
            }
        }
        if let Some(task) = self.request_watcher.lock().unwrap().take() {
            task.abort();
        }
        for (_, repair) in std::mem::take(&mut *self.pending.lock().unwrap()) {
            if let Pending::Check(check) = repair {
                check.abort();
            }
        }
        {
            let child = self.child.lock().await.take();
            if let Some(mut child) = child {
                let graceful = !matches!(self.health(), Health::Lost(_))
                    && matches!(
                        timeout(
                            Duration::from_secs(3),
                            self.browser.execute(BrowserCloseParams::default())
                        )
                        .await,
                        Ok(Ok(_))
                    );
                let exited = graceful
                    && matches!(
                        timeout(Duration::from_secs(5), child.wait()).await,
                        Ok(Ok(_))
                    );
                if !exited {
                    // kill() sends SIGKILL and reaps the process.
                    let _ = timeout(Duration::from_secs(5), child.kill()).await;
                }
            }
        }
        self.handler.abort();
        if let Some(task) = self.download_watcher.lock().unwrap().take() {
            task.abort();
        }
        let _ = self.health.send(Health::Lost("instance closed".into()));
        let downloads = self.download_dir.lock().unwrap().take();
        let profile = self.profile.lock().unwrap().take();
        if downloads.is_some() || profile.is_some() {
            remove_folders(profile, downloads).await;
        }
    }
}

impl Drop for BrowserInstance {
    fn drop(&mut self) {
        // The Browser's child is killed on drop; the handler task would otherwise linger.
        self.handler.abort();
    }
}

/// A Chromium this instance started, connected to.
struct Launched {
    browser: Browser,
    handler: chromiumoxide::Handler,
    profile: tempfile::TempDir,
    child: Child,
}

/// Starts Chromium with its own profile folder and connects to it.
///
/// chromiumoxide's `Browser::launch` spawns the process itself with no pre-exec hook, so a
/// Chromium it starts outlives a SIGKILLed parent. We spawn it ourselves instead, through
/// [`spawn_tied`] (`PR_SET_PDEATHSIG(SIGKILL)` from a dedicated, never-ending thread: see there
/// for why the thread matters), with `--remote-debugging-port=0`, read the `DevTools listening
/// on ws://…` line from its stderr, and connect with the handler settings launch would have used.
/// Chromium's zygote and its renderers, GPU and utility processes end when the browser process
/// does (tests/orphans.rs checks it after a `kill -9` of the server).
async fn launch(options: &LaunchOptions) -> anyhow::Result<Launched> {
    let chrome = resolve_executable(&find_chrome(options.chrome.as_deref())?);
    // Each instance gets its own profile: a shared one is locked by whichever runs first. The
    // name carries our pid, so the next start can tell a dead run's folder (leftovers.rs).
    let profile = tempfile::Builder::new()
        .prefix(&folder_prefix(PROFILE_PREFIX))
        .tempdir()
        .context("cannot create a profile folder")?;
    let mut command = tokio::process::Command::new(&chrome);
    command
        .args(command_line(options, profile.path()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = timeout(HOUSEKEEPING, spawn_tied(command))
        .await
        .map_err(|_| {
            anyhow!(
                "Chromium ({}) was not spawned within 10 s",
                chrome.display()
            )
        })?
        .with_context(|| format!("cannot start Chromium ({})", chrome.display()))?;
    let connected = async {
        let url = devtools_url(&mut child, options.launch_timeout).await?;
        let (width, height) = options.viewport;
        let config = handler_config(Some(Viewport {
            width,
            height,
            ..Viewport::default()
        }));
        timeout(
            HOUSEKEEPING,
            Browser::connect_with_config(url.clone(), config),
        )
        .await
        .map_err(|_| anyhow!("no answer from Chromium's DevTools endpoint {url} within 10 s"))?
        .with_context(|| format!("cannot connect to Chromium's DevTools endpoint {url}"))
    }
    .await
    .with_context(|| format!("cannot start Chromium ({})", chrome.display()));
    match connected {
        Ok((browser, handler)) => Ok(Launched {
            browser,
            handler,
            profile,
            child,
        }),
        Err(e) => {
            let _ = timeout(Duration::from_secs(5), child.kill()).await;
            remove_folders(Some(profile), None).await;
            Err(e)
        }
    }
}

/// chromiumoxide's request timeout for our connections, launched or attached: every call runs
/// under a deadline of our own (the command's), so chromiumoxide's (30 s by default) must never
/// fire first. (Page commands also have a fixed 30 s timer in chromiumoxide whatever this says;
/// `executor::eval_once` outlasts it for scripts.)
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3600);

/// The handler settings of every connection, launched or attached.
fn handler_config(viewport: Option<Viewport>) -> HandlerConfig {
    HandlerConfig {
        viewport,
        request_timeout: REQUEST_TIMEOUT,
        ..HandlerConfig::default()
    }
}

/// Reads Chromium's stderr up to its `DevTools listening on ws://…` line (within `within`),
/// then keeps draining it into the debug log so Chromium never writes into a full pipe.
async fn devtools_url(child: &mut Child, within: Duration) -> anyhow::Result<String> {
    let stderr = child
        .stderr
        .take()
        .context("Chromium's stderr is not piped")?;
    let mut stderr = BufReader::new(stderr);
    let mut said = String::new();
    let read = async {
        let mut line = Vec::new();
        loop {
            line.clear();
            tokio::select! {
                read = stderr.read_until(b'\n', &mut line) => {
                    if read.context("cannot read Chromium's output")? == 0 {
                        anyhow::bail!("Chromium closed its output without a DevTools URL");
                    }
                    let text = String::from_utf8_lossy(&line);
                    if let Some(url) = parse_devtools_line(&text) {
                        return Ok(url);
                    }
                    said.push_str(&text);
                }
                status = child.wait() => {
                    anyhow::bail!("Chromium exited ({}) before it printed its DevTools URL",
                        status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string()));
                }
            }
        }
    };
    let url = match timeout(within, read).await {
        Ok(Ok(url)) => url,
        Ok(Err(e)) => return Err(e.context(stderr_tail(&said))),
        Err(_) => {
            return Err(
                anyhow!("Chromium printed no DevTools URL within {within:?}")
                    .context(stderr_tail(&said)),
            )
        }
    };
    tokio::spawn(async move {
        let mut line = Vec::new();
        while matches!(stderr.read_until(b'\n', &mut line).await, Ok(n) if n > 0) {
            tracing::debug!(target: "chromium", "{}", String::from_utf8_lossy(&line).trim_end());
            line.clear();
        }
    });
    Ok(url)
}

/// The ws:// URL of a `DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID` line.
fn parse_devtools_line(line: &str) -> Option<String> {
    let (_, url) = line.rsplit_once("listening on ")?;
    let url = url.trim();
    (url.starts_with("ws") && url.contains("devtools/browser")).then(|| url.to_string())
}

/// The end of what Chromium said on stderr, for an error message.
fn stderr_tail(said: &str) -> String {
    let said = said.trim();
    if said.is_empty() {
        return "Chromium said nothing on stderr".into();
    }
    let start = said
        .char_indices()
        .rev()
        .nth(1999)
        .map(|(i, _)| i)
        .unwrap_or(0);
    format!("Chromium's stderr: {}", &said[start..])
}

/// Drives chromiumoxide's handler; its end (an error, or the stream closing) means the browser
/// is gone. Breaking out on the first error is what makes pending calls fail fast.
fn spawn_handler_loop(
    mut handler: chromiumoxide::Handler,
    health: watch::Sender<Health>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let reason = loop {
            match handler.next().await {
                Some(Ok(())) => {}
                Some(Err(e)) => break format!("connection to Chromium lost ({e})"),
                None => break "connection to Chromium closed".to_string(),
            }
        };
        tracing::debug!("handler loop ended: {reason}");
        health.send_if_modified(|h| {
            if matches!(h, Health::Lost(_)) {
                false
            } else {
                *h = Health::Lost(reason);
                true
            }
        });
    })
}

/// Answers every JavaScript dialog at once, by the page's policy: by default dismiss, but accept
/// beforeunload so navigation goes on.
async fn watch_dialogs(
    page: &Page,
    dialogs: Arc<Mutex<DialogLog>>,
    state: Arc<PageState>,
) -> anyhow::Result<JoinHandle<()>> {
    let mut opened = page
        .event_listener::<EventJavascriptDialogOpening>()
        .await
        .context("cannot watch dialogs")?;
    let page = page.clone();
    Ok(tokio::spawn(async move {
        let mut recent = std::collections::VecDeque::with_capacity(STORM_DIALOGS);
        while let Some(dialog) = opened.next().await {
            let now = std::time::Instant::now();
            while recent
                .front()
                .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(1))
            {
                recent.pop_front();
            }
            recent.push_back(now);
            if recent.len() >= STORM_DIALOGS
                && !state
                    .dialog_storm
                    .swap(true, std::sync::atomic::Ordering::Relaxed)
            {
                tracing::warn!("a page opened {STORM_DIALOGS} dialogs within a second: it will be replaced before the next command");
            }
            let (policy, prompt_text) = state.dialogs.lock().unwrap().clone();
            let accept = match policy {
                DialogPolicy::Default => dialog.r#type == DialogType::Beforeunload,
                DialogPolicy::Accept => true,
                DialogPolicy::Dismiss => false,
            };
            let kind = serde_json::to_value(&dialog.r#type)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_else(|| format!("{:?}", dialog.r#type).to_lowercase());
            // Recorded before it is answered: the answer lets the command that opened it finish,
            // and that command collects the dialogs as it ends.
            {
                let mut log = dialogs.lock().unwrap();
                if log.kept.len() < DIALOGS_CAP {
                    log.kept.push(DialogRecord {
                        kind,
                        message: dialog.message.clone(),
                        accepted: accept,
                    });
                } else {
                    log.more += 1;
                }
            }
            let mut answer = HandleJavaScriptDialogParams::new(accept);
            if accept && dialog.r#type == DialogType::Prompt {
                answer.prompt_text = prompt_text;
            }
            let answered = timeout(HOUSEKEEPING, page.execute(answer)).await;
            if !matches!(answered, Ok(Ok(_))) {
                tracing::warn!("could not answer a {:?} dialog", dialog.r#type);
            }
        }
    }))
}

/// Keeps the page's console messages and uncaught exceptions, newest last.
async fn watch_console(page: &Page, state: Arc<PageState>) -> anyhow::Result<JoinHandle<()>> {
    let mut calls = page
        .event_listener::<EventConsoleApiCalled>()
        .await
        .context("cannot watch the console")?;
    let mut thrown = page
        .event_listener::<EventExceptionThrown>()
        .await
        .context("cannot watch exceptions")?;
    Ok(tokio::spawn(async move {
        loop {
            let message = tokio::select! {
                Some(call) = calls.next() => {
                    let level = serde_json::to_value(&call.r#type)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_else(|| "log".into());
                    let level = match level.as_str() {
                        "warning" | "error" | "info" | "debug" => level,
                        "assert" => "error".into(),
                        _ => "log".into(),
                    };
                    let text = call
                        .args
                        .iter()
                        .map(|arg| match &arg.value {
                            Some(serde_json::Value::String(s)) => s.clone(),
                            Some(v) => v.to_string(),
                            None => arg
                                .description
                                .clone()
                                .or_else(|| arg.unserializable_value.as_ref().map(|u| u.inner().clone()))
                                .unwrap_or_else(|| format!("{:?}", arg.r#type).to_lowercase()),
                        })
                        .collect::<Vec<_>>()
                        .join(" ");
                    ConsoleMessage { level, text, timestamp: *call.timestamp.inner() }
                }
                Some(ev) = thrown.next() => ConsoleMessage {
                    level: "error".into(),
                    text: format!("Uncaught {}", super::executor::exception_text(&ev.exception_details)),
                    timestamp: *ev.timestamp.inner(),
                },
                else => break,
            };
            let mut console = state.console.lock().unwrap();
            if console.len() >= CONSOLE_CAP {
                console.pop_front();
            }
            console.push_back(message);
        }
    }))
}

/// Saves downloads into `dir` and keeps `downloads` up to date from Chromium's events.
async fn watch_downloads(
    browser: &Browser,
    dir: &Path,
    downloads: Arc<Downloads>,
) -> anyhow::Result<JoinHandle<()>> {
    let mut begin = browser
        .event_listener::<EventDownloadWillBegin>()
        .await
        .context("cannot watch downloads")?;
    let mut progress = browser
        .event_listener::<EventDownloadProgress>()
        .await
        .context("cannot watch downloads")?;
    let behaviour = SetDownloadBehaviorParams::builder()
        .behavior(SetDownloadBehaviorBehavior::Allow)
        .download_path(dir.to_string_lossy().to_string())
        .events_enabled(true)
        .build()
        .map_err(|e| anyhow!(e))?;
    timeout(HOUSEKEEPING, browser.execute(behaviour))
        .await
        .map_err(|_| anyhow!("Browser.setDownloadBehavior got no answer"))?
        .context("Browser.setDownloadBehavior failed")?;
    let dir = dir.to_path_buf();
    Ok(tokio::spawn(async move {
        loop {
            tokio::select! {
                Some(ev) = begin.next() => {
                    let mut list = downloads.list.lock().unwrap();
                    // Chromium may announce one download on more than one session.
                    if list.iter().any(|d| d.guid == ev.guid) {
                        continue;
                    }
                    if list.len() >= DOWNLOADS_CAP {
                        // The oldest finished one goes (else the oldest).
                        let at = list.iter().position(|d| d.state != "inProgress").unwrap_or(0);
                        list.remove(at);
                    }
                    list.push(Download {
                        guid: ev.guid.clone(),
                        url: ev.url.clone(),
                        suggested_filename: ev.suggested_filename.clone(),
                        state: "inProgress".into(),
                        received_bytes: 0.0,
                        total_bytes: 0.0,
                        path: Some(dir.join(&ev.suggested_filename).to_string_lossy().to_string()),
                        awaited: false,
                        began: std::time::Instant::now(),
                    });
                }
                Some(ev) = progress.next() => {
                    let mut list = downloads.list.lock().unwrap();
                    if let Some(d) = list.iter_mut().find(|d| d.guid == ev.guid) {
                        d.state = serde_json::to_value(&ev.state)
                            .ok()
                            .and_then(|v| v.as_str().map(String::from))
                            .unwrap_or_else(|| format!("{:?}", ev.state));
                        d.received_bytes = ev.received_bytes;
                        d.total_bytes = ev.total_bytes;
                        if let Some(path) = &ev.file_path {
                            d.path = Some(path.clone());
                        }
                    }
                }
                else => break,
            }
            downloads.changed.send_modify(|n| *n += 1);
        }
    }))
}

/// Whether a page that may be stuck (in a script that never ends, or mid-navigation, where
/// Chromium holds its script calls until it commits) answers; if not, stops its script and its
/// loading and asks again.
async fn unstick(instance: &str, page: &Page) -> bool {
    let probe = || async {
        matches!(
            timeout(
                Duration::from_secs(1),
                page.execute(EvaluateParams::new("1"))
            )
            .await,
            Ok(Ok(_))
        )
    };
    if probe().await {
        return true;
    }
    tracing::info!(instance = %instance, "page unresponsive after a command: stopping its loading and script");
    let _ = timeout(
        Duration::from_secs(1),
        page.execute(StopLoadingParams::default()),
    )
    .await;
    let _ = timeout(
        Duration::from_secs(1),
        page.execute(TerminateExecutionParams::default()),
    )
    .await;
    probe().await
}

/// Enforces the URL policy's origin lists on every request of the browser, from any tab,
/// popup, frame or worker: Fetch.enable on the browser's own session pauses each request
/// before it is sent, and this continues it or fails it with `BlockedByClient`. Blocked ones
/// are remembered in `blocked` for the commands' results.
async fn watch_requests(
    browser: Arc<Browser>,
    policy: Arc<Policy>,
    blocked: Arc<Mutex<BlockedLog>>,
) -> anyhow::Result<JoinHandle<()>> {
    let mut paused = browser
        .event_listener::<EventRequestPaused>()
        .await
        .context("cannot watch requests")?;
    let enable = RawCommand {
        method: "Fetch.enable",
        params: serde_json::json!({
            "patterns": [{ "urlPattern": "*", "requestStage": "Request" }],
        }),
    };
    timeout(HOUSEKEEPING, browser.execute(enable))
        .await
        .map_err(|_| anyhow!("Fetch.enable got no answer"))?
        .context("Fetch.enable failed")?;
    Ok(tokio::spawn(async move {
        while let Some(ev) = paused.next().await {
            let url = ev.request.url.clone();
            let id = ev.request_id.inner().clone();
            let answer = match policy.check_request(&url) {
                Ok(()) => RawCommand {
                    method: "Fetch.continueRequest",
                    params: serde_json::json!({ "requestId": id }),
                },
                Err(reason) => {
                    tracing::info!("blocked {url}: {reason}");
                    let mut log = blocked.lock().unwrap();
                    let seq = log.next;
                    log.next += 1;
                    if log.recent.len() >= BLOCKED_CAP {
                        log.recent.pop_front();
                    }
                    log.recent.push_back(BlockedRequest {
                        seq,
                        url,
                        reason,
                        document: ev.resource_type == ResourceType::Document,
                    });
                    RawCommand {
                        method: "Fetch.failRequest",
                        params: serde_json::json!({ "requestId": id, "errorReason": "BlockedByClient" }),
                    }
                }
            };
            // Answered without waiting, so one slow answer does not hold up the next request.
            let browser = browser.clone();
            tokio::spawn(async move {
                let _ = timeout(HOUSEKEEPING, browser.execute(answer)).await;
            });
        }
    }))
}

async fn watch_crash(
    page: &Page,
    health: watch::Sender<Health>,
    crashed_flag: Arc<std::sync::atomic::AtomicBool>,
) -> anyhow::Result<JoinHandle<()>> {
    let mut crashed = page
        .event_listener::<EventTargetCrashed>()
        .await
        .context("cannot watch for renderer crashes")?;
    Ok(tokio::spawn(async move {
        if crashed.next().await.is_some() {
            tracing::warn!("renderer crashed");
            crashed_flag.store(true, std::sync::atomic::Ordering::Relaxed);
            health.send_if_modified(|h| {
                if *h == Health::Alive {
                    *h = Health::PageCrashed;
                    true
                } else {
                    false
                }
            });
        }
    }))
}

/// Removes an instance's download folder and, once nothing uses it, its profile folder (see
/// [`super::leftovers::remove_profile`]). Waiting for Chromium's helpers polls /proc for up to
/// 2 s and removing folders is file I/O: both run on the blocking pool, off the runtime.
async fn remove_folders(profile: Option<tempfile::TempDir>, downloads: Option<tempfile::TempDir>) {
    let profile = profile.map(tempfile::TempDir::keep);
    let downloads = downloads.map(tempfile::TempDir::keep);
    let removed = tokio::task::spawn_blocking(move || {
        if let Some(dir) = downloads {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some(profile) = profile {
            super::leftovers::remove_profile(&profile);
        }
    })
    .await;
    if let Err(e) = removed {
        tracing::warn!("could not remove an instance's folders: {e}");
    }
}

/// Whether any live process still uses `profile` (its path is on Chromium's command line).
pub fn processes_using(profile: &Path) -> Vec<u32> {
    let needle = profile.to_string_lossy().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            // A zombie has an empty cmdline and is already dead.
            !status.contains("State:\tZ") && String::from_utf8_lossy(&cmdline).contains(&needle)
        })
        .collect()
}
