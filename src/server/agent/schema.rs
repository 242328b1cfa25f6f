//! The agent API's answers as the OpenAPI document describes them: one shape per route's
//! `data`, and the records inside (what `render` writes). Only the document reads these; the
//! routes build their JSON in `render`, and tests/agent.rs checks real answers against the
//! document (every field the server sends is described, every required one is there), so the
//! two cannot drift apart unnoticed.
#![allow(dead_code)]

use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A task (`GET /api/agent/{id}`'s `task`, `completed`'s `result`).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentTask {
    pub id: String,
    pub name: String,
    /// The task's words (its intention).
    pub description: String,
    /// `pending`, `running`, `paused`, `completed`, `failed` or `cancelled`.
    pub status: String,
    pub priority: i32,
    pub instance_id: String,
    pub owner: String,
    /// The door it came through (`agent`, `websocket`, `rest`, `mcp`, …).
    pub door: String,
    /// Milliseconds since the Unix epoch, as every time here.
    pub created_at: u64,
    pub started_at: Option<u64>,
    pub completed_at: Option<u64>,
    pub conversation_id: Option<String>,
    pub context: Option<Map<String, Value>>,
    pub steps: Vec<AgentStep>,
    pub approvals: Vec<AgentApprovalRequest>,
    pub undos: Vec<AgentUndoRecord>,
    pub error: Option<AgentTaskError>,
}

/// One command of a task, as it is now.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentStep {
    /// `{taskId}_cmd_{i}`.
    pub id: String,
    pub index: usize,
    pub tool_name: String,
    pub action: String,
    pub intention: String,
    pub args: Map<String, Value>,
    /// `pending`, `awaiting_approval`, `running`, `completed`, `failed` or `skipped`.
    pub status: String,
    pub started_at: Option<u64>,
    pub completed_at: Option<u64>,
    /// The tool's result (`{content: [...]}`).
    pub result: Option<Map<String, Value>>,
    pub error: Option<AgentCodeMessage>,
}

#[derive(ToSchema)]
pub struct AgentCodeMessage {
    pub code: String,
    pub message: String,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentTaskError {
    pub code: String,
    pub message: String,
    /// The step that failed, if one did.
    pub step_id: Option<String>,
}

/// A request for a person's yes.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentApprovalRequest {
    /// `appr_<task>_<step>`.
    pub approval_id: String,
    pub task_id: String,
    pub step_id: String,
    pub step_index: usize,
    pub tool: String,
    pub action: String,
    pub args: Map<String, Value>,
    pub rule: AgentRule,
    pub reason: String,
    pub requested_at: u64,
    pub expires_at: u64,
    /// `reject` or `approve`.
    pub on_timeout: String,
    /// `pending`, `approved`, `rejected` or `expired`.
    pub status: String,
    pub page_url: Option<String>,
    /// The page when it was asked (base64 PNG).
    pub screenshot: Option<String>,
    pub decision: Option<AgentDecisionRecord>,
    /// An external step's timeout prompt: what the person may answer with `choice` (`retry`,
    /// `skip`, `fail`).
    pub choices: Option<Vec<String>>,
    /// What the person is asked (the step's `timeout_message`).
    pub message: Option<String>,
}

/// The rule that asked.
#[derive(ToSchema)]
pub struct AgentRule {
    /// `policy` (the server's file) or `task` (the task's own `approval`).
    pub source: String,
    /// Its place in its list; null for the policy's `default`.
    pub index: Option<usize>,
    pub decision: String,
    pub description: String,
}

/// An answer (a person's, or the timeout's).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentDecisionRecord {
    pub approved: bool,
    /// The user who answered, or `timeout`.
    pub by: String,
    pub at: u64,
    pub message: Option<String>,
    pub modified_parameters: Option<Map<String, Value>>,
    pub timed_out: bool,
    /// The choice, for a request with `choices`.
    pub choice: Option<String>,
}

/// An undo applied to a task.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentUndoRecord {
    /// `undo_<task>_<n>`.
    pub id: String,
    pub at: u64,
    pub by: String,
    /// The step whose before-state was put back.
    pub index: usize,
    pub step_id: String,
    /// Of `url`, `cookies`, `localStorage`, `sessionStorage`: what is verified back.
    pub restored: Vec<String>,
    /// What is not, and why.
    pub not_restored: Vec<String>,
    /// The page's URL after the undo.
    pub url: Option<String>,
    pub forced: bool,
}

/// A task in a history page.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentTaskSummary {
    pub id: String,
    pub name: String,
    pub status: String,
    pub priority: i32,
    pub instance_id: String,
    pub owner: String,
    pub created_at: u64,
    pub started_at: Option<u64>,
    pub completed_at: Option<u64>,
    pub conversation_id: Option<String>,
    pub total_steps: usize,
    pub completed_steps: usize,
}

/// One line of a task's log (its update messages, step_progress left out).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentLog {
    pub timestamp: u64,
    /// `info` or `error`.
    pub level: String,
    pub message: String,
    /// The update message it comes from.
    #[serde(rename = "type")]
    pub kind: String,
    pub step_id: Option<String>,
}

/// The step running or waiting, while the task runs.
#[derive(ToSchema)]
pub struct AgentCurrentExecution {
    pub step: AgentStep,
    /// The task's progress, 0 to 100.
    pub progress: u64,
    pub status: String,
}

/// One update message (the stream's and the polling fallback's).
#[derive(ToSchema)]
pub struct AgentMessage {
    /// `status_change`, `queue_update`, `step_start`, `step_progress`, `step_complete`,
    /// `error`, `approval_request`, `completed`, `cancelled` or `undo`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Always `taskId`; the rest by type (docs/agent-api.md).
    pub data: Map<String, Value>,
    pub timestamp: u64,
    /// The message's place in the task's stream, an integer as a string.
    pub id: String,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentSubmitted {
    pub task_id: String,
    pub instance_id: String,
    /// `pending`.
    pub status: String,
    pub queue_position: usize,
    pub task: AgentTask,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentTaskRead {
    pub task: AgentTask,
    pub logs: Vec<AgentLog>,
    pub current_execution: Option<AgentCurrentExecution>,
    /// While it waits.
    pub queue_position: Option<usize>,
    /// While it waits, in milliseconds.
    pub estimated_wait_time: Option<u64>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentCancelled {
    pub task_id: String,
    /// `cancelled`.
    pub status: String,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentDecided {
    pub task_id: String,
    pub decisions: Vec<AgentApprovalRequest>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentUndone {
    pub task_id: String,
    pub id: String,
    pub at: u64,
    pub by: String,
    pub index: usize,
    pub step_id: String,
    pub restored: Vec<String>,
    pub not_restored: Vec<String>,
    pub url: Option<String>,
    pub forced: bool,
}

#[derive(ToSchema)]
pub struct AgentHistoryPage {
    pub tasks: Vec<AgentTaskSummary>,
    /// Every task matching the filters.
    pub total: usize,
    pub limit: usize,
    pub offset: usize,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentEvents {
    pub events: Vec<AgentMessage>,
    /// Ask `after` this next.
    pub last_event_id: String,
    /// The task's last message is among them or was sent before.
    pub finished: bool,
}

/// The envelope of each route's answer: `{"success": true, "data": …}`.
macro_rules! envelope {
    ($($name:ident => $data:ty),* $(,)?) => {$(
        #[derive(ToSchema)]
        pub struct $name {
            /// Always true.
            pub success: bool,
            pub data: $data,
        }
    )*};
}

envelope! {
    AgentSubmittedEnvelope => AgentSubmitted,
    AgentTaskEnvelope => AgentTaskRead,
    AgentCancelledEnvelope => AgentCancelled,
    AgentDecidedEnvelope => AgentDecided,
    AgentUndoneEnvelope => AgentUndone,
    AgentHistoryEnvelope => AgentHistoryPage,
    AgentEventsEnvelope => AgentEvents,
}
