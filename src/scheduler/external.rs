//! External steps (external-task.md): a command done by a web app we did not write. The
//! worker opens the app's window with an unguessable token and waits; the app talks back over
//! the token's channel (`ready`, `log`, `progress`, `complete`, `command_ack`) and the task's
//! owner controls it (`restart`, `close`, `pause`, `resume`, `custom`). Everything a channel
//! hears is an [`EventKind::External`] on the one event stream, which every door renders; a
//! timeout that asks a person is an approval request with choices, answered like any other.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::approvals;
use super::Scheduler;
use crate::browser::BrowserInstance;
use crate::events::{EventKind, ExternalUpdate};
use crate::task::{
    now_ms, CommandError, CompletionMode, ErrorCode, ExternalConfig, ExternalTask, Placeholder,
    ReverseCommand, TimeoutAction, ToolResult,
};

/// Logs a channel keeps for a controller joining late.
const LOGS_KEPT: usize = 200;
/// Messages waiting for a slow app connection before it is dropped.
const APP_QUEUE: usize = 256;
/// How long a command waits for the app's `command_ack`.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the `close` sent on completion may take before the window is closed anyway.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// How long a standalone channel (no browser step) lives without completing.
const STANDALONE_TTL: Duration = Duration::from_secs(24 * 3600);

/// The live channels, by token.
#[derive(Default)]
pub struct ExternalTasks {
    channels: Mutex<HashMap<String, Arc<Channel>>>,
    /// Where apps reach the server (`ws://HOST:PORT`), set by the door that serves the
    /// channels once it listens.
    base: Mutex<Option<String>>,
    /// `--public NAME=VALUE`: what `${PUBLIC.NAME}` stands for.
    public: BTreeMap<String, String>,
}

/// How a step's wait ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    /// The app sent `complete`.
    Completed(Value),
    /// A person marked it done (`manual`), or went on without it (`optional`).
    MarkedDone { by: String, completed: bool },
}

/// The app's answer to a command.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Ack {
    pub command: String,
    pub success: bool,
}

/// Why a command was not sent to the app, or went unanswered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandRefused {
    #[error("reverse control is not enabled for this step")]
    NotEnabled,
    #[error("'{0}' is not one of this step's reverse_commands ({1})")]
    NotAllowed(String, String),
    #[error("unknown command '{0}': expected restart, close, pause, resume or custom")]
    Unknown(String),
    #[error("a custom command needs an action")]
    NoAction,
    #[error("the external app is not connected")]
    NotConnected,
    #[error("the external app did not acknowledge {0} within {1} s")]
    Timeout(String, u64),
    #[error("the external task has ended")]
    Ended,
}

/// Why a person's "mark as done" was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DoneRefused {
    #[error("this step's completion_mode is required: the app must complete it")]
    Required,
    #[error("the external task has ended")]
    Ended,
}

/// A message the app sent, parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum AppMessage {
    Ready,
    Log { event_type: String, data: Value },
    Progress { progress: f64, step: Option<String> },
    Complete { data: Value },
    CommandAck { command: String, success: bool },
}

/// One token's channel: a step's attempt, or a standalone external task.
pub struct Channel {
    pub token: String,
    pub owner: String,
    pub task_id: Option<String>,
    pub index: Option<usize>,
    pub instance_id: String,
    pub session_id: String,
    pub stage_id: String,
    pub attempt: u32,
    pub config: ExternalConfig,
    pub ws_url: String,
    pub created_at: u64,
    participant_number: Value,
    state: Mutex<State>,
    /// Bumped on every change of [`State`]: the waiting step looks again.
    changed: watch::Sender<u64>,
    /// Cancelled when the token dies.
    pub ended: CancellationToken,
    events: crate::events::EventBus,
    /// A step's channel notes the app's progress and logs in its task's journal.
    journal: Option<Journal>,
}

/// Where a step's channel notes what the app reports, at a bounded rate.
struct Journal {
    scheduler: Scheduler,
    task_id: String,
    index: usize,
    /// (when the last progress was noted, log entries noted).
    noted: Mutex<(u64, usize)>,
}

/// A progress report is noted at most this often (the last one, 100 %, always).
const PROGRESS_EVERY_MS: u64 = 200;
/// Log events noted per attempt; past it they are still heard live, not kept.
const LOGS_NOTED: usize = 1000;
/// A log event's data kept in the journal, serialized.
const LOG_DATA_BYTES: usize = 4096;

impl Journal {
    fn note(&self, progress: Option<f64>, step: Option<String>, log: Option<(String, Value)>) {
        let now = now_ms();
        {
            let mut noted = self.noted.lock().unwrap();
            match (&log, progress) {
                (Some(_), _) if noted.1 >= LOGS_NOTED => return,
                (Some(_), _) => noted.1 += 1,
                (None, Some(p)) if p < 100.0 && now < noted.0 + PROGRESS_EVERY_MS => return,
                (None, _) => noted.0 = now,
            }
        }
        let (event_type, data) = match log {
            Some((kind, data)) => {
                let data = match data.to_string().len() > LOG_DATA_BYTES {
                    true => Value::from(crate::task::clip(&data.to_string(), LOG_DATA_BYTES)),
                    false => data,
                };
                (Some(kind), Some(data))
            }
            None => (None, None),
        };
        super::worker::record(
            &self.scheduler,
            &self.task_id,
            crate::store::Change::ExternalProgress {
                index: self.index,
                progress,
                step,
                event_type,
                data,
                at: now,
            },
        );
    }
}

#[derive(Default)]
struct State {
    app: Option<(u64, mpsc::Sender<Value>)>,
    connections: u64,
    ready: bool,
    progress: Option<f64>,
    step: Option<String>,
    logs: VecDeque<Value>,
    ending: Option<Ending>,
    waiting_acks: HashMap<String, Vec<oneshot::Sender<Ack>>>,
    commands_sent: u64,
}

/// A connection of the app, as the door holds it.
pub struct AppLink {
    pub id: u64,
    /// What to send the app; ends when a newer connection replaces this one or the token dies.
    pub outgoing: mpsc::Receiver<Value>,
}

impl ExternalTasks {
    pub fn new(public: BTreeMap<String, String>) -> Self {
        ExternalTasks {
            public,
            ..Default::default()
        }
    }

    /// Where apps reach the server, once a door serves the channels.
    pub fn set_base(&self, base: String) {
        *self.base.lock().unwrap() = Some(base.trim_end_matches('/').to_string());
    }

    pub fn base(&self) -> Option<String> {
        self.base.lock().unwrap().clone()
    }

    pub fn public(&self, name: &str) -> Option<String> {
        self.public.get(name).cloned()
    }

    /// The channel of a live token.
    pub fn get(&self, token: &str) -> Option<Arc<Channel>> {
        self.channels.lock().unwrap().get(token).cloned()
    }

    fn forget(&self, token: &str) {
        if let Some(channel) = self.channels.lock().unwrap().remove(token) {
            channel.end();
        }
    }

    /// Channels that stay open (bounded by their tokens' lives).
    pub fn len(&self) -> usize {
        self.channels.lock().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// 128 bits from the OS's generator, as 32 hex digits.
fn mint_token() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS's random generator");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a new channel is for.
pub struct Opening {
    pub owner: String,
    pub task_id: Option<String>,
    pub index: Option<usize>,
    pub instance_id: String,
    pub session_id: String,
    pub stage_id: String,
    pub attempt: u32,
    pub config: ExternalConfig,
    pub participant_number: Value,
}

impl Scheduler {
    /// The external channels.
    pub fn external(&self) -> &ExternalTasks {
        &self.inner.external
    }

    /// Opens a channel with a fresh token; `None` while no door serves the channels.
    pub fn open_channel(&self, opening: Opening) -> Option<Arc<Channel>> {
        let base = self.external().base()?;
        let token = mint_token();
        let channel = Arc::new(Channel {
            ws_url: format!("{base}/api/ws/external-task/{token}"),
            token: token.clone(),
            owner: opening.owner,
            task_id: opening.task_id.clone(),
            index: opening.index,
            instance_id: opening.instance_id,
            session_id: opening.session_id,
            stage_id: opening.stage_id,
            attempt: opening.attempt,
            config: opening.config,
            created_at: now_ms(),
            participant_number: opening.participant_number,
            state: Mutex::default(),
            changed: watch::channel(0).0,
            ended: CancellationToken::new(),
            events: self.events().clone(),
            journal: match (&opening.task_id, opening.index) {
                (Some(task_id), Some(index)) => Some(Journal {
                    scheduler: self.clone(),
                    task_id: task_id.clone(),
                    index,
                    noted: Mutex::new((0, 0)),
                }),
                _ => None,
            },
        });
        self.external()
            .channels
            .lock()
            .unwrap()
            .insert(token, channel.clone());
        Some(channel)
    }

    /// A standalone external task (`POST /sessions/{id}/external-task/init`): a channel with no
    /// browser step, for an app a person opens in their own browser. It lives until the app
    /// completes or [`STANDALONE_TTL`] passes.
    pub fn open_standalone(
        &self,
        owner: &str,
        session_id: &str,
        stage_id: &str,
        config: ExternalConfig,
        participant_number: Value,
    ) -> Option<Arc<Channel>> {
        let channel = self.open_channel(Opening {
            owner: owner.to_string(),
            task_id: None,
            index: None,
            instance_id: String::new(),
            session_id: session_id.to_string(),
            stage_id: stage_id.to_string(),
            attempt: 1,
            config,
            participant_number,
        })?;
        let (scheduler, kept) = (self.clone(), channel.clone());
        tokio::spawn(async move {
            let ttl = match kept.config.timeout_ms {
                0 => STANDALONE_TTL,
                ms => Duration::from_millis(ms),
            };
            let mut changed = kept.changed.subscribe();
            let deadline = tokio::time::sleep(ttl);
            tokio::pin!(deadline);
            loop {
                if kept.ending().is_some() {
                    break;
                }
                tokio::select! {
                    _ = &mut deadline => break,
                    _ = kept.ended.cancelled() => break,
                    _ = changed.changed() => {}
                }
            }
            // Let the app hear the last acks before the token dies.
            tokio::time::sleep(Duration::from_millis(500)).await;
            scheduler.external().forget(&kept.token);
        });
        Some(channel)
    }
}

impl Channel {
    fn emit(&self, update: ExternalUpdate) {
        self.events.emit(
            &self.instance_id,
            EventKind::External {
                task_id: self.task_id.clone(),
                index: self.index,
                owner: self.owner.clone(),
                token: self.token.clone(),
                update,
            },
        );
    }

    fn touch(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn end(&self) {
        if self.ended.is_cancelled() {
            return;
        }
        let mut state = self.state.lock().unwrap();
        state.app = None;
        state.waiting_acks.clear();
        drop(state);
        self.ended.cancel();
        self.touch();
        self.emit(ExternalUpdate::Ended);
    }

    /// The `init` payload: the spec's four fields, and which attempt this is.
    pub fn init_payload(&self) -> Value {
        let mut config = serde_json::to_value(&self.config).unwrap_or(json!({}));
        if let Value::Object(map) = &mut config {
            // The app's custom parameters are already in its URL; the rest is the stage's.
            map.remove("custom_params");
        }
        json!({
            "session_id": self.session_id,
            "stage_id": self.stage_id,
            "config": config,
            "participant_number": self.participant_number,
            "attempt": self.attempt,
        })
    }

    /// The app connects (a second connection replaces the first: an app reconnecting after a
    /// drop must not be locked out by its own half-open socket).
    pub fn connect_app(&self) -> Option<AppLink> {
        if self.ended.is_cancelled() {
            return None;
        }
        let (tx, rx) = mpsc::channel(APP_QUEUE);
        let mut state = self.state.lock().unwrap();
        state.connections += 1;
        let id = state.connections;
        state.app = Some((id, tx));
        state.ready = false;
        Some(AppLink { id, outgoing: rx })
    }

    /// The app's connection `id` closed.
    pub fn app_gone(&self, id: u64) {
        let mut state = self.state.lock().unwrap();
        if state
            .app
            .as_ref()
            .is_some_and(|(current, _)| *current == id)
        {
            state.app = None;
            let was_ready = std::mem::take(&mut state.ready);
            drop(state);
            if was_ready {
                self.emit(ExternalUpdate::Disconnected);
            }
            self.touch();
        }
    }

    /// What the app's connection `id` said. `Err` is the error to send back (the connection
    /// stays open).
    pub fn from_app(&self, id: u64, message: AppMessage) -> Result<(), String> {
        if self.ended.is_cancelled() {
            return Err("the external task has ended".into());
        }
        let current = self
            .state
            .lock()
            .unwrap()
            .app
            .as_ref()
            .is_some_and(|(c, _)| *c == id);
        if !current {
            return Err("this connection was replaced by a newer one".into());
        }
        match message {
            AppMessage::Ready => {
                let init =
                    json!({"type": "init", "payload": self.init_payload(), "timestamp": iso_now()});
                let first = {
                    let mut state = self.state.lock().unwrap();
                    if let Some((_, tx)) = &state.app {
                        let _ = tx.try_send(init);
                    }
                    !std::mem::replace(&mut state.ready, true)
                };
                if first {
                    self.emit(ExternalUpdate::Connected);
                }
            }
            AppMessage::Log { event_type, data } => {
                let entry = json!({"event_type": event_type, "data": data, "at": now_ms()});
                {
                    let mut state = self.state.lock().unwrap();
                    if state.logs.len() == LOGS_KEPT {
                        state.logs.pop_front();
                    }
                    state.logs.push_back(entry);
                }
                if let Some(journal) = &self.journal {
                    journal.note(None, None, Some((event_type.clone(), data.clone())));
                }
                self.emit(ExternalUpdate::Log { event_type, data });
            }
            AppMessage::Progress { progress, step } => {
                {
                    let mut state = self.state.lock().unwrap();
                    state.progress = Some(progress);
                    state.step = step.clone();
                }
                if let Some(journal) = &self.journal {
                    journal.note(Some(progress), step.clone(), None);
                }
                self.emit(ExternalUpdate::Progress { progress, step });
            }
            AppMessage::Complete { data } => {
                {
                    let mut state = self.state.lock().unwrap();
                    if state.ending.is_some() {
                        return Err("the task is already complete".into());
                    }
                    state.ending = Some(Ending::Completed(data.clone()));
                    state.progress = Some(100.0);
                }
                self.emit(ExternalUpdate::Completed { data });
                self.touch();
            }
            AppMessage::CommandAck { command, success } => {
                let waiting = self
                    .state
                    .lock()
                    .unwrap()
                    .waiting_acks
                    .get_mut(&command)
                    .and_then(|w| (!w.is_empty()).then(|| w.remove(0)));
                if let Some(tx) = waiting {
                    let _ = tx.send(Ack {
                        command: command.clone(),
                        success,
                    });
                }
                self.emit(ExternalUpdate::Ack { command, success });
            }
        }
        Ok(())
    }

    /// Sends a command from the controller and waits for the app's ack.
    pub async fn send_command(
        &self,
        command: &str,
        action: Option<String>,
        data: Option<Value>,
    ) -> Result<Ack, CommandRefused> {
        let parsed = ReverseCommand::parse(command)
            .ok_or_else(|| CommandRefused::Unknown(command.into()))?;
        if !self.config.enable_reverse_control {
            return Err(CommandRefused::NotEnabled);
        }
        if !self.config.reverse_commands.contains(&parsed) {
            let listed: Vec<&str> = self
                .config
                .reverse_commands
                .iter()
                .map(|c| c.as_str())
                .collect();
            return Err(CommandRefused::NotAllowed(
                command.into(),
                listed.join(", "),
            ));
        }
        if parsed == ReverseCommand::Custom && action.as_deref().is_none_or(str::is_empty) {
            return Err(CommandRefused::NoAction);
        }
        self.command(parsed, action, data, ACK_TIMEOUT).await
    }

    /// Sends a command (checked or the engine's own) and waits up to `wait` for its ack.
    async fn command(
        &self,
        command: ReverseCommand,
        action: Option<String>,
        data: Option<Value>,
        wait: Duration,
    ) -> Result<Ack, CommandRefused> {
        if self.ended.is_cancelled() {
            return Err(CommandRefused::Ended);
        }
        let name = command.as_str().to_string();
        let mut payload = Map::new();
        payload.insert("command".into(), Value::from(name.clone()));
        if let Some(action) = &action {
            payload.insert("action".into(), Value::from(action.clone()));
        }
        if let Some(data) = &data {
            payload.insert("data".into(), data.clone());
        }
        let message = json!({"type": "command", "payload": payload, "timestamp": iso_now()});
        let (tx, rx) = oneshot::channel();
        {
            let mut state = self.state.lock().unwrap();
            let Some((_, app)) = state.app.as_ref().filter(|_| state.ready) else {
                return Err(CommandRefused::NotConnected);
            };
            if app.try_send(message).is_err() {
                return Err(CommandRefused::NotConnected);
            }
            state.commands_sent += 1;
            state.waiting_acks.entry(name.clone()).or_default().push(tx);
        }
        self.emit(ExternalUpdate::Command {
            command: name.clone(),
            action,
            data,
        });
        tokio::select! {
            ack = rx => ack.map_err(|_| CommandRefused::Ended),
            _ = tokio::time::sleep(wait) => Err(CommandRefused::Timeout(name, wait.as_secs())),
            _ = self.ended.cancelled() => Err(CommandRefused::Ended),
        }
    }

    /// A person's "mark as done" (`manual`), or "continue without it" (`optional`).
    pub fn mark_done(&self, by: &str) -> Result<Ending, DoneRefused> {
        if self.ended.is_cancelled() {
            return Err(DoneRefused::Ended);
        }
        let completed = match self.config.completion_mode {
            CompletionMode::Required => return Err(DoneRefused::Required),
            CompletionMode::Manual => true,
            CompletionMode::Optional => false,
        };
        let ending = Ending::MarkedDone {
            by: by.to_string(),
            completed,
        };
        {
            let mut state = self.state.lock().unwrap();
            if let Some(done) = &state.ending {
                return Ok(done.clone());
            }
            state.ending = Some(ending.clone());
        }
        self.emit(ExternalUpdate::MarkedDone {
            by: by.to_string(),
            completed,
        });
        self.touch();
        Ok(ending)
    }

    pub fn ending(&self) -> Option<Ending> {
        self.state.lock().unwrap().ending.clone()
    }

    /// The channel as `GET /api/external-tasks/{token}` shows it.
    pub fn describe(&self) -> Value {
        let state = self.state.lock().unwrap();
        let (status, data) = match &state.ending {
            Some(Ending::Completed(data)) => ("completed", Some(data.clone())),
            Some(Ending::MarkedDone {
                completed: true, ..
            }) => ("marked_done", None),
            Some(Ending::MarkedDone { .. }) => ("continued", None),
            None if self.ended.is_cancelled() => ("ended", None),
            None if state.ready => ("connected", None),
            None => ("waiting", None),
        };
        json!({
            "task_token": self.token,
            "ws_url": self.ws_url,
            "status": status,
            "connected": state.ready,
            "session_id": self.session_id,
            "stage_id": self.stage_id,
            "task_id": self.task_id,
            "command_index": self.index,
            "attempt": self.attempt,
            "progress": state.progress,
            "step": state.step,
            "data": data,
            "logs": state.logs.iter().cloned().collect::<Vec<_>>(),
            "config": self.init_payload()["config"],
            "created_at": self.created_at,
        })
    }

    /// What a controller joining now is told first: the app's connection, its progress and
    /// its result so far.
    pub fn catch_up(&self) -> Vec<ExternalUpdate> {
        let state = self.state.lock().unwrap();
        let mut updates = Vec::new();
        if state.ready {
            updates.push(ExternalUpdate::Connected);
        }
        if let Some(progress) = state.progress {
            updates.push(ExternalUpdate::Progress {
                progress,
                step: state.step.clone(),
            });
        }
        match &state.ending {
            Some(Ending::Completed(data)) => {
                updates.push(ExternalUpdate::Completed { data: data.clone() })
            }
            Some(Ending::MarkedDone { by, completed }) => {
                updates.push(ExternalUpdate::MarkedDone {
                    by: by.clone(),
                    completed: *completed,
                })
            }
            None => {}
        }
        updates
    }

    /// Waits until the step's wait is over: completion, a person's mark, or the token's end.
    async fn ended_wait(&self) -> Option<Ending> {
        let mut changed = self.changed.subscribe();
        loop {
            if let Some(ending) = self.ending() {
                return Some(ending);
            }
            if self.ended.is_cancelled() {
                return None;
            }
            if changed.changed().await.is_err() {
                return None;
            }
        }
    }
}

/// Now as the spec's messages write time (ISO 8601, UTC, milliseconds).
pub fn iso_now() -> String {
    crate::wire::iso(now_ms())
}

/// How one attempt ended, for the record.
fn attempt_record(channel: &Channel, outcome: &str, now: u64) -> Value {
    json!({
        "attempt": channel.attempt,
        "startedAt": channel.created_at,
        "endedAt": now,
        "outcome": outcome,
    })
}

/// Runs an external step on `instance`: `None` when the task was cancelled meanwhile.
pub(super) async fn run_step(
    scheduler: &Scheduler,
    instance: &BrowserInstance,
    task_id: &str,
    index: usize,
    step: &ExternalTask,
    cancel: &CancellationToken,
) -> Option<Result<ToolResult, CommandError>> {
    let (owner, metadata, instance_id) = {
        let live = scheduler.inner.live.lock().unwrap();
        let task = live.get(task_id)?;
        (
            task.owner.clone(),
            task.metadata.clone(),
            task.instance_id.clone(),
        )
    };
    let stage_id = step.stage_id(index);
    let participant = metadata
        .as_ref()
        .and_then(|m| m.get("participant_number"))
        .cloned()
        .unwrap_or(Value::Null);
    let fill = |p: &Placeholder| match p {
        Placeholder::Public(name) => scheduler.external().public(name),
        Placeholder::Session(key) => crate::task::action::metadata_value(metadata.as_ref(), key),
    };
    let config = &step.config;
    let mut attempts: Vec<Value> = Vec::new();
    let mut attempt = 1u32;
    loop {
        let Some(channel) = scheduler.open_channel(Opening {
            owner: owner.clone(),
            task_id: Some(task_id.to_string()),
            index: Some(index),
            instance_id: instance_id.clone(),
            session_id: task_id.to_string(),
            stage_id: stage_id.clone(),
            attempt,
            config: config.clone(),
            participant_number: participant.clone(),
        }) else {
            return Some(Err(CommandError::execution(
                "no server serves the external-task channel (run it under `serve`, `mcp` or `run`)",
            )));
        };
        let url = match step.opened_url(&channel.token, &channel.ws_url, task_id, &stage_id, &fill)
        {
            Ok(url) => url,
            Err(why) => {
                scheduler.external().forget(&channel.token);
                return Some(Err(CommandError::new(ErrorCode::InvalidArguments, why)));
            }
        };
        note_running(scheduler, task_id, index, &channel, &attempts);
        channel.emit(ExternalUpdate::Opened {
            ws_url: channel.ws_url.clone(),
            attempt,
        });
        let executor = &scheduler.inner.executor;
        let size = (config.window_width, config.window_height);
        let tab = match executor
            .open_app_window(instance, &url, config.window_mode, size, cancel)
            .await
        {
            Ok(tab) => tab,
            Err(e) => {
                scheduler.external().forget(&channel.token);
                return Some(Err(e));
            }
        };
        let limit = match config.timeout_ms {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        };
        let waited = tokio::select! {
            biased;
            _ = cancel.cancelled() => Waited::Cancelled,
            error = instance.broken() => Waited::Broken(error),
            ending = channel.ended_wait() => match ending {
                Some(ending) => Waited::Ended(ending),
                None => Waited::Cancelled,
            },
            _ = sleep_or_never(limit) => Waited::TimedOut,
        };
        let now = now_ms();
        let ending = match waited {
            Waited::Cancelled => {
                finish_attempt(scheduler, instance, &channel, &tab, false).await;
                return None;
            }
            Waited::Broken(error) => {
                scheduler.external().forget(&channel.token);
                return Some(Err(error));
            }
            Waited::Ended(ending) => ending,
            Waited::TimedOut => {
                attempts.push(attempt_record(&channel, "timeout", now));
                channel.emit(ExternalUpdate::TimedOut { attempt });
                let may_retry = config.max_retries == 0 || attempt <= config.max_retries;
                let choice = match config.timeout_action {
                    TimeoutAction::Retry => Choice::Retry,
                    TimeoutAction::Skip => Choice::Skip,
                    TimeoutAction::Fail => Choice::Fail,
                    TimeoutAction::Prompt => {
                        let mut choices = Vec::new();
                        if config.allow_retry_on_timeout && may_retry {
                            choices.push("retry");
                        }
                        if !step.mandatory {
                            choices.push("skip");
                        }
                        choices.push("fail");
                        let message = config
                            .timeout_message
                            .clone()
                            .unwrap_or_else(|| "The external task timed out. Try again?".into());
                        // The app may still finish while the person decides.
                        let asked = tokio::select! {
                            choice = approvals::prompt(scheduler, &instance_id, task_id, index, attempt, &choices, &message, cancel) => Asked::Chose(choice),
                            ending = channel.ended_wait() => Asked::Ended(ending),
                        };
                        match asked {
                            Asked::Ended(Some(ending)) => {
                                attempts.pop();
                                return Some(
                                    complete(
                                        scheduler, instance, &channel, &tab, ending, attempts, now,
                                    )
                                    .await,
                                );
                            }
                            Asked::Ended(None) | Asked::Chose(None) => {
                                finish_attempt(scheduler, instance, &channel, &tab, false).await;
                                return None;
                            }
                            Asked::Chose(Some(choice)) => choice,
                        }
                    }
                };
                match choice {
                    Choice::Retry if may_retry => {
                        finish_attempt(scheduler, instance, &channel, &tab, false).await;
                        attempt += 1;
                        continue;
                    }
                    Choice::Retry => {
                        finish_attempt(scheduler, instance, &channel, &tab, false).await;
                        return Some(Err(timeout_error(
                            config,
                            attempt,
                            &attempts,
                            "no retries are left",
                        )));
                    }
                    Choice::Skip if !step.mandatory => {
                        finish_attempt(scheduler, instance, &channel, &tab, true).await;
                        let record =
                            json!({"completed": false, "skipped": true, "attempts": attempts});
                        return Some(Ok(result_of(&record)));
                    }
                    Choice::Skip => {
                        finish_attempt(scheduler, instance, &channel, &tab, false).await;
                        return Some(Err(timeout_error(
                            config,
                            attempt,
                            &attempts,
                            "the step is mandatory, so it cannot be skipped",
                        )));
                    }
                    Choice::Fail => {
                        finish_attempt(scheduler, instance, &channel, &tab, false).await;
                        return Some(Err(timeout_error(
                            config,
                            attempt,
                            &attempts,
                            "failed as timeout_action says",
                        )));
                    }
                }
            }
        };
        return Some(complete(scheduler, instance, &channel, &tab, ending, attempts, now).await);
    }
}

enum Waited {
    Cancelled,
    Broken(CommandError),
    Ended(Ending),
    TimedOut,
}

enum Asked {
    Chose(Option<Choice>),
    Ended(Option<Ending>),
}

/// What a person (or the config) decided on a timeout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Choice {
    Retry,
    Skip,
    Fail,
}

impl Choice {
    pub(super) fn parse(name: &str) -> Option<Choice> {
        match name {
            "retry" => Some(Choice::Retry),
            "skip" => Some(Choice::Skip),
            "fail" => Some(Choice::Fail),
            _ => None,
        }
    }
}

async fn sleep_or_never(limit: Option<Duration>) {
    match limit {
        Some(limit) => tokio::time::sleep(limit).await,
        None => std::future::pending().await,
    }
}

fn timeout_error(
    config: &ExternalConfig,
    attempt: u32,
    attempts: &[Value],
    why: &str,
) -> CommandError {
    CommandError::new(
        ErrorCode::CommandTimeout,
        format!(
            "the external task timed out after {} ms on attempt {attempt} ({why}); attempts: {}",
            config.timeout_ms,
            Value::from(attempts.to_vec())
        ),
    )
}

fn result_of(record: &Value) -> ToolResult {
    ToolResult::text(record.to_string())
}

/// The step's wait ended: the record, the `close` the config asks for, the window, the token.
async fn complete(
    scheduler: &Scheduler,
    instance: &BrowserInstance,
    channel: &Channel,
    tab: &str,
    ending: Ending,
    mut attempts: Vec<Value>,
    now: u64,
) -> Result<ToolResult, CommandError> {
    let record = match &ending {
        Ending::Completed(data) => {
            attempts.push(attempt_record(channel, "completed", now));
            json!({"completed": true, "data": data, "attempts": attempts})
        }
        Ending::MarkedDone { by, completed } => {
            attempts.push(attempt_record(
                channel,
                if *completed {
                    "marked_done"
                } else {
                    "continued"
                },
                now,
            ));
            json!({"completed": completed, "markedBy": by, "incomplete": !completed, "attempts": attempts})
        }
    };
    let close = channel.config.try_close_on_complete;
    finish_attempt(scheduler, instance, channel, tab, close).await;
    Ok(result_of(&record))
}

/// Ends an attempt: `close` sent to the app (when `polite`) and its window closed, then the
/// token dies.
async fn finish_attempt(
    scheduler: &Scheduler,
    instance: &BrowserInstance,
    channel: &Channel,
    tab: &str,
    polite: bool,
) {
    if polite {
        let _ = channel
            .command(ReverseCommand::Close, None, None, CLOSE_GRACE)
            .await;
    }
    let close_window = polite || !matches!(channel.ending(), Some(Ending::Completed(_)));
    scheduler.external().forget(&channel.token);
    if close_window {
        scheduler
            .inner
            .executor
            .close_app_window(instance, tab)
            .await;
    }
}

/// The running command carries its token and `ws_url` (its owner reads them in task_status).
fn note_running(
    scheduler: &Scheduler,
    task_id: &str,
    index: usize,
    channel: &Channel,
    attempts: &[Value],
) {
    if let Some(task) = scheduler.inner.live.lock().unwrap().get_mut(task_id) {
        if let Some(command) = task.commands.get_mut(index) {
            command.external = Some(json!({
                "task_token": channel.token,
                "ws_url": channel.ws_url,
                "attempt": channel.attempt,
                "attempts": attempts,
            }));
        }
    }
}

/// Placeholders of a task's external steps that have no value: `(field, why)`.
pub(super) fn unfilled(
    scheduler: &Scheduler,
    task: &crate::task::Task,
) -> Option<(String, String)> {
    for (i, command) in task.commands.iter().enumerate() {
        let crate::task::Action::External(step) = &command.parsed.action else {
            continue;
        };
        for (param, p) in step.placeholders() {
            let known = match &p {
                Placeholder::Public(name) => scheduler.external().public(name).is_some(),
                Placeholder::Session(key) => {
                    crate::task::action::metadata_value(task.metadata.as_ref(), key).is_some()
                }
            };
            if !known {
                return Some((
                    format!("commands[{i}].args.config.custom_params.{param}"),
                    crate::task::action::unknown_value(&p),
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_128_bits() {
        let a = mint_token();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, mint_token());
    }
}
