//! The task domain of task-format.md: tasks, commands, statuses, errors, ids, the typed
//! actions of each tool, and validation.

pub mod action;
pub mod catalog;
pub mod id;
pub mod keys;
pub mod model;
pub mod validate;

pub use action::{
    Action, ContentAction, ExecuteAction, InstanceAction, InteractAction, NavigateAction,
    ParsedArgs, ScrollDirection, Tool, ViewportSize,
};
pub use id::now_ms;
pub use model::{
    CommandError, CommandStatus, Content, ErrorCode, Task, TaskCommand, TaskError, TaskStatus,
    ToolResult,
};
pub use validate::{validate_submission, CommandSpec, TaskSpec, ValidationError};
