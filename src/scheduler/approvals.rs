//! Approval gates, the engine's one way of waiting for a person. Before a command runs, the
//! operator's policy and the task's own rules decide whether someone must say yes. Requests
//! that need nothing from the page are asked when the task starts (so a person can answer
//! several at once); the others when their command is reached. A waiting task holds its page
//! as it is and spends no browser time. Every door renders the same events and answers through
//! [`super::Caller::decide`].

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use super::{worker, Scheduler};
use crate::browser::BrowserInstance;
use crate::events::EventKind;
use crate::store::Change;
use crate::task::approval::{self, Approval, ApprovalDecision, Decision, Facts, OnTimeout, Policy};
use crate::task::{now_ms, CommandError, ErrorCode, ParsedArgs, Task, ValidationError};

/// What the gate says of a command about to run.
pub(super) enum Gate {
    Run,
    Fail(CommandError),
    /// The task was cancelled while it waited.
    Cancelled,
    /// The server stops while the task waits: it is left waiting in the store.
    Suspended,
}

/// One answer, as a door parsed it.
#[derive(Debug, Clone)]
pub struct DecisionInput {
    pub approval_id: String,
    pub approved: bool,
    pub message: Option<String>,
    pub modified_parameters: Option<Map<String, Value>>,
    /// For a request with choices (an external step's timeout): which.
    pub choice: Option<String>,
}

/// Why answers were refused (none of a batch is applied then).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecideError {
    #[error("Task not found")]
    TaskNotFound,
    #[error("The task has finished")]
    TaskFinished,
    #[error("The task runs on another runner ({0}): answer there")]
    Elsewhere(String),
    #[error("Unknown approval: {0}")]
    ApprovalNotFound(String),
    #[error("Approval {0} was already answered")]
    AlreadyDecided(String),
    #[error("Invalid modifiedParameters")]
    Invalid(Vec<ValidationError>),
    #[error("Invalid choice")]
    InvalidChoice(Vec<ValidationError>),
}

impl DecideError {
    pub fn code(&self) -> &'static str {
        match self {
            DecideError::TaskNotFound => "TASK_NOT_FOUND",
            DecideError::TaskFinished => "TASK_FINISHED",
            DecideError::Elsewhere(_) => "TASK_ELSEWHERE",
            DecideError::ApprovalNotFound(_) => "APPROVAL_NOT_FOUND",
            DecideError::AlreadyDecided(_) => "APPROVAL_DECIDED",
            DecideError::Invalid(_) | DecideError::InvalidChoice(_) => "VALIDATION_ERROR",
        }
    }
}

/// The task's own rules (checked when it was submitted).
fn task_rules(task: &Task) -> Option<Policy> {
    let value = task.approval.as_ref()?;
    match Policy::from_value(value, "approval", true) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::error!(task = %task.id, "stored approval rules do not parse: {e}");
            None
        }
    }
}

/// What the policies say of every command before anything runs: a command they deny is
/// refused at submission, naming the command and the rule.
pub(super) fn refused_at_submit(policy: &Policy, task: &Task) -> Option<String> {
    let rules = task_rules(task);
    task.commands.iter().enumerate().find_map(|(i, c)| {
        let v = approval::decide(
            policy,
            rules.as_ref(),
            &c.parsed.action,
            &c.tool_name,
            Some(&Facts::default()),
        );
        (v.decision == Decision::Deny).then(|| {
            format!(
                "commands[{i}] is denied by the approval policy ({})",
                v.rule.description
            )
        })
    })
}

/// Asks, when the task starts, for every command whose answer needs nothing from the page.
pub(super) async fn ask_in_advance(
    scheduler: &Scheduler,
    instance_id: &str,
    instance: Option<&BrowserInstance>,
    task: &Task,
    cancel: &CancellationToken,
) {
    let policy = scheduler.inner.policy.clone();
    let rules = task_rules(task);
    if policy.rules.is_empty() && policy.default == Decision::Allow && rules.is_none() {
        return;
    }
    let mut screenshot: Option<Option<String>> = None;
    for (index, command) in task.commands.iter().enumerate() {
        // Asked before a restart already.
        if task.approval_for(index).is_some() {
            continue;
        }
        let verdict = approval::decide(
            &policy,
            rules.as_ref(),
            &command.parsed.action,
            &command.tool_name,
            None,
        );
        if verdict.decision != Decision::Confirm {
            continue;
        }
        if screenshot.is_none() {
            screenshot = Some(match instance {
                Some(i) => worker::viewport_png(scheduler, i, None, cancel).await,
                None => None,
            });
        }
        let page = screenshot.clone().flatten();
        request(
            scheduler,
            instance_id,
            &task.id,
            index,
            &verdict,
            None,
            page,
        );
    }
}

fn request(
    scheduler: &Scheduler,
    instance_id: &str,
    task_id: &str,
    index: usize,
    verdict: &approval::Verdict,
    page_url: Option<String>,
    screenshot: Option<String>,
) -> Arc<Approval> {
    let now = now_ms();
    let approval = Arc::new(Approval {
        id: Approval::id_for(task_id, index),
        index,
        rule: verdict.rule.clone(),
        page_url,
        screenshot,
        requested_at: now,
        expires_at: now + verdict.timeout.as_millis() as u64,
        on_timeout: verdict.on_timeout,
        decision: None,
        choices: None,
        message: None,
    });
    announce(scheduler, instance_id, task_id, approval)
}

/// Records a new request and tells every door.
fn announce(
    scheduler: &Scheduler,
    instance_id: &str,
    task_id: &str,
    approval: Arc<Approval>,
) -> Arc<Approval> {
    worker::record(
        scheduler,
        task_id,
        Change::ApprovalRequested {
            approval: Box::new(Approval::clone(&approval)),
        },
    );
    scheduler.events().emit(
        instance_id,
        EventKind::ApprovalRequested {
            task_id: task_id.into(),
            approval: approval.clone(),
        },
    );
    approval
}

/// Decides command `index` of the live task, waiting for a person when the policies ask.
pub(super) async fn gate(
    scheduler: &Scheduler,
    instance_id: &str,
    instance: Option<&BrowserInstance>,
    task_id: &str,
    index: usize,
    cancel: &CancellationToken,
) -> Gate {
    // Only what the gate needs is copied (the record holds the results so far).
    let (command, asked, rules, checkpoint) = {
        let live = scheduler.inner.live.lock().unwrap();
        let Some(task) = live.get(task_id) else {
            return Gate::Cancelled;
        };
        let command = task.commands[index].clone();
        let checkpoint = scheduler.keeps_checkpoints(task);
        (
            command,
            task.approval_for(index).cloned(),
            task_rules(task),
            checkpoint,
        )
    };
    let policy = scheduler.inner.policy.clone();
    // (A request made before a restart is waited for whatever the policy is now.)
    if asked.is_none()
        && policy.rules.is_empty()
        && policy.default == Decision::Allow
        && rules.is_none()
    {
        return Gate::Run;
    }
    let (action, tool) = (&command.parsed.action, command.tool_name.as_str());
    let needs_facts = policy.needs_facts(action, tool)
        || rules.as_ref().is_some_and(|r| r.needs_facts(action, tool));
    let facts = match (needs_facts, instance) {
        (true, Some(instance)) => {
            let f = scheduler
                .inner
                .executor
                .inspect(instance, &command.parsed, cancel)
                .await;
            Some(Facts {
                url: f.url,
                element_text: f.element_text,
                element_is_submit: f.element_is_submit,
                element_in_form: f.element_in_form,
            })
        }
        _ => None,
    };
    let verdict = approval::decide(&policy, rules.as_ref(), action, tool, facts.as_ref());
    let approval = match (verdict.decision, asked) {
        (Decision::Deny, _) => {
            return Gate::Fail(CommandError::new(
                ErrorCode::ApprovalDenied,
                format!(
                    "denied by the approval policy ({})",
                    verdict.rule.description
                ),
            ))
        }
        (_, Some(asked)) => Arc::new(asked),
        (Decision::Allow, None) => return Gate::Run,
        (Decision::Confirm, None) => {
            let png = match instance {
                Some(i) => {
                    worker::viewport_png(scheduler, i, command.parsed.tab_id.as_deref(), cancel)
                        .await
                }
                None => None,
            };
            let url = facts.and_then(|f| f.url);
            request(scheduler, instance_id, task_id, index, &verdict, url, png)
        }
    };
    // The page as it is while the task waits: what a restart puts back before going on.
    if let (None, true, Some(instance)) = (&approval.decision, checkpoint, instance) {
        let tab = command.parsed.tab_id.as_deref();
        scheduler
            .take_checkpoint(instance, task_id, index, tab, cancel)
            .await;
    }
    wait(scheduler, instance_id, task_id, &approval, cancel).await
}

/// Asks a person to choose among `choices` for command `index` of the live task (an external
/// step that timed out), through the same requests, events and answers as approvals. `None`
/// when the task is cancelled (or the server stops) meanwhile. Unanswered within the policy's
/// timeout, the answer is `fail`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn prompt(
    scheduler: &Scheduler,
    instance_id: &str,
    task_id: &str,
    index: usize,
    attempt: u32,
    choices: &[&str],
    message: &str,
    cancel: &CancellationToken,
) -> Option<super::external::Choice> {
    let now = now_ms();
    let timeout = scheduler
        .inner
        .policy
        .timeout
        .unwrap_or(approval::DEFAULT_TIMEOUT);
    let approval = Arc::new(Approval {
        id: format!("{}_t{attempt}", Approval::id_for(task_id, index)),
        index,
        rule: approval::RuleRef {
            source: approval::RuleSource::ExternalTask,
            index: None,
            decision: Decision::Confirm,
            description: format!("the external task timed out (attempt {attempt})"),
        },
        page_url: None,
        screenshot: None,
        requested_at: now,
        expires_at: now + timeout.as_millis() as u64,
        on_timeout: OnTimeout::Reject,
        decision: None,
        choices: Some(choices.iter().map(|c| c.to_string()).collect()),
        message: Some(message.to_string()),
    });
    let approval = announce(scheduler, instance_id, task_id, approval);
    match wait(scheduler, instance_id, task_id, &approval, cancel).await {
        Gate::Cancelled | Gate::Suspended => return None,
        Gate::Run | Gate::Fail(_) => {}
    }
    let chosen = scheduler
        .inner
        .live
        .lock()
        .unwrap()
        .get(task_id)
        .and_then(|t| t.approvals.iter().find(|a| a.id == approval.id).cloned())
        .and_then(|a| a.decision)
        .and_then(|d| d.choice)
        .unwrap_or_else(|| "fail".into());
    super::external::Choice::parse(&chosen).or(Some(super::external::Choice::Fail))
}

/// Waits for the answer to `approval` (or its timeout, or the task's cancellation).
async fn wait(
    scheduler: &Scheduler,
    instance_id: &str,
    task_id: &str,
    approval: &Approval,
    cancel: &CancellationToken,
) -> Gate {
    let mut paused = false;
    loop {
        let decided = scheduler.inner.decided.notified();
        tokio::pin!(decided);
        decided.as_mut().enable();
        let answer = scheduler
            .inner
            .live
            .lock()
            .unwrap()
            .get(task_id)
            .and_then(|t| t.approvals.iter().find(|a| a.id == approval.id).cloned())
            .and_then(|a| a.decision);
        if let Some(answer) = answer {
            return verdict_of(approval, &answer);
        }
        if !paused {
            paused = true;
            worker::record(
                scheduler,
                task_id,
                Change::Paused {
                    approval_id: approval.id.clone(),
                    at: now_ms(),
                },
            );
            scheduler.events().emit(
                instance_id,
                EventKind::TaskPaused {
                    task_id: task_id.into(),
                    index: approval.index,
                    approval_id: approval.id.clone(),
                },
            );
        }
        let left = Duration::from_millis(approval.expires_at.saturating_sub(now_ms()));
        tokio::select! {
            // A shutdown cancels the task after it is itself cancelled.
            _ = cancel.cancelled() => return match scheduler.inner.shutdown.is_cancelled() {
                true => Gate::Suspended,
                false => Gate::Cancelled,
            },
            _ = &mut decided => {}
            _ = tokio::time::sleep(left) => {
                let approved = approval.on_timeout == OnTimeout::Approve;
                let secs = (approval.expires_at.saturating_sub(approval.requested_at)) / 1000;
                let answer = ApprovalDecision {
                    approved,
                    by: "timeout".into(),
                    at: now_ms(),
                    message: Some(format!("no answer within {secs} s")),
                    modified_parameters: None,
                    timed_out: true,
                    choice: None,
                };
                // Taken in order at once; the worker need not wait for it to be durable.
                let _ = apply(scheduler, instance_id, task_id, &approval.id, answer, None);
            }
        }
    }
}

fn verdict_of(approval: &Approval, answer: &ApprovalDecision) -> Gate {
    if answer.approved {
        return Gate::Run;
    }
    if answer.timed_out {
        return Gate::Fail(CommandError::new(
            ErrorCode::ApprovalTimeout,
            format!(
                "approval {} was not answered in time ({})",
                approval.id,
                answer.message.as_deref().unwrap_or("timed out")
            ),
        ));
    }
    let why = answer
        .message
        .as_deref()
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    Gate::Fail(CommandError::new(
        ErrorCode::ApprovalRejected,
        format!("rejected by {}{why}", answer.by),
    ))
}

/// Records an answer on the live record, tells everyone, and wakes the waiting worker.
fn apply(
    scheduler: &Scheduler,
    instance_id: &str,
    task_id: &str,
    approval_id: &str,
    answer: ApprovalDecision,
    args: Option<(Value, ParsedArgs)>,
) -> Option<(
    Approval,
    futures::future::BoxFuture<'static, crate::store::StoreResult<()>>,
)> {
    let durable = worker::record(
        scheduler,
        task_id,
        Change::ApprovalDecided {
            approval_id: approval_id.into(),
            decision: answer,
            args: args.map(Box::new),
        },
    )?;
    let decided = scheduler
        .inner
        .live
        .lock()
        .unwrap()
        .get(task_id)
        .and_then(|t| t.approvals.iter().find(|a| a.id == approval_id).cloned())?;
    scheduler.events().emit(
        instance_id,
        EventKind::ApprovalDecided {
            task_id: task_id.into(),
            approval: Arc::new(decided.clone()),
        },
    );
    scheduler.inner.decided.notify_waiters();
    Some((decided, durable))
}

impl Scheduler {
    /// Answers requests of a task running here (or back in this runner's queue after a
    /// restart), all or none: every answer is checked first (modified parameters are merged
    /// into the command's arguments and validated again).
    pub(super) async fn decide(
        &self,
        task_id: &str,
        by: &str,
        inputs: &[DecisionInput],
    ) -> Result<Vec<Approval>, DecideError> {
        let live = self.inner.live.lock().unwrap().get(task_id).cloned();
        if let Some(task) = live {
            return self.decide_live(&task, by, inputs).await;
        }
        // No worker takes a task from the store meanwhile (see `Inner::claims`).
        let _claims = self.inner.claims.write().await;
        let live = self.inner.live.lock().unwrap().get(task_id).cloned();
        if let Some(task) = live {
            drop(_claims);
            return self.decide_live(&task, by, inputs).await;
        }
        match self.inner.store.get(task_id).await {
            Ok(Some(t)) if t.status.is_finished() => Err(DecideError::TaskFinished),
            Ok(Some(t)) if t.status == crate::task::TaskStatus::Running => {
                Err(DecideError::Elsewhere(t.instance_id))
            }
            Ok(Some(t)) => self.decide_queued(t, by, inputs).await,
            _ => Err(DecideError::TaskNotFound),
        }
    }

    async fn decide_live(
        &self,
        task: &Task,
        by: &str,
        inputs: &[DecisionInput],
    ) -> Result<Vec<Approval>, DecideError> {
        let checked = check(task, inputs)?;
        let mut decided = Vec::new();
        for ((approval_id, args), input) in checked.into_iter().zip(inputs) {
            let choices = task
                .approvals
                .iter()
                .find(|a| a.id == approval_id)
                .and_then(|a| a.choices.as_ref());
            let answer = answer_of(input, by, choices);
            if let Some((a, durable)) = apply(
                self,
                &task.instance_id,
                &task.id,
                &approval_id,
                answer,
                args,
            ) {
                if let Err(e) = durable.await {
                    tracing::error!(task = %task.id, "task store: an answer was not recorded: {e:#}");
                }
                decided.push(a);
            }
        }
        Ok(decided)
    }

    /// A task queued again after a restart, waiting for its instance: answered in the store,
    /// where its worker reads the answer when it takes the task.
    async fn decide_queued(
        &self,
        mut task: Task,
        by: &str,
        inputs: &[DecisionInput],
    ) -> Result<Vec<Approval>, DecideError> {
        let checked = check(&task, inputs)?;
        let mut decided = Vec::new();
        for ((approval_id, args), input) in checked.into_iter().zip(inputs) {
            let choices = task
                .approvals
                .iter()
                .find(|a| a.id == approval_id)
                .and_then(|a| a.choices.clone());
            let change = Change::ApprovalDecided {
                approval_id: approval_id.clone(),
                decision: answer_of(input, by, choices.as_ref()),
                args: args.map(Box::new),
            };
            if let Err(e) = self.inner.store.record(&task.id, change.clone()).await {
                tracing::error!(task = %task.id, "task store: an answer was not recorded: {e:#}");
                continue;
            }
            let _ = change.apply(&mut task);
            if let Some(a) = task.approvals.iter().find(|a| a.id == approval_id) {
                self.events().emit(
                    &task.instance_id,
                    EventKind::ApprovalDecided {
                        task_id: task.id.clone(),
                        approval: Arc::new(a.clone()),
                    },
                );
                decided.push(a.clone());
            }
        }
        Ok(decided)
    }
}

/// A yes or no to a request with choices: its first choice (retry) or `fail`.
fn default_choice(choices: Option<&Vec<String>>, approved: bool) -> Option<String> {
    let choices = choices?;
    if approved {
        choices.first().cloned()
    } else {
        Some("fail".into())
    }
}

fn answer_of(
    input: &DecisionInput,
    by: &str,
    task_choices: Option<&Vec<String>>,
) -> ApprovalDecision {
    ApprovalDecision {
        approved: input.approved,
        by: by.into(),
        at: now_ms(),
        message: input.message.clone(),
        modified_parameters: input.modified_parameters.clone(),
        timed_out: false,
        choice: input
            .choice
            .clone()
            .or_else(|| default_choice(task_choices, input.approved)),
    }
}

/// Every answer of a batch checked against the task: the approval, its id and each
/// modified parameter (a list of every invalid one).
#[allow(clippy::type_complexity)]
fn check(
    task: &Task,
    inputs: &[DecisionInput],
) -> Result<Vec<(String, Option<(Value, ParsedArgs)>)>, DecideError> {
    let mut checked = Vec::new();
    let mut invalid = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let approval = task
            .approvals
            .iter()
            .find(|a| a.id == input.approval_id)
            .ok_or_else(|| DecideError::ApprovalNotFound(input.approval_id.clone()))?;
        if approval.decision.is_some()
            || inputs[..i]
                .iter()
                .any(|o| o.approval_id == input.approval_id)
        {
            return Err(DecideError::AlreadyDecided(input.approval_id.clone()));
        }
        let field = || match inputs.len() {
            1 => "choice".to_string(),
            _ => format!("decisions[{i}].choice"),
        };
        match (&approval.choices, &input.choice) {
            (Some(choices), Some(choice)) if !choices.contains(choice) => {
                return Err(DecideError::InvalidChoice(vec![ValidationError {
                    field: field(),
                    message: format!("'{choice}' is not one of {}", choices.join(", ")),
                }]))
            }
            (None, Some(_)) => {
                return Err(DecideError::InvalidChoice(vec![ValidationError {
                    field: field(),
                    message: "this request takes approved true or false, not a choice".into(),
                }]))
            }
            _ => {}
        }
        let args = match (&input.modified_parameters, input.approved) {
            (Some(changes), true) => {
                let command = &task.commands[approval.index];
                let mut merged = command.args.clone();
                if let Value::Object(map) = &mut merged {
                    for (k, v) in changes {
                        map.insert(k.clone(), v.clone());
                    }
                }
                match crate::task::validate::reparse_command(&command.tool_name, &merged) {
                    Ok(parsed) => Some((merged, parsed)),
                    Err(e) => {
                        let prefix = if inputs.len() > 1 {
                            format!("decisions[{i}].modifiedParameters")
                        } else {
                            "modifiedParameters".to_string()
                        };
                        invalid.push(ValidationError {
                            field: if e.field.is_empty() {
                                prefix
                            } else {
                                format!("{prefix}.{}", e.field)
                            },
                            message: e.message,
                        });
                        None
                    }
                }
            }
            _ => None,
        };
        checked.push((approval.id.clone(), args));
    }
    if !invalid.is_empty() {
        return Err(DecideError::Invalid(invalid));
    }
    Ok(checked)
}
