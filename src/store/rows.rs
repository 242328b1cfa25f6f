//! Rows of the SQL stores and the record built back from them, shared by SQLite and
//! PostgreSQL. A task read back is the task that was written: the parsed action is re-derived
//! from the stored arguments, results get their artifacts back, metadata keeps its key order.

use anyhow::Context;
use serde_json::{Map, Value};

use super::artifacts::{self, Artifact, FAILURE_SCREENSHOT};
use crate::task::action::{parse_args, Action, ParsedArgs, Tool};
use crate::task::approval::{Approval, ApprovalDecision};
use crate::task::{
    CommandError, CommandStatus, Door, IllegalTransition, JournalEntry, NavigateAction, Task,
    TaskCommand, TaskError, TaskStatus, TaskSummary, UndoRecord, User,
};

#[derive(sqlx::FromRow)]
pub struct TaskRow {
    pub id: String,
    pub instance_id: String,
    pub requested_instance: Option<String>,
    pub status: String,
    pub name: String,
    pub intention: String,
    pub current_command_index: i64,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub metadata: Option<String>,
    pub error: Option<String>,
    pub owner: Option<String>,
    pub door: String,
    pub priority: i64,
    pub conversation_id: Option<String>,
    pub context: Option<String>,
    pub approval: Option<String>,
    /// A JSON list of `Approval`s.
    pub approvals: String,
    /// A JSON list of `UndoRecord`s.
    pub undos: String,
}

#[derive(sqlx::FromRow)]
pub struct CommandRow {
    pub idx: i64,
    pub id: String,
    pub tool_name: String,
    pub intention: String,
    pub args: String,
    pub status: String,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub result: Option<String>,
    pub error: Option<String>,
}

#[derive(sqlx::FromRow)]
pub struct ArtifactRow {
    pub command_idx: i64,
    pub item: i64,
    pub mime_type: String,
    pub bytes: Vec<u8>,
}

#[derive(sqlx::FromRow)]
pub struct SummaryRow {
    pub id: String,
    pub name: String,
    pub status: String,
    pub instance_id: String,
    pub current_command_index: i64,
    pub total_commands: i64,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub owner: Option<String>,
    pub priority: i64,
    pub conversation_id: Option<String>,
    pub pending_approvals: i64,
}

pub fn status_of(text: &str) -> anyhow::Result<TaskStatus> {
    TaskStatus::ALL
        .into_iter()
        .find(|s| s.as_str() == text)
        .with_context(|| format!("unknown task status {text:?} in the store"))
}

fn command_status_of(text: &str) -> anyhow::Result<CommandStatus> {
    serde_json::from_value(Value::String(text.into()))
        .with_context(|| format!("unknown command status {text:?} in the store"))
}

fn ms(v: Option<i64>) -> Option<u64> {
    v.map(|v| v as u64)
}

pub fn summary(row: SummaryRow) -> anyhow::Result<TaskSummary> {
    Ok(TaskSummary {
        status: status_of(&row.status)?,
        id: row.id,
        name: row.name,
        instance_id: row.instance_id,
        current_command_index: row.current_command_index as usize,
        total_commands: row.total_commands as usize,
        created_at: row.created_at as u64,
        started_at: ms(row.started_at),
        completed_at: ms(row.completed_at),
        owner: row.owner.unwrap_or_else(|| User::LOCAL.into()),
        priority: row.priority as i32,
        conversation_id: row.conversation_id,
        pending_approvals: row.pending_approvals.max(0) as usize,
    })
}

/// Re-derives a stored command's parsed arguments. Arguments that no longer parse (an
/// upload's file since removed) keep a placeholder: such a task is only ever read, since a
/// queued one is re-validated before it runs.
pub fn parsed_of(tool_name: &str, args: &Value) -> Result<ParsedArgs, String> {
    let tool = Tool::from_name(tool_name).ok_or_else(|| format!("unknown tool {tool_name}"))?;
    parse_args(tool, args).map_err(|e| format!("{}: {}", e.field, e.message))
}

fn placeholder() -> ParsedArgs {
    ParsedArgs {
        action: Action::Navigate(NavigateAction::Back),
        timeout: None,
        tab_id: None,
    }
}

pub fn task(
    row: TaskRow,
    commands: Vec<CommandRow>,
    artifact_rows: Vec<ArtifactRow>,
) -> anyhow::Result<Task> {
    let mut by_command: Vec<Vec<Artifact>> = (0..commands.len()).map(|_| Vec::new()).collect();
    let mut failure_shots: Vec<Option<String>> = vec![None; commands.len()];
    for a in artifact_rows {
        let idx = a.command_idx as usize;
        if idx >= by_command.len() {
            continue;
        }
        if a.item as usize == FAILURE_SCREENSHOT {
            failure_shots[idx] = Some(artifacts::encode(&a.bytes));
        } else {
            by_command[idx].push(Artifact {
                item: a.item as usize,
                mime_type: a.mime_type,
                bytes: a.bytes,
            });
        }
    }
    let commands = commands
        .into_iter()
        .map(|c| {
            let idx = c.idx as usize;
            let args: Value = serde_json::from_str(&c.args).context("command args")?;
            let result = match c.result {
                Some(json) => Some(artifacts::join(
                    serde_json::from_str(&json).context("command result")?,
                    &by_command[idx],
                )?),
                None => None,
            };
            let error: Option<CommandError> = match c.error {
                Some(json) => Some(serde_json::from_str(&json).context("command error")?),
                None => None,
            };
            Ok(TaskCommand {
                parsed: parsed_of(&c.tool_name, &args).unwrap_or_else(|_| placeholder()),
                id: c.id,
                tool_name: c.tool_name,
                intention: c.intention,
                args,
                status: command_status_of(&c.status)?,
                started_at: ms(c.started_at),
                completed_at: ms(c.completed_at),
                result,
                error,
                failure_screenshot: failure_shots[idx].take(),
                external: None,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let metadata: Option<Map<String, Value>> = match row.metadata {
        Some(json) => Some(serde_json::from_str(&json).context("task metadata")?),
        None => None,
    };
    let error: Option<TaskError> = match row.error {
        Some(json) => Some(serde_json::from_str(&json).context("task error")?),
        None => None,
    };
    let context: Option<Map<String, Value>> = match row.context {
        Some(json) => Some(serde_json::from_str(&json).context("task context")?),
        None => None,
    };
    let approval: Option<Value> = match row.approval {
        Some(json) => Some(serde_json::from_str(&json).context("task approval rules")?),
        None => None,
    };
    let approvals = serde_json::from_str(&row.approvals).context("task approvals")?;
    let undos = serde_json::from_str(&row.undos).context("task undos")?;
    Ok(Task {
        status: status_of(&row.status)?,
        id: row.id,
        instance_id: row.instance_id,
        requested_instance: row.requested_instance,
        name: row.name,
        intention: row.intention,
        commands,
        current_command_index: row.current_command_index as usize,
        created_at: row.created_at as u64,
        started_at: ms(row.started_at),
        completed_at: ms(row.completed_at),
        error,
        metadata,
        owner: row.owner.unwrap_or_else(|| User::LOCAL.into()),
        door: Door::parse(&row.door).unwrap_or(Door::Websocket),
        priority: row.priority as i32,
        conversation_id: row.conversation_id,
        context,
        approval,
        approvals,
        undos,
        // Read apart (`TaskReader::journal`).
        journal: Vec::new(),
    })
}

pub fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serializes")
}

/// A journal entry read back.
pub fn journal_entry(seq: i64, at: i64, what: &str) -> anyhow::Result<JournalEntry> {
    Ok(JournalEntry {
        seq: seq as u64,
        at: at as u64,
        what: serde_json::from_str(what).context("journal entry")?,
    })
}

/// How many of the stored approvals wait for an answer.
fn pending(approvals: &[Approval]) -> i64 {
    approvals.iter().filter(|a| a.decision.is_none()).count() as i64
}

/// The stored approvals (JSON) with `approval` added, and how many then wait.
pub fn with_request(stored: &str, approval: &Approval) -> anyhow::Result<(String, i64)> {
    let mut approvals: Vec<Approval> = serde_json::from_str(stored).context("task approvals")?;
    approvals.push(approval.clone());
    Ok((json(&approvals), pending(&approvals)))
}

/// The stored approvals (JSON) with approval `id` answered, how many then wait, and the
/// command it was asked for. An unknown or already answered approval is refused, as
/// [`crate::store::Change::apply`] does.
pub fn with_decision(
    stored: &str,
    id: &str,
    decision: &ApprovalDecision,
) -> anyhow::Result<(String, i64, usize)> {
    let mut approvals: Vec<Approval> = serde_json::from_str(stored).context("task approvals")?;
    let approval = approvals
        .iter_mut()
        .find(|a| a.id == id)
        .ok_or_else(|| IllegalTransition {
            what: format!("approval {id}"),
            from: "unknown",
            to: "decided",
        })?;
    if approval.decision.is_some() {
        return Err(IllegalTransition {
            what: format!("approval {id}"),
            from: "decided",
            to: "decided",
        }
        .into());
    }
    approval.decision = Some(decision.clone());
    let index = approval.index;
    Ok((json(&approvals), pending(&approvals), index))
}

/// The stored undo records (JSON) with `undo` added.
pub fn with_undo(stored: &str, undo: &UndoRecord) -> anyhow::Result<String> {
    let mut undos: Vec<UndoRecord> = serde_json::from_str(stored).context("task undos")?;
    undos.push(undo.clone());
    Ok(json(&undos))
}

/// The columns of a new task's row that the agent API added, as stored.
pub struct AgentColumns {
    pub priority: i64,
    pub conversation_id: Option<String>,
    pub context: Option<String>,
    pub approval: Option<String>,
    pub approvals: String,
    pub undos: String,
    pub pending_approvals: i64,
}

pub fn agent_columns(task: &Task) -> AgentColumns {
    AgentColumns {
        priority: task.priority as i64,
        conversation_id: task.conversation_id.clone(),
        context: task.context.as_ref().map(json),
        approval: task.approval.as_ref().map(json),
        approvals: json(&task.approvals),
        undos: json(&task.undos),
        pending_approvals: pending(&task.approvals),
    }
}
