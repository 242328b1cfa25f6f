//! Tasks, commands, their statuses and errors, as task-format.md spells them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

use super::action::{Action, ParsedArgs};
use super::approval::Approval;
use super::journal::{Happened, JournalEntry, UndoRecord};
use super::user::Door;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 5] = [
        TaskStatus::Queued,
        TaskStatus::Running,
        TaskStatus::Completed,
        TaskStatus::Failed,
        TaskStatus::Cancelled,
    ];

    /// The transitions drawn in task-format.md, plus queued → cancelled (the protocol
    /// document cancels "a running or queued task", which the diagram does not draw) and
    /// queued → failed (a task queued on an instance whose runner was lost), and running →
    /// queued (a task that waited for a person when its runner stopped goes back to its
    /// queue, to go on at that step: see [`Task::resume_point`]).
    pub fn can_become(self, next: TaskStatus) -> bool {
        use TaskStatus::*;
        matches!(
            (self, next),
            (Queued, Running)
                | (Running, Queued)
                | (Queued, Cancelled)
                | (Queued, Failed)
                | (Running, Completed)
                | (Running, Failed)
                | (Running, Cancelled)
        )
    }

    pub fn is_finished(self) -> bool {
        matches!(
            self,
            TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Cancelled
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Queued => "queued",
            TaskStatus::Running => "running",
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CommandStatus {
    Pending,
    Running,
    Success,
    Error,
    Skipped,
}

impl CommandStatus {
    /// The command transitions drawn in task-format.md, and no others.
    pub fn can_become(self, next: CommandStatus) -> bool {
        use CommandStatus::*;
        matches!(
            (self, next),
            (Pending, Running)
                | (Pending, Skipped)
                | (Running, Success)
                | (Running, Error)
                | (Running, Skipped)
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CommandStatus::Pending => "pending",
            CommandStatus::Running => "running",
            CommandStatus::Success => "success",
            CommandStatus::Error => "error",
            CommandStatus::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    ExecutionError,
    CommandTimeout,
    Cancelled,
    InstanceDisconnected,
    InvalidArguments,
    /// A person said no to the command (approval gates).
    ApprovalRejected,
    /// Nobody answered its approval request in time.
    ApprovalTimeout,
    /// The approval policy denies the command.
    ApprovalDenied,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ExecutionError => "EXECUTION_ERROR",
            ErrorCode::CommandTimeout => "COMMAND_TIMEOUT",
            ErrorCode::Cancelled => "CANCELLED",
            ErrorCode::InstanceDisconnected => "INSTANCE_DISCONNECTED",
            ErrorCode::InvalidArguments => "INVALID_ARGUMENTS",
            ErrorCode::ApprovalRejected => "APPROVAL_REJECTED",
            ErrorCode::ApprovalTimeout => "APPROVAL_TIMEOUT",
            ErrorCode::ApprovalDenied => "APPROVAL_DENIED",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandError {
    pub code: ErrorCode,
    pub message: String,
}

impl CommandError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        CommandError {
            code,
            message: message.into(),
        }
    }
    pub fn execution(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ExecutionError, message)
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for CommandError {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskError {
    pub code: ErrorCode,
    pub message: String,
    #[serde(rename = "commandId", skip_serializing_if = "Option::is_none")]
    pub command_id: Option<String>,
}

/// One item of a tool result: text, or a base64 PNG.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Content {
    Text {
        text: String,
    },
    Image {
        data: String,
        #[serde(rename = "mimeType")]
        mime_type: String,
    },
    /// A file that is not an image (a PDF), as MCP embeds one: `{"type":"resource",
    /// "resource":{"uri","mimeType","blob"}}` with `blob` in base64.
    Resource {
        resource: EmbeddedResource,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddedResource {
    pub uri: String,
    #[serde(rename = "mimeType")]
    pub mime_type: String,
    pub blob: String,
}

/// A tool's result, shaped as MCP tool results are: `{"content":[...]}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ToolResult {
    pub content: Vec<Content>,
}

impl ToolResult {
    pub fn text(text: impl Into<String>) -> Self {
        ToolResult {
            content: vec![Content::Text { text: text.into() }],
        }
    }

    pub fn png(base64_data: String) -> Self {
        ToolResult {
            content: vec![Content::Image {
                data: base64_data,
                mime_type: "image/png".into(),
            }],
        }
    }

    pub fn image(base64_data: String, mime_type: &str) -> Self {
        ToolResult {
            content: vec![Content::Image {
                data: base64_data,
                mime_type: mime_type.into(),
            }],
        }
    }

    pub fn push_text(&mut self, text: impl Into<String>) {
        self.content.push(Content::Text { text: text.into() });
    }

    /// All text items joined by newlines: what a human or an expectation reads.
    pub fn joined_text(&self) -> String {
        let texts: Vec<&str> = self
            .content
            .iter()
            .filter_map(|c| match c {
                Content::Text { text } => Some(text.as_str()),
                Content::Image { .. } | Content::Resource { .. } => None,
            })
            .collect();
        texts.join("\n")
    }

    pub fn images(&self) -> impl Iterator<Item = &str> {
        self.content.iter().filter_map(|c| match c {
            Content::Image { data, .. } => Some(data.as_str()),
            Content::Text { .. } | Content::Resource { .. } => None,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskCommand {
    pub id: String,
    pub tool_name: String,
    pub intention: String,
    pub args: Value,
    #[serde(skip)]
    pub parsed: ParsedArgs,
    pub status: CommandStatus,
    #[serde(rename = "startedAt", skip_serializing_if = "Option::is_none")]
    pub started_at: Option<u64>,
    #[serde(rename = "completedAt", skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<ToolResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<CommandError>,
    /// Base64 PNG of the page when this command failed (with capture on failure).
    #[serde(skip)]
    pub failure_screenshot: Option<String>,
    /// An external step while it runs: its `task_token`, `ws_url` and attempt (live only: a
    /// token dies with its step, and only the task's owner reads the record).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<Value>,
}

impl TaskCommand {
    /// A short label for a command: tool, action and its main argument.
    pub fn describe(&self) -> String {
        let target = match &self.parsed.action {
            Action::Navigate(_)
            | Action::Interact(_)
            | Action::Content(_)
            | Action::Network(_)
            | Action::Emulate(_)
            | Action::Debug(_)
            | Action::Tab(_) => {
                let args = &self.args;
                if let Some(reference) = args.get("ref").and_then(Value::as_str) {
                    format!(" ref={}", clip(reference, 20))
                } else {
                    [
                        "url",
                        "selector",
                        "expression",
                        "key",
                        "text",
                        "direction",
                        "name",
                        "preset",
                        "level",
                        "policy",
                    ]
                    .iter()
                    .find_map(|k| args.get(*k).and_then(Value::as_str))
                    .map(|s| format!(" {}", clip(s, 60)))
                    .unwrap_or_default()
                }
            }
            Action::Execute(_) => self
                .args
                .get("script")
                .or_else(|| self.args.get("expression"))
                .and_then(Value::as_str)
                .map(|s| format!(" {}", clip(&s.replace('\n', " "), 60)))
                .unwrap_or_default(),
            Action::Instance(_) => String::new(),
            Action::External(step) => format!(" {}", clip(&step.target_url, 60)),
        };
        format!("{} {}{target}", self.tool_name, self.parsed.action.name())
    }
}

/// `text` cut to `n` characters, with `…` when it was longer.
pub fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n).collect::<String>() + "…"
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub id: String,
    pub instance_id: String,
    pub name: String,
    pub intention: String,
    pub commands: Vec<TaskCommand>,
    pub status: TaskStatus,
    pub current_command_index: usize,
    pub created_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    /// The instance the submission named, if any: a task that named none may move to another
    /// instance when its own is lost.
    #[serde(skip)]
    pub requested_instance: Option<String>,
    /// The user it belongs to: only they (and admins) see and control it.
    pub owner: String,
    /// The door it was submitted through.
    pub door: Door,
    /// Higher runs first; first in, first out within a priority.
    pub priority: i32,
    /// The agent API's conversation the task belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// The agent API's `context`: kept with the task, given back as it came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Map<String, Value>>,
    /// The task's own approval rules (stricter than the server's), as submitted and checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<Value>,
    /// Requests for a person's yes, and their answers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<Approval>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub undos: Vec<UndoRecord>,
    /// What happened so far, numbered (complete in a live record and the memory store; the
    /// other stores read it apart: see `TaskReader::journal`).
    #[serde(skip)]
    pub journal: Vec<JournalEntry>,
}

/// What a listing shows of a task: no commands, no results.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSummary {
    pub id: String,
    pub name: String,
    pub status: TaskStatus,
    pub instance_id: String,
    pub current_command_index: usize,
    pub total_commands: usize,
    pub created_at: u64,
    pub started_at: Option<u64>,
    pub completed_at: Option<u64>,
    pub owner: String,
    pub priority: i32,
    pub conversation_id: Option<String>,
    /// Approval requests not answered yet.
    pub pending_approvals: usize,
}

/// A transition the spec does not draw: a bug in the caller, reported rather than applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("illegal transition of {what} from {from} to {to}")]
pub struct IllegalTransition {
    pub what: String,
    pub from: &'static str,
    pub to: &'static str,
}

impl Task {
    pub fn summary(&self) -> TaskSummary {
        TaskSummary {
            id: self.id.clone(),
            name: self.name.clone(),
            status: self.status,
            instance_id: self.instance_id.clone(),
            current_command_index: self.current_command_index,
            total_commands: self.commands.len(),
            created_at: self.created_at,
            started_at: self.started_at,
            completed_at: self.completed_at,
            owner: self.owner.clone(),
            priority: self.priority,
            conversation_id: self.conversation_id.clone(),
            pending_approvals: self
                .approvals
                .iter()
                .filter(|a| a.decision.is_none())
                .count(),
        }
    }

    /// Adds an entry to the journal, numbered after the last.
    pub fn note(&mut self, what: Happened, at: u64) {
        let seq = self.journal.last().map_or(1, |e| e.seq + 1);
        self.journal.push(JournalEntry { seq, at, what });
    }

    /// The approval with this id.
    pub fn approval_mut(&mut self, id: &str) -> Option<&mut Approval> {
        self.approvals.iter_mut().find(|a| a.id == id)
    }

    /// The approval asked for command `index`, if any.
    /// The request gating command `index` (not a prompt the command itself asked while it ran).
    pub fn approval_for(&self, index: usize) -> Option<&Approval> {
        self.approvals
            .iter()
            .find(|a| a.index == index && a.choices.is_none())
    }

    /// Ends the task with a status decided elsewhere (see [`Task::finish`]).
    pub fn end(
        &mut self,
        status: TaskStatus,
        error: Option<TaskError>,
        now: u64,
    ) -> Result<(), IllegalTransition> {
        self.set_status(status)?;
        self.error = error;
        self.completed_at = Some(now);
        Ok(())
    }

    fn set_status(&mut self, next: TaskStatus) -> Result<(), IllegalTransition> {
        if !self.status.can_become(next) {
            return Err(IllegalTransition {
                what: format!("task {}", self.id),
                from: self.status.as_str(),
                to: next.as_str(),
            });
        }
        self.status = next;
        Ok(())
    }

    fn set_command_status(
        &mut self,
        index: usize,
        next: CommandStatus,
    ) -> Result<(), IllegalTransition> {
        let command = &mut self.commands[index];
        if !command.status.can_become(next) {
            return Err(IllegalTransition {
                what: format!("command {}", command.id),
                from: command.status.as_str(),
                to: next.as_str(),
            });
        }
        command.status = next;
        Ok(())
    }

    pub fn start(&mut self, now: u64) -> Result<(), IllegalTransition> {
        self.set_status(TaskStatus::Running)?;
        // A resumed task started when it first did.
        self.started_at.get_or_insert(now);
        Ok(())
    }

    /// Back to the queue, keeping what it did (see [`Task::resume_point`]).
    pub fn requeue(&mut self) -> Result<(), IllegalTransition> {
        self.set_status(TaskStatus::Queued)
    }

    /// Where a running task can go on after its runner stopped: the step it was waiting
    /// before for a person's answer (nothing in flight, everything before it done). A task
    /// stopped anywhere else cannot go on without running a command twice or guessing.
    pub fn resume_point(&self) -> Option<usize> {
        if self.status != TaskStatus::Running {
            return None;
        }
        let next = self
            .commands
            .iter()
            .position(|c| c.status != CommandStatus::Success)?;
        (self.commands[next].status == CommandStatus::Pending && self.approval_for(next).is_some())
            .then_some(next)
    }

    pub fn start_command(&mut self, index: usize, now: u64) -> Result<(), IllegalTransition> {
        self.set_command_status(index, CommandStatus::Running)?;
        self.current_command_index = index;
        self.commands[index].started_at = Some(now);
        Ok(())
    }

    pub fn succeed_command(
        &mut self,
        index: usize,
        result: ToolResult,
        now: u64,
    ) -> Result<(), IllegalTransition> {
        self.set_command_status(index, CommandStatus::Success)?;
        let command = &mut self.commands[index];
        command.completed_at = Some(now);
        command.result = Some(result);
        command.external = None;
        Ok(())
    }

    pub fn fail_command(
        &mut self,
        index: usize,
        error: CommandError,
        now: u64,
    ) -> Result<(), IllegalTransition> {
        self.set_command_status(index, CommandStatus::Error)?;
        let command = &mut self.commands[index];
        command.completed_at = Some(now);
        command.error = Some(error);
        command.external = None;
        Ok(())
    }

    /// Skips every command that has not finished (pending or running); returns their indexes.
    pub fn skip_unfinished(&mut self, now: u64) -> Vec<usize> {
        let mut skipped = Vec::new();
        for index in 0..self.commands.len() {
            if self
                .set_command_status(index, CommandStatus::Skipped)
                .is_ok()
            {
                if self.commands[index].started_at.is_some() {
                    self.commands[index].completed_at = Some(now);
                }
                skipped.push(index);
            }
        }
        skipped
    }

    /// Ends the task; the status follows from its commands and whether it was cancelled.
    pub fn finish(&mut self, cancelled: bool, now: u64) -> Result<(), IllegalTransition> {
        let failed = self
            .commands
            .iter()
            .find(|c| c.status == CommandStatus::Error);
        let (status, error) = match (cancelled, failed) {
            (true, _) => (
                TaskStatus::Cancelled,
                Some(TaskError {
                    code: ErrorCode::Cancelled,
                    message: "Task was cancelled".into(),
                    command_id: None,
                }),
            ),
            (false, Some(c)) => {
                let e = c.error.clone().expect("a command in error has an error");
                (
                    TaskStatus::Failed,
                    Some(TaskError {
                        code: e.code,
                        message: e.message,
                        command_id: Some(c.id.clone()),
                    }),
                )
            }
            (false, None) => (TaskStatus::Completed, None),
        };
        self.end(status, error, now)
    }
}

/// A queued task of three history commands on `inst_1`, for unit tests.
#[cfg(test)]
pub(crate) fn three_command_task() -> Task {
    let spec = crate::task::validate_submission(&serde_json::json!({
        "task_name": "t",
        "commands": [
            { "tool_name": "browser_navigate", "args": { "action": "reload" } },
            { "tool_name": "browser_navigate", "args": { "action": "back" } },
            { "tool_name": "browser_navigate", "args": { "action": "forward" } }
        ]
    }))
    .unwrap();
    Task::new(spec, "inst_1".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_transitions_are_exactly_the_drawn_ones() {
        use TaskStatus::*;
        let allowed = [
            (Queued, Running),
            (Queued, Cancelled),
            (Queued, Failed),
            (Running, Completed),
            (Running, Failed),
            (Running, Cancelled),
            // Back to its queue when its runner stopped while it waited for a person.
            (Running, Queued),
        ];
        for from in TaskStatus::ALL {
            for to in TaskStatus::ALL {
                assert_eq!(
                    from.can_become(to),
                    allowed.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn command_transitions_are_exactly_the_drawn_ones() {
        use CommandStatus::*;
        let all = [Pending, Running, Success, Error, Skipped];
        let allowed = [
            (Pending, Running),
            (Pending, Skipped),
            (Running, Success),
            (Running, Error),
            (Running, Skipped),
        ];
        for from in all {
            for to in all {
                assert_eq!(from.can_become(to), allowed.contains(&(from, to)));
            }
        }
    }

    #[test]
    fn wire_spellings() {
        assert_eq!(
            serde_json::to_value(TaskStatus::Cancelled).unwrap(),
            "cancelled"
        );
        assert_eq!(
            serde_json::to_value(CommandStatus::Skipped).unwrap(),
            "skipped"
        );
        for (code, text) in [
            (ErrorCode::ExecutionError, "EXECUTION_ERROR"),
            (ErrorCode::CommandTimeout, "COMMAND_TIMEOUT"),
            (ErrorCode::Cancelled, "CANCELLED"),
            (ErrorCode::InstanceDisconnected, "INSTANCE_DISCONNECTED"),
            (ErrorCode::InvalidArguments, "INVALID_ARGUMENTS"),
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), text);
            assert_eq!(code.as_str(), text);
        }
        let image = serde_json::to_value(ToolResult::png("AAAA".into())).unwrap();
        assert_eq!(
            image,
            serde_json::json!({"content":[{"type":"image","data":"AAAA","mimeType":"image/png"}]})
        );
        assert_eq!(
            serde_json::to_value(ToolResult::text("hi")).unwrap(),
            serde_json::json!({"content":[{"type":"text","text":"hi"}]})
        );
    }

    fn two_command_task() -> Task {
        three_command_task()
    }

    #[test]
    fn a_failed_command_fails_the_task_with_its_id() {
        let mut t = two_command_task();
        t.start(10).unwrap();
        t.start_command(0, 11).unwrap();
        t.succeed_command(0, ToolResult::text("ok"), 12).unwrap();
        t.start_command(1, 13).unwrap();
        t.fail_command(1, CommandError::execution("boom"), 14)
            .unwrap();
        assert_eq!(t.skip_unfinished(15), vec![2]);
        t.finish(false, 15).unwrap();
        assert_eq!(t.status, TaskStatus::Failed);
        assert_eq!(t.current_command_index, 1);
        let error = t.error.clone().unwrap();
        assert_eq!(error.code, ErrorCode::ExecutionError);
        assert_eq!(error.message, "boom");
        assert_eq!(error.command_id, Some(format!("{}_cmd_1", t.id)));
        // A command skipped before it started has no completion time.
        assert_eq!(
            (t.commands[2].started_at, t.commands[2].completed_at),
            (None, None)
        );
        assert_eq!(t.completed_at, Some(15));
        let wire = serde_json::to_value(&t).unwrap();
        assert_eq!(wire["error"]["commandId"], format!("{}_cmd_1", t.id));
        assert_eq!(wire["commands"][2]["status"], "skipped");
    }

    #[test]
    fn cancelling_skips_the_running_command_too() {
        let mut t = two_command_task();
        t.start(10).unwrap();
        t.start_command(0, 11).unwrap();
        assert_eq!(t.skip_unfinished(20), vec![0, 1, 2]);
        t.finish(true, 20).unwrap();
        assert_eq!(t.status, TaskStatus::Cancelled);
        assert_eq!(t.error.as_ref().map(|e| e.code), Some(ErrorCode::Cancelled));
        assert_eq!(t.error.as_ref().unwrap().command_id, None);
        assert_eq!(
            t.commands[0].completed_at,
            Some(20),
            "the running one ended at the cancel"
        );
        assert_eq!(t.commands[1].completed_at, None);
        // Finished is final: no second finish, no restart.
        assert!(t.finish(false, 21).is_err());
        assert!(t.start(22).is_err());
    }

    #[test]
    fn a_finished_command_cannot_change_again() {
        let mut t = two_command_task();
        t.start(1).unwrap();
        t.start_command(0, 1).unwrap();
        t.succeed_command(0, ToolResult::default(), 2).unwrap();
        let err = t
            .fail_command(0, CommandError::execution("late"), 3)
            .unwrap_err();
        assert_eq!((err.from, err.to), ("success", "error"));
        assert!(t.start_command(0, 4).is_err());
    }
}
