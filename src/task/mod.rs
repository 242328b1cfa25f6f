//! The task domain of task-format.md: tasks, commands, statuses, errors, ids, the typed
//! actions of each tool, and validation.

pub mod action;
pub mod approval;
pub mod catalog;
pub mod id;
pub mod journal;
pub mod keys;
pub mod model;
pub mod strict;
pub mod user;
pub mod validate;

pub use action::{
    Action, CompletionMode, ContentAction, DebugAction, DialogPolicy, DownloadState, EmulateAction,
    ExecuteAction, ExternalConfig, ExternalTask, GetFormat, ImageFormat, InstanceAction,
    InteractAction, InterceptMode, InterceptPattern, NavigateAction, NetworkAction, Paper,
    ParsedArgs, Placeholder, ReverseCommand, SameSite, ScrollDirection, StorageKind, TabAction,
    TimeoutAction, Tool, ViewportSize, WaitUntil, WindowMode, MAX_EXTERNAL_TIMEOUT_MS,
};
pub use id::now_ms;
pub use journal::{Happened, JournalEntry, UndoRecord};
pub use model::{
    clip, CommandError, CommandStatus, Content, EmbeddedResource, ErrorCode, IllegalTransition,
    Task, TaskCommand, TaskError, TaskStatus, TaskSummary, ToolResult,
};
pub use user::{Door, User};
pub use validate::{validate_submission, CommandSpec, TaskSpec, ValidationError};
