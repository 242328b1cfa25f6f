//! A task's journal: what happened to it, numbered 1, 2, 3 … within the task. Every change of
//! a task's life adds exactly one entry, in the record and in the store alike, so the number
//! means the same thing on every runner and after a restart. The agent API's update stream
//! renders it (a message's `id` is its entry's number): a client that reconnects with the last
//! number it saw is told exactly what followed.

use serde::{Deserialize, Serialize};

use super::model::TaskStatus;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub seq: u64,
    /// Unix ms.
    pub at: u64,
    pub what: Happened,
}

/// What an entry says happened; the details are in the task's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Happened {
    Queued {
        position: usize,
    },
    Started,
    StepStarted {
        index: usize,
    },
    StepSucceeded {
        index: usize,
    },
    StepFailed {
        index: usize,
    },
    ApprovalRequested {
        approval_id: String,
    },
    /// The task waits before the approval's command.
    Paused {
        approval_id: String,
    },
    ApprovalDecided {
        approval_id: String,
    },
    Undone {
        undo_id: String,
    },
    /// Its runner stopped while it waited for an answer: back in its queue, to go on there.
    Requeued,
    /// An external step's app reported progress (0–100, and its step) or a log event.
    ExternalProgress {
        index: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        progress: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        event_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        data: Option<serde_json::Value>,
    },
    Finished {
        status: TaskStatus,
    },
}

/// An undo applied to a task: the state before one of its commands, put back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UndoRecord {
    /// `undo_<task>_<n>`.
    pub id: String,
    pub at: u64,
    pub by: String,
    /// The command whose before-state was restored.
    pub index: usize,
    pub restored: Vec<String>,
    pub not_restored: Vec<String>,
    /// The page's URL after the undo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Applied although another task ran on the instance since.
    pub forced: bool,
}
